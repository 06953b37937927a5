"""Evidence from cross-validation results: per-speaker UAR side by side, validation against test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_utils.evaluation import CVResult
from ser_utils.evidence import per_speaker, validation_gap
from ser_utils.takeaways import network_takeaways


def _result(uars, val=None, accuracy=None) -> CVResult:
    folds = [f"spk{k}" for k in range(len(uars))]
    per_fold = pd.DataFrame({"fold": folds, "uar": uars, "accuracy": accuracy or uars, "macro_f1": uars})
    if val is not None:
        per_fold["val_accuracy"] = val
        per_fold["best_epoch"] = 5
    predictions = pd.DataFrame({"source_id": folds, "fold": folds, "true": "a", "pred": "a"})
    return CVResult("x", "f", "cnn1", "loso", ["a", "b"], per_fold, predictions, {"uar": 0.5})


def test_per_speaker_lines_models_up_by_test_speaker() -> None:
    table = per_speaker({"net": _result([0.2, 0.6, 0.5]), "svm": _result([0.4, 0.5, 0.5])})
    assert table.index.tolist() == ["spk0", "spk1", "spk2"] and table.index.name == "test speaker"
    assert table["best"].tolist() == ["svm", "net", "net"]  # ties: the first listed
    np.testing.assert_allclose(table["spread"], [0.2, 0.1, 0.0])
    assert list(per_speaker({"net": _result([0.2, 0.6])}).columns) == ["net"]  # one model: nothing to compare


def test_validation_gap_compares_the_chosen_epoch_with_the_test_speaker() -> None:
    optimistic = _result([0.3, 0.4, 0.5], val=[0.8, 0.7, 0.9])
    fair = _result([0.3, 0.4, 0.5], val=[0.31, 0.42, 0.48])
    gap = validation_gap({"optimistic": optimistic, "fair": fair, "svm": _result([0.5, 0.5, 0.5])})
    assert gap.index.tolist() == ["optimistic", "fair"]  # a model trained without validation has no row
    assert gap.loc["optimistic", "gap"] == pytest.approx(0.4)
    assert gap.loc["optimistic", "folds where validation was higher"] == "3 of 3"
    assert gap.loc["fair", "correlation across folds"] > 0.9
    lines = " ".join(network_takeaways({"optimistic": optimistic}))
    assert "validation promised more in 3 of 3 folds" in lines
    fair_lines = " ".join(network_takeaways({"fair": fair}))
    assert "did not over-promise" in fair_lines and "noisy guide" not in fair_lines  # it tracked the folds too
    erratic = _result([0.3, 0.5, 0.4], val=[0.45, 0.35, 0.4])  # no higher on average, but the wrong way round
    assert "hardly tracked the test speaker (correlation -1.00)" in " ".join(network_takeaways({"erratic": erratic}))
