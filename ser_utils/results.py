"""What a notebook hands to the run report: result rows, headline figures and skipped files.

Every notebook opens a :class:`Report` for its reports folder. ``add_result`` appends one row per
experiment to ``results.csv`` (the machine-readable summary of a run), ``headline`` records a few
figures that the index page shows next to the notebook, and ``note_skipped`` lists inputs the
notebook had to leave out, so nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import repo_root

RESULTS_FILE = "results.csv"
HEADLINES_DIR = "headlines"

#: Columns of ``results.csv``, in order. Metrics are fold means; ``*_std`` their spread over folds.
RESULT_COLUMNS = [
    "notebook", "experiment", "dataset", "features", "model", "protocol", "n_folds",
    "accuracy", "accuracy_std", "uar", "uar_std", "macro_f1", "macro_f1_std",
    "chance", "seed", "notes",
]
_METRICS = ("accuracy", "uar", "macro_f1")


def default_reports_dir(dataset: str) -> Path:
    """``<repo>/reports/<dataset>`` (or ``./reports/<dataset>`` outside a checkout)."""
    root = repo_root() or Path.cwd()
    return root / "reports" / dataset


def read_results(reports_dir: str | Path) -> pd.DataFrame:
    """The results table of a reports folder (empty, with the right columns, when there is none)."""
    path = Path(reports_dir) / RESULTS_FILE
    if not path.is_file():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.read_csv(path)


def drop_results(reports_dir: str | Path, notebooks: list[str]) -> None:
    """Remove the rows of ``notebooks`` before they run again, keeping the others."""
    path = Path(reports_dir) / RESULTS_FILE
    if path.is_file():
        table = read_results(reports_dir)
        table[~table["notebook"].isin(notebooks)].to_csv(path, index=False)
    for nb in notebooks:
        (Path(reports_dir) / HEADLINES_DIR / f"{nb}.json").unlink(missing_ok=True)


def read_headlines(reports_dir: str | Path, notebook: str) -> dict[str, Any]:
    """Headline figures a notebook recorded (empty when none)."""
    path = Path(reports_dir) / HEADLINES_DIR / f"{notebook}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@dataclass
class Report:
    """The reporting handle of one notebook run."""

    reports_dir: Path
    notebook: str
    dataset: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        self.reports_dir = Path(self.reports_dir)
        self.reports_dir.mkdir(parents=True, exist_ok=True)

    def add_result(
        self,
        experiment: str,
        *,
        features: str,
        model: str,
        protocol: str,
        n_folds: int,
        accuracy: float,
        uar: float,
        macro_f1: float,
        accuracy_std: float = math.nan,
        uar_std: float = math.nan,
        macro_f1_std: float = math.nan,
        chance: float = math.nan,
        notes: str = "",
    ) -> dict[str, Any]:
        """Write one experiment's row to ``results.csv``; a rerun of the same experiment replaces it."""
        row = {
            "notebook": self.notebook, "experiment": experiment, "dataset": self.dataset,
            "features": features, "model": model, "protocol": protocol, "n_folds": int(n_folds),
            "accuracy": float(accuracy), "accuracy_std": float(accuracy_std),
            "uar": float(uar), "uar_std": float(uar_std),
            "macro_f1": float(macro_f1), "macro_f1_std": float(macro_f1_std),
            "chance": float(chance), "seed": self.seed, "notes": notes,
        }
        for metric in _METRICS:
            if not 0.0 <= row[metric] <= 1.0:
                raise ValueError(f"{metric} must be a fraction in [0, 1], got {row[metric]}")
        table = read_results(self.reports_dir)
        same = (table["notebook"] == self.notebook) & (table["experiment"] == experiment)
        table = pd.concat([table[~same], pd.DataFrame([row])], ignore_index=True)
        table[RESULT_COLUMNS].to_csv(self.reports_dir / RESULTS_FILE, index=False)
        return row

    def results(self) -> pd.DataFrame:
        """This notebook's rows of ``results.csv``."""
        table = read_results(self.reports_dir)
        return table[table["notebook"] == self.notebook].reset_index(drop=True)

    def headline(self, key: str, value: Any) -> None:
        """Record a headline figure (shown on the index page next to this notebook)."""
        folder = self.reports_dir / HEADLINES_DIR
        folder.mkdir(exist_ok=True)
        values = read_headlines(self.reports_dir, self.notebook)
        values[key] = value.item() if hasattr(value, "item") else value
        (folder / f"{self.notebook}.json").write_text(json.dumps(values, indent=1, default=str), encoding="utf-8")

    def note_skipped(self, skipped: pd.DataFrame) -> None:
        """Record how many inputs were skipped, and why (the table itself belongs in the notebook)."""
        self.headline("skipped files", int(len(skipped)))
        if len(skipped):
            self.headline("skip reasons", skipped["reason"].str.split(":").str[0].value_counts().to_dict())


def open_report(reports_dir: str | Path | None, notebook: str, *, dataset: str, seed: int | None = None) -> Report:
    """The notebook's :class:`Report`; ``reports_dir=None`` (interactive use) means ``reports/<dataset>``."""
    folder = Path(reports_dir) if reports_dir else default_reports_dir(dataset)
    return Report(folder, notebook, dataset=dataset, seed=seed)
