"""Keras networks as scikit-learn estimators, so one cross-validation loop serves every model.

    NetworkClassifier("cnn2d", params={"filters": [16, 32]}, config={"epochs": 30})  # trained from scratch
    FineTuner("models/pretrained.keras", strategy="last_block")                        # a pre-trained network, adapted
    ZeroShot("models/pretrained.keras")                                                # ... used as it is
    ValidationSearch(NetworkClassifier("statpool_lld"), {"dropout": [0.3, 0.5]})      # chosen on validation speakers

Each has ``fit(X, y, meta=None)``, ``predict_proba``, ``predict``, ``classes_`` and scikit-learn's
``get_params`` / ``set_params``, so :func:`sklearn.base.clone` gives a fresh copy for every fold.
``X`` is one array, or a list of arrays for a multi-input network. ``meta`` (the rows' metadata) lets
``fit`` carve its validation part from the data it is given, whole speakers
(:func:`ser_utils.splits.validation_split`): early stopping and the learning-rate schedule never
see the test fold. After ``fit``: ``history_`` (per-epoch curves), ``fit_info_`` (epochs, best
epoch, seconds per epoch: columns of the per-fold table) and ``run_info_`` (device, parameters).

:func:`fit_final` trains on every clip and records what prediction needs; ``.save(path)`` writes it
in the format of :mod:`ser_utils.modelfile`. Pre-trained networks are passed by path, so clones
stay cheap and a network cached on disk is shared by every fold.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import ParameterGrid

from . import cluster, modelfile
from .evaluation import CVResult, as_tables, fold_executor, model_inputs, take
from .features import FEATURE_SETS, FeatureTable, get_feature_set
from .models import ACCEPTS, configure_device, get_model, keras_module, set_seed
from .rows import is_augmented, source_ids
from .splits import validation_split
from .training import (
    TrainConfig,
    average_models,
    build_network,
    copy_weights,
    fit_network,
    predict_proba,
    steady_epoch_seconds,
)

#: Fine-tuning strategies: a new output layer on the frozen network, then also the last block.
FINE_TUNING = ("head", "last_block")

#: Layer types that end a feature-extracting block: ``last_block`` unfreezes from the last of them on.
BLOCK_LAYERS = ("Conv1D", "Conv2D", "LSTM", "GRU", "Bidirectional")

#: Array dimensions (batch axis included) of each input kind.
_NDIM = {"vector": 2, "sequence": 3, "image": 3}


def _as_list(X: Any) -> list[np.ndarray]:
    return [np.asarray(x, dtype=np.float32) for x in X] if isinstance(X, (list, tuple)) else [np.asarray(X, np.float32)]


class NetworkClassifier(ClassifierMixin, BaseEstimator):
    """A network of :data:`ser_utils.models.MODELS`, trained from random weights.

    ``params``: the builder's hyper-parameters; ``config``: a :class:`~ser_utils.training.TrainConfig`
    or a mapping of its settings. With ``config.ensemble`` > 1 several networks (seeds differ) are
    trained and their probabilities averaged; with ``config.refit`` the epochs chosen on validation
    speakers are re-run on the whole training part; with ``config.progressive_epochs`` > 0 the last
    input of ``X`` may hold larger images of the same clips (one input more than the network takes),
    trained on after the small ones and used for prediction.
    """

    def __init__(
        self,
        model: str = "cnn1",
        params: Mapping[str, Any] | None = None,
        config: TrainConfig | Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.params = params
        self.config = config

    # ---------------------------------------------------------------------------------------------
    def _settings(self) -> tuple[str, dict[str, Any], TrainConfig]:
        params = dict(self.params or {})
        get_model(self.model).check_params(params)
        return self.model, params, TrainConfig.from_dict(self.config)

    def _check_inputs(self, X: list[np.ndarray], name: str, config: TrainConfig) -> list[str]:
        kinds = list(get_model(name).input_kinds)
        self.progressive_ = config.progressive_epochs > 0 and len(X) == len(kinds) + 1
        if self.progressive_:
            kinds.append(kinds[-1])
        if len(X) != len(kinds):
            extra = " (plus, for progressive resizing, the large images)" if config.progressive_epochs > 0 else ""
            raise ValueError(
                f"network {name!r} takes {len(get_model(name).inputs)} input(s) "
                f"({', '.join(get_model(name).inputs)}){extra}, got {len(X)}"
            )
        for x, kind in zip(X, kinds):
            if x.ndim != _NDIM[kind]:
                raise ValueError(
                    f"network {name!r} expects a {kind} input ({' or '.join(ACCEPTS[kind])} set, "
                    f"{_NDIM[kind] - 1}-D per row); got an array of shape {x.shape}"
                )
        return kinds

    def fit(self, X: Any, y: Sequence, meta: pd.DataFrame | None = None) -> NetworkClassifier:
        """Train on ``X``/``y``; validation speakers (or clips) carved from ``meta``'s rows."""
        name, params, config = self._settings()
        device = configure_device(config.mixed_precision, config.deterministic, config.devices)
        X = _as_list(X)
        kinds = self._check_inputs(X, name, config)
        y = np.asarray(y).astype(str)
        self.classes_ = np.array(sorted(set(y)))
        codes = np.searchsorted(self.classes_, y)
        meta = pd.DataFrame({"utt_id": np.arange(len(y)).astype(str)}) if meta is None else meta.reset_index(drop=True)
        train, val = validation_split(meta, config.val_fraction, config.seed)
        members = [
            self._train_member(name, params, config, X, codes, kinds, train, val, config.seed + 7919 * j)
            for j in range(max(1, int(config.ensemble)))
        ]
        self.networks_ = [m[0] for m in members]
        self.history_ = (
            members[0][1]
            if len(members) == 1
            else pd.concat([h.assign(member=j) for j, (_, h, _) in enumerate(members, 1)], ignore_index=True)
        )
        epochs = np.concatenate([steady_epoch_seconds(m[1]) for m in members])
        first = members[0][1]
        self.fit_info_ = {
            "n_val": int(len(val)),
            "epochs": int(sum(len(m[1]) for m in members)),
            "best_epoch": int(members[0][2]),
            "s/epoch": round(float(epochs.mean()), 3),
        }
        if "val_accuracy" in first and len(first) >= members[0][2] >= 1:  # what the validation speakers scored
            self.fit_info_["val_accuracy"] = round(float(first["val_accuracy"].iloc[members[0][2] - 1]), 4)
        self.run_info_ = {
            "device": device["device"],
            "precision": device["precision"],
            "backend": device["backend"],
            "parameters": int(sum(n.count_params() for n in self.networks_)),
        }
        return self

    def _train_member(
        self,
        name: str,
        params: dict,
        config: TrainConfig,
        X: list[np.ndarray],
        y: np.ndarray,
        kinds: list[str],
        train: np.ndarray,
        val: np.ndarray,
        seed: int,
    ) -> tuple[Any, pd.DataFrame, int]:
        """One network: epochs chosen on validation (then optionally refit on everything), optionally
        continued on the large images. Returns (network, history, best epoch)."""
        small = X[:-1] if self.progressive_ else X
        n = len(self.classes_)
        fit = fit_network(
            name,
            [x[train] for x in small],
            y[train],
            n,
            X_val=[x[val] for x in small],
            y_val=y[val],
            kinds=kinds,
            params=params,
            config=config,
            seed=seed,
        )
        history, network = fit.history, fit.model
        if config.refit and len(val):
            everything = np.arange(len(y))
            again = fit_network(
                name,
                [x[everything] for x in small],
                y,
                n,
                kinds=kinds,
                params=params,
                config=config.replace(patience=0),
                seed=seed,
                epochs=max(1, fit.best_epoch),
            )
            history = pd.concat(
                [history.assign(stage="select"), again.history.assign(stage="refit")], ignore_index=True
            )
            network = again.model
        if self.progressive_:
            large = [X[-1]]
            bigger = build_network(name, [large[0][train]], n, params)
            copy_weights(network, bigger, skip=[layer.name for layer in bigger.layers if layer.name.endswith("_norm")])
            more = fit_network(
                name,
                [large[0][train]],
                y[train],
                n,
                X_val=[large[0][val]],
                y_val=y[val],
                kinds=kinds,
                config=config,
                seed=seed + 500,
                model=bigger,
                epochs=config.progressive_epochs,
                learning_rate=config.learning_rate / 2,
            )
            history = pd.concat([history, more.history.assign(stage="large")], ignore_index=True)
            network = more.model
        return network, history, fit.best_epoch

    # ---------------------------------------------------------------------------------------------
    def _predict_inputs(self, X: Any) -> list[np.ndarray]:
        X = _as_list(X)
        return X[-1:] if self.progressive_ else X

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (columns in the order of ``classes_``), averaged over ensemble members."""
        X = self._predict_inputs(X)
        return np.mean([predict_proba(network, X) for network in self.networks_], axis=0)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def network(self) -> Any:
        """The trained Keras model (an ensemble as one model averaging its members)."""
        return self.networks_[0] if len(self.networks_) == 1 else average_models(self.networks_)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path`` (``.keras``) and its description (``.json``); the estimator must come from :func:`fit_final`."""
        if not hasattr(self, "description_"):
            raise ValueError(
                "save() needs what prediction recomputes from a wav file: train with fit_final(estimator, tables)"
            )
        return modelfile.write(path, self.network(), self.description_)


# -------------------------------------------------------------------------------------------------
# Hyper-parameters chosen on validation speakers


class ValidationSearch(ClassifierMixin, BaseEstimator):
    """A network whose hyper-parameters are chosen on validation speakers only.

        ValidationSearch(NetworkClassifier("statpool_lld"), {"dropout": [0.3, 0.5], "learning_rate": [1e-3, 3e-4]})

    ``fit`` trains one network per combination of ``grid`` (a name of a
    :class:`~ser_utils.training.TrainConfig` setting changes training, any other name is a hyper-parameter
    of the network's builder) on the data it is given. Every candidate carves the same validation speakers
    from it (:func:`ser_utils.splits.validation_split`) for early stopping; the one whose validation
    speakers score the best clip-level UAR is kept (the first on a tie). Inside ``cross_validate`` that
    is a fold's training part, so the test speaker never steers the choice. Cost: one fit per combination.
    After ``fit``: ``best_params_``, ``search_`` (each combination's validation UAR and epochs) and the
    kept network's ``history_``, ``fit_info_`` (with ``best_params``, read by :func:`chosen_params`, and
    ``searched_epochs``, every candidate's), ``run_info_``. ``refit`` cannot be searched or set: the refit network
    would be chosen on speakers it trained on.
    """

    def __init__(self, estimator: NetworkClassifier | None = None, grid: Mapping[str, Sequence] | None = None) -> None:
        self.estimator = estimator
        self.grid = grid

    @property
    def model(self) -> str:
        return self._base().model

    def _base(self) -> NetworkClassifier:
        if not isinstance(self.estimator, NetworkClassifier) or isinstance(self.estimator, FineTuner):
            raise ValueError("ValidationSearch searches a NetworkClassifier (a network trained from random weights)")
        return self.estimator

    def candidate(self, settings: Mapping[str, Any]) -> NetworkClassifier:
        """The estimator with one combination of settings: training settings into its config, the rest into
        its builder's hyper-parameters (checked by name)."""
        base = self._base()
        config = TrainConfig.from_dict(base.config)
        training = {k: v for k, v in settings.items() if k in config.to_dict()}
        if {"seed", "val_fraction"} & set(training):
            raise ValueError(
                "the search cannot vary seed or val_fraction: every candidate must hold out the same speakers"
            )
        if config.replace(**training).refit:
            raise ValueError(
                "a search cannot refit: the refit network trains on the validation speakers it is then chosen on "
                "(set training refit to false)"
            )
        params = {**(base.params or {}), **{k: v for k, v in settings.items() if k not in training}}
        get_model(base.model).check_params(params)
        return clone(base).set_params(params=params, config=config.replace(**training))

    def fit(self, X: Any, y: Sequence, meta: pd.DataFrame | None = None) -> ValidationSearch:
        """Fit every candidate on ``X``/``y``, keep the one its validation speakers score best."""
        combinations = list(ParameterGrid({k: list(v) for k, v in dict(self.grid or {}).items()}))
        candidates = [self.candidate(settings) for settings in combinations]  # every name checked before training
        y = np.asarray(y).astype(str)
        meta = pd.DataFrame({"utt_id": np.arange(len(y)).astype(str)}) if meta is None else meta.reset_index(drop=True)
        config = TrainConfig.from_dict(self._base().config)
        _, val = validation_split(meta, config.val_fraction, config.seed)
        if len(combinations) > 1 and not len(val):
            raise ValueError("no validation speakers to choose on: set training val_fraction > 0 (0.1 by default)")
        clips = source_ids(meta.iloc[val])
        X_val = [x[val] for x in _as_list(X)]
        rows, best, best_uar = [], None, -np.inf
        for settings, candidate in zip(combinations, candidates):
            fitted = candidate.fit(X, y, meta=meta)
            uar = np.nan
            if len(val):
                proba = pd.DataFrame(fitted.predict_proba(X_val), columns=fitted.classes_).groupby(clips).mean()
                truth = pd.Series(y[val], index=clips).groupby(level=0).first().loc[proba.index]
                uar = float(balanced_accuracy_score(truth, proba.idxmax(axis=1)))
            rows.append({**settings, "val_uar": uar, "epochs": fitted.fit_info_["epochs"]})
            if best is None or uar > best_uar:
                best, best_uar, self.best_params_ = fitted, uar, settings
        self.best_, self.search_ = best, pd.DataFrame(rows)
        self.classes_, self.history_, self.run_info_ = best.classes_, best.history_, best.run_info_
        self.fit_info_ = {
            **best.fit_info_,
            "best_params": str(self.best_params_),  # as scikit-learn's searches give it (GridSearchCV)
            "searched_epochs": int(self.search_["epochs"].sum()),
        }
        if len(val):
            self.fit_info_["val_uar"] = round(best_uar, 4)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.best_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.best_.predict(X)


def network_estimator(
    name: str,
    params: Mapping[str, Any] | None = None,
    config: TrainConfig | Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence] | None = None,
) -> NetworkClassifier | ValidationSearch:
    """``NetworkClassifier(name, params, config)``, its hyper-parameters searched on validation speakers
    over ``grid`` when one is given (a notebook's ``search`` entry for the network)."""
    network = NetworkClassifier(name, params, config)
    return ValidationSearch(network, grid) if grid else network


def training_notes(speaker_norm: bool, grid: Mapping[str, Sequence] | None = None) -> str:
    """The notes of a network's result row: speaker normalisation, and what a search chose from."""
    notes = ["speaker-normalised inputs"] if speaker_norm else []
    if grid:
        choices = ", ".join(f"{k} in {list(v)}" for k, v in grid.items())
        notes.append(f"hyper-parameters chosen on validation speakers ({choices})")
    return "; ".join(notes)


def chosen_params(result: CVResult) -> dict[str, Any]:
    """The combination a search (:class:`ValidationSearch`, or scikit-learn's) chose in most folds of a
    cross-validation, the earliest fold's on a tie, for the final model: ``search.candidate(chosen_params(result))``;
    {} without a search."""
    chosen = result.per_fold.get("best_params", pd.Series(dtype=object)).dropna()
    return ast.literal_eval(Counter(chosen).most_common(1)[0][0]) if len(chosen) else {}


# -------------------------------------------------------------------------------------------------
# Pre-trained networks: loaded once per process, fine-tuned or used as they are


def with_new_head(source: Any, description: Mapping[str, Any], n_classes: int) -> Any:
    """The pre-trained network with a fresh output layer for ``n_classes`` emotions, every other layer frozen.

    Built by the same builder with the same hyper-parameters; every layer but the output gets the
    pre-trained weights (its input normalisation included: features keep the scale they were learned
    on). The new output starts at zero: uniform probabilities, whatever the scale of the target's features.
    """
    spec = get_model(description["model"])
    network = spec.build(
        [item["shape"] for item in description["inputs"]], n_classes, **dict(description.get("params") or {})
    )
    for name in copy_weights(source, network, skip=["emotion"]):
        network.get_layer(name).trainable = False
    head = network.get_layer("emotion")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    return network


def last_block(network: Any) -> list[Any]:
    """The layers from the last convolutional or recurrent layer (:data:`BLOCK_LAYERS`) to the output."""
    layers = list(network.layers)
    starts = [i for i, layer in enumerate(layers) if type(layer).__name__ in BLOCK_LAYERS]
    return layers[starts[-1] :] if starts else layers[-1:]


def unfreeze_last_block(network: Any) -> list[str]:
    """Make the last block trainable (batch-norm layers stay frozen, in inference mode); names unfrozen."""
    names = []
    for layer in last_block(network):
        if type(layer).__name__ != "BatchNormalization":
            layer.trainable = True
            names.append(layer.name)
    return names


class FineTuner(NetworkClassifier):
    """A pre-trained network (a saved ``.keras`` path) adapted to the target's emotions.

    ``strategy``: ``head`` trains a new output layer on the frozen network; ``last_block`` then also
    unfreezes the last convolutional or recurrent block and continues at ``lr_factor`` × the learning
    rate. Inputs must be the features the network was trained on (same sets, same shapes).
    """

    def __init__(
        self,
        source: str | Path = "",
        strategy: str = "last_block",
        config: TrainConfig | Mapping[str, Any] | None = None,
        lr_factor: float = 0.1,
    ) -> None:
        self.source = source
        self.strategy = strategy
        self.config = config
        self.lr_factor = lr_factor

    @property
    def model(self) -> str:
        return modelfile.read_description(self.source)["model"]

    def _settings(self) -> tuple[str, dict[str, Any], TrainConfig]:
        if self.strategy not in FINE_TUNING:
            raise ValueError(
                f"unknown strategy {self.strategy!r}; choose one of {', '.join(FINE_TUNING)} "
                f"(training from random weights is NetworkClassifier)"
            )
        description = modelfile.read_description(self.source)
        config = TrainConfig.from_dict(self.config)
        if config.refit or config.progressive_epochs or config.ensemble > 1:
            config = config.replace(refit=False, progressive_epochs=0, ensemble=1)
        return description["model"], dict(description.get("params") or {}), config

    def _check_inputs(self, X: list[np.ndarray], name: str, config: TrainConfig) -> list[str]:
        _, description = modelfile.load(self.source)
        expected = [list(item["shape"]) for item in description["inputs"]]
        got = [list(x.shape[1:]) for x in X]
        if expected != got:
            raise ValueError(
                f"the target's input shapes {got} differ from the pre-trained network's {expected}: "
                f"extract the target with the same feature sets and parameters as the source"
            )
        self.progressive_ = False
        return list(get_model(name).input_kinds)

    def _train_member(self, name, params, config, X, y, kinds, train, val, seed):
        source, description = modelfile.load(self.source)
        set_seed(seed)
        network = with_new_head(source, description, len(self.classes_))
        reuse = [str(Path(self.source).resolve()), Path(self.source).stat().st_mtime, len(self.classes_)]
        common = dict(X_val=[x[val] for x in X], y_val=y[val], kinds=kinds, config=config, model=network)
        fit = fit_network(
            name, [x[train] for x in X], y[train], len(self.classes_), seed=seed, reuse=[*reuse, "head"], **common
        )
        history = fit.history.assign(stage="head")
        if self.strategy == "last_block":
            unfreeze_last_block(network)
            more = fit_network(
                name,
                [x[train] for x in X],
                y[train],
                len(self.classes_),
                seed=seed + 1,
                learning_rate=config.learning_rate * self.lr_factor,
                reuse=[*reuse, "last block"],
                **common,
            )
            history = pd.concat([history, more.history.assign(stage="last block")], ignore_index=True)
        return network, history, fit.best_epoch


class ZeroShot(ClassifierMixin, BaseEstimator):
    """A pre-trained network used as it is, on the emotions it shares with the data (no training at all).

    ``fit`` only learns the label space: the emotions of ``y`` the network knows. Probabilities are
    restricted to those and renormalised. Give it target rows of shared emotions only (other clips
    could never be right).
    """

    def __init__(self, source: str | Path = "") -> None:
        self.source = source

    @property
    def model(self) -> str:
        return modelfile.read_description(self.source)["model"]

    def fit(self, X: Any, y: Sequence, meta: pd.DataFrame | None = None) -> ZeroShot:
        _, description = modelfile.load(self.source)
        shared = sorted(set(map(str, y)) & set(description["labels"]))
        if not shared:
            raise ValueError(
                f"the network's emotions {description['labels']} and the data's share none: zero-shot is undefined"
            )
        self.classes_ = np.array(shared)
        self.fit_info_ = {"n_val": 0, "epochs": 0}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        network, description = modelfile.load(self.source)
        columns = [description["labels"].index(label) for label in self.classes_]
        proba = predict_proba(network, _as_list(X))[:, columns]
        return proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# -------------------------------------------------------------------------------------------------
# The final model: trained on everything, with what prediction needs


def describe_input(table: FeatureTable) -> dict[str, Any]:
    """How to recompute one input from a wav file: the feature set and its full parameters, or, for a
    combined table (:func:`ser_utils.features.combine_tables`, params keyed by set), its parts in column order."""
    item = {
        "feature_set": table.feature_set,
        "params": dict(table.params),
        "kind": table.kind,
        "shape": list(np.shape(table.X)[1:]),
    }
    if table.feature_set in FEATURE_SETS:
        item["params"] = get_feature_set(table.feature_set).resolve(table.params)
    elif table.params and all(name in FEATURE_SETS for name in table.params):
        item.update(
            params={},
            parts=[
                {"feature_set": name, "params": get_feature_set(name).resolve(p)} for name, p in table.params.items()
            ],
        )
    else:
        raise ValueError(
            f"cannot describe input {table.feature_set!r} for prediction: neither a feature set nor a "
            f"combination of feature sets (params {sorted(table.params)})"
        )
    return item


def start_fold_workers(n_jobs: int) -> None:
    """Start the worker processes that train folds (:func:`~ser_utils.evaluation.fold_executor`) now, and
    have them load Keras and its backend, so that they are ready when the first folds come: a notebook calls this
    before it reads its data (a few seconds saved per notebook). Nothing happens on a Dask cluster or
    with one worker."""
    workers = cluster.effective_workers(n_jobs)
    if workers > 1 and cluster.executor() is None:
        pool = fold_executor(workers)
        for _ in range(workers):
            pool.submit(_load_keras)


def _load_keras() -> None:
    keras_module()


def chosen_epochs(result: CVResult) -> int | None:
    """The number of epochs the folds of a cross-validation chose on their validation speakers (the
    median of their best epochs; after a search, of the folds that chose :func:`chosen_params`), or None
    when its model records none (not a network)."""
    folds = result.per_fold
    if "best_params" in folds and folds["best_params"].notna().any():
        folds = folds[folds["best_params"] == str(chosen_params(result))]
    best = folds.get("best_epoch", pd.Series(dtype=float)).dropna()
    return max(1, int(round(float(best.median())))) if len(best) else None


def fit_final(
    estimator: NetworkClassifier | ValidationSearch,
    tables: FeatureTable | Sequence[FeatureTable],
    *,
    speaker_norm: bool = False,
    use_augmented: bool = True,
    dataset: str = "",
    epochs: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> NetworkClassifier:
    """A clone of ``estimator`` trained on every clip of ``tables``, ready to ``.save(path)`` and use with
    :mod:`ser_utils.predict`.

    ``epochs``: train every clip for that many epochs, as the cross-validation chose them
    (:func:`chosen_epochs`): no clip is held out and no epoch is spent past the best one. None:
    validation speakers are carved for early stopping as in the folds. A :class:`ValidationSearch`
    trains the network with ``settings``, what its folds chose (:func:`chosen_params`).
    """
    from .runinfo import package_versions

    if isinstance(estimator, ValidationSearch):
        if settings is None:
            raise ValueError(
                "a search's final network needs the settings its folds chose: settings=chosen_params(result)"
            )
        estimator = estimator.candidate(settings)

    tables = as_tables(tables)
    meta = tables[0].meta.reset_index(drop=True)
    X = model_inputs(tables, speaker_norm)
    rows = np.arange(len(meta)) if use_augmented else np.flatnonzero(~is_augmented(meta))
    if epochs is not None:
        config = TrainConfig.from_dict(estimator.config)
        estimator = clone(estimator).set_params(
            config=config.replace(epochs=int(epochs), patience=0, val_fraction=0.0, refit=False)
        )
    fitted = clone(estimator).fit(
        take(X, rows), meta["emotion"].astype(str).to_numpy()[rows], meta=meta.iloc[rows].reset_index(drop=True)
    )
    name, params, config = fitted._settings()
    described = tables[-1:] if fitted.progressive_ else tables
    history = fitted.history_
    fitted.description_ = {
        "model": name,
        "labels": [str(c) for c in fitted.classes_],
        "inputs": [describe_input(t) for t in described],
        "audio": asdict(tables[0].audio) if tables[0].audio is not None else {},
        "params": params,
        "config": config.to_dict(),
        "speaker_norm": bool(speaker_norm),
        "aggregate": "mean probability over the rows of a clip (its windows)",
        "trained": {
            "dataset": dataset,
            "rows": int(len(rows)),
            "clips": int(len(np.unique(source_ids(meta.iloc[rows])))),
            "speakers": int(meta["speaker"].nunique()) if "speaker" in meta else None,
            **fitted.fit_info_,
            **fitted.run_info_,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "history": history.to_dict("list"),
        },
        "versions": {
            k: v
            for k, v in package_versions().items()
            if k in ("python", "numpy", "librosa", "keras", "tensorflow", "jax", "torch")
        },
    }
    return fitted
