"""Training inside the protocols: honest folds, clip-level scores, reproducibility, options, reporting.

The networks are :class:`ser_utils.estimators.NetworkClassifier` estimators run by the one loop,
:func:`ser_utils.evaluation.cross_validate`; one fit is :func:`ser_utils.training.fit_network`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from ser_utils import display, estimators  # noqa: E402
from ser_utils.estimators import NetworkClassifier, chosen_epochs, fit_final  # noqa: E402
from ser_utils.evaluation import CVResult, as_tables, cross_validate, model_inputs  # noqa: E402
from ser_utils.features import FeatureTable  # noqa: E402
from ser_utils.training import TrainConfig, class_weights  # noqa: E402
from ser_utils.training.batches import batch_class  # noqa: E402

EMOTIONS = ("angry", "neutral", "sad")
FAST = TrainConfig(epochs=3, batch_size=16, patience=2, reduce_lr_patience=1, val_fraction=0.34, deterministic=False)
SMALL_CNN = {"filters": 8}


def _network(config: TrainConfig = FAST, model: str = "cnn1", params=None) -> NetworkClassifier:
    return NetworkClassifier(model, SMALL_CNN if params is None else params, config)


def _spy_on_fits(monkeypatch, record):
    """Replace the fit the estimators call by one that records (model, X_train, y_train, kwargs) first."""
    real_fit = estimators.fit_network

    def spy(model, X_train, y_train, n_classes, **kwargs):
        record(model, X_train, y_train, kwargs)
        return real_fit(model, X_train, y_train, n_classes, **kwargs)

    monkeypatch.setattr(estimators, "fit_network", spy)


def test_loso_trains_validates_and_tests_on_the_right_rows(monkeypatch, toy_table) -> None:
    # 4 speakers: each fold trains on 3, of which one whole speaker validates (validation_split needs >= 3)
    table = toy_table(kind="windows", windows=2, copies=1, speakers=4, index_column=True)
    meta = table.meta
    seen = []
    _spy_on_fits(
        monkeypatch, lambda m, X, y, kw: seen.append((X[0][:, 0].astype(int), kw["X_val"][0][:, 0].astype(int)))
    )
    result = cross_validate(_network(FAST.replace(epochs=2)), table, "loso", experiment="toy", progress=False)
    assert list(result.per_fold["fold"]) == [f"speaker s{i}" for i in range(4)]
    assert len(seen) == 4
    for (train_rows, val_rows), fold in zip(seen, result.per_fold["fold"]):
        test_speaker = fold.split()[-1]
        assert test_speaker not in set(meta.loc[train_rows, "speaker"]) | set(meta.loc[val_rows, "speaker"])
        assert len(val_rows) and set(meta.loc[val_rows, "speaker"]).isdisjoint(meta.loc[train_rows, "speaker"])
        assert (meta.loc[val_rows, "augmentation"] == "").all()  # copies train, never validate
        assert (meta.loc[train_rows, "augmentation"] != "").any()
    # one prediction per test *clip* (its two windows averaged), every clip tested exactly once
    assert (result.per_fold["n_test"] == 9).all()
    assert result.predictions["source_id"].is_unique and len(result.predictions) == 36
    proba = result.predictions[[f"p_{e}" for e in EMOTIONS]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert isinstance(result, CVResult) and set(result.histories) == set(result.per_fold["fold"])
    assert result.info["device"].startswith(("CPU", "GPU")) and result.epoch_seconds > 0


def test_augmented_copies_can_be_left_out(monkeypatch, toy_table) -> None:
    table = toy_table(copies=1, index_column=True)
    sizes = []
    _spy_on_fits(monkeypatch, lambda m, X, y, kw: sizes.append(len(X[0])))
    cross_validate(_network(), table, "lopo", experiment="toy", use_augmented=False, max_folds=1, progress=False)
    result = cross_validate(_network(), table, "lopo", experiment="toy", progress=False)
    assert 2 * sizes[0] == sizes[1]
    assert list(result.per_fold["fold"]) == ["sentence p0", "sentence p1", "sentence p2"]


def test_same_seed_same_results_and_a_learnable_problem_is_learned(toy_table) -> None:
    table = toy_table()
    config = FAST.replace(epochs=6, patience=6, learning_rate=3e-3)
    a = cross_validate(_network(config), table, "loso", experiment="a", max_folds=2, progress=False)
    b = cross_validate(_network(config), table, "loso", experiment="a", max_folds=2, progress=False)
    assert len(a.per_fold) == 2
    columns = [f"p_{e}" for e in EMOTIONS]
    np.testing.assert_array_equal(a.predictions[columns].to_numpy(), b.predictions[columns].to_numpy())
    assert a.summary().loc["uar", "mean"] > 0.6  # chance is 1/3


def test_record_plots_and_tables(tmp_path, toy_table) -> None:
    from ser_utils.results import open_report

    result = cross_validate(
        _network(FAST.replace(epochs=2)), toy_table(), "loso", experiment="CNN-1 toy", progress=False
    )
    report = open_report(tmp_path, "05_cnn", dataset="toy", seed=0)
    row = result.record(report, notes="toy")
    saved = pd.read_csv(tmp_path / "results.csv")
    assert saved.loc[0, "experiment"] == "CNN-1 toy" and saved.loc[0, "model"] == "cnn1"
    assert "s/epoch" in row["notes"] and ("CPU" in row["notes"] or "GPU" in row["notes"])
    fig = display.plot_histories(result.histories)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 * 3  # training and validation per fold
    assert display.plot_result_confusion(result).axes
    table = display.results_table([result])
    assert {"uar", "s/epoch", "epochs", "parameters"} <= set(table.columns)
    assert result.epoch_seconds > 0 and result.info["parameters"] > 0 and result.info["seconds"] > 0
    assert table.loc["CNN-1 toy", "s/epoch"] == pytest.approx(result.epoch_seconds, abs=1e-3)
    assert (result.per_fold["epochs"] == 2).all() and result.per_fold["best_epoch"].between(1, 2).all()


def test_multi_input_tables_are_aligned_on_utt_id(toy_table) -> None:
    deep, stats = toy_table(shape=(12,)), toy_table(shape=(5,), seed=1)
    stats = FeatureTable(
        X=stats.X[1:][::-1],
        meta=stats.meta.iloc[1:][::-1].reset_index(drop=True),
        skipped=stats.skipped,
        feature_names=None,
        feature_set="stats",
        kind="vector",
        params={},
        audio=stats.audio,
        config_key="toy",
    )
    aligned = as_tables([deep, stats])
    X = model_inputs(aligned)
    assert len(aligned[0]) == len(aligned[1]) == len(deep) - 1
    assert X[0].shape[1:] == (12,) and X[1].shape[1:] == (5,)
    assert list(aligned[0].meta["utt_id"]) == list(deep.meta["utt_id"].iloc[1:])
    assert list(aligned[1].meta["utt_id"]) == list(aligned[0].meta["utt_id"])
    expected = stats.X[::-1][list(stats.meta["utt_id"][::-1]).index(aligned[0].meta["utt_id"].iloc[0])]
    np.testing.assert_array_equal(X[1][0], expected)
    y = deep.meta["emotion"].to_numpy()
    with pytest.raises(ValueError, match="expects a sequence input"):
        NetworkClassifier("lstm", config=FAST).fit(deep.X, y)
    with pytest.raises(ValueError, match="takes 2 input"):
        NetworkClassifier("fusion", config=FAST).fit(deep.X, y)


def test_class_weights_balance_the_classes() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    w = class_weights(y, 4)
    np.testing.assert_allclose(w[:3], [6 / 9, 6 / 3, 6 / 6])
    assert w[3] == 0
    np.testing.assert_allclose(np.bincount(y, weights=w[y]), [2, 2, 2])


def test_training_batches_mixup_and_specaugment_are_reproducible() -> None:
    Batches = batch_class()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 16, 24)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[np.arange(20) % 4]

    def make():
        return Batches(
            [images],
            Y,
            np.ones(20, np.float32),
            batch_size=8,
            seed=3,
            mixup_alpha=0.4,
            spec_augment_inputs=[0],
            kinds=["image"],
        )

    first, again = make(), make()
    x1, y1, w1 = first[0]
    x2, y2, _ = again[0]
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(y1.sum(axis=1), 1.0, rtol=1e-6)
    assert (y1.max(axis=1) < 1).any()  # soft labels: examples were mixed
    assert x1.shape == (8, 16, 24) and w1.shape == (8,)
    first.on_epoch_end()
    assert not np.array_equal(first[0][0], x1)  # a new epoch, new shuffles and masks
    plain = Batches([images], Y, batch_size=8)
    x, y = plain[0]  # neither mixup nor SpecAugment: the shuffled rows, untouched, with their hard labels
    np.testing.assert_array_equal(x, images[plain.order[:8]])
    np.testing.assert_array_equal(y, Y[plain.order[:8]])
    assert len(plain) == 3


def test_balanced_batches_draw_every_emotion_equally_often(toy_table, monkeypatch) -> None:
    """balanced_batches: rows drawn class-balanced each epoch (one class 6x the size of another), no class
    weights on top; the fit goes through the batches and stays reproducible."""
    from ser_utils.training import fit as fit_module
    from ser_utils.training.batches import balanced_probabilities

    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    p = balanced_probabilities(y)
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(np.bincount(y, weights=p), [1 / 3] * 3)
    Y = np.eye(3, dtype=np.float32)[y]
    batches = batch_class()([np.arange(100, dtype=np.float32)[:, None]], Y, batch_size=25, seed=1, balanced=True)
    drawn = np.concatenate([batches[i][1].argmax(axis=1) for i in range(len(batches))])
    assert len(batches) == 4 and len(drawn) == 100  # an epoch as long as the data
    counts = np.bincount(np.concatenate([y[batch_class()([Y], Y, seed=s, balanced=True).order] for s in range(20)]))
    np.testing.assert_allclose(counts / counts.sum(), [1 / 3] * 3, atol=0.03)  # 2000 draws, about a third each
    seen = []
    real = batch_class()

    class Spy(real):
        def __init__(self, *args, **kwargs):
            seen.append((args[2], kwargs["balanced"]))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(fit_module, "batch_class", lambda: Spy)
    table = toy_table()
    codes = pd.factorize(table.meta["emotion"], sort=True)[0]
    config = FAST.replace(epochs=2, balanced_batches=True)
    first = fit_module.fit_network("cnn1", [table.X], codes, 3, params={"filters": 4}, config=config, seed=5)
    again = fit_module.fit_network("cnn1", [table.X], codes, 3, params={"filters": 4}, config=config, seed=5)
    assert seen == [(None, True), (None, True)]  # balanced draws, and no class weights on top of them
    np.testing.assert_allclose(first.history["loss"], again.history["loss"], rtol=1e-5)


def test_progressive_resizing_and_refit(toy_table) -> None:
    small, large = toy_table(kind="image", shape=(8, 8)), toy_table(kind="image", shape=(16, 16))
    config = FAST.replace(epochs=2, progressive_epochs=2)
    params = {"filters": (4, 8)}
    result = cross_validate(
        _network(config, "cnn2d", params), [small, large], "loso", experiment="prog", max_folds=1, progress=False
    )
    history = next(iter(result.histories.values()))
    assert list(history["stage"].fillna("small")) == ["small"] * 2 + ["large"] * 2  # 2 epochs small, then 2 large
    plain = cross_validate(
        _network(config, "cnn2d", params), small, "loso", experiment="small", max_folds=1, progress=False
    )
    assert result.info["parameters"] == plain.info["parameters"]  # the same network, on larger images
    assert "stage" not in next(iter(plain.histories.values()))  # no large images given: no progressive stage
    refit = cross_validate(
        _network(FAST.replace(epochs=2, refit=True)),
        toy_table(),
        "loso",
        experiment="refit",
        max_folds=1,
        progress=False,
    )
    assert "refit" in set(next(iter(refit.histories.values()))["stage"])


def test_fit_final_describes_what_prediction_needs(tmp_path, toy_table) -> None:
    trained = fit_final(_network(FAST.replace(epochs=2)), toy_table(), dataset="toy")
    description = trained.description_
    assert list(trained.classes_) == list(EMOTIONS) and description["labels"] == list(EMOTIONS)
    assert description["inputs"][0]["feature_set"] == "kaggle162" and description["inputs"][0]["shape"] == [12]
    assert description["inputs"][0]["params"]["n_mfcc"] == 20  # the full parameter set, not just the overrides
    assert description["trained"]["n_val"] > 0 and description["trained"]["device"]
    assert description["trained"]["dataset"] == "toy" and description["speaker_norm"] is False
    with pytest.raises(ValueError, match=".keras"):
        trained.save(tmp_path / "model.h5")
    model_path, meta_path = trained.save(tmp_path / "m" / "model.keras")
    assert model_path.is_file() and meta_path.name == "model.json"
    with pytest.raises(ValueError, match="fit_final"):  # a fold's estimator does not know how to recompute features
        _network(FAST.replace(epochs=1)).fit(toy_table().X, toy_table().meta["emotion"]).save(tmp_path / "x.keras")


def test_fit_final_trains_every_clip_for_the_epochs_the_folds_chose(toy_table) -> None:
    table = toy_table(speakers=4)
    result = cross_validate(_network(FAST.replace(epochs=4)), table, "loso", experiment="toy", progress=False)
    epochs = chosen_epochs(result)
    assert epochs == int(round(result.per_fold["best_epoch"].median())) and 1 <= epochs <= 4
    trained = fit_final(_network(FAST.replace(epochs=4, refit=True)), table, epochs=epochs)
    assert trained.fit_info_["n_val"] == 0 and len(trained.history_) == epochs  # no clip held out, no epoch more
    assert "stage" not in trained.history_  # nothing to refit
    assert chosen_epochs(CVResult("svm", "f", "svm", "loso", [], pd.DataFrame({"uar": [0.5]}), None, {})) is None


def test_config_from_parameters() -> None:
    assert TrainConfig.from_dict({"epochs": 5}).epochs == 5
    assert TrainConfig.from_dict({"epochs": 5}, patience=1).patience == 1
    assert TrainConfig.from_dict(FAST, epochs=9).batch_size == FAST.batch_size
    assert TrainConfig().progressive_epochs == 0 and TrainConfig().label_smoothing == 0.0
    with pytest.raises(ValueError, match="no setting"):
        TrainConfig.from_dict({"epoch": 5})
    with pytest.raises(ValueError, match="speaker_norm"):  # an argument of cross_validate / fit_final now
        TrainConfig.from_dict({"speaker_norm": True})


def test_label_smoothing_softens_the_targets() -> None:
    """With smoothed targets (0.3 over 3 classes: 0.8 for the true one) a network that fits a separable
    problem stays near 0.8 confidence; with hard targets it goes to ~1."""
    from ser_utils.training import fit_network, predict_proba

    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    X = [(rng.normal(0, 0.1, (30, 12)) + (y[:, None] - 1) * 3.0).astype(np.float32)]
    config = TrainConfig(
        epochs=15, batch_size=16, learning_rate=0.02, patience=0, reduce_lr_patience=0, class_weight=False
    )
    hard = fit_network("cnn1", X, y, 3, params=SMALL_CNN, config=config, seed=1)
    soft = fit_network("cnn1", X, y, 3, params=SMALL_CNN, config=config.replace(label_smoothing=0.3), seed=1)
    hard_confidence = predict_proba(hard.model, X).max(axis=1).mean()
    soft_confidence = predict_proba(soft.model, X).max(axis=1).mean()
    assert hard_confidence > 0.93 and 0.7 < soft_confidence < 0.88, (hard_confidence, soft_confidence)


def test_ensemble_histories_are_plotted_for_the_first_member(toy_table) -> None:
    result = cross_validate(
        _network(FAST.replace(epochs=2, ensemble=2)), toy_table(), "loso", experiment="ens", max_folds=1, progress=False
    )
    assert len(display.plot_histories(result.histories).axes[0].lines) == 2  # curves of the first member only


def test_ensemble_averages_its_members(tmp_path, toy_table) -> None:
    import keras

    config = FAST.replace(epochs=2, ensemble=2)
    result = cross_validate(_network(config), toy_table(), "loso", experiment="ens", max_folds=1, progress=False)
    assert list(result.histories) == ["speaker s0"]
    history = result.histories["speaker s0"]
    assert sorted(history["member"].unique()) == [1, 2]
    assert result.per_fold.loc[0, "epochs"] == len(history)  # both members' epochs counted
    trained = fit_final(_network(config), toy_table())
    assert trained.description_["config"]["ensemble"] == 2 and len(trained.networks_) == 2
    network = trained.network()
    members = [layer for layer in network.layers if isinstance(layer, keras.Model)]
    assert len(members) == 2
    X = toy_table().X[:5]
    expected = np.mean([np.asarray(m(X, training=False)) for m in members], axis=0)
    np.testing.assert_allclose(np.asarray(network(X, training=False)), expected, rtol=1e-5)
    np.testing.assert_allclose(trained.predict_proba(X), expected, rtol=1e-5)
    path, _ = trained.save(tmp_path / "ensemble.keras")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(X, training=False)), expected, rtol=1e-5)


def test_a_fit_does_not_depend_on_earlier_fits_of_the_same_network(toy_table) -> None:
    """Fits of one network and shape share a compiled copy: each must reset weights, optimiser state and the
    learning rate (which ReduceLROnPlateau lowered), so a fit repeated after another gives the same network."""
    from ser_utils.training import fit_network, predict_proba

    table, other = toy_table(), toy_table(seed=7)
    codes = lambda t: np.searchsorted(EMOTIONS, t.meta["emotion"].to_numpy())  # noqa: E731
    config = FAST.replace(epochs=3, patience=0, reduce_lr_patience=1, reduce_lr_factor=0.1)
    X, y = [np.asarray(table.X[:36])], codes(table)[:36]
    val = dict(X_val=[np.asarray(table.X[36:])], y_val=codes(table)[36:])
    first = fit_network("cnn1", X, y, 3, params=SMALL_CNN, config=config, seed=4, **val)
    # another fit in between, on other data, whose validation loss rises (wrong labels): the learning rate drops
    between = fit_network(
        "cnn1",
        [np.asarray(other.X)],
        codes(other),
        3,
        params=SMALL_CNN,
        config=config,
        seed=9,
        X_val=[np.asarray(other.X[:18])],
        y_val=(codes(other)[:18] + 1) % 3,
    )
    assert between.history["learning_rate"].iloc[-1] < config.learning_rate
    again = fit_network("cnn1", X, y, 3, params=SMALL_CNN, config=config, seed=4, **val)
    pd.testing.assert_frame_equal(first.history.drop(columns="seconds"), again.history.drop(columns="seconds"))
    np.testing.assert_array_equal(predict_proba(first.model, X), predict_proba(again.model, X))
    assert first.model is not again.model  # each fit returns its own network


def test_two_devices_train_data_parallel(tmp_path) -> None:
    """The multi-GPU path (MirroredStrategy, build and compile in its scope), on the CPU split in two logical
    devices: a fresh process, since devices are fixed once TensorFlow has started."""
    import subprocess
    import sys

    script = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from ser_utils.estimators import NetworkClassifier
from ser_utils.models import distribution
rng = np.random.default_rng(0)
y = np.repeat(["angry", "sad", "neutral"], 20)
X = rng.normal(size=(60, 12)).astype("float32") + np.repeat([0.0, 2.0, 4.0], 20)[:, None]
devices = ["/cpu:0", "/cpu:1"]
net = NetworkClassifier("cnn1", {"filters": 8}, {"epochs": 4, "patience": 0, "val_fraction": 0.0, "devices": devices})
net.fit(X, y)
strategy = distribution(devices)
assert strategy.num_replicas_in_sync == 2
assert net.networks_[0].distribute_strategy is strategy  # built in the strategy's scope
assert "data parallel on 2 devices" in net.run_info_["device"], net.run_info_
proba = net.predict_proba(X)
assert proba.shape == (60, 3) and np.allclose(proba.sum(axis=1), 1)
assert (net.predict(X) == y).mean() > 0.6
assert net.history_["loss"].iloc[-1] < net.history_["loss"].iloc[0]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_a_thread_drawing_from_random_does_not_change_the_network(toy_table) -> None:
    """Keras seeds new layers from Python's global ``random``; another thread drawing from it (as a Dask
    worker's event loop does) must not change what a seeded fit gives (it did, one run in three)."""
    import random
    import threading

    stop = threading.Event()

    def draw() -> None:
        while not stop.is_set():
            random.random()

    table = toy_table()
    y = table.meta["emotion"].to_numpy()
    quiet = _network().fit(table.X, y, meta=table.meta).predict_proba(table.X)
    drawing = threading.Thread(target=draw, daemon=True)
    drawing.start()
    try:
        busy = [_network().fit(table.X, y, meta=table.meta).predict_proba(table.X) for _ in range(2)]
    finally:
        stop.set()
        drawing.join()
    for proba in busy:
        np.testing.assert_array_equal(proba, quiet)
