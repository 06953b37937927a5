"""Classical baselines and the protocol comparison: models, their grids, many configurations, summary tables.

    from ser_utils.baselines import tuned_model
    table = combine_tables([extract_features(m, "kaggle162"), extract_features(m, "prosody")])
    result = cross_validate(tuned_model("svm"), table, "loso", experiment="SVM · LOSO")

Every model is a scikit-learn Pipeline that starts with its own StandardScaler, so scaling statistics
are fitted on the training part of each fold only; :func:`tuned_model` wraps it in the nested grid
search of :func:`ser_utils.evaluation.tuned` (inner folds of whole training speakers). Grids are
small on purpose: a handful of values that matter (SVM C and gamma, MLP weight decay,
logistic-regression C), so a full LOSO run stays cheap on two cores. :func:`run_experiments` runs
many configurations (feature set × model × protocol × speaker normalisation) in parallel.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from . import cluster
from .evaluation import CVResult, cross_validate, fit_clone, model_inputs, pooled_tables, tuned
from .features import PRETRAINED, FeatureTable, column_blocks, parallel
from .metrics import chance_levels
from .progress import progress_bar
from .rows import mean_std
from .splits import make_folds

#: Model names, in the order tables show them; "late_fusion" (:class:`LateFusion`) combines "logreg" models.
MODELS = ("svm", "mlp", "logreg")
LATE_FUSION = "late_fusion"
#: The classifier's step name in each pipeline (grid keys are ``<step>__<parameter>``).
STEP_NAMES = {"svm": "svc", "mlp": "mlp", "logreg": "logreg"}

_DESCRIPTIONS = {
    "svm": "StandardScaler → SVC (RBF kernel, class weights balanced): the reference studies' baseline",
    "mlp": "StandardScaler → MLPClassifier (64 ReLU units, L-BFGS, 200 iterations, L2 weight decay)",
    "logreg": "StandardScaler → multinomial LogisticRegression (L2, class weights balanced): a linear reference "
    "(on more columns than clips, fitted in the span of the training rows: the same model, faster)",
    LATE_FUSION: "one logreg per feature set of a combination (its own nested search), probabilities averaged",
}

#: Hyper-parameter grids searched inside each training part ("default") and for smoke runs ("small").
GRIDS: dict[str, dict[str, dict[str, list]]] = {
    "svm": {
        "default": {"svc__C": [1.0, 10.0, 100.0], "svc__gamma": ["scale", 0.01]},
        "small": {"svc__C": [1.0, 10.0], "svc__gamma": ["scale"]},
    },
    "mlp": {
        "default": {"mlp__alpha": [1.0, 10.0]},
        "small": {"mlp__alpha": [1.0]},
    },
    "logreg": {
        "default": {"logreg__C": [0.001, 0.01, 0.1, 1.0]},
        "small": {"logreg__C": [0.1]},
    },
}


def _check_model(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def make_model(name: str, *, seed: int = 0) -> Pipeline:
    """A fresh, unfitted pipeline (scaler + classifier) for model ``name`` (one of :data:`MODELS`; a late
    fusion of such pipelines is a :class:`LateFusion`, see :func:`tuned_model`)."""
    _check_model(name)
    if name == "svm":
        step = SVC(kernel="rbf", C=10.0, gamma="scale", class_weight="balanced")
    elif name == "mlp":
        # L-BFGS: on a few hundred clips it converges faster and better than Adam; 200 iterations is the budget
        step = MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, solver="lbfgs", max_iter=200, random_state=seed)
    else:  # on more columns than training rows (ComParE), the same model in the rows' span: d/n times faster
        step = LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced")
        return Pipeline([("scale", StandardScaler()), ("span", RowSpace()), (STEP_NAMES[name], step)])
    return Pipeline([("scale", StandardScaler()), (STEP_NAMES[name], step)])


def param_grid(name: str, size: str = "default") -> dict[str, list]:
    """The grid of model ``name`` (a copy): ``size`` "default" for results, "small" for smoke runs."""
    _check_model(name)
    if size not in GRIDS[name]:
        raise ValueError(f"grid size must be one of {sorted(GRIDS[name])}, got {size!r}")
    return {key: list(values) for key, values in GRIDS[name][size].items()}


def _grid_values(name: str, grid: str | Mapping[str, Sequence] = "default") -> dict[str, list]:
    """The grid searched for model ``name``: a size of its own grids ("default", "small") or a mapping given
    as is (a late fusion searches its members' grid, the logistic regression's)."""
    name = "logreg" if name == LATE_FUSION else name
    return param_grid(name, grid) if isinstance(grid, str) else {k: list(v) for k, v in grid.items()}


def tuned_model(
    name: str,
    *,
    grid: str | Mapping[str, Sequence] = "default",
    seed: int = 0,
    inner_folds: int = 3,
    table: FeatureTable | None = None,
) -> GridSearchCV | Pipeline | LateFusion:
    """Model ``name`` in a nested grid search (inner folds of training speakers).

    A grid of a single point needs no search: the plain pipeline with those values is returned.
    "late_fusion" is a :class:`LateFusion` over the feature sets of ``table`` (a :func:`combine_tables` result).
    """
    if name == LATE_FUSION:
        if table is None:
            raise ValueError("a late fusion needs the combined table whose feature sets it fuses (table=...)")
        return LateFusion(column_blocks(table), grid=grid, seed=seed, inner_folds=inner_folds)
    values = _grid_values(name, grid)
    model = make_model(name, seed=seed)
    if len(ParameterGrid(values)) == 1:
        return model.set_params(**next(iter(ParameterGrid(values))))
    return tuned(model, values, inner_folds=inner_folds)


class RowSpace(TransformerMixin, BaseEstimator):
    """Coordinates in the span of the training rows, where there are more columns than rows (else nothing).

    The weights of a linear model with an L2 penalty lie in that span, so the model it learns from these
    n coordinates is the one it learns from the d columns (same predictions, same penalty), d/n times
    cheaper per step: ComParE's 6,373 functionals on a few hundred training clips.
    """

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, and the training rows' coordinates, read off the Gram matrix's eigenvectors (no product with X)."""
        X = np.array(X, dtype=np.float64)  # a copy: the training rows are kept, and the caller's X may change
        self.rows_ = None
        if X.shape[1] <= X.shape[0]:
            return X
        values, vectors = np.linalg.eigh(X @ X.T)  # the n × n Gram matrix: cheap when n << d
        keep = values > values.max() * 1e-10
        # the orthonormal basis of the rows' span is rowsᵀ · weights; a row's coordinates are its products with
        # the training rows times those weights, for the training rows themselves vectors · √values
        self.rows_, self.weights_ = X, vectors[:, keep] / np.sqrt(values[keep])
        return vectors[:, keep] * np.sqrt(values[keep])

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X if self.rows_ is None else (X @ self.rows_.T) @ self.weights_


class LateFusion(ClassifierMixin, BaseEstimator):
    """Late fusion over the feature sets of a combined table: one logistic regression per set, each with
    its own nested search (inner folds of training speakers), their class probabilities averaged.

    ``blocks``: ``(set, first column, end)`` per set (:func:`~ser_utils.features.column_blocks`). Each
    set speaks with equal weight however many columns it has, so 88 eGeMAPS functionals are not drowned
    by 6,373 ComParE ones, as they are when the columns are simply joined.
    """

    def __init__(self, blocks=(), *, grid="default", seed=0, inner_folds=3):
        self.blocks = blocks
        self.grid = grid
        self.seed = seed
        self.inner_folds = inner_folds

    def fit(self, X, y, meta=None):
        X, y = np.asarray(X), np.asarray(y)
        if not self.blocks:
            raise ValueError("LateFusion needs at least one block of columns")
        if meta is None:  # no speakers known: inner folds of rows
            meta = pd.DataFrame({"speaker": np.arange(len(y)) % max(2, self.inner_folds)})
        member = tuned_model("logreg", grid=self.grid, seed=self.seed, inner_folds=self.inner_folds)
        self.members_ = [fit_clone(member, X[:, start:stop], y, meta) for _, start, stop in self.blocks]
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X):
        X = np.asarray(X)
        return np.mean(
            [member.predict_proba(X[:, start:stop]) for member, (_, start, stop) in zip(self.members_, self.blocks)],
            axis=0,
        )

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def describe_models(grid: str = "default") -> pd.DataFrame:
    """One row per model: the pipeline and the grid searched inside each training part (late fusion: each member's)."""
    rows = []
    for name in (*MODELS, LATE_FUSION):
        values = _grid_values(name, grid)
        rows.append(
            {
                "model": name,
                "pipeline": _DESCRIPTIONS[name],
                "grid": "; ".join(f"{k.split('__', 1)[1]} ∈ {v}" for k, v in values.items()),
                "candidates": len(ParameterGrid(values)),
            }
        )
    return pd.DataFrame(rows).set_index("model")


# --------------------------------------------------------------------------------------------------
# Protocol checks and summary tables


def select_on_test(results: Sequence[CVResult], *, experiment: str | None = None) -> CVResult:
    """The leaky habit of choosing on the test set: per fold, the candidate with the best test UAR.

    ``results`` are runs of several hyper-parameter candidates over the *same* folds; this is what
    early stopping or model selection on the test part amounts to, and it is only for demonstration.
    """
    if not results:
        raise ValueError("select_on_test needs at least one result")
    folds = list(results[0].per_fold["fold"])
    if any(list(r.per_fold["fold"]) != folds for r in results):
        raise ValueError("every candidate must be scored on the same folds")
    uar = np.array([r.per_fold["uar"].to_numpy() for r in results])
    winners = uar.argmax(axis=0)
    per_fold = pd.DataFrame([results[w].per_fold.iloc[k] for k, w in enumerate(winners)]).reset_index(drop=True)
    per_fold["chosen_candidate"] = winners
    predictions = pd.concat(
        [results[w].predictions[results[w].predictions["fold"] == fold] for fold, w in zip(folds, winners)],
        ignore_index=True,
    )
    first = results[0]
    return CVResult(
        experiment or first.experiment,
        first.features,
        first.model,
        first.protocol,
        sorted(set().union(*(r.labels for r in results))),
        per_fold,
        predictions,
        chance_levels(predictions["true"], sorted(set(predictions["true"]))),
    )


def leaky_search(pipeline: Any, table: FeatureTable, grid: Mapping[str, Sequence], **kwargs) -> CVResult:
    """The leaky recipe end to end: ``protocol="leaky"`` folds, every grid point, the best per fold on test.

    ``pipeline`` is a plain pipeline (not a search); ``kwargs`` go to :func:`~ser_utils.evaluation.cross_validate`.
    """
    candidates = [
        cross_validate(clone(pipeline).set_params(**point), table, "leaky", **kwargs)
        for point in ParameterGrid(dict(grid))
    ]
    return select_on_test(candidates)


def summary_row(result: CVResult, **extra: Any) -> dict[str, Any]:
    """One line for a comparison table: ``extra`` labels, then UAR (mean, std, 95% interval), accuracy, macro-F1."""
    s = result.summary()
    return {
        **extra,
        "uar": s.loc["uar", "mean"],
        "uar_std": s.loc["uar", "std"],
        "uar_ci95_low": s.loc["uar", "ci95_low"],
        "uar_ci95_high": s.loc["uar", "ci95_high"],
        "accuracy": s.loc["accuracy", "mean"],
        "macro_f1": s.loc["macro_f1", "mean"],
        "folds": int(s.loc["uar", "folds"]),
        "chance_uar": result.chance.get("uar", np.nan),
    }


def add_inflation(
    table: pd.DataFrame, *, reference: str, column: str = "protocol", by: str | None = None
) -> pd.DataFrame:
    """Add ``inflation (points)``: UAR minus the UAR of the ``reference`` row (within each ``by`` group), ×100."""
    table = table.copy()
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=False))
    table["inflation (points)"] = np.nan
    for _, part in groups:
        ref = part.loc[part[column] == reference, "uar"]
        if len(ref) != 1:
            raise ValueError(f"need exactly one {column} == {reference!r} row per group, found {len(ref)}")
        table.loc[part.index, "inflation (points)"] = 100.0 * (part["uar"] - ref.iloc[0])
    return table


def best_per_protocol(
    table: pd.DataFrame, *, metric: str = "uar", protocol: str = "protocol", pretrained: bool = False
) -> pd.DataFrame:
    """The row with the highest ``metric`` for each protocol (ties: the first listed), one row per protocol,
    among rows on features trained here, or (``pretrained``) among those on a pretrained model's embeddings:
    the two are never ranked together."""
    if "features" in table:
        table = table[table["features"].astype(str).isin(PRETRAINED) == pretrained]
    if table.empty:
        return table.copy()
    best = table.loc[table.groupby(protocol, sort=False)[metric].idxmax()]
    return best.set_index(protocol)


# --------------------------------------------------------------------------------------------------
# Running many configurations


@dataclass(frozen=True)
class Experiment:
    """One configuration: a feature table, a model, a protocol, speaker normalisation on or off.

    ``protocol="leaky"`` runs :func:`leaky_search` (hyper-parameters picked on the test part); every
    other protocol runs the nested search of :func:`tuned_model`. ``use_augmented=False`` leaves the
    augmented copies out of training. ``label`` names the row in tables (default: the protocol).
    ``pool`` names other corpora whose clips join every training part (``run_experiments``' ``pools``).
    """

    features: str
    model: str
    protocol: str
    speaker_norm: bool = False
    use_augmented: bool = True
    n_folds: int | None = None
    label: str = ""
    pool: str = ""

    @property
    def name(self) -> str:
        """The experiment name written to results.csv."""
        parts = [self.label or self.protocol, self.model, self.features, "speaker-norm" if self.speaker_norm else "raw"]
        parts += [] if self.use_augmented else ["no augmentation"]
        parts += [f"+ {self.pool} in training"] if self.pool else []
        return " · ".join(parts)

    @property
    def notes(self) -> str:
        """How it was evaluated, in words (the notes column of results.csv)."""
        search = (
            "hyper-parameters picked on the test part (leaky)"
            if self.protocol == "leaky"
            else "nested grid search, inner folds of training speakers"
        )
        norm = (
            "per-speaker standardisation (each speaker's own unlabeled data)"
            if self.speaker_norm
            else "no speaker normalisation"
        )
        pooled = f"; clips of {self.pool} (their own speakers normalised) in every training part" if self.pool else ""
        return f"{search}; {norm}" + ("" if self.use_augmented else "; augmented copies not used") + pooled


def _run_one(
    experiment: Experiment,
    table: FeatureTable,
    grid: str | Mapping[str, Sequence],
    seed: int,
    inner_folds: int,
    pool: FeatureTable | None = None,
) -> CVResult:
    """One experiment, single-threaded BLAS (several BLAS pools on few cores slow small fits down many times)."""
    kwargs = dict(
        experiment=experiment.name,
        features=experiment.features,
        model=experiment.model,
        n_folds=experiment.n_folds,
        seed=seed,
        use_augmented=experiment.use_augmented,
        progress=False,
    )
    start = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # lbfgs MLPs stop at max_iter by design (a fixed budget); scikit-learn warns about it every fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        # a test speaker without some emotion: UAR is the mean recall over the emotions present, as intended
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        if experiment.protocol == "leaky":
            values = _grid_values(experiment.model, grid)
            result = leaky_search(make_model(experiment.model, seed=seed), table, values, **kwargs)
        else:
            model = tuned_model(experiment.model, grid=grid, seed=seed, inner_folds=inner_folds, table=table)
            result = cross_validate(model, table, experiment.protocol, pool=pool, **kwargs)
    result.per_fold.attrs["seconds"] = time.perf_counter() - start
    return result


def run_experiments(
    experiments: Sequence[Experiment],
    tables: Mapping[str, FeatureTable],
    *,
    grid: str | Mapping[str, Sequence] = "default",
    seed: int = 0,
    inner_folds: int = 3,
    n_jobs: int = 1,
    progress: bool = True,
    pools: Mapping[str, FeatureTable] | None = None,
) -> dict[Experiment, CVResult]:
    """Run every experiment (``tables[experiment.features]``), ``n_jobs`` at a time; results in the given order.

    Speaker normalisation (:func:`~ser_utils.normalize.speaker_normalize`) is computed once per table.
    Each experiment is deterministic, so the results do not depend on ``n_jobs``. An experiment with a
    ``pool`` trains on ``pools[experiment.features]`` too (other corpora, the same feature set: see
    :func:`~ser_utils.evaluation.cross_validate`'s ``pool``).
    """
    experiments = list(dict.fromkeys(experiments))
    pools = dict(pools or {})
    missing = sorted({e.features for e in experiments} - set(tables))
    missing += sorted({e.features for e in experiments if e.pool} - set(pools))
    if missing:
        raise ValueError(f"no feature table for {missing}; tables: {sorted(tables)}, pools: {sorted(pools)}")
    if any(e.pool and e.protocol == "leaky" for e in experiments):
        raise ValueError("the leaky recipe takes no pool: pool other corpora under an honest protocol")
    for e in experiments:  # a pool's table must hold the corpora its experiment names
        corpora = set(pools[e.features].meta.get("corpus", pd.Series(dtype=str)).astype(str)) if e.pool else set()
        if corpora - set(e.pool.split("+")):
            raise ValueError(f"{e.name}: the pool table of {e.features} holds {sorted(corpora)}, not {e.pool!r}")
    inputs: dict[tuple[str, bool, bool], FeatureTable] = {}
    for e in experiments:
        for pooled in (False, True) if e.pool else (False,):
            if (e.features, e.speaker_norm, pooled) not in inputs:
                table = tables[e.features]
                inputs[(e.features, e.speaker_norm, pooled)] = (
                    pooled_tables(pools[e.features], table.meta["emotion"].unique(), speaker_norm=e.speaker_norm)[0]
                    if pooled
                    else replace(table, X=model_inputs([table], e.speaker_norm)[0])
                )
    jobs = [
        (
            e,
            inputs[(e.features, e.speaker_norm, False)],
            grid,
            seed,
            inner_folds,
            inputs[(e.features, e.speaker_norm, True)] if e.pool else None,
        )
        for e in experiments
    ]
    workers = min(cluster.effective_workers(n_jobs), len(jobs)) if jobs else 1
    bar = progress_bar(total=len(jobs), desc="experiments", unit="experiment", disable=not progress)
    results: list[CVResult | None] = [None] * len(jobs)
    if workers <= 1:
        for k, job in enumerate(jobs):
            results[k] = _run_one(*job)
            bar.update()
    else:  # the session's worker processes (those of feature extraction, or a Dask cluster's), not a second pool
        pool = parallel.executor(workers)
        # the longest first, so that no worker is left with a long one at the end (the results keep their order)
        costs = [_fits(e, tables[e.features], grid, seed, inner_folds) for e in experiments]
        ranked = sorted(range(len(jobs)), key=lambda k: -costs[k])
        futures = {pool.submit(_run_one, *jobs[k]): k for k in ranked}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update()
    bar.close()
    return dict(zip(experiments, results))


def _fits(
    experiment: Experiment, table: FeatureTable, grid: str | Mapping[str, Sequence], seed: int, inner: int
) -> int:
    """How many models an experiment fits (its folds × the fits of its search in each): its cost, roughly."""
    folds = make_folds(table.meta, experiment.protocol, n_folds=experiment.n_folds, val_fraction=0.0, seed=seed)
    points = len(ParameterGrid(_grid_values(experiment.model, grid)))
    per_fold = points if experiment.protocol == "leaky" else (1 if points == 1 else points * inner + 1)
    return len(folds) * per_fold * (len(column_blocks(table)) if experiment.model == LATE_FUSION else 1)


def results_table(results: Mapping[Experiment, CVResult]) -> pd.DataFrame:
    """One row per experiment: its settings, UAR (mean, std, 95% interval), accuracy, macro-F1 and run time."""
    rows = [
        {
            **summary_row(
                result,
                label=e.label or e.protocol,
                protocol=e.protocol,
                features=e.features,
                model=e.model,
                speaker_norm=e.speaker_norm,
                augmented=e.use_augmented,
                pool=e.pool,
            ),
            "seconds": result.per_fold.attrs.get("seconds", np.nan),
        }
        for e, result in results.items()
    ]
    return pd.DataFrame(rows)


def configuration_grid(summary: pd.DataFrame, value: str = "uar") -> pd.DataFrame:
    """``value`` per configuration: rows "model · features", columns "protocol · raw/speaker-norm", in run order."""
    table = summary.assign(
        configuration=summary["model"] + " · " + summary["features"],
        setting=summary["protocol"] + " · " + summary["speaker_norm"].map({False: "raw", True: "speaker-norm"}),
    )
    rows = list(dict.fromkeys(table["configuration"]))
    columns = list(dict.fromkeys(table.sort_values(["protocol", "speaker_norm"], kind="stable")["setting"]))
    protocols = list(dict.fromkeys(summary["protocol"]))
    columns.sort(key=lambda c: protocols.index(c.split(" · ")[0]))
    return table.pivot_table(
        index="configuration", columns="setting", values=value, aggfunc="first", sort=False
    ).reindex(index=rows, columns=columns)


def feature_sets_of(sets: Sequence[str], combined: str | None) -> list[str]:
    """The feature-set names of a notebook's ``*_sets`` parameter: "combined" stands for the combined set
    (``combined``: its name, or None when there is none, then it is dropped)."""
    names = [combined if name == "combined" else name for name in sets]
    return [name for name in names if name is not None]


def speaker_norm_effect(summary: pd.DataFrame) -> pd.DataFrame:
    """Per protocol: how speaker normalisation changes UAR over paired configurations (mean, min and max gain
    in points, and in how many it helps); empty when only one setting ran."""
    if not {False, True} <= set(summary["speaker_norm"]):
        return pd.DataFrame()
    paired = summary.pivot_table(
        index=["protocol", "model", "features"], columns="speaker_norm", values="uar", sort=False
    )
    gain = (100 * (paired[True] - paired[False])).dropna()  # configurations run in both settings only
    return gain.groupby(level="protocol", sort=False).agg(
        mean="mean", min="min", max="max", helps=lambda g: f"{int((g > 0).sum())} of {len(g)}"
    )


def fusion_table(sets: Sequence[str]) -> str | None:
    """The feature table the strong reference on ``sets`` reads: the one set, or "a+b" (the sets side by side, which
    the late fusion splits again); None without sets."""
    return "+".join(sets) if sets else None


def fusion_experiments(sets: Sequence[str], protocols: Sequence[str]) -> list[Experiment]:
    """The strong functional reference on ``sets``, speaker-normalised, under each of ``protocols``: the late
    fusion of the sets (one tuned logistic regression per set, probabilities averaged; on :func:`fusion_table`),
    or with one set its tuned logistic regression, which is what a fusion of one is."""
    if not sets:
        return []
    model = "logreg" if len(sets) == 1 else LATE_FUSION
    return [Experiment(fusion_table(sets), model, protocol, True) for protocol in protocols]


def pooled_twins(
    experiments: Sequence[Experiment], pool: str, *, models: Sequence[str] = ("svm", "logreg"), protocol: str = "loso"
) -> list[Experiment]:
    """The speaker-normalised ``protocol`` experiments of ``models`` again, with the corpora ``pool`` in every
    training part (none when ``pool`` is empty): the pairs :func:`pool_effect` compares."""
    if not pool:
        return []
    chosen = [e for e in experiments if e.speaker_norm and e.protocol == protocol and e.model in models and not e.pool]
    return [replace(e, pool=pool) for e in chosen]


def pool_effect(summary: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: UAR trained on this corpus alone, with the pool too, and the change in points
    (rows of :func:`results_table`; ``pooled`` holds the :func:`pooled_twins`)."""
    keys = ["protocol", "model", "features", "speaker_norm", "augmented", "label"]
    both = summary[summary["pool"].eq("")].merge(pooled, on=keys, suffixes=("", " pooled"))
    both["Δ (points)"] = 100 * (both["uar pooled"] - both["uar"])
    shown = {
        "uar": "alone",
        "uar_std": "alone std",
        "uar pooled": "pooled",
        "uar_std pooled": "pooled std",
        "Δ (points)": "Δ (points)",
    }
    return both.set_index(["model", "features"])[list(shown)].rename(columns=shown)


def side_by_side(
    summary: pd.DataFrame, chosen: Mapping[str, tuple[str, str, bool]], protocols: Sequence[str]
) -> pd.DataFrame:
    """One row per chosen configuration (name → (features, model, speaker_norm)), its UAR ``mean ± std``
    under each protocol ("—" where it did not run)."""

    def uar(features: str, model: str, norm: bool, protocol: str) -> str:
        row = summary[
            (summary["features"] == features)
            & (summary["model"] == model)
            & (summary["speaker_norm"] == norm)
            & (summary["protocol"] == protocol)
        ]
        return mean_std(row["uar"].iloc[0], row["uar_std"].iloc[0]) if len(row) else "—"

    return pd.DataFrame(
        {
            name: {
                "configuration": f"{m} · {f} · {'speaker-norm' if n else 'raw'}",
                **{p.upper(): uar(f, m, n, p) for p in protocols},
            }
            for name, (f, m, n) in chosen.items()
        }
    ).T
