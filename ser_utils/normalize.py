"""Speaker normalisation: standardise each speaker's rows by statistics of that speaker's own audio.

Uses no labels, only unlabeled recordings of the same speaker, which a deployed system can collect
too; it removes much of what makes voices differ (pitch level, loudness, vocal tract, channel) and
is a known large gain for speaker-independent emotion recognition. One function serves every array
shape: vectors (per column), sequences (per coefficient, over frames too) and images (per mel band).

The rule for a value that does not vary within a speaker (the gender column, a descriptor that is
always zero for one voice): it is left as it is (mean 0, std 1 for that column), so what it says
about the speaker survives and nothing is divided by zero. Statistics come from the speaker's
original rows; augmented copies are standardised with them but do not shape them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rows import is_augmented

#: Statistics per feature (the last axis: vector columns, MFCC coefficients), per mel band (axis 1 of
#: an image), or one pair for the whole array.
NORM_AXES = {"feature": -1, "band": 1, "global": None}

#: The normalisation mode that suits each kind of feature table.
MODE_OF_KIND = {"vector": "feature", "windows": "feature", "sequence": "feature", "image": "band"}


def reduced_axes(ndim: int, mode: str) -> tuple[int, ...]:
    """The axes statistics are taken over for ``mode`` (every axis but the one kept)."""
    if mode not in NORM_AXES:
        raise ValueError(f"unknown normalisation mode {mode!r}; choose one of {', '.join(NORM_AXES)}")
    axis = NORM_AXES[mode]
    if axis is None:
        return tuple(range(ndim))
    keep = axis % ndim
    return tuple(i for i in range(ndim) if i != keep)


def statistics(X: np.ndarray, mode: str = "feature") -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of rows ``X`` (batch first), shaped to broadcast over them.

    A column that does not vary (std ≤ 1e-12) gets mean 0 and std 1: it keeps its value.
    """
    X = np.asarray(X, dtype=np.float64)
    axes = reduced_axes(X.ndim, mode)
    mean, std = X.mean(axis=axes, keepdims=True), X.std(axis=axes, keepdims=True)
    constant = std <= 1e-12
    return np.where(constant, 0.0, mean)[0], np.where(constant, 1.0, std)[0]


def apply(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(X - mean) / std`` with statistics from :func:`statistics` (vectors in float64, larger arrays in float32)."""
    out = (np.asarray(X, dtype=np.float64) - mean) / std
    return out if out.ndim == 2 else out.astype(np.float32)


def speaker_normalize(X: np.ndarray, meta: pd.DataFrame, mode: str = "feature") -> np.ndarray:
    """Standardise each speaker's rows of ``X`` (row-aligned with ``meta``) by that speaker's statistics."""
    if "speaker" not in meta:
        raise ValueError("speaker normalisation needs a 'speaker' column in the table's meta")
    X = np.asarray(X)
    out = np.empty(X.shape, dtype=np.float64 if X.ndim == 2 else np.float32)
    speakers = meta["speaker"].astype(str).to_numpy()
    original = ~is_augmented(meta)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        reference = X[rows & original] if (rows & original).any() else X[rows]
        out[rows] = apply(X[rows], *statistics(reference, mode))
    return out
