"""One fit of one network: build (or continue), compile, train with early stopping, keep the best epoch."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..models import distribution, get_model, input_stats, keras_module, set_seed
from ..normalize import NORM_AXES
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
        batch = [x[start : start + batch_size] for x in X]
        out.append(
            keras.ops.convert_to_numpy(model(batch[0] if len(batch) == 1 else batch, training=False)).astype(np.float64)
        )
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
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience, restore_best_weights=True)
        )
    if config.reduce_lr_patience and config.reduce_lr_patience > 0:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=config.reduce_lr_factor,
                patience=config.reduce_lr_patience,
                min_lr=config.min_lr,
            )
        )
    return callbacks


def build_network(
    model_name: str, X_train: Sequence[np.ndarray], n_classes: int, params: Mapping[str, Any] | None = None
) -> Any:
    """The named network for these inputs, its input normalisation fitted on ``X_train`` only."""
    spec = get_model(model_name)
    norm = [input_stats(x, mode) for x, mode in zip(X_train, spec.norm)]
    return spec.build([np.shape(x)[1:] for x in X_train], n_classes, norm=norm, **dict(params or {}))


def standardize(X: np.ndarray, stats: tuple[np.ndarray, np.ndarray], mode: str) -> np.ndarray:
    """What a network's input normalisation layer computes, in numpy: ``(X - mean) / max(sqrt(var), 1e-7)``."""
    mean, var = (np.asarray(s, np.float64) for s in stats)
    axis = NORM_AXES[mode]
    shape = [1] * X.ndim
    if axis is not None:
        shape[axis % X.ndim] = -1
    mean, var = mean.reshape(shape) if mean.ndim else mean, var.reshape(shape) if var.ndim else var
    return ((X - mean) / np.maximum(np.sqrt(var), 1e-7)).astype(np.float32)


#: Compiled networks kept for reuse, keyed by what their traced training step depends on (most recent last).
_TRAINERS: OrderedDict[str, Any] = OrderedDict()
_MAX_TRAINERS = 4


def _trainer(key: list[Any], build: Any, config: TrainConfig, learning_rate: float) -> Any:
    """A compiled network reused by every fit with the same ``key`` (network, shapes, optimiser settings):
    Keras traces its training step once, not once per fold. ``build()`` makes it the first time.

    Each fit overwrites all of its state (weights, dropout seeds, optimiser slots, learning rate), so a
    fit through it gives what a freshly built and compiled network would.
    """
    keras = keras_module()
    key = json.dumps(
        [
            threading.get_ident(),  # Keras keeps its global state per thread; two threads never share a trainer
            *key,
            learning_rate,
            config.weight_decay,
            config.label_smoothing,
            keras.mixed_precision.global_policy().name,
            list(config.devices),
        ],
        sort_keys=True,
        default=str,
    )
    if key in _TRAINERS:
        _TRAINERS.move_to_end(key)
        return _TRAINERS[key]
    trainer = build()
    _compile(trainer, config, learning_rate)
    _TRAINERS[key] = trainer
    while len(_TRAINERS) > _MAX_TRAINERS:
        _TRAINERS.popitem(last=False)
    return trainer


def _compile(model: Any, config: TrainConfig, learning_rate: float) -> None:
    keras = keras_module()
    optimizer = keras.optimizers.Adam(
        learning_rate, weight_decay=config.weight_decay if config.weight_decay > 0 else None
    )
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=float(config.label_smoothing))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def _load_state(trainer: Any, network: Any, learning_rate: float) -> None:
    """Give ``trainer`` the ``network``'s weights and random-generator states, and a fresh optimiser.

    Values are copied, not shared: on JAX a training step donates (frees) its variables' buffers, which
    would delete ``network``'s own."""
    for target, source in zip(trainer.variables, network.variables, strict=True):
        target.assign(np.array(source))
    if trainer.optimizer.built:
        for variable in trainer.optimizer.variables:
            variable.assign(
                learning_rate if "learning_rate" in variable.path else np.zeros(variable.shape, variable.dtype)
            )


def _under_strategy(fit: Any) -> Any:
    """Run ``fit`` in the scope of the configuration's data-parallel strategy (several devices), if any:
    networks built and compiled there train on every device (:func:`~ser_utils.models.backend.distribution`)."""

    @functools.wraps(fit)
    def wrapper(*args: Any, config: TrainConfig | None = None, **kwargs: Any) -> Any:
        strategy = distribution((config or TrainConfig()).devices)
        given = kwargs.get("model")
        if given is not None and getattr(given, "distribute_strategy", None) is not strategy:
            strategy = None  # a network built outside the strategy (fine-tuning one loaded as is) trains as it is
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            return fit(*args, config=config, **kwargs)

    return wrapper


@_under_strategy
def fit_network(
    model_name: str,
    X_train: Sequence[np.ndarray],
    y_train: np.ndarray,
    n_classes: int,
    *,
    X_val: Sequence[np.ndarray] | None = None,
    y_val: np.ndarray | None = None,
    kinds: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    config: TrainConfig | None = None,
    seed: int | None = None,
    model: Any = None,
    epochs: int | None = None,
    learning_rate: float | None = None,
    reuse: Any = None,
) -> FitResult:
    """Build (or continue, when ``model`` is given) and train one network; integer labels ``y``.

    Normalisation statistics come from ``X_train`` only. Validation data (if any) drives early
    stopping and the learning-rate schedule; the best epoch's weights are kept. A fresh network is
    trained through a compiled copy reused across fits (:func:`_trainer`); so is a given ``model``
    when ``reuse`` names what makes its fits alike (e.g. the pre-trained file and the stage of
    fine-tuning), otherwise it is compiled anew.
    """
    keras = keras_module()
    config = config or TrainConfig()
    kinds = list(kinds or get_model(model_name).input_kinds)
    seed = config.seed if seed is None else int(seed)
    X_train = [np.asarray(x, dtype=np.float32) for x in X_train]
    y_train = np.asarray(y_train, dtype=int)
    learning_rate = float(learning_rate or config.learning_rate)
    reusable = keras.mixed_precision.global_policy().name == "float32"  # (a loss-scale optimiser is not reset here)
    network = model
    # A trainer built in this fit must not depend on what the process did before (which folds a worker ran):
    # built after a stray draw, a reused trainer gave other numbers on a Dask worker than a fresh one.
    set_seed(seed)
    if model is None:  # a fresh network: its compiled copy has identity input normalisation, fed standardised inputs
        spec = get_model(model_name)
        shapes = [x.shape[1:] for x in X_train]
        trainer = (
            _trainer(
                [model_name, dict(params or {}), shapes, n_classes],
                lambda: spec.build(shapes, n_classes, **dict(params or {})),
                config,
                learning_rate,
            )
            if reusable
            else None
        )
        set_seed(seed)
        network = build_network(model_name, X_train, n_classes, params)
        if trainer is not None:
            stats = [input_stats(x, mode) for x, mode in zip(X_train, spec.norm)]
            X_train = [standardize(x, st, mode) for x, st, mode in zip(X_train, stats, spec.norm)]
            if X_val is not None:
                X_val = [
                    standardize(np.asarray(x, np.float32), st, mode) for x, st, mode in zip(X_val, stats, spec.norm)
                ]
    else:
        trainer = (
            _trainer([reuse], lambda: keras.models.clone_model(model), config, learning_rate)
            if reuse is not None and reusable
            else None
        )
    if trainer is None:
        trainer = network
        _compile(network, config, learning_rate)
    else:
        _load_state(trainer, network, learning_rate)
    set_seed(seed)
    Y = np.eye(n_classes, dtype=np.float32)[y_train]
    weights = (
        class_weights(y_train, n_classes)[y_train].astype(np.float32)
        if config.class_weight and not config.balanced_batches  # balanced draws already even the classes out
        else None
    )
    has_val = X_val is not None and len(X_val[0]) > 0
    validation = None
    if has_val:
        Y_val = np.eye(n_classes, dtype=np.float32)[np.asarray(y_val, dtype=int)]
        X_val = [np.asarray(x, dtype=np.float32) for x in X_val]
        validation = (X_val[0] if len(X_val) == 1 else X_val, Y_val)
    monitor = "val_loss" if has_val else "loss"
    times: list[float] = []
    common = dict(
        validation_data=validation,
        epochs=int(epochs or config.epochs),
        verbose=config.verbose,
        callbacks=_callbacks(config, monitor, times),
    )
    spec_inputs = [i for i, k in enumerate(kinds) if k in ("image", "sequence")] if config.spec_augment else []
    start = time.perf_counter()
    if config.mixup_alpha > 0 or spec_inputs or config.balanced_batches:  # batches that change every pass
        batches = batch_class()(
            X_train,
            Y,
            weights,
            batch_size=config.batch_size,
            seed=seed,
            mixup_alpha=config.mixup_alpha,
            spec_augment_inputs=spec_inputs,
            kinds=kinds,
            balanced=config.balanced_batches,
        )
        fitted = trainer.fit(batches, **common)
    else:  # arrays: Keras shuffles and batches them in its own input pipeline
        fitted = trainer.fit(
            X_train[0] if len(X_train) == 1 else X_train,
            Y,
            sample_weight=weights,
            batch_size=config.batch_size,
            shuffle=True,
            **common,
        )
    if trainer is not network:
        network.set_weights(trainer.get_weights())
    seconds = time.perf_counter() - start
    history = pd.DataFrame(fitted.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["seconds"] = times[: len(history)]
    best = int(history[monitor].to_numpy().argmin()) + 1 if config.patience else len(history)
    return FitResult(network, history, best, seconds)


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
    inputs = [keras.Input(shape=tuple(t.shape[1:]), name=t.name.split(":")[0]) for t in models[0].inputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    # each member wrapped under its own name (members of one network share theirs), the members left as they are
    members = [keras.Model(member.input, member.output, name=f"member{j}") for j, member in enumerate(models, 1)]
    output = keras.layers.Average(name="ensemble", dtype="float32")([member(x) for member in members])
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
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": str(shape).replace("None", "batch"),
                "parameters": int(layer.count_params()),
            }
        )
    table = pd.DataFrame(rows).set_index("layer")
    table.attrs["total"] = int(model.count_params())
    return table
