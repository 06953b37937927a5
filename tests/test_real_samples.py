"""The readers on real recordings (../shared/data: all of EMO-DB, a TESS subset with real oddities)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_utils.corpora import read_corpus
from ser_utils.datasets import load_dataset

pytestmark = pytest.mark.realdata


def test_emodb(shared_data):
    manifest, skipped = read_corpus("emodb", shared_data / "EMO-DB")
    assert skipped.empty
    assert len(manifest) == 535
    assert manifest["speaker"].nunique() == 10
    assert manifest.groupby("gender")["speaker"].nunique().to_dict() == {"female": 5, "male": 5}
    assert manifest["emotion"].value_counts().to_dict() == {
        "angry": 127,
        "boredom": 81,
        "neutral": 79,
        "happy": 71,
        "fearful": 69,
        "sad": 62,
        "disgust": 46,
    }
    assert set(manifest["sample_rate"]) == {22050} and set(manifest["channels"]) == {1}
    assert manifest["duration"].round(6).eq(2.0).all()
    assert manifest["sentence"].nunique() == 10 and set(manifest["language"]) == {"de"}


def test_tess_with_its_oddities(shared_data):
    manifest, skipped = read_corpus("tess", shared_data / "TESS")
    assert skipped.empty
    assert len(manifest) == 279
    assert manifest["speaker"].value_counts().to_dict() == {"tess_YAF": 140, "tess_OAF": 139}
    assert set(manifest["gender"]) == {"female"} and manifest["sentence"].nunique() == 20
    counts = manifest["emotion"].value_counts().to_dict()
    assert counts == {"disgust": 40, "fearful": 40, "happy": 40, "neutral": 40, "surprised": 40, "sad": 40, "angry": 39}
    assert set(manifest.loc[manifest["emotion"] == "surprised", "emotion_code"]) == {"ps"}
    rows = manifest.set_index(manifest["path"].map(lambda p: Path(p).name))
    assert rows.loc["OAF_food_fear.wav", "sample_rate"] == 96000
    for aiff in ("YAF_germ_angry.wav", "YAF_neat_fear.wav"):
        assert rows.loc[aiff, "sample_rate"] == 24414 and rows.loc[aiff, "duration"] > 1
    assert "OAF_back_angry.wav" not in rows.index


def test_through_load_dataset(shared_data):
    emodb = load_dataset("emodb", shared_data, progress=False)
    assert len(emodb.manifest) == 535 and emodb.roots == {"emodb": shared_data / "EMO-DB"}
    both = load_dataset("Emo-DB+tess", shared_data, progress=False)
    summary = both.summary()
    assert summary["files"].to_dict() == {"emodb": 535, "tess": 279}
    assert summary["speakers"].to_dict() == {"emodb": 10, "tess": 2}
    assert summary["skipped"].sum() == 0
    assert load_dataset("emodb", shared_data, progress=False).fingerprint() == emodb.fingerprint()
