"""The Keras model builders: registry, shapes, architectures, learning on a toy problem, pre-trained weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ser_utils.models import (
    CRNN_VARIATIONS,
    MODELS,
    WeightsUnavailableError,
    build_model,
    describe_models,
    get_model,
    input_stats,
)

keras = pytest.importorskip("keras")

#: Tiny inputs per model (shapes without the batch axis) and small hyper-parameters, so every test is fast.
TINY = {
    "cnn1": ([(24,)], {}),
    "cnn4": ([(24,)], {"filters": (16, 16, 8, 8)}),
    "crnn": ([(24,)], {"filters": (8, 8, 16, 16), "units": 16, "recurrent_layers": 2}),
    "conv1d5": ([(32,)], {"filters": (4, 4, 8, 8, 8)}),
    "lstm": ([(12, 5)], {"units": (16, 8), "dense": 16}),
    "bilstm": ([(6, 12)], {"units": 8}),
    "cnn2d": ([(16, 16)], {"filters": (4, 8)}),
    "resnet": ([(16, 16)], {"width": 4, "blocks": (1, 1, 1, 1)}),
    "statpool": ([(6, 12)], {"filters": (8, 8), "hidden": 8, "attention": 4}),
    "statpool_lld": ([(12, 5)], {"filters": (8, 8), "hidden": 8}),
    "dense_compare": ([(24,)], {"hidden": 8}),
    "fusion": ([(24,), (9,)], {"filters": (8, 8)}),
    "fusion2d": ([(12, 16), (9,)], {"filters": (4, 8)}),
}


def _toy(shapes, n=60, n_classes=3, seed=0):
    """A learnable problem: each class shifts every input by its own offset (plus noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = [
        (rng.normal(0, 1, (n, *s)) + (y - 1).reshape(-1, *[1] * len(s)) * 1.5 + 5.0).astype(np.float32) for s in shapes
    ]
    return X, y


def test_importing_the_package_does_not_import_tensorflow() -> None:
    code = (
        "import sys, ser_utils, ser_utils.models, ser_utils.training, ser_utils.predict, ser_utils.estimators, "
        "ser_utils.evaluation, ser_utils.transfer, ser_utils.modelfile, ser_utils.display; "
        "ser_utils.models.describe_models(); print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_registry_lists_every_model_with_its_features() -> None:
    assert set(TINY) == set(MODELS)
    table = describe_models()
    assert list(table.index) == list(MODELS)
    assert table.loc["lstm", "features"] == "mfcc_seq" and table.loc["conv1d5", "features"] == "window160"
    assert table.loc["fusion", "features"] == "kaggle162 + stats"
    assert all(table["description"].str.len() > 10) and all(table["reference"].str.len() > 3)
    with pytest.raises(ValueError, match="valid: cnn1"):
        get_model("cnn9")
    with pytest.raises(ValueError, match="no hyper-parameter"):
        build_model("cnn1", [(24,)], 3, filterz=3)
    with pytest.raises(ValueError, match="takes 2 input"):
        build_model("fusion", [(24,)], 3)


@pytest.mark.parametrize("name", list(TINY))
def test_builder_output_is_a_probability_per_class(name: str) -> None:
    shapes, params = TINY[name]
    X, _ = _toy(shapes, n=5)
    model = build_model(name, shapes, 4, norm=[input_stats(x, m) for x, m in zip(X, MODELS[name].norm)], **params)
    out = np.asarray(model(X[0] if len(X) == 1 else X, training=False))
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"  # the softmax stays float32 under mixed precision


@pytest.mark.parametrize("name", list(TINY))
def test_a_few_training_steps_reduce_the_loss(name: str) -> None:
    from ser_utils.training import TrainConfig, fit_network

    shapes, params = TINY[name]
    X, y = _toy(shapes, n=48)
    config = TrainConfig(
        epochs=5, batch_size=16, learning_rate=3e-3, patience=0, reduce_lr_patience=0, deterministic=False
    )
    fit = fit_network(name, X, y, 3, params=params, config=config, seed=1)
    loss = fit.history["loss"].to_numpy()
    assert len(loss) == 5 and loss[-1] < loss[0] * 0.9, loss


def test_normalisation_is_inside_the_model_with_training_statistics() -> None:
    X, _ = _toy([(24,)])
    mean, var = input_stats(X[0], "feature")
    model = build_model("cnn1", [(24,)], 3, norm=[(mean, var)])
    config = model.get_layer("features_norm").get_config()
    np.testing.assert_allclose(config["mean"], X[0].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(config["variance"], X[0].var(axis=0), rtol=1e-4)
    images = np.random.default_rng(0).normal(size=(4, 6, 10)).astype(np.float32)
    band_mean, _ = input_stats(images, "band")
    assert band_mean.shape == (6,)
    np.testing.assert_allclose(band_mean, images.mean(axis=(0, 2)), rtol=1e-5)
    constant = np.ones((5, 3), np.float32)
    assert np.all(input_stats(constant)[1] == 1.0)  # constant features are left unscaled


def test_reference_architectures() -> None:
    cnn1 = build_model("cnn1", [(162,)], 8)
    conv = cnn1.get_layer("conv")
    assert conv.filters == 128 and conv.kernel_size == (5,) and cnn1.get_layer("dropout").rate == 0.2
    cnn4 = build_model("cnn4", [(162,)], 8)
    assert [layer.name for layer in cnn4.layers if layer.name.startswith("conv")] == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
    ]
    assert {cnn4.get_layer("dropout_conv").rate, cnn4.get_layer("dropout_dense").rate} == {0.2, 0.3}
    lstm = build_model("lstm", [(100, 40)], 8)
    assert [lstm.get_layer(n).units for n in ("lstm1", "lstm2", "dense")] == [256, 64, 128]
    c5 = build_model("conv1d5", [(160,)], 7)
    convs = [c5.get_layer(f"conv{i}") for i in range(1, 6)]
    assert [c.filters for c in convs] == sorted(c.filters for c in convs)
    assert [c.kernel_size[0] for c in convs] == sorted((c.kernel_size[0] for c in convs), reverse=True)
    assert len([layer for layer in c5.layers if layer.name.startswith("dense")]) == 2
    bilstm = build_model("bilstm", [(128, 32)], 7)
    assert sum(isinstance(layer, keras.layers.Bidirectional) for layer in bilstm.layers) == 2
    resnet = build_model("resnet", [(32, 32)], 7, width=4)
    assert resnet.name == "resnet34"
    assert sum(1 for layer in resnet.layers if layer.name.endswith("_add")) == 3 + 4 + 6 + 3
    for head in ("mlp", "lstm", "bilstm"):
        fused = build_model("fusion", [(162,), (145,)], 6, head=head, filters=(8, 8))
        assert fused.get_layer("deep_features").units == 32
        assert fused.get_layer("fused").output.shape[-1] == 32 + 145
    assert build_model("fusion", [(162,), (145,)], 6).get_layer("conv1").filters == 256  # the study's extractor
    image_branch = build_model("fusion2d", [(32, 40), (145,)], 6)
    assert isinstance(image_branch.get_layer("conv1"), keras.layers.Conv2D)
    assert image_branch.get_layer("fused").output.shape[-1] == 32 + 145


def test_crnn_variation_table_is_one_loop() -> None:
    built = {name: build_model("crnn", [(162,)], 8, **params) for name, params in CRNN_VARIATIONS.items()}
    base, final = built["CRNN (3 conv, kernel 3, ReLU, LSTM)"], built["+ GRU instead of LSTM"]
    assert [layer.name for layer in base.layers if layer.name.startswith("conv")] == ["conv1", "conv2", "conv3"]
    assert base.get_layer("conv1").kernel_size == (3,) and base.get_layer("dropout1").rate == 0.2
    assert built["reducing dropout (0.1)"].get_layer("dropout1").rate == 0.1
    assert final.get_layer("conv4").filters == 512 and final.get_layer("conv1").kernel_size == (5,)
    assert [final.get_layer(f"conv{i}").activation.__name__ for i in range(1, 5)] == ["relu", "elu", "tanh", "relu"]
    assert sum(isinstance(layer, keras.layers.GRU) for layer in final.layers) == 4
    assert sum(isinstance(layer, keras.layers.LSTM) for layer in base.layers) == 4
    with pytest.raises(ValueError, match="activations"):
        build_model("crnn", [(162,)], 8, conv_layers=4, activations=["relu", "elu"])


def test_imagenet_weights_offline_say_what_to_do(tmp_path, monkeypatch) -> None:
    from ser_utils.models import cnn

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(cnn, "_online", lambda *a, **k: False)
    with pytest.raises(WeightsUnavailableError) as err:
        build_model("resnet", [(32, 32)], 3, weights="imagenet")
    message = str(err.value)
    assert "offline" in message and cnn.RESNET50_URL in message and str(tmp_path / "keras" / "models") in message
    with pytest.raises(WeightsUnavailableError, match="not found"):
        build_model("resnet", [(32, 32)], 3, weights=str(tmp_path / "missing.h5"))


def test_imagenet_resnet_from_a_local_weights_file(tmp_path) -> None:
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "resnet50.weights.h5"
    backbone.save_weights(path)
    model = build_model("resnet", [(32, 32)], 3, weights=str(path), freeze_backbone=True)
    assert model.name == "resnet50_imagenet"
    inner = model.get_layer("resnet50")
    assert not inner.trainable
    np.testing.assert_array_equal(inner.get_weights()[0], backbone.get_weights()[0])
    assert np.asarray(model(np.zeros((2, 32, 32), np.float32))).shape == (2, 3)


def test_batch_norm_statistics_settle_within_a_short_run() -> None:
    assert build_model("cnn2d", [(16, 16)], 3).get_layer("bn1").momentum == 0.9
    assert build_model("resnet", [(32, 32)], 3, width=4).get_layer("stem_bn").momentum == 0.9


def test_a_visible_gpu_gets_mixed_precision_and_is_named(monkeypatch) -> None:
    """The GPU branch of configure_device, with TensorFlow's device queries replaced by a fake GPU."""
    from types import SimpleNamespace

    from ser_utils.models import backend

    calls = []
    fake_tf = SimpleNamespace(
        __version__="fake",
        config=SimpleNamespace(
            list_physical_devices=lambda kind: (
                [SimpleNamespace(name="/physical_device:GPU:0")] if kind == "GPU" else []
            ),
            list_logical_devices=lambda kind: [SimpleNamespace(name="/device:GPU:0")] if kind == "GPU" else [],
            experimental=SimpleNamespace(
                set_memory_growth=lambda device, on: calls.append(("growth", on)),
                get_device_details=lambda device: {"device_name": "Fake GPU 80GB"},
                enable_op_determinism=lambda: calls.append("determinism"),
            ),
        ),
    )
    monkeypatch.setattr(backend, "tensorflow_module", lambda: fake_tf)
    monkeypatch.setattr(backend, "_CONFIGURED", {})
    try:
        info = backend.configure_device("auto", deterministic=True)
        assert info["device"] == "GPU: Fake GPU 80GB" and info["precision"] == "mixed_float16"
        assert ("growth", True) in calls and "determinism" in calls
        model = build_model("cnn1", [(24,)], 3)
        assert model.get_layer("conv").compute_dtype == "float16"
        assert model.get_layer("emotion").compute_dtype == "float32"  # softmax and loss stay float32
        assert backend.configure_device(False)["precision"] == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    monkeypatch.undo()
    assert backend.device_info()["device"].startswith("CPU")


def test_statistics_pooling_gives_mean_and_variance_over_frames_and_attention_weights_them(tmp_path) -> None:
    from ser_utils.models.pooling import statistics_pooling

    frames = np.random.default_rng(0).normal(size=(3, 7, 4)).astype(np.float32)
    inp = keras.Input(shape=(7, 4))
    plain = keras.Model(inp, statistics_pooling(inp))
    out = np.asarray(plain(frames))
    np.testing.assert_allclose(out[:, :4], frames.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 4:], frames.var(axis=1), rtol=1e-4, atol=1e-5)
    attentive = keras.Model(inp, statistics_pooling(inp, attention=5))
    weighted = np.asarray(attentive(frames))
    assert (weighted[:, :4] >= frames.min(axis=1) - 1e-5).all() and (weighted[:, :4] <= frames.max(axis=1) + 1e-5).all()
    score = attentive.get_layer("pool_attention_score")
    score.set_weights([np.zeros_like(w) for w in score.get_weights()])  # equal scores: every frame counts the same
    np.testing.assert_allclose(np.asarray(attentive(frames)), out, rtol=1e-4, atol=1e-5)
    # built-in layers only: the saved network loads without this package's code
    network = build_model("statpool", [(6, 12)], 3, attention=4, filters=(4, 4), hidden=4)
    network.save(tmp_path / "statpool.keras")
    again = keras.models.load_model(tmp_path / "statpool.keras")
    x = np.random.default_rng(1).normal(size=(2, 6, 12)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(network(x)), rtol=1e-5)


def test_statistics_pooling_stays_in_float32_under_mixed_precision() -> None:
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = build_model("statpool", [(6, 12)], 3, filters=(4, 4), hidden=4)
        assert network.get_layer("conv1").compute_dtype == "float16"  # the convolutions run in half precision
        assert network.get_layer("pool_variance").compute_dtype == "float32"  # E[x²] − E[x]² does not
        big = np.full((2, 6, 12), 300.0, np.float32)  # squares beyond float16's range (65504)
        assert np.isfinite(np.asarray(network(big))).all()
    finally:
        keras.mixed_precision.set_global_policy(before)
