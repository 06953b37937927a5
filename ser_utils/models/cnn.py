"""Convolutional builders: 1-D CNNs on feature vectors and 2-D CNNs / ResNets on log-mel images.

Every builder takes the input shape of one example (without the batch axis), the number of classes,
``norm`` (training-part statistics from :func:`~ser_utils.models.common.input_stats`) and its own
hyper-parameters, and returns an *uncompiled* ``keras.Model``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from .backend import keras_module
from .common import BN_MOMENTUM, classifier, normalized_input


def _vector_as_signal(shape, norm, name="features"):
    """A normalised vector (d,) reshaped to a one-channel signal (d, 1) for Conv1D."""
    keras = keras_module()
    inp, x = normalized_input(shape, norm, mode="feature", name=name)
    return inp, keras.layers.Reshape((int(shape[0]), 1), name=f"{name}_as_signal")(x)


def cnn1(
    input_shape: Sequence[int], n_classes: int, *, norm=None, filters: int = 128, kernel: int = 5, dropout: float = 0.2
):
    """CNN-1 (CRNN study): one Conv1D (128 filters, kernel 5, ReLU) → dropout 0.2 → flatten → softmax."""
    L = keras_module().layers
    inp, x = _vector_as_signal(input_shape, norm)
    x = L.Conv1D(filters, kernel, padding="same", activation="relu", name="conv")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    x = L.Flatten(name="flatten")(x)
    return keras_module().Model(inp, classifier(x, n_classes), name="cnn1")


def cnn4(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    filters: Sequence[int] = (256, 256, 128, 64),
    kernel: int = 5,
    pool: int = 5,
    dense: int = 32,
    dropout: Sequence[float] = (0.2, 0.3),
):
    """CNN-4 (CRNN study, the widely copied Kaggle network): four Conv1D + max-pooling blocks (pool 5,
    stride 2), dropout 0.2 before the last block, then dense 32 (ReLU) → dropout 0.3 → softmax."""
    keras = keras_module()
    L = keras.layers
    inp, x = _vector_as_signal(input_shape, norm)
    for i, f in enumerate(filters):
        if i == len(filters) - 1:
            x = L.Dropout(dropout[0], name="dropout_conv")(x)
        x = L.Conv1D(f, kernel, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = L.MaxPooling1D(pool, strides=2, padding="same", name=f"pool{i + 1}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(dense, activation="relu", name="dense")(x)
    x = L.Dropout(dropout[1], name="dropout_dense")(x)
    return keras.Model(inp, classifier(x, n_classes), name="cnn4")


def conv1d5(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    filters: Sequence[int] = (16, 32, 64, 128, 256),
    kernels: Sequence[int] = (11, 9, 7, 5, 3),
    dense: Sequence[int] = (128, 64),
    dropout: float = 0.3,
):
    """The EMOVO study's network for 2 s windows (160 values): five Conv1D (filters growing, kernels
    shrinking) each followed by max-pooling 2, flatten, two dense layers each followed by dropout, softmax."""
    keras = keras_module()
    L = keras.layers
    inp, x = _vector_as_signal(input_shape, norm)
    for i, (f, k) in enumerate(zip(filters, kernels)):
        x = L.Conv1D(f, k, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = L.MaxPooling1D(2, padding="same", name=f"pool{i + 1}")(x)
    x = L.Flatten(name="flatten")(x)
    for i, units in enumerate(dense):
        x = L.Dense(units, activation="relu", name=f"dense{i + 1}")(x)
        x = L.Dropout(dropout, name=f"dropout{i + 1}")(x)
    return keras.Model(inp, classifier(x, n_classes), name="conv1d5")


def _image_input(input_shape, norm, name="logmel"):
    """A log-mel image (bands, frames), normalised per band, with a channel axis for Conv2D."""
    L = keras_module().layers
    inp, x = normalized_input(input_shape, norm, mode="band", name=name)
    return inp, L.Reshape((int(input_shape[0]), int(input_shape[1]), 1), name=f"{name}_as_image")(x)


def cnn2d(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    filters: Sequence[int] = (16, 32, 64, 128),
    kernel: int = 3,
    dropout: float = 0.3,
):
    """A plain 2-D CNN on the log-mel image: blocks of Conv2D → batch norm → ReLU → max-pool 2, then global
    average pooling (any image size), dropout and softmax."""
    keras = keras_module()
    L = keras.layers
    inp, x = _image_input(input_shape, norm)
    for i, f in enumerate(filters):
        x = L.Conv2D(f, kernel, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{i + 1}")(x)
        x = L.Activation("relu", name=f"relu{i + 1}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, classifier(x, n_classes), name="cnn2d")


class WeightsUnavailableError(RuntimeError):
    """Pre-trained weights were asked for but are neither on disk nor downloadable."""


#: Keras' own file name for the ImageNet ResNet-50 weights without the classification top.
RESNET50_NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
RESNET50_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + RESNET50_NOTOP


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def _online(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve_imagenet_weights(weights: str) -> str:
    """A usable ``weights=`` value for ``keras.applications.ResNet50``: a local file, the cached
    ImageNet file, or "imagenet" when it can be downloaded; otherwise a clear :class:`WeightsUnavailableError`."""
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"pre-trained weights file not found: {path}")
        return str(path)
    cached = keras_cache_dir() / RESNET50_NOTOP
    if cached.is_file():
        return str(cached)
    if _online():
        return "imagenet"
    raise WeightsUnavailableError(
        "ImageNet weights for ResNet-50 are not in Keras' cache and this machine is offline.\n"
        f"  Download {RESNET50_URL}\n  and put it at {cached}\n"
        "  (or pass weights='/path/to/file.h5'), or use weights=None to train from scratch."
    )


def _basic_block(x, filters: int, stride: int, name: str):
    """ResNet basic block: two 3×3 convolutions with batch norm, identity (or 1×1 projection) shortcut."""
    L = keras_module().layers
    shortcut = x
    y = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn1")(y)
    y = L.Activation("relu", name=f"{name}_relu1")(y)
    y = L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = L.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    y = L.Add(name=f"{name}_add")([y, shortcut])
    return L.Activation("relu", name=f"{name}_out")(y)


def resnet(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    norm=None,
    blocks: Sequence[int] = (3, 4, 6, 3),
    width: int = 64,
    dropout: float = 0.2,
    weights: str | None = None,
    freeze_backbone: bool = False,
):
    """ResNet-34-style network on log-mel images, from scratch: 7×7 stem, stages of basic blocks
    ``blocks`` = (3, 4, 6, 3) with widths ``width`` × (1, 2, 4, 8), global pooling, dropout, softmax.

    ``width=64`` is the original ResNet-34 (21 M parameters); ``width=16`` keeps the depth at 1/16 of the
    cost, what a CPU study can afford. ``weights="imagenet"`` (or a path to Keras' ResNet-50 "notop"
    weights file) builds an ImageNet-initialised ResNet-50 instead (Keras ships no ResNet-34): the
    image is repeated over 3 channels; offline without the file this raises :class:`WeightsUnavailableError`
    with what to download and where. ``freeze_backbone`` trains only the head (transfer learning).
    """
    keras = keras_module()
    L = keras.layers
    inp, x = _image_input(input_shape, norm)
    if weights is not None:
        source = resolve_imagenet_weights(weights)
        rgb = L.Concatenate(name="to_rgb")([x, x, x])
        backbone = keras.applications.ResNet50(
            include_top=False, weights=source, input_shape=(*map(int, input_shape), 3)
        )
        backbone.trainable = not freeze_backbone
        x = L.GlobalAveragePooling2D(name="gap")(backbone(rgb))
        x = L.Dropout(dropout, name="dropout")(x)
        return keras.Model(inp, classifier(x, n_classes), name="resnet50_imagenet")
    x = L.Conv2D(width, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, n in enumerate(blocks):
        for b in range(n):
            stride = 2 if (b == 0 and stage > 0) else 1
            x = _basic_block(x, width * 2**stage, stride, name=f"s{stage + 1}b{b + 1}")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    depth = 2 + 2 * sum(blocks)
    return keras.Model(inp, classifier(x, n_classes), name=f"resnet{depth}")


__all__ = [
    "WeightsUnavailableError",
    "cnn1",
    "cnn2d",
    "cnn4",
    "conv1d5",
    "keras_cache_dir",
    "resnet",
    "resolve_imagenet_weights",
]
