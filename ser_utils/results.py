"""What a notebook hands to the run report: result rows, headline figures and skipped files.

Every notebook opens a :class:`Report` for its reports folder. ``add_result`` appends one row per
experiment to ``results.csv`` (the machine-readable summary of a run), ``headline`` records a few
figures that the index page shows next to the notebook, and ``note_skipped`` lists inputs the
notebook had to leave out, so nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import repo_root

RESULTS_FILE = "results.csv"
HEADLINES_DIR = "headlines"

#: Columns of ``results.csv``, in order. Metrics are fold means; ``*_std`` their spread over folds. ``probe``: what a
#: row that re-runs another with one thing changed, as evidence, changed (e.g. "seed 1"); such a row is shown, never
#: taken as a best (empty for every other row).
RESULT_COLUMNS = [
    "notebook",
    "experiment",
    "dataset",
    "features",
    "model",
    "protocol",
    "n_folds",
    "accuracy",
    "accuracy_std",
    "uar",
    "uar_std",
    "macro_f1",
    "macro_f1_std",
    "chance",
    "seed",
    "probe",
    "notes",
]
_METRICS = ("accuracy", "uar", "macro_f1")


def default_reports_dir(dataset: str) -> Path:
    """``<repo>/reports/<dataset>`` (or ``./reports/<dataset>`` outside a checkout)."""
    root = repo_root() or Path.cwd()
    return root / "reports" / dataset


def without_probes(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of a results table that are no probe (see :data:`RESULT_COLUMNS`): those a best is chosen from."""
    if "probe" not in results:
        return results
    return results[results["probe"].isna() | (results["probe"].astype(str) == "")]


def read_results(reports_dir: str | Path) -> pd.DataFrame:
    """The results table of a reports folder (empty, with the right columns, when there is none)."""
    path = Path(reports_dir) / RESULTS_FILE
    if not path.is_file():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    table = pd.read_csv(path, dtype={"probe": str})
    if "probe" in table:  # "" for a row that is no probe, whatever else the file's rows hold
        table["probe"] = table["probe"].fillna("")
    return table


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder: the file is whole or unchanged."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_table(table: pd.DataFrame, path: Path) -> None:
    write_atomic(path, table.reindex(columns=RESULT_COLUMNS).to_csv(index=False))


#: Inside a reports folder: one private folder per run (``<run id>/<notebook>``), removed when the run ends.
STAGING_DIR = ".staging"


@contextlib.contextmanager
def folder_lock(reports_dir: str | Path):
    """Exclusive access to a reports folder while outputs move in (two runs into one folder take turns)."""
    path = Path(reports_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stage(reports_dir: str | Path, notebook: str, run_id: str) -> Path:
    """A private folder for one notebook of one run inside ``reports_dir``, holding a copy of the other
    notebooks' current results (so the notebook can read what they recorded): nothing in ``reports_dir`` changes
    until :func:`publish` moves the notebook's outputs in, so a failed, interrupted or killed run loses nothing."""
    staging = Path(reports_dir) / STAGING_DIR / run_id / notebook
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with folder_lock(reports_dir):
        table = read_results(reports_dir)
    if len(table):  # the other notebooks' rows; this notebook's own rows are what the run will write anew
        _write_table(table[table["notebook"] != notebook], staging / RESULTS_FILE)
    return staging


def publish(staging: str | Path, reports_dir: str | Path, notebook: str) -> None:
    """Move a finished notebook's outputs from ``staging`` into ``reports_dir``: its rows of results.csv
    replace its old rows, its headlines, saved models and rendered pages replace the old ones."""
    staging, reports_dir = Path(staging), Path(reports_dir)
    with folder_lock(reports_dir):
        _publish(staging, reports_dir, notebook)
    shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, reports_dir: Path, notebook: str) -> None:
    new = read_results(staging)
    old = read_results(reports_dir)
    _write_table(
        pd.concat([old[old["notebook"] != notebook], new[new["notebook"] == notebook]], ignore_index=True),
        reports_dir / RESULTS_FILE,
    )
    headline = staging / HEADLINES_DIR / f"{notebook}.json"
    target = reports_dir / HEADLINES_DIR / f"{notebook}.json"
    if headline.is_file():
        target.parent.mkdir(exist_ok=True)
        os.replace(headline, target)
    else:
        target.unlink(missing_ok=True)
    for item in sorted((staging / "models").glob("*")) if (staging / "models").is_dir() else []:
        (reports_dir / "models").mkdir(exist_ok=True)
        os.replace(item, reports_dir / "models" / item.name)
    for suffix in (".ipynb", ".html"):
        page = staging / f"{notebook}{suffix}"
        if page.is_file():
            os.replace(page, reports_dir / page.name)
        (reports_dir / f"{notebook}.failed{suffix}").unlink(missing_ok=True)


def keep_failure(staging: str | Path, reports_dir: str | Path, notebook: str) -> dict[str, str]:
    """Keep a failed run's rendered pages as ``<notebook>.failed.html`` / ``.ipynb`` beside the previous
    (successful) outputs, which stay as they were; returns the page names kept."""
    staging, reports_dir = Path(staging), Path(reports_dir)
    kept = {}
    for suffix, key in ((".ipynb", "ipynb"), (".html", "html")):
        page = staging / f"{notebook}{suffix}"
        if page.is_file():
            target = reports_dir / f"{notebook}.failed{suffix}"
            with folder_lock(reports_dir):
                os.replace(page, target)
            kept[key] = target.name
    shutil.rmtree(staging, ignore_errors=True)
    return kept


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

    def final_path(self, path: str | Path) -> Path:
        """Where ``path``, a file written under this report's folder, is for the reader: run_all.py runs a
        notebook in a private staging folder (:func:`stage`) and then moves its outputs (saved models, pages,
        results, headlines: :func:`publish`) into the reports folder."""
        path, folder = Path(path), self.reports_dir
        if folder.parent.parent.name == STAGING_DIR and path.is_relative_to(folder):
            return folder.parents[2] / path.relative_to(folder)
        return path

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
        seed: int | None = None,
        probe: str = "",
    ) -> dict[str, Any]:
        """Write one experiment's row to ``results.csv``; a rerun of the same experiment replaces it. ``seed``: when
        the row's own differs from the notebook's; ``probe``: see :data:`RESULT_COLUMNS`."""
        row = {
            "notebook": self.notebook,
            "experiment": experiment,
            "dataset": self.dataset,
            "features": features,
            "model": model,
            "protocol": protocol,
            "n_folds": int(n_folds),
            "accuracy": float(accuracy),
            "accuracy_std": float(accuracy_std),
            "uar": float(uar),
            "uar_std": float(uar_std),
            "macro_f1": float(macro_f1),
            "macro_f1_std": float(macro_f1_std),
            "chance": float(chance),
            "seed": self.seed if seed is None else int(seed),
            "probe": probe,
            "notes": notes,
        }
        for metric in _METRICS:
            if not 0.0 <= row[metric] <= 1.0:
                raise ValueError(f"{metric} must be a fraction in [0, 1], got {row[metric]}")
        table = read_results(self.reports_dir)
        same = (table["notebook"] == self.notebook) & (table["experiment"] == experiment)
        _write_table(pd.concat([table[~same], pd.DataFrame([row])], ignore_index=True), self.reports_dir / RESULTS_FILE)
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
        write_atomic(folder / f"{self.notebook}.json", json.dumps(values, indent=1, default=str))

    def note_skipped(self, skipped: pd.DataFrame) -> None:
        """Record how many inputs were skipped, and why (the table itself belongs in the notebook).

        Calls add up: a notebook that reads several corpora notes each one's skips; a file listed twice
        (by path) counts once.
        """
        earlier = read_headlines(self.reports_dir, self.notebook).get("_skipped", [])
        rows = pd.concat(
            [
                pd.DataFrame(earlier, columns=["path", "reason"]),
                skipped.reindex(columns=["path", "reason"]).astype(str),
            ],
            ignore_index=True,
        )
        rows = rows.drop_duplicates("path") if len(rows) else rows
        self.headline("_skipped", rows.to_dict("records"))
        self.headline("skipped files", int(len(rows)))
        if len(rows):
            self.headline("skip reasons", rows["reason"].str.split(":").str[0].value_counts().to_dict())


def open_report(reports_dir: str | Path | None, notebook: str, *, dataset: str, seed: int | None = None) -> Report:
    """The notebook's :class:`Report`; ``reports_dir=None`` (interactive use) means ``reports/<dataset>``."""
    folder = Path(reports_dir) if reports_dir else default_reports_dir(dataset)
    return Report(folder, notebook, dataset=dataset, seed=seed)
