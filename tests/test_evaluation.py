"""Cross-validation under protocols: fold hygiene, clip-level scoring, speaker normalisation, results rows."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ser_utils.audio import AudioConfig
from ser_utils.display import plot_result_confusion
from ser_utils.evaluation import CVResult, cross_validate, cross_validate_many, fit_clone, tuned
from ser_utils.features import FeatureTable
from ser_utils.normalize import speaker_normalize
from ser_utils.results import open_report, read_results

EMOTIONS = ["angry", "happy", "neutral", "sad"]


def _table(windows: int = 1, copies: int = 0, speaker_shift: float = 3.0, seed: int = 0):
    """Features = emotion signal + a large per-speaker offset + noise, with optional windows and copies."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(scale=speaker_shift, size=(8, 6))
    centres = rng.normal(scale=1.0, size=(len(EMOTIONS), 6))
    X, rows = [], []
    for spk, sent, (e, emo) in itertools.product(range(8), range(6), enumerate(EMOTIONS)):
        utt = f"demo/s{spk}/{emo}-{sent}"
        base = centres[e] + offsets[spk] + rng.normal(scale=0.6, size=6)
        for aug in ["", *(f"noise{c}" for c in range(copies))]:
            for w in range(windows):
                X.append(base + rng.normal(scale=0.2, size=6))
                rows.append(
                    {
                        "utt_id": utt + (f"#{aug}" if aug else ""),
                        "source_id": utt,
                        "augmentation": aug,
                        "speaker": f"demo_s{spk}",
                        "sentence": f"demo_t{sent}",
                        "corpus": "demo",
                        "emotion": emo,
                        "window": w,
                    }
                )
    return np.array(X), pd.DataFrame(rows)


def _svm():
    return make_pipeline(StandardScaler(), SVC(C=1.0))


def _as_table(X, meta) -> FeatureTable:
    kind = "windows" if "window" in meta and meta["window"].nunique() > 1 else "vector"
    return FeatureTable(
        X=np.asarray(X),
        meta=meta,
        skipped=pd.DataFrame(),
        feature_names=None,
        feature_set="f",
        kind=kind,
        params={},
        audio=AudioConfig(),
        config_key="toy",
    )


def _cv(X, meta, protocol, **kwargs) -> CVResult:
    return cross_validate(
        kwargs.pop("estimator", _svm()),
        _as_table(X, meta),
        protocol,
        experiment="t",
        features="f",
        model="svm",
        progress=False,
        **kwargs,
    )


def test_loso_scores_every_clip_once_at_clip_level() -> None:
    X, meta = _table(windows=3, copies=2)
    result = _cv(X, meta, "loso")
    assert len(result.per_fold) == 8
    preds = result.predictions
    assert len(preds) == meta["source_id"].nunique()  # windows merged, copies never tested
    assert preds["source_id"].is_unique
    assert (result.per_fold["n_test"] == 24).all()
    s = result.summary()
    assert 0 <= s.loc["uar", "mean"] <= 1 and s.loc["uar", "folds"] == 8
    assert result.chance["uar"] == 0.25


def test_speaker_normalisation_helps_when_speakers_differ() -> None:
    X, meta = _table(speaker_shift=4.0)
    raw = _cv(X, meta, "loso").summary().loc["uar", "mean"]
    normalised = _cv(speaker_normalize(X, meta), meta, "loso").summary().loc["uar", "mean"]
    assert normalised > raw + 0.15
    # the same through cross_validate's own switch
    assert _cv(X, meta, "loso", speaker_norm=True).summary().loc["uar", "mean"] == pytest.approx(normalised)


def test_speaker_normalize_uses_original_rows_only() -> None:
    X, meta = _table(copies=1)
    X = X.copy()
    X[meta["augmentation"].ne("").to_numpy()] += 100.0  # wild copies must not move the statistics
    Z = speaker_normalize(X, meta)
    originals = Z[meta["augmentation"].eq("").to_numpy()]
    assert np.allclose(originals.mean(axis=0), 0, atol=1e-9)


def test_random_split_beats_loso_when_speakers_dominate() -> None:
    """The gap the protocols notebook shows: a split that shares speakers flatters the model."""
    X, meta = _table(speaker_shift=4.0)
    model = make_pipeline(StandardScaler(), SVC(C=10.0))
    random_uar = _cv(X, meta, "random", n_folds=5, estimator=model).summary().loc["uar", "mean"]
    loso_uar = _cv(X, meta, "loso", estimator=model).summary().loc["uar", "mean"]
    assert random_uar > loso_uar + 0.1


def test_augmented_rows_can_be_left_out_of_training() -> None:
    X, meta = _table(copies=2)
    with_aug = _cv(X, meta, "loso").per_fold["n_train"]
    without = _cv(X, meta, "loso", use_augmented=False).per_fold["n_train"]
    assert (with_aug == 3 * without).all()


def test_leaky_protocol_scores_rows() -> None:
    X, meta = _table(copies=2)
    result = _cv(X, meta, "leaky", n_folds=4)
    assert len(result.predictions) == len(meta)  # every copy scored as if it were a new clip


def test_nested_search_uses_inner_speaker_folds_and_reports_best_params() -> None:
    X, meta = _table()
    model = tuned(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), {"logisticregression__C": [0.01, 1.0]}
    )
    result = _cv(X, meta, "speaker_kfold", n_folds=4, estimator=model)
    assert result.per_fold["best_params"].str.contains("logisticregression__C").all()


def test_record_writes_a_results_row(tmp_path) -> None:
    X, meta = _table()
    result = _cv(X, meta, "loso")
    result.record(open_report(tmp_path, "04_svm", dataset="demo", seed=0), notes="unit test")
    row = read_results(tmp_path).iloc[0]
    assert row["protocol"] == "loso" and row["n_folds"] == 8
    assert row["uar"] == pytest.approx(result.summary().loc["uar", "mean"])
    assert row["chance"] == 0.25 and "UAR" in result.headline()
    assert result.mean() == pytest.approx(row["uar"]) and result.cell() in result.headline()
    assert plot_result_confusion(result).axes


def test_result_helpers_max_folds_and_empty_tables() -> None:
    X, meta = _table()
    result = _cv(X, meta, "loso", max_folds=2)
    assert list(result.per_fold["fold"]) == ["speaker demo_s0", "speaker demo_s1"]  # only the first folds ran
    s = result.summary()
    assert result.mean() == pytest.approx(s.loc["uar", "mean"]) and result.mean("accuracy") == s.loc["accuracy", "mean"]
    assert result.cell() == f"{s.loc['uar', 'mean']:.3f} ± {s.loc['uar', 'std']:.3f}"
    assert result.headline() == f"UAR {result.cell()} (2 folds)"
    assert np.isnan(result.epoch_seconds) and not result.histories and result.info["seconds"] > 0
    assert set(result.per_fold.columns) == {"fold", "n_train", "n_test", "accuracy", "uar", "macro_f1"}
    empty = _as_table(X[:0], meta.iloc[:0])
    with pytest.raises(ValueError, match="empty"):
        cross_validate(_svm(), empty, "loso", experiment="t", progress=False)


def test_many_runs_sharing_the_workers_give_what_separate_runs_give() -> None:
    X, meta = _table(copies=1)
    table = _as_table(X, meta)
    runs = {
        ("svm", "loso"): dict(estimator=_svm(), tables=table, protocol="loso", experiment="svm · LOSO"),
        ("logreg", "random"): dict(
            estimator=make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            tables=table,
            protocol="random",
            experiment="logreg · random",
            speaker_norm=True,
            use_augmented=False,
        ),
    }
    together = cross_validate_many(runs, n_jobs=2, progress=False)
    assert list(together) == list(runs)
    for key, run in runs.items():
        alone = cross_validate(**run, progress=False)
        got = together[key]
        assert got.experiment == run["experiment"] and got.protocol == run["protocol"]
        pd.testing.assert_frame_equal(got.per_fold, alone.per_fold)
        pd.testing.assert_frame_equal(got.predictions, alone.predictions)
        assert got.info["seconds"] > 0  # its own folds' time, whichever run's folds finished first


def _other_corpus(seed: int = 1, emotions=(*EMOTIONS, "surprised")):
    """A second corpus: other speakers, and one emotion the first does not have."""
    X, meta = _table(seed=seed)
    extra_X, extra = X[:24], meta.iloc[:24].copy()
    extra["emotion"] = [emotions[i % len(emotions)] for i in range(len(extra))]
    extra_X = np.vstack([X, extra_X])
    meta = pd.concat([meta, extra], ignore_index=True)
    meta["speaker"] = "other_" + meta["speaker"]
    meta["utt_id"] = "other/" + meta.index.astype(str)
    meta["source_id"] = meta["utt_id"]
    meta["corpus"] = "other"
    return _as_table(extra_X, meta)


def test_a_pool_trains_in_every_fold_and_is_never_tested_or_validated() -> None:
    X, meta = _table()
    pool = _other_corpus()
    plain = _cv(X, meta, "loso", estimator=LogisticRegression(max_iter=500))
    pooled = _cv(X, meta, "loso", estimator=LogisticRegression(max_iter=500), pool=pool)
    in_pool = int(pool.meta["emotion"].isin(EMOTIONS).sum())  # "surprised" rows are dropped
    assert in_pool < len(pool.meta)
    assert (pooled.per_fold["n_train"] == plain.per_fold["n_train"] + in_pool).all()
    assert pooled.predictions["source_id"].tolist() == plain.predictions["source_id"].tolist()  # the data's clips only
    assert pooled.labels == sorted(EMOTIONS)
    # a nested search validates on the data's own training speakers only
    search = tuned(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), {"logisticregression__C": [0.1, 1]}
    )
    train = meta.assign(pooled=False)
    both = pd.concat([train, pool.meta.assign(pooled=True)], ignore_index=True)
    fitted = fit_clone(search, np.vstack([X, pool.X]), both["emotion"].to_numpy(), both)
    pooled_rows = set(np.flatnonzero(both["pooled"]))
    assert all(pooled_rows <= set(a) and pooled_rows.isdisjoint(b) for a, b in fitted.cv)
    assert len(fitted.cv) == 3


def test_a_pool_must_be_other_speakers_with_the_same_inputs_and_shared_emotions() -> None:
    X, meta = _table()
    same_speakers = _as_table(X, meta.assign(utt_id="copy/" + meta["utt_id"], source_id="copy/" + meta["utt_id"]))
    with pytest.raises(ValueError, match="shares speakers"):
        _cv(X, meta, "loso", pool=same_speakers)
    pool = _other_corpus()
    narrow = _as_table(pool.X[:, :4], pool.meta)
    with pytest.raises(ValueError, match="same feature set"):
        _cv(X, meta, "loso", pool=narrow)
    elsewhere = _as_table(pool.X, pool.meta.assign(emotion="surprised"))
    with pytest.raises(ValueError, match="no pooled row"):
        _cv(X, meta, "loso", pool=elsewhere)


class _PairedRows(LogisticRegression):
    """A logistic regression that checks, before fitting, that every pooled row still carries its own label
    (the pool's last column holds the label's index) and that no pooled row is an augmented copy."""

    def fit(self, X, y, meta=None):
        pooled = meta["pooled"].to_numpy(bool)
        assert pooled.any()
        codes = np.array([EMOTIONS.index(e) for e in y[pooled]])
        np.testing.assert_array_equal(X[pooled, -1], codes)
        assert (meta.loc[pooled, "augmentation"] == "").all()
        return super().fit(X, y)


def test_pooled_rows_keep_their_labels_and_copies_stay_out_when_asked() -> None:
    X, meta = _table(copies=1)
    pool = _other_corpus()
    pool_meta = pool.meta.assign(augmentation="")
    copies = pool_meta.iloc[:10].assign(augmentation="noise0", utt_id=lambda m: m["utt_id"] + "#noise0")
    pool_meta = pd.concat([pool_meta, copies], ignore_index=True)
    labels = [EMOTIONS.index(e) if e in EMOTIONS else -1 for e in pool_meta["emotion"]]
    pool_X = np.vstack([pool.X, pool.X[:10]])
    pool_X[:, -1] = labels  # the label, written into the features: misaligned rows would show
    X = X.copy()
    X[:, -1] = [EMOTIONS.index(e) for e in meta["emotion"]]
    result = _cv(
        X, meta, "loso", estimator=_PairedRows(max_iter=300), pool=_as_table(pool_X, pool_meta), use_augmented=False
    )
    in_pool = int(pool.meta["emotion"].isin(EMOTIONS).sum())  # originals of the data's emotions, no copies
    own = int((meta["augmentation"] == "").sum() * 7 / 8)  # seven of eight speakers train, originals only
    assert (result.per_fold["n_train"] == own + in_pool).all()
