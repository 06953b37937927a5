"""Metrics reported for every experiment, per fold and across folds.

Accuracy flatters the large classes of an unbalanced corpus, so every table also has UAR
(unweighted average recall: the mean of per-class recalls, scikit-learn's balanced accuracy, the
usual headline of SER challenges) and macro-F1. Across folds we report mean ± standard deviation and
a 95% confidence interval of the mean (Student's t over folds).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

METRICS = ("accuracy", "uar", "macro_f1")


def scores(y_true: Sequence, y_pred: Sequence, labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, UAR and macro-F1 of one set of predictions (classes absent from the fold are ignored)."""
    present = [label for label in labels if label in set(y_true)]
    with warnings.catch_warnings():  # a test speaker without some emotion: UAR is over the emotions present
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        uar = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": uar,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "n_test": int(len(y_true)),
    }


def per_class(y_true: Sequence, y_pred: Sequence, labels: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class."""
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    return pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": n}, index=pd.Index(labels, name="emotion"))


def summarize(per_fold: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, standard deviation and 95% confidence interval over folds, one row per metric."""
    rows = {}
    for metric in metrics:
        values = per_fold[metric].to_numpy(dtype=float)
        n = len(values)
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else float("nan")
        rows[metric] = {"mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half, "folds": n}
    return pd.DataFrame.from_dict(rows, orient="index")


def chance_levels(y: Sequence, labels: Sequence[str]) -> dict[str, float]:
    """What guessing scores: UAR of any constant or random guess is 1/K; accuracy of the majority class."""
    counts = pd.Series(list(y)).value_counts()
    return {"uar": 1.0 / len(labels), "accuracy": float(counts.max() / counts.sum())}


def confusion(y_true: Sequence, y_pred: Sequence, labels: Sequence[str], normalize: bool = False) -> pd.DataFrame:
    """Confusion matrix as a labelled table (rows: true emotion); ``normalize`` divides each row by its total."""
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels), normalize="true" if normalize else None)
    index = pd.Index(labels, name="true")
    return pd.DataFrame(np.nan_to_num(matrix), index=index, columns=pd.Index(labels, name="predicted"))
