"""One fit of one network: build (or continue), compile, train with early stopping, keep the best epoch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..models import get_model, input_stats, keras_module
from .batches import batch_class
from .config import TrainConfig


@dataclass
class FitResult:
    """A trained network with its history (one row per epoch) and where it stopped."""

    model: Any
    history: pd.DataFrame
    best_epoch: int
    seconds: float


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (scikit-learn's "balanced"), 0 for a class absent from ``y``."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


def predict_proba(model: Any, X: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Class probabilities for rows of ``X`` (a list, one array per model input), in batches.

    The model is called directly (inference mode), not through ``model.predict``: no tf.function is
    traced per model and fold, and training, evaluation and :mod:`ser_utils.predict` share this path.
    """
    keras = keras_module()
    X = [np.asarray(x, dtype=np.float32) for x in X]
    out = []
    for start in range(0, len(X[0]), batch_size):
        batch = [x[start:start + batch_size] for x in X]
        out.append(keras.ops.convert_to_numpy(model(batch[0] if len(batch) == 1 else batch, training=False)).astype(np.float64))
    return np.concatenate(out) if out else np.zeros((0, int(model.output_shape[-1])))


def _callbacks(config: TrainConfig, monitor: str, timer_list: list[float]):
    keras = keras_module()

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            timer_list.append(time.perf_counter() - self.start)

    callbacks = [EpochTimer()]
    if config.patience and config.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience,
                                                       restore_best_weights=True))
    if config.reduce_lr_patience and config.reduce_lr_patience > 0:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=config.reduce_lr_factor,
                                                           patience=config.reduce_lr_patience, min_lr=config.min_lr))
    return callbacks


def build_network(model_name: str, X_train: Sequence[np.ndarray], n_classes: int,
                  params: Mapping[str, Any] | None = None) -> Any:
    """The named network for these inputs, its input normalisation fitted on ``X_train`` only."""
    spec = get_model(model_name)
    norm = [input_stats(x, mode) for x, mode in zip(X_train, spec.norm)]
    return spec.build([np.shape(x)[1:] for x in X_train], n_classes, norm=norm, **dict(params or {}))


def fit_network(model_name: str, X_train: Sequence[np.ndarray], y_train: np.ndarray, n_classes: int, *,
                X_val: Sequence[np.ndarray] | None = None, y_val: np.ndarray | None = None,
                kinds: Sequence[str] | None = None, params: Mapping[str, Any] | None = None,
                config: TrainConfig | None = None, seed: int | None = None, model: Any = None,
                epochs: int | None = None, learning_rate: float | None = None) -> FitResult:
    """Build (or continue, when ``model`` is given) and train one network; integer labels ``y``.

    Normalisation statistics come from ``X_train`` only. Validation data (if any) drives early
    stopping and the learning-rate schedule; the best epoch's weights are kept.
    """
    keras = keras_module()
    config = config or TrainConfig()
    kinds = list(kinds or get_model(model_name).input_kinds)
    seed = config.seed if seed is None else int(seed)
    X_train = [np.asarray(x, dtype=np.float32) for x in X_train]
    y_train = np.asarray(y_train, dtype=int)
    keras.utils.set_random_seed(seed)
    if model is None:
        model = build_network(model_name, X_train, n_classes, params)
    optimizer = keras.optimizers.Adam(learning_rate or config.learning_rate,
                                      weight_decay=config.weight_decay if config.weight_decay > 0 else None)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=float(config.label_smoothing))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    Y = np.eye(n_classes, dtype=np.float32)[y_train]
    weights = class_weights(y_train, n_classes)[y_train].astype(np.float32) if config.class_weight else None
    has_val = X_val is not None and len(X_val[0]) > 0
    validation = None
    if has_val:
        Y_val = np.eye(n_classes, dtype=np.float32)[np.asarray(y_val, dtype=int)]
        X_val = [np.asarray(x, dtype=np.float32) for x in X_val]
        validation = (X_val[0] if len(X_val) == 1 else X_val, Y_val)
    monitor = "val_loss" if has_val else "loss"
    times: list[float] = []
    common = dict(validation_data=validation, epochs=int(epochs or config.epochs), verbose=config.verbose,
                  callbacks=_callbacks(config, monitor, times))
    spec_inputs = [i for i, k in enumerate(kinds) if k in ("image", "sequence")] if config.spec_augment else []
    start = time.perf_counter()
    if config.mixup_alpha > 0 or spec_inputs:  # batches that change every pass
        batches = batch_class()(X_train, Y, weights, batch_size=config.batch_size, seed=seed,
                                mixup_alpha=config.mixup_alpha, spec_augment_inputs=spec_inputs, kinds=kinds)
        fitted = model.fit(batches, **common)
    else:  # arrays: Keras shuffles and batches them in its own input pipeline
        fitted = model.fit(X_train[0] if len(X_train) == 1 else X_train, Y, sample_weight=weights,
                           batch_size=config.batch_size, shuffle=True, **common)
    seconds = time.perf_counter() - start
    history = pd.DataFrame(fitted.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["seconds"] = times[:len(history)]
    best = int(history[monitor].to_numpy().argmin()) + 1 if config.patience else len(history)
    return FitResult(model, history, best, seconds)


def steady_epoch_seconds(history: pd.DataFrame) -> np.ndarray:
    """Seconds of the epochs of a history that do not trace a graph: the first epoch of each fit (each
    ``stage``: selection, refit, large images) is left out when the fit has more than one."""
    stages = history["stage"].fillna("select") if "stage" in history else pd.Series("select", index=history.index)
    parts = [g["seconds"].to_numpy() for _, g in history.groupby(stages.to_numpy(), sort=False)]
    return np.concatenate([p[1:] if len(p) > 1 else p for p in parts]) if parts else np.array([])


def copy_weights(source: Any, target: Any, *, skip: Sequence[str] = ()) -> list[str]:
    """Copy every layer's weights from ``source`` to the layer of the same name in ``target`` (two builds of
    one network, e.g. for other image sizes or another number of classes); names copied, ``skip`` left alone."""
    copied = []
    for layer in target.layers:
        if layer.weights and layer.name not in skip:
            layer.set_weights(source.get_layer(layer.name).get_weights())
            copied.append(layer.name)
    return copied


def average_models(models: Sequence[Any]) -> Any:
    """One Keras model whose output is the mean of ``models``' probabilities (an ensemble, saved as one file)."""
    keras = keras_module()
    for j, member in enumerate(models, 1):
        member.name = f"{member.name}_member{j}"
    inputs = [keras.Input(shape=tuple(t.shape[1:]), name=t.name.split(":")[0]) for t in models[0].inputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    output = keras.layers.Average(name="ensemble", dtype="float32")([member(x) for member in models])
    return keras.Model(x, output, name=f"ensemble_of_{len(models)}")


def architecture_table(model: Any) -> pd.DataFrame:
    """A model's layers as a table (name, type, output shape, parameters)."""
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
            shape = tuple(shape) if not isinstance(shape, list) else shape
        except (AttributeError, ValueError):
            shape = ""
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output shape": str(shape).replace("None", "batch"), "parameters": int(layer.count_params())})
    table = pd.DataFrame(rows).set_index("layer")
    table.attrs["total"] = int(model.count_params())
    return table
