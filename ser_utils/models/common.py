"""Pieces every builder shares: the normalised input and the softmax output.

Inputs are standardised *inside* the model by a Keras ``Normalization`` layer whose mean and
variance are computed on the training part of a fold only (:func:`input_stats`) and saved with the
model, so prediction needs no separate scaler and a test fold never leaks into the scaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..normalize import NORM_AXES, reduced_axes
from .backend import keras_module

#: Batch-norm momentum of the 2-D networks. Keras' 0.99 suits long runs; a few hundred clips give ~15
#: steps per epoch, and with early stopping after a handful of epochs the moving statistics used at
#: test time would still be near their initial values. 0.9 lets them settle within a few epochs.
BN_MOMENTUM = 0.9


def input_stats(X: np.ndarray, mode: str = "feature") -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of training inputs ``X`` (batch first) for a ``Normalization`` layer.

    ``mode``: "feature" (one pair per index of the last axis: vector columns, MFCC coefficients),
    "band" (per row of an image: mel bands) or "global". Constant features get variance 1 (left unscaled).
    """
    X = np.asarray(X)
    reduce = reduced_axes(X.ndim, mode)
    mean = X.mean(axis=reduce, dtype=np.float64)
    var = X.var(axis=reduce, dtype=np.float64)
    var = np.where(var > 1e-12, var, 1.0)
    return np.asarray(mean, np.float32), np.asarray(var, np.float32)


def normalized_input(
    shape: Sequence[int],
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    mode: str = "feature",
    name: str = "features",
):
    """``(keras.Input, normalised tensor)``; ``stats`` from :func:`input_stats` (None: identity until trained)."""
    keras = keras_module()
    shape = tuple(int(s) for s in shape)
    inp = keras.Input(shape=shape, name=name)
    axis = NORM_AXES[mode]
    if stats is None:
        size = 1 if axis is None else shape[axis - 1 if axis > 0 else axis]
        stats = (np.zeros(size, np.float32), np.ones(size, np.float32))
    mean, var = (np.asarray(s, np.float32) for s in stats)
    if axis is None:
        mean, var = float(mean), float(var)
    else:
        mean, var = mean.tolist(), var.tolist()
    layer = keras.layers.Normalization(axis=axis, mean=mean, variance=var, name=f"{name}_norm")
    return inp, layer(inp)


def classifier(x, n_classes: int):
    """The softmax output (kept in float32 under mixed precision, as Keras recommends)."""
    keras = keras_module()
    return keras.layers.Dense(n_classes, activation="softmax", dtype="float32", name="emotion")(x)


def as_list(value: Any, n: int, what: str) -> list:
    """A per-layer setting: one value for all ``n`` layers, or a sequence of exactly ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) < n:
            raise ValueError(f"{what}: {len(value)} value(s) given for {n} layers")
        return list(value[:n])
    return [value] * n
