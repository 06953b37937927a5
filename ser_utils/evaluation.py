"""One cross-validation loop for every model, the honest way by default.

    result = cross_validate(tuned_model("svm"), table, "loso", experiment="SVM · LOSO")
    result = cross_validate(NetworkClassifier("cnn2d"), table, "loso", experiment="2-D CNN · LOSO")
    result = cross_validate(ZeroShot(source_model), target, "loso", experiment="zero-shot")

An estimator is anything with scikit-learn's ``fit`` and ``predict`` (``predict_proba`` when it
has one): a Pipeline, a nested search, a Keras network (:class:`ser_utils.estimators.NetworkClassifier`),
a fine-tuned or a zero-shot pre-trained network. Inside every fold, a *clone* of it is fitted on the
training part only; augmented copies of training clips may join training, never the test part;
windows and copies of a test clip are scored together as one clip (mean class probability, else a
majority vote). An estimator whose ``fit`` takes ``meta`` gets the training rows' metadata, to carve
validation speakers from them; a nested search gets inner folds of whole training speakers.
"""

from __future__ import annotations

import atexit
import inspect
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from joblib.externals.loky import ProcessPoolExecutor
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from . import cluster
from .cluster import worker_threads
from .features import FeatureTable, align_tables
from .metrics import chance_levels, scores, summarize
from .normalize import MODE_OF_KIND, speaker_normalize
from .progress import progress_bar
from .rows import is_augmented, is_pooled, mean_std, source_ids
from .splits import make_folds


def tuned(estimator: Any, grid: dict[str, Sequence], inner_folds: int = 3) -> GridSearchCV:
    """A nested hyper-parameter search: ``cross_validate`` fits it on each training part only,
    with inner folds of whole speakers (or of source clips when there are too few speakers)."""
    return GridSearchCV(
        estimator, grid, cv=GroupKFold(n_splits=inner_folds), scoring="balanced_accuracy", n_jobs=1, error_score="raise"
    )


@dataclass
class CVResult:
    """Per-fold scores, clip-level predictions and, for networks, training histories of one experiment.

    ``per_fold``: one row per fold (sizes, accuracy, UAR, macro-F1, and what the estimator reports:
    best hyper-parameters, epochs, seconds per epoch ...). ``predictions``: one row per test clip
    (``p_<emotion>`` columns when the estimator gives probabilities). ``histories``: per-epoch
    training curves by fold. ``info``: what ran where (device, parameters, ``seconds``: its folds' fitting and
    scoring time, summed; folds that run side by side take less wall time).
    """

    experiment: str
    features: str
    model: str
    protocol: str
    labels: list[str]
    per_fold: pd.DataFrame
    predictions: pd.DataFrame
    chance: dict[str, float] = field(default_factory=dict)
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean, std and 95% interval over folds of accuracy, UAR and macro-F1."""
        return summarize(self.per_fold)

    def mean(self, metric: str = "uar") -> float:
        """The fold mean of ``metric``."""
        return float(self.summary().loc[metric, "mean"])

    def cell(self, metric: str = "uar") -> str:
        """``0.512 ± 0.043``: fold mean ± standard deviation."""
        s = self.summary().loc[metric]
        return mean_std(s["mean"], s["std"])

    def headline(self) -> str:
        """``UAR 0.512 ± 0.043 (6 folds)``."""
        n = len(self.per_fold)
        return f"UAR {self.cell()} ({n} fold{'s' if n > 1 else ''})"

    @property
    def epoch_seconds(self) -> float:
        """Mean seconds per epoch over folds (NaN for models that do not train in epochs)."""
        if "s/epoch" not in self.per_fold:
            return float("nan")
        return float(self.per_fold["s/epoch"].astype(float).mean())

    def record(self, report: Any, notes: str = "", *, seed: int | None = None, probe: str = "") -> dict[str, Any]:
        """Write this experiment's row to the run's results.csv through a :class:`~ser_utils.results.Report`
        (``seed``, ``probe``: as :meth:`~ser_utils.results.Report.add_result` takes them)."""
        if self.histories:
            extra = f"{self.info.get('device', '?')}, {self.epoch_seconds:.2f} s/epoch, {self.info.get('seconds', 0):.0f} s total"
            notes = f"{notes}; {extra}" if notes else extra
        s = self.summary()
        return report.add_result(
            self.experiment,
            features=self.features,
            model=self.model,
            protocol=self.protocol,
            n_folds=len(self.per_fold),
            accuracy=s.loc["accuracy", "mean"],
            accuracy_std=s.loc["accuracy", "std"],
            uar=s.loc["uar", "mean"],
            uar_std=s.loc["uar", "std"],
            macro_f1=s.loc["macro_f1", "mean"],
            macro_f1_std=s.loc["macro_f1", "std"],
            chance=self.chance.get("uar", float("nan")),
            notes=notes,
            seed=seed,
            probe=probe,
        )


def as_tables(tables: FeatureTable | Sequence[FeatureTable]) -> list[FeatureTable]:
    """One table, or several (one per input of a multi-input network), as an aligned list."""
    tables = [tables] if isinstance(tables, FeatureTable) else list(tables)
    if not tables:
        raise ValueError("no feature table given")
    for table in tables:
        if len(table) == 0:
            raise ValueError(f"feature table {table.feature_set} is empty (every clip skipped?)")
    return align_tables(tables)


def model_inputs(tables: Sequence[FeatureTable], speaker_norm: bool = False) -> list[np.ndarray]:
    """The arrays of aligned tables, each standardised per speaker when ``speaker_norm`` (vectors in float64)."""
    if not speaker_norm:
        return [np.asarray(t.X, dtype=np.float64) if np.ndim(t.X) == 2 else np.asarray(t.X) for t in tables]
    return [speaker_normalize(t.X, t.meta, MODE_OF_KIND.get(t.kind, "feature")) for t in tables]


def take(X: list[np.ndarray], rows: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """Rows of every input: one array for a single input, a list otherwise (what ``fit`` receives)."""
    parts = [x[rows] for x in X]
    return parts[0] if len(parts) == 1 else parts


def fit_clone(estimator: Any, X: Any, y: np.ndarray, meta: pd.DataFrame) -> Any:
    """Fit a clone: with the rows' ``meta`` when ``fit`` takes it; a search gets inner folds of whole speakers."""
    fitted = clone(estimator)
    if "meta" in inspect.signature(fitted.fit).parameters:
        return fitted.fit(X, y, meta=meta)
    if isinstance(fitted, GridSearchCV):
        own = ~is_pooled(meta)
        speakers = meta["speaker"].to_numpy()
        groups = speakers if len(np.unique(speakers[own])) >= 3 else meta["source_id"].to_numpy()
        inner = GroupKFold(n_splits=min(fitted.cv.get_n_splits(), len(np.unique(groups[own]))))
        if own.all():
            fitted.cv = inner
            return fitted.fit(X, y, groups=groups)
        # pooled rows (other corpora) train in every inner fold; only the data's own speakers validate
        mine, pool = np.flatnonzero(own), np.flatnonzero(~own)
        fitted.cv = [(np.concatenate([mine[a], pool]), mine[b]) for a, b in inner.split(mine, groups=groups[mine])]
        return fitted.fit(X, y)
    return fitted.fit(X, y)


def score_clips(fitted: Any, X: Any, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
    """(clips, predicted labels, class probabilities or None): one prediction per unit (source clip).

    Mean class probability over a clip's rows (its windows) when the model has ``predict_proba``,
    else a majority vote over its rows.
    """
    if hasattr(fitted, "predict_proba"):
        proba = pd.DataFrame(fitted.predict_proba(X), columns=list(fitted.classes_)).groupby(units, sort=False).mean()
        return proba.index.to_numpy(), proba.columns.to_numpy()[proba.to_numpy().argmax(axis=1)], proba
    order = pd.unique(units)
    if len(order) == len(units):
        return units, np.asarray(fitted.predict(X)), None
    votes = pd.Series(fitted.predict(X)).groupby(units, sort=False).agg(lambda v: v.value_counts().index[0])
    return votes.index.to_numpy(), votes.to_numpy(), None


def run_fold(
    estimator: Any, X_train: Any, y_train: np.ndarray, meta_train: pd.DataFrame, X_test: Any, units_test: np.ndarray
) -> dict[str, Any]:
    """One fold: fit a clone on the training part, score the test clips; returns only plain results."""
    start = time.perf_counter()
    with warnings.catch_warnings():  # a test speaker lacking an emotion: UAR is over the emotions present
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        fitted = fit_clone(estimator, X_train, y_train, meta_train)
        clips, pred, proba = score_clips(fitted, X_test, units_test)
    extra = {"best_params": str(fitted.best_params_)} if isinstance(fitted, GridSearchCV) else {}
    return {
        "seconds": time.perf_counter() - start,
        "clips": clips,
        "pred": pred,
        "proba": proba,
        "n_train": len(y_train),
        "classes": [str(c) for c in getattr(fitted, "classes_", np.unique(y_train))],
        "extra": {**extra, **getattr(fitted, "fit_info_", {})},
        "history": getattr(fitted, "history_", None),
        "info": dict(getattr(fitted, "run_info_", {})),
    }


_FOLD_POOL: dict[str, Any] = {}


def fold_executor(workers: int) -> Any:
    """Worker processes for training folds, started once per session and reused by every call: a pool of
    their own (loky, as joblib uses), never the feature-extraction workers, which may have run
    openSMILE (it cannot share a process with TensorFlow). On a Dask cluster, the cluster's workers."""
    on_cluster = cluster.executor()
    if on_cluster is not None:
        return on_cluster
    pool = _FOLD_POOL.get("pool")
    if pool is None or _FOLD_POOL.get("workers") != workers:
        if pool is not None:
            pool.shutdown(wait=True)
        pool = ProcessPoolExecutor(max_workers=workers, env=worker_threads(workers))
        _FOLD_POOL.update(pool=pool, workers=workers)
    return pool


def stop_fold_workers() -> None:
    """Shut the fold workers down (they are started again when needed)."""
    pool = _FOLD_POOL.pop("pool", None)
    if pool is not None:
        pool.shutdown(wait=True)


atexit.register(stop_fold_workers)


@dataclass
class _Plan:
    """One cross-validation laid out: the jobs of its folds, and what turns their outcomes into a result."""

    experiment: str
    features: str
    model: str
    protocol: str
    folds: list
    jobs: list
    truth_of: pd.Series

    def result(self, outcomes: Sequence[dict[str, Any]]) -> CVResult:
        rows, predictions, histories, info = [], [], {}, {}
        for fold, outcome in zip(self.folds, outcomes, strict=True):
            clips, pred, proba = outcome["clips"], outcome["pred"], outcome["proba"]
            truth = self.truth_of.loc[clips].to_numpy()
            labels = sorted(set(truth) | set(outcome["classes"]))
            row = {
                "fold": fold.name,
                "n_train": outcome["n_train"],
                "n_test": len(clips),
                **scores(truth, pred, labels),
            }
            row.update(outcome["extra"])
            rows.append(row)
            if outcome["history"] is not None:
                histories[fold.name] = outcome["history"]
            info.update(outcome["info"])
            frame = pd.DataFrame({"source_id": clips, "fold": fold.name, "true": truth, "pred": pred})
            if proba is not None:
                frame = frame.join(proba.add_prefix("p_").reset_index(drop=True))
            predictions.append(frame)
        pooled = pd.concat(predictions, ignore_index=True)
        labels = sorted(set(pooled["true"]) | set(pooled["pred"]))
        info["seconds"] = float(sum(outcome["seconds"] for outcome in outcomes))
        return CVResult(
            self.experiment,
            self.features,
            self.model,
            self.protocol,
            labels,
            pd.DataFrame(rows),
            pooled,
            chance_levels(pooled["true"], sorted(set(pooled["true"]))),
            histories,
            info,
        )


def _plan(options: Mapping[str, Any]) -> _Plan:
    """Lay out one cross-validation from :func:`cross_validate`'s arguments (see :func:`_options`)."""
    estimator, protocol, augmented_too = options["estimator"], options["protocol"], options["use_augmented"]
    tables = as_tables(options["tables"])
    meta = tables[0].meta.reset_index(drop=True)
    if "source_id" not in meta:
        meta = meta.assign(source_id=meta["utt_id"])
    X = model_inputs(tables, options["speaker_norm"])
    y = meta["emotion"].astype(str).to_numpy()
    folds = make_folds(
        meta,
        protocol,
        n_folds=options["n_folds"],
        val_fraction=0.0,
        seed=options["seed"],
        train_corpora=options["train_corpora"],
        test_corpora=options["test_corpora"],
    )
    if options["max_folds"] is not None:
        folds = folds[: max(1, int(options["max_folds"]))]
    augmented = is_augmented(meta)
    # Test units are source clips; the leaky recipe scores every row (copy, window) on its own, as its users do.
    units = meta.index.astype(str).to_numpy() if protocol == "leaky" else source_ids(meta)
    truth_of = pd.Series(y, index=units).groupby(level=0).first()
    pool = np.array([], dtype=int)
    if options["pool"] is not None:
        X, meta, y, pool = _with_pool(X, meta, y, options["pool"], options["speaker_norm"], augmented_too)
    jobs = []
    for fold in folds:
        train = fold.train if augmented_too else fold.train[~augmented[fold.train]]
        train = np.concatenate([train, pool])
        jobs.append(
            (
                estimator,
                take(X, train),
                y[train],
                meta.iloc[train].reset_index(drop=True),
                take(X, fold.test),
                units[fold.test],
            )
        )
    return _Plan(
        options["experiment"],
        options["features"] or "+".join(t.feature_set for t in tables),
        options["model"] or _model_name(estimator),
        protocol,
        folds,
        jobs,
        truth_of,
    )


def pooled_tables(
    pool: FeatureTable | Sequence[FeatureTable], labels: Any, *, speaker_norm: bool = False, use_augmented: bool = True
) -> list[FeatureTable]:
    """The pool's rows that may train beside data of ``labels``: those emotions only (and no augmented copy
    unless ``use_augmented``), each input standardised per pooled speaker on those rows when ``speaker_norm``."""
    tables = as_tables(pool)
    meta = tables[0].meta
    keep = meta["emotion"].astype(str).isin({str(label) for label in labels}).to_numpy()
    if not use_augmented:
        keep = keep & ~is_augmented(meta)
    if not keep.any():
        raise ValueError(
            f"no pooled row has one of the data's emotions ({', '.join(sorted(map(str, labels)))}): nothing to pool"
        )
    kept = [t.take(np.flatnonzero(keep)) for t in tables]
    return [replace(t, X=x) for t, x in zip(kept, model_inputs(kept, speaker_norm), strict=True)]


def _with_pool(
    X: list[np.ndarray], meta: pd.DataFrame, y: np.ndarray, pool: Any, speaker_norm: bool, augmented_too: bool
) -> tuple[list[np.ndarray], pd.DataFrame, np.ndarray, np.ndarray]:
    """The data with the pooled rows appended (:func:`pooled_tables`), and the pooled rows' indices. The
    pool must share no speaker with the data and have its input shapes."""
    tables = pooled_tables(pool, set(y), speaker_norm=speaker_norm, use_augmented=augmented_too)
    extra = tables[0].meta.assign(source_id=source_ids(tables[0].meta))
    shared = sorted(set(extra["speaker"].astype(str)) & set(meta["speaker"].astype(str)))
    if shared:
        raise ValueError(
            f"the pool shares speakers with the data ({', '.join(shared[:5])}): pool other corpora only, "
            f"never the evaluated one"
        )
    wrong = [
        (x.shape[1:], np.shape(t.X)[1:]) for x, t in zip(X, tables, strict=True) if x.shape[1:] != np.shape(t.X)[1:]
    ]
    if wrong:
        raise ValueError(
            f"the pool's inputs have shape {wrong[0][1]} where the data's have {wrong[0][0]}: extract the pooled "
            f"corpora with the same feature set(s) and parameters"
        )
    n = len(meta)
    both = pd.concat([meta.assign(pooled=False), extra.assign(pooled=True)], ignore_index=True)
    X = [np.concatenate([x, np.asarray(t.X)]) for x, t in zip(X, tables, strict=True)]
    y = np.concatenate([y, extra["emotion"].astype(str).to_numpy()])
    return X, both, y, np.arange(n, len(both))


def _outcomes(jobs: Sequence[tuple], n_jobs: int) -> Iterator[dict[str, Any]]:
    """The jobs' outcomes, in order; in the fold workers (all submitted at once) when ``n_jobs`` > 1, those
    with the most training rows first (the longest, roughly), so that none is left to run alone at the end."""
    workers = min(cluster.effective_workers(n_jobs), len(jobs))
    if workers > 1:  # folds in worker processes (each trains and scores one fold; nothing else comes back)
        pool = fold_executor(workers)
        order = sorted(range(len(jobs)), key=lambda k: -len(jobs[k][2]))  # stable: equal sizes keep their order
        done = {k: pool.submit(run_fold, *jobs[k]) for k in order}
        return (done[k].result() for k in range(len(jobs)))
    return (run_fold(*job) for job in jobs)


def cross_validate(
    estimator: Any,
    tables: FeatureTable | Sequence[FeatureTable],
    protocol: str,
    *,
    experiment: str,
    features: str | None = None,
    model: str | None = None,
    speaker_norm: bool = False,
    n_folds: int | None = None,
    seed: int = 0,
    use_augmented: bool = True,
    train_corpora: Sequence[str] = (),
    test_corpora: Sequence[str] = (),
    pool: FeatureTable | Sequence[FeatureTable] | None = None,
    max_folds: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> CVResult:
    """Fit ``estimator`` (cloned per fold) in every fold of ``protocol`` and score clips of the test part.

    ``tables``: a feature table, or one per input of a multi-input network (rows matched on utt_id).
    ``speaker_norm``: standardise every input per speaker first (:func:`ser_utils.normalize.speaker_normalize`).
    ``use_augmented``: whether augmented copies (training clips only, always) join training.
    ``pool``: clips of other corpora (the same feature sets) that join every fold's training part: the
    emotions of ``tables`` only, each speaker normalised on its own when ``speaker_norm``; they never
    validate (inner folds, early stopping: the data's own training speakers do) and are never tested.
    ``max_folds``: run only the first folds (smoke runs; the fold count says so).
    ``n_jobs``: folds trained at once, in worker processes (-1: one per core); a small network leaves
    most of a second core idle, so two folds at a time nearly halve the time. Each fold is seeded on
    its own, so the results do not depend on ``n_jobs`` (up to the order of floating-point sums: a
    worker computes with fewer threads, :func:`~ser_utils.cluster.worker_threads`). On a Dask cluster (:mod:`ser_utils.cluster`) each fold
    is a task on its workers.
    """
    options = _options(locals())
    plan = _plan(options)
    bar = progress_bar(
        _outcomes(plan.jobs, n_jobs),
        total=len(plan.jobs),
        desc=experiment,
        unit="fold",
        disable=not progress,
        leave=False,
    )
    outcomes = list(bar)
    return plan.result(outcomes)


def _options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`cross_validate`'s arguments with its defaults filled in (an unknown name is an error), less
    ``n_jobs`` and ``progress``, which are about how the folds run, not what they are."""
    bound = inspect.signature(cross_validate).bind(**arguments)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in ("n_jobs", "progress")}


def cross_validate_many(
    runs: Mapping[Any, Mapping[str, Any]], *, n_jobs: int = 1, progress: bool = True, desc: str = "folds"
) -> dict[Any, CVResult]:
    """Several :func:`cross_validate` runs (each a mapping of its arguments, ``n_jobs`` and ``progress``
    aside), their folds sharing the workers: the next run's folds fill the gap the slowest fold of one run
    would leave (the folds of one LOSO run can take 7 to 22 epochs). Results as separate calls give them,
    under the same keys.
    """
    plans = {key: _plan(_options(run)) for key, run in runs.items()}
    jobs = [job for plan in plans.values() for job in plan.jobs]
    bar = progress_bar(_outcomes(jobs, n_jobs), total=len(jobs), desc=desc, unit="fold", disable=not progress)
    outcomes, results = iter(bar), {}
    for key, plan in plans.items():
        results[key] = plan.result([next(outcomes) for _ in plan.jobs])
    if hasattr(bar, "close"):
        bar.close()
    return results


def _model_name(estimator: Any) -> str:
    """A short name for results tables: the network's, else the last step of a pipeline, else the class."""
    if isinstance(getattr(estimator, "model", None), str):
        return estimator.model
    inner = getattr(estimator, "estimator", estimator)
    steps = getattr(inner, "steps", None)
    return steps[-1][0] if steps else type(inner).__name__
