"""Spectral feature sets (librosa): the Kaggle 162-vector, 2 s window means, MFCCs, log-mel images, statistics.

Each function takes a prepared mono clip ``y`` at rate ``sr`` plus its documented parameters and
returns one float32 array. Where the widely copied notebooks call librosa once per feature (and so
compute the same STFT three times), these compute one STFT and derive every feature from it; the
values are the same up to float rounding.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import librosa
import numpy as np
import scipy.ndimage
import scipy.stats

from ..audio import fix_length, segment

#: Pitch-class names, the order of librosa's chroma rows.
CHROMA_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


@lru_cache(maxsize=32)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """The mel filter bank, built once per process (librosa rebuilds it on every call)."""
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


def _power(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT|² with librosa's defaults (Hann window, centred frames)."""
    return np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2


def _mel(power: np.ndarray, sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Mel power spectrogram from a power spectrogram."""
    return _mel_basis(sr, n_fft, n_mels) @ power


def _mfcc(mel_power: np.ndarray, n_mfcc: int) -> np.ndarray:
    """MFCCs from a mel power spectrogram, exactly as ``librosa.feature.mfcc(y=...)`` derives them."""
    return librosa.feature.mfcc(S=librosa.power_to_db(mel_power), n_mfcc=n_mfcc)


def _quiet_chroma(spectrum: np.ndarray, sr: int) -> np.ndarray:
    """``librosa.feature.chroma_stft`` without the warning it prints on clips with no tonal frames."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return librosa.feature.chroma_stft(S=spectrum, sr=sr)


def kaggle162(
    y: np.ndarray, sr: int, *, n_fft: int = 2048, hop_length: int = 512, n_mfcc: int = 20, n_mels: int = 128
) -> np.ndarray:
    """Per-clip means of ZCR (1), chroma STFT (12), MFCC (20), RMS (1) and mel (128): the widely copied 162-vector.

    Order and definitions follow the popular Kaggle notebooks: chroma from the STFT magnitude,
    MFCC and mel from the power spectrogram, ZCR and RMS from the waveform, librosa defaults.
    """
    power = _power(y, n_fft, hop_length)
    mel = _mel(power, sr, n_fft, n_mels)
    parts = [
        librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop_length).mean(axis=1),
        _quiet_chroma(np.sqrt(power), sr).mean(axis=1),
        _mfcc(mel, n_mfcc).mean(axis=1),
        librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop_length).mean(axis=1),
        mel.mean(axis=1),
    ]
    return np.concatenate(parts).astype(np.float32)


def kaggle162_names(*, n_mfcc: int = 20, n_mels: int = 128, **_: object) -> list[str]:
    """Column names of :func:`kaggle162`."""
    return (
        ["zcr"]
        + [f"chroma_{c}" for c in CHROMA_NAMES]
        + [f"mfcc_{i}" for i in range(n_mfcc)]
        + ["rms"]
        + [f"mel_{i}" for i in range(n_mels)]
    )


def window160(
    y: np.ndarray,
    sr: int,
    *,
    window: float = 2.0,
    hop: float | None = None,
    min_last: float = 0.5,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    n_mfcc: int = 20,
) -> np.ndarray:
    """Per ``window``-second window: column means of mel (128), MFCC (20) and chroma (12) → windows × 160.

    ``hop`` None means no overlap; a last partial window is kept (zero-padded) when it holds at
    least ``min_last`` of a window, and a clip shorter than one window gives one padded window.
    """
    rows = []
    for piece in segment(y, sr, window, hop, min_last):
        power = _power(piece, n_fft, hop_length)
        mel = _mel(power, sr, n_fft, n_mels)
        rows.append(
            np.concatenate([mel.mean(axis=1), _mfcc(mel, n_mfcc).mean(axis=1), _quiet_chroma(power, sr).mean(axis=1)])
        )
    return np.asarray(rows, dtype=np.float32)


def window160_names(*, n_mels: int = 128, n_mfcc: int = 20, **_: object) -> list[str]:
    """Column names of :func:`window160`."""
    return (
        [f"mel_{i}" for i in range(n_mels)]
        + [f"mfcc_{i}" for i in range(n_mfcc)]
        + [f"chroma_{c}" for c in CHROMA_NAMES]
    )


def mfcc_mean(y: np.ndarray, sr: int, *, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Mean of ``n_mfcc`` MFCCs over time: the SVM baseline's input."""
    mel = _mel(_power(y, n_fft, hop_length), sr, n_fft, 128)
    return _mfcc(mel, n_mfcc).mean(axis=1).astype(np.float32)


def mfcc_mean_names(*, n_mfcc: int = 20, **_: object) -> list[str]:
    """Column names of :func:`mfcc_mean`."""
    return [f"mfcc_{i}" for i in range(n_mfcc)]


def _fit_frames(y: np.ndarray, frames: int, hop_length: int, align: str) -> np.ndarray:
    """Pad/crop the waveform so centred framing yields exactly ``frames`` frames (padding = silence)."""
    return fix_length(y, (frames - 1) * hop_length, align)  # type: ignore[arg-type]


def mfcc_seq(
    y: np.ndarray,
    sr: int,
    *,
    n_mfcc: int = 40,
    deltas: bool = False,
    frames: int = 300,
    n_fft: int = 512,
    hop_length: int = 160,
    n_mels: int = 64,
    align: str = "centre",
) -> np.ndarray:
    """MFCC time sequence (frames × coefficients) of fixed length, for recurrent models.

    Defaults: 40 coefficients, 32 ms frames every 10 ms, 300 frames (3 s; the waveform is padded
    with silence or cropped around its ``align`` point first). ``deltas`` appends Δ and ΔΔ (×3 columns).
    """
    y = _fit_frames(y, frames, hop_length, align)
    coeffs = _mfcc(_mel(_power(y, n_fft, hop_length), sr, n_fft, n_mels), n_mfcc)
    if deltas:
        coeffs = np.concatenate([coeffs, librosa.feature.delta(coeffs), librosa.feature.delta(coeffs, order=2)])
    return np.ascontiguousarray(coeffs.T, dtype=np.float32)


def logmel(
    y: np.ndarray,
    sr: int,
    *,
    size: tuple[int, int] | list[int] = (128, 128),
    duration: float = 3.0,
    n_mels: int = 128,
    n_fft: int = 1024,
    top_db: float = 80.0,
    align: str = "centre",
) -> np.ndarray:
    """A 128-band log-mel "image" of exactly ``size`` = (height, width), in dB (power, ref 1.0).

    The hop is chosen so ``duration`` seconds give exactly ``width`` frames (the waveform is padded
    or cropped first); the mel axis is resized to ``height`` when it differs from ``n_mels``
    (e.g. 256×256 for progressive resizing). Values below the clip's peak − ``top_db`` are clamped.
    """
    height, width = int(size[0]), int(size[1])
    hop = max(1, int(np.ceil(duration * sr / (width - 1))))
    y = _fit_frames(y, width, hop, align)
    image = librosa.power_to_db(
        _mel(_power(y, max(n_fft, hop), hop), sr, max(n_fft, hop), n_mels), ref=1.0, top_db=top_db
    )
    if height != n_mels:
        image = scipy.ndimage.zoom(image, (height / n_mels, 1.0), order=1)
        missing = max(0, height - image.shape[0])  # zoom rounds: make the height exact
        image = np.pad(image, ((0, missing), (0, 0)), mode="edge")[:height]
    return np.ascontiguousarray(image, dtype=np.float32)


#: Frame-level features summarised by :func:`stats` (names, in order).
STAT_FRAME_FEATURES = (
    [f"mfcc_{i}" for i in range(20)] + [f"chroma_{c}" for c in CHROMA_NAMES] + ["zcr", "rms", "centroid", "bandwidth"]
)
STAT_NAMES = ("mean", "var", "skew", "kurtosis")


def stats(y: np.ndarray, sr: int, *, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Mean, variance, skewness and kurtosis over time of 36 frame features (MFCC 20, chroma 12, ZCR, RMS,
    spectral centroid, bandwidth) → 144 values: the statistical branch of a fusion model.

    Gender (0 female, 1 male, 0.5 unknown) is appended from the manifest by the extraction engine.
    Skewness and kurtosis of a constant row (e.g. chroma of a pure noise clip) are reported as 0.
    """
    power = _power(y, n_fft, hop_length)
    magnitude = np.sqrt(power)
    frames = np.vstack(
        [
            _mfcc(_mel(power, sr, n_fft, 128), 20),
            _quiet_chroma(power, sr),
            librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop_length),
            librosa.feature.rms(S=magnitude, frame_length=n_fft, hop_length=hop_length),
            librosa.feature.spectral_centroid(S=magnitude, sr=sr) / 1000.0,  # kHz keeps the scale near the others
            librosa.feature.spectral_bandwidth(S=magnitude, sr=sr) / 1000.0,
        ]
    ).astype(np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.stack(
            [
                frames.mean(axis=1),
                frames.var(axis=1),
                scipy.stats.skew(frames, axis=1),
                scipy.stats.kurtosis(frames, axis=1),
            ],
            axis=1,
        )
    return np.nan_to_num(values.reshape(-1), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def stats_names(**_: object) -> list[str]:
    """Column names of :func:`stats` (without the gender column the engine appends)."""
    return [f"{feature}_{stat}" for feature in STAT_FRAME_FEATURES for stat in STAT_NAMES]
