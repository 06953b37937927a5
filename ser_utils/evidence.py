"""Evidence for why a model wins or loses, from its cross-validation results alone.

* :func:`per_speaker`: the UAR of each held-out speaker (a LOSO fold) for several models side by side:
  does one model lose on every voice, or on two?
* :func:`validation_gap`: what the validation speakers scored at the epoch they chose, against what the
  test speaker then scored. A network whose validation speakers promise far more than the test speaker
  gets is choosing its epochs on voices that do not resemble the next one: with few training speakers,
  early stopping itself is noisy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .evaluation import CVResult


def per_speaker(results: Mapping[str, CVResult], metric: str = "uar") -> pd.DataFrame:
    """``metric`` per fold (under LOSO: per test speaker), one column per result; the best column of each row
    is named in ``best``, and ``spread`` is its lead over the worst."""
    table = pd.DataFrame({name: r.per_fold.set_index("fold")[metric] for name, r in results.items()})
    table.index.name = "test speaker"
    if table.shape[1] > 1:
        table["best"] = table[list(results)].idxmax(axis=1)
        table["spread"] = table[list(results)].max(axis=1) - table[list(results)].min(axis=1)
    return table


def validation_gap(results: Mapping[str, CVResult]) -> pd.DataFrame:
    """Per network: mean accuracy of the validation data at the chosen epoch, of the test speakers, the gap
    between them, and in how many folds validation promised more (folds trained with validation only).

    Validation accuracy counts rows (a clip's windows each count), test accuracy counts clips; with fewer
    than three training speakers the validation data are held-out clips of the training voices.
    """
    rows = {}
    for name, result in results.items():
        folds = result.per_fold
        if "val_accuracy" not in folds:
            continue
        folds = folds.dropna(subset=["val_accuracy"])
        if folds.empty:
            continue
        gap = folds["val_accuracy"].astype(float) - folds["accuracy"].astype(float)
        rows[name] = {
            "validation accuracy": float(folds["val_accuracy"].mean()),
            "test accuracy": float(folds["accuracy"].mean()),
            "gap": float(gap.mean()),
            "folds where validation was higher": f"{int((gap > 0).sum())} of {len(gap)}",
            "correlation across folds": float(np.corrcoef(folds["val_accuracy"], folds["accuracy"])[0, 1])
            if len(folds) > 2 and folds["val_accuracy"].std() > 0 and folds["accuracy"].std() > 0
            else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
