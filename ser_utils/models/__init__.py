"""Keras networks of the reference studies, by name, built lazily (importing this imports no TensorFlow).

    from ser_utils.models import MODELS, build_model, describe_models
    model = build_model("cnn1", [(162,)], n_classes=7)        # uncompiled keras.Model

Names: ``cnn1``, ``cnn4``, ``crnn`` (variants by parameter, :data:`CRNN_VARIATIONS`), ``conv1d5``,
``lstm``, ``bilstm``, ``cnn2d``, ``resnet``, ``fusion`` and the recipes ``statpool`` (log-mel frames; ``statpool_lld``: eGeMAPS
descriptor frames) and ``dense_compare`` (dense layers over the ComParE functionals; see :func:`describe_models`). Training is
in :mod:`ser_utils.training`, the scikit-learn estimators in :mod:`ser_utils.estimators`, prediction in
:mod:`ser_utils.predict`.
"""

from .backend import configure_device, device_info, distribution, keras_module, set_seed, tensorflow_module
from .cnn import WeightsUnavailableError, keras_cache_dir, resolve_imagenet_weights
from .common import input_stats
from .fusion import HEADS as FUSION_HEADS
from .recurrent import CRNN_VARIATIONS
from .registry import ACCEPTS, MODELS, ModelSpec, build_model, describe_models, get_model

__all__ = [
    "ACCEPTS",
    "CRNN_VARIATIONS",
    "FUSION_HEADS",
    "MODELS",
    "ModelSpec",
    "WeightsUnavailableError",
    "build_model",
    "configure_device",
    "describe_models",
    "device_info",
    "distribution",
    "set_seed",
    "get_model",
    "input_stats",
    "keras_cache_dir",
    "keras_module",
    "resolve_imagenet_weights",
    "tensorflow_module",
]
