"""SER-FusionNet: deep features from a convolutional extractor, fused with statistics and gender.

One model, trained end to end: a Conv1D extractor turns the 162-value vector (or a Conv2D extractor
the log-mel image: the study had both) into 32 deep features; they are concatenated with the ``stats`` set (144 statistics + gender), and a head classifies the
fused vector: an MLP (the study's 12 → 10 → softmax), an LSTM or a BiLSTM (reading the fused
vector as a one-step sequence). The study trained the extractor first and the head on its frozen
features; training both together is simpler to save and gives the head the same information.
"""

from __future__ import annotations

from collections.abc import Sequence

from .backend import keras_module
from .common import BN_MOMENTUM, classifier, normalized_input

HEADS = ("mlp", "lstm", "bilstm")


def fusion(
    input_shapes: Sequence[Sequence[int]],
    n_classes: int,
    *,
    norm=None,
    head: str = "mlp",
    filters: Sequence[int] | None = None,
    kernel: int | None = None,
    deep_features: int = 32,
    hidden: Sequence[int] = (12, 10),
    units: int = 32,
    dropout: float = 0.2,
):
    """Two inputs, in order: the deep branch's input and the statistics (``stats``, gender last).

    The deep branch is Conv1D (kernel 5, ``filters`` default 256, 256, each with max-pooling) on a
    vector, or Conv2D blocks (kernel 3, batch norm, max-pooling; default 16, 32, 64) then global
    average pooling on an image (bands × frames); either ends in a dense layer of ``deep_features``.
    """
    keras = keras_module()
    L = keras.layers
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    if len(input_shapes) != 2:
        raise ValueError(f"fusion takes two inputs (deep-branch input, statistics), got {len(input_shapes)}")
    norm = list(norm) if norm is not None else [None, None]
    shape = tuple(int(d) for d in input_shapes[0])
    if len(shape) == 1:
        deep_in, x = normalized_input(shape, norm[0], mode="feature", name="features")
        x = L.Reshape((shape[0], 1), name="features_as_signal")(x)
        for i, f in enumerate(filters or (256, 256)):
            x = L.Conv1D(f, kernel or 5, padding="same", activation="relu", name=f"conv{i + 1}")(x)
            x = L.MaxPooling1D(2, padding="same", name=f"pool{i + 1}")(x)
        x = L.Dropout(dropout, name="dropout_conv")(x)
        x = L.Flatten(name="flatten")(x)
    elif len(shape) == 2:
        deep_in, x = normalized_input(shape, norm[0], mode="band", name="logmel")
        x = L.Reshape((*shape, 1), name="logmel_as_image")(x)
        for i, f in enumerate(filters or (16, 32, 64)):
            x = L.Conv2D(f, kernel or 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
            x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i + 1}")(x)
            x = L.Activation("relu", name=f"relu{i + 1}")(x)
            x = L.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        x = L.GlobalAveragePooling2D(name="gap")(x)
        x = L.Dropout(dropout, name="dropout_conv")(x)
    else:
        raise ValueError(f"the deep branch takes a vector or an image, got input shape {shape}")
    deep = L.Dense(deep_features, activation="relu", name="deep_features")(x)
    stats_in, s = normalized_input(input_shapes[1], norm[1], mode="feature", name="stats")
    z = L.Concatenate(name="fused")([L.Dropout(dropout, name="dropout_deep")(deep), s])
    if head == "mlp":
        for i, u in enumerate(hidden):
            z = L.Dense(u, activation="relu", name=f"mlp{i + 1}")(z)
    else:
        z = L.Reshape((1, int(z.shape[-1])), name="as_sequence")(z)
        cell = L.LSTM(units, name="lstm_head")
        z = cell(z) if head == "lstm" else L.Bidirectional(cell, name="bilstm_head")(z)
        z = L.Dropout(dropout, name="dropout_head")(z)
    return keras.Model([deep_in, stats_in], classifier(z, n_classes), name=f"fusion_{head}")
