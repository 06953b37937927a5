"""Pretrained speech-model embeddings as feature sets, on tiny randomly initialised models of the same classes
(nothing is downloaded): shapes, layer choice, pooling, batch = single files, caching, the offline message."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_utils.features import embeddings, extract_features
from ser_utils.features.embeddings import WeightsNotFound, check_weights, embed_batch

SR = 16000


def _clip(seconds: float, f0: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    """A Keras Hub Whisper backbone of 3 encoder layers and width 16, random weights, saved as a preset folder."""
    pytest.importorskip("keras_hub")
    from ser_utils.models import keras_module

    keras_module()
    import keras_hub

    folder = tmp_path_factory.mktemp("weights") / "tiny-whisper"
    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=16, num_layers=3, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_encoder_sequence_length=3000, max_decoder_sequence_length=8,
    )  # fmt: skip
    backbone.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def tiny_wavlm(tmp_path_factory):
    """A Hugging Face WavLM of 2 layers and width 16, random weights, saved with save_pretrained."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("weights") / "tiny-wavlm"
    config = transformers.WavLMConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(8, 8),
        conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
    )  # fmt: skip
    transformers.WavLMModel(config).save_pretrained(folder)
    return str(folder)


def test_whisper_layers_pooling_and_batches(tiny_whisper) -> None:
    clips = [_clip(1.0, 150), _clip(2.3, 220, seed=1), _clip(0.6, 300, seed=2)]
    last = embed_batch("whisper", clips, SR, checkpoint=tiny_whisper)
    assert [v.shape for v in last] == [(16,)] * 3 and all(np.isfinite(v).all() for v in last)
    both = embed_batch("whisper", clips, SR, checkpoint=tiny_whisper, pooling="mean+std")
    assert both[0].shape == (32,)
    np.testing.assert_allclose(both[0][:16], last[0], rtol=1e-5, atol=1e-6)  # the mean half is the mean
    first = embed_batch("whisper", clips[:1], SR, checkpoint=tiny_whisper, layer=0)[0]
    assert not np.allclose(first, last[0])  # another layer, another vector
    layers = [embed_batch("whisper", clips[:1], SR, checkpoint=tiny_whisper, layer=i)[0] for i in range(4)]
    average = embed_batch("whisper", clips[:1], SR, checkpoint=tiny_whisper, layer="average")[0]
    np.testing.assert_allclose(average, np.mean(layers, axis=0), rtol=1e-5, atol=1e-6)
    for clip, together in zip(clips, last):  # a batch gives what one clip at a time gives
        np.testing.assert_allclose(embed_batch("whisper", [clip], SR, checkpoint=tiny_whisper)[0], together, atol=1e-5)
    assert not np.allclose(last[0], last[1])  # pooled over each clip's own frames, not the padding
    with pytest.raises(ValueError, match="layer must be"):
        embed_batch("whisper", clips[:1], SR, checkpoint=tiny_whisper, layer=9)
    with pytest.raises(ValueError, match="pooling"):
        embed_batch("whisper", clips[:1], SR, checkpoint=tiny_whisper, pooling="max")
    with pytest.raises(ValueError, match="16000 Hz"):
        embed_batch("whisper", clips[:1], 22050, checkpoint=tiny_whisper)


def test_wavlm_layers_and_pooling(tiny_wavlm) -> None:
    clips = [_clip(1.0, 150), _clip(1.7, 240, seed=1)]
    out = embed_batch("wavlm", clips, SR, checkpoint=tiny_wavlm, layer=-1, pooling="mean+std")
    assert [v.shape for v in out] == [(32,), (32,)]
    layers = [embed_batch("wavlm", clips[:1], SR, checkpoint=tiny_wavlm, layer=i)[0] for i in range(3)]
    assert not np.allclose(layers[0], layers[-1])
    average = embed_batch("wavlm", clips[:1], SR, checkpoint=tiny_wavlm, layer="average")[0]
    np.testing.assert_allclose(average, np.mean(layers, axis=0), rtol=1e-5, atol=1e-6)
    again = embed_batch("wavlm", clips[1:], SR, checkpoint=tiny_wavlm, layer=-1, pooling="mean+std")[0]
    np.testing.assert_allclose(again, out[1], rtol=1e-5, atol=1e-6)


def _corpus(folder, speakers: int = 3, per_emotion: int = 2) -> pd.DataFrame:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(speakers):
        for e, (emotion, f0) in enumerate((("angry", 260.0), ("sad", 120.0))):
            for k in range(per_emotion):
                path = folder / f"s{s}_{emotion}_{k}.wav"
                sf.write(path, _clip(0.8 + 0.2 * k, f0 + 15 * s, seed=10 * s + 2 * e + k), SR)
                rows.append(
                    {"utt_id": path.stem, "path": str(path), "speaker": f"s{s}", "emotion": emotion,
                     "sentence": f"p{k}", "corpus": "test"}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_extracted_cached_and_fed_to_the_classical_models(tiny_whisper, tmp_path) -> None:
    from ser_utils.baselines import Experiment, run_experiments

    rows = _corpus(tmp_path / "audio")
    params = {"checkpoint": tiny_whisper, "pooling": "mean+std"}
    table = extract_features(rows, "whisper", params=params, n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert table.X.shape == (len(rows), 32) and table.feature_names[:2] == ["whisper_0", "whisper_1"]
    assert table.timing["computed"] == len(rows)
    again = extract_features(rows, "whisper", params=params, n_jobs=2, progress=False, cache_root=tmp_path / "c")
    assert again.timing["from_cache"] == len(rows)
    np.testing.assert_array_equal(again.X, table.X)
    workers = extract_features(rows, "whisper", params=params, n_jobs=2, progress=False, cache_root=tmp_path / "w")
    assert workers.timing["computed"] == len(rows)  # in worker processes, in batches: the same vectors
    np.testing.assert_allclose(workers.X, table.X, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pooling must be one of"):  # checked before any file
        extract_features(
            rows, "whisper", params={**params, "pooling": "max"}, progress=False, cache_root=tmp_path / "x"
        )
    experiments = [Experiment("whisper", "logreg", protocol, norm) for protocol in ("loso", "lopo") for norm in (0, 1)]
    results = run_experiments(experiments, {"whisper": table}, grid="small", progress=False)
    assert all(0.0 <= r.mean() <= 1.0 and len(r.per_fold) >= 2 for r in results.values())


def test_without_weights_the_set_says_where_it_looked_and_how_to_fetch(tmp_path, monkeypatch) -> None:
    pytest.importorskip("keras_hub")
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(WeightsNotFound, match=r"python -m ser_utils\.features\.embeddings fetch whisper whisper_base"):
        check_weights("whisper")
    with pytest.raises(WeightsNotFound, match="looked for .*weights/whisper/whisper_base_multi/config.json"):
        check_weights("whisper")
    rows = _corpus(tmp_path / "audio", speakers=1, per_emotion=1)
    with pytest.raises(WeightsNotFound):  # before any file: nothing computed, nothing cached
        extract_features(rows, "whisper", n_jobs=1, progress=False, cache_root=tmp_path / "features")
    assert not list((tmp_path / "features").rglob("*.npy"))
    assert embeddings.available(["whisper"])["whisper"].startswith("no weights for whisper")
    done = subprocess.run(
        [sys.executable, "-m", "ser_utils.features.embeddings", "check", "whisper"],
        capture_output=True, text=True, timeout=120, env={**__import__("os").environ},
    )  # fmt: skip
    assert done.returncode == 1 and "fetch whisper whisper_base_multi" in done.stderr


def test_importing_the_features_loads_no_model_library() -> None:
    code = "import sys, ser_utils.features; print(sorted({'keras_hub', 'transformers', 'torch'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
