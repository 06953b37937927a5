"""Corpus readers on tiny generated trees: every field of every corpus, layouts, bad files, errors, cache."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_utils.corpora import CORPORA, CorpusNotFoundError, describe, read_corpus, reader
from ser_utils.corpora.names import (
    CREMAD_EMOTIONS,
    EMODB_EMOTIONS,
    EMODB_GENDERS,
    EMOVO_EMOTIONS,
    RAVDESS_EMOTIONS,
    SAVEE_EMOTIONS,
    TESS_EMOTIONS,
)
from ser_utils.corpora.reader import probe_audio
from ser_utils.emotions import CANONICAL_EMOTIONS

COLUMNS = [
    "utt_id",
    "path",
    "corpus",
    "speaker",
    "gender",
    "sentence",
    "emotion",
    "emotion_code",
    "intensity",
    "language",
    "duration",
    "sample_rate",
    "channels",
    "file_hash",
]


def write_wav(
    path: Path,
    sr: int = 16000,
    seconds: float = 0.5,
    channels: int = 1,
    *,
    amplitude: float = 0.3,
    fmt: str = "WAV",
    seed: int = 0,
) -> Path:
    """A short noise recording (distinct bytes per seed) at ``path``."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, amplitude * rng.uniform(-1, 1, (int(sr * seconds), channels)), sr, format=fmt, subtype="PCM_16")
    return path


def write_tree(root: Path, names: list[str], sr: int = 16000, channels: int = 1) -> None:
    """One noise file per relative name under ``root``, its bytes seeded by the name (so all distinct)."""
    for name in names:
        write_wav(root / name, sr, channels=channels, seed=zlib.crc32(name.encode()))


def by_name(manifest: pd.DataFrame) -> dict[str, pd.Series]:
    """Manifest rows keyed by file stem."""
    return {Path(row.path).stem: row for row in manifest.itertuples()}


def reasons(skipped: pd.DataFrame) -> dict[str, str]:
    """Skip reasons keyed by file name."""
    return {Path(p).name: r for p, r in zip(skipped["path"], skipped["reason"])}


def check_manifest(manifest: pd.DataFrame, root: Path) -> None:
    """Invariants of every manifest: columns, order, unique ids, absolute paths, hashes, canonical emotions."""
    assert list(manifest.columns) == COLUMNS
    assert manifest["utt_id"].is_unique and manifest["utt_id"].is_monotonic_increasing
    assert all(Path(p).is_absolute() and Path(p).is_relative_to(root.resolve()) for p in manifest["path"])
    assert manifest["file_hash"].str.fullmatch(r"[0-9a-f]{20}").all()
    assert set(manifest["emotion"]) <= set(CANONICAL_EMOTIONS)
    assert set(manifest["gender"]) <= {"female", "male", "unknown"}
    assert manifest["duration"].dtype == "float64" and manifest["sample_rate"].dtype == "int64"


# --- one test per corpus: every field, every emotion code ------------------------------------------------------


def test_emovo_fields_and_every_code(tmp_path):
    names = [f"f1/{code}-f1-b1.wav" for code in EMOVO_EMOTIONS] + ["m3/neu-m3-d2.wav"]
    write_tree(tmp_path, names, sr=48000, channels=2)
    write_wav(tmp_path / "m3" / "tri-m3-n5.wav", 48000, channels=1)  # EMOVO has a mono file too
    manifest, skipped = read_corpus("emovo", tmp_path)
    check_manifest(manifest, tmp_path)
    assert skipped.empty and len(manifest) == 9
    rows = by_name(manifest)
    row = rows["dis-f1-b1"]
    assert (row.utt_id, row.corpus, row.speaker, row.gender, row.sentence) == (
        "emovo/f1/dis-f1-b1",
        "emovo",
        "emovo_f1",
        "female",
        "emovo_b1",
    )
    assert (row.emotion, row.emotion_code, row.language, row.sample_rate, row.channels) == (
        "disgust",
        "dis",
        "it",
        48000,
        2,
    )
    assert row.duration == pytest.approx(0.5) and pd.isna(row.intensity)
    assert {rows[f"{c}-f1-b1"].emotion for c in EMOVO_EMOTIONS} == {
        "disgust",
        "happy",
        "neutral",
        "fearful",
        "angry",
        "surprised",
        "sad",
    }
    assert rows["gio-f1-b1"].emotion == "happy" and rows["pau-f1-b1"].emotion == "fearful"
    assert rows["rab-f1-b1"].emotion == "angry" and rows["sor-f1-b1"].emotion == "surprised"
    assert (rows["neu-m3-d2"].gender, rows["neu-m3-d2"].sentence) == ("male", "emovo_d2")
    assert rows["tri-m3-n5"].channels == 1


def test_ravdess_official_zip_layout_codes_intensity_gender(tmp_path):
    wrapper = tmp_path / "Audio_Speech_Actors_01-24"
    names = [f"Actor_01/03-01-{code}-02-01-01-01.wav" for code in RAVDESS_EMOTIONS]
    names += ["Actor_02/03-01-01-01-02-02-02.wav", "Actor_02/03-01-05-01-02-01-02.wav"]
    write_tree(wrapper, names, sr=48000)
    write_tree(
        wrapper,
        [
            "Actor_01/03-02-05-01-01-01-01.wav",  # song
            "Actor_01/01-01-05-01-01-01-01.wav",
        ],
    )  # audio-video modality as .wav
    (wrapper / "Actor_01" / "02-01-05-01-01-01-01.mp4").write_bytes(b"\0" * 64)
    (wrapper / "Actor_01" / "._03-01-05-02-01-01-01.wav").write_bytes(b"\0" * 64)  # macOS resource fork
    (wrapper / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "README.txt").write_text("RAVDESS")
    manifest, skipped = read_corpus("ravdess", tmp_path)
    check_manifest(manifest, tmp_path)
    rows = by_name(manifest)
    assert len(manifest) == 10
    row = rows["03-01-05-02-01-01-01"]
    assert row.utt_id == "ravdess/Audio_Speech_Actors_01-24/Actor_01/03-01-05-02-01-01-01"
    assert (row.speaker, row.gender, row.sentence, row.emotion, row.emotion_code, row.intensity, row.language) == (
        "ravdess_01",
        "male",
        "ravdess_01",
        "angry",
        "05",
        "strong",
        "en",
    )
    assert {rows[f"03-01-{c}-02-01-01-01"].emotion for c in RAVDESS_EMOTIONS} == {
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
    }
    female = rows["03-01-01-01-02-02-02"]
    assert (female.speaker, female.gender, female.sentence, female.intensity) == (
        "ravdess_02",
        "female",
        "ravdess_02",
        "normal",
    )
    why = reasons(skipped)
    assert set(why) == {"03-02-05-01-01-01-01.wav", "01-01-05-01-01-01-01.wav", "02-01-05-01-01-01-01.mp4"}
    assert "song" in why["03-02-05-01-01-01-01.wav"]
    assert "audio-only" in why["01-01-05-01-01-01-01.wav"] and "video" in why["02-01-05-01-01-01-01.mp4"]


def test_cremad_levels_codes_and_demographics(tmp_path):
    names = [f"AudioWAV/1001_DFA_{code}_XX.wav" for code in CREMAD_EMOTIONS]
    names += [f"AudioWAV/1002_IEO_HAP_{level}.wav" for level in ("LO", "MD", "HI")]
    write_tree(tmp_path, names)
    (tmp_path / "AudioMP3").mkdir()
    (tmp_path / "AudioMP3" / "1001_DFA_ANG_XX.mp3").write_bytes(b"ID3" + b"\0" * 100)  # ignored
    write_wav(tmp_path / "AudioWAV" / "1001_DFA_ANG_ZZ.wav")
    manifest, skipped = read_corpus("cremad", tmp_path)
    check_manifest(manifest, tmp_path)
    assert set(manifest["gender"]) == {"unknown"}  # no demographics file yet
    rows = by_name(manifest)
    assert {rows[f"1001_DFA_{c}_XX"].emotion for c in CREMAD_EMOTIONS} == {
        "angry",
        "disgust",
        "fearful",
        "happy",
        "neutral",
        "sad",
    }
    row = rows["1001_DFA_ANG_XX"]
    assert (row.utt_id, row.speaker, row.sentence, row.emotion_code, row.intensity) == (
        "cremad/AudioWAV/1001_DFA_ANG_XX",
        "cremad_1001",
        "cremad_DFA",
        "ANG",
        "unspecified",
    )
    assert [rows[f"1002_IEO_HAP_{lv}"].intensity for lv in ("LO", "MD", "HI")] == ["low", "medium", "high"]
    assert list(reasons(skipped)) == ["1001_DFA_ANG_ZZ.wav"]  # the .mp3 copy is not even listed
    assert "unknown intensity level 'ZZ'" in reasons(skipped)["1001_DFA_ANG_ZZ.wav"]

    pd.DataFrame({"ActorID": [1001, 1002], "Age": [51, 21], "Sex": ["Male", "Female"]}).to_csv(
        tmp_path / "VideoDemographics.csv", index=False
    )
    manifest, _ = read_corpus("cremad", tmp_path)
    assert dict(zip(manifest["speaker"], manifest["gender"])) == {"cremad_1001": "male", "cremad_1002": "female"}


def test_cremad_unreadable_demographics_warn_and_leave_gender_unknown(tmp_path):
    write_tree(tmp_path, ["AudioWAV/1001_DFA_ANG_XX.wav"])
    (tmp_path / "VideoDemographics.csv").write_text("Actor,Gender\n1001,Male\n")
    with pytest.warns(UserWarning, match="CREMA-D genders unknown"):
        manifest, _ = read_corpus("cremad", tmp_path)
    assert manifest["gender"].tolist() == ["unknown"]


def test_savee_original_and_kaggle_layouts(tmp_path):
    names = [f"AudioData/DC/{code}01.wav" for code in SAVEE_EMOTIONS]
    names += ["ALL/JE_sa03.wav", "ALL/KL_n30.wav"]
    write_tree(tmp_path, names, sr=44100)
    write_wav(tmp_path / "a01.wav", 44100, seed=99)  # no speaker in name or folder
    manifest, skipped = read_corpus("savee", tmp_path)
    check_manifest(manifest, tmp_path)
    rows = {(r.speaker, r.emotion_code, r.sentence): r for r in manifest.itertuples()}
    assert {r.emotion for r in manifest.itertuples() if r.speaker == "savee_DC"} == {
        "angry",
        "disgust",
        "fearful",
        "happy",
        "neutral",
        "sad",
        "surprised",
    }
    assert rows[("savee_JE", "sa", "savee_sa03")].emotion == "sad"
    assert rows[("savee_DC", "su", "savee_su01")].emotion == "surprised"
    assert rows[("savee_KL", "n", "savee_n30")].utt_id == "savee/ALL/KL_n30"
    assert set(manifest["gender"]) == {"male"} and set(manifest["language"]) == {"en"}
    assert "no SAVEE speaker" in reasons(skipped)["a01.wav"]


def test_savee_same_utterance_in_both_layouts_is_kept_once(tmp_path):
    write_wav(tmp_path / "AudioData" / "DC" / "a01.wav", 44100, seed=1)
    write_wav(tmp_path / "ALL" / "DC_a01.wav", 44100, seed=2)  # other bytes, same utterance
    manifest, skipped = read_corpus("savee", tmp_path)
    assert manifest["utt_id"].tolist() == ["savee/ALL/DC_a01"]
    assert "duplicate of ALL/DC_a01.wav (same speaker" in skipped["reason"][0]


def test_tess_wrappers_codes_case_and_formats(tmp_path):
    data = tmp_path / "TESS Toronto emotional speech set data"
    folders = {
        "angry": "angry",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happy",
        "neutral": "neutral",
        "ps": "pleasant_surprise",
        "sad": "Sad",
    }
    write_tree(data, [f"OAF_{folder}/OAF_back_{code}.wav" for code, folder in folders.items()], sr=24414)
    write_tree(
        data,
        [
            "YAF_pleasant_surprised/YAF_Dog_PLEASANT_SURPRISED.wav",
            "YAF_pleasant_surprised/YAF_kite_pleasant_surprise.wav",
        ],
        sr=24414,
    )
    write_wav(data / "OAF_fear" / "OAF_food_fear.wav", 96000, channels=2, seed=7)  # 96 kHz stereo
    write_wav(data / "YAF_angry" / "YAF_germ_angry.wav", 24414, fmt="AIFF", seed=8)  # AIFF behind .wav
    write_wav(data / "YAF_angry" / "YAF_germ_bored.wav", 24414, seed=9)
    # Kaggle's copy nests the same files once more under a lower-case wrapper: identical bytes
    copy = tmp_path / "tess copy" / "OAF_back_angry.wav"
    copy.parent.mkdir()
    copy.write_bytes((data / "OAF_angry" / "OAF_back_angry.wav").read_bytes())
    manifest, skipped = read_corpus("tess", tmp_path)
    check_manifest(manifest, tmp_path)
    rows = by_name(manifest)
    assert len(manifest) == 11
    row = rows["OAF_back_angry"]
    assert row.utt_id == "tess/TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry"
    assert (row.speaker, row.gender, row.sentence, row.emotion, row.emotion_code) == (
        "tess_OAF",
        "female",
        "tess_back",
        "angry",
        "angry",
    )
    assert {rows[f"OAF_back_{c}"].emotion for c in folders} == {
        "angry",
        "disgust",
        "fearful",
        "happy",
        "neutral",
        "surprised",
        "sad",
    }
    assert (
        rows["YAF_Dog_PLEASANT_SURPRISED"].emotion,
        rows["YAF_Dog_PLEASANT_SURPRISED"].speaker,
        rows["YAF_Dog_PLEASANT_SURPRISED"].sentence,
    ) == ("surprised", "tess_YAF", "tess_dog")
    assert rows["YAF_kite_pleasant_surprise"].emotion == "surprised"
    assert (rows["OAF_food_fear"].sample_rate, rows["OAF_food_fear"].channels) == (96000, 2)
    assert rows["YAF_germ_angry"].duration == pytest.approx(0.5)
    assert set(TESS_EMOTIONS) >= {"ps", "pleasant_surprise", "pleasant_surprised"}
    why = reasons(skipped)
    assert "unknown emotion code 'bored'" in why["YAF_germ_bored.wav"]
    assert why["OAF_back_angry.wav"].startswith("duplicate of TESS Toronto emotional speech set data/")


def test_emodb_letters_and_genders(tmp_path):
    names = [f"wav/03a01{letter}a.wav" for letter in EMODB_EMOTIONS]
    names += [f"wav/{speaker}b10Wb.wav" for speaker in EMODB_GENDERS] + ["wav/99a01Na.wav"]
    write_tree(tmp_path, names)
    (tmp_path / "erklaerung.txt").write_text("EMO-DB")
    manifest, skipped = read_corpus("emodb", tmp_path)
    check_manifest(manifest, tmp_path)
    assert skipped.empty
    rows = by_name(manifest)
    assert {letter: rows[f"03a01{letter}a"].emotion for letter in EMODB_EMOTIONS} == {
        "W": "angry",
        "L": "boredom",
        "E": "disgust",
        "A": "fearful",
        "F": "happy",
        "T": "sad",
        "N": "neutral",
    }
    row = rows["03a01Fa"]
    assert (row.utt_id, row.speaker, row.gender, row.sentence, row.emotion_code, row.language) == (
        "emodb/wav/03a01Fa",
        "emodb_03",
        "male",
        "emodb_a01",
        "F",
        "de",
    )
    assert {s: rows[f"{s}b10Wb"].gender for s in EMODB_GENDERS} == EMODB_GENDERS
    assert EMODB_GENDERS["08"] == "female" and EMODB_GENDERS["15"] == "male"
    assert rows["99a01Na"].gender == "unknown"


# --- bad input: skipped with a reason, never a crash --------------------------------------------------------------


def test_bad_files_are_skipped_with_reasons(tmp_path):
    wav = tmp_path / "wav"
    write_wav(wav / "03a01Wa.wav")  # fine
    write_wav(wav / "03a01Wb.wav", fmt="AIFF", seed=1)  # AIFF behind .wav: fine
    write_wav(wav / "03a01Wc.wav", 96000, channels=2, seed=2)  # 96 kHz stereo: fine
    write_wav(wav / "hello.wav", seed=3)  # name does not parse
    (wav / "03a02Wa.wav").write_bytes(np.random.default_rng(0).bytes(4000))  # corrupt
    (wav / "03a02Wb.wav").write_bytes(b"")  # empty
    write_wav(wav / "03a02Wc.wav", seconds=0)  # header only
    write_wav(wav / "03a04Wa.wav", amplitude=0)  # all zero
    write_wav(wav / "03a04Wb.wav", amplitude=1e-4, seed=4)  # -80 dBFS
    write_wav(wav / "03a04Wc.wav", seconds=0.05, seed=5)  # too short
    manifest, skipped = read_corpus("emodb", tmp_path)
    assert manifest["utt_id"].tolist() == ["emodb/wav/03a01Wa", "emodb/wav/03a01Wb", "emodb/wav/03a01Wc"]
    assert manifest["sample_rate"].tolist() == [16000, 16000, 96000]
    assert manifest["channels"].tolist() == [1, 1, 2]
    assert list(skipped.columns) == ["path", "corpus", "reason"] and set(skipped["corpus"]) == {"emodb"}
    why = reasons(skipped)
    assert why["hello.wav"] == "file name does not match the EMO-DB pattern SStttEv.wav (e.g. 03a01Fa.wav)"
    assert why["03a02Wa.wav"].startswith("not readable as audio: ")
    assert why["03a02Wb.wav"] == "empty file (0 bytes)"
    assert why["03a02Wc.wav"] == "no audio frames (header only)"
    assert why["03a04Wa.wav"] == "silent: every sample is zero"
    assert re.fullmatch(r"silent: peak -[78]\d dBFS \(threshold -60 dBFS\)", why["03a04Wb.wav"])
    assert why["03a04Wc.wav"].startswith("too short: 0.050 s")
    assert "0x" not in why["03a02Wa.wav"]  # no memory addresses: reasons are stable across runs


def test_label_overrides_corpus_and_prefixes(tmp_path):
    write_tree(tmp_path / "EMOVO", ["f2/sor-f2-l3.wav"], sr=48000)
    manifest, _ = read_corpus("emovo", tmp_path / "EMOVO", label="demo", progress=True)
    row = manifest.iloc[0]
    assert (row.utt_id, row.corpus, row.speaker, row.sentence) == ("demo/f2/sor-f2-l3", "demo", "demo_f2", "demo_l3")


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(CORPORA))
def test_missing_folder_says_where_and_how(tmp_path, key):
    missing = tmp_path / CORPORA[key].folder
    with pytest.raises(CorpusNotFoundError) as err:
        read_corpus(key, missing)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for needle in (str(missing), CORPORA[key].url, CORPORA[key].layout, "--data-dir", "SER_DATA_DIR"):
        assert needle in message


def test_empty_or_unusable_folder_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(CorpusNotFoundError, match="no audio files") as err:
        read_corpus("ravdess", tmp_path)
    assert str(tmp_path) in str(err.value) and "https://zenodo.org/records/1188976" in str(err.value)
    write_wav(tmp_path / "03-02-05-01-01-01-01.wav")
    with pytest.raises(CorpusNotFoundError, match="none of its files is usable .*song"):
        read_corpus("ravdess", tmp_path)


def test_unknown_corpus_key():
    with pytest.raises(ValueError, match="known corpora: emovo, ravdess"):
        read_corpus("iemocap", ".")


# --- cache -------------------------------------------------------------------------------------------------------


def test_second_read_comes_from_cache_and_changes_invalidate(tmp_path, monkeypatch):
    names = [f"Actor_03/03-01-0{e}-01-01-01-03.wav" for e in range(1, 6)]
    write_tree(tmp_path, names, sr=48000)
    first, _ = read_corpus("ravdess", tmp_path)

    def fail(path):
        raise AssertionError(f"read {path} although it is cached")

    monkeypatch.setattr(reader, "probe_audio", fail)
    second, _ = read_corpus("ravdess", tmp_path)
    pd.testing.assert_frame_equal(first, second)

    calls = []
    monkeypatch.setattr(reader, "probe_audio", lambda path: calls.append(path.name) or probe_audio(path))
    changed = write_wav(tmp_path / names[0], 48000, seconds=0.75, seed=42)
    (tmp_path / names[1]).unlink()
    third, _ = read_corpus("ravdess", tmp_path)
    assert calls == [changed.name]
    assert len(third) == 4 and third["duration"].iloc[0] == pytest.approx(0.75)
    assert third["file_hash"].iloc[0] != first["file_hash"].iloc[0]

    calls.clear()
    monkeypatch.setattr(reader, "READER_VERSION", reader.READER_VERSION + 1)  # a new reader re-reads everything
    read_corpus("ravdess", tmp_path)
    assert len(calls) == 4


def test_damaged_cache_is_a_miss(tmp_path):
    write_tree(tmp_path, ["wav/03a01Fa.wav"])
    read_corpus("emodb", tmp_path)
    reader._cache_file("emodb", tmp_path.resolve()).write_bytes(b"not a pickle")
    manifest, _ = read_corpus("emodb", tmp_path)
    assert len(manifest) == 1


# --- describe -----------------------------------------------------------------------------------------------------


def test_describe_mentions_every_corpus(tmp_path):
    text = describe(data_dir=tmp_path)
    for info in CORPORA.values():
        for needle in (info.title, info.url, info.licence, str(tmp_path / info.folder), info.layout):
            assert needle in text
    one = describe("tess")
    assert "TESS" in one and "RAVDESS" not in one and "CC BY-NC-ND 4.0" in one
    with pytest.raises(ValueError, match="unknown corpus"):
        describe("nope")


def test_registry_metadata():
    assert list(CORPORA) == ["emovo", "ravdess", "cremad", "savee", "tess", "emodb"]
    assert [i.folder for i in CORPORA.values()] == ["EMOVO", "RAVDESS", "CREMA-D", "SAVEE", "TESS", "EMO-DB"]
    assert CORPORA["ravdess"].licence.startswith("CC BY-NC-SA 4.0")
    assert "Open Database License" in CORPORA["cremad"].licence
