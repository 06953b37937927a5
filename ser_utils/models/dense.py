"""A recipe rather than a reference architecture: dense layers over a clip's functionals.

The strongest classical model of notebook 04 is linear on the 6,373 ComParE functionals. A dense network
on the very same vector separates the two questions a lost comparison mixes: is it the input (functionals
against raw frames) or the learner (a regularised linear model, tuned on inner folds of speakers, against a
network stopped early on one validation speaker)?
"""

from __future__ import annotations

from .backend import keras_module
from .common import classifier, normalized_input


def dense(
    input_shape,
    n_classes: int,
    *,
    norm=None,
    hidden: int = 256,
    dropout: float = 0.5,
    input_dropout: float = 0.2,
    l2: float = 1e-3,
):
    """Input dropout → dense ``hidden`` (ReLU, L2 ``l2``) → dropout → softmax, on a standardised vector."""
    keras = keras_module()
    L = keras.layers
    inp, x = normalized_input(input_shape, norm, mode="feature", name="features")
    x = L.Dropout(input_dropout, name="input_dropout")(x)
    x = L.Dense(hidden, activation="relu", kernel_regularizer=keras.regularizers.L2(l2), name="hidden")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, classifier(x, n_classes), name="dense")
