"""The synthetic corpus generator: real layouts and formats, determinism, caching, acoustic emotion effects."""

from __future__ import annotations

import csv
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from ser_utils.synthetic import (
    GENERATOR_VERSION,
    LAYOUTS,
    MARKER,
    SIZES,
    corpus_items,
    ensure_corpus,
    generate_corpus,
    synthesize_utterance,
)
from ser_utils.synthetic import corpus as corpus_module

FOLDERS = {"emovo": "EMOVO", "ravdess": "RAVDESS", "cremad": "CREMA-D"}
#: File-name conventions of the real corpora (paths relative to the corpus folder).
PATTERNS = {
    "emovo": re.compile(
        r"^(?P<spk>[fm][1-3])/(?P<emo>dis|gio|neu|pau|rab|sor|tri)-(?P=spk)-"
        r"(?P<sent>b[1-3]|l[1-4]|n[1-5]|d[12])\.wav$"
    ),
    "ravdess": re.compile(
        r"^Actor_(?P<actor>\d\d)/03-01-(?P<emo>0[1-8])-(?P<int>0[12])-(?P<stmt>0[12])-"
        r"(?P<rep>0[12])-(?P=actor)\.wav$"
    ),
    "cremad": re.compile(
        r"^AudioWAV/(?P<actor>1\d{3})_(?P<sent>IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI)_"
        r"(?P<emo>ANG|DIS|FEA|HAP|NEU|SAD)_(?P<level>LO|MD|HI|XX)\.wav$"
    ),
}
#: Each layout's codes for the emotions whose acoustic effects are checked.
CODES = {
    "emovo": {"angry": "rab", "sad": "tri", "neutral": "neu", "happy": "gio"},
    "ravdess": {"angry": "05", "sad": "04", "neutral": "01", "happy": "03"},
    "cremad": {"angry": "ANG", "sad": "SAD", "neutral": "NEU", "happy": "HAP"},
}
FORMATS = {"emovo": (48000, 2), "ravdess": (48000, 1), "cremad": (16000, 1)}


def _relpaths(folder: Path) -> list[str]:
    """All WAV files under a corpus folder, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.wav"))


def _file_state(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file, to tell whether anything was rewritten."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def _measure(path: Path) -> dict[str, float]:
    """Duration, RMS level (dB), peak and median F0 (Hz, YIN at 16 kHz over loud frames) of one file."""
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = y.mean(axis=1)
    y16 = resample_poly(mono, 16000, sr).astype(np.float32)
    rms = librosa.feature.rms(y=y16, frame_length=1024, hop_length=256)[0]
    f0 = librosa.yin(y16, fmin=60, fmax=600, sr=16000, frame_length=1024, hop_length=256)
    n = min(rms.size, f0.size)
    loud = rms[:n] > rms.max() * 10 ** (-20 / 20)
    return {
        "duration": y.shape[0] / sr,
        "rms_db": 20 * np.log10(np.sqrt(np.mean(mono**2))),
        "peak": float(np.abs(y).max()),
        "f0": float(np.median(f0[:n][loud])),
    }


@pytest.fixture(scope="session")
def small_root(session_tmp: Path) -> Path:
    """One small corpus of each layout, generated once for the session."""
    root = session_tmp / "synthetic"
    for layout in LAYOUTS:
        ensure_corpus(layout, root, size="small", progress=False)
    return root


@pytest.fixture(scope="session")
def measurements(small_root: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Per layout, per relative path: the acoustic measurements of every small-corpus file."""
    return {
        layout: {rel: _measure(small_root / FOLDERS[layout] / rel) for rel in _relpaths(small_root / FOLDERS[layout])}
        for layout in LAYOUTS
    }


def _by(layout: str, values: dict[str, dict[str, float]], group: str) -> dict[str, list[dict[str, float]]]:
    """Group a layout's measurements by a named field of its file-name pattern."""
    out: dict[str, list[dict[str, float]]] = {}
    for rel, m in values.items():
        out.setdefault(PATTERNS[layout].match(rel).group(group), []).append(m)
    return out


def _mean(ms: list[dict[str, float]], key: str) -> float:
    """Mean of one measurement over a group of files."""
    return float(np.mean([m[key] for m in ms]))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_names_and_marker(small_root: Path, layout: str) -> None:
    """Every file follows the real naming convention, the listing is complete, the marker describes it."""
    folder = small_root / FOLDERS[layout]
    rels = _relpaths(folder)
    assert rels == sorted(item.relpath for item in corpus_items(layout, "small"))
    assert all(PATTERNS[layout].match(rel) for rel in rels), [r for r in rels if not PATTERNS[layout].match(r)]
    assert 100 <= len(rels) <= 200
    marker = json.loads((folder / MARKER).read_text())
    assert marker["generator_version"] == GENERATOR_VERSION
    assert (marker["layout"], marker["seed"], marker["size"], marker["n_files"]) == (layout, 0, "small", len(rels))
    assert not list(folder.rglob("*.part"))


def test_emovo_contents(small_root: Path) -> None:
    """EMOVO small: all six speakers (both sexes), all seven emotions, one sentence of each kind."""
    matches = [PATTERNS["emovo"].match(r) for r in _relpaths(small_root / "EMOVO")]
    assert {m["spk"] for m in matches} == {"f1", "f2", "f3", "m1", "m2", "m3"}
    assert {m["emo"] for m in matches} == {"dis", "gio", "neu", "pau", "rab", "sor", "tri"}
    assert {m["sent"][0] for m in matches} == {"b", "l", "n", "d"}
    assert len(matches) == 6 * 7 * len({m["sent"] for m in matches})


def test_ravdess_contents(small_root: Path) -> None:
    """RAVDESS small: all eight emotions, neutral only at normal intensity, both sexes among actors."""
    matches = [PATTERNS["ravdess"].match(r) for r in _relpaths(small_root / "RAVDESS")]
    assert {m["emo"] for m in matches} == {f"0{i}" for i in range(1, 9)}
    assert {m["int"] for m in matches if m["emo"] == "01"} == {"01"}
    assert {m["int"] for m in matches if m["emo"] != "01"} == {"01", "02"}
    actors = {int(m["actor"]) for m in matches}
    assert len(actors) >= 4 and {a % 2 for a in actors} == {0, 1}


def test_cremad_contents_and_demographics(small_root: Path) -> None:
    """CREMA-D small: only IEO has LO/MD/HI (neutral: XX), and VideoDemographics.csv lists the actors."""
    folder = small_root / "CREMA-D"
    matches = [PATTERNS["cremad"].match(r) for r in _relpaths(folder)]
    assert {m["emo"] for m in matches} == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    for m in matches:
        expected = {"XX"} if m["sent"] != "IEO" or m["emo"] == "NEU" else {"LO", "MD", "HI"}
        assert m["level"] in expected, m.group(0)
    assert {m["level"] for m in matches if m["sent"] == "IEO" and m["emo"] == "ANG"} == {"LO", "MD", "HI"}
    actors = {int(m["actor"]) for m in matches}
    assert all(1001 <= a <= 1091 for a in actors) and len(actors) >= 4
    with open(folder / "VideoDemographics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    assert {int(r["ActorID"]) for r in rows} == actors
    assert {r["Sex"] for r in rows} == {"Male", "Female"}
    assert all(18 <= int(r["Age"]) <= 80 for r in rows)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_audio_format(small_root: Path, layout: str) -> None:
    """Sample rate, channels and PCM_16 as in the real corpus (EMOVO stereo with a mono exception)."""
    folder = small_root / FOLDERS[layout]
    sr, channels = FORMATS[layout]
    infos = {rel: sf.info(folder / rel) for rel in _relpaths(folder)}
    assert {i.samplerate for i in infos.values()} == {sr}
    assert {i.format for i in infos.values()} == {"WAV"} and {i.subtype for i in infos.values()} == {"PCM_16"}
    counts = [i.channels for i in infos.values()]
    if layout == "emovo":
        assert 1 <= counts.count(1) <= 2 and counts.count(1) + counts.count(2) == len(counts)
    else:
        assert set(counts) == {channels}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_levels_durations_no_clipping(measurements: dict, layout: str) -> None:
    """Peaks stay below 0.95, loudness is not normalised away, durations are modest."""
    values = list(measurements[layout].values())
    peaks = np.array([m["peak"] for m in values])
    levels = np.array([m["rms_db"] for m in values])
    durations = np.array([m["duration"] for m in values])
    assert peaks.max() <= 0.95 + 1 / 32768
    assert peaks.min() < 0.5  # not peak-normalised
    assert np.percentile(levels, 95) - np.percentile(levels, 5) > 8.0
    assert durations.min() >= 1.0 and durations.max() <= 7.0
    assert 1.5 <= np.median(durations) <= 4.0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_emotion_effects(measurements: dict, layout: str) -> None:
    """On average anger is louder and higher than sadness, happiness higher than neutral (Scherer 2003)."""
    groups = _by(layout, measurements[layout], "emo")
    code = CODES[layout]
    angry, sad, neutral, happy = (groups[code[e]] for e in ("angry", "sad", "neutral", "happy"))
    assert _mean(angry, "rms_db") > _mean(neutral, "rms_db") + 3
    assert _mean(neutral, "rms_db") > _mean(sad, "rms_db")
    assert _mean(angry, "f0") > _mean(neutral, "f0") > _mean(sad, "f0")
    assert _mean(happy, "f0") > _mean(neutral, "f0")
    assert _mean(sad, "duration") > _mean(angry, "duration")


def test_intensity_scales_effects(measurements: dict) -> None:
    """Stronger intensity moves anger further from neutral (RAVDESS 02 > 01; CREMA-D HI > LO)."""
    rav = [(PATTERNS["ravdess"].match(r), m) for r, m in measurements["ravdess"].items()]
    strong = [m for g, m in rav if g["emo"] == "05" and g["int"] == "02"]
    normal = [m for g, m in rav if g["emo"] == "05" and g["int"] == "01"]
    assert _mean(strong, "rms_db") > _mean(normal, "rms_db")
    crema = [(PATTERNS["cremad"].match(r), m) for r, m in measurements["cremad"].items()]
    hi = [m for g, m in crema if g["emo"] == "ANG" and g["level"] == "HI"]
    lo = [m for g, m in crema if g["emo"] == "ANG" and g["level"] == "LO"]
    assert _mean(hi, "rms_db") > _mean(lo, "rms_db")


def test_speaker_sex_sets_pitch(small_root: Path, measurements: dict) -> None:
    """Female speakers have a higher F0 than male ones, in EMOVO and per the CREMA-D demographics."""
    emovo = _by("emovo", measurements["emovo"], "spk")
    female = [m for spk, ms in emovo.items() if spk.startswith("f") for m in ms]
    male = [m for spk, ms in emovo.items() if spk.startswith("m") for m in ms]
    assert _mean(female, "f0") > 1.4 * _mean(male, "f0")
    with open(small_root / "CREMA-D" / "VideoDemographics.csv", newline="") as fh:
        sex = {r["ActorID"]: r["Sex"] for r in csv.DictReader(fh)}
    crema = _by("cremad", measurements["cremad"], "actor")
    f0 = {s: _mean([m for a, ms in crema.items() if sex[a] == s for m in ms], "f0") for s in ("Male", "Female")}
    assert f0["Female"] > 1.4 * f0["Male"]


def test_same_seed_same_bytes_other_seed_other_audio(small_root: Path, tmp_path: Path) -> None:
    """Regenerating (serially this time) gives identical bytes; another seed gives different audio."""
    reference = small_root / "CREMA-D"
    again = generate_corpus("cremad", tmp_path / "same", size="small", n_jobs=1, progress=False)
    rels = _relpaths(reference)
    assert _relpaths(again) == rels
    for rel in [*rels, "VideoDemographics.csv", MARKER]:
        assert (again / rel).read_bytes() == (reference / rel).read_bytes(), rel
    other = generate_corpus("cremad", tmp_path / "other", seed=1, size="small", progress=False)
    assert _relpaths(other) == rels
    differ = [not np.array_equal(sf.read(other / r)[0][:16000], sf.read(reference / r)[0][:16000]) for r in rels]
    assert all(differ)


def test_ensure_corpus_reuses_existing(small_root: Path) -> None:
    """A complete corpus with a matching marker is returned untouched."""
    folder = small_root / "RAVDESS"
    before = _file_state(folder)
    assert ensure_corpus("ravdess", small_root, size="small", progress=False) == folder
    assert _file_state(folder) == before


def test_ensure_corpus_regenerates_incomplete(small_root: Path, tmp_path: Path) -> None:
    """Without the marker (interrupted run) the corpus is rebuilt, and stale or partial files go."""
    folder = tmp_path / "CREMA-D"
    shutil.copytree(small_root / "CREMA-D", folder)
    (folder / MARKER).unlink()
    stale = folder / "AudioWAV" / "1091_WSI_SAD_XX.wav"
    shutil.copy(folder / "AudioWAV" / "1001_IEO_NEU_XX.wav", stale)
    (folder / "AudioWAV" / "1002_TIE_ANG_XX.wav.part").write_bytes(b"RIFF")
    before = _file_state(folder)
    assert ensure_corpus("cremad", tmp_path, size="small", progress=False) == folder
    after = _file_state(folder)
    assert not stale.exists() and not list(folder.rglob("*.part"))
    assert (folder / MARKER).is_file()
    assert all(after[rel] != before[rel] for rel in after if rel in before and rel != MARKER)
    assert _relpaths(folder) == _relpaths(small_root / "CREMA-D")


def test_ensure_corpus_regenerates_on_mismatch(small_root: Path, tmp_path: Path) -> None:
    """A marker for another seed (or version, size) is not trusted."""
    folder = tmp_path / "CREMA-D"
    shutil.copytree(small_root / "CREMA-D", folder)
    marker = json.loads((folder / MARKER).read_text())
    (folder / MARKER).write_text(json.dumps({**marker, "seed": 7}))
    ensure_corpus("cremad", tmp_path, size="small", progress=False)
    assert json.loads((folder / MARKER).read_text())["seed"] == 0


def test_concurrent_ensure_generates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two simultaneous callers get the same complete corpus: one generates, the other waits and reuses it."""
    calls = []
    generate = corpus_module._generate
    monkeypatch.setattr(corpus_module, "_generate", lambda *args: (calls.append(args), generate(*args)))
    with ThreadPoolExecutor(2) as pool:
        folders = list(
            pool.map(lambda _: ensure_corpus("cremad", tmp_path, size="small", n_jobs=1, progress=False), range(2))
        )
    assert folders[0] == folders[1] == tmp_path / "CREMA-D"
    assert json.loads((folders[0] / MARKER).read_text())["n_files"] == len(_relpaths(folders[0]))
    assert len(calls) == 1


def test_refuses_to_overwrite_foreign_files(tmp_path: Path) -> None:
    """A folder holding WAVs the generator did not write (a real corpus) is left alone."""
    real = tmp_path / "EMOVO" / "f1" / "dis-f1-b1.wav"
    real.parent.mkdir(parents=True)
    sf.write(real, np.zeros((4800, 2)), 48000, subtype="PCM_16")
    with pytest.raises(FileExistsError, match="did not write"):
        ensure_corpus("emovo", tmp_path, size="small", progress=False)
    assert real.is_file()


def test_bad_arguments() -> None:
    """Unknown layouts, sizes, emotions and sentences raise ValueError naming the valid values."""
    assert LAYOUTS == ("emovo", "ravdess", "cremad") and SIZES == ("default", "small", "large")
    with pytest.raises(ValueError, match="emovo"):
        generate_corpus("savee", "/nonexistent")
    with pytest.raises(ValueError, match="small"):
        ensure_corpus("emovo", "/nonexistent", size="huge")
    with pytest.raises(ValueError, match="angry"):
        synthesize_utterance("bored")
    with pytest.raises(ValueError, match="b1"):
        synthesize_utterance("neutral", sentence="zz")


def test_default_sizes() -> None:
    """Default corpora: the full EMOVO (588 files) and a few hundred RAVDESS and CREMA-D files."""
    items = {layout: corpus_items(layout) for layout in LAYOUTS}
    assert len(items["emovo"]) == 588
    assert 300 <= len(items["ravdess"]) <= 1000 and 300 <= len(items["cremad"]) <= 1000
    for layout, its in items.items():
        assert all(PATTERNS[layout].match(it.relpath) for it in its)
        assert len({it.relpath for it in its}) == len(its)


def test_large_sizes_have_thousands_of_files_and_read_back() -> None:
    """ "large": more speakers (EMOVO, CREMA-D) or both takes (RAVDESS), names the corpus readers parse."""
    from pathlib import PurePosixPath

    from ser_utils.corpora.names import parse_cremad, parse_emovo, parse_ravdess

    items = {layout: corpus_items(layout, "large") for layout in LAYOUTS}
    assert [len(items[k]) for k in LAYOUTS] == [2940, 1440, 7462]
    assert len({it.speaker for it in items["emovo"]}) == 30 and {it.take for it in items["ravdess"]} == {1, 2}
    for layout, its in items.items():
        if layout != "emovo":  # EMOVO's pattern has the real six speakers; the readers' check below covers it
            assert all(PATTERNS[layout].match(it.relpath) for it in its)
        assert len({it.relpath for it in its}) == len(its)
    assert set(corpus_items("emovo")) <= set(items["emovo"])  # the default corpus is part of the large one
    parsers = {"emovo": parse_emovo, "ravdess": parse_ravdess, "cremad": parse_cremad}
    for layout, its in items.items():
        speakers = {parsers[layout](PurePosixPath(it.relpath)).speaker for it in its}
        assert len(speakers) == len({it.speaker for it in its})  # every generated speaker reads back as one


def test_synthesize_utterance() -> None:
    """The single-utterance synthesiser: float32, mono or stereo, reproducible, speech-length."""
    y = synthesize_utterance("angry", sentence="IEO", language="en", sex="male", sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1 and 1.0 < y.size / 16000 < 4.0
    np.testing.assert_array_equal(y, synthesize_utterance("angry", sentence="IEO", language="en", sex="male"))
    stereo = synthesize_utterance("sad", sentence="d1", sr=48000, channels=2)
    assert stereo.shape[1] == 2 and np.abs(stereo).max() <= 0.95
