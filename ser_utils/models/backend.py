"""Lazy, quiet access to Keras: nothing here imports a deep-learning framework until a function is called.

Importing :mod:`ser_utils` (or the model registry) must stay cheap, so builders and the training
code call :func:`keras_module` when they need Keras. Keras 3 runs on TensorFlow by default, on JAX with
``KERAS_BACKEND=jax`` (the quick study ran in full on JAX on a CPU, the full one through notebook 07 on a
GPU; data-parallel training over several GPUs stays TensorFlow's). Other backends are untested. :func:`device_info` says what networks will train on;
:func:`configure_device` turns on mixed precision on a GPU (float32 on the CPU); :func:`distribution`
is the data-parallel strategy for more than one GPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

_CONFIGURED: dict[str, Any] = {}
#: How reports name Keras's backends.
_BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


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


def backend_name() -> str:
    """The Keras backend networks run on: ``$KERAS_BACKEND``, "tensorflow" when unset."""
    return os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def keras_module(quiet: bool = True):
    """``import keras`` on :func:`backend_name`'s backend, with TensorFlow's start-up messages hidden.

    On JAX, each process takes GPU memory as it needs it (``XLA_PYTHON_CLIENT_PREALLOCATE=false``), not
    three quarters of the card at once: the fold workers share one GPU. XLA's autotuning is off unless
    ``XLA_FLAGS`` says otherwise: with 16 fold workers on one H200 it failed ("Failed to get configs").
    """
    backend = backend_name()
    if "keras" in sys.modules and (backend != "tensorflow" or "tensorflow" in sys.modules):
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Fold workers share a GPU: each takes memory as it needs it. (TensorFlow's GPUs are initialised below, by its
    # first op, so set_memory_growth in configure_device comes too late; this setting does not.)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    if backend == "jax":
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_autotune_level" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_autotune_level=0".strip()
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
    """Names of the GPUs the backend sees (empty on a CPU-only machine or with tensorflow-cpu)."""
    backend = backend_name()
    keras_module()
    if backend == "tensorflow":
        return [d.name for d in tensorflow_module().config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _backend_version(backend: str) -> str:
    """The backend's ``__version__`` (tensorflow-cpu and other builds of one package report theirs too)."""
    module = sys.modules.get(backend)
    return str(getattr(module, "__version__", "?"))


def configure_device(
    mixed_precision: bool | str = "auto", deterministic: bool = True, devices: Sequence[str] = ()
) -> dict[str, Any]:
    """Pick the device, precision and strategy (:func:`distribution` over ``devices``) for training; returns
    :func:`device_info`.

    On a GPU: mixed precision (float16 compute, float32 weights; every builder keeps its softmax in
    float32) when ``mixed_precision`` is True, or "auto" on TensorFlow (with memory growth on). On other
    backends "auto" means float32: JAX's cuDNN recurrent kernels refused half precision ("Unknown output
    type bfloat16"). On the CPU: float32. ``deterministic`` turns on TensorFlow's
    deterministic ops (same seed, same numbers; on two CPU cores this costs little, see the notebooks'
    epoch times); other backends are left as they are.
    """
    keras = keras_module()
    found = gpus()
    tensorflow = backend_name() == "tensorflow"
    if tensorflow and found and "memory_growth" not in _CONFIGURED:
        tf = tensorflow_module()
        for device in tf.config.list_physical_devices("GPU"):
            with contextlib.suppress(RuntimeError):  # already initialised: keep what it has
                tf.config.experimental.set_memory_growth(device, True)
        _CONFIGURED["memory_growth"] = True
    auto = isinstance(mixed_precision, str) and mixed_precision == "auto"
    use_mixed = bool(found) and ((not auto and bool(mixed_precision)) or (tensorflow and auto))
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    if tensorflow and deterministic and not _CONFIGURED.get("deterministic"):
        tensorflow_module().config.experimental.enable_op_determinism()
        _CONFIGURED["deterministic"] = True
    distribution(devices)
    return device_info()


def distribution(devices: Sequence[str] = ()) -> Any | None:
    """The strategy networks train under: data parallel (``tf.distribute.MirroredStrategy``) over ``devices``
    when given, else over every GPU when TensorFlow sees more than one; ``None`` on one device.

    Each batch is split between the replicas and their gradients summed, so a batch of 32 on two GPUs is
    16 per GPU: the same training, faster (up to the order of floating-point sums).
    """
    names = tuple(devices)
    if backend_name() != "tensorflow":
        if len(names) > 1:
            raise ValueError(
                f"training on several devices ({', '.join(names)}) needs Keras's TensorFlow backend, not "
                f"{backend_name()!r}: unset KERAS_BACKEND, or train on one device"
            )
        _CONFIGURED["replicas"] = 1
        return None
    tf = tensorflow_module()
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
    """What training runs on: device (GPU name or CPU with its cores), precision policy, backend and versions."""
    keras = keras_module()
    backend = backend_name()
    found = gpus()
    if found and backend == "tensorflow":  # its physical names are "/physical_device:GPU:0": ask for the model
        tf = tensorflow_module()
        found[0] = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
            "device_name", found[0]
        )
    device = (
        f"GPU: {found[0]}" + (f" (×{len(found)})" if len(found) > 1 else "")
        if found
        else f"CPU ({os.cpu_count()} cores)"
    )
    replicas = int(_CONFIGURED.get("replicas", 1))
    if replicas > 1:
        device += f", data parallel on {replicas} devices"
    version = _backend_version(backend)
    return {
        "device": device,
        "replicas": replicas,
        "precision": keras.mixed_precision.global_policy().name,
        "deterministic": bool(_CONFIGURED.get("deterministic")),
        "backend": f"{_BACKEND_NAMES.get(backend, backend)} {version}",
        "tensorflow": version if backend == "tensorflow" else None,
        "keras": keras.__version__,
    }
