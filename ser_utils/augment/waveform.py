"""Waveform augmentations: float32 mono in, float32 mono out, deterministic given a seed or Generator.

Filters, time stretch and pitch shift come from audiomentations (its signalsmith-stretch backend is
fast and keeps the timing of the clip); noise, gain and shift are a line of numpy each and draw their
randomness from a :class:`numpy.random.Generator`, never from global state.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

RngLike = np.random.Generator | int | None


def as_generator(rng: RngLike) -> np.random.Generator:
    """A Generator from a seed, an existing Generator (used as is) or ``None`` (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def as_mono(y: np.ndarray) -> np.ndarray:
    """Check that ``y`` is a 1-D signal and return it as float32 (augmentations work on mono clips)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected a mono 1-D waveform, got an array of shape {y.shape}")
    return y.astype(np.float32, copy=False)


def rms(y: np.ndarray) -> float:
    """Root-mean-square level of a signal (0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def add_noise_snr(y: np.ndarray, snr_db: float, rng: RngLike = None) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` relative to the clip's RMS power (whole clip, pauses included)."""
    y = as_mono(y)
    noise_rms = rms(y) / 10 ** (snr_db / 20)
    noise = as_generator(rng).standard_normal(len(y)) * noise_rms
    return (y + noise).astype(np.float32)


def add_peak_noise(y: np.ndarray, factor: float = 0.035, rng: RngLike = None) -> np.ndarray:
    """The widely copied Kaggle recipe: Gaussian noise with amplitude ``factor · U(0,1) · max|y|``.

    The SNR this gives varies from clip to clip (it follows the peak, not the level, and the uniform
    draw can be near zero); :func:`add_noise_snr` is the controlled alternative.
    """
    y = as_mono(y)
    gen = as_generator(rng)
    amplitude = factor * gen.uniform() * (float(np.max(np.abs(y))) if len(y) else 0.0)
    return (y + amplitude * gen.standard_normal(len(y))).astype(np.float32)


def time_stretch(y: np.ndarray, sr: int, rate: float, *, keep_length: bool = False) -> np.ndarray:
    """Change tempo, not pitch: ``rate`` < 1 slows down (0.8 makes the clip 1/0.8 = 1.25× longer)."""
    from audiomentations import TimeStretch

    y = as_mono(y)
    stretch = TimeStretch(min_rate=rate, max_rate=rate, leave_length_unchanged=keep_length, p=1.0)
    return np.ascontiguousarray(stretch(y, sr), dtype=np.float32)


def pitch_shift(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Shift pitch (and formants) by ``semitones`` keeping the duration."""
    from audiomentations import PitchShift

    y = as_mono(y)
    shift = PitchShift(min_semitones=semitones, max_semitones=semitones, p=1.0)
    return np.ascontiguousarray(shift(y, sr), dtype=np.float32)


def low_pass(y: np.ndarray, sr: int, cutoff_hz: float, *, rolloff_db_per_octave: int = 24) -> np.ndarray:
    """Butterworth low-pass at ``cutoff_hz`` (a muffled, telephone-like channel)."""
    from audiomentations import LowPassFilter

    if not 0 < cutoff_hz < sr / 2:
        raise ValueError(f"cutoff_hz must lie between 0 and the Nyquist frequency {sr / 2:g} Hz, got {cutoff_hz}")
    y = as_mono(y)
    lowpass = LowPassFilter(
        min_cutoff_freq=cutoff_hz,
        max_cutoff_freq=cutoff_hz,
        min_rolloff=rolloff_db_per_octave,
        max_rolloff=rolloff_db_per_octave,
        p=1.0,
    )
    return np.ascontiguousarray(lowpass(y, sr), dtype=np.float32)


def gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale the level by ``gain_db`` decibels (no clipping: values may leave [-1, 1])."""
    return (as_mono(y) * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def time_shift(
    y: np.ndarray,
    sr: int,
    shift: float,
    *,
    unit: Literal["seconds", "fraction", "samples"] = "seconds",
    rollover: bool = True,
) -> np.ndarray:
    """Move the clip later (``shift`` > 0) or earlier; ``rollover`` wraps around, otherwise zeros fill in."""
    y = as_mono(y)
    factor = {"seconds": sr, "fraction": len(y), "samples": 1}
    if unit not in factor:
        raise ValueError(f"unit must be one of {sorted(factor)}, got {unit!r}")
    n = int(round(shift * factor[unit]))
    if rollover:
        return np.roll(y, n).astype(np.float32)
    out = np.zeros_like(y)
    if abs(n) < len(y):
        if n >= 0:
            out[n:] = y[: len(y) - n]
        else:
            out[:n] = y[-n:]
    return out
