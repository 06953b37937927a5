"""Evaluation protocols that cannot leak: every split is made on source clips, never on rows.

A row of a feature table may be an original clip, one of its windows or an augmented copy; all carry
the ``source_id`` of the recording they come from. Folds are drawn over source ids (and, for the
speaker protocols, over whole speakers), so windows and copies always follow their source. Test and
validation parts hold original rows only; augmented copies of training sources join the training
part and nothing else. Validation data for early stopping or model selection is carved from the
training part only.

Protocols:

* ``random``: stratified k-fold over source clips (the "naive" split of many studies: the same
  speakers are on both sides).
* ``speaker_kfold``: k folds of whole speakers (e.g. RAVDESS, 6 folds of 4 actors).
* ``loso``: leave one speaker out; ``lopo``: leave one phrase (sentence) out.
* ``cross_corpus``: train on some corpora, test on others, emotions intersected.
* ``leaky``: for demonstration only: rows (copies and windows included) split at random and the
  test part doubling as validation, the recipe of many public notebooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold

from .rows import is_augmented, is_pooled, source_ids

PROTOCOLS = ("random", "speaker_kfold", "loso", "lopo", "cross_corpus", "leaky")
#: Protocols whose training and test parts never share a speaker.
SPEAKER_INDEPENDENT = ("speaker_kfold", "loso", "cross_corpus")


class LeakError(AssertionError):
    """A split puts the same source clip (or, where forbidden, the same speaker) on two sides."""


@dataclass(frozen=True)
class Fold:
    """Row positions of one fold: ``train`` (augmented copies included), ``val`` and ``test`` (originals)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _sources(meta: pd.DataFrame) -> pd.DataFrame:
    """One row per source clip, with the columns folds are drawn over."""
    original = ~is_augmented(meta)
    originals = meta[original].assign(source_id=source_ids(meta)[original])
    columns = [c for c in ("source_id", "speaker", "sentence", "corpus", "emotion", "gender") if c in originals]
    return originals[columns].drop_duplicates("source_id").reset_index(drop=True)


def _carve_validation(
    sources: pd.DataFrame, train_sources: pd.DataFrame, group: str | None, val_fraction: float, seed: int
) -> set:
    """Source ids held out of training for validation: whole groups (speakers/sentences) if ``group``."""
    if val_fraction <= 0 or len(train_sources) < 2:
        return set()
    if group is not None:
        groups = np.array(sorted(train_sources[group].unique()))
        if len(groups) < 2:
            return set()
        n_val = max(1, int(round(val_fraction * len(groups))))
        chosen = np.random.default_rng(seed).choice(groups, size=min(n_val, len(groups) - 1), replace=False)
        return set(train_sources.loc[train_sources[group].isin(chosen), "source_id"])
    n_splits = max(2, int(round(1 / val_fraction)))
    counts = train_sources["emotion"].value_counts()
    if counts.min() >= n_splits:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, val_idx = next(splitter.split(train_sources, train_sources["emotion"]))
    else:
        val_idx = np.random.default_rng(seed).permutation(len(train_sources))[: max(1, len(train_sources) // n_splits)]
    return set(train_sources["source_id"].iloc[val_idx])


def _to_fold(meta: pd.DataFrame, name: str, train_src: set, val_src: set, test_src: set) -> Fold:
    """Row positions for a fold given its source-id sets (augmented copies only go to training)."""
    source = source_ids(meta)
    original = ~is_augmented(meta)
    train = np.flatnonzero(np.isin(source, list(train_src)))
    val = np.flatnonzero(np.isin(source, list(val_src)) & original)
    test = np.flatnonzero(np.isin(source, list(test_src)) & original)
    return Fold(name, train, val, test)


def _group_folds(sources: pd.DataFrame, group: str, n_folds: int | None, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """(fold name, test source positions) for folds of whole groups; ``n_folds=None`` = leave one out."""
    groups = sources[group].to_numpy()
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"a {group}-wise protocol needs at least 2 {group}s, this data has {n_groups}")
    if n_folds is None or n_folds >= n_groups:
        for _, test_idx in LeaveOneGroupOut().split(sources, groups=groups):
            yield f"{group} {groups[test_idx[0]]}", test_idx
        return
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(sources, groups=groups), 1):
        members = ", ".join(sorted(np.unique(groups[test_idx])))
        yield f"fold {k} ({members})", test_idx


def _random_folds(sources: pd.DataFrame, n_folds: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """Stratified k-fold over source clips (speakers shared between the sides)."""
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(sources, sources["emotion"], groups=sources["source_id"]), 1):
        yield f"fold {k}", test_idx


def _cross_corpus(
    meta: pd.DataFrame, train_corpora: Sequence[str], test_corpora: Sequence[str], val_fraction: float, seed: int
) -> list[Fold]:
    """One fold: train on ``train_corpora``, test on ``test_corpora``, emotions both sides have."""
    sources = _sources(meta)
    missing = sorted((set(train_corpora) | set(test_corpora)) - set(sources["corpus"]))
    if missing or set(train_corpora) & set(test_corpora):
        raise ValueError(
            f"cross_corpus needs disjoint train/test corpora present in the data "
            f"(present: {sorted(sources['corpus'].unique())}; missing: {missing})"
        )
    train_s = sources[sources["corpus"].isin(train_corpora)]
    test_s = sources[sources["corpus"].isin(test_corpora)]
    shared = set(train_s["emotion"]) & set(test_s["emotion"])
    train_s, test_s = train_s[train_s["emotion"].isin(shared)], test_s[test_s["emotion"].isin(shared)]
    val = _carve_validation(sources, train_s, "speaker", val_fraction, seed)
    name = f"{'+'.join(train_corpora)} → {'+'.join(test_corpora)}"
    return [_to_fold(meta, name, set(train_s["source_id"]) - val, val, set(test_s["source_id"]))]


def _leaky(meta: pd.DataFrame, n_folds: int, seed: int) -> list[Fold]:
    """The leaky recipe, for demonstration: rows split at random, test reused as validation."""
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [
        Fold(f"fold {k}", train, test, test) for k, (train, test) in enumerate(splitter.split(meta, meta["emotion"]), 1)
    ]


def make_folds(
    meta: pd.DataFrame,
    protocol: str,
    *,
    n_folds: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    train_corpora: Sequence[str] = (),
    test_corpora: Sequence[str] = (),
) -> list[Fold]:
    """The folds of ``protocol`` over the rows of ``meta`` (a feature table's metadata).

    ``n_folds``: folds for ``random`` (default 5, i.e. 80/20) and ``speaker_kfold`` (default 5);
    ignored by ``loso``/``lopo`` (one fold per speaker/sentence). ``val_fraction``: share of the
    training part (of its speakers/sentences for the group protocols) held out for validation.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol == "cross_corpus":
        folds = _cross_corpus(meta, list(train_corpora), list(test_corpora), val_fraction, seed)
    elif protocol == "leaky":
        folds = _leaky(meta, n_folds or 5, seed)
    else:
        sources = _sources(meta)
        group = {"random": None, "speaker_kfold": "speaker", "loso": "speaker", "lopo": "sentence"}[protocol]
        if protocol == "random":
            splits = _random_folds(sources, n_folds or 5, seed)
        else:
            splits = _group_folds(sources, group, None if protocol in ("loso", "lopo") else (n_folds or 5), seed)
        folds = []
        for k, (name, test_idx) in enumerate(splits):
            test_src = set(sources["source_id"].iloc[test_idx])
            train_s = sources[~sources["source_id"].isin(test_src)]
            val_src = _carve_validation(sources, train_s, group, val_fraction, seed + k)
            folds.append(_to_fold(meta, name, set(train_s["source_id"]) - val_src, val_src, test_src))
    if protocol != "leaky":
        for fold in folds:
            check_fold(meta, fold, speaker_independent=protocol in SPEAKER_INDEPENDENT)
    return folds


def check_fold(meta: pd.DataFrame, fold: Fold, *, speaker_independent: bool = False) -> None:
    """Raise :class:`LeakError` if a source clip (or, when required, a speaker) is on two sides."""
    source = source_ids(meta)
    parts = {"train": fold.train, "val": fold.val, "test": fold.test}
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        shared = set(source[parts[a]]) & set(source[parts[b]])
        if shared:
            raise LeakError(f"{fold.name}: {len(shared)} source clip(s) in both {a} and {b}, e.g. {sorted(shared)[0]}")
    if speaker_independent:
        speakers = meta["speaker"].to_numpy()
        shared = set(speakers[fold.train]) & set(speakers[fold.test])
        if shared:
            raise LeakError(f"{fold.name}: speaker(s) {sorted(shared)} in both train and test")


class ProtocolSplit:
    """A scikit-learn CV splitter for a protocol (use it as ``cv=`` in GridSearchCV, cross_validate, ...).

    ``meta`` must be row-aligned with the ``X`` later passed to ``split``; the validation part of
    each fold is returned to training, since scikit-learn's searches do their own inner splits.
    """

    def __init__(self, meta: pd.DataFrame, protocol: str, **kwargs) -> None:
        self.folds = make_folds(meta, protocol, val_fraction=0.0, **kwargs)
        self.n_rows = len(meta)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:  # noqa: N803 - scikit-learn's signature
        return len(self.folds)

    def split(self, X=None, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # noqa: N803
        if X is not None and len(X) != self.n_rows:
            raise ValueError(f"X has {len(X)} rows but the protocol was built for {self.n_rows}")
        for fold in self.folds:
            yield fold.train, fold.test


def validation_split(meta: pd.DataFrame, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of a training part, for early stopping and model selection.

    Whole speakers are held out (source clips when there are fewer than 3 speakers), so validation
    asks the question the test does: a voice not heard in training. Validation holds original rows
    only, and no copy of a validation clip trains. Rows pooled from other corpora (``pooled``) always
    train: validation speakers come from the data's own.
    """
    meta = meta.reset_index(drop=True)
    n = len(meta)
    own = ~is_pooled(meta)
    if val_fraction <= 0 or own.sum() < 2:
        return np.arange(n), np.array([], dtype=int)
    sources = source_ids(meta)
    rng = np.random.default_rng(seed)
    speakers = meta["speaker"].astype(str).to_numpy() if "speaker" in meta else None
    if speakers is not None and len(np.unique(speakers[own])) >= 3:
        groups = np.unique(speakers[own])
        n_val = min(len(groups) - 1, max(1, int(round(val_fraction * len(groups)))))
        held = np.isin(speakers, rng.choice(groups, size=n_val, replace=False)) & own
    else:
        unique = np.unique(sources[own])
        n_val = min(len(unique) - 1, max(1, int(round(val_fraction * len(unique)))))
        held = np.isin(sources, rng.choice(unique, size=n_val, replace=False)) & own
    in_val = np.isin(sources, np.unique(sources[held])) & own
    return np.flatnonzero(~in_val), np.flatnonzero(in_val & ~is_augmented(meta))


def lopo_applicable(meta: pd.DataFrame, min_sentences: int = 3) -> tuple[bool, str]:
    """Whether leave-one-phrase-out makes sense here, and why (or why not), in words.

    It needs sentence labels, at least ``min_sentences`` sentences, and a sentence design: each
    sentence spoken by several speakers (otherwise leaving a sentence out is leaving a speaker out).
    """
    if "sentence" not in meta or meta["sentence"].isna().all():
        return False, "the corpus has no sentence labels"
    originals = meta[~is_augmented(meta)]
    n_sentences = originals["sentence"].nunique()
    if n_sentences < min_sentences:
        return False, f"only {n_sentences} sentence(s) (LOPO needs at least {min_sentences})"
    speakers = originals.groupby("sentence")["speaker"].nunique()
    if speakers.median() <= 1:
        return False, "each sentence is spoken by a single speaker: leaving a sentence out would leave a speaker out"
    return True, f"{n_sentences} sentences, each spoken by {int(speakers.median())} speakers (median)"


def leak_audit(meta: pd.DataFrame, folds: Sequence[Fold]) -> dict[str, float]:
    """What the test rows of a protocol share with its training rows, averaged over folds (fractions of test rows).

    ``clip in training``: the test row's source clip (itself, another copy or a window of it) is in training;
    ``speaker in training`` / ``sentence in training``: some recording of that speaker / sentence is.
    """
    meta = meta.reset_index(drop=True)
    columns = {"clip in training": source_ids(meta), "speaker in training": meta["speaker"].astype(str).to_numpy()}
    if "sentence" in meta and meta["sentence"].notna().any():
        columns["sentence in training"] = meta["sentence"].astype(str).to_numpy()
    out: dict[str, float] = {"folds": float(len(folds))}
    for label, values in columns.items():
        shares = [np.isin(values[f.test], values[f.train]).mean() for f in folds if len(f.test)]
        out[label] = float(np.mean(shares)) if shares else float("nan")
    return out
