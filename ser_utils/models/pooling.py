"""A recipe rather than a reference architecture: convolutions over frames, then statistics pooling.

The reference networks flatten a whole clip (or a whole image) into one long vector, so their dense
layers learn *where* in the clip something happened, from a few hundred clips. Speaker and language
recognition learned long ago to pool instead: frame-level features, then their mean and variance over
time (x-vectors), optionally weighted by a learned attention over frames. The clip's length and the
position of a stressed syllable no longer matter, and the network has far fewer weights to fit.
Only built-in Keras layers are used, so a saved model loads anywhere without this package.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from .backend import keras_module
from .common import BN_MOMENTUM, as_list, classifier, normalized_input


def statistics_pooling(x, attention: int = 0, name: str = "pool"):
    """Mean and variance over time of frame features ``x`` (batch, frames, channels), concatenated.

    ``attention`` > 0: each frame is weighted by a softmax over frames of a small learned scorer with
    that many hidden units (attentive statistics pooling); 0: every frame counts the same.
    """
    L = keras_module().layers
    f32 = {"dtype": "float32"}  # E[x²] − E[x]² in float16 (mixed precision on a GPU) loses the variance
    squares = L.Multiply(name=f"{name}_squares", **f32)([x, x])
    if attention:
        hidden = L.Dense(attention, activation="tanh", name=f"{name}_attention_hidden")(x)
        score = L.Dense(1, name=f"{name}_attention_score", **f32)(hidden)
        weights = L.Softmax(axis=1, name=f"{name}_attention", **f32)(score)
        mean = L.Flatten(name=f"{name}_mean", **f32)(L.Dot(axes=1, name=f"{name}_weighted_sum", **f32)([weights, x]))
        mean_sq = L.Flatten(name=f"{name}_mean_squares", **f32)(
            L.Dot(axes=1, name=f"{name}_weighted_squares", **f32)([weights, squares])
        )
    else:
        mean = L.GlobalAveragePooling1D(name=f"{name}_mean", **f32)(x)
        mean_sq = L.GlobalAveragePooling1D(name=f"{name}_mean_squares", **f32)(squares)
    mean_squared = L.Multiply(name=f"{name}_mean_squared", **f32)([mean, mean])
    variance = L.Subtract(name=f"{name}_variance", **f32)([mean_sq, mean_squared])
    return L.Concatenate(name=f"{name}_statistics", **f32)([mean, variance])


def statpool(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    filters: Sequence[int] = (64, 64, 64),
    kernels: int | Sequence[int] = (5, 3, 3),
    dilations: int | Sequence[int] = (1, 2, 3),
    attention: int = 0,
    hidden: int = 64,
    dropout: float = 0.3,
):
    """The log-mel image read frame by frame (bands as channels): dilated Conv1D blocks over time (batch
    norm, ReLU), statistics pooling over frames (attentive with ``attention`` > 0), a dense layer, dropout,
    softmax."""
    inp, x = normalized_input(input_shape, norm, mode="band", name="logmel")
    x = keras_module().layers.Permute((2, 1), name="frames_first")(x)  # (bands, frames) → (frames, bands)
    return _pooled(
        inp,
        x,
        n_classes,
        filters=filters,
        kernels=kernels,
        dilations=dilations,
        attention=attention,
        hidden=hidden,
        dropout=dropout,
    )


def statpool_frames(input_shape: Sequence[int], n_classes: int, *, norm=None, **params):
    """:func:`statpool` on a sequence (frames × features, e.g. eGeMAPS low-level descriptors), normalised per
    feature; the same hyper-parameters."""
    inp, x = normalized_input(input_shape, norm, mode="feature", name="sequence")
    settings = inspect.signature(statpool).bind(input_shape, n_classes, **params)
    settings.apply_defaults()
    hyper = {k: v for k, v in settings.arguments.items() if k not in ("input_shape", "n_classes", "norm")}
    return _pooled(inp, x, n_classes, **hyper)


# Its hyper-parameters are statpool's: what describe_models lists and ModelSpec.check_params accepts.
statpool_frames.__signature__ = inspect.signature(statpool)  # type: ignore[attr-defined]


def _pooled(inp, x, n_classes, *, filters, kernels, dilations, attention, hidden, dropout):
    """Dilated Conv1D blocks over the frames of ``x`` (batch, frames, channels), statistics pooling, dense, softmax."""
    keras = keras_module()
    L = keras.layers
    n = len(filters)
    for i, (f, k, d) in enumerate(zip(filters, as_list(kernels, n, "kernels"), as_list(dilations, n, "dilations"))):
        x = L.Conv1D(f, k, dilation_rate=d, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i + 1}")(x)
        x = L.Activation("relu", name=f"relu{i + 1}")(x)
    x = statistics_pooling(x, attention)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name="pool_norm")(x)
    x = L.Dense(hidden, activation="relu", name="embedding")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, classifier(x, n_classes), name="statpool")
