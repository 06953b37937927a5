"""Cross-validation of a scikit-learn model under a protocol, the honest way by default.

Inside every fold: augmented copies of *training* clips may join training, never the test part;
scalers, feature selection and hyper-parameter searches are fitted on the training part only (put
them in the Pipeline you pass); windows of a test clip are scored together as one clip-level
prediction. :func:`speaker_normalize` standardises each speaker by statistics of that speaker's own
unlabeled recordings, a known large gain for speaker-independent emotion recognition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold
from tqdm.auto import tqdm

from .metrics import chance_levels, plot_confusion, scores, summarize
from .splits import make_folds


def speaker_normalize(X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
    """Z-score every feature within each speaker, using that speaker's original (non-augmented) rows.

    Uses no labels, only audio of the same speaker, which a deployed system can collect too; this
    removes much of what makes speakers differ (pitch level, loudness, vocal tract, channel).
    """
    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    speakers = meta["speaker"].to_numpy()
    original = meta["augmentation"].fillna("").eq("").to_numpy() if "augmentation" in meta else np.ones(len(meta), bool)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        reference = X[rows & original] if (rows & original).any() else X[rows]
        mean, std = reference.mean(axis=0), reference.std(axis=0)
        out[rows] = (X[rows] - mean) / np.where(std > 1e-12, std, 1.0)
    return out


def tuned(estimator: Any, grid: dict[str, Sequence], inner_folds: int = 3) -> GridSearchCV:
    """A nested hyper-parameter search: ``cross_validate`` fits it on each training part only,
    with inner folds of whole speakers (or of source clips when there are too few speakers)."""
    return GridSearchCV(estimator, grid, cv=GroupKFold(n_splits=inner_folds), scoring="balanced_accuracy",
                        n_jobs=1, error_score="raise")


@dataclass
class CVResult:
    """Per-fold scores and clip-level predictions of one experiment."""

    experiment: str
    features: str
    model: str
    protocol: str
    labels: list[str]
    per_fold: pd.DataFrame
    predictions: pd.DataFrame
    chance: dict[str, float] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean, std and 95% interval over folds of accuracy, UAR and macro-F1."""
        return summarize(self.per_fold)

    def headline(self) -> str:
        """``UAR 0.512 ± 0.043 (6 folds)``."""
        s = self.summary().loc["uar"]
        spread = "" if np.isnan(s["std"]) else f" ± {s['std']:.3f}"
        return f"UAR {s['mean']:.3f}{spread} ({int(s['folds'])} fold{'s' if s['folds'] > 1 else ''})"

    def record(self, report: Any, notes: str = "") -> dict[str, Any]:
        """Write this experiment's row to the run's results.csv through a :class:`~ser_utils.results.Report`."""
        s = self.summary()
        return report.add_result(
            self.experiment, features=self.features, model=self.model, protocol=self.protocol,
            n_folds=len(self.per_fold), accuracy=s.loc["accuracy", "mean"], accuracy_std=s.loc["accuracy", "std"],
            uar=s.loc["uar", "mean"], uar_std=s.loc["uar", "std"], macro_f1=s.loc["macro_f1", "mean"],
            macro_f1_std=s.loc["macro_f1", "std"], chance=self.chance.get("uar", float("nan")), notes=notes)

    def plot_confusion(self, title: str | None = None):
        """Confusion matrices of the predictions pooled over folds."""
        return plot_confusion(self.predictions["true"], self.predictions["pred"], self.labels,
                              title=title if title is not None else self.experiment)


def _clip_predictions(model: Any, X: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One prediction per source clip: mean class probability over its rows (windows), else majority vote."""
    order = pd.unique(sources)
    if len(order) == len(sources):
        return sources, model.predict(X)
    if hasattr(model, "predict_proba"):
        proba = pd.DataFrame(model.predict_proba(X), columns=model.classes_).groupby(sources, sort=False).mean()
        return proba.index.to_numpy(), proba.idxmax(axis=1).to_numpy()
    votes = pd.Series(model.predict(X)).groupby(sources, sort=False).agg(lambda v: v.value_counts().index[0])
    return votes.index.to_numpy(), votes.to_numpy()


def _fit(model: Any, X: np.ndarray, y: np.ndarray, meta: pd.DataFrame) -> Any:
    """Fit a clone; a search gets inner folds of whole speakers (or source clips) of the training part."""
    fitted = clone(model)
    if isinstance(fitted, GridSearchCV):
        speakers = meta["speaker"].to_numpy()
        groups = speakers if len(np.unique(speakers)) >= 3 else meta["source_id"].to_numpy()
        fitted.cv = GroupKFold(n_splits=min(fitted.cv.get_n_splits(), len(np.unique(groups))))
        return fitted.fit(X, y, groups=groups)
    return fitted.fit(X, y)


def cross_validate(X: np.ndarray, meta: pd.DataFrame, model: Any, protocol: str, *, experiment: str,
                   features: str, model_name: str, n_folds: int | None = None, seed: int = 0,
                   use_augmented: bool = True, train_corpora: Sequence[str] = (), test_corpora: Sequence[str] = (),
                   progress: bool = True) -> CVResult:
    """Fit ``model`` (a scikit-learn estimator or Pipeline, cloned per fold) under ``protocol``.

    ``meta`` is row-aligned with ``X`` (a :class:`~ser_utils.features.FeatureTable`'s meta): rows of
    augmented copies are used for training only, and only if ``use_augmented``. Scores are computed
    per fold on clip-level predictions.
    """
    meta = meta.reset_index(drop=True)
    if "source_id" not in meta:
        meta = meta.assign(source_id=meta["utt_id"])
    y = meta["emotion"].to_numpy()
    folds = make_folds(meta, protocol, n_folds=n_folds, val_fraction=0.0, seed=seed,
                       train_corpora=train_corpora, test_corpora=test_corpora)
    augmented = meta["augmentation"].fillna("").ne("").to_numpy() if "augmentation" in meta else np.zeros(len(meta), bool)
    # Test units are source clips; the leaky recipe scores every row (copy, window) on its own, as its users do.
    units = meta.index.astype(str).to_numpy() if protocol == "leaky" else meta["source_id"].to_numpy()
    unit_label = pd.Series(y, index=units).groupby(level=0).first()
    rows, predictions = [], []
    for fold in tqdm(folds, desc=experiment, disable=not progress, leave=False):
        train = fold.train if use_augmented else fold.train[~augmented[fold.train]]
        fitted = _fit(model, X[train], y[train], meta.iloc[train])
        sources, pred = _clip_predictions(fitted, X[fold.test], units[fold.test])
        truth = unit_label.loc[sources].to_numpy()
        labels = sorted(set(truth) | set(y[train]))
        row = {"fold": fold.name, "n_train": len(train), "n_test": len(sources), **scores(truth, pred, labels)}
        if isinstance(fitted, GridSearchCV):
            row["best_params"] = str(fitted.best_params_)
        rows.append(row)
        predictions.append(pd.DataFrame({"source_id": sources, "fold": fold.name, "true": truth, "pred": pred}))
    pooled = pd.concat(predictions, ignore_index=True)
    labels = sorted(set(pooled["true"]) | set(pooled["pred"]))
    return CVResult(experiment, features, model_name, protocol, labels, pd.DataFrame(rows), pooled,
                    chance_levels(pooled["true"], sorted(set(pooled["true"]))))
