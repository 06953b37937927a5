"""The replication scorecard: one row per claim, figures read from results.csv, verdicts that follow them."""

from __future__ import annotations

import pandas as pd

from ser_utils.replication import CLAIMS, Recipe, missing_recipes, scorecard
from ser_utils.results import open_report, read_results
from ser_utils.takeaways import replication_takeaways


def _add(report, experiment, model, protocol, accuracy, features="kaggle162") -> None:
    report.add_result(
        experiment,
        features=features,
        model=model,
        protocol=protocol,
        n_folds=6,
        accuracy=accuracy,
        accuracy_std=0.05,
        uar=accuracy,
        macro_f1=accuracy,
        chance=1 / 7,
    )


def test_every_study_has_claims_and_every_claim_an_honest_recipe() -> None:
    assert {c.study[:3] for c in CLAIMS} == {"000", "001", "002", "003", "004"}
    assert all(c.honest.protocol in ("loso", "cross_corpus") for c in CLAIMS)
    assert all(0 < c.reported < 1 for c in CLAIMS)


def test_the_scorecard_reads_figures_and_judges_them(tmp_path) -> None:
    nb04 = open_report(tmp_path, "04_svm_baseline", dataset="demo")
    _add(nb04, "random · svm · mfcc_mean · raw", "svm", "random", 0.55, "mfcc_mean")
    _add(nb04, "loso · svm · mfcc_mean · raw", "svm", "loso", 0.27, "mfcc_mean")
    _add(nb04, "loso · svm · mfcc_mean · speaker-norm", "svm", "loso", 0.34, "mfcc_mean")  # not their recipe
    _add(open_report(tmp_path, "07_crnn", dataset="demo"), "fusion (lstm head) · LOSO", "fusion", "loso", 0.43)
    results = read_results(tmp_path)
    card = scorecard(results, "demo").set_index("claim")
    assert len(card) == len(CLAIMS)
    svm = card.loc["MFCC means + SVM"]
    assert svm["ours, their protocol"] == "0.550 ± 0.050 (random)" and svm["ours, honest"] == "0.270 ± 0.050 (loso)"
    assert abs(svm["honest − reported"] - (0.27 - 0.517)) < 1e-9
    assert svm["verdict"] == "reproduced under their protocol; does not survive speaker-independent testing (-0.25)"
    assert "on demo, not RAVDESS + SAVEE" in svm["notes"]
    fusion = card.loc["Conv1D deep features + statistics + gender"]
    assert fusion["verdict"] == "reproduced under their protocol; that protocol is speaker-independent already"
    bilstm = card.loc["log-mel + BiLSTM"]
    assert bilstm["ours, honest"] == "—" and bilstm["verdict"] == "no honest figure in this run"
    lines = " ".join(replication_takeaways(card.reset_index()))
    assert f"{len(CLAIMS)} claims from 5 studies; 2 have an honest figure" in lines and "1 do not survive" in lines


def test_a_recipe_never_reads_a_probe(tmp_path) -> None:
    nb08 = open_report(tmp_path, "08_transfer_learning", dataset="demo")
    _add(nb08, "target only · LOSO", "conv1d5", "loso", 0.30, "window160")
    nb08.add_result(
        "target only · LOSO, seed 1",
        features="window160",
        model="conv1d5",
        protocol="loso",
        n_folds=6,
        accuracy=0.90,
        uar=0.90,
        macro_f1=0.90,
        seed=1,
        probe="seed 1",
    )  # fmt: skip  (a name that contains the recipe's words: only the probe column keeps it out)
    recipe = Recipe("08_transfer_learning", "loso", contains="target only · LOSO")
    assert read_results(tmp_path).pipe(recipe.rows)["accuracy"].tolist() == [0.30]


def test_missing_recipes_are_the_studies_leaky_runs_not_yet_recorded(tmp_path) -> None:
    todo = missing_recipes(pd.DataFrame())
    assert todo and all(r.notebook == "09_replication" for r in todo)
    assert len(todo) == len(set(todo))  # each recipe once
    cnn1 = next(r for r in todo if r.model == "cnn1")
    assert cnn1.protocol == "leaky" and cnn1.augment == ("noise", "pitch")
    _add(open_report(tmp_path, "09_replication", dataset="demo"), cnn1.experiment(), "cnn1", "leaky", 0.9)
    assert cnn1 not in missing_recipes(read_results(tmp_path))
    assert Recipe("05_cnn", "loso", "cnn1").rows(read_results(tmp_path)).empty


def test_pretrained_embeddings_have_a_column_of_their_own(tmp_path) -> None:
    nb04 = open_report(tmp_path, "04_svm_baseline", dataset="demo")
    _add(nb04, "loso · svm · mfcc_mean · raw", "svm", "loso", 0.27, "mfcc_mean")
    card = scorecard(read_results(tmp_path), "demo")
    assert "ours, honest, pretrained embeddings" not in card  # no such rows: the table is as before
    _add(nb04, "loso · svm · whisper · raw", "svm", "loso", 0.52, "whisper")
    card = scorecard(read_results(tmp_path), "demo").set_index("claim")
    svm = card.loc["MFCC means + SVM"]
    assert svm["ours, honest"] == "0.270 ± 0.050 (loso)"  # the CPU-trainable figure is not replaced
    honest_any = Recipe("04_svm_baseline", "loso", "svm")
    assert honest_any.rows(read_results(tmp_path))["features"].tolist() == ["mfcc_mean"]
    assert honest_any.rows(read_results(tmp_path), pretrained=True)["features"].tolist() == ["whisper"]
    assert (card["ours, honest, pretrained embeddings"] != "—").any()
