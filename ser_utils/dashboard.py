"""The index page's results figure: the whole study's numbers at a glance, from ``results.csv``.

Three panels: the best UAR of each notebook under each protocol against chance; the leakage gap
(notebook 03's leaky recipe vs an honest random split vs leave-one-speaker-out); classical vs
neural vs transfer under LOSO. Drawn on a bare matplotlib ``Figure`` (no pyplot state), so the
index can be written from any process.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .features import PRETRAINED
from .results import without_probes
from .rows import mean_std

#: Protocols in the order a reader meets them, from the most to the least flattering.
PROTOCOL_ORDER = ("leaky", "random", "speaker_kfold", "lopo", "loso", "cross_corpus")
PROTOCOL_COLORS = {
    "leaky": "#d62728",
    "random": "#ff7f0e",
    "speaker_kfold": "#9467bd",
    "lopo": "#8c564b",
    "loso": "#1f77b4",
    "cross_corpus": "#7f7f7f",
}


CLASSICAL = ("svm", "mlp", "logreg", "late_fusion")
#: Kinds of model, in the order the study meets them ("pretrained": classical models on the frozen
#: embeddings of a large pretrained speech model, shown apart from what trains on a CPU from scratch).
FAMILIES = ("classical", "pretrained", "neural", "target only", "transfer")
FAMILY_COLORS = dict(zip(FAMILIES, ("#2ca02c", "#bcbd22", "#1f77b4", "#aec7e8", "#17becf")))


def family(notebook: str, experiment: str, model: str = "", features: str = "") -> str:
    """Which kind of model a results row is: classical (scikit-learn models), pretrained (those on frozen
    embeddings of a pretrained speech model), neural (05-07), or, in 08, transfer (pooled training with
    other corpora, fine-tuned or zero-shot pre-trained networks) and target only."""
    number = str(notebook)[:2]
    if str(features) in PRETRAINED:
        return "pretrained"
    if str(model) in CLASSICAL or number in ("03", "04"):
        return "classical"
    if number == "08":
        return "transfer" if str(experiment).startswith(("transfer", "zero-shot")) else "target only"
    return "neural"


def _families(results: pd.DataFrame) -> list[str]:
    model = results["model"] if "model" in results else [""] * len(results)
    features = results["features"] if "features" in results else [""] * len(results)
    return [family(*row) for row in zip(results["notebook"], results["experiment"], model, features)]


def best_rows(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The row of highest UAR in each group of ``by`` (ties: the first recorded); probes (re-runs with one thing
    changed, as evidence: another seed, fewer source speakers) never count."""
    results = without_probes(results)
    if results.empty:
        return results
    order = results.sort_values("uar", ascending=False, kind="stable")
    return order.groupby(by, sort=False).head(1).sort_values(by).reset_index(drop=True)


def _chance(results: pd.DataFrame) -> float:
    chance = pd.to_numeric(results.get("chance"), errors="coerce").dropna()
    return float(chance.median()) if len(chance) else np.nan


def _bars(ax, best: pd.DataFrame, keys: list[str], colors: list[str], chance: float, title: str, empty: str) -> None:
    """One bar per key of ``best`` (rows indexed by key): UAR ± std against chance; ``empty`` when no key."""
    if not keys:
        ax.set_axis_off()
        ax.text(0.5, 0.5, empty, ha="center", va="center")
        return
    x = np.arange(len(keys))
    values = [float(best.loc[k, "uar"]) for k in keys]
    errors = np.nan_to_num([float(best.loc[k, "uar_std"]) for k in keys])
    ax.bar(x, values, yerr=errors, color=colors, capsize=3, edgecolor="white")
    for xi, v, e in zip(x, values, errors):
        ax.text(xi, v + e + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    if np.isfinite(chance):
        ax.axhline(chance, color="black", linestyle="--", linewidth=1, label=f"chance {chance:.2f}")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_xticks(x, keys, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def dashboard_figure(results: pd.DataFrame, dataset: str = "") -> Figure | None:
    """The three-panel figure for one dataset's ``results.csv`` rows; None when there are none."""
    if results.empty or "uar" not in results:
        return None
    results = results.assign(family=_families(results))
    chance = _chance(results)
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[2.2, 1, 1.2])

    best = best_rows(results, ["notebook", "protocol"])
    notebooks = list(dict.fromkeys(best["notebook"]))
    protocols = [p for p in PROTOCOL_ORDER if p in set(best["protocol"])]
    width = 0.8 / max(1, len(protocols))
    ax = axes[0]
    for k, protocol in enumerate(protocols):
        rows = best[best["protocol"] == protocol].set_index("notebook")
        x = [i + (k - (len(protocols) - 1) / 2) * width for i, nb in enumerate(notebooks) if nb in rows.index]
        v = [rows.loc[nb, "uar"] for nb in notebooks if nb in rows.index]
        ax.bar(x, v, width=width, color=PROTOCOL_COLORS.get(protocol, "#333"), label=protocol)
    if np.isfinite(chance):
        ax.axhline(chance, color="black", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(notebooks)), [nb.replace("_", " ", 1) for nb in notebooks], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("best UAR")
    ax.set_title("Best UAR per notebook and protocol (dashed: chance)", fontsize=10)
    ax.legend(fontsize=8, ncols=len(protocols), frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.grid(axis="y", alpha=0.3)

    leak = best_rows(results[results["notebook"].str.startswith("03")], ["protocol"]).set_index("protocol")
    shown = [p for p in ("leaky", "random", "loso") if p in leak.index]
    colors = [PROTOCOL_COLORS[p] for p in shown]
    _bars(axes[1], leak, shown, colors, chance, "The leakage gap (notebook 03)", "notebook 03 did not run")
    loso = best_rows(results[results["protocol"] == "loso"], ["family"]).set_index("family")
    kinds = [k for k in FAMILIES if k in loso.index]
    colors = [FAMILY_COLORS[k] for k in kinds]
    _bars(axes[2], loso, kinds, colors, chance, "Best under LOSO, by kind of model", "no LOSO result")
    if dataset:
        fig.suptitle(f"{dataset}: error bars are ± one standard deviation across folds", fontsize=9)
    return fig


def figure_html(fig: Figure, alt: str) -> str:
    """The figure as an inline PNG ``<img>`` (the index stays one self-contained file)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%">'


def best_table(results: pd.DataFrame) -> pd.DataFrame:
    """For each kind of model and protocol: the best experiment and its UAR (± std), for the index."""
    if results.empty:
        return pd.DataFrame()
    results = results.assign(family=_families(results))
    best = best_rows(results, ["family", "protocol"])
    rank = {p: i for i, p in enumerate(PROTOCOL_ORDER)}
    best = best.sort_values(
        ["family", "protocol"],
        key=lambda c: c.map({f: i for i, f in enumerate(FAMILIES)}) if c.name == "family" else c.map(rank),
    ).reset_index(drop=True)
    best["UAR"] = [mean_std(m, s) for m, s in zip(best["uar"], best["uar_std"])]
    return best[["family", "protocol", "UAR", "experiment", "notebook"]]


def loso_by_family(results: pd.DataFrame) -> pd.Series:
    """The best LOSO UAR (± std) of each kind of model, as text, for the page comparing datasets."""
    if results.empty:
        return pd.Series(dtype=object)
    loso = results[results["protocol"] == "loso"]
    loso = loso.assign(family=_families(loso))
    best = best_rows(loso, ["family"]).set_index("family")
    kinds = [k for k in FAMILIES if k in best.index]
    return pd.Series({k: mean_std(best.loc[k, "uar"], best.loc[k, "uar_std"]) for k in kinds}, dtype=object)
