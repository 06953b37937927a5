"""Plots shared by the notebooks: corpus counts, durations, example clips, prosody by emotion."""

from __future__ import annotations

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .audio import load_audio


def draw_wave(ax, y: np.ndarray, sr: int, *, points: int = 2000, **style) -> None:
    """The waveform as its min/max envelope over ``points`` blocks: what librosa's ``waveshow`` shows,
    drawn once (``waveshow`` redraws the whole figure on every axis change: seconds per row of a big figure)."""
    block = max(1, len(y) // points)
    n = len(y) // block * block
    blocks = y[:n].reshape(-1, block) if n else np.zeros((1, 1), dtype=y.dtype)
    t = (np.arange(len(blocks)) + 0.5) * block / sr
    ax.fill_between(t, blocks.min(axis=1), blocks.max(axis=1), linewidth=0, **style)
    ax.set_xlim(0, len(y) / sr)


def plot_counts(
    manifest: pd.DataFrame, columns: tuple[str, ...] = ("emotion", "speaker", "gender", "sentence"), max_bars: int = 40
):
    """Bar charts of how many utterances each emotion, speaker, gender and sentence has.

    A column with more than ``max_bars`` values (CREMA-D's 91 speakers, TESS's 200 words) is shown
    as a histogram of clips per value instead.
    """
    columns = tuple(c for c in columns if c in manifest and manifest[c].notna().any())
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.6), squeeze=False)
    for ax, column in zip(axes[0], columns):
        counts = manifest[column].value_counts().sort_index()
        if len(counts) > max_bars:
            ax.hist(counts.to_numpy(), bins=20, color=sns.color_palette("deep")[0])
            ax.set(title=f"clips per {column} ({len(counts)} {column}s)", xlabel="clips", ylabel=f"{column}s")
            continue
        ax.bar(counts.index.astype(str), counts.to_numpy(), color=sns.color_palette("deep")[0])
        ax.set_title(f"utterances per {column}")
        ax.tick_params(axis="x", rotation=90 if len(counts) > 6 else 0)
    fig.tight_layout()
    return fig


def plot_durations(manifest: pd.DataFrame):
    """Distribution of clip durations, overall and per emotion."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    sns.histplot(manifest["duration"], bins=40, ax=left)
    left.set(title="clip duration", xlabel="seconds")
    order = sorted(manifest["emotion"].unique())
    sns.boxplot(data=manifest, x="emotion", y="duration", order=order, ax=right)
    right.set(title="duration by emotion", ylabel="seconds")
    fig.tight_layout()
    return fig


def plot_examples(examples: pd.DataFrame, sr: int = 16000, n_mels: int = 128):
    """For each example clip: its waveform and its log-mel spectrogram, one row per emotion."""
    fig, axes = plt.subplots(
        len(examples), 2, figsize=(13, 2.1 * len(examples)), squeeze=False, gridspec_kw={"width_ratios": [1, 1.25]}
    )
    for (wave_ax, spec_ax), row in zip(axes, examples.itertuples()):
        y, _ = load_audio(row.path, sr)
        draw_wave(wave_ax, y, sr, color="C0")
        wave_ax.set(title=f"{row.emotion} · {row.speaker} · {row.sentence}", xlabel="seconds", ylabel="")
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=n_mels), ref=np.max)
        librosa.display.specshow(mel, sr=sr, x_axis="time", y_axis="mel", ax=spec_ax, cmap="magma")
        spec_ax.set(title=f"log-mel spectrogram ({row.emotion})", xlabel="", ylabel="Hz")
    fig.tight_layout()
    return fig


def plot_prosody(table: pd.DataFrame, measures: dict[str, str] | None = None):
    """Box plots of prosodic measures per emotion, split by gender (pitch differs a lot between them)."""
    measures = measures or {
        "f0_median_hz": "median F0 (Hz)",
        "f0_range_st": "F0 range (semitones)",
        "loudness_db": "loudness (dB)",
        "f0_rel_st": "F0 vs speaker median (semitones)",
    }
    measures = {k: v for k, v in measures.items() if k in table}
    order = sorted(table["emotion"].unique())
    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 3.8), squeeze=False)
    for ax, (column, label) in zip(axes[0], measures.items()):
        sns.boxplot(data=table, x="emotion", y=column, hue="gender", order=order, ax=ax, fliersize=2)
        ax.set(title=label, ylabel="", xlabel="")
        ax.tick_params(axis="x", rotation=45)
        if ax is not axes[0][-1] and ax.get_legend():
            ax.get_legend().remove()
    fig.tight_layout()
    return fig
