"""Feature sets and the extraction engine: shapes, determinism, cache, skips, augmentation, windows."""

from __future__ import annotations

import os
import subprocess
import sys

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_utils.audio import AudioConfig, load_audio
from ser_utils.features import FEATURE_SETS, PRETRAINED, compute, describe_feature_sets, extract_features
from ser_utils.features.engine import FEATURE_VERSION
from ser_utils.features.prosody import opensmile_available

SR = 16000


def speech_like(seconds: float = 2.5, f0: float = 150.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """A harmonic tone with vibrato, a syllable-like envelope and a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.15 * voice * envelope + noise).astype(np.float32)


EXPECTED_SHAPES = {
    "kaggle162": (162,),
    "window160": (2, 160),
    "mfcc_mean": (20,),
    "mfcc_seq": (300, 40),
    "logmel": (128, 128),
    "stats": (145,),
    "prosody": (88,) if opensmile_available() else (27,),
    "compare": (6373,),  # openSMILE only (a dependency): ComParE 2016 functionals
    "egemaps_lld": (300, 25),  # openSMILE only: eGeMAPS low-level descriptors per 10 ms frame
}


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return speech_like(3.0)


# --- feature sets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in FEATURE_SETS if n not in PRETRAINED])  # those: test_embeddings.py
def test_every_set_shape_dtype_finite_deterministic(name, clip):
    out = compute(name, clip, SR)
    assert out.shape == EXPECTED_SHAPES[name] and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and np.any(out != 0)
    assert np.array_equal(out, compute(name, clip.copy(), SR))
    names = FEATURE_SETS[name].feature_names()
    if FEATURE_SETS[name].kind in ("vector", "windows"):
        assert len(names) == out.shape[-1] and len(set(names)) == len(names)
    else:
        assert names is None


@pytest.mark.parametrize(
    ("name", "params", "shape"),
    [
        ("mfcc_seq", {"deltas": True}, (300, 120)),
        ("mfcc_seq", {"frames": 50, "n_mfcc": 13}, (50, 13)),
        ("logmel", {"size": (256, 256)}, (256, 256)),
        ("logmel", {"size": (64, 100), "duration": 2.0}, (64, 100)),
        ("window160", {"hop": 1.0}, (2, 160)),  # 3 s: windows at 0 and 1 s cover it all
        ("window160", {"window": 1.0}, (3, 160)),
        ("prosody", {"backend": "librosa"}, (27,)),
        ("egemaps_lld", {"frames": 120}, (120, 25)),
    ],
)
def test_parameters_change_shapes(name, params, shape, clip):
    out = compute(name, clip, SR, params)
    assert out.shape == shape and np.all(np.isfinite(out))


@pytest.mark.skipif(not opensmile_available(), reason="opensmile not installed")
def test_egemaps_descriptors_follow_the_voice_frame_by_frame():
    """Pitch rises with the voice, frame by frame; a clip shorter than the sequence is centred in silence."""
    import opensmile

    names = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.LowLevelDescriptors
    ).feature_names
    f0, loudness = names.index("F0semitoneFrom27.5Hz_sma3nz"), names.index("Loudness_sma3")
    low, high = (
        compute("egemaps_lld", speech_like(1.0, f0=120), SR),
        compute("egemaps_lld", speech_like(1.0, f0=240), SR),
    )
    voiced = (low[:, f0] > 0) & (high[:, f0] > 0)
    assert 80 <= voiced.sum() <= 110  # about a second of voice (100 frames of 10 ms) in the middle of 3 s
    assert np.median(high[voiced, f0] - low[voiced, f0]) == pytest.approx(12.0, abs=1.0)  # an octave: 12 semitones
    quiet, loud = np.r_[low[:80, loudness], low[-80:, loudness]], low[voiced, loudness]
    assert quiet.max() < 0.01 and np.median(loud) > 0.1  # silence on both sides (centred), the voice between


def test_kaggle162_matches_the_per_feature_librosa_calls(clip):
    stft = np.abs(librosa.stft(clip))
    reference = np.hstack(
        [
            librosa.feature.zero_crossing_rate(y=clip).mean(axis=1),
            librosa.feature.chroma_stft(S=stft, sr=SR).mean(axis=1),
            librosa.feature.mfcc(y=clip, sr=SR).mean(axis=1),
            librosa.feature.rms(y=clip).mean(axis=1),
            librosa.feature.melspectrogram(y=clip, sr=SR).mean(axis=1),
        ]
    )
    np.testing.assert_allclose(compute("kaggle162", clip, SR), reference, rtol=1e-4, atol=1e-6)
    assert FEATURE_SETS["kaggle162"].feature_names()[:2] == ["zcr", "chroma_C"]


def test_librosa_prosody_finds_the_pitch():
    values = dict(
        zip(
            FEATURE_SETS["prosody"].feature_names({"backend": "librosa"}),
            compute("prosody", speech_like(2.0, f0=200.0), SR, {"backend": "librosa"}),
        )
    )
    assert values["f0_p50_st"] == pytest.approx(12 * np.log2(200 / 27.5), abs=1.0)
    assert values["voiced_ratio"] > 0.8
    noise = 0.1 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    unvoiced = compute("prosody", noise, SR, {"backend": "librosa"})
    assert np.all(np.isfinite(unvoiced))


def test_prosody_falls_back_to_librosa_without_opensmile(monkeypatch, clip):
    import ser_utils.features.prosody as prosody

    monkeypatch.setattr(prosody, "opensmile_available", lambda: False)
    assert FEATURE_SETS["prosody"].resolve()["backend"] == "librosa"
    assert compute("prosody", clip, SR).shape == (27,)
    with pytest.raises(ImportError, match="opensmile"):
        FEATURE_SETS["prosody"].resolve({"backend": "opensmile"})


@pytest.mark.skipif(not opensmile_available(), reason="opensmile not installed")
def test_opensmile_names_are_egemaps():
    names = FEATURE_SETS["prosody"].feature_names()
    assert len(names) == 88 and names[0].startswith("F0semitoneFrom27.5Hz")


def test_registry_table_and_errors():
    table = describe_feature_sets()
    assert list(table.index) == list(FEATURE_SETS)
    assert {"kind", "shape", "description", "parameters"} <= set(table.columns)
    assert set(table["kind"]) == {"vector", "windows", "sequence", "image"}
    with pytest.raises(ValueError, match="valid"):
        compute("kaggle999", np.zeros(10), SR)
    with pytest.raises(ValueError, match="no parameter"):
        compute("mfcc_mean", speech_like(1.0), SR, {"n_mfccs": 13})


# --- the engine ---------------------------------------------------------------------------------


def make_corpus(folder, n: int = 4) -> pd.DataFrame:
    """n speech-like clips (two speakers, two emotions) at 22.05 kHz, as manifest rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        path = folder / f"clip{i}.wav"
        sf.write(path, speech_like(1.5 + 0.5 * (i % 3), f0=120 + 25 * i, seed=i, sr=22050), 22050)
        rows.append(
            {
                "utt_id": f"u{i}",
                "path": str(path),
                "speaker": f"s{i % 2}",
                "gender": ["male", "female", "unknown", "female"][i % 4],
                "emotion": ["angry", "sad"][i // 2 % 2],
                "sentence": "a",
                "corpus": "test",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture()
def corpus(tmp_path) -> pd.DataFrame:
    return make_corpus(tmp_path / "audio")


def cached_files(root) -> dict[str, int]:
    """Every cached feature file under root → its mtime (ns)."""
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*.npy")}


def test_engine_vectors_meta_and_determinism(corpus, tmp_path):
    table = extract_features(corpus, "kaggle162", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert table.X.shape == (4, 162) and table.X.dtype == np.float32
    assert list(table.meta["utt_id"]) == ["u0", "u1", "u2", "u3"]
    assert list(table.meta["source_id"]) == ["u0", "u1", "u2", "u3"] and table.skipped.empty
    assert set(table.meta["augmentation"]) == {""} and len(table.frame().columns) == 162 + len(table.meta.columns)
    again = extract_features(corpus, "kaggle162", n_jobs=1, progress=False, cache=False)
    assert np.array_equal(table.X, again.X)
    expected = compute("kaggle162", load_audio(corpus.loc[2, "path"], SR)[0], SR)
    np.testing.assert_allclose(table.X[2], expected, rtol=1e-5, atol=1e-7)


def test_cache_is_reused_and_keyed_by_config(corpus, tmp_path):
    root = tmp_path / "cache"
    first = extract_features(corpus, "mfcc_mean", n_jobs=1, progress=False, cache_root=root)
    files = cached_files(root)
    assert len(files) == 4 and first.timing["computed"] == 4
    second = extract_features(corpus, "mfcc_mean", n_jobs=1, progress=False, cache_root=root)
    assert cached_files(root) == files  # nothing rewritten
    assert second.timing == {**second.timing, "computed": 0, "from_cache": 4}
    assert np.array_equal(first.X, second.X)
    # a changed parameter, or audio config, recomputes (in its own folder) without touching the others
    changed = extract_features(corpus, "mfcc_mean", params={"n_mfcc": 13}, n_jobs=1, progress=False, cache_root=root)
    assert changed.X.shape == (4, 13) and changed.timing["computed"] == 4
    trimmed = extract_features(
        corpus, "mfcc_mean", audio=AudioConfig(normalize="peak"), n_jobs=1, progress=False, cache_root=root
    )
    assert trimmed.timing["computed"] == 4 and not np.allclose(trimmed.X, first.X)
    now = cached_files(root)
    assert len(now) == 12 and all(now[p] == t for p, t in files.items())
    assert len({first.config_key, changed.config_key, trimmed.config_key}) == 3
    # one new file computes only that file; the key is the content, not the path
    more = pd.concat([corpus, corpus.iloc[[0]].assign(utt_id="copy", path=str(tmp_path / "copy.wav"))])
    (tmp_path / "copy.wav").write_bytes(open(corpus.loc[0, "path"], "rb").read())
    extra = make_corpus(tmp_path / "extra", n=5).iloc[[4]]
    both = extract_features(pd.concat([more, extra]), "mfcc_mean", n_jobs=1, progress=False, cache_root=root)
    assert both.timing["computed"] == 1 and np.array_equal(both.X[4], both.X[0]) and len(both) == 6
    assert (root / f"mfcc_mean-{first.config_key}" / "config.json").is_file() and FEATURE_VERSION >= 1


def test_bad_inputs_are_skipped_with_reasons(corpus, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    sf.write(bad / "empty.wav", np.zeros(0, np.float32), SR)
    sf.write(bad / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(bad / "short.wav", speech_like(0.05), SR)
    names = ["corrupt", "empty", "silent", "short", "missing"]
    rows = pd.concat(
        [
            corpus.iloc[:2],
            pd.DataFrame({"utt_id": names, "path": [str(bad / f"{n}.wav") for n in names]}),
            corpus.iloc[2:],
        ],
        ignore_index=True,
    )
    for name in ("stats", "window160"):
        table = extract_features(rows, name, n_jobs=1, progress=False, cache_root=tmp_path / "c")
        assert list(table.meta["utt_id"].unique()) == ["u0", "u1", "u2", "u3"]
        reasons = dict(zip(table.skipped["utt_id"], table.skipped["reason"]))
        assert list(reasons) == names
        assert reasons["corrupt"].startswith("corrupt or unreadable")
        assert reasons["empty"] == "empty: 0 samples"
        assert reasons["silent"].startswith("silent: peak")
        assert reasons["short"] == "too short: 0.05 s < 0.20 s"
        assert reasons["missing"].startswith("corrupt or unreadable")
        assert not np.any(np.all(table.X == 0, axis=1))  # never a zero vector in place of a bad file
    # nothing left at all: an empty table, not a crash
    empty = extract_features(rows.iloc[2:7], "stats", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert empty.X.shape == (0, 145) and len(empty.skipped) == 5


def test_stats_appends_gender_from_the_manifest(corpus, tmp_path):
    table = extract_features(corpus, "stats", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert table.feature_names[-1] == "gender"
    assert list(table.X[:, -1]) == [1.0, 0.0, 0.5, 0.0]


def test_augmented_rows_differ_from_originals_and_keep_source(corpus, tmp_path):
    augment = pytest.importorskip("ser_utils.augment")
    rows = augment.augment_manifest(corpus, ["noise"], copies=2, seed=0, include_original=True)
    table = extract_features(rows, "kaggle162", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert len(table) == 12 and table.skipped.empty
    meta = table.meta
    assert list(meta["source_id"].unique()) == ["u0", "u1", "u2", "u3"]
    original = table.X[(meta["augmentation"] == "").to_numpy()]
    copies = table.X[(meta["augmentation"] == "noise").to_numpy()]
    assert not np.allclose(original, copies[0::2]) and not np.allclose(copies[0::2], copies[1::2])  # seeds differ
    # the same seed gives the same features; another seed other features (cache keyed by seed)
    reseeded = rows.assign(aug_seed=rows["aug_seed"].where(rows["augmentation"] == "", rows["aug_seed"] + 1))
    other = extract_features(reseeded, "kaggle162", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert np.array_equal(other.X[(meta["augmentation"] == "").to_numpy()], original)
    assert not np.allclose(other.X[(meta["augmentation"] != "").to_numpy()], copies)
    assert other.timing["computed"] == 8


def test_unknown_preset_fails_before_any_work(corpus, tmp_path):
    pytest.importorskip("ser_utils.augment")
    rows = corpus.assign(source_id=corpus["utt_id"], augmentation="no_such_preset", aug_seed=1)
    with pytest.raises(ValueError, match="no_such_preset"):
        extract_features(rows, "mfcc_mean", n_jobs=1, progress=False, cache_root=tmp_path / "c")


def test_large_outputs_are_memory_mapped(corpus, tmp_path, monkeypatch):
    import ser_utils.features.engine as engine

    in_ram = extract_features(corpus, "logmel", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    monkeypatch.setattr(engine, "MEMMAP_BYTES", 0)
    mapped = extract_features(corpus, "logmel", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert isinstance(mapped.X, np.memmap) and np.array_equal(mapped.X, in_ram.X)
    assert len(list((tmp_path / "c").rglob("assembled/*.npy"))) == 1
    again = extract_features(corpus, "logmel", n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert np.array_equal(again.X, in_ram.X)


def test_windows_keep_their_source(corpus, tmp_path):
    table = extract_features(
        corpus, "window160", params={"window": 1.0}, n_jobs=1, progress=False, cache_root=tmp_path / "c"
    )
    durations = [1.5, 2.0, 2.5, 1.5]
    expected = [2, 2, 3, 2]  # 1.5 s → 0-1 and a half-full padded 1-2; 2.5 s → 0-1, 1-2, 2-3 (half full)
    assert [int(round(d)) for d in durations] and table.X.shape == (sum(expected), 160)
    assert list(table.meta.groupby("source_id", sort=False).size()) == expected
    assert list(table.meta["window"]) == [i for n in expected for i in range(n)]
    assert list(table.meta["window_start"][:2]) == [0.0, 1.0]
    assert np.array_equal(table.groups, table.meta["source_id"].to_numpy())


@pytest.mark.parametrize("name", ["logmel", "mfcc_seq"])
def test_engine_images_and_sequences(corpus, tmp_path, name):
    table = extract_features(corpus, name, n_jobs=1, progress=False, cache_root=tmp_path / "c")
    assert table.X.shape == (4, *EXPECTED_SHAPES[name]) and table.feature_names is None


def test_one_and_two_jobs_give_identical_results(corpus):
    rows = pd.concat([corpus] * 3, ignore_index=True).assign(utt_id=lambda d: [f"r{i}" for i in range(len(d))])
    one = extract_features(rows, "kaggle162", n_jobs=1, progress=False, cache=False)
    threads = extract_features(rows, "kaggle162", n_jobs=2, progress=False, cache=False)  # auto: threads
    processes = extract_features(rows, "kaggle162", n_jobs=2, progress=False, cache=False, backend="loky")
    assert np.array_equal(one.X, threads.X) and np.array_equal(one.X, processes.X)
    pd.testing.assert_frame_equal(one.meta, threads.meta)
    pd.testing.assert_frame_equal(one.meta, processes.meta)
    with pytest.raises(ValueError, match="backend"):
        extract_features(rows, "kaggle162", n_jobs=2, progress=False, cache=False, backend="dask")
    assert os.environ["SER_CACHE_DIR"]  # conftest keeps tests away from the user's cache


@pytest.mark.skipif(not opensmile_available(), reason="opensmile not installed")
def test_opensmile_is_kept_out_of_a_tensorflow_process(corpus, tmp_path):
    """openSMILE aborts a process that has loaded TensorFlow; there it must run in worker processes."""
    pytest.importorskip("tensorflow")
    from ser_utils.features.registry import must_isolate

    corpus.to_csv(tmp_path / "rows.csv", index=False)
    script = f"""
import sys
import numpy as np, pandas as pd
from ser_utils.features import FEATURE_SETS, compute, extract_features
from ser_utils.features.registry import must_isolate
fs = FEATURE_SETS["prosody"]
assert not must_isolate(fs, fs.resolve())
from ser_utils.models.backend import keras_module
keras_module()
assert must_isolate(fs, fs.resolve()) and not must_isolate(FEATURE_SETS["kaggle162"], {{}})
rows = pd.read_csv({str(tmp_path / "rows.csv")!r})
for n_jobs in (1, 2):
    table = extract_features(rows, "prosody", n_jobs=n_jobs, progress=False, cache=False)
    assert table.X.shape == (4, 88) and np.isfinite(table.X).all(), table.X.shape
y = np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.1
x = compute("prosody", y, 16000)
assert x.shape == (88,) and np.isfinite(x).all()
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SER_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
    fs = FEATURE_SETS["prosody"]
    assert must_isolate(fs, fs.resolve()) == ("tensorflow" in sys.modules)


def test_extract_sets_extracts_each_part_once_and_combines_names_with_a_plus(corpus, tmp_path):
    from ser_utils.features import extract_sets

    root = tmp_path / "c"
    tables = extract_sets(corpus, ["mfcc_mean", "mfcc_mean+stats"], n_jobs=1, progress=False, cache_root=root)
    assert list(tables) == ["mfcc_mean", "mfcc_mean+stats"]
    alone = extract_features(corpus, "stats", n_jobs=1, progress=False, cache_root=root)
    assert alone.timing["from_cache"] == 4  # extracted by extract_sets, not again
    combined = tables["mfcc_mean+stats"]
    assert combined.feature_set == "mfcc_mean+stats"
    assert combined.X.shape == (4, tables["mfcc_mean"].X.shape[1] + alone.X.shape[1])
    np.testing.assert_array_equal(combined.X[:, : tables["mfcc_mean"].X.shape[1]], tables["mfcc_mean"].X)
