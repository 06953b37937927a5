"""Accuracy, UAR, macro-F1, fold summaries and chance levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_utils.display import plot_confusion
from ser_utils.metrics import chance_levels, confusion, per_class, scores, summarize

LABELS = ["angry", "neutral", "sad"]


def test_uar_differs_from_accuracy_on_unbalanced_data() -> None:
    y_true = ["angry"] * 8 + ["neutral", "sad"]
    y_pred = ["angry"] * 10  # always the majority class
    result = scores(y_true, y_pred, LABELS)
    assert result["accuracy"] == pytest.approx(0.8)
    assert result["uar"] == pytest.approx(1 / 3)
    assert result["macro_f1"] == pytest.approx((2 * 0.8 / 1.8) / 3)
    assert result["n_test"] == 10


def test_per_class_and_confusion() -> None:
    y_true = ["angry", "angry", "sad", "neutral"]
    y_pred = ["angry", "sad", "sad", "neutral"]
    table = per_class(y_true, y_pred, LABELS)
    assert table.loc["angry", "recall"] == 0.5 and table.loc["sad", "precision"] == 0.5
    counts = confusion(y_true, y_pred, LABELS)
    assert counts.loc["angry", "sad"] == 1 and counts.to_numpy().sum() == 4
    assert np.allclose(confusion(y_true, y_pred, LABELS, normalize=True).sum(axis=1), 1)
    assert plot_confusion(y_true, y_pred, LABELS).axes


def test_summary_over_folds() -> None:
    per_fold = pd.DataFrame({"accuracy": [0.5, 0.6, 0.7], "uar": [0.4, 0.5, 0.6], "macro_f1": [0.3, 0.3, 0.3]})
    summary = summarize(per_fold)
    assert summary.loc["uar", "mean"] == pytest.approx(0.5)
    assert summary.loc["uar", "std"] == pytest.approx(0.1)
    # 95% CI of the mean with t(2) = 4.303
    assert summary.loc["uar", "ci95_high"] - summary.loc["uar", "mean"] == pytest.approx(
        4.303 * 0.1 / np.sqrt(3), rel=1e-3
    )
    assert summary.loc["macro_f1", "std"] == 0


def test_chance_levels() -> None:
    assert chance_levels(["a", "a", "a", "b"], ["a", "b"]) == {"uar": 0.5, "accuracy": 0.75}
