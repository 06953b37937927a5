"""Dataset names, label selection and load_dataset on tiny generated corpora under a temporary data root."""

from __future__ import annotations

import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import ser_utils
from ser_utils.corpora import CorpusNotFoundError
from ser_utils.datasets import UnknownDatasetError, dataset_names, is_synthetic, load_dataset, resolve_dataset
from ser_utils.emotions import CANONICAL_EMOTIONS, select_labels

#: A few files per corpus, in each corpus' layout under its data-root folder.
TREES = {
    "RAVDESS": [f"Actor_0{a}/03-01-0{e}-01-01-01-0{a}.wav" for a in (1, 2) for e in range(1, 9)],
    "CREMA-D": [f"AudioWAV/1001_IEO_{e}_XX.wav" for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")],
    "SAVEE": [f"ALL/DC_{e}01.wav" for e in ("a", "d", "f", "h", "n", "sa", "su")],
    "TESS": [f"OAF_{e}/OAF_back_{e}.wav" for e in ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")],
}


def write_corpus(root: Path, folder: str, names: list[str] | None = None) -> Path:
    """Write the tiny tree of one corpus (0.3 s of noise per file, bytes seeded by the name) under ``root``."""
    for name in names or TREES[folder]:
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(zlib.crc32(name.encode())).uniform(-0.3, 0.3, 4800)
        sf.write(path, noise, 16000, subtype="PCM_16")
    return root / folder


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A data root holding RAVDESS, CREMA-D, SAVEE and TESS trees."""
    for folder in TREES:
        write_corpus(tmp_path, folder)
    return tmp_path


def toy_manifest() -> pd.DataFrame:
    """A five-row manifest with the label columns select_labels works on."""
    return pd.DataFrame(
        {"utt_id": list("abcde"), "emotion": ["calm", "neutral", "happy", "surprised", "sad"], "duration": [1.0] * 5}
    )


# --- select_labels -----------------------------------------------------------------------------------------------


def test_select_labels_merges_then_filters():
    manifest = toy_manifest()
    out = select_labels(manifest, emotions=["neutral", "happy"], merge={"calm": "neutral"})
    assert out["utt_id"].tolist() == ["a", "b", "c"] and out.index.tolist() == [0, 1, 2]
    assert out["emotion"].tolist() == ["neutral", "neutral", "happy"]
    assert out["emotion_original"].tolist() == ["calm", "neutral", "happy"]
    assert list(out.columns) == ["utt_id", "emotion", "emotion_original", "duration"]
    assert manifest["emotion"].tolist()[0] == "calm"  # input untouched


def test_select_labels_defaults_and_single_emotion():
    manifest = toy_manifest()
    pd.testing.assert_frame_equal(select_labels(manifest), manifest)
    assert "emotion_original" not in select_labels(manifest, emotions=["sad"]).columns
    assert select_labels(manifest, emotions="sad")["utt_id"].tolist() == ["e"]
    twice = select_labels(select_labels(manifest, merge={"calm": "neutral"}), merge={"neutral": "sad"})
    assert twice["emotion_original"].tolist()[:2] == ["calm", "neutral"]  # the first original is kept


@pytest.mark.parametrize(
    "kwargs", [{"emotions": ["happy", "joy"]}, {"merge": {"calm": "relaxed"}}, {"merge": {"anger": "angry"}}]
)
def test_select_labels_rejects_unknown_emotions(kwargs):
    with pytest.raises(ValueError, match="valid emotions: neutral, calm, happy"):
        select_labels(toy_manifest(), **kwargs)


def test_canonical_vocabulary():
    assert CANONICAL_EMOTIONS == (
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
        "boredom",
    )


# --- names -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, components",
    [
        ("ravdess", ["ravdess"]),
        ("CREMA-D", ["cremad"]),
        ("crema_d", ["cremad"]),
        ("Emo-DB", ["emodb"]),
        ("emo_db", ["emodb"]),
        ("ravdess+savee", ["ravdess", "savee"]),
        (" RAVDESS + CREMA-D ", ["ravdess", "cremad"]),
        ("superset", ["ravdess", "cremad", "savee", "tess"]),
        ("superset+ravdess+emovo", ["ravdess", "cremad", "savee", "tess", "emovo"]),
        ("demo", ["demo"]),
        ("demo-ravdess+demo-cremad", ["demo-ravdess", "demo-cremad"]),
    ],
)
def test_resolve_dataset(name, components):
    assert resolve_dataset(name) == components


@pytest.mark.parametrize(
    "name, suggestion",
    [("ravdes", "ravdess"), ("cremad+savey", "savee"), ("superste", "superset"), ("demo_ravdess", "demo-ravdess")],
)
def test_unknown_names_suggest_the_closest(name, suggestion):
    with pytest.raises(UnknownDatasetError) as err:
        resolve_dataset(name)
    assert f"Did you mean {suggestion!r}?" in str(err.value)
    assert all(valid in str(err.value) for valid in dataset_names())
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("name", ["", "ravdess+", "iemocap"])
def test_malformed_names(name):
    with pytest.raises(UnknownDatasetError, match="Valid names"):
        resolve_dataset(name)


def test_dataset_names_and_is_synthetic():
    assert dataset_names() == [
        "emovo",
        "ravdess",
        "cremad",
        "savee",
        "tess",
        "emodb",
        "demo",
        "demo-ravdess",
        "demo-cremad",
        "superset",
    ]
    assert is_synthetic("demo") and is_synthetic("demo-cremad+ravdess")
    assert not is_synthetic("superset") and not is_synthetic("crema-d")


# --- load_dataset ------------------------------------------------------------------------------------------------


def test_load_combination(data_root):
    dataset = load_dataset("RAVDESS+savee", data_root, progress=False)
    assert dataset.name == "ravdess+savee"
    assert dataset.roots == {"ravdess": data_root / "RAVDESS", "savee": data_root / "SAVEE"}
    assert len(dataset.manifest) == 16 + 7 and dataset.skipped.empty
    assert dataset.manifest["utt_id"].is_unique
    summary = dataset.summary()
    assert summary.index.tolist() == ["ravdess", "savee"]
    assert summary.loc["ravdess"].to_dict() == {
        "files": 16,
        "speakers": 2,
        "sentences": 1,
        "emotions": 8,
        "hours": round(16 * 0.3 / 3600, 3),
        "skipped": 0,
    }
    assert summary.loc["savee", "emotions"] == 7


def test_superset_drops_calm_and_surprised_unless_asked(data_root):
    superset = load_dataset("superset", data_root, progress=False)
    assert set(superset.manifest["corpus"]) == {"ravdess", "cremad", "savee", "tess"}
    assert set(superset.manifest["emotion"]) == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    merged = load_dataset("superset", data_root, merge={"calm": "neutral"}, progress=False)
    assert (merged.manifest["emotion_original"] == "calm").sum() == 2
    assert len(merged.manifest) == len(superset.manifest) + 2
    chosen = load_dataset("superset", data_root, emotions=["surprised"], progress=False)
    assert len(chosen.manifest) == 2 + 1 + 1  # RAVDESS (2 actors), SAVEE, TESS; CREMA-D has none
    with pytest.raises(ValueError, match="no utterance left"):
        load_dataset("cremad", data_root, emotions=["boredom"], progress=False)


def test_missing_component_names_it(data_root):
    with pytest.raises(CorpusNotFoundError) as err:
        load_dataset("ravdess+emodb", data_root, progress=False)
    message = str(err.value)
    assert "component 'emodb'" in message and str(data_root / "EMO-DB") in message
    assert "http://emodb.bilderbar.info/" in message
    with pytest.raises(CorpusNotFoundError, match="EMO-DB"):
        load_dataset("emodb", data_root, progress=False)


def test_data_root_from_environment(data_root, monkeypatch):
    monkeypatch.setenv("SER_DATA_DIR", str(data_root))
    assert load_dataset("tess", progress=False).roots["tess"] == data_root / "TESS"


def test_skipped_files_travel_with_the_dataset(data_root):
    (data_root / "TESS" / "OAF_sad" / "OAF_back_sleepy.wav").write_bytes(b"")
    dataset = load_dataset("tess", data_root, progress=False)
    assert dataset.skipped["corpus"].tolist() == ["tess"]
    assert dataset.summary().loc["tess", "skipped"] == 1


def test_fingerprint_stable_and_sensitive(data_root):
    first = load_dataset("savee+tess", data_root, progress=False)
    again = load_dataset("savee+tess", data_root, progress=False)
    assert first.fingerprint() == again.fingerprint() and len(first.fingerprint()) == 16
    shuffled = first.manifest.sample(frac=1, random_state=0)
    assert type(first)(first.name, shuffled, first.skipped, first.roots).fingerprint() == first.fingerprint()
    assert (
        load_dataset("savee+tess", data_root, merge={"surprised": "happy"}, progress=False).fingerprint()
        != first.fingerprint()
    )
    path = data_root / "SAVEE" / TREES["SAVEE"][0]
    sf.write(path, np.full(4800, 0.25), 16000, subtype="PCM_16")
    assert load_dataset("savee+tess", data_root, progress=False).fingerprint() != first.fingerprint()


# --- synthetic components ----------------------------------------------------------------------------------------


def test_synthetic_component_is_generated_and_labelled(tmp_path, monkeypatch):
    calls = []

    def ensure_corpus(layout, root, *, seed=0, size="default", n_jobs=-1, progress=True):
        calls.append((layout, Path(root), seed, size))
        return write_corpus(Path(root), "RAVDESS", TREES["RAVDESS"][:3])

    fake = types.SimpleNamespace(ensure_corpus=ensure_corpus)
    monkeypatch.setitem(sys.modules, "ser_utils.synthetic", fake)
    monkeypatch.setattr(ser_utils, "synthetic", fake, raising=False)
    dataset = load_dataset("demo-ravdess", tmp_path, seed=3, synthetic_size="small", progress=False)
    target = tmp_path / "synthetic" / "ravdess-small-seed3"
    assert calls == [("ravdess", target, 3, "small")]
    assert dataset.roots == {"demo-ravdess": target / "RAVDESS"}
    assert set(dataset.manifest["corpus"]) == {"demo-ravdess"}
    assert dataset.manifest["speaker"].str.startswith("demo-ravdess_").all()
    assert dataset.manifest["utt_id"].str.startswith("demo-ravdess/Actor_01/").all()


def test_real_synthetic_demo_small(session_tmp):
    synthetic = pytest.importorskip("ser_utils.synthetic", reason="ser_utils.synthetic not written yet")
    if not hasattr(synthetic, "ensure_corpus"):
        pytest.skip("ser_utils.synthetic has no ensure_corpus yet")
    dataset = load_dataset("demo", session_tmp / "data", synthetic_size="small", progress=False)
    manifest = dataset.manifest
    assert len(manifest) > 0 and set(manifest["corpus"]) == {"demo"}
    assert set(manifest["emotion"]) <= {"disgust", "happy", "neutral", "fearful", "angry", "surprised", "sad"}
    assert manifest["speaker"].str.fullmatch(r"demo_[fm]\d").all()
    assert dataset.roots["demo"].name == "EMOVO"
    assert (
        load_dataset("demo", session_tmp / "data", synthetic_size="small", progress=False).fingerprint()
        == dataset.fingerprint()
    )
