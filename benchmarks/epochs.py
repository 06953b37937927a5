#!/usr/bin/env python
"""Seconds per training epoch of every network, at the study's input shapes and batch size, on this machine.

    python benchmarks/epochs.py                        # every network, Keras on TensorFlow (the study's backend)
    python benchmarks/epochs.py --models cnn2d,bilstm --rows 2000 --precision mixed_float16
    KERAS_BACKEND=jax python benchmarks/epochs.py      # the same builders on another Keras backend

The networks come from the model registry (:func:`ser_utils.models.build_model`); the inputs are random
arrays of the shapes the default feature sets have on the synthetic corpus (see ``SHAPES``), as many rows
as a LOSO training part of 588 clips. The first epoch (tracing, compilation) is timed apart from the
next ones. Needs no audio library and no data, so it runs wherever Keras does (a GPU machine included).
The last line is ``median_s_per_epoch=...``. A target, not a test: the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ser_utils.models import MODELS, build_model, keras_module  # noqa: E402

#: Input shape per default feature set (one clip; window160: one 2 s window), as on the synthetic corpus.
SHAPES = {
    "kaggle162": (162,),
    "window160": (160,),
    "stats": (145,),
    "mfcc_seq": (300, 40),
    "logmel": (128, 128),
    "egemaps_lld": (300, 25),
}
#: Rows per clip of a set (window160 cuts clips into windows, about 1.7 per clip).
ROWS_PER_CLIP = {"window160": 1.7}
DEFAULT_MODELS = (
    "cnn1",
    "cnn4",
    "conv1d5",
    "crnn",
    "fusion",
    "lstm",
    "bilstm",
    "cnn2d",
    "resnet",
    "statpool",
    "statpool_lld",
)


def time_epochs(
    name: str, clips: int, n_classes: int, batch_size: int, epochs: int, seed: int, **compile_options
) -> dict:
    """Train network ``name`` on random inputs: seconds of the first epoch and of each later one."""
    keras = keras_module()
    spec = MODELS[name]
    rng = np.random.default_rng(seed)
    rows = int(clips * max(ROWS_PER_CLIP.get(s, 1.0) for s in spec.inputs))
    X = [rng.standard_normal((rows, *SHAPES[s])).astype("float32") for s in spec.inputs]
    y = keras.utils.to_categorical(rng.integers(0, n_classes, rows), n_classes)
    model = build_model(name, [SHAPES[s] for s in spec.inputs], n_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"], **compile_options
    )
    seconds = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.fit(X if len(X) > 1 else X[0], y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
        seconds.append(time.perf_counter() - start)
    later = seconds[1:]
    return {
        "model": name,
        "rows": rows,
        "params": model.count_params(),
        "first_s": seconds[0],
        "s_per_epoch": statistics.median(later),
    }


def device_name() -> str:
    """What Keras trains on, in words."""
    keras = keras_module()
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return ", ".join(sorted({d.device_kind for d in jax.devices()}))
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated network names")
    parser.add_argument("--clips", type=int, default=490, help="training clips (588 clips, one speaker out)")
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=32, help="the study's default (TrainConfig)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the first")
    parser.add_argument("--precision", default="float32", help="Keras dtype policy, e.g. mixed_float16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown network(s) {unknown}; valid: {', '.join(MODELS)}")
    keras = keras_module()
    keras.mixed_precision.set_global_policy(args.precision)
    keras.utils.set_random_seed(args.seed)
    print(
        f"Keras {keras.__version__} on {keras.backend.backend()}, {device_name()}, {args.precision}, "
        f"batch {args.batch_size}, {args.clips} clips"
    )
    print(f"{'network':<10}{'rows':>7}{'parameters':>12}{'first epoch s':>15}{'s/epoch':>10}")
    rows = []
    for name in names:
        row = time_epochs(name, args.clips, args.classes, args.batch_size, args.epochs, args.seed)
        rows.append(row)
        print(
            f"{name:<10}{row['rows']:>7}{row['params']:>12,}{row['first_s']:>15.2f}{row['s_per_epoch']:>10.3f}",
            flush=True,
        )
    print(f"median_s_per_epoch={statistics.median(r['s_per_epoch'] for r in rows):.3f} networks={len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
