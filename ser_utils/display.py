"""Results as tables and figures for notebooks: nothing here computes a result.

    show_result(result)                      # headline, per-fold table, training curves, confusion
    results_table([r1, r2]); plot_confusion(y_true, y_pred, labels)

Computation (:mod:`ser_utils.evaluation`, :mod:`ser_utils.estimators`, :mod:`ser_utils.metrics`)
imports no plotting; this module is where matplotlib, seaborn and IPython display come in.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .baselines import configuration_grid
from .evaluation import CVResult
from .metrics import confusion
from .models import MODELS
from .results import without_probes
from .training import architecture_table, build_network


def plot_confusion(y_true: Sequence, y_pred: Sequence, labels: Sequence[str], title: str = ""):
    """Counts and row-normalised confusion matrices side by side (seaborn heatmaps)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    counts = confusion(y_true, y_pred, labels)
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0])
    axes[0].set_title(f"{title} counts".strip())
    sns.heatmap(
        confusion(y_true, y_pred, labels, normalize=True),
        annot=True,
        fmt=".2f",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=False,
        ax=axes[1],
    )
    axes[1].set_title(f"{title} recall per true class (rows sum to 1)".strip())
    for ax in axes:
        ax.tick_params(axis="x", rotation=45)
        ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def plot_result_confusion(result: CVResult, title: str | None = None):
    """Confusion matrices of a result's clip predictions, pooled over folds."""
    return plot_confusion(
        result.predictions["true"],
        result.predictions["pred"],
        result.labels,
        title=result.experiment if title is None else title,
    )


def plot_protocol_bars(
    table: pd.DataFrame,
    *,
    x: str = "protocol",
    hue: str | None = None,
    chance: float | None = None,
    title: str = "",
    ax=None,
):
    """UAR per protocol as bars (one colour per ``hue`` value), error bars = std over folds, chance as a line.

    ``table`` has a row per (``x``, ``hue``) with columns ``uar`` and ``uar_std`` (as :func:`results_table` gives).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(7.0, 1.5 * table[x].nunique() + 2), 4.2))
    categories = list(dict.fromkeys(table[x]))
    hues = [None] if hue is None else list(dict.fromkeys(table[hue]))
    width = 0.8 / len(hues)
    for k, level in enumerate(hues):
        part = table if level is None else table[table[hue] == level]
        part = part.set_index(x).reindex(categories)
        offsets = np.arange(len(categories)) - 0.4 + width * (k + 0.5)
        std = part["uar_std"].fillna(0).to_numpy() if "uar_std" in part else np.zeros(len(part))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bars = ax.bar(offsets, part["uar"], width, yerr=std, capsize=3, label=None if level is None else str(level))
        for bar, value, spread in zip(bars, part["uar"], std):
            if np.isfinite(value):
                ax.annotate(
                    f"{value:.2f}",
                    (bar.get_x() + bar.get_width() / 2, value + spread),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    if chance is not None:
        ax.axhline(chance, color="0.3", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xticks(np.arange(len(categories)), categories, rotation=15, ha="right")
    ax.set_ylabel("UAR (mean over folds ± std)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    if hue is not None or chance is not None:
        ax.legend(loc="upper right", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_configurations(summary: pd.DataFrame, *, chance: float | None = None, title: str = ""):
    """Heatmap of UAR per configuration (rows) and protocol × speaker normalisation (columns)."""
    import seaborn as sns

    grid = configuration_grid(summary)
    fig, ax = plt.subplots(figsize=(1.6 * grid.shape[1] + 4, 0.45 * grid.shape[0] + 1.8))
    sns.heatmap(
        grid,
        annot=True,
        fmt=".2f",
        cmap="viridis",
        vmin=chance if chance is not None else 0.0,
        vmax=1.0,
        cbar_kws={"label": "UAR" + (" (colour scale starts at chance)" if chance is not None else "")},
        ax=ax,
    )
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def plot_speaker_curve(curve: pd.DataFrame, *, chance: float | None = None, title: str = ""):
    """Mean ± std over folds against the number of source speakers pooled (a :func:`ser_utils.transfer.speaker_curve`
    table), equally spaced; the target alone (0 speakers) as a dotted line."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(curve))
    ax.errorbar(x, curve["mean"], yerr=curve["std"].fillna(0), marker="o", capsize=3, label="pooled")
    for xi, value in zip(x, curve["mean"]):
        ax.annotate(f"{value:.2f}", (xi, value), xytext=(6, 4), textcoords="offset points", fontsize=8)
    if 0 in curve.index:
        ax.axhline(curve.loc[0, "mean"], color="0.5", linestyle=":", linewidth=1, label="target alone")
    if chance is not None:
        ax.axhline(chance, color="0.3", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_xticks(x, [str(k) for k in curve.index])
    ax.set_xlabel("source speakers pooled")
    ax.set_ylabel("UAR (mean over folds ± std)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_histories(histories: Mapping[str, pd.DataFrame], title: str = "", max_folds: int = 12):
    """Loss and accuracy per epoch of one or more fits (a fold each, or e.g. ``{"source": TrainedModel.history}``):
    training solid, validation dashed; extra ensemble members and refit stages are left out."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    shown = [(name, h[h["member"] == 1] if "member" in h else h) for name, h in histories.items()][:max_folds]
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(1, len(shown))))
    for color, (name, h) in zip(colors, shown):
        if "stage" in h:  # the selection run (with validation), then later stages; not the refit
            h = h[h["stage"].fillna("select") != "refit"]
        epochs = np.arange(1, len(h) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, h[metric], color=color, lw=1.2, label=name)
            if f"val_{metric}" in h:
                ax.plot(epochs, h[f"val_{metric}"], color=color, lw=1.2, ls="--")
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].set_title("loss: training (solid), validation (dashed)")
    axes[1].set_title("accuracy")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def describe_architecture(
    network: str, tables: Sequence[Any], *, params: Mapping[str, Any] | None = None, n_classes: int | None = None
) -> pd.DataFrame:
    """The layers of ``network`` as built for these feature tables' shapes (one table per input)."""
    tables = list(tables) if isinstance(tables, (list, tuple)) else [tables]
    n_classes = n_classes or int(tables[0].meta["emotion"].nunique())
    return architecture_table(build_network(network, [np.asarray(t.X[:2]) for t in tables], n_classes, params))


def results_table(results: Sequence[CVResult], *, metric: str = "uar") -> pd.DataFrame:
    """One row per experiment: model, features, protocol, metric mean ± std, and, for networks, timing
    (``total s``: its folds' seconds, summed; folds run side by side, so the wall time is shorter)."""
    rows = []
    for r in results:
        s = r.summary()
        row = {
            "experiment": r.experiment,
            "model": r.model,
            "features": r.features,
            "protocol": r.protocol,
            "folds": len(r.per_fold),
            metric: s.loc[metric, "mean"],
            f"{metric} std": s.loc[metric, "std"],
            "accuracy": s.loc["accuracy", "mean"],
            "macro_f1": s.loc["macro_f1", "mean"],
        }
        if r.histories:
            row.update(
                {
                    "s/epoch": round(r.epoch_seconds, 3),
                    "epochs": round(float(r.per_fold["epochs"].mean()), 1),
                    "total s": round(r.info.get("seconds", np.nan), 1),
                    "parameters": r.info.get("parameters"),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("experiment")


def classical_reference(results: pd.DataFrame, *, protocol: str = "loso") -> pd.Series | None:
    """The best classical (non-neural) row of a run's ``results.csv`` under ``protocol``, or None.

    Neural rows are recognised by their model name (one of :data:`ser_utils.models.MODELS`).
    """
    if results is None or results.empty:
        return None
    results = without_probes(results)
    rows = results[(results["protocol"] == protocol) & ~results["model"].astype(str).isin(list(MODELS))]
    if rows.empty:
        return None
    return rows.loc[rows["uar"].astype(float).idxmax()]


def neural_rows(results: pd.DataFrame, *, protocol: str = "loso", notebooks: Sequence[str] = ("05", "06", "07")):
    """The rows of the networks of ``notebooks`` (by number) under ``protocol``, probes left out: what notebook 07
    sets beside the classical reference (08's networks train with other corpora, or from a pre-trained one)."""
    results = without_probes(results)
    number = results["notebook"].astype(str).str[:2]
    keep = number.isin(list(notebooks)) & results["model"].astype(str).isin(list(MODELS))
    return results[keep & (results["protocol"] == protocol)]


def show_result(result: CVResult, *, curves: bool = True, confusion: bool = True) -> None:
    """In a notebook: the headline, the per-fold table, the training curves and the confusion matrices."""
    from IPython.display import Markdown, display

    timing = f" · {result.epoch_seconds:.2f} s/epoch on {result.info.get('device', '?')}" if result.histories else ""
    display(
        Markdown(
            f"**{result.experiment}** — {result.headline()} (chance {result.chance.get('uar', float('nan')):.3f})"
            f"{timing}"
        )
    )
    display(result.per_fold.set_index("fold").round(3))
    if curves and result.histories:
        plot_histories(result.histories, result.experiment)
        plt.show()
    if confusion:
        plot_result_confusion(result)
        plt.show()


def plot_scorecard(card: pd.DataFrame) -> plt.Figure:
    """Each claim: the study's number (hollow), ours under their protocol (if run) and our honest figure."""

    def first_number(text: Any) -> float:
        try:
            return float(str(text).split()[0])
        except ValueError:
            return np.nan

    labels = [f"{s[:3]} · {c[:46]}" for s, c in zip(card["study"], card["claim"])]
    y = np.arange(len(card))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(card) + 1.2))
    ax.scatter(card["reported"], y, facecolors="none", edgecolors="black", s=60, label="reported by the study")
    ax.scatter(
        card["ours, their protocol"].map(first_number),
        y,
        color="#d62728",
        marker="x",
        s=50,
        label="ours, their protocol",
    )
    ax.scatter(card["ours, honest"].map(first_number), y, color="#1f77b4", s=40, label="ours, speaker-independent")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("The five studies' headline claims against this run")
    fig.tight_layout()
    return fig
