"""Small facts about the rows of a feature table, written once.

A row is an original clip, one of its windows, or an augmented copy. Every row knows the clip it
comes from (``source_id``; a table without that column: its own ``utt_id``) and whether it is a copy
(a non-empty ``augmentation``), and, in a training part, whether it was pooled from another corpus. Splits, scoring, normalisation and training all ask these questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def source_ids(meta: pd.DataFrame) -> np.ndarray:
    """The source clip of every row, as strings (``source_id``, else the row's own ``utt_id``)."""
    column = meta["source_id"] if "source_id" in meta else meta["utt_id"]
    return column.astype(str).to_numpy()


def is_augmented(meta: pd.DataFrame) -> np.ndarray:
    """True for rows that are augmented copies (windows of an original clip are not copies)."""
    if "augmentation" not in meta:
        return np.zeros(len(meta), dtype=bool)
    return meta["augmentation"].fillna("").astype(str).ne("").to_numpy()


def is_pooled(meta: pd.DataFrame) -> np.ndarray:
    """True for rows pooled from other corpora into a training part (``pooled``): they always train, and
    never validate or test (:func:`ser_utils.evaluation.cross_validate`'s ``pool``)."""
    if "pooled" not in meta:
        return np.zeros(len(meta), dtype=bool)
    return meta["pooled"].fillna(False).astype(bool).to_numpy()


def common_rows(metas: Sequence[pd.DataFrame]) -> list[np.ndarray]:
    """Positions into each table of the rows every table has, matched on ``utt_id``, in the first table's order."""
    ids = [pd.Index(m["utt_id"].astype(str)) for m in metas]
    common = set.intersection(*(set(i) for i in ids))
    kept = [u for u in ids[0] if u in common]
    return [index.get_indexer(kept) for index in ids]


def mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``0.512 ± 0.043`` (the spread left out when it is undefined, e.g. a single fold)."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "—"
    spread = "" if std is None or np.isnan(std) else f" ± {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread}"
