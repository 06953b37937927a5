"""Figures and measurements for the augmentation notebook: original vs augmented, seen and measured."""

from __future__ import annotations

from collections.abc import Mapping

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..plots import draw_wave
from .waveform import rms

#: Frame hop (samples) of the log-mel images drawn here.
HOP_LENGTH = 256


def log_mel(y: np.ndarray, sr: int, *, n_mels: int = 64, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Log-mel power in absolute dB (ref 1.0), so level changes stay visible between images."""
    power = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels, hop_length=hop_length)
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)


def _colour_range(images: list[np.ndarray], dynamic_db: float = 80.0) -> tuple[float, float]:
    """One colour scale for several images: the loudest cell down to ``dynamic_db`` below it."""
    top = max(float(np.max(s)) for s in images)
    return top - dynamic_db, top


def plot_augmentations(y: np.ndarray, augmented: Mapping[str, np.ndarray], sr: int, *, n_mels: int = 64):
    """One row per clip (original first): waveform (original in grey behind) and log-mel, on shared scales."""
    clips = {"original": y, **augmented}
    mels = {name: log_mel(clip, sr, n_mels=n_mels) for name, clip in clips.items()}
    vmin, vmax = _colour_range(list(mels.values()))
    peak = max(float(np.max(np.abs(c))) for c in clips.values()) * 1.05
    longest = max(len(c) for c in clips.values()) / sr
    fig, axes = plt.subplots(
        len(clips), 2, figsize=(13, 1.9 * len(clips)), squeeze=False, gridspec_kw={"width_ratios": [1, 1.25]}
    )
    for (wave_ax, spec_ax), (name, clip) in zip(axes, clips.items()):
        if name != "original":
            draw_wave(wave_ax, y, sr, color="0.8", label="original")
        draw_wave(wave_ax, clip, sr, color="C0", alpha=0.8, label=name)
        wave_ax.set(xlim=(0, longest), ylim=(-peak, peak), title=name, xlabel="", ylabel="")
        librosa.display.specshow(
            mels[name],
            sr=sr,
            hop_length=HOP_LENGTH,
            x_axis="time",
            y_axis="mel",
            ax=spec_ax,
            cmap="magma",
            vmin=vmin,
            vmax=vmax,
        )
        spec_ax.set(xlim=(0, longest), title=f"log-mel · {name}", xlabel="", ylabel="Hz")
    fig.tight_layout()
    return fig


def plot_spectrograms(images: Mapping[str, np.ndarray], sr: int, *, ncols: int = 3, hop_length: int = HOP_LENGTH):
    """A grid of log-mel images on one colour scale (for SpecAugment, image transforms and mixup)."""
    nrows = -(-len(images) // ncols)
    vmin, vmax = _colour_range(list(images.values()))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 2.9 * nrows), squeeze=False)
    for ax, (title, image) in zip(axes.flat, images.items()):
        librosa.display.specshow(
            image, sr=sr, hop_length=hop_length, x_axis="time", y_axis="mel", ax=ax, cmap="magma", vmin=vmin, vmax=vmax
        )
        ax.set(title=title, xlabel="", ylabel="")
    for ax in list(axes.flat)[len(images) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _median_f0(y: np.ndarray, sr: int) -> float:
    """Median YIN F0 (Hz) over the louder half of the frames (a rough but fast pitch estimate)."""
    f0 = librosa.yin(y, fmin=60, fmax=600, sr=sr, frame_length=1024)
    energy = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0][: len(f0)]
    return float(np.median(f0[: len(energy)][energy >= np.median(energy)]))


def _high_band_share(y: np.ndarray, sr: int, above_hz: float) -> float:
    """Fraction of the clip's spectral energy above ``above_hz``."""
    power = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return float(power[freqs > above_hz].sum() / max(power.sum(), 1e-20))


def effect_table(
    y: np.ndarray, augmented: Mapping[str, np.ndarray], sr: int, *, high_hz: float = 3000.0
) -> pd.DataFrame:
    """What each augmentation measurably did to the clip: duration, level, pitch, high-band energy, SNR."""
    base_rms, base_f0, base_high = rms(y), _median_f0(y, sr), _high_band_share(y, sr, high_hz)
    rows = []
    for name, z in augmented.items():
        same_length = len(z) == len(y)
        residual = rms(z - y) if same_length else np.nan
        rows.append(
            {
                "augmentation": name,
                "duration ratio": len(z) / len(y),
                "level change (dB)": 20 * np.log10(max(rms(z), 1e-12) / max(base_rms, 1e-12)),
                "median F0 change (semitones)": 12 * np.log2(_median_f0(z, sr) / base_f0),
                f"energy above {high_hz / 1000:g} kHz (%)": 100 * _high_band_share(z, sr, high_hz),
                "signal-to-difference (dB)": 20 * np.log10(base_rms / residual)
                if same_length and residual > 0
                else np.nan,
            }
        )
    original = {
        "augmentation": "(original)",
        "duration ratio": 1.0,
        "level change (dB)": 0.0,
        "median F0 change (semitones)": 0.0,
        f"energy above {high_hz / 1000:g} kHz (%)": 100 * base_high,
        "signal-to-difference (dB)": np.nan,
    }
    return pd.DataFrame([original, *rows]).set_index("augmentation").round(2)
