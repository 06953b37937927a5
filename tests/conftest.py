"""Shared test fixtures: isolated data/cache folders, a tiny synthetic feature table, the optional real-corpus samples."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
#: Small real-corpus samples beside the project (absent on most machines: tests skip then).
SHARED_DATA = REPO.parent / "shared" / "data"

# Keep every test run away from the user's own data root and cache.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="ser-lab-tests-"))
os.environ["SER_CACHE_DIR"] = str(_SESSION_TMP / "cache")
os.environ["SER_DATA_DIR"] = str(_SESSION_TMP / "data")

#: The emotions of :func:`make_toy_table`.
TOY_EMOTIONS = ("angry", "neutral", "sad")

#: The feature set a toy table pretends to be, by kind (the set's own kind).
_TOY_SETS = {"vector": "kaggle162", "windows": "window160", "image": "logmel", "sequence": "mfcc_seq"}


def make_toy_table(
    *,
    kind: str = "vector",
    shape: tuple = (12,),
    speakers: int = 3,
    sentences: int = 3,
    windows: int = 1,
    copies: int = 0,
    seed: int = 0,
    index_column: bool = False,
    emotions: tuple[str, ...] = TOY_EMOTIONS,
):
    """A feature table without audio: emotion shifts the features, speakers add their own offset.

    ``windows`` rows per clip (kind "windows"), ``copies`` augmented copies per clip; with
    ``index_column`` the first feature of each row is its row number (to trace rows through training).
    """
    from ser_utils.audio import AudioConfig
    from ser_utils.features import FeatureTable

    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        for p in range(sentences):
            for e in emotions:
                utt = f"s{s}_p{p}_{e}"
                for c in range(copies + 1):
                    for w in range(windows):
                        rows.append(
                            {
                                "utt_id": utt if c == 0 else f"{utt}_aug{c}",
                                "source_id": utt,
                                "speaker": f"s{s}",
                                "sentence": f"p{p}",
                                "emotion": e,
                                "gender": "female" if s % 2 else "male",
                                "augmentation": "" if c == 0 else "noise",
                                "window": w,
                            }
                        )
    meta = pd.DataFrame(rows)
    code = meta["emotion"].map({e: i for i, e in enumerate(emotions)}).to_numpy()
    speaker = meta["speaker"].str[1:].astype(int).to_numpy()
    centre = (len(emotions) - 1) / 2
    X = (
        rng.normal(0, 1, (len(meta), *shape))
        + (code - centre).reshape(-1, *[1] * len(shape)) * 2.5
        + speaker.reshape(-1, *[1] * len(shape)) * 0.3
    )
    X = X.astype(np.float32)
    if index_column:
        X.reshape(len(meta), -1)[:, 0] = np.arange(len(meta))
    if windows == 1:
        meta = meta.drop(columns="window")
    return FeatureTable(
        X=X,
        meta=meta,
        skipped=pd.DataFrame(),
        feature_names=None,
        feature_set=_TOY_SETS[kind],
        kind=kind,
        params={},
        audio=AudioConfig(),
        config_key=f"toy-{kind}-{seed}",
    )


@pytest.fixture(scope="session")
def toy_table():
    """:func:`make_toy_table`, the builder of tiny synthetic feature tables (call it with the shape you need)."""
    return make_toy_table


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    """A temporary folder shared by the whole test session (synthetic corpora are costly)."""
    return _SESSION_TMP


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``, or skip the test when the real samples are not present."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-corpus samples not present at {SHARED_DATA}")
    return SHARED_DATA
