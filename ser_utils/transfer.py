"""Transfer learning: pre-train on source corpora, test zero-shot, fine-tune inside the target's folds.

    from ser_utils.transfer import load_available, pretrain, zero_shot, fine_tune_cv
    source, notes = load_available("ravdess+cremad", data_dir)           # what is there, and what is not
    trained = pretrain(source_table, "conv1d5", config=config)            # a TrainedModel, saveable
    zero = zero_shot(trained, target_table, config=config)                # shared emotions only
    result = fine_tune_cv(trained, target_table, "loso", strategy="last_block", config=config)

Strategies (:data:`STRATEGIES`): ``head`` freezes every pre-trained layer and trains a new output layer
for the target's emotions; ``last_block`` does that, then also unfreezes the last convolutional or
recurrent block and continues at a lower learning rate; ``scratch`` trains the same network from
random weights (the comparison). Fine-tuning happens inside each fold of the target's protocol, on
that fold's training part only, with early stopping on its validation part: the test fold is never
seen, exactly as in :func:`ser_utils.training.cross_validate_model`, which does the fold loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .corpora import CorpusNotFoundError
from .datasets import Dataset, is_synthetic, load_dataset, resolve_dataset
from .emotions import select_labels
from .evaluation import CVResult
from .features import FeatureTable
from .metrics import chance_levels, scores
from .models import get_model
from .models._backend import keras_module
from .training import (DeepCVResult, TrainConfig, TrainedModel, _is_augmented, _speaker_normalized, clip_probabilities,
                       copy_weights, cross_validate_model, fit_final, fit_network, predict_proba, prepare_inputs)

#: Fine-tuning strategies, in the order of the reference study's discussion.
STRATEGIES = ("head", "last_block", "scratch")

#: Layer types that end a feature-extracting block: ``last_block`` unfreezes from the last of them on.
BLOCK_LAYERS = ("Conv1D", "Conv2D", "LSTM", "GRU", "Bidirectional")

#: Rows of the reference study's summary table: (fine-tuning strategy, with augmentation).
SUMMARY_ROWS = {"target only": ("scratch", False), "transfer": (None, False),
                "augmentation": ("scratch", True), "transfer + augmentation": (None, True)}


def default_source(target: str) -> str:
    """The source corpora for ``target``: the synthetic RAVDESS and CREMA-D layouts for a synthetic target,
    the real RAVDESS and CREMA-D otherwise (the reference study's choice)."""
    return "demo-ravdess+demo-cremad" if is_synthetic(target) else "ravdess+cremad"


@dataclass
class Availability:
    """Which components of a requested dataset could be read, and why the others could not."""

    requested: str
    present: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    dataset: Dataset | None = None

    @property
    def name(self) -> str | None:
        """The dataset name of the components that are present (None when none is)."""
        return "+".join(self.present) or None

    def message(self, details: bool = True) -> str:
        """What is missing and what to do (where it was looked for, where to get it), or "" when nothing is.
        ``details=False``: one line per missing component."""
        lines = [reason if details else reason.splitlines()[0] for reason in self.missing.values()]
        if not lines:
            return ""
        head = (f"{len(self.missing)} of {len(self.missing) + len(self.present)} corpora of {self.requested!r} "
                f"are not here; using {self.name!r}." if self.present else
                f"none of the corpora of {self.requested!r} is here.")
        return head + "\n" + "\n".join("  - " + line.replace("\n", "\n    ") for line in lines)


def load_available(name: str, data_dir: Any = None, **kwargs: Any) -> Availability:
    """Load the components of ``name`` that are present under the data root (others listed with the reason).

    ``kwargs`` go to :func:`ser_utils.datasets.load_dataset` (emotions, merge, seed, synthetic_size ...).
    Never raises for a missing corpus: a notebook says what is missing and goes on with the rest.
    """
    found, loaded = Availability(name), []
    for component in resolve_dataset(name):
        try:
            loaded.append(load_dataset(component, data_dir, **kwargs))
            found.present.append(component)
        except (CorpusNotFoundError, ValueError) as err:  # ValueError: e.g. none of the selected emotions there
            found.missing[component] = str(err)
    if loaded:
        found.dataset = merge_datasets(loaded)
    return found


def merge_datasets(datasets: Sequence[Dataset], emotions: Sequence[str] | None = None) -> Dataset:
    """One dataset of several loaded ones (as ``load_dataset("a+b")`` would give), keeping only ``emotions``
    when given; nothing is read again."""
    manifest = pd.concat([d.manifest for d in datasets], ignore_index=True)
    if emotions is not None:
        manifest = select_labels(manifest, list(emotions))
    return Dataset(name="+".join(d.name for d in datasets), manifest=manifest,
                   skipped=pd.concat([d.skipped for d in datasets], ignore_index=True),
                   roots={k: v for d in datasets for k, v in d.roots.items()})


def cross_corpus_dataset(train: Availability, test: Availability) -> tuple[Dataset, list[str]]:
    """The training and test corpora of a cross-corpus experiment as one dataset, on the emotions both
    groups have (returned too)."""
    if train.dataset is None or test.dataset is None:
        raise ValueError("cross-corpus evaluation needs at least one training and one test corpus:\n"
                         + "\n".join(m for m in (train.message(), test.message()) if m))
    common = shared_emotions(train.dataset.manifest["emotion"].unique(), test.dataset.manifest["emotion"].unique())
    return merge_datasets([train.dataset, test.dataset], common), common


def shared_emotions(source: Sequence[str], target: Sequence[str]) -> list[str]:
    """Emotions both label sets have, sorted (the zero-shot and cross-corpus label space)."""
    return sorted(set(map(str, source)) & set(map(str, target)))


# --------------------------------------------------------------------------------------------------
# Pre-training and zero-shot evaluation


def pretrain(tables: FeatureTable | Sequence[FeatureTable], model: str, *, params: Mapping[str, Any] | None = None,
             config: TrainConfig | None = None, dataset: str = "") -> TrainedModel:
    """Train ``model`` on every clip of the source corpora (early stopping on held-out source speakers).

    The same as :func:`ser_utils.training.fit_final`; named for what it is here. Save it with
    :meth:`~ser_utils.training.TrainedModel.save` to reuse it or to predict with it.
    """
    return fit_final(tables, model, params=params, config=config, dataset=dataset)


def _check_compatible(trained: TrainedModel, inputs) -> None:
    """The target's inputs must be the features the source network was trained on (same sets, same shapes)."""
    expected = [(item["feature_set"], list(item["shape"])) for item in trained.inputs]
    got = [(fs, list(np.shape(x)[1:])) for fs, x in zip(inputs.feature_sets, inputs.X)]
    if expected != got:
        raise ValueError(f"the target's features {got} differ from the pre-trained network's {expected}: "
                         f"extract the target with the same feature sets and parameters as the source")


def zero_shot(trained: TrainedModel, tables: FeatureTable | Sequence[FeatureTable], *, config: TrainConfig | None = None,
              experiment: str = "zero-shot", features: str | None = None) -> CVResult:
    """The pre-trained network on the target, no target training at all, on the emotions both share.

    Probabilities are restricted to the shared emotions (and renormalised); target clips of other
    emotions are left out. Scored per target speaker (one "fold" each), so the spread is comparable
    with leave-one-speaker-out. With ``config.speaker_norm`` the target is standardised per speaker,
    as the source was.
    """
    config = config or TrainConfig.from_dict(trained.config)
    inputs = _speaker_normalized(prepare_inputs(tables, trained.model_name), trained.model_name, config)
    _check_compatible(trained, inputs)
    meta = inputs.meta
    shared = shared_emotions(trained.labels, meta["emotion"].astype(str).unique())
    if not shared:
        raise ValueError(f"the source emotions {trained.labels} and the target's share none: zero-shot is undefined")
    rows = np.flatnonzero(meta["emotion"].astype(str).isin(shared).to_numpy() & ~_is_augmented(meta))
    columns = [trained.labels.index(label) for label in shared]
    proba = predict_proba(trained.model, inputs.take(rows))[:, columns]
    proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    sources = (meta["source_id"] if "source_id" in meta else meta["utt_id"]).astype(str).to_numpy()[rows]
    clips = clip_probabilities(proba, sources, shared)
    first = meta.iloc[rows].assign(_src=sources).groupby("_src", sort=False).first().loc[clips.index]
    predictions = pd.DataFrame({"source_id": clips.index.to_numpy(), "fold": "speaker " + first["speaker"].astype(str).to_numpy(),
                                "true": first["emotion"].astype(str).to_numpy(),
                                "pred": np.asarray(shared)[clips.to_numpy().argmax(axis=1)]})
    predictions = predictions.join(clips.add_prefix("p_").reset_index(drop=True))
    per_fold = pd.DataFrame([{"fold": fold, "n_train": 0, "n_val": 0, **scores(g["true"], g["pred"], shared)}
                             for fold, g in predictions.groupby("fold", sort=True)])
    return CVResult(experiment, features or "+".join(inputs.feature_sets), trained.model_name, "zero-shot", shared,
                    per_fold[["fold", "n_train", "n_val", "n_test", "accuracy", "uar", "macro_f1"]], predictions,
                    chance_levels(predictions["true"], shared))


# --------------------------------------------------------------------------------------------------
# Fine-tuning


def with_new_head(trained: TrainedModel, n_classes: int, *, params: Mapping[str, Any] | None = None) -> Any:
    """The pre-trained network with a fresh output layer for ``n_classes`` emotions, every other layer frozen.

    Built by the same builder with the same hyper-parameters, then every layer but the output gets the
    pre-trained weights (its input normalisation included: the features keep the scale they were
    learned on).
    """
    spec = get_model(trained.model_name)
    shapes = [item["shape"] for item in trained.inputs]
    network = spec.build(shapes, n_classes, **dict(trained.params if params is None else params))
    for name in copy_weights(trained.model, network, skip=["emotion"]):
        network.get_layer(name).trainable = False
    head = network.get_layer("emotion")  # zero weights: uniform probabilities to start with, whatever the
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])  # scale of the features on the target
    return network


def last_block(network: Any) -> list[Any]:
    """The layers from the last convolutional or recurrent layer (:data:`BLOCK_LAYERS`) to the output."""
    layers = list(network.layers)
    starts = [i for i, layer in enumerate(layers) if type(layer).__name__ in BLOCK_LAYERS]
    return layers[starts[-1]:] if starts else layers[-1:]


def unfreeze_last_block(network: Any) -> list[str]:
    """Make the last block trainable (batch-norm layers stay frozen, in inference mode); names unfrozen."""
    names = []
    for layer in last_block(network):
        if type(layer).__name__ == "BatchNormalization":
            continue
        layer.trainable = True
        names.append(layer.name)
    return names


def _fine_tune_member(model: str, inputs, large, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                      train_and_val: np.ndarray, n_classes: int, params: dict, config: TrainConfig, seed: int, *,
                      trained: TrainedModel, strategy: str, lr_factor: float) -> tuple[Any, pd.DataFrame, int]:
    """One fine-tuned network of one target fold (the ``member`` of :func:`~ser_utils.training.cross_validate_model`;
    ``scratch`` needs none: the default member trains from random weights)."""
    keras_module().utils.set_random_seed(seed)
    network = with_new_head(trained, n_classes, params=params)
    fit = fit_network(model, inputs.take(train), y[train], n_classes, X_val=inputs.take(val), y_val=y[val],
                      kinds=inputs.kinds, config=config, seed=seed, model=network)
    history = fit.history.assign(stage="head")
    if strategy == "last_block":
        unfreeze_last_block(network)
        more = fit_network(model, inputs.take(train), y[train], n_classes, X_val=inputs.take(val), y_val=y[val],
                           kinds=inputs.kinds, config=config, seed=seed + 1, model=network,
                           learning_rate=config.learning_rate * lr_factor)
        history = pd.concat([history, more.history.assign(stage="last block")], ignore_index=True)
    return network, history, fit.best_epoch


def fine_tune_cv(trained: TrainedModel | None, tables: FeatureTable | Sequence[FeatureTable], protocol: str, *,
                 strategy: str, experiment: str, config: TrainConfig | None = None, use_augmented: bool = False,
                 lr_factor: float = 0.1, n_folds: int | None = None, max_folds: int | None = None,
                 features: str | None = None, model: str | None = None, params: Mapping[str, Any] | None = None,
                 progress: bool = True) -> DeepCVResult:
    """Fine-tune (or, with ``strategy="scratch"``, train afresh) in every fold of the target's ``protocol``.

    ``trained``: the pre-trained network (may be None for ``scratch``, then give ``model`` and ``params``).
    ``use_augmented``: train on the augmented copies in the table too (they stay in training folds).
    ``lr_factor``: learning rate of the ``last_block`` phase relative to ``config.learning_rate``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if trained is None and strategy != "scratch":
        raise ValueError(f"strategy {strategy!r} needs a pre-trained network (pretrain() on a source corpus)")
    model = model or trained.model_name
    params = dict(trained.params if params is None and trained is not None else params or {})
    config = config or TrainConfig()
    if trained is not None:
        _check_compatible(trained, prepare_inputs(tables, model))
    member = None if strategy == "scratch" else partial(_fine_tune_member, trained=trained, strategy=strategy,
                                                        lr_factor=lr_factor)
    return cross_validate_model(tables, model, protocol, experiment=experiment, params=params, config=config,
                                n_folds=n_folds, use_augmented=use_augmented, features=features, max_folds=max_folds,
                                progress=progress, member=member)


# --------------------------------------------------------------------------------------------------
# Tables


def cell(result: CVResult | None, metric: str = "uar") -> str:
    """``0.512 ± 0.043`` (fold mean ± standard deviation), or ``—`` for an experiment that did not run."""
    if result is None:
        return "—"
    s = result.summary().loc[metric]
    return f"{s['mean']:.3f}" + ("" if np.isnan(s["std"]) else f" ± {s['std']:.3f}")


def summary_table(results: Mapping[tuple[str, bool, str], CVResult], *, transfer: str,
                  protocols: Sequence[str] = ("random", "loso", "lopo"), metric: str = "uar") -> pd.DataFrame:
    """The reference study's table, honestly: rows target only / transfer / augmentation / transfer +
    augmentation, one column per protocol, cells "mean ± std" over folds.

    ``results`` maps (strategy, augmented, protocol) to a result; ``transfer``: the fine-tuning strategy
    that stands for "transfer" (chosen before seeing results, not the best on test folds).
    """
    names = {"random": "random split", "loso": "LOSO", "lopo": "LOPO"}
    rows = {}
    for row, (strategy, augmented) in SUMMARY_ROWS.items():
        strategy = strategy or transfer
        rows[row] = {names.get(p, p): cell(results.get((strategy, augmented, p)), metric) for p in protocols}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"{metric.upper()} (mean ± std over folds)"
    return table


def gains(results: Mapping[tuple[str, bool, str], CVResult], *, transfer: str, protocol: str = "loso",
          metric: str = "uar") -> dict[str, float]:
    """UAR differences under ``protocol``: transfer − target only, and with augmentation on both sides."""
    def mean(key):
        r = results.get(key)
        return float(r.summary().loc[metric, "mean"]) if r is not None else float("nan")

    return {"transfer − target only": mean((transfer, False, protocol)) - mean(("scratch", False, protocol)),
            "transfer + aug − augmentation": mean((transfer, True, protocol)) - mean(("scratch", True, protocol))}


def cross_corpus(tables: FeatureTable | Sequence[FeatureTable], model: str, *, train_corpora: Sequence[str],
                 test_corpora: Sequence[str], experiment: str, params: Mapping[str, Any] | None = None,
                 config: TrainConfig | None = None, features: str | None = None, progress: bool = True) -> DeepCVResult:
    """Train on ``train_corpora`` and test on ``test_corpora`` (one fold; validation speakers from the
    training corpora). Give tables whose labels are already the intersection of both groups'."""
    return cross_validate_model(tables, model, "cross_corpus", experiment=experiment, params=params, config=config,
                                train_corpora=list(train_corpora), test_corpora=list(test_corpora),
                                features=features, progress=progress)


def per_corpus(result: CVResult, meta: pd.DataFrame) -> pd.DataFrame:
    """Scores of a result's clip predictions for each test corpus (``meta``: the table's, with ``corpus``)."""
    corpus_of = meta.drop_duplicates("source_id" if "source_id" in meta else "utt_id")
    corpus_of = corpus_of.set_index("source_id" if "source_id" in meta else "utt_id")["corpus"]
    predictions = result.predictions.assign(corpus=result.predictions["source_id"].map(corpus_of))
    rows = {corpus: scores(g["true"], g["pred"], result.labels) for corpus, g in predictions.groupby("corpus")}
    table = pd.DataFrame.from_dict(rows, orient="index")[["n_test", "accuracy", "uar", "macro_f1"]]
    table.index.name = "test corpus"
    return table


__all__ = ["Availability", "BLOCK_LAYERS", "STRATEGIES", "SUMMARY_ROWS", "cell", "cross_corpus", "cross_corpus_dataset", "default_source",
           "fine_tune_cv", "gains", "last_block", "load_available", "merge_datasets", "per_corpus", "pretrain", "shared_emotions", "summary_table",
           "unfreeze_last_block", "with_new_head", "zero_shot"]
