"""Training inside the protocols: honest folds, clip-level scores, reproducibility, options, reporting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from ser_utils.audio import AudioConfig  # noqa: E402
from ser_utils.features import FeatureTable  # noqa: E402
from ser_utils import training  # noqa: E402
from ser_utils.training import (DeepCVResult, TrainConfig, class_weights, cross_validate_model, fit_final,  # noqa: E402
                                holdout_split, prepare_inputs, results_table, speaker_standardize)

EMOTIONS = ("angry", "neutral", "sad")
FAST = TrainConfig(epochs=3, batch_size=16, patience=2, reduce_lr_patience=1, val_fraction=0.34, deterministic=False)
SMALL_CNN = {"filters": 8}


def toy_table(*, kind: str = "vector", shape: tuple = (12,), speakers: int = 3, sentences: int = 3,
              windows: int = 1, copies: int = 0, seed: int = 0, index_column: bool = False) -> FeatureTable:
    """A feature table without audio: emotion shifts the features, speakers add their own offset.

    ``windows`` rows per clip (kind "windows"), ``copies`` augmented copies per clip; with
    ``index_column`` the first feature of each row is its row number (to trace rows through training).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        for p in range(sentences):
            for e in EMOTIONS:
                utt = f"s{s}_p{p}_{e}"
                for c in range(copies + 1):
                    for w in range(windows):
                        rows.append({"utt_id": utt if c == 0 else f"{utt}_aug{c}", "source_id": utt,
                                     "speaker": f"s{s}", "sentence": f"p{p}", "emotion": e,
                                     "gender": "female" if s % 2 else "male",
                                     "augmentation": "" if c == 0 else "noise", "window": w})
    meta = pd.DataFrame(rows)
    code = meta["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    speaker = meta["speaker"].str[1:].astype(int).to_numpy()
    X = rng.normal(0, 1, (len(meta), *shape)) + (code - 1).reshape(-1, *[1] * len(shape)) * 2.5 \
        + speaker.reshape(-1, *[1] * len(shape)) * 0.3
    X = X.astype(np.float32)
    if index_column:
        X.reshape(len(meta), -1)[:, 0] = np.arange(len(meta))
    feature_set = {"vector": "kaggle162", "windows": "window160", "image": "logmel", "sequence": "mfcc_seq"}[kind]
    if windows == 1:
        meta = meta.drop(columns="window")
    return FeatureTable(X=X, meta=meta, skipped=pd.DataFrame(), feature_names=None, feature_set=feature_set, kind=kind,
                        params={}, audio=AudioConfig(), config_key="toy")


def test_loso_trains_validates_and_tests_on_the_right_rows(monkeypatch) -> None:
    table = toy_table(kind="windows", windows=2, copies=1, index_column=True)
    meta = table.meta
    seen = []
    real_fit = training.fit_network

    def spy(model, X_train, y_train, n_classes, **kwargs):
        seen.append((X_train[0][:, 0].astype(int), kwargs["X_val"][0][:, 0].astype(int)))
        return real_fit(model, X_train, y_train, n_classes, **kwargs)

    monkeypatch.setattr(training, "fit_network", spy)
    result = cross_validate_model(table, "cnn1", "loso", experiment="toy", params=SMALL_CNN, config=FAST, progress=False)
    assert list(result.per_fold["fold"]) == [f"speaker s{i}" for i in range(3)]
    for (train_rows, val_rows), fold in zip(seen, result.per_fold["fold"]):
        test_speaker = fold.split()[-1]
        assert test_speaker not in set(meta.loc[train_rows, "speaker"]) | set(meta.loc[val_rows, "speaker"])
        assert len(val_rows) and set(meta.loc[val_rows, "speaker"]).isdisjoint(meta.loc[train_rows, "speaker"])
        assert (meta.loc[val_rows, "augmentation"] == "").all()  # copies train, never validate
        assert (meta.loc[train_rows, "augmentation"] != "").any()
    # one prediction per test *clip* (its two windows averaged), every clip tested exactly once
    assert (result.per_fold["n_test"] == 9).all()
    assert result.predictions["source_id"].is_unique and len(result.predictions) == 27
    proba = result.predictions[[f"p_{e}" for e in EMOTIONS]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert isinstance(result, DeepCVResult) and set(result.histories) == set(result.per_fold["fold"])
    assert result.device["device"].startswith(("CPU", "GPU")) and result.epoch_seconds > 0


def test_augmented_copies_can_be_left_out(monkeypatch) -> None:
    table = toy_table(copies=1, index_column=True)
    sizes = []
    real_fit = training.fit_network
    monkeypatch.setattr(training, "fit_network",
                        lambda *a, **k: sizes.append(len(a[1][0])) or real_fit(*a, **k))
    cross_validate_model(table, "cnn1", "lopo", experiment="toy", params=SMALL_CNN, config=FAST, use_augmented=False,
                         max_folds=1, progress=False)
    with_copies = []
    monkeypatch.setattr(training, "fit_network",
                        lambda *a, **k: with_copies.append(len(a[1][0])) or real_fit(*a, **k))
    result = cross_validate_model(table, "cnn1", "lopo", experiment="toy", params=SMALL_CNN, config=FAST, progress=False)
    assert 2 * sizes[0] == with_copies[0]
    assert list(result.per_fold["fold"]) == ["sentence p0", "sentence p1", "sentence p2"]


def test_same_seed_same_results_and_a_learnable_problem_is_learned() -> None:
    table = toy_table()
    config = FAST.replace(epochs=6, patience=6, learning_rate=3e-3)
    a = cross_validate_model(table, "cnn1", "loso", experiment="a", params=SMALL_CNN, config=config, max_folds=2,
                             progress=False)
    b = cross_validate_model(table, "cnn1", "loso", experiment="a", params=SMALL_CNN, config=config, max_folds=2,
                             progress=False)
    assert len(a.per_fold) == 2
    columns = [f"p_{e}" for e in EMOTIONS]
    np.testing.assert_array_equal(a.predictions[columns].to_numpy(), b.predictions[columns].to_numpy())
    assert a.summary().loc["uar", "mean"] > 0.6  # chance is 1/3


def test_record_plots_and_tables(tmp_path) -> None:
    from ser_utils.results import open_report

    result = cross_validate_model(toy_table(), "cnn1", "loso", experiment="CNN-1 toy", params=SMALL_CNN, config=FAST,
                                  progress=False)
    report = open_report(tmp_path, "05_cnn", dataset="toy", seed=0)
    row = result.record(report, notes="toy")
    saved = pd.read_csv(tmp_path / "results.csv")
    assert saved.loc[0, "experiment"] == "CNN-1 toy" and saved.loc[0, "model"] == "cnn1"
    assert "s/epoch" in row["notes"] and ("CPU" in row["notes"] or "GPU" in row["notes"])
    fig = result.plot_history()
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 * 3  # training and validation per fold
    result.plot_confusion()
    table = results_table([result])
    assert {"uar", "s/epoch", "epochs", "parameters"} <= set(table.columns)
    timing = result.timing()
    assert timing["s/epoch"] > 0 and timing["parameters"] > 0


def test_multi_input_tables_are_aligned_on_utt_id() -> None:
    deep, stats = toy_table(shape=(12,)), toy_table(shape=(5,), seed=1)
    stats = FeatureTable(X=stats.X[1:][::-1], meta=stats.meta.iloc[1:][::-1].reset_index(drop=True), skipped=stats.skipped,
                         feature_names=None, feature_set="stats", kind="vector", params={}, audio=stats.audio,
                         config_key="toy")
    inputs = prepare_inputs([deep, stats], "fusion")
    assert len(inputs) == len(deep) - 1 and inputs.X[0].shape[1:] == (12,) and inputs.X[1].shape[1:] == (5,)
    assert list(inputs.meta["utt_id"]) == list(deep.meta["utt_id"].iloc[1:])
    expected = stats.X[::-1][list(stats.meta["utt_id"][::-1]).index(inputs.meta["utt_id"].iloc[0])]
    np.testing.assert_array_equal(inputs.X[1][0], expected)
    with pytest.raises(ValueError, match="expects a sequence input"):
        prepare_inputs(deep, "lstm")
    with pytest.raises(ValueError, match="takes 2 feature table"):
        prepare_inputs(deep, "fusion")


def test_class_weights_balance_the_classes() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    w = class_weights(y, 4)
    np.testing.assert_allclose(w[:3], [6 / 9, 6 / 3, 6 / 6])
    assert w[3] == 0
    np.testing.assert_allclose(np.bincount(y, weights=w[y]), [2, 2, 2])


def test_training_batches_mixup_and_specaugment_are_reproducible() -> None:
    Batches = training._batch_class()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 16, 24)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[np.arange(20) % 4]
    make = lambda: Batches([images], Y, np.ones(20, np.float32), batch_size=8, shuffle=True, seed=3,  # noqa: E731
                           mixup_alpha=0.4, spec_augment_inputs=[0], kinds=["image"])
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
    np.testing.assert_array_equal(plain[0][0], images[:8])  # evaluation batches are untouched
    assert len(plain) == 3


def test_speaker_standardize_per_speaker_keeps_constant_columns() -> None:
    table = toy_table(copies=1)
    X = np.hstack([table.X, (table.meta["gender"] == "male").to_numpy(float)[:, None]]).astype(np.float32)
    Z = speaker_standardize(X, table.meta)
    original = table.meta["augmentation"] == ""
    for _, rows in table.meta[original].groupby("speaker").groups.items():
        np.testing.assert_allclose(Z[rows, :-1].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(Z[rows, :-1].std(axis=0), 1, atol=1e-4)
    np.testing.assert_array_equal(Z[:, -1], X[:, -1])  # gender, constant within a speaker, survives
    images = toy_table(kind="image", shape=(6, 10)).X
    Zi = speaker_standardize(images, toy_table(kind="image", shape=(6, 10)).meta, mode="band")
    first = toy_table().meta["speaker"].eq("s0").to_numpy()
    np.testing.assert_allclose(Zi[first].mean(axis=(0, 2)), 0, atol=1e-5)


def test_holdout_split_holds_out_whole_speakers_and_no_copies() -> None:
    meta = toy_table(copies=1, speakers=5).meta
    train, val = holdout_split(meta, 0.2, seed=0)
    assert meta.loc[val, "speaker"].nunique() == 1
    assert set(meta.loc[val, "speaker"]).isdisjoint(meta.loc[train, "speaker"])
    assert (meta.loc[val, "augmentation"] == "").all()
    assert len(train) + len(val) + (meta["speaker"].isin(meta.loc[val, "speaker"]) & (meta["augmentation"] != "")).sum() == len(meta)


def test_progressive_resizing_and_refit() -> None:
    small, large = toy_table(kind="image", shape=(8, 8)), toy_table(kind="image", shape=(16, 16))
    config = FAST.replace(epochs=2, progressive_epochs=2)
    result = cross_validate_model(small, "cnn2d", "loso", experiment="prog", params={"filters": (4, 8)}, config=config,
                                  progressive=large, max_folds=1, progress=False)
    history = next(iter(result.histories.values()))
    assert list(history["stage"].fillna("small")) == ["small"] * 2 + ["large"] * 2  # 2 epochs small, then 2 large
    assert result.n_params == cross_validate_model(small, "cnn2d", "loso", experiment="small", params={"filters": (4, 8)},
                                                   config=config, max_folds=1, progress=False).n_params
    refit = cross_validate_model(toy_table(), "cnn1", "loso", experiment="refit", params=SMALL_CNN,
                                 config=FAST.replace(refit=True), max_folds=1, progress=False)
    assert "refit" in set(next(iter(refit.histories.values()))["stage"])


def test_fit_final_describes_what_prediction_needs(tmp_path) -> None:
    trained = fit_final(toy_table(), "cnn1", params=SMALL_CNN, config=FAST, dataset="toy")
    assert trained.labels == list(EMOTIONS)
    assert trained.inputs[0]["feature_set"] == "kaggle162" and trained.inputs[0]["shape"] == [12]
    assert trained.inputs[0]["params"]["n_mfcc"] == 20  # the full parameter set, not just the overrides
    assert trained.info["validation_rows"] > 0 and trained.info["device"]
    with pytest.raises(ValueError, match=".keras"):
        trained.save(tmp_path / "model.h5")
    model_path, description = trained.save(tmp_path / "m" / "model.keras")
    assert model_path.is_file() and description.name == "model.json"


def test_config_from_parameters() -> None:
    assert TrainConfig.from_dict({"epochs": 5}).epochs == 5
    with pytest.raises(ValueError, match="no field"):
        TrainConfig.from_dict({"epoch": 5})


def test_ensemble_averages_its_members(tmp_path) -> None:
    import keras

    config = FAST.replace(ensemble=2)
    result = cross_validate_model(toy_table(), "cnn1", "loso", experiment="ens", params=SMALL_CNN, config=config,
                                  max_folds=1, progress=False)
    assert list(result.histories) == ["speaker s0", "speaker s0 · member 2"]
    assert len(result.plot_history().axes[0].lines) == 2  # curves of the first member only
    trained = fit_final(toy_table(), "cnn1", params=SMALL_CNN, config=config)
    members = [layer for layer in trained.model.layers if isinstance(layer, keras.Model)]
    assert len(members) == 2 and trained.info["ensemble"] == 2
    X = toy_table().X[:5]
    expected = np.mean([np.asarray(m(X, training=False)) for m in members], axis=0)
    np.testing.assert_allclose(np.asarray(trained.model(X, training=False)), expected, rtol=1e-5)
    path, _ = trained.save(tmp_path / "ensemble.keras")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(X, training=False)), expected, rtol=1e-5)
