"""Loading audio as the models see it: mono float32 at one target rate, whatever the file holds.

:func:`load_audio` reads any format libsndfile reads. :func:`read_clip` adds the checks that turn a
bad file into a named :class:`AudioError` (corrupt, empty, silent, too short, odd rate) and the
optional silence trimming; :func:`condition` applies loudness normalisation and a fixed length;
:func:`segment` cuts a clip into windows. :class:`AudioConfig` bundles these choices, and its fields
enter the feature cache key, so changing one recomputes exactly what depends on it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Literal

import librosa
import numpy as np
import soundfile as sf

#: Floor (dBFS) used when printing the level of an all-zero signal.
_DB_FLOOR = -120.0


class AudioError(ValueError):
    """A file that cannot be used, with a short reason such as ``"silent: peak -96 dBFS"``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AudioConfig:
    """How every clip is prepared before features are computed (all fields enter the cache key).

    ``trim_db``: trim leading/trailing parts quieter than peak − trim_db (None: no trimming).
    ``normalize``: ``"peak"`` (peak at ``target_dbfs``), ``"rms"`` (RMS at ``target_dbfs``) or None.
    ``duration``: pad/crop to this many seconds (None: keep), ``align`` where to keep/pad.
    ``min_duration``/``silence_dbfs``/``min_sr``: thresholds below which a file is skipped.
    """

    sr: int = 16000
    trim_db: float | None = None
    normalize: Literal["peak", "rms"] | None = None
    target_dbfs: float | None = None
    duration: float | None = None
    align: Literal["centre", "start"] = "centre"
    min_duration: float = 0.2
    silence_dbfs: float = -60.0
    min_sr: int = 8000

    def __post_init__(self) -> None:
        if self.normalize not in (None, "peak", "rms"):
            raise ValueError(f"normalize must be None, 'peak' or 'rms', got {self.normalize!r}")
        if self.align not in ("centre", "start"):
            raise ValueError(f"align must be 'centre' or 'start', got {self.align!r}")
        if self.sr <= 0 or (self.duration is not None and self.duration <= 0):
            raise ValueError("sr and duration must be positive")

    def key(self) -> dict:
        """The fields as a plain dict (what the cache key hashes)."""
        return asdict(self)


def to_dbfs(amplitude: float) -> float:
    """An amplitude (1.0 = full scale) in dBFS, floored at -120 dB for silence."""
    return float(20 * np.log10(amplitude)) if amplitude > 10 ** (_DB_FLOOR / 20) else _DB_FLOOR


def load_audio(path: str | os.PathLike, sr: int | None = 16000, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read any format libsndfile reads (rate, channels, AIFF behind a .wav name) → float32 at ``sr``.

    ``sr=None`` keeps the native rate. Stereo is averaged to mono unless ``mono=False``
    (then the result is channels × samples). An unreadable file raises :class:`AudioError`.
    """
    _check_exists(path)
    try:
        data, native_sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - libsndfile, OS and format errors all mean "cannot use"
        raise AudioError(f"corrupt or unreadable: {_short(err)}") from err
    if not np.all(np.isfinite(data)):  # before resampling, which would fail on them with a traceback
        raise AudioError("corrupt or unreadable: non-finite samples (NaN or infinity)")
    y = data.mean(axis=1) if mono else data.T
    if sr is not None and sr != native_sr and y.shape[-1] > 0:
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
        native_sr = sr
    elif sr is not None:
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def _check_exists(path: str | os.PathLike) -> None:
    """A missing path gets its own reason (libsndfile would only say "System error")."""
    if not os.path.exists(path):
        link = " (a broken symbolic link)" if os.path.islink(path) else ""
        raise AudioError(f"not found: no such file{link}")
    if os.path.isdir(path):
        raise AudioError("not a file: it is a folder")


def _short(err: Exception) -> str:
    """The first line of an error message, without libsndfile's path prefix noise."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def check_signal(y: np.ndarray, sr: int, config: AudioConfig) -> None:
    """Raise :class:`AudioError` when a signal is empty, non-finite, silent or too short."""
    if y.size == 0:
        raise AudioError("empty: 0 samples")
    if not np.all(np.isfinite(y)):
        raise AudioError("corrupt or unreadable: non-finite samples")
    peak = to_dbfs(float(np.max(np.abs(y))))
    if peak < config.silence_dbfs:
        raise AudioError(f"silent: peak {peak:.0f} dBFS")
    swing = to_dbfs(float(np.ptp(y)) / 2)
    if swing < config.silence_dbfs:  # a constant offset (DC) reaches the peak without any sound
        raise AudioError(f"silent: a constant (DC) signal, variation {swing:.0f} dBFS")
    seconds = y.size / sr
    if seconds < config.min_duration:
        raise AudioError(f"too short: {seconds:.2f} s < {config.min_duration:.2f} s")


def read_clip(path: str | os.PathLike, config: AudioConfig | None = None) -> np.ndarray:
    """Load, check and (optionally) trim one file; raises :class:`AudioError` with the reason."""
    config = config or AudioConfig()
    _check_exists(path)
    try:
        info = sf.info(os.fspath(path))
    except Exception as err:  # noqa: BLE001
        raise AudioError(f"corrupt or unreadable: {_short(err)}") from err
    if info.frames == 0:
        raise AudioError("empty: 0 samples")
    if info.samplerate < config.min_sr:
        raise AudioError(f"odd sample rate: {info.samplerate} Hz < {config.min_sr} Hz")
    y, sr = load_audio(path, config.sr)
    check_signal(y, sr, config)
    if config.trim_db is not None:
        y = trim_silence(y, config.trim_db)
        check_signal(y, sr, config)
    return y


def condition(y: np.ndarray, config: AudioConfig) -> np.ndarray:
    """Normalise and pad/crop a checked clip as ``config`` says (after any augmentation)."""
    if config.normalize:
        default = -1.0 if config.normalize == "peak" else -20.0
        y = normalize(y, config.normalize, default if config.target_dbfs is None else config.target_dbfs)
    if config.duration is not None:
        y = fix_length(y, int(round(config.duration * config.sr)), config.align)
    return np.ascontiguousarray(y, dtype=np.float32)


def load_clip(path: str | os.PathLike, config: AudioConfig | None = None) -> np.ndarray:
    """:func:`read_clip` then :func:`condition`: the clip exactly as feature functions receive it."""
    config = config or AudioConfig()
    return condition(read_clip(path, config), config)


def trim_silence(y: np.ndarray, top_db: float = 30.0) -> np.ndarray:
    """Drop leading and trailing parts quieter than the peak − ``top_db`` (librosa.effects.trim)."""
    trimmed, _ = librosa.effects.trim(y, top_db=top_db, frame_length=1024, hop_length=256)
    return trimmed


def normalize(y: np.ndarray, mode: Literal["peak", "rms"] = "peak", target_dbfs: float = -1.0) -> np.ndarray:
    """Scale so the peak (``"peak"``) or the RMS level (``"rms"``) sits at ``target_dbfs``.

    RMS normalisation is clipped so no sample exceeds full scale (a loud target on a peaky clip).
    """
    if mode not in ("peak", "rms"):
        raise ValueError(f"mode must be 'peak' or 'rms', got {mode!r}")
    level = float(np.max(np.abs(y))) if mode == "peak" else float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if level <= 0:
        return y.astype(np.float32, copy=True)
    gain = 10 ** (target_dbfs / 20) / level
    peak = float(np.max(np.abs(y))) * gain
    if peak > 1.0:
        gain /= peak
    return (y * gain).astype(np.float32)


def fix_length(y: np.ndarray, n: int, align: Literal["centre", "start"] = "centre") -> np.ndarray:
    """Pad with zeros or crop to exactly ``n`` samples, keeping the centre or the start."""
    if n <= 0:
        raise ValueError(f"length must be positive, got {n}")
    extra = y.size - n
    if extra == 0:
        return y
    if align == "start":
        return y[:n] if extra > 0 else np.pad(y, (0, -extra))
    if extra > 0:
        return y[extra // 2 : extra // 2 + n]
    return np.pad(y, (-extra // 2, -extra - (-extra // 2)))


def segment(y: np.ndarray, sr: int, window: float = 2.0, hop: float | None = None, min_last: float = 0.5) -> np.ndarray:
    """Cut a clip into windows of ``window`` s every ``hop`` s (default: no overlap) → windows × samples.

    When the full windows leave samples uncovered, one more window starts a hop after the last and
    is zero-padded if it holds at least ``min_last`` of a window (else the rest is dropped); a clip
    shorter than one window always gives one padded window.
    """
    size = int(round(window * sr))
    step = int(round((hop or window) * sr))
    if size <= 0 or step <= 0:
        raise ValueError("window and hop must be positive")
    if y.size <= size:
        return fix_length(y, size, "start")[None, :]
    starts = list(range(0, y.size - size + 1, step))
    tail = starts[-1] + step
    uncovered = y.size - (starts[-1] + size)  # samples no full window holds
    if uncovered > 0 and (y.size - tail) >= min_last * size:
        starts.append(tail)
    out = np.zeros((len(starts), size), dtype=np.float32)
    for i, start in enumerate(starts):
        piece = y[start : start + size]
        out[i, : piece.size] = piece
    return out


@dataclass(frozen=True)
class Window:
    """One window of a clip: the id of the file it came from, its index and start time."""

    source_id: str
    index: int
    start: float
    y: np.ndarray


def windows(
    y: np.ndarray, sr: int, source_id: str, window: float = 2.0, hop: float | None = None, min_last: float = 0.5
) -> list[Window]:
    """:func:`segment`, each window labelled with its source id, index and start (s)."""
    step = hop or window
    return [Window(source_id, i, round(i * step, 6), w) for i, w in enumerate(segment(y, sr, window, hop, min_last))]
