"""The replication scorecard: each headline claim of the five reference studies against this run.

A :class:`Claim` is a number a study reported (its corpus, model and protocol); two :class:`Recipe`
entries say where this run holds our figure for it: the study's recipe under the study's own
protocol (leaky where it leaked), and the honest figure (leave-one-speaker-out, or speaker folds).
:func:`scorecard` reads them from the run's ``results.csv``; :func:`missing_recipes` lists the
study-protocol runs notebook 09 can make itself when no earlier notebook recorded them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .augment import augment_manifest
from .baselines import tuned_model
from .estimators import NetworkClassifier
from .evaluation import CVResult, cross_validate_many
from .features import PRETRAINED, extract_features
from .models import MODELS
from .results import without_probes
from .rows import mean_std

#: A reported figure and ours within this much of each other count as "reproduced".
TOLERANCE = 0.10


@dataclass(frozen=True)
class Recipe:
    """Where a figure lives in ``results.csv``: the notebook, protocol and model that recorded it (and, to
    tell rows apart, a feature set and a piece of the experiment name). ``augment``: the copies the study's
    own recipe made before splitting (when notebook 09 runs it)."""

    notebook: str
    protocol: str
    model: str | None = None
    features: str | None = None
    contains: str | None = None
    params: tuple[tuple[str, object], ...] = ()
    augment: tuple[str, ...] = ()

    def rows(self, results: pd.DataFrame, pretrained: bool = False) -> pd.DataFrame:
        """The rows of ``results`` this recipe names; without a feature set, those on CPU-trainable features
        (or, ``pretrained``, those on a pretrained model's embeddings: reported apart); never a probe."""
        results = without_probes(results)
        if results.empty:
            return results
        keep = (results["notebook"] == self.notebook) & (results["protocol"] == self.protocol)
        if self.model:
            keep &= results["model"].astype(str) == self.model
        if self.features:
            keep &= results["features"].astype(str) == self.features
        else:
            features = results["features"] if "features" in results else pd.Series("", index=results.index)
            keep &= features.astype(str).isin(PRETRAINED) == pretrained
        if self.contains:
            keep &= results["experiment"].astype(str).str.contains(self.contains, regex=False)
        return results[keep]

    def experiment(self) -> str:
        """The experiment name notebook 09 records a run of this recipe under."""
        aug = f" · after {'+'.join(self.augment)} copies" if self.augment else ""
        return f"{self.model} · {self.features} · {self.protocol}{aug} (study recipe)"


@dataclass(frozen=True)
class Claim:
    """One headline number of a reference study, and where this run holds our figures for it."""

    study: str
    claim: str
    reported: float
    corpus: str
    protocol: str
    theirs: Recipe | None
    honest: Recipe
    note: str = ""


_SVM_MFCC = dict(model="svm", features="mfcc_mean", contains="· raw")
_CRNN_GRU = (
    ("kernel", 5),
    ("conv_layers", 4),
    ("activations", ("relu", "elu", "tanh", "relu")),
    ("cell", "gru"),
)
_LEAKY_COPIES = ("noise", "pitch")

# fmt: off
#: Every headline claim of the five studies (``../shared/references``), as a fraction (accuracy).
CLAIMS: tuple[Claim, ...] = (
    Claim("000 DeepEmoNet", "MFCC means + SVM", 0.517, "RAVDESS + SAVEE", "random 90/5/5 split of clips",
          Recipe("04_svm_baseline", "random", **_SVM_MFCC), Recipe("04_svm_baseline", "loso", **_SVM_MFCC)),
    Claim("000 DeepEmoNet", "log-mel + BiLSTM", 0.528, "RAVDESS + SAVEE", "random 90/5/5 split of clips",
          None, Recipe("06_lstm", "loso", "bilstm")),
    Claim("000 DeepEmoNet", "log-mel + 2-D CNN from scratch", 0.458, "RAVDESS + SAVEE", "random 90/5/5 split of clips",
          None, Recipe("05_cnn", "loso", "cnn2d")),
    Claim("000 DeepEmoNet", "ResNet-34, ImageNet weights, augmentation (best)", 0.667, "RAVDESS + SAVEE",
          "random 90/5/5 split of clips", None, Recipe("05_cnn", "loso", "resnet"),
          "ours trains from scratch (no ImageNet download here); add resnet to 05's networks"),
    Claim("001 SER-FusionNet", "Conv1D deep features + statistics + gender", 0.46, "RAVDESS", "6 folds of actors",
          Recipe("07_crnn", "loso", "fusion"), Recipe("07_crnn", "loso", "fusion"),
          "their protocol is speaker-independent already; ours is LOSO"),
    Claim("002 CRNN", "CNN-1 on the 162-value vector", 0.628, "RAVDESS + SAVEE", "random split after augmentation",
          Recipe("09_replication", "leaky", "cnn1", "kaggle162", augment=_LEAKY_COPIES), Recipe("05_cnn", "loso", "cnn1")),
    Claim("002 CRNN", "CRNN, final variation (kernel 5, 4 conv, mixed activations, GRU)", 0.765, "RAVDESS + SAVEE",
          "random split after augmentation",
          Recipe("09_replication", "leaky", "crnn", "kaggle162", params=_CRNN_GRU, augment=_LEAKY_COPIES),
          Recipe("07_crnn", "loso", "crnn", contains="GRU")),
    Claim("002 CRNN", "the final CRNN on out-of-domain recordings", 0.25, "self-recorded clips", "another corpus",
          None, Recipe("08_transfer_learning", "cross_corpus"), "ours: trained on some corpora, tested on others"),
    Claim("003 EMOVO CNN", "Conv1D on 2 s windows, naive split", 0.54, "EMOVO", "random split of windows",
          Recipe("09_replication", "leaky", "conv1d5", "window160"),
          Recipe("08_transfer_learning", "loso", contains="target only · LOSO")),
    Claim("003 EMOVO CNN", "the same network, leave one speaker out", 0.20, "EMOVO", "LOSO",
          Recipe("08_transfer_learning", "loso", contains="target only · LOSO"),
          Recipe("08_transfer_learning", "loso", contains="target only · LOSO")),
    Claim("003 EMOVO CNN", "LOSO after transfer from RAVDESS + CREMA-D", 0.32, "EMOVO", "LOSO",
          Recipe("08_transfer_learning", "loso", contains="transfer (last block) · LOSO"),
          Recipe("08_transfer_learning", "loso", contains="transfer (last block) · LOSO")),
    Claim("003 EMOVO CNN", "leave one phrase out", 0.70, "EMOVO", "LOPO",
          Recipe("08_transfer_learning", "lopo", contains="target only · LOPO"),
          Recipe("08_transfer_learning", "loso", contains="target only · LOSO"),
          "LOPO keeps the test speakers in training; add lopo to 08's protocols"),
    Claim("004 LSTM", "LSTM 256-64-128 on MFCC sequences", 0.73, "RAVDESS", "random 80/20 split after augmentation",
          Recipe("09_replication", "leaky", "lstm", "mfcc_seq", augment=_LEAKY_COPIES), Recipe("06_lstm", "loso", "lstm")),
)
# fmt: on


def _best(recipe: Recipe | None, results: pd.DataFrame, pretrained: bool = False) -> pd.Series | None:
    rows = recipe.rows(results, pretrained) if recipe is not None else pd.DataFrame()
    if rows.empty:
        return None
    return rows.loc[rows["accuracy"].astype(float).idxmax()]


def _figure(row: pd.Series | None) -> str:
    if row is None:
        return "—"
    return f"{mean_std(float(row['accuracy']), float(row.get('accuracy_std', np.nan)))} ({row['protocol']})"


def verdict(claim: Claim, theirs: pd.Series | None, honest: pd.Series | None) -> str:
    """One line: whether their protocol gives back their number here, and whether it survives honest testing."""
    parts = []
    if theirs is not None:
        gap = float(theirs["accuracy"]) - claim.reported
        parts.append("reproduced under their protocol" if abs(gap) <= TOLERANCE else f"their protocol gives {gap:+.2f}")
    elif claim.theirs is not None:
        parts.append("their protocol not run here")
    if claim.theirs is not None and claim.theirs == claim.honest:
        parts.append("that protocol is speaker-independent already")
    elif honest is None:
        parts.append("no honest figure in this run")
    else:
        drop = float(honest["accuracy"]) - claim.reported
        survives = "does not survive" if drop < -TOLERANCE else "holds under"
        parts.append(f"{survives} speaker-independent testing ({drop:+.2f})")
    return "; ".join(parts)


def scorecard(results: pd.DataFrame, dataset: str = "", claims: Sequence[Claim] = CLAIMS) -> pd.DataFrame:
    """One row per claim: the study's number, ours under their protocol, our honest figure, the difference
    (honest − reported, accuracy) and a verdict. Figures come from ``results`` (a run's ``results.csv``).
    Rows on a pretrained model's embeddings never make the honest figure; when there are some, their best
    has a column of its own."""
    rows = []
    pretrained_rows = "features" in results and results["features"].astype(str).isin(PRETRAINED).any()
    for claim in claims:
        theirs, honest = _best(claim.theirs, results), _best(claim.honest, results)
        corpus_note = (
            f"on {dataset}, not {claim.corpus}" if dataset and claim.corpus.lower() not in dataset.lower() else ""
        )
        rows.append(
            {
                "study": claim.study,
                "claim": claim.claim,
                "their corpus · protocol": f"{claim.corpus} · {claim.protocol}",
                "reported": claim.reported,
                "ours, their protocol": _figure(theirs) if claim.theirs is not None else "(not a recipe we rerun)",
                "ours, honest": _figure(honest),
                **(
                    {"ours, honest, pretrained embeddings": _figure(_best(claim.honest, results, pretrained=True))}
                    if pretrained_rows
                    else {}
                ),
                "honest − reported": np.nan if honest is None else float(honest["accuracy"]) - claim.reported,
                "verdict": verdict(claim, theirs, honest),
                "notes": "; ".join(n for n in (corpus_note, claim.note) if n),
            }
        )
    return pd.DataFrame(rows)


def missing_recipes(results: pd.DataFrame, claims: Sequence[Claim] = CLAIMS) -> list[Recipe]:
    """The study-protocol recipes notebook 09 runs itself: its own, not recorded yet (each once)."""
    wanted = [c.theirs for c in claims if c.theirs is not None and c.theirs.notebook == "09_replication"]
    return [r for r in dict.fromkeys(wanted) if r.rows(results).empty]


def run_recipes(
    recipes: Sequence[Recipe],
    manifest: pd.DataFrame,
    *,
    audio,
    config,
    seed: int = 0,
    n_jobs: int = 1,
    max_folds: int | None = None,
) -> dict[Recipe, CVResult]:
    """Run study-protocol recipes on this corpus: the study's copies made before splitting (so the leak is
    theirs), features from the shared cache, networks trained as everywhere else; folds share the workers."""
    tables = {}
    for recipe in recipes:
        key = (recipe.features, recipe.augment)
        if key not in tables:
            rows = (
                augment_manifest(manifest, list(recipe.augment), copies=1, seed=seed, include_original=True)
                if recipe.augment
                else manifest
            )
            tables[key] = extract_features(rows, recipe.features, audio=audio, n_jobs=n_jobs)
    runs = {
        recipe: dict(
            estimator=NetworkClassifier(recipe.model, dict(recipe.params), config)
            if recipe.model in MODELS
            else tuned_model(recipe.model, seed=seed),
            tables=tables[(recipe.features, recipe.augment)],
            protocol=recipe.protocol,
            experiment=recipe.experiment(),
            seed=seed,
            max_folds=max_folds,
        )
        for recipe in recipes
    }
    return cross_validate_many(runs, n_jobs=n_jobs, desc="study recipes")
