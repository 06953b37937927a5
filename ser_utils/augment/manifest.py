"""Augmented copies as manifest rows, tied to their source clip, and the check that none leaks into a test set.

Augmentation is something a *training fold* asks for: :func:`augment_manifest` is given that fold's
rows only and returns one row per (clip, preset, copy). No audio is touched here; the feature
extractor later calls ``apply_augmentation(y, sr, row.augmentation, row.aug_seed)``. Every copy keeps
its ``source_id``, so :func:`assert_no_leak` can prove that no copy of a test clip is in training.
"""

from __future__ import annotations

import hashlib
import numbers
import warnings

import pandas as pd

from .presets import PRESETS, get_preset

#: Columns augment_manifest adds (or fills) on every row it returns.
AUG_COLUMNS = ("source_id", "augmentation", "aug_seed")


class LeakageError(ValueError):
    """The same source clip (or an augmented copy of it) is on both sides of a split."""


def derive_seed(seed: int, utt_id: str, preset: str, copy: int) -> int:
    """A 32-bit seed from (seed, utt_id, preset, copy) via SHA-256: stable across runs and machines."""
    digest = hashlib.sha256(f"{int(seed)}|{utt_id}|{preset}|{int(copy)}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def source_ids(manifest: pd.DataFrame) -> pd.Series:
    """Each row's source clip: ``source_id`` where present, else the row's own ``utt_id``."""
    if "utt_id" not in manifest:
        raise ValueError("manifest has no 'utt_id' column")
    ids = manifest["utt_id"].astype(str)
    if "source_id" in manifest:
        given = manifest["source_id"]
        ids = given.where(given.notna() & (given.astype(str) != ""), ids).astype(str)
    return ids


def _check_input(train: pd.DataFrame, presets: list[str], copies: int) -> None:
    """Refuse obviously wrong input with a message that says what to fix."""
    missing = [c for c in ("utt_id", "path") if c not in train.columns]
    if missing:
        raise ValueError(f"augment_manifest needs manifest rows with columns utt_id and path; missing: {missing}")
    if not presets:
        raise ValueError(f"no augmentation presets given; presets: {', '.join(PRESETS)}")
    for name in presets:
        get_preset(name)
    if len(set(presets)) != len(presets):
        raise ValueError(f"a preset is listed twice: {presets}")
    if isinstance(copies, bool) or not isinstance(copies, numbers.Integral) or copies < 1:
        raise ValueError(f"copies must be an integer >= 1, got {copies!r}")
    duplicated = train["utt_id"][train["utt_id"].duplicated()].unique()
    if len(duplicated):
        raise ValueError(f"utt_id must be unique; duplicated: {list(duplicated[:5])}")
    if "augmentation" in train:
        done = train.loc[train["augmentation"].fillna("").astype(str) != "", "utt_id"]
        if len(done):
            raise ValueError(
                "augment_manifest takes original clips, not augmented copies "
                f"(the copy's own augmentation would be lost); already augmented: {list(done[:5])}"
            )


def augment_manifest(
    train: pd.DataFrame, presets: list[str] | str, *, copies: int = 1, seed: int = 0, include_original: bool = False
) -> pd.DataFrame:
    """One new row per (training row, preset, copy), each tied to its source clip; no audio is processed.

    Every column is copied; ``utt_id`` becomes ``"{utt_id}#{preset}{copy}"`` (copy counts from 0),
    ``source_id`` is the row's source clip, ``augmentation`` the preset name and ``aug_seed`` a seed
    derived from (seed, utt_id, preset, copy). With ``include_original`` the original rows come first
    (``augmentation=""``, ``aug_seed=-1``). Call it on the training rows of a fold, never before splitting.
    """
    presets = [presets] if isinstance(presets, str) else list(presets)
    _check_input(train, presets, copies)
    fixed = [p for p in presets if not PRESETS[p].varies_with_seed]
    if copies > 1 and fixed:
        warnings.warn(
            f"presets {fixed} do not depend on the seed: their {copies} copies of a clip are identical", stacklevel=2
        )
    base = train.reset_index(drop=True).copy()
    base["source_id"] = source_ids(base).to_numpy()
    base["utt_id"] = base["utt_id"].astype(str)
    parts = []
    for name in presets:
        for copy in range(int(copies)):
            rows = base.copy()
            rows["augmentation"] = name
            rows["aug_seed"] = [derive_seed(seed, u, name, copy) for u in base["utt_id"]]
            rows["utt_id"] = base["utt_id"] + f"#{name}{copy}"
            parts.append(rows)
    augmented = pd.concat(parts).sort_index(kind="stable")  # per clip, then preset, then copy
    originals = [base.assign(augmentation="", aug_seed=-1)] if include_original else []
    out = pd.concat([*originals, augmented], ignore_index=True)
    out["aug_seed"] = out["aug_seed"].astype("int64")
    return out


def assert_no_leak(train: pd.DataFrame, test: pd.DataFrame) -> None:
    """Raise :class:`LeakageError` when a source clip (original or augmented copy) is in both ``train`` and ``test``."""
    shared = sorted(set(source_ids(train)) & set(source_ids(test)))
    if shared:
        shown = ", ".join(shared[:5]) + (" …" if len(shared) > 5 else "")
        raise LeakageError(
            f"{len(shared)} source clip(s) appear in both train and test (augmented copies count "
            f"as their source): {shown}. Split first, then augment the training rows only."
        )
