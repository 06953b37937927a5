"""The evaluation protocols never put a source clip (or, for speaker protocols, a speaker) on two sides."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from ser_utils.splits import (
    PROTOCOLS,
    SPEAKER_INDEPENDENT,
    Fold,
    LeakError,
    ProtocolSplit,
    check_fold,
    make_folds,
    validation_split,
)

EMOTIONS = ["angry", "happy", "neutral", "sad"]


def _meta(
    corpus: str = "demo", speakers: int = 6, sentences: int = 5, windows: int = 2, copies: int = 2
) -> pd.DataFrame:
    """A feature-table index: every clip has several windows and augmented copies (with windows too)."""
    rows = []
    for spk, sent, emo in itertools.product(range(speakers), range(sentences), EMOTIONS):
        utt = f"{corpus}/s{spk}/{emo}-{sent}"
        for aug in ["", *(f"noise{c}" for c in range(copies))]:
            for w in range(windows):
                rows.append(
                    {
                        "utt_id": utt if not aug else f"{utt}#{aug}",
                        "source_id": utt,
                        "window": w,
                        "augmentation": aug,
                        "speaker": f"{corpus}_s{spk}",
                        "sentence": f"{corpus}_t{sent}",
                        "corpus": corpus,
                        "emotion": emo,
                        "gender": "female" if spk % 2 else "male",
                    }
                )
    return pd.DataFrame(rows)


META = _meta()


def _sides(meta: pd.DataFrame, fold: Fold, column: str) -> tuple[set, set, set]:
    return tuple(set(meta[column].iloc[idx]) for idx in (fold.train, fold.val, fold.test))


@pytest.mark.parametrize("protocol", ["random", "speaker_kfold", "loso", "lopo"])
def test_no_source_on_two_sides_and_copies_only_in_training(protocol: str) -> None:
    folds = make_folds(META, protocol, n_folds=3, val_fraction=0.2, seed=1)
    assert folds
    covered = set()
    for fold in folds:
        train, val, test = _sides(META, fold, "source_id")
        assert not (train & test) and not (train & val) and not (val & test)
        assert META["augmentation"].iloc[fold.test].eq("").all()
        assert META["augmentation"].iloc[fold.val].eq("").all()
        assert len(fold.val) > 0, "validation is carved from the training part"
        # every window of a test clip is in the test part
        assert len(fold.test) == len(test) * 2
        covered |= test
    assert covered == set(META["source_id"]), "every clip is tested exactly once across folds"


@pytest.mark.parametrize("protocol", ["speaker_kfold", "loso"])
def test_speaker_protocols_keep_speakers_apart(protocol: str) -> None:
    for fold in make_folds(META, protocol, n_folds=3, seed=0):
        train, val, test = _sides(META, fold, "speaker")
        assert not (train & test) and not (val & test) and not (train & val)


def test_loso_and_lopo_fold_counts() -> None:
    loso = make_folds(META, "loso")
    assert len(loso) == 6 and all(len(_sides(META, f, "speaker")[2]) == 1 for f in loso)
    lopo = make_folds(META, "lopo")
    assert len(lopo) == 5 and all(len(_sides(META, f, "sentence")[2]) == 1 for f in lopo)
    for fold in lopo:  # leave-one-phrase-out: the held-out sentence is nowhere in training
        train, val, test = _sides(META, fold, "sentence")
        assert not (train & test)


def test_random_split_is_stratified_and_shares_speakers() -> None:
    folds = make_folds(META, "random", n_folds=5, seed=0)
    assert len(folds) == 5
    for fold in folds:
        test = META.iloc[fold.test]
        assert test["emotion"].value_counts().max() - test["emotion"].value_counts().min() <= 2
        train, _, test_speakers = _sides(META, fold, "speaker")
        assert train & test_speakers  # the naive split: same speakers on both sides


def test_folds_are_deterministic_for_a_seed() -> None:
    a = make_folds(META, "speaker_kfold", n_folds=3, seed=5)
    b = make_folds(META, "speaker_kfold", n_folds=3, seed=5)
    assert all(np.array_equal(x.test, y.test) and np.array_equal(x.val, y.val) for x, y in zip(a, b))


def test_cross_corpus_intersects_labels() -> None:
    other = _meta("other", speakers=3).query("emotion != 'happy'")
    meta = pd.concat([META, other, _meta("third", speakers=2)], ignore_index=True)
    (fold,) = make_folds(meta, "cross_corpus", train_corpora=["demo", "third"], test_corpora=["other"])
    train, _, test = (set(meta["corpus"].iloc[idx]) for idx in (fold.train, fold.val, fold.test))
    assert train == {"demo", "third"} and test == {"other"}
    assert set(meta["emotion"].iloc[fold.train]) == set(meta["emotion"].iloc[fold.test]) == {"angry", "neutral", "sad"}
    with pytest.raises(ValueError, match="disjoint"):
        make_folds(meta, "cross_corpus", train_corpora=["demo"], test_corpora=["demo"])
    with pytest.raises(ValueError, match="missing"):
        make_folds(meta, "cross_corpus", train_corpora=["demo"], test_corpora=["nope"])


def test_leaky_recipe_really_leaks() -> None:
    """The demonstration protocol is what the notebooks warn about: copies of test clips in training."""
    (fold, *_) = make_folds(META, "leaky", n_folds=5, seed=0)
    train, val, test = _sides(META, fold, "source_id")
    assert train & test and np.array_equal(fold.val, fold.test)
    with pytest.raises(LeakError, match="both train and test"):
        check_fold(META, fold)


def test_check_fold_catches_a_shared_speaker() -> None:
    fold = make_folds(META, "random", n_folds=5, seed=0)[0]
    check_fold(META, fold)  # fine for the random protocol ...
    with pytest.raises(LeakError, match="speaker"):
        check_fold(META, fold, speaker_independent=True)  # ... but not speaker-independent


def test_errors() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds(META, "losso")
    with pytest.raises(ValueError, match="at least 2 speakers"):
        make_folds(META[META["speaker"] == "demo_s0"], "loso")
    assert set(SPEAKER_INDEPENDENT) < set(PROTOCOLS)


def test_protocol_split_works_as_scikit_learn_cv() -> None:
    originals = META[(META["augmentation"] == "") & (META["window"] == 0)].reset_index(drop=True)
    rng = np.random.default_rng(0)
    X = (
        rng.normal(size=(len(originals), 3))
        + originals["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()[:, None]
    )
    cv = ProtocolSplit(originals, "loso")
    assert cv.get_n_splits() == 6
    search = GridSearchCV(SVC(), {"C": [0.1, 1.0]}, cv=cv, scoring="balanced_accuracy").fit(X, originals["emotion"])
    assert search.best_score_ > 0.5
    with pytest.raises(ValueError, match="rows"):
        next(cv.split(X[:-1]))


# ------------------------------------------------------------------------------------------------ validation


def _copies_of(meta: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Every row (original, window or copy) whose source clip is one of ``rows``' sources."""
    return np.flatnonzero(meta["source_id"].isin(meta["source_id"].iloc[rows]).to_numpy())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_split_holds_out_whole_speakers_and_no_copies_train(seed: int) -> None:
    meta = _meta(speakers=5, windows=2, copies=2)
    train, val = validation_split(meta, 0.2, seed=seed)
    held = set(meta["speaker"].iloc[val])
    assert len(held) == 1  # 0.2 of 5 speakers: one whole speaker
    assert held.isdisjoint(meta["speaker"].iloc[train])
    assert (meta["augmentation"].iloc[val] == "").all()  # validation: original rows only (both windows)
    assert meta["window"].iloc[val].nunique() == 2
    assert set(meta["source_id"].iloc[val]).isdisjoint(
        meta["source_id"].iloc[train]
    )  # no copy of a validation clip trains
    # every row is in training, in validation, or is a copy of a validation clip (left out of both)
    left_out = np.setdiff1d(np.arange(len(meta)), np.concatenate([train, val]))
    assert set(left_out) == set(_copies_of(meta, val)) - set(val)
    assert (meta["augmentation"].iloc[left_out] != "").all()
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(validation_split(meta, 0.2, seed=seed)[1], val)  # deterministic for a seed


def test_validation_split_uses_a_share_of_the_speakers_and_is_index_free() -> None:
    meta = _meta(speakers=6, windows=1, copies=1)
    _, val = validation_split(meta, 0.34, seed=0)
    assert meta["speaker"].iloc[val].nunique() == 2  # round(0.34 * 6)
    _, val_all = validation_split(meta, 0.99, seed=0)
    assert meta["speaker"].iloc[val_all].nunique() == 5  # at least one speaker always trains
    shuffled = meta.set_axis(np.arange(len(meta)) * 7 + 3)  # an index that is not 0..n-1: positions are returned
    np.testing.assert_array_equal(validation_split(shuffled, 0.34, seed=0)[1], val)


def test_validation_split_with_few_speakers_holds_out_clips_without_their_copies() -> None:
    meta = _meta(speakers=2, sentences=5, windows=2, copies=1)
    train, val = validation_split(meta, 0.25, seed=0)
    assert meta["speaker"].iloc[val].nunique() >= 1 and set(meta["speaker"].iloc[train]) == {"demo_s0", "demo_s1"}
    n_sources = meta["source_id"].nunique()
    assert meta["source_id"].iloc[val].nunique() == round(0.25 * n_sources)
    assert set(meta["source_id"].iloc[val]).isdisjoint(meta["source_id"].iloc[train])
    assert (meta["augmentation"].iloc[val] == "").all()
    # without a speaker column, clips too
    no_speaker = meta.drop(columns="speaker")
    train2, val2 = validation_split(no_speaker, 0.25, seed=0)
    assert set(no_speaker["source_id"].iloc[val2]).isdisjoint(no_speaker["source_id"].iloc[train2])


def test_validation_split_can_be_switched_off() -> None:
    meta = _meta(speakers=3)
    train, val = validation_split(meta, 0.0)
    assert len(val) == 0 and list(train) == list(range(len(meta)))
    train, val = validation_split(meta.head(1), 0.5)
    assert len(val) == 0 and list(train) == [0]


def test_validation_split_never_holds_out_pooled_rows() -> None:
    own = _meta(speakers=4)
    other = _meta(speakers=6).assign(speaker=lambda m: "other_" + m["speaker"], utt_id=lambda m: "o/" + m["utt_id"])
    other["source_id"] = other["utt_id"]
    both = pd.concat([own.assign(pooled=False), other.assign(pooled=True)], ignore_index=True)
    for seed in range(5):
        train, val = validation_split(both, 0.5, seed=seed)
        assert not both["pooled"].iloc[val].any()  # only the data's own speakers validate
        assert set(np.flatnonzero(both["pooled"])) <= set(train)  # every pooled row trains
        assert both["speaker"].iloc[val].nunique() == 2  # half of the 4 own speakers, not of all 10
    # a pooled row that shares a clip id with a held-out clip still trains
    clash = both.copy()
    clash.loc[clash["pooled"], "source_id"] = own["source_id"].iloc[0]
    train, val = validation_split(clash, 0.99, seed=1)
    assert 0 in set(val)  # the clip whose id the pooled rows share is held out ...
    assert set(np.flatnonzero(clash["pooled"])) <= set(train)  # ... and they train all the same
