"""Training the Keras networks of :mod:`ser_utils.models` inside the honest evaluation protocols.

    from ser_utils.training import TrainConfig, cross_validate_model, fit_final
    result = cross_validate_model(table, "cnn1", "loso", experiment="CNN-1 · LOSO",
                                  config=TrainConfig(epochs=60, patience=10))
    result.summary(); result.plot_history(); result.plot_confusion(); result.record(report)
    final = fit_final(table, "cnn1", config=TrainConfig(epochs=60)); final.save("models/cnn1.keras")

Inside every fold (:func:`ser_utils.splits.make_folds`): the network is built afresh with a seed
derived from the run's seed and the fold, its input normalisation is computed on the fold's training
rows only, early stopping and the learning-rate schedule watch a validation part carved from the
training part (whole speakers for the speaker protocols), never the test fold; augmented copies
train but are never validated or tested on; windows of a test clip are scored as one clip (mean
probability). Optional: class weights, mixup and SpecAugment (on training batches only). Adam and
categorical cross-entropy, as the reference studies used. A GPU is used when TensorFlow sees one
(mixed precision there), the CPU otherwise; every result says which, with its epoch times.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .evaluation import CVResult
from .features import FeatureTable, get_feature_set
from .metrics import chance_levels, scores
from .models import ACCEPTS, get_model, input_stats
from .models._backend import configure_device, keras_module
from .predict import MODEL_FORMAT
from .splits import make_folds



@dataclass
class TrainConfig:
    """How a network is trained (the same in every fold).

    Adam (``weight_decay`` > 0: decoupled weight decay, i.e. AdamW) on categorical cross-entropy.
    ``epochs`` is a ceiling: training stops after ``patience`` epochs without a better validation loss
    and the best epoch's weights are kept; the learning rate is multiplied by ``reduce_lr_factor``
    after ``reduce_lr_patience`` epochs without progress (0 disables). ``val_fraction``: share of the
    training part (of its speakers, under the speaker protocols) held out for these decisions.
    ``class_weight``: weight rows by inverse class frequency. ``mixup_alpha`` > 0: mixup of training
    batches (inputs and labels, Beta(α, α)). ``spec_augment``: SpecAugment masks on image and
    sequence inputs of training batches. ``speaker_norm``: standardise every input per speaker
    (:func:`speaker_standardize`, unlabeled audio of the same speaker, as
    :func:`ser_utils.evaluation.speaker_normalize` does for the classical models); a model trained
    so needs reference clips of the speaker at prediction time. ``refit``: once early stopping has
    chosen the number of epochs, train a fresh network on the whole training part (validation
    clips included) for that many epochs, and test that one (about twice the cost). ``ensemble``:
    train that many networks per fold (seeds differ) and average their probabilities (cost × n).
    ``deterministic``: TensorFlow's deterministic ops (see :func:`ser_utils.models._backend.configure_device`;
    on two CPU cores they cost 25-100 % per epoch, and seeded runs repeat exactly without them).
    ``mixed_precision``: "auto" = on a GPU only. ``progressive_epochs``: epochs on the larger images
    of progressive resizing.
    """

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    reduce_lr_patience: int = 5
    reduce_lr_factor: float = 0.5
    min_lr: float = 1e-6
    val_fraction: float = 0.2
    class_weight: bool = True
    mixup_alpha: float = 0.0
    spec_augment: bool = False
    speaker_norm: bool = False
    refit: bool = False
    ensemble: int = 1
    seed: int = 0
    deterministic: bool = True
    mixed_precision: bool | str = "auto"
    progressive_epochs: int = 10
    verbose: int = 0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "TrainConfig":
        """A config from a mapping (e.g. a notebook parameter); unknown keys are an error."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"TrainConfig has no field(s) {unknown}; valid: {sorted(cls.__dataclass_fields__)}")
        return cls(**values)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (unknown names are an error)."""
        return TrainConfig.from_dict({**asdict(self), **changes})


# --------------------------------------------------------------------------------------------------
# Inputs


@dataclass
class ModelInputs:
    """The arrays a network takes (one per model input, rows aligned) and the rows' metadata."""

    X: list[np.ndarray]
    meta: pd.DataFrame
    feature_sets: list[str]
    feature_params: list[dict[str, Any]]
    kinds: list[str]
    audio: Any

    def __len__(self) -> int:
        return len(self.meta)

    def take(self, rows: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(x[rows], dtype=np.float32) for x in self.X]

    def describe(self) -> list[dict[str, Any]]:
        """What :mod:`ser_utils.predict` needs to recompute each input from a wav file."""
        return [{"feature_set": fs, "params": params, "kind": kind, "shape": list(np.shape(x)[1:])}
                for fs, params, kind, x in zip(self.feature_sets, self.feature_params, self.kinds, self.X)]


def _as_tables(tables: FeatureTable | Sequence[FeatureTable] | Mapping[str, FeatureTable]) -> list[FeatureTable]:
    if isinstance(tables, FeatureTable):
        return [tables]
    if isinstance(tables, Mapping):
        return list(tables.values())
    return list(tables)


def prepare_inputs(tables: FeatureTable | Sequence[FeatureTable], model: str) -> ModelInputs:
    """Check the tables against the network's inputs and align their rows (on ``utt_id``).

    One table per model input, in the model's order (``MODELS[model].inputs``). Rows a table lacks
    (a clip one set skipped) are dropped from all. Windowed sets cannot be combined with another table.
    """
    spec = get_model(model)
    tables = _as_tables(tables)
    if len(tables) != len(spec.inputs):
        raise ValueError(f"model {model!r} takes {len(spec.inputs)} feature table(s) "
                         f"({', '.join(spec.inputs)}), got {len(tables)}")
    for table, kind, default in zip(tables, spec.input_kinds, spec.inputs):
        if table.kind not in ACCEPTS[kind]:
            raise ValueError(f"model {model!r} expects a {kind} input (e.g. {default}); "
                             f"{table.feature_set} is a {table.kind} set of shape {np.shape(table.X)}")
        if len(table) == 0:
            raise ValueError(f"feature table {table.feature_set} is empty (every clip skipped?)")
    if len(tables) == 1:
        t = tables[0]
        return ModelInputs([np.asarray(t.X)], t.meta.reset_index(drop=True), [t.feature_set], [dict(t.params)],
                           [t.kind], t.audio)
    if any(t.kind == "windows" for t in tables):
        raise ValueError("a windowed set (one row per window) cannot be combined with other tables")
    ids = [pd.Index(t.meta["utt_id"].astype(str)) for t in tables]
    common = set.intersection(*(set(i) for i in ids))
    kept = [u for u in ids[0] if u in common]
    positions = [index.get_indexer(kept) for index in ids]
    meta = tables[0].meta.iloc[positions[0]].reset_index(drop=True)
    for t in tables[1:]:
        if t.audio != tables[0].audio:
            raise ValueError(f"{t.feature_set} and {tables[0].feature_set} were extracted with different audio configs")
    return ModelInputs([np.asarray(t.X)[p] for t, p in zip(tables, positions)], meta,
                       [t.feature_set for t in tables], [dict(t.params) for t in tables],
                       [t.kind for t in tables], tables[0].audio)


def _speaker_normalized(inputs: ModelInputs, model: str, config: TrainConfig) -> ModelInputs:
    """The inputs standardised per speaker when ``config.speaker_norm`` (else unchanged)."""
    if not config.speaker_norm:
        return inputs
    if "speaker" not in inputs.meta:
        raise ValueError("speaker_norm needs a 'speaker' column in the feature table's meta")
    modes = get_model(model).norm
    X = [speaker_standardize(x, inputs.meta, mode) for x, mode in zip(inputs.X, modes)]
    return ModelInputs(X, inputs.meta, inputs.feature_sets, inputs.feature_params, inputs.kinds, inputs.audio)


def _is_augmented(meta: pd.DataFrame) -> np.ndarray:
    if "augmentation" not in meta:
        return np.zeros(len(meta), dtype=bool)
    return meta["augmentation"].fillna("").astype(str).ne("").to_numpy()


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (scikit-learn's "balanced"), 0 for a class absent from ``y``."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


def speaker_statistics(X: np.ndarray, mode: str = "feature") -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of one speaker's rows, shaped to broadcast over rows of ``X``
    (per feature / coefficient, per mel band, or global: see :func:`ser_utils.models.input_stats`).

    A feature constant within the speaker (e.g. the gender column) gets mean 0 and std 1: it keeps
    its value, so the information survives.
    """
    mean, _ = input_stats(X, mode)
    X64 = np.asarray(X, dtype=np.float64)
    keep = {"feature": X64.ndim - 1, "band": 1}.get(mode)
    axes = tuple(range(X64.ndim)) if keep is None else tuple(i for i in range(X64.ndim) if i != keep)
    var = X64.var(axis=axes)
    constant = var <= 1e-12
    mean = np.where(constant, 0.0, mean).astype(np.float32)
    std = np.where(constant, 1.0, np.sqrt(np.maximum(var, 1e-12))).astype(np.float32)
    if mode == "band":
        mean, std = mean[:, None], std[:, None]
    return mean, std


def apply_speaker_statistics(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(X - mean) / std`` with statistics from :func:`speaker_statistics`."""
    return ((np.asarray(X, dtype=np.float32) - mean) / std).astype(np.float32)


def speaker_standardize(X: np.ndarray, meta: pd.DataFrame, mode: str = "feature") -> np.ndarray:
    """Standardise each speaker's rows by statistics of that speaker's original (non-augmented) rows.

    The arrays version of :func:`ser_utils.evaluation.speaker_normalize` (vectors, sequences, images):
    labels are never used, only the speaker's own recordings, which a deployed system can collect too.
    """
    X = np.asarray(X, dtype=np.float32)
    out = np.empty_like(X)
    speakers = meta["speaker"].astype(str).to_numpy()
    original = ~_is_augmented(meta)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        reference = X[rows & original] if (rows & original).any() else X[rows]
        out[rows] = apply_speaker_statistics(X[rows], *speaker_statistics(reference, mode))
    return out


# --------------------------------------------------------------------------------------------------
# Batches: shuffling, mixup and SpecAugment, reproducible from the seed


def _batch_class():
    """The :class:`keras.utils.PyDataset` subclass (defined lazily: Keras is imported on first use)."""
    if "cls" in _BATCHES:
        return _BATCHES["cls"]
    keras = keras_module()

    class Batches(keras.utils.PyDataset):
        """Training (or evaluation) batches; random choices depend only on (seed, epoch, batch index)."""

        def __init__(self, X, Y, weights=None, *, batch_size=32, shuffle=False, seed=0, mixup_alpha=0.0,
                     spec_augment_inputs=(), kinds=()):
            super().__init__()
            self.X, self.Y, self.weights = X, Y, weights
            self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, int(seed)
            self.mixup_alpha, self.spec_inputs, self.kinds = float(mixup_alpha), tuple(spec_augment_inputs), kinds
            self.epoch = 0
            self.order = self._order()

        def _order(self):
            n = len(self.Y)
            if not self.shuffle:
                return np.arange(n)
            return np.random.default_rng([self.seed, self.epoch]).permutation(n)

        def __len__(self):
            return max(1, math.ceil(len(self.Y) / self.batch_size))

        def __getitem__(self, index):
            rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
            xs = [x[rows] for x in self.X]
            y = self.Y[rows]
            w = None if self.weights is None else self.weights[rows]
            if self.shuffle and (self.mixup_alpha > 0 or self.spec_inputs):
                rng = np.random.default_rng([self.seed, self.epoch, index, 1])
                xs, y, w = _augment_batch(xs, y, w, rng, self.mixup_alpha, self.spec_inputs, self.kinds)
            x = xs[0] if len(xs) == 1 else tuple(xs)
            return (x, y) if w is None else (x, y, w)

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    _BATCHES["cls"] = Batches
    return Batches


_BATCHES: dict[str, type] = {}


def _augment_batch(xs: list[np.ndarray], y: np.ndarray, w: np.ndarray | None, rng: np.random.Generator,
                   mixup_alpha: float, spec_inputs: Sequence[int], kinds: Sequence[str]):
    """SpecAugment on the chosen inputs (per example), then mixup (one λ per batch, all inputs alike)."""
    from .augment import mixup, spec_augment

    xs = list(xs)
    for i in spec_inputs:
        # images are (bands, frames); sequences (frames, coefficients): mask in the (features, time) view
        if kinds[i] == "sequence":
            xs[i] = np.stack([spec_augment(e.T, rng, max_freq_width=max(1, e.shape[1] // 8),
                                           max_time_width=max(1, e.shape[0] // 8)).T for e in xs[i]])
        else:
            xs[i] = np.stack([spec_augment(e, rng, max_freq_width=max(1, e.shape[0] // 8),
                                           max_time_width=max(1, e.shape[1] // 8)) for e in xs[i]])
    if mixup_alpha > 0 and len(y) > 1:
        _, y_mixed, lam, perm = mixup(xs[0], y, mixup_alpha, rng, return_pairs=True)
        xs = [(lam * x + (1 - lam) * x[perm]).astype(np.float32) for x in xs]
        y = y_mixed.astype(np.float32)
        if w is not None:
            w = (lam * w + (1 - lam) * w[perm]).astype(np.float32)
    return xs, y, w


def predict_proba(model: Any, X: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
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


def clip_probabilities(proba: np.ndarray, sources: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Mean class probability per source clip over its rows (its windows), one row per clip in first-seen order."""
    frame = pd.DataFrame(proba, columns=list(labels))
    return frame.groupby(np.asarray(sources), sort=False).mean()


# --------------------------------------------------------------------------------------------------
# One fit


@dataclass
class FitResult:
    """A trained network with its history (one row per epoch) and where it stopped."""

    model: Any
    history: pd.DataFrame
    best_epoch: int
    seconds: float

    @property
    def epoch_seconds(self) -> float:
        """Mean seconds per epoch, the first (graph tracing) excluded when there are others."""
        times = self.history["seconds"].to_numpy()
        return float(times[1:].mean() if len(times) > 1 else times.mean())


def _callbacks(config: TrainConfig, has_val: bool, timer_list: list[float]):
    keras = keras_module()

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            timer_list.append(time.perf_counter() - self.start)

    monitor = "val_loss" if has_val else "loss"
    callbacks = [EpochTimer()]
    if config.patience and config.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience,
                                                       restore_best_weights=True))
    if config.reduce_lr_patience and config.reduce_lr_patience > 0:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=config.reduce_lr_factor,
                                                           patience=config.reduce_lr_patience, min_lr=config.min_lr))
    return callbacks


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
    spec = get_model(model_name)
    kinds = list(kinds or spec.input_kinds)
    seed = config.seed if seed is None else int(seed)
    X_train = [np.asarray(x, dtype=np.float32) for x in X_train]
    y_train = np.asarray(y_train, dtype=int)
    keras.utils.set_random_seed(seed)
    if model is None:
        norm = [input_stats(x, mode) for x, mode in zip(X_train, spec.norm)]
        model = spec.build([x.shape[1:] for x in X_train], n_classes, norm=norm, **dict(params or {}))
    optimizer = keras.optimizers.Adam(learning_rate or config.learning_rate,
                                      weight_decay=config.weight_decay if config.weight_decay > 0 else None)
    model.compile(optimizer=optimizer,
                  loss="categorical_crossentropy", metrics=["accuracy"])
    Y = np.eye(n_classes, dtype=np.float32)[y_train]
    weights = class_weights(y_train, n_classes)[y_train].astype(np.float32) if config.class_weight else None
    spec_inputs = [i for i, k in enumerate(kinds) if k in ("image", "sequence")] if config.spec_augment else []
    Batches = _batch_class()
    train = Batches(X_train, Y, weights, batch_size=config.batch_size, shuffle=True, seed=seed,
                    mixup_alpha=config.mixup_alpha, spec_augment_inputs=spec_inputs, kinds=kinds)
    has_val = X_val is not None and len(X_val[0]) > 0
    val = None
    if has_val:
        Y_val = np.eye(n_classes, dtype=np.float32)[np.asarray(y_val, dtype=int)]
        val = Batches([np.asarray(x, dtype=np.float32) for x in X_val], Y_val, batch_size=128)
    times: list[float] = []
    start = time.perf_counter()
    fitted = model.fit(train, validation_data=val, epochs=int(epochs or config.epochs), verbose=config.verbose,
                       callbacks=_callbacks(config, has_val, times))
    seconds = time.perf_counter() - start
    history = pd.DataFrame(fitted.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["seconds"] = times[:len(history)]
    monitor = "val_loss" if has_val else "loss"
    best = int(history[monitor].to_numpy().argmin()) + 1 if config.patience else len(history)
    return FitResult(model, history, best, seconds)


def steady_epoch_seconds(history: pd.DataFrame) -> np.ndarray:
    """Seconds of the epochs of a history that do not trace a graph: the first epoch of each fit (each
    ``stage``: selection, refit, large images) is left out when the fit has more than one."""
    stages = history["stage"].fillna("select") if "stage" in history else pd.Series("select", index=history.index)
    parts = [g["seconds"].to_numpy() for _, g in history.groupby(stages.to_numpy(), sort=False)]
    return np.concatenate([p[1:] if len(p) > 1 else p for p in parts]) if parts else np.array([])


def _resize_model(model_name: str, small: Any, X_large: Sequence[np.ndarray], n_classes: int,
                  params: Mapping[str, Any] | None) -> Any:
    """Progressive resizing: the same network for the larger images, with the trained weights copied over
    (every weight of these size-independent networks fits), normalised with the large images' statistics."""
    spec = get_model(model_name)
    norm = [input_stats(x, mode) for x, mode in zip(X_large, spec.norm)]
    large = spec.build([np.shape(x)[1:] for x in X_large], n_classes, norm=norm, **dict(params or {}))
    copy_weights(small, large)
    return large


def copy_weights(source: Any, target: Any, *, skip: Sequence[str] = ()) -> list[str]:
    """Copy every layer's weights from ``source`` to the layer of the same name in ``target`` (two builds of
    one network, e.g. for other image sizes or another number of classes); names copied, ``skip`` left alone."""
    copied = []
    for layer in target.layers:
        if layer.weights and layer.name not in skip:
            layer.set_weights(source.get_layer(layer.name).get_weights())
            copied.append(layer.name)
    return copied


# --------------------------------------------------------------------------------------------------
# Cross-validation


@dataclass
class DeepCVResult(CVResult):
    """A :class:`~ser_utils.evaluation.CVResult` with what a neural run adds: per-fold training histories,
    epoch times, the device, the hyper-parameters and the training configuration."""

    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    n_params: int = 0
    seconds: float = 0.0

    @property
    def epoch_seconds(self) -> float:
        """Mean seconds per epoch over folds (first epoch of each fit, which traces the graph, excluded)."""
        times = [steady_epoch_seconds(h) for h in self.histories.values()]
        return float(np.concatenate(times).mean()) if times else float("nan")

    def timing(self) -> dict[str, Any]:
        """Device, seconds per epoch, epochs trained per fold and total seconds."""
        epochs = [len(h) for h in self.histories.values()]
        return {"device": self.device.get("device", "?"), "precision": self.device.get("precision", "?"),
                "s/epoch": round(self.epoch_seconds, 3), "epochs (mean)": round(float(np.mean(epochs)), 1) if epochs else 0,
                "total s": round(self.seconds, 1), "parameters": self.n_params}

    def record(self, report: Any, notes: str = "") -> dict[str, Any]:
        """The results.csv row, with the device and the epoch time in its notes."""
        extra = f"{self.device.get('device', '?')}, {self.epoch_seconds:.2f} s/epoch, {self.seconds:.0f} s total"
        return super().record(report, notes=f"{notes}; {extra}" if notes else extra)

    def plot_history(self, title: str | None = None, max_folds: int = 12):
        """Loss and accuracy per epoch, every fold: training (solid) and validation (dashed)."""
        return plot_histories(self.histories, self.experiment if title is None else title, max_folds=max_folds)


def plot_histories(histories: Mapping[str, pd.DataFrame], title: str = "", max_folds: int = 12):
    """Loss and accuracy per epoch of one or more fits (a fold each, or e.g. ``{"source": TrainedModel.history}``):
    training solid, validation dashed; extra ensemble members and refit stages are left out."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    shown = [(name, h) for name, h in histories.items() if "member" not in h][:max_folds]  # first member
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(shown))))
    for color, (name, h) in zip(colors, shown):
        if "stage" in h:  # the selection run (with validation), then later stages; not the refit
            h = h[h["stage"].fillna("select") != "refit"]
        epochs = np.arange(1, len(h) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, h[metric], color=color, lw=1.2, label=name)
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], color=color, lw=1.2, ls="--")
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].set_title("loss: training (solid), validation (dashed)")
    axes[1].set_title("accuracy")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _train_member(model: str, inputs: ModelInputs, large: ModelInputs | None, y: np.ndarray, train: np.ndarray,
                  val: np.ndarray, train_and_val: np.ndarray, n_classes: int, params: dict, config: TrainConfig,
                  seed: int) -> tuple[Any, pd.DataFrame, int]:
    """One network of one fold: select the epochs on validation (optionally refit on train + validation),
    optionally continue on large images. Returns (network, history, best epoch)."""
    fit = fit_network(model, inputs.take(train), y[train], n_classes, X_val=inputs.take(val), y_val=y[val],
                      kinds=inputs.kinds, params=params, config=config, seed=seed)
    history, network = fit.history, fit.model
    if config.refit and len(val):
        everything = np.union1d(train, train_and_val)
        again = fit_network(model, inputs.take(everything), y[everything], n_classes, kinds=inputs.kinds,
                            params=params, config=config.replace(patience=0), seed=seed, epochs=max(1, fit.best_epoch))
        history = pd.concat([history.assign(stage="select"), again.history.assign(stage="refit")], ignore_index=True)
        network = again.model
    if large is not None:
        network = _resize_model(model, network, large.take(train), n_classes, params)
        more = fit_network(model, large.take(train), y[train], n_classes, X_val=large.take(val), y_val=y[val],
                           kinds=large.kinds, config=config, seed=seed + 500, model=network,
                           epochs=config.progressive_epochs, learning_rate=config.learning_rate / 2)
        history = pd.concat([history, more.history.assign(stage="large")], ignore_index=True)
        network = more.model
    return network, history, fit.best_epoch


def cross_validate_model(tables: FeatureTable | Sequence[FeatureTable], model: str, protocol: str, *,
                         experiment: str, params: Mapping[str, Any] | None = None,
                         config: TrainConfig | None = None, n_folds: int | None = None, use_augmented: bool = True,
                         features: str | None = None, progressive: FeatureTable | None = None,
                         train_corpora: Sequence[str] = (), test_corpora: Sequence[str] = (),
                         max_folds: int | None = None, progress: bool = True, member: Any = None) -> DeepCVResult:
    """Train and test network ``model`` in every fold of ``protocol``; clip-level scores per fold.

    ``tables``: one feature table per model input (see :func:`prepare_inputs`). ``progressive``: the
    same clips as larger log-mel images: each fold first trains on ``tables`` for ``config.epochs``,
    then continues on the large images for ``config.progressive_epochs`` (progressive resizing), and
    is tested on them. ``max_folds``: run only the first folds (smoke runs; the result then covers
    part of the data and says so in its fold count). ``member``: how one network of a fold is trained,
    a function with the signature of :func:`_train_member` (default); :mod:`ser_utils.transfer` passes
    one that starts from a pre-trained network.
    """
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    spec = get_model(model)
    params = dict(params or {})
    spec.check_params(params)
    device = configure_device(config.mixed_precision, config.deterministic)
    inputs = _speaker_normalized(prepare_inputs(tables, model), model, config)
    meta = inputs.meta
    large = _speaker_normalized(prepare_inputs(progressive, model), model, config) if progressive is not None else None
    if large is not None and not large.meta["utt_id"].astype(str).equals(meta["utt_id"].astype(str)):
        raise ValueError("progressive: the large images must come from the same rows, in the same order")
    labels = sorted(meta["emotion"].astype(str).unique())
    y = pd.Categorical(meta["emotion"].astype(str), categories=labels).codes.astype(int)
    folds = make_folds(meta, protocol, n_folds=n_folds, val_fraction=config.val_fraction, seed=config.seed,
                       train_corpora=train_corpora, test_corpora=test_corpora)
    if max_folds is not None:
        folds = folds[:max(1, int(max_folds))]
    augmented = _is_augmented(meta)
    train_member = member or _train_member
    sources = (meta["source_id"] if "source_id" in meta else meta["utt_id"]).astype(str).to_numpy()
    if protocol == "leaky":
        sources = meta.index.astype(str).to_numpy()
    truth_of = pd.Series(np.asarray(labels)[y], index=sources).groupby(level=0).first()
    rows, predictions, histories = [], [], {}
    n_params, start = 0, time.perf_counter()
    for k, fold in enumerate(tqdm(folds, desc=experiment, disable=not progress, leave=False)):
        train = fold.train if use_augmented else fold.train[~augmented[fold.train]]
        extra_val = _rows_of_sources(sources, fold.val, augmented if use_augmented else None)
        members = []
        for j in range(max(1, int(config.ensemble))):
            seed = config.seed * 1000 + k + 7919 * j
            members.append(train_member(model, inputs, large, y, train, fold.val, extra_val, len(labels), params,
                                        config, seed))
        network, history, best_epoch = members[0]
        test_inputs = large if large is not None else inputs
        n_params = int(sum(m[0].count_params() for m in members))
        raw = np.mean([predict_proba(m[0], test_inputs.take(fold.test)) for m in members], axis=0)
        proba = clip_probabilities(raw, sources[fold.test], labels)
        clips = proba.index.to_numpy()
        pred = np.asarray(labels)[proba.to_numpy().argmax(axis=1)]
        truth = truth_of.loc[clips].to_numpy()
        all_epochs = np.concatenate([steady_epoch_seconds(m[1]) for m in members])
        row = {"fold": fold.name, "n_train": len(train), "n_val": len(fold.val), **scores(truth, pred, labels),
               "epochs": int(sum(len(m[1]) for m in members)), "best_epoch": best_epoch,
               "s/epoch": round(float(all_epochs.mean()), 3)}
        rows.append(row)
        histories[fold.name] = history
        for j, extra in enumerate(members[1:], 2):
            histories[f"{fold.name} · member {j}"] = extra[1].assign(member=j)
        predictions.append(pd.DataFrame({"source_id": clips, "fold": fold.name, "true": truth, "pred": pred})
                           .join(proba.add_prefix("p_").reset_index(drop=True)))
        keras_module().backend.clear_session(free_memory=True)
    pooled = pd.concat(predictions, ignore_index=True)
    per_fold = pd.DataFrame(rows)
    order = ["fold", "n_train", "n_val", "n_test", "accuracy", "uar", "macro_f1", "epochs", "best_epoch", "s/epoch"]
    return DeepCVResult(
        experiment, features or "+".join(inputs.feature_sets), model, protocol, labels, per_fold[order], pooled,
        chance_levels(pooled["true"], sorted(set(pooled["true"]))), histories=histories, device=device,
        params=params, config=asdict(config), n_params=n_params, seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------------
# The final model: trained on everything, saved with what prediction needs


def _rows_of_sources(sources: np.ndarray, rows: np.ndarray, augmented: np.ndarray | None) -> np.ndarray:
    """``rows`` plus, when ``augmented`` is given, the augmented copies of their source clips."""
    if augmented is None:
        return np.asarray(rows)
    copies = np.flatnonzero(np.isin(sources, np.unique(sources[rows])) & augmented)
    return np.union1d(rows, copies)


def holdout_split(meta: pd.DataFrame, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) for a final model: whole speakers held out for early stopping
    (source clips when there are fewer than 3 speakers); validation holds original rows only and no
    copy of a validation clip trains."""
    meta = meta.reset_index(drop=True)
    n = len(meta)
    if val_fraction <= 0:
        return np.arange(n), np.array([], dtype=int)
    sources = (meta["source_id"] if "source_id" in meta else meta["utt_id"]).astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    speakers = meta["speaker"].astype(str).to_numpy() if "speaker" in meta else None
    if speakers is not None and len(np.unique(speakers)) >= 3:
        groups = np.unique(speakers)
        n_val = min(len(groups) - 1, max(1, int(round(val_fraction * len(groups)))))
        held = np.isin(speakers, rng.choice(groups, size=n_val, replace=False))
        val_sources = set(sources[held])
    else:
        unique = np.unique(sources)
        n_val = min(len(unique) - 1, max(1, int(round(val_fraction * len(unique)))))
        val_sources = set(rng.choice(unique, size=n_val, replace=False))
    in_val = np.isin(sources, list(val_sources))
    val = np.flatnonzero(in_val & ~_is_augmented(meta))
    return np.flatnonzero(~in_val), val


@dataclass
class TrainedModel:
    """A network trained on a whole dataset, with everything :mod:`ser_utils.predict` needs."""

    model: Any
    model_name: str
    labels: list[str]
    inputs: list[dict[str, Any]]
    audio: dict[str, Any]
    params: dict[str, Any]
    config: dict[str, Any]
    history: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The contents of ``model.json``."""
        from .runinfo import package_versions

        return {"format": MODEL_FORMAT, "model": self.model_name, "labels": self.labels, "inputs": self.inputs,
                "audio": self.audio, "params": self.params, "config": self.config,
                "aggregate": "mean probability over the rows of a clip (its windows)",
                "trained": self.info, "versions": {**{k: v for k, v in package_versions().items()
                                                      if k in ("python", "numpy", "librosa", "keras")},
                                                   "tensorflow": self.info.get("tensorflow")}}

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path`` (``.keras``) and the description next to it (same name, ``.json``)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"a Keras model file must end in .keras, got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        description = path.with_suffix(".json")
        description.write_text(json.dumps(self.metadata(), indent=1, default=_json_default), encoding="utf-8")
        return path, description


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def average_models(models: Sequence[Any]) -> Any:
    """One Keras model whose output is the mean of ``models``' probabilities (an ensemble, saved as one file)."""
    keras = keras_module()
    for j, member in enumerate(models, 1):
        member.name = f"{member.name}_member{j}"
    inputs = [keras.Input(shape=tuple(t.shape[1:]), name=t.name.split(":")[0]) for t in models[0].inputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    output = keras.layers.Average(name="ensemble", dtype="float32")([member(x) for member in models])
    return keras.Model(x, output, name=f"ensemble_of_{len(models)}")


def _resolved_input(feature_set: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """How to recompute one model input: a feature set with its full parameters, or, for a combined table
    (:func:`ser_utils.baselines.combine_tables`, params keyed by set), its ``parts`` in column order."""
    from .features import FEATURE_SETS

    if feature_set in FEATURE_SETS:
        return {"params": get_feature_set(feature_set).resolve(params)}
    if params and all(name in FEATURE_SETS for name in params):
        return {"params": {}, "parts": [{"feature_set": name, "params": get_feature_set(name).resolve(p)}
                                        for name, p in params.items()]}
    raise ValueError(f"cannot describe input {feature_set!r} for prediction: neither a feature set nor a "
                     f"combination of feature sets (params {sorted(params)})")


def fit_final(tables: FeatureTable | Sequence[FeatureTable], model: str, *, params: Mapping[str, Any] | None = None,
              config: TrainConfig | None = None, use_augmented: bool = True, dataset: str = "") -> TrainedModel:
    """Train ``model`` on every clip, ready to :meth:`~TrainedModel.save` and use with :mod:`ser_utils.predict`.

    A validation part of whole speakers (:func:`holdout_split`) is held out for early stopping; with
    ``config.refit`` a fresh network then trains on everything for the chosen number of epochs; with
    ``config.ensemble`` > 1 the members are averaged into one saved model.
    """
    config = config or TrainConfig()
    params = dict(params or {})
    device = configure_device(config.mixed_precision, config.deterministic)
    inputs = _speaker_normalized(prepare_inputs(tables, model), model, config)
    meta = inputs.meta
    labels = sorted(meta["emotion"].astype(str).unique())
    y = pd.Categorical(meta["emotion"].astype(str), categories=labels).codes.astype(int)
    train, val = holdout_split(meta, config.val_fraction, config.seed)
    if not use_augmented:
        train = train[~_is_augmented(meta)[train]]
    sources = (meta["source_id"] if "source_id" in meta else meta["utt_id"]).astype(str).to_numpy()
    val_and_copies = _rows_of_sources(sources, val, _is_augmented(meta) if use_augmented else None)
    members = [_train_member(model, inputs, None, y, train, val, val_and_copies, len(labels), params, config,
                             config.seed + 7919 * j) for j in range(max(1, int(config.ensemble)))]
    network = members[0][0] if len(members) == 1 else average_models([m[0] for m in members])
    history, best_epoch = members[0][1], members[0][2]
    times = steady_epoch_seconds(history)
    described = inputs.describe()
    for item in described:  # the feature functions' full parameter sets, so predict recomputes exactly these
        item.update(_resolved_input(item["feature_set"], item["params"]))
    audio = asdict(inputs.audio) if inputs.audio is not None else {}
    trained_rows = np.union1d(train, val_and_copies) if config.refit and len(val) else train
    info = {"dataset": dataset, "rows": int(len(trained_rows)), "validation_rows": int(len(val)),
            "refit_on_validation": bool(config.refit and len(val)), "ensemble": len(members),
            "clips": int(meta.loc[trained_rows, "source_id" if "source_id" in meta else "utt_id"].nunique()),
            "speakers": int(meta["speaker"].nunique()) if "speaker" in meta else None,
            "epochs": int(len(history)), "best_epoch": int(best_epoch),
            "seconds_per_epoch": round(float(times.mean()), 3),
            "device": device.get("device"), "precision": device.get("precision"), "tensorflow": device.get("tensorflow"),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return TrainedModel(network, model, labels, described, audio, params, asdict(config), history, info)


def results_table(results: Sequence[CVResult], *, metric: str = "uar") -> pd.DataFrame:
    """One row per experiment: model, features, protocol, metric mean ± std, and, for neural runs, timing."""
    rows = []
    for r in results:
        s = r.summary()
        row = {"experiment": r.experiment, "model": r.model, "features": r.features, "protocol": r.protocol,
               "folds": len(r.per_fold), metric: s.loc[metric, "mean"], f"{metric} std": s.loc[metric, "std"],
               "accuracy": s.loc["accuracy", "mean"], "macro_f1": s.loc["macro_f1", "mean"]}
        if isinstance(r, DeepCVResult):
            row.update({"s/epoch": round(r.epoch_seconds, 3), "epochs": round(float(r.per_fold["epochs"].mean()), 1),
                        "total s": round(r.seconds, 1), "parameters": r.n_params})
        rows.append(row)
    return pd.DataFrame(rows).set_index("experiment")


def architecture_table(model: Any) -> pd.DataFrame:
    """A model's layers as a table (name, type, output shape, parameters), for notebooks."""
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


def describe_architecture(model_name: str, tables: FeatureTable | Sequence[FeatureTable], *,
                          params: Mapping[str, Any] | None = None, n_classes: int | None = None) -> pd.DataFrame:
    """:func:`architecture_table` of network ``model_name`` built for these feature tables' shapes."""
    inputs = prepare_inputs(tables, model_name)
    n_classes = n_classes or int(inputs.meta["emotion"].nunique())
    model = get_model(model_name).build([np.shape(x)[1:] for x in inputs.X], n_classes, **dict(params or {}))
    return architecture_table(model)


def classical_reference(results: pd.DataFrame, *, protocol: str = "loso", exclude: Sequence[str] = ()) -> pd.Series | None:
    """The best classical (non-neural) row of a run's ``results.csv`` under ``protocol``, or None.

    Neural rows are recognised by their model name (one of :data:`ser_utils.models.MODELS`) or by a
    notebook listed in ``exclude``.
    """
    from .models import MODELS

    if results is None or results.empty:
        return None
    rows = results[(results["protocol"] == protocol) & ~results["model"].astype(str).isin(list(MODELS))
                   & ~results["notebook"].astype(str).isin(list(exclude))]
    if rows.empty:
        return None
    return rows.loc[rows["uar"].astype(float).idxmax()]


def show_result(result: CVResult, *, curves: bool = True, confusion: bool = True) -> None:
    """In a notebook: the headline, the per-fold table, the training curves and the confusion matrices."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    timing = f" · {result.epoch_seconds:.2f} s/epoch on {result.device.get('device', '?')}" \
        if isinstance(result, DeepCVResult) else ""
    display(Markdown(f"**{result.experiment}** — {result.headline()} (chance {result.chance.get('uar', float('nan')):.3f})"
                     f"{timing}"))
    display(result.per_fold.set_index("fold").round(3))
    if curves and isinstance(result, DeepCVResult) and result.histories:
        result.plot_history()
        plt.show()
    if confusion:
        result.plot_confusion()
        plt.show()
