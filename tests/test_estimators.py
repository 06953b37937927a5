"""Keras networks as scikit-learn estimators: cloning, the one cross-validation loop, what a fit reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("keras")

from ser_utils.estimators import NetworkClassifier, describe_input  # noqa: E402
from ser_utils.evaluation import CVResult, cross_validate  # noqa: E402
from ser_utils.features import FeatureTable  # noqa: E402
from ser_utils.training import TrainConfig  # noqa: E402

TINY = {"filters": 8}
#: What a network adds to the per-fold table.
NETWORK_COLUMNS = {"n_val", "epochs", "best_epoch", "s/epoch", "val_accuracy"}


def test_network_classifier_clones_to_an_unfitted_copy_with_the_same_parameters(toy_table) -> None:
    network = NetworkClassifier("cnn1", TINY, {"epochs": 2})
    assert network.get_params() == {"model": "cnn1", "params": TINY, "config": {"epochs": 2}}
    copy = clone(network)
    assert type(copy) is NetworkClassifier and copy is not network
    assert copy.get_params() == network.get_params()
    assert copy.params is not network.params and copy.config is not network.config  # deep copies
    table = toy_table()
    fitted = network.fit(table.X, table.meta["emotion"], meta=table.meta)
    assert fitted is network and hasattr(network, "networks_") and list(network.classes_) == ["angry", "neutral", "sad"]
    again = clone(network)
    for attribute in ("classes_", "networks_", "history_", "fit_info_", "run_info_"):
        assert hasattr(network, attribute) and not hasattr(again, attribute), attribute
    assert again.set_params(model="cnn4", config={"epochs": 1}).get_params()["model"] == "cnn4"
    assert network.model == "cnn1"  # the original is left alone
    config = TrainConfig(epochs=2)  # a TrainConfig works as well as a mapping
    assert clone(NetworkClassifier("cnn1", TINY, config)).get_params()["config"] == config


def test_a_fitted_network_reports_its_training(toy_table) -> None:
    table = toy_table()
    y = table.meta["emotion"].to_numpy()
    network = NetworkClassifier("cnn1", TINY, {"epochs": 2, "val_fraction": 0.34}).fit(table.X, y, meta=table.meta)
    assert set(network.fit_info_) == NETWORK_COLUMNS
    assert network.fit_info_["epochs"] == len(network.history_) == 2 and 1 <= network.fit_info_["best_epoch"] <= 2
    assert network.fit_info_["n_val"] == 9  # one whole speaker of three (3 sentences x 3 emotions)
    best = network.fit_info_["best_epoch"]  # what the validation speaker scored at the chosen epoch
    assert network.fit_info_["val_accuracy"] == pytest.approx(network.history_["val_accuracy"].iloc[best - 1], abs=1e-4)
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "seconds"} <= set(network.history_.columns)
    assert network.run_info_["device"].startswith(("CPU", "GPU")) and network.run_info_["parameters"] > 0
    proba = network.predict_proba(table.X)
    assert proba.shape == (len(table), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(network.predict(table.X)) <= set(network.classes_)
    # without meta, validation clips are drawn from the rows themselves
    plain = NetworkClassifier("cnn1", TINY, {"epochs": 1, "val_fraction": 0.2}).fit(table.X, y)
    assert plain.fit_info_["n_val"] == round(0.2 * len(table))
    with pytest.raises(ValueError, match="no hyper-parameter"):
        NetworkClassifier("cnn1", {"filterz": 3}).fit(table.X, y)
    with pytest.raises(ValueError, match="no setting"):
        NetworkClassifier("cnn1", TINY, {"epoch": 3}).fit(table.X, y)


def test_network_classifier_in_cross_validate(toy_table) -> None:
    table = toy_table()
    result = cross_validate(
        NetworkClassifier("cnn1", TINY, {"epochs": 2}), table, "loso", experiment="cnn1 · LOSO", progress=False
    )
    assert isinstance(result, CVResult) and result.model == "cnn1" and result.features == "kaggle162"
    assert len(result.per_fold) == 3
    assert NETWORK_COLUMNS <= set(result.per_fold.columns)
    assert (result.per_fold["epochs"] == 2).all() and result.per_fold["best_epoch"].between(1, 2).all()
    assert (result.per_fold["s/epoch"] > 0).all() and result.epoch_seconds > 0
    assert list(result.histories) == list(result.per_fold["fold"])  # one history per fold
    assert all(len(h) == 2 for h in result.histories.values())
    assert result.info["parameters"] > 0 and result.info["seconds"] > 0
    assert result.predictions["source_id"].is_unique and len(result.predictions) == len(table)


def _pipeline():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def test_one_call_for_a_pipeline_and_a_network(toy_table) -> None:
    table = toy_table(copies=1)
    kwargs = dict(experiment="same call", speaker_norm=True, use_augmented=True, seed=3, progress=False)
    classical = cross_validate(_pipeline(), table, "lopo", **kwargs)
    network = cross_validate(NetworkClassifier("cnn1", TINY, {"epochs": 2}), table, "lopo", **kwargs)
    assert classical.model == "logisticregression" and network.model == "cnn1"
    for attribute in ("experiment", "features", "protocol", "labels", "chance"):
        assert getattr(classical, attribute) == getattr(network, attribute), attribute
    # the per-fold table: the same columns, then what the network adds
    assert list(network.per_fold.columns[: len(classical.per_fold.columns)]) == list(classical.per_fold.columns)
    assert set(network.per_fold.columns) - set(classical.per_fold.columns) == NETWORK_COLUMNS
    common = ["fold", "n_train", "n_test"]
    pd.testing.assert_frame_equal(classical.per_fold[common], network.per_fold[common])  # the same folds and rows
    # the same clip predictions table (one row per test clip, probabilities per emotion)
    assert list(classical.predictions.columns) == list(network.predictions.columns)
    assert list(classical.predictions.columns) == ["source_id", "fold", "true", "pred", "p_angry", "p_neutral", "p_sad"]
    pd.testing.assert_frame_equal(
        classical.predictions[["source_id", "fold", "true"]], network.predictions[["source_id", "fold", "true"]]
    )
    assert list(classical.summary().index) == list(network.summary().index)
    assert not classical.histories and network.histories
    assert np.isnan(classical.epoch_seconds) and network.epoch_seconds > 0


def test_a_two_input_network_in_cross_validate(toy_table) -> None:
    deep, stats = toy_table(shape=(12,)), toy_table(shape=(5,), seed=1)
    stats = FeatureTable(
        X=stats.X,
        meta=stats.meta,
        skipped=stats.skipped,
        feature_names=None,
        feature_set="stats",
        kind="vector",
        params={},
        audio=stats.audio,
        config_key="toy",
    )
    network = NetworkClassifier("fusion", {"filters": (4, 4), "hidden": (8,)}, {"epochs": 1})
    result = cross_validate(network, [deep, stats], "loso", experiment="fusion", max_folds=1, progress=False)
    assert result.features == "kaggle162+stats" and result.model == "fusion"
    assert len(result.per_fold) == 1 and result.per_fold["n_test"].iloc[0] == 9


def test_describe_input_says_how_to_recompute_a_table(toy_table) -> None:
    item = describe_input(toy_table())
    assert item["feature_set"] == "kaggle162" and item["kind"] == "vector" and item["shape"] == [12]
    assert item["params"]["n_mfcc"] == 20  # the set's full parameters
    odd = toy_table()
    odd.feature_set = "mystery"
    with pytest.raises(ValueError, match="cannot describe input"):
        describe_input(odd)


def test_chosen_params_and_epochs_follow_the_choice_of_most_folds() -> None:
    """After a search, the final model takes the combination most folds chose (the earliest on a tie; either
    search's format) and the median epochs of the folds that chose it."""
    from types import SimpleNamespace

    from ser_utils.estimators import chosen_epochs, chosen_params

    folds = pd.DataFrame(
        {"best_params": ["{'C': 10}", "{'C': 1}", "{'C': 1}", "{'C': 10}", "{'C': 1}"], "best_epoch": [20, 3, 5, 30, 7]}
    )
    result = SimpleNamespace(per_fold=folds)
    assert chosen_params(result) == {"C": 1} and chosen_epochs(result) == 5  # not the median of all five (7)
    tie = SimpleNamespace(per_fold=folds.iloc[:4])
    assert chosen_params(tie) == {"C": 10} and chosen_epochs(tie) == 25  # the earliest fold's on a tie
    plain = SimpleNamespace(per_fold=pd.DataFrame({"best_epoch": [4, 6, 9]}))
    assert chosen_params(plain) == {} and chosen_epochs(plain) == 6


def test_validation_search_keeps_the_candidate_its_validation_speakers_score_best(toy_table) -> None:
    """Hyper-parameters chosen on validation speakers only: every candidate holds out the same speakers, the
    best clip-level UAR there wins, and inside cross_validate the choice is recorded per fold."""
    from sklearn.metrics import balanced_accuracy_score

    from ser_utils.estimators import ValidationSearch, chosen_params, fit_final, network_estimator, training_notes
    from ser_utils.splits import validation_split

    table = toy_table(speakers=4, windows=2, copies=1, seed=2)  # two rows per clip and a copy: validation scores clips
    y = table.meta["emotion"].to_numpy()
    config = {"epochs": 4, "val_fraction": 0.25, "patience": 0}
    # a learning rate too small to move the weights cannot win against one that learns
    search = ValidationSearch(
        NetworkClassifier("cnn1", TINY, config), {"learning_rate": [1e-9, 1e-2], "dropout": [0.2]}
    )
    assert clone(search).get_params()["grid"] == search.grid and search.model == "cnn1"
    search.fit(table.X, y, meta=table.meta)
    assert (
        list(search.search_.columns) == ["dropout", "learning_rate", "val_uar", "epochs"] and len(search.search_) == 2
    )
    assert search.best_params_ == {"dropout": 0.2, "learning_rate": 1e-2}
    assert search.search_["val_uar"].iloc[1] > search.search_["val_uar"].iloc[0]  # (0.78 against 0.56 here)
    kept = search.best_.get_params()
    assert kept["params"] == {**TINY, "dropout": 0.2} and kept["config"].learning_rate == 1e-2
    # the validation UAR, recomputed clip by clip: the held-out speaker's original clips (no copies), the
    # probabilities of a clip's two windows averaged
    _, val = validation_split(table.meta, 0.25, 0)
    held = table.meta.iloc[val]
    assert held["speaker"].nunique() == 1 and (held["augmentation"] == "").all() and len(held) == 9 * 2
    truth, guess = [], []
    for clip in held["source_id"].unique():
        rows = np.flatnonzero(
            (table.meta["source_id"] == clip).to_numpy() & (table.meta["augmentation"] == "").to_numpy()
        )
        assert len(rows) == 2
        truth.append(table.meta["emotion"].iloc[rows[0]])
        guess.append(search.classes_[search.predict_proba(table.X[rows]).mean(axis=0).argmax()])
    assert search.fit_info_["val_uar"] == pytest.approx(balanced_accuracy_score(truth, guess), abs=1e-4)
    assert search.fit_info_["best_params"] == "{'dropout': 0.2, 'learning_rate': 0.01}"  # as GridSearchCV writes it
    assert search.fit_info_["searched_epochs"] == 8 and search.fit_info_["epochs"] == 4  # two candidates, 4 each
    # in the one loop: the training part's own validation speakers choose, the per-fold table says what
    result = cross_validate(search, table, "loso", experiment="search", max_folds=2, progress=False)
    assert "best_params" in result.per_fold and result.model == "cnn1"
    assert chosen_params(result) == {"dropout": 0.2, "learning_rate": 0.01}
    final = search.candidate(chosen_params(result))
    assert type(final) is NetworkClassifier and final.params == {**TINY, "dropout": 0.2}
    assert (
        chosen_params(
            cross_validate(
                NetworkClassifier("cnn1", TINY, {"epochs": 1}),
                table,
                "loso",
                experiment="x",
                max_folds=1,
                progress=False,
            )
        )
        == {}
    )
    # the final model: every clip, the settings most folds chose; a search cannot guess them
    trained = fit_final(search, table, epochs=1, settings=chosen_params(result))
    assert trained.description_["params"] == {**TINY, "dropout": 0.2} and trained.description_["config"]["epochs"] == 1
    assert trained.description_["config"]["learning_rate"] == 0.01
    with pytest.raises(ValueError, match="settings=chosen_params"):
        fit_final(search, table, epochs=1)
    assert network_estimator("cnn1", TINY, config).get_params() == {"model": "cnn1", "params": TINY, "config": config}
    assert network_estimator("cnn1", TINY, config, {"dropout": [0.2]}).grid == {"dropout": [0.2]}
    assert training_notes(True, {"dropout": [0.2, 0.4]}) == (
        "speaker-normalised inputs; hyper-parameters chosen on validation speakers (dropout in [0.2, 0.4])"
    )
    assert training_notes(False) == ""
    # no validation speakers: one combination trains as it is, several cannot be chosen between
    alone = ValidationSearch(NetworkClassifier("cnn1", TINY, {**config, "val_fraction": 0.0}), {"dropout": [0.2]})
    assert "val_uar" not in alone.fit(table.X, y, meta=table.meta).fit_info_ and alone.best_params_ == {"dropout": 0.2}
    with pytest.raises(ValueError, match="no validation speakers to choose on"):
        ValidationSearch(NetworkClassifier("cnn1", TINY, {"val_fraction": 0.0}), {"dropout": [0.2, 0.4]}).fit(
            table.X, y, meta=table.meta
        )
    with pytest.raises(ValueError, match="cannot refit"):
        ValidationSearch(NetworkClassifier("cnn1", TINY, {"refit": True}), {"dropout": [0.2]}).fit(
            table.X, y, meta=table.meta
        )
    # what the search cannot vary, and names neither the builder nor training knows
    with pytest.raises(ValueError, match="cannot vary seed or val_fraction"):
        ValidationSearch(NetworkClassifier("cnn1", TINY), {"seed": [0, 1]}).fit(table.X, y, meta=table.meta)
    with pytest.raises(ValueError, match="widht"):
        ValidationSearch(NetworkClassifier("cnn1", TINY), {"widht": [1, 2]}).fit(table.X, y, meta=table.meta)
