"""Loading audio as the models see it: mono float32 at one target rate, whatever the file holds."""

from __future__ import annotations

import os

import librosa
import numpy as np
import soundfile as sf


def load_audio(path: str | os.PathLike, sr: int | None = 16000, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read any format libsndfile reads (rate, channels, AIFF behind a .wav name) → float32 at ``sr``.

    ``sr=None`` keeps the native rate. Stereo is averaged to mono unless ``mono=False``
    (then the result is channels × samples).
    """
    data, native_sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    y = data.mean(axis=1) if mono else data.T
    if sr is not None and sr != native_sr:
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)
