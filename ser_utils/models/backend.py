"""Lazy, quiet access to Keras/TensorFlow: nothing here imports TensorFlow until a function is called.

Importing :mod:`ser_utils` (or the model registry) must stay cheap, so builders and the training
code call :func:`keras_module` when they need Keras. :func:`device_info` says what TensorFlow will
train on; :func:`configure_device` turns on mixed precision on a GPU (float32 on the CPU);
:func:`distribution` is the data-parallel strategy for more than one GPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

_CONFIGURED: dict[str, Any] = {}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence TensorFlow's C++ start-up banner (oneDNN, CPU features), which bypasses Python logging.

    The banner is written to file descriptor 2 itself (which Jupyter kernels forward into the
    notebook), so that descriptor is pointed at /dev/null while TensorFlow loads, then restored.
    """
    fd = 2
    try:
        saved = os.dup(fd)
    except OSError:  # no stderr descriptor at all
        yield
        return
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def keras_module(quiet: bool = True):
    """``import keras`` (TensorFlow backend), with TensorFlow's start-up messages hidden.

    The training code needs TensorFlow; the model builders alone run on any Keras backend
    (``KERAS_BACKEND=jax``, as ``benchmarks/epochs.py`` does on a machine without TensorFlow).
    """
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules and (backend != "tensorflow" or "tensorflow" in sys.modules):
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_stderr() if quiet else contextlib.nullcontext():
        import keras

        if backend == "tensorflow":
            import tensorflow as tf  # imported here so that its banner is silenced too

            tf.constant(0.0) + 1.0  # the CPU-feature notice is printed on the first op
    return keras


def set_seed(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)``, with the seeds Keras draws for new layers taken from a generator
    of its own. Keras draws them from Python's global ``random``, which other threads of the process also
    use: on a Dask worker (its event loop draws from it too) the same fold gave other numbers one run in
    three until then."""
    import random

    keras = keras_module()
    keras.utils.set_random_seed(seed)
    try:
        from keras.src.random import seed_generator
    except ImportError:  # another Keras layout: its own draws then
        return
    if hasattr(seed_generator, "python_random"):
        seed_generator.python_random = random.Random(seed)


def tensorflow_module():
    """``import tensorflow`` (quietly, see :func:`keras_module`)."""
    keras_module()
    import tensorflow as tf

    return tf


def gpus() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine or with tensorflow-cpu)."""
    tf = tensorflow_module()
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def configure_device(
    mixed_precision: bool | str = "auto", deterministic: bool = True, devices: Sequence[str] = ()
) -> dict[str, Any]:
    """Pick the device, precision and strategy (:func:`distribution` over ``devices``) for training; returns
    :func:`device_info`.

    On a GPU (when TensorFlow sees one): memory growth on, and mixed precision (float16 compute,
    float32 weights; every builder keeps its softmax in float32) when ``mixed_precision`` is "auto"
    or True. On the CPU: float32. ``deterministic`` turns on TensorFlow's deterministic ops (same
    seed, same numbers; on two CPU cores this costs little, see the notebooks' epoch times).
    """
    keras = keras_module()
    tf = tensorflow_module()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and "memory_growth" not in _CONFIGURED:
        for device in gpus:
            with contextlib.suppress(RuntimeError):  # already initialised: keep what it has
                tf.config.experimental.set_memory_growth(device, True)
        _CONFIGURED["memory_growth"] = True
    use_mixed = bool(gpus) and mixed_precision in ("auto", True)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    if deterministic and not _CONFIGURED.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
        _CONFIGURED["deterministic"] = True
    distribution(devices)
    return device_info()


def distribution(devices: Sequence[str] = ()) -> Any | None:
    """The strategy networks train under: data parallel (``tf.distribute.MirroredStrategy``) over ``devices``
    when given, else over every GPU when TensorFlow sees more than one; ``None`` on one device.

    Each batch is split between the replicas and their gradients summed, so a batch of 32 on two GPUs is
    16 per GPU: the same training, faster (up to the order of floating-point sums).
    """
    tf = tensorflow_module()
    names = tuple(devices)
    if not names and len(tf.config.list_physical_devices("GPU")) > 1:  # (counting them starts no runtime)
        names = tuple(d.name for d in tf.config.list_logical_devices("GPU"))
    if len(names) < 2:
        _CONFIGURED["replicas"] = 1
        return None
    key = ("strategy", names)
    if key not in _CONFIGURED:
        _CONFIGURED[key] = tf.distribute.MirroredStrategy(devices=list(names))
    _CONFIGURED["replicas"] = _CONFIGURED[key].num_replicas_in_sync
    return _CONFIGURED[key]


def device_info() -> dict[str, Any]:
    """What training runs on: device (GPU name or CPU with its cores), precision policy, versions."""
    keras = keras_module()
    tf = tensorflow_module()
    devices = tf.config.list_physical_devices("GPU")
    if devices:
        details = tf.config.experimental.get_device_details(devices[0])
        device = f"GPU: {details.get('device_name', devices[0].name)}" + (
            f" (×{len(devices)})" if len(devices) > 1 else ""
        )
    else:
        device = f"CPU ({os.cpu_count()} cores)"
    replicas = int(_CONFIGURED.get("replicas", 1))
    if replicas > 1:
        device += f", data parallel on {replicas} devices"
    return {
        "device": device,
        "replicas": replicas,
        "precision": keras.mixed_precision.global_policy().name,
        "deterministic": bool(_CONFIGURED.get("deterministic")),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
