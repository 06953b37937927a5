"""Saved models: save → load → predict gives the training-time probabilities; the CLI and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")
sf = pytest.importorskip("soundfile")

from ser_utils.estimators import NetworkClassifier, fit_final  # noqa: E402
from ser_utils.features import combine_tables, extract_features  # noqa: E402
from ser_utils.modelfile import MODEL_FORMAT  # noqa: E402
from ser_utils.normalize import speaker_normalize  # noqa: E402
from ser_utils.predict import (  # noqa: E402
    ModelFileError,
    command_line,
    demo,
    load_predictor,
    main,
    predict_files,
)
from ser_utils.training import TrainConfig, predict_proba  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SR = 16000
FAST = TrainConfig(epochs=3, batch_size=8, patience=2, reduce_lr_patience=1, val_fraction=0.34, deterministic=False)


def _clip(f0: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return (0.3 * tone / 2 + 0.02 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pd.DataFrame:
    """18 short clips: 3 speakers × 3 emotions × 2 sentences, pitch set by emotion and speaker."""
    folder = tmp_path_factory.mktemp("wavs")
    rows = []
    for s, (speaker, gender) in enumerate((("a", "female"), ("b", "male"), ("c", "female"))):
        for e, emotion in enumerate(("angry", "neutral", "sad")):
            for p in range(2):
                path = folder / f"{speaker}_{emotion}_{p}.wav"
                sf.write(path, _clip(120 + 60 * e + 15 * s, 0.6, seed=s * 10 + e * 2 + p), SR)
                rows.append(
                    {
                        "path": str(path),
                        "utt_id": path.stem,
                        "speaker": speaker,
                        "gender": gender,
                        "sentence": f"p{p}",
                        "emotion": emotion,
                    }
                )
    return pd.DataFrame(rows)


def _table(corpus, feature_set, tmp_path_factory, params=None):
    return extract_features(
        corpus, feature_set, params=params, n_jobs=1, progress=False, cache_root=tmp_path_factory.mktemp("cache")
    )


@pytest.fixture(scope="module")
def saved(corpus, tmp_path_factory):
    """A small cnn1 trained on the corpus and saved, with its feature table."""
    table = _table(corpus, "kaggle162", tmp_path_factory)
    trained = fit_final(NetworkClassifier("cnn1", {"filters": 8}, FAST), table, dataset="toy")
    path, _ = trained.save(tmp_path_factory.mktemp("model") / "cnn1.keras")
    return path, trained, table


def test_save_load_predict_gives_the_same_probabilities(saved, corpus) -> None:
    path, trained, table = saved
    predictor = load_predictor(path)
    assert predictor.labels == ["angry", "neutral", "sad"] and not predictor.speaker_norm
    # the loaded network and the trained one agree exactly on the same inputs
    X = [np.asarray(table.X)]
    np.testing.assert_array_equal(predict_proba(predictor.model, X), predict_proba(trained.network(), X))
    np.testing.assert_array_equal(predict_proba(predictor.model, X), trained.predict_proba(X))
    # features recomputed from the wav files match the training features, hence the probabilities
    result = predictor.predict(corpus["path"])
    expected = trained.predict_proba(X)
    np.testing.assert_allclose(result[["p_angry", "p_neutral", "p_sad"]].to_numpy(), expected, atol=1e-6)
    assert list(result["emotion"]) == list(np.array(predictor.labels)[expected.argmax(axis=1)])
    assert (result["error"] == "").all()
    again = predict_files(path, corpus["path"].iloc[0])
    assert again.loc[0, "emotion"] == result.loc[0, "emotion"]


def test_description_holds_labels_features_and_audio(saved) -> None:
    path, trained, _ = saved
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format"] == MODEL_FORMAT
    assert meta["labels"] == list(trained.classes_) and meta["model"] == "cnn1"
    assert meta["inputs"][0]["feature_set"] == "kaggle162" and meta["inputs"][0]["params"]["n_mels"] == 128
    assert meta["audio"]["sr"] == 16000 and meta["config"]["epochs"] == FAST.epochs
    assert meta["speaker_norm"] is False and "speaker_norm" not in meta["config"]
    assert meta["trained"]["device"] and meta["trained"]["dataset"] == "toy" and meta["trained"]["speakers"] == 3


def test_windowed_model_averages_its_windows(corpus, tmp_path_factory) -> None:
    params = {"window": 0.25}
    table = _table(corpus, "window160", tmp_path_factory, params)
    assert len(table) > len(corpus)  # several windows per clip
    trained = fit_final(NetworkClassifier("conv1d5", {"filters": (4, 4, 8, 8, 8)}, FAST), table)
    path, _ = trained.save(tmp_path_factory.mktemp("win") / "conv1d5.keras")
    result = load_predictor(path).predict(corpus["path"].iloc[:2])
    windows = trained.predict_proba(np.asarray(table.X))
    first = table.meta["source_id"] == table.meta["source_id"].iloc[0]
    np.testing.assert_allclose(
        result.loc[0, ["p_angry", "p_neutral", "p_sad"]].to_numpy(float),
        windows[first.to_numpy()].mean(axis=0),
        atol=1e-6,
    )


def test_fusion_with_a_combined_statistics_table(corpus, tmp_path_factory) -> None:
    """A two-input model whose second input is a combination of sets is recomputed part by part."""
    vector = _table(corpus, "kaggle162", tmp_path_factory)
    statistics = combine_tables(
        [_table(corpus, "stats", tmp_path_factory), _table(corpus, "mfcc_mean", tmp_path_factory)]
    )
    trained = fit_final(NetworkClassifier("fusion", {"filters": [4], "hidden": [8]}, FAST), [vector, statistics])
    path, description = trained.save(tmp_path_factory.mktemp("fusion") / "fusion.keras")
    parts = json.loads(description.read_text())["inputs"][1]["parts"]
    assert [p["feature_set"] for p in parts] == ["stats", "mfcc_mean"] and parts[1]["params"]["n_mfcc"] == 20
    first = corpus.iloc[:2]
    result = load_predictor(path).predict(first["path"], gender=first["gender"].iloc[0])
    expected = trained.predict_proba([np.asarray(vector.X)[:2], np.asarray(statistics.X)[:2]])
    np.testing.assert_allclose(result[["p_angry", "p_neutral", "p_sad"]].to_numpy(), expected, atol=1e-5)


def test_speaker_normalised_model_needs_a_reference(corpus, tmp_path_factory) -> None:
    table = _table(corpus, "kaggle162", tmp_path_factory)
    trained = fit_final(NetworkClassifier("cnn1", {"filters": 8}, FAST), table, speaker_norm=True)
    path, description = trained.save(tmp_path_factory.mktemp("spk") / "cnn1.keras")
    assert json.loads(description.read_text())["speaker_norm"] is True
    predictor = load_predictor(path)
    assert predictor.speaker_norm
    speaker_a = corpus[corpus["speaker"] == "a"]["path"].tolist()
    with pytest.raises(ValueError, match="speaker"):
        predictor.predict(speaker_a)
    result = predictor.predict(speaker_a, same_speaker=True)
    X = speaker_normalize(np.asarray(table.X), table.meta)[table.meta["speaker"].eq("a").to_numpy()]
    np.testing.assert_allclose(
        result[["p_angry", "p_neutral", "p_sad"]].to_numpy(), trained.predict_proba(X), atol=1e-5
    )
    by_reference = predictor.predict(speaker_a[:1], speaker_ref=speaker_a)
    np.testing.assert_allclose(by_reference.loc[0, "confidence"], result.loc[0, "confidence"], atol=1e-6)
    assert main([str(path), speaker_a[0]]) == 2


def test_cli_prints_emotions_and_rejects_bad_files(saved, corpus, tmp_path, capsys) -> None:
    path, _, _ = saved
    good = corpus["path"].iloc[0]
    assert main([str(path), good]) == 0
    out = capsys.readouterr().out
    assert "emotion" in out and "angry" in out and "sad" in out and Path(good).name in out
    assert main([str(path), good, "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert set(record["probabilities"]) == {"angry", "neutral", "sad"}
    assert abs(sum(record["probabilities"].values()) - 1) < 1e-3

    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    short = tmp_path / "short.wav"
    sf.write(short, _clip(200, 0.05, 0), SR)
    assert main([str(path), good, str(text), str(short)]) == 1
    captured = capsys.readouterr()
    assert Path(good).name in captured.out
    assert f"{text}: cannot use this file: corrupt or unreadable" in captured.err
    assert f"{short}: cannot use this file: too short" in captured.err


@pytest.mark.parametrize("problem", ["missing", "not_keras", "not_zip", "no_json", "bad_json"])
def test_cli_wrong_model_file(problem, saved, corpus, tmp_path, capsys) -> None:
    path, _, _ = saved
    target = tmp_path / "model.keras"
    if problem == "missing":
        target = tmp_path / "nowhere.keras"
        expected = "not found"
    elif problem == "not_keras":
        target = path.with_suffix(".json")
        expected = "not a Keras model file"
    elif problem == "not_zip":
        target.write_text("hello")
        expected = "not a valid .keras file"
    else:
        target.write_bytes(path.read_bytes())
        if problem == "bad_json":
            target.with_suffix(".json").write_text("{broken")
            expected = "not valid JSON"
        else:
            expected = "model.json is missing"
    assert main([str(target), corpus["path"].iloc[0]]) == 2
    assert expected in capsys.readouterr().err
    with pytest.raises(ModelFileError):
        load_predictor(target)


def test_command_line_module(saved, corpus, tmp_path) -> None:
    path, _, _ = saved
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    done = subprocess.run(
        [sys.executable, "-m", "ser_utils.predict", str(path), corpus["path"].iloc[3], str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 1
    assert Path(corpus["path"].iloc[3]).name in done.stdout and "confidence" in done.stdout
    assert "bad.wav: cannot use this file" in done.stderr
    assert "oneDNN" not in done.stderr  # TensorFlow's start-up banner is kept out of the way


def test_command_line_transcript_runs_main_here(saved, corpus, tmp_path) -> None:
    path, _, _ = saved
    good = corpus["path"].iloc[0]
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    shown = command_line(path, good, text)
    first = shown.splitlines()[0]
    assert first == f"$ python -m ser_utils.predict {path.name} {Path(good).name} notes.wav   → exit status 1"
    assert "confidence" in shown and "notes.wav: cannot use this file: corrupt or unreadable" in shown
    assert command_line(text, good).splitlines()[0].endswith("exit status 2")  # not a model
    assert command_line("--no-such-option").splitlines()[0].endswith("exit status 2")  # argparse's usage error


def test_demo_predicts_one_clip_per_emotion_from_python_and_the_command_line(saved, corpus) -> None:
    path, trained, _ = saved
    table, shown = demo(path, corpus)
    first = corpus[corpus["speaker"] == corpus["speaker"].iloc[0]]
    assert list(table["true"]) == sorted(first["emotion"].unique())  # one clip of each emotion of the first speaker
    assert set(table["file"]) <= {Path(p).name for p in first["path"]}  # shown by file name
    assert (table["error"] == "").all() and set(table["emotion"]) <= set(trained.classes_)
    assert f"python -m ser_utils.predict {path.name}" in shown and "--gender female" in shown
    assert "exit status 0" in shown and "confidence" in shown  # the command's own table follows


def test_a_description_that_does_not_match_the_network_is_refused(saved, tmp_path) -> None:
    path, _, _ = saved
    target = tmp_path / "relabelled.keras"
    target.write_bytes(path.read_bytes())
    meta = json.loads(path.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**meta, "labels": ["angry", "sad"]}))
    with pytest.raises(ModelFileError, match="3 outputs but its description lists 2 labels"):
        load_predictor(target)
    target.with_suffix(".json").write_text(json.dumps({**meta, "format": "someone-else/1"}))
    with pytest.raises(ModelFileError, match="not a ser-lab model description"):
        load_predictor(target)


def test_older_descriptions_keep_speaker_norm_under_config(saved) -> None:
    """Models saved before speaker_norm moved to the top of the description still say they need a reference."""
    from ser_utils.predict import Predictor

    path, _, _ = saved
    meta = json.loads(path.with_suffix(".json").read_text())
    old = {k: v for k, v in meta.items() if k != "speaker_norm"}
    assert Predictor(None, {**old, "config": {**old["config"], "speaker_norm": True}}, path).speaker_norm
    assert not Predictor(None, old, path).speaker_norm
    assert Predictor(None, {**meta, "speaker_norm": True}, path).speaker_norm
