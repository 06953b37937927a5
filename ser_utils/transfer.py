"""Transfer learning: which source corpora are here, pre-training (cached on disk), the summary tables.

    found = load_available(default_source("emovo"), data_dir, emotions=target_emotions)  # every other corpus here
    source = pretrain(source_table, "conv1d5", config=training)           # trained once, then read from the cache
    cross_validate(ZeroShot(source.path), shared_rows, "loso", ...)        # no target training
    cross_validate(FineTuner(source.path, "last_block"), target, "loso", ...)
    cross_validate(NetworkClassifier("conv1d5"), target, "loso", pool=source_table, ...)  # pooled training
    cross_validate(NetworkClassifier("conv1d5"), target, "loso", ...)    # target only: the comparison

Fine-tuning is an estimator (:class:`ser_utils.estimators.FineTuner`), so it runs in the one
evaluation loop like any model: inside each fold of the target's protocol, on that fold's training
part only, with early stopping on validation speakers carved from it; the test fold is never seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from . import modelfile, paths
from .corpora import CorpusNotFoundError
from .datasets import CORPORA, SYNTHETIC, Dataset, is_synthetic, load_dataset, resolve_dataset
from .emotions import select_labels
from .estimators import FINE_TUNING, FineTuner, NetworkClassifier, fit_final
from .evaluation import CVResult, as_tables
from .evidence import per_speaker
from .features import FeatureTable
from .metrics import scores
from .models import keras_module
from .rows import source_ids
from .training import TrainConfig

#: How notebook 08 uses the source corpora: pooled training (the source clips join every fold's training
#: part, speaker-normalised per corpus speaker), fine-tuning a pre-trained network (a new head; the last
#: block too), or not at all (the target only).
STRATEGIES = ("pooled", *FINE_TUNING, "scratch")

#: How each strategy is named in result rows (the experiment's first words).
STRATEGY_LABELS = {
    "pooled": "transfer (pooled)",
    "head": "transfer (head)",
    "last_block": "transfer (last block)",
    "scratch": "target only",
}

#: Rows of the reference study's summary table: (strategy, with augmentation); None: the ``transfer`` strategy.
SUMMARY_ROWS = {
    "target only": ("scratch", False),
    "transfer": (None, False),
    "augmentation": ("scratch", True),
    "transfer + augmentation": (None, True),
}


def strategy_run(
    strategy: str,
    network: str,
    params: Mapping[str, Any] | None = None,
    config: TrainConfig | Mapping[str, Any] | None = None,
    *,
    pretrained: str | Path | None = None,
    source: FeatureTable | None = None,
    lr_factor: float = 0.1,
) -> dict[str, Any]:
    """What :func:`~ser_utils.evaluation.cross_validate` takes for one strategy of :data:`STRATEGIES`: the
    ``estimator``, and for pooled training the ``pool`` (the source table; its rows train in every fold,
    never validate or test). ``pretrained``: the pre-trained network's file, for the fine-tuning strategies."""
    if strategy == "scratch":
        return {"estimator": NetworkClassifier(network, params, config)}
    if strategy == "pooled":
        if source is None:
            raise ValueError("pooled training needs the source corpora's feature table (source=...)")
        return {"estimator": NetworkClassifier(network, params, config), "pool": source}
    if strategy in FINE_TUNING:
        if pretrained is None:
            raise ValueError(f"fine-tuning ({strategy}) needs a pre-trained network (pretrained=path)")
        return {"estimator": FineTuner(pretrained, strategy, config, lr_factor)}
    raise ValueError(f"unknown transfer strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")


def default_source(target: str) -> str:
    """The source corpora for ``target``: every corpus but the target's own, pooled (the synthetic layouts
    for a synthetic target). Those that are not here are left out when loaded (:func:`load_available`);
    load them with the target's emotions, so that the rest are dropped. The EMOVO study's own choice,
    RAVDESS and CREMA-D, is ``"ravdess+cremad"``."""
    own = set(resolve_dataset(target))
    names = SYNTHETIC if is_synthetic(target) else CORPORA
    return "+".join(name for name in names if name not in own)


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
        head = (
            f"{len(self.missing)} of {len(self.missing) + len(self.present)} corpora of {self.requested!r} "
            f"are not here; using {self.name!r}."
            if self.present
            else f"none of the corpora of {self.requested!r} is here."
        )
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


def load_pool(pool: str, target: str, data_dir: Any = None, **kwargs: Any) -> Availability:
    """The corpora ``pool`` names, as far as they are here: ``"all"`` is every corpus but the target's own
    (:func:`default_source`), ``""`` none. ``kwargs`` as for :func:`load_available` (give the target's
    emotions, so that the pool's others are dropped)."""
    if not pool:
        return Availability("")
    return load_available(default_source(target) if pool == "all" else pool, data_dir, **kwargs)


def merge_datasets(datasets: Sequence[Dataset], emotions: Sequence[str] | None = None) -> Dataset:
    """One dataset of several loaded ones (as ``load_dataset("a+b")`` would give), keeping only ``emotions``
    when given; nothing is read again."""
    manifest = pd.concat([d.manifest for d in datasets], ignore_index=True)
    if emotions is not None:
        manifest = select_labels(manifest, list(emotions))
    return Dataset(
        name="+".join(d.name for d in datasets),
        manifest=manifest,
        skipped=pd.concat([d.skipped for d in datasets], ignore_index=True),
        roots={k: v for d in datasets for k, v in d.roots.items()},
    )


def cross_corpus_dataset(train: Availability, test: Availability) -> tuple[Dataset, list[str]]:
    """The training and test corpora of a cross-corpus experiment as one dataset, on the emotions both
    groups have (returned too)."""
    if train.dataset is None or test.dataset is None:
        raise ValueError(
            "cross-corpus evaluation needs at least one training and one test corpus:\n"
            + "\n".join(m for m in (train.message(), test.message()) if m)
        )
    common = shared_emotions(train.dataset.manifest["emotion"].unique(), test.dataset.manifest["emotion"].unique())
    return merge_datasets([train.dataset, test.dataset], common), common


def shared_emotions(source: Sequence[str], target: Sequence[str]) -> list[str]:
    """Emotions both label sets have, sorted (the zero-shot and cross-corpus label space)."""
    return sorted(set(map(str, source)) & set(map(str, target)))


# --------------------------------------------------------------------------------------------------
# Pre-training, cached on disk


@dataclass
class Pretrained:
    """A network trained on the source corpora, saved at ``path`` (``.keras`` + ``.json``)."""

    path: Path
    description: dict[str, Any]
    reused: bool = False

    @property
    def labels(self) -> list[str]:
        return list(self.description["labels"])

    @property
    def info(self) -> dict[str, Any]:
        """Where and how it was trained (clips, speakers, epochs, seconds per epoch, device, date)."""
        return {k: v for k, v in self.description.get("trained", {}).items() if k != "history"}

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.description.get("trained", {}).get("history", {}))

    @property
    def validation_accuracy(self) -> float | None:
        """Accuracy of the held-out source speakers at the kept (best) epoch: how well it knows its source."""
        history, best = self.history, self.info.get("best_epoch")
        if "val_accuracy" not in history or not best:
            return None
        return float(history["val_accuracy"].iloc[int(best) - 1])


def pretraining_key(
    tables: Sequence[FeatureTable], network: str, params: Mapping[str, Any], config: TrainConfig, speaker_norm: bool
) -> str:
    """Hash of everything that decides the pre-trained network: the source features and labels (their
    content), the network, its hyper-parameters, the training settings and the Keras version."""
    digest = hashlib.blake2b(digest_size=10)
    for table in tables:
        digest.update(np.ascontiguousarray(table.X, dtype=np.float32).tobytes())
        digest.update(
            "\n".join(
                table.meta["utt_id"].astype(str)
                + "|"
                + table.meta["emotion"].astype(str)
                + "|"
                + table.meta["speaker"].astype(str)
            ).encode()
        )
    settings = {k: v for k, v in asdict(config).items() if k != "verbose"}
    digest.update(
        json.dumps(
            [network, dict(params), settings, bool(speaker_norm), keras_module().__version__],
            sort_keys=True,
            default=str,
        ).encode()
    )
    return digest.hexdigest()


def pretrain(
    tables: FeatureTable | Sequence[FeatureTable],
    network: str,
    *,
    params: Mapping[str, Any] | None = None,
    config: TrainConfig | Mapping[str, Any] | None = None,
    speaker_norm: bool = False,
    dataset: str = "",
    cache_root: str | Path | None = None,
) -> Pretrained:
    """Train ``network`` on every clip of the source corpora (early stopping on held-out source speakers),
    or read it from the cache when the same data and settings were pre-trained before.

    Saved in ``cache_root`` (default ``paths.cache_dir("pretrained")``) under its :func:`pretraining_key`;
    the file appears whole or not at all, so an interrupted run leaves nothing half-written.
    """
    tables = as_tables(tables)
    params, config = dict(params or {}), TrainConfig.from_dict(config)
    folder = Path(cache_root) if cache_root is not None else paths.cache_dir("pretrained")
    path = folder / f"{network}-{pretraining_key(tables, network, params, config, speaker_norm)}.keras"
    if path.exists():
        try:
            return Pretrained(path, modelfile.read_description(path), reused=True)
        except modelfile.ModelFileError:  # unreadable: train again and replace it
            pass
    fitted = fit_final(NetworkClassifier(network, params, config), tables, speaker_norm=speaker_norm, dataset=dataset)
    fitted.save(path)
    return Pretrained(path, modelfile.read_description(path), reused=False)


# --------------------------------------------------------------------------------------------------
# Tables


def _cell(result: CVResult | None, metric: str) -> str:
    return "—" if result is None else result.cell(metric)


def summary_table(
    results: Mapping[tuple[str, bool, str], CVResult],
    *,
    transfer: str,
    protocols: Sequence[str] = ("random", "loso", "lopo"),
    metric: str = "uar",
) -> pd.DataFrame:
    """The reference study's table, honestly: rows target only / transfer / augmentation / transfer +
    augmentation (those that ran), one column per protocol, cells "mean ± std" over folds.

    ``results`` maps (strategy, augmented, protocol) to a result; ``transfer``: the strategy (of
    :data:`STRATEGIES`, not ``scratch``) that stands for "transfer", fixed before the run (not the best of its test folds).
    """
    names = {"random": "random split", "loso": "LOSO", "lopo": "LOPO"}
    rows = {}
    for row, (strategy, augmented) in SUMMARY_ROWS.items():
        strategy = strategy or transfer
        rows[row] = {names.get(p, p): _cell(results.get((strategy, augmented, p)), metric) for p in protocols}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table[(table != "—").any(axis=1)]  # rows that did not run (augmentation, unless asked for)
    table.index.name = f"{metric.upper()} (mean ± std over folds)"
    return table


def gains(
    results: Mapping[tuple[str, bool, str], CVResult], *, transfer: str, protocol: str = "loso", metric: str = "uar"
) -> dict[str, float]:
    """UAR differences under ``protocol``: transfer − target only, and with augmentation on both sides."""

    def mean(key):
        r = results.get(key)
        return r.mean(metric) if r is not None else float("nan")

    return {
        "transfer − target only": mean((transfer, False, protocol)) - mean(("scratch", False, protocol)),
        "transfer + aug − augmentation": mean((transfer, True, protocol)) - mean(("scratch", True, protocol)),
    }


def speaker_gains(
    results: Mapping[tuple[str, bool, str], CVResult], *, transfer: str | None, protocol: str = "loso"
) -> pd.DataFrame | None:
    """Each test speaker's UAR with transfer and with the target only (no augmentation) side by side
    (:func:`~ser_utils.evidence.per_speaker`); None when either was not run."""
    pair = {
        f"transfer ({transfer})": results.get((transfer, False, protocol)),
        "target only": results.get(("scratch", False, protocol)),
    }
    return per_speaker(pair) if all(r is not None for r in pair.values()) else None


def source_subsets(source: FeatureTable, counts: Sequence[int], seed: int = 0) -> dict[int, FeatureTable]:
    """The source table cut to ``k`` of its speakers for each ``k`` of ``counts`` below their number: the first
    ``k`` of one shuffle drawn from ``seed``, so that each subset holds the smaller ones and only the number of
    speakers changes. Counts of every speaker or more are left out (that is the whole source)."""
    bad = [k for k in counts if int(k) < 1]
    if bad:
        raise ValueError(
            f"source_speaker_counts={list(counts)}: give numbers of source speakers of at least 1, e.g. [2, 8]"
        )
    speakers = source.meta["speaker"].astype(str).to_numpy()
    order = np.random.default_rng(seed).permutation(np.unique(speakers))
    return {
        k: source.take(np.flatnonzero(np.isin(speakers, order[:k])))
        for k in sorted({int(k) for k in counts})
        if k < len(order)
    }


def subset_runs(run: Mapping[str, Any], counts: Sequence[int], seed: int = 0) -> dict[int, dict[str, Any]]:
    """A pooled run (:func:`~ser_utils.evaluation.cross_validate`'s arguments, ``pool`` the source table) again
    with only ``k`` of its source speakers for each ``k`` of ``counts`` (:func:`source_subsets`), keyed by ``k``."""
    source = run["pool"]
    n = source.meta["speaker"].astype(str).nunique()
    protocol = str(run["protocol"]).upper()
    return {
        k: {**run, "pool": subset, "experiment": f"transfer (pooled, {k} of {n} source speakers) · {protocol}"}
        for k, subset in source_subsets(source, counts, seed).items()
    }


def speaker_curve(
    subsets: Mapping[int, CVResult], *, scratch: CVResult | None, pooled: CVResult, n_source: int, metric: str = "uar"
) -> pd.DataFrame:
    """Pooled training's score against the number of source speakers it pooled: none (``scratch``, the target
    alone), each subset's (:func:`subset_runs`) and all ``n_source`` (``pooled``); mean ± std over folds and the
    gain over the target alone."""
    runs = {0: scratch, **subsets, n_source: pooled}
    rows = {
        k: {metric.upper(): r.cell(metric), "mean": r.mean(metric), "std": float(r.summary().loc[metric, "std"])}
        for k, r in sorted(runs.items())
        if r is not None
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    base = rows[0]["mean"] if 0 in rows else np.nan
    table["gain over the target alone"] = table["mean"] - base
    table.index.name = "source speakers"
    return table


def reseeded(run: Mapping[str, Any], seed: int, label: str) -> dict[str, Any]:
    """A run (:func:`~ser_utils.evaluation.cross_validate`'s arguments) again with the estimator's training seed
    set to ``seed``: the same folds, other initial weights, batches and validation speakers (a fine-tuner keeps
    its pre-trained network: only its new head starts anew); named ``label, seed N · PROTOCOL``."""
    estimator = clone(run["estimator"])
    estimator.set_params(config=TrainConfig.from_dict(estimator.config, seed=int(seed)))
    protocol = str(run["protocol"]).upper()
    return {**run, "estimator": estimator, "experiment": f"{label}, seed {seed} · {protocol}"}


def seed_runs(
    runs: Mapping[tuple[str, bool, str], Mapping[str, Any]], keys: Sequence[tuple[str, bool, str]], seeds: Sequence[int]
) -> dict[tuple[tuple[str, bool, str], int], dict[str, Any]]:
    """The runs of ``keys`` ((strategy, augmented, protocol), as notebook 08 keys them) again with each of
    ``seeds`` (:func:`reseeded`), keyed by (key, seed)."""
    return {(key, int(s)): reseeded(runs[key], s, STRATEGY_LABELS[key[0]]) for key in keys for s in seeds}


def seed_gains(pairs: Mapping[int, Sequence[CVResult]], metric: str = "uar") -> pd.DataFrame:
    """Transfer against the target alone, seed by seed: ``pairs`` maps a seed to (transfer, target only)
    results; a row per seed (fold means and the gain), then their mean and standard deviation over seeds."""
    rows = {
        seed: {"transfer": moved.mean(metric), "target only": alone.mean(metric)}
        for seed, (moved, alone) in sorted(pairs.items())
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["gain"] = table["transfer"] - table["target only"]
    table.index = [f"seed {seed}" for seed in table.index]
    spread = pd.DataFrame([table.mean(), table.std()], index=["mean over seeds", "std over seeds"])
    table = pd.concat([table, spread])
    table.index.name = f"{metric.upper()} (mean over folds)"
    return table


def per_corpus(result: CVResult, meta: pd.DataFrame) -> pd.DataFrame:
    """Scores of a result's clip predictions for each test corpus (``meta``: the table's, with ``corpus``)."""
    corpus_of = pd.Series(meta["corpus"].to_numpy(), index=source_ids(meta))
    corpus_of = corpus_of[~corpus_of.index.duplicated()]
    predictions = result.predictions.assign(corpus=result.predictions["source_id"].map(corpus_of))
    rows = {corpus: scores(g["true"], g["pred"], result.labels) for corpus, g in predictions.groupby("corpus")}
    table = pd.DataFrame.from_dict(rows, orient="index")[["n_test", "accuracy", "uar", "macro_f1"]]
    table.index.name = "test corpus"
    return table


__all__ = [
    "Availability",
    "Pretrained",
    "STRATEGIES",
    "STRATEGY_LABELS",
    "SUMMARY_ROWS",
    "cross_corpus_dataset",
    "default_source",
    "load_pool",
    "gains",
    "load_available",
    "merge_datasets",
    "per_corpus",
    "pretrain",
    "pretraining_key",
    "reseeded",
    "seed_gains",
    "seed_runs",
    "shared_emotions",
    "source_subsets",
    "speaker_curve",
    "speaker_gains",
    "strategy_run",
    "subset_runs",
    "summary_table",
]
