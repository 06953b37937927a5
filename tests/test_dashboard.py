"""The index page's results dashboard and the page comparing datasets."""

from __future__ import annotations

import json

import pandas as pd

from ser_utils.dashboard import best_rows, best_table, dashboard_figure, family, loso_by_family
from ser_utils.reporting import render_index, render_overview
from ser_utils.results import open_report


def _row(report, experiment, model, protocol, uar, std=0.05) -> None:
    report.add_result(
        experiment,
        features="f",
        model=model,
        protocol=protocol,
        n_folds=6,
        accuracy=uar,
        uar=uar,
        macro_f1=uar,
        uar_std=std,
        chance=1 / 7,
    )


def _study(folder, shift: float = 0.0) -> None:
    """A small results.csv as the notebooks write it: protocols in 03, classical in 04, networks, transfer."""
    _row(p03 := open_report(folder, "03_protocols", dataset="demo"), "(a) leaky · svm", "svm", "leaky", 0.70 + shift)
    _row(p03, "(b) random · svm", "svm", "random", 0.55 + shift)
    _row(p03, "(d) LOSO · svm", "svm", "loso", 0.30 + shift)
    _row(p04 := open_report(folder, "04_svm_baseline", dataset="demo"), "loso · logreg", "logreg", "loso", 0.50 + shift)
    _row(p04, "loso · svm", "svm", "loso", 0.45 + shift)
    _row(open_report(folder, "05_cnn", dataset="demo"), "cnn1 · LOSO", "cnn1", "loso", 0.33 + shift)
    _row(
        p08 := open_report(folder, "08_transfer_learning", dataset="demo"),
        "transfer (last block) · LOSO",
        "conv1d5",
        "loso",
        0.36 + shift,
    )
    _row(p08, "target only · LOSO", "conv1d5", "loso", 0.32 + shift)


def test_rows_are_sorted_into_kinds_of_model() -> None:
    assert family("04_svm_baseline", "loso · svm", "svm") == "classical"
    assert family("07_crnn", "reference: SVM on prosody", "svm") == "classical"  # 07's fallback reference
    assert family("06_lstm", "lstm · LOSO", "lstm") == "neural"
    assert family("08_transfer_learning", "transfer (head) · LOSO", "cnn1") == "transfer"
    assert family("08_transfer_learning", "zero-shot · a → b", "cnn1") == "transfer"
    assert family("08_transfer_learning", "target only + aug · LOSO", "cnn1") == "target only"
    assert family("04_svm_baseline", "loso · logreg · whisper", "logreg", "whisper") == "pretrained"  # apart


def test_the_best_pretrained_row_is_named_apart_from_the_cpu_trainable_ones() -> None:
    table = pd.DataFrame(
        {
            "notebook": ["04_svm_baseline"] * 2,
            "experiment": ["logreg · prosody · LOSO", "logreg · whisper · LOSO"],
            "model": ["logreg"] * 2,
            "features": ["prosody", "whisper"],
            "protocol": ["loso"] * 2,
            "uar": [0.40, 0.55],
            "uar_std": [0.05, 0.04],
        }
    )
    best = best_table(table).set_index("family")
    assert best.loc["classical", "experiment"] == "logreg · prosody · LOSO"  # not hidden by the larger model
    assert best.loc["pretrained", "experiment"] == "logreg · whisper · LOSO"
    assert list(loso_by_family(table).index) == ["classical", "pretrained"]


def test_best_rows_keep_the_highest_uar_of_each_group() -> None:
    table = pd.DataFrame({"notebook": ["a", "a", "b"], "protocol": ["loso"] * 3, "uar": [0.2, 0.4, 0.3]})
    best = best_rows(table, ["notebook"])
    assert best["uar"].tolist() == [0.4, 0.3]
    probed = table.assign(probe=["", "seed 1", None])  # a re-run with another seed is evidence, never a best
    assert best_rows(probed, ["notebook"])["uar"].tolist() == [0.2, 0.3]


def test_probes_are_recorded_with_their_seed_and_left_out_of_the_best(tmp_path) -> None:
    from ser_utils.results import read_results

    _study(tmp_path)
    p08 = open_report(tmp_path, "08_transfer_learning", dataset="demo")
    p08.add_result(
        "transfer (pooled), seed 1 · LOSO", features="f", model="m", protocol="loso", n_folds=6,
        accuracy=0.9, uar=0.9, macro_f1=0.9, chance=1 / 7, seed=1, probe="seed 1",
    )  # fmt: skip
    results = read_results(tmp_path)
    row = results.set_index("experiment").loc["transfer (pooled), seed 1 · LOSO"]
    assert row["seed"] == 1 and row["probe"] == "seed 1"
    others = results[results["probe"] == ""]  # read back as "" for a row that is no probe
    assert len(others) == len(results) - 1 and others["seed"].isna().all()  # the report's seed (none given here)
    assert loso_by_family(results)["transfer"].startswith("0.360")  # not 0.900
    assert "0.900" not in best_table(results)["UAR"].str.cat()
    page = render_index({"dataset": "demo", "notebooks": []}, tmp_path).read_text()
    assert "<th>probe</th>" in page and "<td>seed 1</td>" in page  # shown in the table of results, marked


def test_07_compares_the_networks_of_05_07_and_never_a_probe_with_the_classical_reference(tmp_path) -> None:
    from ser_utils.display import classical_reference, neural_rows
    from ser_utils.results import read_results

    _study(tmp_path)
    p05 = open_report(tmp_path, "05_cnn", dataset="demo")
    for experiment, model, uar, probe in (("cnn1, seed 1 · LOSO", "cnn1", 0.95, "seed 1"), ("x", "svm", 0.97, "s")):
        p05.add_result(experiment, features="f", model=model, protocol="loso", n_folds=6, accuracy=uar, uar=uar,
                       macro_f1=uar, probe=probe)  # fmt: skip
    results = read_results(tmp_path)
    assert neural_rows(results)["experiment"].tolist() == ["cnn1 · LOSO"]  # not 08's conv1d5 rows, not the probe
    assert neural_rows(results, notebooks=("08",))["experiment"].tolist() == [
        "transfer (last block) · LOSO",
        "target only · LOSO",
    ]
    assert classical_reference(results)["experiment"] == "loso · logreg"  # 0.50, not the 0.97 probe


def test_the_index_shows_the_dashboard_and_the_best_of_each_kind(tmp_path) -> None:
    _study(tmp_path)
    from ser_utils.results import read_results

    results = read_results(tmp_path)
    fig = dashboard_figure(results, "demo")
    assert len(fig.axes) == 3 and [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["leaky", "random", "loso"]
    best = best_table(results).set_index(["family", "protocol"])
    assert best.loc[("classical", "loso"), "experiment"] == "loso · logreg"
    assert best.loc[("transfer", "loso"), "UAR"] == "0.360 ± 0.050"
    page = render_index({"dataset": "demo", "notebooks": []}, tmp_path).read_text()
    assert "Results at a glance" in page and page.count("data:image/png;base64") == 1
    assert dashboard_figure(results.iloc[0:0], "demo") is None


def test_the_overview_compares_every_dataset_run_into_one_root(tmp_path) -> None:
    for name, shift in (("demo", 0.0), ("emodb", 0.2)):
        _study(tmp_path / name, shift)
        (tmp_path / name / "run.json").write_text(json.dumps({"dataset": name, "data": {"n_files": 10}}))
    (tmp_path / "half-written").mkdir()
    (tmp_path / "half-written" / "run.json").write_text("{")
    page = render_overview(tmp_path).read_text()
    assert "demo/index.html" in page and "emodb/index.html" in page and "half-written" not in page
    assert "0.500 ± 0.050" in page and "0.700 ± 0.050" in page  # best classical LOSO of each
    assert loso_by_family(pd.DataFrame()).empty
    assert render_overview(tmp_path / "demo") is None  # no dataset folders under it
