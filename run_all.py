#!/usr/bin/env python
"""Run the ser-lab notebooks with Papermill and render them as shareable HTML reports.

    python run_all.py                          # every notebook on the synthetic corpus (dataset "demo")
    python run_all.py --dataset emovo          # the real EMOVO corpus, from data/EMOVO (or --data-dir)
    python run_all.py --quick --notebooks 00   # a fast smoke run of one notebook
    python run_all.py --list                   # datasets (and whether their data is here) and notebooks
    python run_all.py --workers 2              # the heavy work on a Dask cluster of 2 processes here
    python run_all.py --scheduler tcp://host:8786   # ... or on an existing Dask cluster

Parameters: each notebook's parameters cell holds its defaults; then params/<dataset>.yaml, params/quick.yaml
(with --quick), then --params FILE, then -p key=value (or -p NN_name.key=value for one notebook).
Reports go to reports/<dataset>/: one executed .ipynb and one .html per notebook, index.html,
results.csv and run.json. Exit code: 0 when every notebook ran, 1 when one failed (the others still
run and the failed one is rendered with its error), 2 for a usage error caught before anything ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent
NOTEBOOK_DIR = REPO / "notebooks"
PARAMS_DIR = REPO / "params"
NOTEBOOK_PATTERN = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")
#: Parameters set by this driver itself, not by YAML files or -p.
DRIVER_PARAMETERS = ("dataset", "data_dir", "reports_dir")


class UsageError(Exception):
    """A mistake in the command line, caught before any notebook runs."""


def discover_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) of ``folder`` (default: notebooks/), in order."""
    folder = folder or NOTEBOOK_DIR
    return sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))


def notebook_title(path: Path) -> str:
    """The first markdown heading of a notebook, for listings and the index page."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def select_notebooks(available: list[Path], spec: str | None) -> list[Path]:
    """Pick notebooks by number or name (``"00,03"`` or ``"00_eda"``); ``None`` means all."""
    if not spec:
        return available
    chosen: list[Path] = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        matches = [p for p in available if p.stem == item or p.name[:2] == item.zfill(2)]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise UsageError(f"--notebooks: no notebook '{item}'. Available: {names}")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n" + "\n".join(__doc__.split("\n\n")[1].splitlines()),
    )
    parser.add_argument(
        "--dataset",
        default="demo",
        help="dataset name: demo (synthetic, the default), emovo, ravdess, ravdess+savee, superset, ...",
    )
    parser.add_argument("--data-dir", help="data root holding EMOVO/, RAVDESS/, ... (default: $SER_DATA_DIR or ./data)")
    parser.add_argument("--notebooks", help="run only these, by number or name, e.g. 00,03")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (value read as YAML); NN_name.key=value for one notebook",
    )
    parser.add_argument(
        "--params",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML file of parameters, applied after params/ and before -p",
    )
    parser.add_argument("--out", help="folder for this run's reports (default: reports/<dataset>)")
    parser.add_argument(
        "--quick", action="store_true", help="small parameters (params/quick.yaml) for a fast smoke run"
    )
    parser.add_argument("--no-input", action="store_true", help="hide code cells in the HTML reports (for sharing)")
    parser.add_argument("--kernel", help="Jupyter kernel to execute with (default: the notebooks' own, python3)")
    parser.add_argument("--timeout", type=int, help="per-cell time limit in seconds (default: none)")
    parser.add_argument("--list", action="store_true", help="list datasets and notebooks, then exit")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="send feature extraction, classical grids and network folds to the Dask cluster at ADDRESS "
        "(default: $SER_DASK_SCHEDULER, else this machine's cores)",
    )
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="start a Dask cluster of N worker processes on this machine for the run",
    )
    return parser


def load_parameters(args: argparse.Namespace):
    """Layer the parameter files and overrides for this run (see the module docstring)."""
    from ser_utils.params import ParameterSet, load_yaml, parse_overrides

    params = ParameterSet()
    layers = [PARAMS_DIR / f"{args.dataset.lower()}.yaml"]
    if args.quick:
        layers.append(PARAMS_DIR / "quick.yaml")
    for path in layers:
        if path.is_file():
            params.update(load_yaml(path))
    for path in args.params:
        params.update(load_yaml(path))
    params.update(parse_overrides(args.param))
    reserved = [k for k in DRIVER_PARAMETERS if k in params.common]
    if reserved:
        raise UsageError(f"'{reserved[0]}' is set by run_all.py itself: use --{reserved[0].replace('_', '-')} instead")
    return params


def prepare_data(dataset: str, data_dir: str | None, common: dict[str, Any]):
    """Load (and for synthetic names, generate) the dataset once, so that a missing corpus fails early."""
    from ser_utils.datasets import load_dataset

    return load_dataset(
        dataset,
        data_dir,
        emotions=common.get("emotions"),
        merge=common.get("merge_labels"),
        seed=common.get("seed", 0),
        synthetic_size=common.get("synthetic_size", "default"),
        progress=True,
    )


def render_html(ipynb: Path, html_path: Path, no_input: bool) -> None:
    """Convert an executed notebook to a self-contained HTML page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", exclude_input=no_input, exclude_input_prompt=no_input, exclude_output_prompt=True
    )
    body, _ = exporter.from_filename(str(ipynb))
    html_path.write_text(body, encoding="utf-8")


def _short_error(exc: BaseException) -> str:
    """One line naming what went wrong in a notebook."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


def run_notebook(source: Path, out_dir: Path, parameters: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Execute one notebook with Papermill into ``out_dir`` and render it; a failure is recorded, not raised.

    Papermill runs in a child process of its own session: the kernel's chatter stays out of the terminal,
    and Ctrl-C reaches this process as a KeyboardInterrupt (papermill's own handler would swallow it),
    which stops the child and leaves the reports folder as it was.
    """
    from ser_utils.results import read_headlines

    output = out_dir / source.name
    html_path = output.with_suffix(".html")
    record: dict[str, Any] = {
        "name": source.stem,
        "title": notebook_title(source),
        "status": "ok",
        "parameters": parameters,
    }
    values = out_dir / f".{source.stem}.parameters.json"
    values.write_text(json.dumps(parameters, default=str), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(source),
        str(output),
        "-f",
        str(values),
        "--cwd",
        str(source.parent),
        "--no-progress-bar",
        "--log-level",
        "ERROR",
    ]
    command += ["-k", args.kernel] if args.kernel else []
    command += ["--report-mode"] if args.no_input else []
    command += ["--execution-timeout", str(args.timeout)] if args.timeout else []
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        log, _ = child.communicate()
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)  # papermill shuts its kernel down on SIGTERM
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
        raise
    if child.returncode != 0:
        record.update(status="failed", error=_notebook_error(output) or _last_line(log))
    record["duration_s"] = round(time.perf_counter() - start, 2)
    if output.is_file():
        try:
            render_html(output, html_path, args.no_input)
            record.update(ipynb=output.name, html=html_path.name)
        except Exception as exc:  # noqa: BLE001
            record.setdefault("error", f"HTML rendering failed: {_short_error(exc)}")
            record["status"] = "failed"
    record["headlines"] = read_headlines(out_dir, source.stem)
    return record


def _notebook_error(executed: Path) -> str | None:
    """``Name: message`` of the first error an executed notebook holds, if any."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
                return text.splitlines()[0][:300]
    return None


def _last_line(log: str) -> str:
    """The last meaningful line papermill printed (when the notebook itself holds no error)."""
    lines = [line.strip() for line in log.splitlines() if line.strip() and "without encryption" not in line]
    return lines[-1][:300] if lines else "papermill failed without a message"


@contextlib.contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (SIGINT) until the block has finished, then raise it."""
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def remove_dead_staging(folder: Path) -> None:
    """Remove what runs that were killed (SIGKILL, a crash) left in the staging folder; live runs keep theirs."""
    for run in folder.glob("*") if folder.is_dir() else []:
        try:
            os.kill(int(run.name.rsplit("-", 1)[1]), 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(run, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that cannot hold reports, or that holds the source notebooks (they would be
    overwritten by executed copies), before anything is read or run."""
    sources = {p.resolve() for p in discover_notebooks()}
    if any((out_dir / p.name).resolve() in sources for p in discover_notebooks()):
        raise UsageError(
            f"--out {out_dir} holds the source notebooks, which the reports would overwrite: "
            f"choose another folder (default: reports/<dataset>)"
        )
    for parent in [out_dir, *out_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out_dir}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UsageError(
                    f"--out {out_dir}: cannot write in {parent} (permission denied); choose another folder"
                )
            break


def check_kernel(name: str | None) -> None:
    """An unknown ``--kernel`` is a usage error, not nine failed notebooks."""
    if not name:
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise UsageError(f"--kernel {name!r}: no such Jupyter kernel (installed: {known})") from None


def check_labels(dataset: Any, name: str, data_dir: str | None, common: dict[str, Any]) -> None:
    """The emotions asked for must all be in the corpus, and at least two must remain."""
    present = sorted(dataset.manifest["emotion"].unique())
    wanted = common.get("emotions")
    if wanted:
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        missing = sorted(set(wanted) - set(present))
        if missing:
            from ser_utils.datasets import load_dataset

            everything = load_dataset(
                name,
                data_dir,
                merge=common.get("merge_labels"),
                seed=common.get("seed", 0),
                synthetic_size=common.get("synthetic_size", "default"),
                progress=False,
            )
            has = ", ".join(sorted(everything.manifest["emotion"].unique()))
            raise UsageError(f"emotions: {', '.join(missing)} not in {name} (after merge_labels); it has: {has}")
    if len(present) < 2:
        raise UsageError(
            f"{name} has only one emotion left ({', '.join(present)}): a classifier needs at least two; "
            f"widen -p emotions=[...]"
        )


def merged_run(out_dir: Path, run: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the notebooks of earlier runs into the same folder that this run did not replace, each
    with the run it came from; a notebook that failed now keeps its earlier results beside the failure."""
    previous: dict[str, Any] = {}
    try:
        previous = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    stamp = {k: run.get(k) for k in ("started", "command", "git_revision")}
    records = {nb["name"]: nb for nb in previous.get("notebooks", []) if (out_dir / f"{nb['name']}.ipynb").is_file()}
    for nb in run["notebooks"]:
        before = records.get(nb["name"])
        if nb["status"] != "ok" and before is not None and before.get("status") == "ok":
            records[nb["name"]] = {
                **before,
                "status": nb["status"],
                "error": nb.get("error"),
                "failed_html": nb.get("html"),
            }
        else:
            records[nb["name"]] = {**nb, "run": stamp}
    parameters = {**previous.get("notebook_parameters", {}), **run["notebook_parameters"]}
    return {**run, "notebooks": [records[k] for k in sorted(records)], "notebook_parameters": parameters}


def list_everything(data_dir: str | None) -> str:
    """Human-readable listing of datasets (with where their data is) and notebooks."""
    from ser_utils.corpora import CORPORA
    from ser_utils.datasets import dataset_names, is_synthetic, resolve_dataset
    from ser_utils.paths import data_root

    root = data_root(data_dir)
    lines = [f"Datasets (data root: {root})"]
    for name in dataset_names():
        parts = resolve_dataset(name)
        if all(is_synthetic(p) for p in parts):
            where = "synthetic, generated on demand"
        else:
            missing = [
                CORPORA[p].folder for p in parts if not is_synthetic(p) and not (root / CORPORA[p].folder).is_dir()
            ]
            where = "present" if not missing else "missing: " + ", ".join(f"{root / m}" for m in missing)
        lines.append(f"  {name:<16} {' + '.join(parts) if len(parts) > 1 else '':<34} {where}")
    lines.append("  any a+b combination of the above also works (e.g. ravdess+tess)")
    lines.append("\nNotebooks")
    lines.extend(f"  {p.stem:<24} {notebook_title(p)}" for p in discover_notebooks())
    lines.append('\nHow to get a real corpus: python -c "import ser_utils.corpora as c; print(c.describe())"')
    return "\n".join(lines)


def execute(args: argparse.Namespace) -> int:
    """Validate everything, run the notebooks, write the index; returns the exit code."""
    from ser_utils.datasets import resolve_dataset
    from ser_utils.params import declared_parameters, validate

    resolve_dataset(args.dataset)  # unknown names fail here, before any work
    notebooks = select_notebooks(discover_notebooks(), args.notebooks)
    if not notebooks:
        raise UsageError(f"no notebooks found in {NOTEBOOK_DIR}")
    params = load_parameters(args)
    declared = {p.stem: declared_parameters(p) for p in discover_notebooks()}
    validate(params, declared)

    out_dir = Path(args.out).resolve() if args.out else REPO / "reports" / args.dataset
    check_out_dir(out_dir)
    check_kernel(args.kernel)
    opened, compute = open_cluster(args)
    try:
        return run_study(args, notebooks, params, declared, out_dir, compute)
    finally:
        close_cluster(opened)


def open_cluster(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The Dask cluster the notebooks send their work to, checked now (unreachable: a usage error), and
    named to them through ``SER_DASK_SCHEDULER``; (what :func:`close_cluster` needs, its description)."""
    from ser_utils import cluster

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: at least 1 worker process, got {args.workers}")
    previous = os.environ.get(cluster.SCHEDULER_ENV)
    address = args.scheduler or (previous or "").strip()
    if not address and args.workers is None:
        return None, {"compute": "this machine", "cores": os.cpu_count()}
    local = None
    try:
        local = cluster.start_local(args.workers) if args.workers is not None else None
        client = cluster.connect(local.scheduler_address if local is not None else address)
    except (cluster.ClusterError, OSError, RuntimeError) as exc:
        close_cluster((local, previous))
        raise UsageError(str(exc)) from exc
    compute = cluster.describe(client)
    client.close()
    os.environ[cluster.SCHEDULER_ENV] = compute["scheduler"]
    print(
        f"Compute: Dask cluster at {compute['scheduler']} ({compute['workers']} workers, {compute['threads']} threads)"
    )
    return (local, previous), compute


def close_cluster(opened: Any) -> None:
    """Disconnect from the cluster, stop it if this run started it, and give SER_DASK_SCHEDULER back its value."""
    from ser_utils import cluster

    cluster.close()
    if opened is None:
        return
    local, previous = opened
    if previous is None:
        os.environ.pop(cluster.SCHEDULER_ENV, None)
    else:
        os.environ[cluster.SCHEDULER_ENV] = previous
    if local is not None:
        local.close()


def run_study(
    args: argparse.Namespace, notebooks: list[Path], params: Any, declared: dict, out_dir: Path, compute: dict
) -> int:
    """Prepare the data, run the notebooks into staging, publish each, write run.json and the index."""
    from ser_utils.progress import REPORT_ENV
    from ser_utils.reporting import render_index, render_overview
    from ser_utils.results import STAGING_DIR, folder_lock, keep_failure, publish, stage, write_atomic
    from ser_utils.runinfo import git_revision, machine, package_versions

    started = datetime.now(timezone.utc)
    try:
        dataset = prepare_data(args.dataset, args.data_dir, params.common)
    except ValueError as exc:  # labels: an unknown emotion, or none left after selecting
        raise UsageError(str(exc)) from exc
    check_labels(dataset, args.dataset, args.data_dir, params.common)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"Dataset {args.dataset}: {len(dataset.manifest)} files, {len(dataset.skipped)} skipped, "
        f"fingerprint {dataset.fingerprint()}"
    )
    print(f"Reports: {out_dir}")

    # Figures must reach the notebook even when the caller's environment picks a non-interactive backend.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ[REPORT_ENV] = "1"  # progress bars become one line per step in the reports, not walls of redraws
    records, interrupted = [], None
    run_id = f"{started:%Y%m%dT%H%M%S}-{os.getpid()}"
    remove_dead_staging(out_dir / STAGING_DIR)
    for i, source in enumerate(notebooks, 1):
        staging = stage(out_dir, source.stem, run_id)
        values = params.for_notebook(source.stem, declared[source.stem])
        driver_values = {
            "dataset": args.dataset,
            "data_dir": str(dataset_root(args.data_dir)),
            "reports_dir": str(staging),
        }
        values.update({k: v for k, v in driver_values.items() if k in declared[source.stem]})
        print(f"[{i}/{len(notebooks)}] {source.stem} ...", end=" ", flush=True)
        try:
            record = run_notebook(source, staging, values, args)
        except KeyboardInterrupt:
            shutil.rmtree(staging, ignore_errors=True)
            interrupted = source.stem
            print("interrupted")
            break
        try:
            with deferred_interrupt():  # a notebook's outputs move in whole, or not at all
                if record["status"] == "ok":
                    publish(staging, out_dir, source.stem)
                else:
                    record.update(keep_failure(staging, out_dir, source.stem))
        except KeyboardInterrupt:  # held until they had moved in: this notebook is done, the run stops here
            interrupted = f"{source.stem} (after it finished)"
        if "reports_dir" in record["parameters"]:
            record["parameters"]["reports_dir"] = str(out_dir)
        print(
            f"{record['status']} ({record['duration_s']:.1f} s)"
            + (f": {record['error']}" if "error" in record else ""),
            flush=True,
        )
        records.append(record)
        if interrupted:
            break
    shutil.rmtree(out_dir / STAGING_DIR / run_id, ignore_errors=True)
    with contextlib.suppress(OSError):  # empty once no run is in progress
        (out_dir / STAGING_DIR).rmdir()

    finished = datetime.now(timezone.utc)
    run = {
        "dataset": args.dataset,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "seed": params.common.get("seed", 0),
        "parameters": params.common,
        "parameter_sources": params.sources,
        "notebook_parameters": {r["name"]: r.pop("parameters") for r in records},
        "data": {
            "fingerprint": dataset.fingerprint(),
            "n_files": int(len(dataset.manifest)),
            "roots": {k: str(v) for k, v in dataset.roots.items()},
            "n_skipped": int(len(dataset.skipped)),
            "skipped": dataset.skipped.astype(str).to_dict("records"),
        },
        "versions": package_versions(),
        "git_revision": git_revision(),
        "machine": machine(),
        "compute": compute,
        "notebooks": records,
    }
    if interrupted:
        run["interrupted"] = interrupted
    with deferred_interrupt(), folder_lock(out_dir):
        run = merged_run(out_dir, run)
        write_atomic(out_dir / "run.json", json.dumps(run, indent=2, default=str))
        index = render_index(run, out_dir)
        if not args.out:  # reports/<dataset>: the page beside them compares every dataset run there
            render_overview(out_dir.parent)
    failed = [r["name"] for r in records if r["status"] != "ok"]
    if interrupted:
        done = ", ".join(r["name"] for r in records) or "none"
        print(
            f"\nInterrupted during {interrupted}: its earlier results (if any) are untouched; finished in this run: "
            f"{done}. Index: {index}",
            file=sys.stderr,
        )
        return 130
    print(f"\n{len(records) - len(failed)}/{len(records)} notebooks ran in {run['duration_s']:.0f} s. Index: {index}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the rendered notebooks for the error)", file=sys.stderr)
        return 1
    return 0


def dataset_root(data_dir: str | None) -> Path:
    """The resolved data root, passed to the notebooks so they read exactly what was checked here."""
    from ser_utils.paths import data_root

    return data_root(data_dir)


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn expected errors into one clear message and exit code 2."""
    sys.path.insert(0, str(REPO))
    from ser_utils.corpora import CorpusNotFoundError
    from ser_utils.datasets import UnknownDatasetError
    from ser_utils.params import ParameterError

    args = build_parser().parse_args(argv)
    # Ctrl-C stops a run cleanly (exit 130) even when this process was started with SIGINT ignored or
    # blocked by whatever launched it (a background job, a test harness, a library's worker thread)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    try:
        if args.list:
            print(list_everything(args.data_dir))
            return 0
        return execute(args)
    except (UsageError, UnknownDatasetError, ParameterError, CorpusNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: every report file is whole (each is written at once); nothing half-done was kept",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
