"""results.csv rows, headline figures and the index page."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from ser_utils.reporting import render_index
from ser_utils.results import RESULT_COLUMNS, keep_failure, open_report, publish, read_headlines, read_results, stage


def _add(report, experiment: str, uar: float) -> None:
    report.add_result(
        experiment,
        features="mfcc_mean",
        model="svm",
        protocol="loso",
        n_folds=6,
        accuracy=0.5,
        uar=uar,
        macro_f1=0.4,
        uar_std=0.05,
        chance=1 / 7,
    )


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
    assert (table["probe"] == "").all()  # no probe: read back as "", not a missing value


def test_a_results_file_written_before_the_probe_column_still_reads(tmp_path) -> None:
    from ser_utils.dashboard import best_table

    report = open_report(tmp_path, "04_svm", dataset="demo", seed=3)
    _add(report, "a", 0.41)
    path = tmp_path / "results.csv"
    path.write_text(pd.read_csv(path).drop(columns=["probe"]).to_csv(index=False))
    table = read_results(tmp_path)
    assert "probe" not in table and best_table(table)["experiment"].tolist() == ["a"]
    _add(report, "b", 0.42)  # the next row written brings the column back, "" for the old rows
    assert read_results(tmp_path)["probe"].tolist() == ["", ""]


def test_metrics_must_be_fractions(tmp_path) -> None:
    report = open_report(tmp_path, "04_svm", dataset="demo")
    with pytest.raises(ValueError, match="uar"):
        _add(report, "percent by mistake", 45.0)


def test_publish_replaces_one_notebooks_outputs_and_keeps_the_rest(tmp_path) -> None:
    _add(open_report(tmp_path, "03_protocols", dataset="demo"), "x", 0.3)
    old = open_report(tmp_path, "04_svm", dataset="demo")
    _add(old, "old experiment", 0.4)
    old.headline("best uar", 0.4)
    staging = stage(tmp_path, "04_svm", "run1")
    assert read_results(staging)["experiment"].tolist() == ["x"]  # the other notebooks' rows are readable
    new = open_report(staging, "04_svm", dataset="demo")
    _add(new, "new experiment", 0.5)
    new.headline("best uar", 0.5)
    (staging / "04_svm.html").write_text("page")
    (staging / "models").mkdir()
    (staging / "models" / "net.keras").write_text("weights")
    shown = new.final_path(staging / "models" / "net.keras")  # what a notebook tells its reader
    assert shown == tmp_path / "models" / "net.keras" and not shown.exists()  # ... where it will be
    assert old.final_path(tmp_path / "x.csv") == tmp_path / "x.csv"  # not staged (a notebook run by hand)
    assert read_results(tmp_path)["experiment"].tolist() == ["x", "old experiment"]  # nothing moved in yet
    publish(staging, tmp_path, "04_svm")
    table = read_results(tmp_path)
    assert table["experiment"].tolist() == ["x", "new experiment"]  # the notebook's old rows are replaced
    assert read_headlines(tmp_path, "04_svm") == {"best uar": 0.5}
    assert (tmp_path / "04_svm.html").read_text() == "page" and not staging.exists()
    assert shown.read_text() == "weights"


def test_a_failure_is_kept_beside_the_previous_results(tmp_path) -> None:
    _add(open_report(tmp_path, "04_svm", dataset="demo"), "old experiment", 0.4)
    (tmp_path / "04_svm.html").write_text("good page")
    staging = stage(tmp_path, "04_svm", "run2")
    _add(open_report(staging, "04_svm", dataset="demo"), "half done", 0.1)
    (staging / "04_svm.html").write_text("error page")
    assert keep_failure(staging, tmp_path, "04_svm") == {"html": "04_svm.failed.html"}
    assert read_results(tmp_path)["experiment"].tolist() == ["old experiment"]
    assert (tmp_path / "04_svm.html").read_text() == "good page"
    assert (tmp_path / "04_svm.failed.html").read_text() == "error page"


def test_headlines_and_skipped(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    report = open_report(tmp_path, "00_eda", dataset="demo")
    report.headline("clips", np.int64(588))
    report.note_skipped(
        pd.DataFrame(
            {"path": ["a.wav", "b.wav"], "corpus": ["emovo"] * 2, "reason": ["silent: peak -96 dBFS", "empty file"]}
        )
    )
    shown = {k: v for k, v in read_headlines(tmp_path, "00_eda").items() if not k.startswith("_")}
    assert shown == {"clips": 588, "skipped files": 2, "skip reasons": {"silent": 1, "empty file": 1}}
    # a second call (another corpus of the same notebook) adds up; a file listed twice counts once
    report.note_skipped(pd.DataFrame({"path": ["b.wav", "c.wav"], "reason": ["empty file", "too short: 0.1 s"]}))
    assert read_headlines(tmp_path, "00_eda")["skipped files"] == 3


def test_index_lists_notebooks_results_and_skips(tmp_path) -> None:
    _add(open_report(tmp_path, "04_svm", dataset="demo"), "svm on <mfcc>", 0.456)
    run = {
        "dataset": "demo",
        "seed": 0,
        "duration_s": 12.0,
        "data": {
            "fingerprint": "abc123",
            "n_files": 10,
            "skipped": [{"path": "x.wav", "corpus": "demo", "reason": "empty"}],
        },
        "notebooks": [
            {
                "name": "00_eda",
                "title": "EDA",
                "status": "ok",
                "duration_s": 3.2,
                "html": "00_eda.html",
                "headlines": {"clips": 10},
            },
            {
                "name": "04_svm",
                "title": "SVM",
                "status": "failed",
                "duration_s": 1.0,
                "html": "04_svm.html",
                "error": "ValueError: boom",
                "headlines": {},
            },
        ],
        "versions": {"numpy": "2"},
        "notebook_parameters": {"00_eda": {"seed": 0}},
    }
    page = render_index(run, tmp_path).read_text()
    assert 'href="00_eda.html"' in page and 'href="04_svm.html"' in page
    assert "1 failed: 04_svm" in page and "ValueError: boom" in page
    assert "svm on &lt;mfcc&gt;" in page and "0.456 ± 0.050" in page
    assert "abc123" in page and "x.wav" in page and "clips: <b>10</b>" in page
    json.dumps(run)  # the run record itself stays JSON-serialisable
