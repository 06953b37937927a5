"""Figures for the feature notebook: profiles per emotion, example images and sequences, 2-D projections."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .analysis import project
from .engine import FeatureTable


def _group_means(table: FeatureTable, prefix: str, by: str) -> pd.DataFrame:
    """Mean of the columns named ``prefix*`` per value of ``by`` (rows: groups, columns: features)."""
    columns = [i for i, n in enumerate(table.feature_names or []) if n.startswith(prefix)]
    values = pd.DataFrame(np.asarray(table.X)[:, columns], columns=[table.feature_names[i] for i in columns])
    return values.groupby(table.meta[by].to_numpy()).mean()


def plot_profiles(table: FeatureTable, by: str = "emotion"):
    """MFCC means per emotion (each coefficient standardised over clips) and mean mel-band energy (dB) per emotion.

    Needs a vector set holding ``mfcc_*`` and ``mel_*`` columns (e.g. kaggle162).
    """
    values = pd.DataFrame(np.asarray(table.X), columns=table.feature_names)
    mfcc_cols = [c for c in values if c.startswith("mfcc_")]
    z = (values[mfcc_cols] - values[mfcc_cols].mean()) / values[mfcc_cols].std(ddof=0).replace(0, 1)
    mfcc = z.groupby(table.meta[by].to_numpy()).mean()
    mel = 10 * np.log10(_group_means(table, "mel_", by) + 1e-10)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 1.1]})
    limit = float(np.abs(mfcc.to_numpy()).max()) or 1.0
    sns.heatmap(
        mfcc.set_axis([c.split("_")[1] for c in mfcc_cols], axis=1),
        cmap="coolwarm",
        center=0,
        vmin=-limit,
        vmax=limit,
        ax=left,
        cbar_kws={"label": "z-score"},
    )
    left.set(title=f"mean MFCC per {by} (each coefficient standardised)", xlabel="coefficient", ylabel="")
    palette = dict(zip(mel.index, sns.color_palette("tab10", len(mel))))
    for label in mel.index:
        right.plot(np.arange(mel.shape[1]), mel.loc[label], label=label, color=palette[label])
    right.set(title=f"mean mel-band energy per {by}", xlabel="mel band (low → high)", ylabel="dB")
    right.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def plot_examples(images: FeatureTable, sequences: FeatureTable, utt_ids: Sequence[str], by: str = "emotion"):
    """For each chosen clip: its log-mel image (left) and its MFCC sequence (right), one row per clip."""
    rows = [(i, j) for i, j in ((_index(images, u), _index(sequences, u)) for u in utt_ids) if i is not None]
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 1.9 * len(rows)), squeeze=False)
    for (image_ax, seq_ax), (i, j) in zip(axes, rows):
        label = images.meta.loc[i, by]
        image_ax.imshow(images.X[i], origin="lower", aspect="auto", cmap="magma")
        image_ax.set(title=f"log-mel image · {label}", xticks=[], ylabel="mel band")
        if j is not None:
            seq = np.asarray(sequences.X[j]).T
            seq = (seq - seq.mean(axis=1, keepdims=True)) / (seq.std(axis=1, keepdims=True) + 1e-9)
            seq_ax.imshow(seq, origin="lower", aspect="auto", cmap="coolwarm", vmin=-3, vmax=3)
            seq_ax.set(
                title=f"MFCC sequence · {label} (each coefficient standardised)", xticks=[], ylabel="coefficient"
            )
    axes[-1, 0].set_xlabel("time →")
    axes[-1, 1].set_xlabel("frames →")
    fig.tight_layout()
    return fig


def _index(table: FeatureTable, utt_id: str) -> int | None:
    """Row of ``table`` for a clip (its first row), or None when it was skipped."""
    hits = np.flatnonzero(table.meta["utt_id"].to_numpy() == utt_id)
    return int(hits[0]) if hits.size else None


def plot_projection(
    X: np.ndarray,
    meta: pd.DataFrame,
    method: str = "pca",
    columns: Sequence[str] = ("emotion", "speaker"),
    seed: int = 0,
):
    """The same 2-D projection coloured by each label side by side (default: emotion, then speaker)."""
    points = project(X, method, seed)
    fig, axes = plt.subplots(1, len(columns), figsize=(6.2 * len(columns), 5), squeeze=False)
    for ax, column in zip(axes[0], columns):
        labels = meta[column].astype(str).to_numpy()
        order = sorted(set(labels))
        palette = sns.color_palette("tab10" if len(order) <= 10 else "husl", len(order))
        sns.scatterplot(
            x=points[:, 0],
            y=points[:, 1],
            hue=labels,
            hue_order=order,
            palette=palette,
            s=18,
            linewidth=0,
            ax=ax,
            legend=len(order) <= 24,
        )
        ax.set(title=f"{method.upper()} coloured by {column}", xticks=[], yticks=[])
        if ax.get_legend():
            ax.legend(fontsize=7, markerscale=0.8, ncol=1 if len(order) <= 12 else 2, loc="best")
    fig.tight_layout()
    return fig
