"""Recurrent builders: the LSTM on MFCC sequences, the BiLSTM on log-mel frames, and the CRNN.

The CRNN's variants are parameters (kernel, number of conv layers, activation per layer, LSTM or
GRU, dropout), so the CRNN study's variation table is one loop over :data:`CRNN_VARIATIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .backend import keras_module
from .common import as_list, classifier, normalized_input


def lstm(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    units: Sequence[int] = (256, 64),
    dense: int = 128,
    dropout: float = 0.2,
):
    """The LSTM study's network on MFCC sequences (frames × coefficients): LSTM 256 (sequences) → dropout →
    LSTM 64 → dropout → dense 128 (ReLU) → dropout → softmax. Coefficients are normalised on the training part."""
    keras = keras_module()
    L = keras.layers
    inp, x = normalized_input(input_shape, norm, mode="feature", name="mfcc")
    for i, u in enumerate(units):
        x = L.LSTM(u, return_sequences=i < len(units) - 1, name=f"lstm{i + 1}")(x)
        x = L.Dropout(dropout, name=f"dropout{i + 1}")(x)
    x = L.Dense(dense, activation="relu", name="dense")(x)
    x = L.Dropout(dropout, name="dropout_dense")(x)
    return keras.Model(inp, classifier(x, n_classes), name="lstm")


def bilstm(
    input_shape: Sequence[int], n_classes: int, *, norm=None, units: int = 128, layers: int = 2, dropout: float = 0.3
):
    """DeepEmoNet's recurrent model on the log-mel image read frame by frame (bands per step, normalised
    per band): two bidirectional LSTM layers → dropout → linear layer with softmax."""
    keras = keras_module()
    L = keras.layers
    inp, x = normalized_input(input_shape, norm, mode="band", name="logmel")
    x = L.Permute((2, 1), name="frames_first")(x)  # (bands, frames) → (frames, bands)
    for i in range(layers):
        x = L.Bidirectional(L.LSTM(units, return_sequences=i < layers - 1), name=f"bilstm{i + 1}")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, classifier(x, n_classes), name="bilstm")


def crnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    conv_layers: int = 3,
    kernel: int = 3,
    filters: Sequence[int] = (64, 128, 256, 512),
    activations: str | Sequence[str] = "relu",
    cell: str = "lstm",
    recurrent_layers: int = 4,
    units: int = 64,
    dropout: float = 0.2,
    first_kernel: int | None = None,
):
    """CRNN (CRNN study) on a feature vector read as a 1-channel signal: ``conv_layers`` × (Conv1D → max-pool 2)
    with ``filters`` growing, then ``recurrent_layers`` stacked LSTM/GRU layers of ``units``, each followed by
    dropout, then softmax. ``activations``: one for all conv layers or one per layer (e.g. relu, elu, tanh);
    ``first_kernel`` overrides the first layer's kernel (the study's final summary used 5 there, 3 after)."""
    keras = keras_module()
    L = keras.layers
    if cell not in ("lstm", "gru"):
        raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    inp, x = normalized_input(input_shape, norm, mode="feature")
    x = L.Reshape((int(input_shape[0]), 1), name="features_as_signal")(x)
    acts = as_list(activations, conv_layers, "activations")
    sizes = as_list(tuple(filters), conv_layers, "filters")
    for i in range(conv_layers):
        k = first_kernel if (i == 0 and first_kernel) else kernel
        x = L.Conv1D(sizes[i], k, padding="same", activation=acts[i], name=f"conv{i + 1}")(x)
        x = L.MaxPooling1D(2, padding="same", name=f"pool{i + 1}")(x)
    rnn = L.LSTM if cell == "lstm" else L.GRU
    for i in range(recurrent_layers):
        x = rnn(units, return_sequences=i < recurrent_layers - 1, name=f"{cell}{i + 1}")(x)
        x = L.Dropout(dropout, name=f"dropout{i + 1}")(x)
    return keras.Model(inp, classifier(x, n_classes), name="crnn")


#: The CRNN study's variation table, cumulative as in the study (the dropout 0.1 trial was not kept).
CRNN_VARIATIONS: dict[str, dict] = {
    "CRNN (3 conv, kernel 3, ReLU, LSTM)": {},
    "reducing dropout (0.1)": {"dropout": 0.1},
    "kernel size 5": {"kernel": 5},
    "+ extra conv layer (4)": {"kernel": 5, "conv_layers": 4},
    "+ mixed activations (ReLU, ELU, tanh, ReLU)": {
        "kernel": 5,
        "conv_layers": 4,
        "activations": ["relu", "elu", "tanh", "relu"],
    },
    "+ GRU instead of LSTM": {
        "kernel": 5,
        "conv_layers": 4,
        "activations": ["relu", "elu", "tanh", "relu"],
        "cell": "gru",
    },
}
