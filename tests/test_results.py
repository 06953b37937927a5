"""results.csv rows, headline figures and the index page."""

from __future__ import annotations

import json
import math

import pytest

from ser_utils.reporting import render_index
from ser_utils.results import RESULT_COLUMNS, drop_results, open_report, read_headlines, read_results


def _add(report, experiment: str, uar: float) -> None:
    report.add_result(experiment, features="mfcc_mean", model="svm", protocol="loso", n_folds=6,
                      accuracy=0.5, uar=uar, macro_f1=0.4, uar_std=0.05, chance=1 / 7)


def test_rows_append_and_reruns_replace(tmp_path) -> None:
    report = open_report(tmp_path, "04_svm", dataset="demo", seed=3)
    _add(report, "a", 0.41)
    _add(report, "b", 0.42)
    _add(report, "a", 0.43)  # a rerun of the same experiment replaces its row
    table = read_results(tmp_path)
    assert list(table.columns) == RESULT_COLUMNS
    assert sorted(table["experiment"]) == ["a", "b"]
    assert table.set_index("experiment").loc["a", "uar"] == pytest.approx(0.43)
    assert (table["seed"] == 3).all() and (table["dataset"] == "demo").all()
    assert math.isnan(table.set_index("experiment").loc["a", "accuracy_std"])


def test_metrics_must_be_fractions(tmp_path) -> None:
    report = open_report(tmp_path, "04_svm", dataset="demo")
    with pytest.raises(ValueError, match="uar"):
        _add(report, "percent by mistake", 45.0)


def test_drop_results_keeps_other_notebooks(tmp_path) -> None:
    _add(open_report(tmp_path, "03_protocols", dataset="demo"), "x", 0.3)
    svm = open_report(tmp_path, "04_svm", dataset="demo")
    _add(svm, "y", 0.4)
    svm.headline("best uar", 0.4)
    drop_results(tmp_path, ["04_svm"])
    assert read_results(tmp_path)["notebook"].tolist() == ["03_protocols"]
    assert read_headlines(tmp_path, "04_svm") == {}


def test_headlines_and_skipped(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    report = open_report(tmp_path, "00_eda", dataset="demo")
    report.headline("clips", np.int64(588))
    report.note_skipped(pd.DataFrame({"path": ["a.wav", "b.wav"], "corpus": ["emovo"] * 2,
                                      "reason": ["silent: peak -96 dBFS", "empty file"]}))
    assert read_headlines(tmp_path, "00_eda") == {
        "clips": 588, "skipped files": 2, "skip reasons": {"silent": 1, "empty file": 1}}


def test_index_lists_notebooks_results_and_skips(tmp_path) -> None:
    _add(open_report(tmp_path, "04_svm", dataset="demo"), "svm on <mfcc>", 0.456)
    run = {
        "dataset": "demo", "seed": 0, "duration_s": 12.0,
        "data": {"fingerprint": "abc123", "n_files": 10, "skipped": [{"path": "x.wav", "corpus": "demo", "reason": "empty"}]},
        "notebooks": [
            {"name": "00_eda", "title": "EDA", "status": "ok", "duration_s": 3.2, "html": "00_eda.html",
             "headlines": {"clips": 10}},
            {"name": "04_svm", "title": "SVM", "status": "failed", "duration_s": 1.0, "html": "04_svm.html",
             "error": "ValueError: boom", "headlines": {}},
        ],
        "versions": {"numpy": "2"}, "notebook_parameters": {"00_eda": {"seed": 0}},
    }
    page = render_index(run, tmp_path).read_text()
    assert 'href="00_eda.html"' in page and 'href="04_svm.html"' in page
    assert "1 failed: 04_svm" in page and "ValueError: boom" in page
    assert "svm on &lt;mfcc&gt;" in page and "0.456 ± 0.050" in page
    assert "abc123" in page and "x.wav" in page and "clips: <b>10</b>" in page
    json.dumps(run)  # the run record itself stays JSON-serialisable
