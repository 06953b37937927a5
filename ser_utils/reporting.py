"""The run's index page (with its results dashboard) and the reproducibility block of every notebook."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .cluster import describe
from .dashboard import best_table, dashboard_figure, figure_html, loso_by_family
from .results import read_results, without_probes, write_atomic
from .runinfo import git_revision, package_versions

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
     padding:0 1rem;color:#222;line-height:1.45}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0 1.4rem;font-size:.92rem;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17702a;font-weight:600} .failed{color:#b00020;font-weight:600} .skipped{color:#8a6d00}
code,pre{background:#f4f4f6;border-radius:3px;padding:.1rem .3rem;font-size:.85rem}
pre{padding:.6rem;overflow-x:auto} details{margin:.4rem 0 1rem}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _headline_cell(headlines: dict[str, Any]) -> str:
    return "<br>".join(
        f"{_esc(k)}: <b>{_esc(_format_value(v))}</b>" for k, v in headlines.items() if not str(k).startswith("_")
    )


def _notebook_rows(notebooks: list[dict[str, Any]], started: str | None = None) -> str:
    rows = []
    for i, nb in enumerate(notebooks, 1):
        status = nb["status"]
        link = f'<a href="{_esc(nb["html"])}">{_esc(nb["name"])}</a>' if nb.get("html") else _esc(nb["name"])
        extra = f' · <a href="{_esc(nb["ipynb"])}">ipynb</a>' if nb.get("ipynb") else ""
        notes = [f'<small class="failed">{_esc(nb["error"])}</small>'] if nb.get("error") else []
        if nb.get("failed_html"):
            notes.append(f'<small><a href="{_esc(nb["failed_html"])}">the failed run, rendered</a></small>')
        origin = (nb.get("run") or {}).get("started")
        if origin and started and origin != started:
            notes.append(f"<small>results from the run of {_esc(origin)}</small>")
        rows.append(
            f"<tr><td class=num>{i}</td><td>{link}{extra}<br><small>{_esc(nb.get('title', ''))}</small></td>"
            f"<td class={_esc(status)}>{_esc(status)}{''.join('<br>' + n for n in notes)}</td>"
            f"<td class=num>{nb.get('duration_s', 0):.1f} s</td>"
            f"<td>{_headline_cell(nb.get('headlines', {}))}</td></tr>"
        )
    return (
        "<table><tr><th>#</th><th>notebook</th><th>status</th><th>time</th><th>headline figures</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _results_table(results: pd.DataFrame) -> str:
    if results.empty:
        return "<p>No experiment recorded a result in this run.</p>"
    table = results.copy()
    for metric in ("accuracy", "uar", "macro_f1"):
        std = table[f"{metric}_std"]
        table[metric] = [f"{m:.3f}" + ("" if pd.isna(s) else f" ± {s:.3f}") for m, s in zip(table[metric], std)]
    columns = ["notebook", "experiment", "features", "model", "protocol", "n_folds", "accuracy", "uar", "macro_f1"]
    if len(without_probes(table)) < len(table):  # re-runs kept as evidence: marked
        columns.append("probe")
    return table[columns].to_html(index=False, border=0, escape=True)


def _skipped_section(skipped: list[dict[str, Any]]) -> str:
    if not skipped:
        return "<p>No input file was skipped.</p>"
    shown = pd.DataFrame(skipped[:500])
    more = f"<p>… and {len(skipped) - 500} more (see run.json).</p>" if len(skipped) > 500 else ""
    return (
        f"<p><b>{len(skipped)}</b> file(s) could not be used and were left out:</p>"
        + shown.to_html(index=False, border=0)
        + more
    )


def _dashboard(results: pd.DataFrame, dataset: str) -> str:
    fig = dashboard_figure(results, dataset)
    if fig is None:
        return ""
    best = best_table(results)
    return (
        "<h2>Results at a glance</h2>"
        + figure_html(fig, f"best UAR per notebook and protocol, leakage gap and model kinds on {dataset}")
        + "<p>The best experiment of each kind of model under each protocol (chosen on the test folds, so read "
        "it as an upper bound; each notebook says which configuration it fixed in advance):</p>"
        + best.to_html(index=False, border=0, escape=True)
    )


def render_index(run: dict[str, Any], reports_dir: str | Path) -> Path:
    """Write ``index.html`` for a run (the dict that is also saved as ``run.json``)."""
    reports_dir = Path(reports_dir)
    notebooks = run.get("notebooks", [])
    failed = [nb["name"] for nb in notebooks if nb["status"] == "failed"]
    verdict = (
        f"<span class=failed>{len(failed)} failed: {_esc(', '.join(failed))}</span>"
        if failed
        else "<span class=ok>all notebooks ran</span>"
    )
    data = run.get("data", {})
    facts = [
        ("dataset", run.get("dataset")),
        ("data fingerprint", data.get("fingerprint")),
        ("files", data.get("n_files")),
        ("seed", run.get("seed")),
        ("started", run.get("started")),
        ("duration", f"{run.get('duration_s', 0):.0f} s"),
        ("code revision", run.get("git_revision")),
        ("command", run.get("command")),
    ]
    results = read_results(reports_dir)
    facts_html = "".join(f"<tr><th>{_esc(k)}</th><td><code>{_esc(v)}</code></td></tr>" for k, v in facts)
    body = f"""<!DOCTYPE html><html lang=en><head><meta charset=utf-8>
<title>ser-lab · {_esc(run.get("dataset"))}</title><style>{_CSS}</style></head><body>
<h1>ser-lab report · {_esc(run.get("dataset"))}</h1>
<p class=sub>{verdict}</p>
<table>{facts_html}</table>
{_dashboard(results, str(run.get("dataset", "")))}
<h2>Notebooks</h2>{_notebook_rows(notebooks, run.get("started"))}
<h2>Results</h2>
<p>One row per experiment, metrics averaged over folds (± standard deviation across folds).
UAR is the unweighted average recall (balanced accuracy). Machine-readable: <a href="results.csv">results.csv</a>.</p>
{_results_table(results)}
<h2>Skipped input</h2>{_skipped_section(data.get("skipped", []))}
<h2>Reproducibility</h2>
<details><summary>Parameters given to each notebook</summary><pre>{_esc(json.dumps(run.get("notebook_parameters", {}), indent=2, default=str))}</pre></details>
<details><summary>Package versions</summary><pre>{_esc(json.dumps(run.get("versions", {}), indent=2))}</pre></details>
<p>Everything above is also in <a href="run.json">run.json</a>.</p>
</body></html>"""
    path = reports_dir / "index.html"
    write_atomic(path, body)
    return path


def render_overview(root: str | Path) -> Path | None:
    """Write ``root/index.html`` comparing every dataset run into ``root`` (one folder with a ``run.json``
    each): the best LOSO UAR of each kind of model, side by side, with links to each dataset's index."""
    root = Path(root)
    runs = {}
    for run_file in sorted(root.glob("*/run.json")):
        try:
            runs[run_file.parent.name] = json.loads(run_file.read_text())
        except (OSError, ValueError):
            continue  # a folder being written, or not ours
    if not runs:
        return None
    columns = {name: loso_by_family(read_results(root / name)) for name in runs}
    table = pd.DataFrame(columns)
    rows = "".join(
        f"<tr><td><a href='{_esc(name)}/index.html'>{_esc(name)}</a></td>"
        f"<td class=num>{_esc(run.get('data', {}).get('n_files', ''))}</td><td>{_esc(run.get('started', ''))}</td>"
        f"<td><code>{_esc(run.get('git_revision', ''))}</code></td></tr>"
        for name, run in runs.items()
    )
    body = f"""<!DOCTYPE html><html lang=en><head><meta charset=utf-8>
<title>ser-lab · all datasets</title><style>{_CSS}</style></head><body>
<h1>ser-lab reports · all datasets</h1>
<p class=sub>Best leave-one-speaker-out UAR of each kind of model, per dataset (± standard deviation across folds;
chance is one over the number of emotions). Each dataset's page has the full results.</p>
{table.to_html(border=0, escape=True, na_rep="—") if not table.empty else "<p>No LOSO result yet.</p>"}
<h2>Runs</h2><table><tr><th>dataset</th><th>files</th><th>started</th><th>code revision</th></tr>{rows}</table>
</body></html>"""
    path = root / "index.html"
    write_atomic(path, body)
    return path


class Folded:
    """A table shown folded in a report (an HTML ``<details>`` a reader opens), in full as text."""

    def __init__(self, summary: str, table: pd.DataFrame) -> None:
        self.summary, self.table = summary, table

    def _repr_html_(self) -> str:
        return f"<details><summary>{html.escape(self.summary)}</summary>\n{self.table.to_html()}\n</details>"

    def __repr__(self) -> str:
        return f"{self.summary}\n{self.table.to_string()}"


def reproducibility_table(parameters: dict[str, Any], fingerprint: str | None = None) -> Folded:
    """Parameters, data fingerprint, code and package versions, folded (``.table``: the rows as a DataFrame)."""
    rows: list[tuple[str, str]] = [(f"parameter: {k}", repr(v)) for k, v in parameters.items()]
    if fingerprint:
        rows.append(("data fingerprint", fingerprint))
    rows.append(("code revision", str(git_revision())))
    rows.extend((f"version: {k}", v) for k, v in package_versions().items())
    rows.append(("computed on", ", ".join(f"{k} {v}" if k != "compute" else str(v) for k, v in describe().items())))
    table = pd.DataFrame(rows, columns=["what", "value"]).set_index("what")
    return Folded(f"Parameters, data fingerprint, code and package versions ({len(table)} rows)", table)
