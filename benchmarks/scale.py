#!/usr/bin/env python
"""How the heavy work scales: 1 local worker, 2 local workers, and a Dask LocalCluster of 2 worker processes.

    python benchmarks/scale.py [--dataset demo] [--size large] [--limit N] [--feature-set kaggle162]

On a synthetic corpus well above the default (``--size large``: 2,940 clips in the EMOVO layout,
generated in parallel the first time), for each way of running it times (a) feature extraction
from an empty cache (files per second) and (b) one LOSO grid of classical experiments (SVM and
logistic regression, raw and speaker-normalised, each with its nested search over ``--grid``). It checks that every
way gives the same features and the same per-fold scores, prints a table (Markdown, for the
README) and ends with one line ``files=N local1=... local2=... cluster2=...`` (files per second).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ser_utils import cluster  # noqa: E402
from ser_utils.baselines import Experiment, run_experiments  # noqa: E402
from ser_utils.datasets import load_dataset  # noqa: E402
from ser_utils.features import extract_features  # noqa: E402
from ser_utils.features.parallel import stop_workers  # noqa: E402

#: The grid each way runs: two models x raw / speaker-normalised, under leave-one-speaker-out.
GRID = [
    Experiment("features", model, "loso", speaker_norm=norm) for model in ("svm", "logreg") for norm in (False, True)
]


def run_one(way: str, manifest: pd.DataFrame, feature_set: str, folder: Path, grid: str) -> dict:
    """Time extraction (empty cache) and the LOSO grid one way; the features and per-fold scores for checking."""
    n_jobs = 1 if way == "local, 1 worker" else 2
    start = time.perf_counter()
    table = extract_features(manifest, feature_set, n_jobs=n_jobs, cache_root=folder, progress=False)
    extraction = time.perf_counter() - start
    start = time.perf_counter()
    results = run_experiments(GRID, {"features": table}, grid=grid, n_jobs=n_jobs, progress=False)
    grid = time.perf_counter() - start
    return {
        "way": way,
        "files": len(manifest),
        "extraction s": round(extraction, 1),
        "files/s": round(len(manifest) / extraction, 1),
        "LOSO grid s": round(grid, 1),
        "best UAR": round(max(r.per_fold["uar"].mean() for r in results.values()), 3),
        "_X": table.X,
        "_folds": [r.per_fold["uar"].to_numpy() for r in results.values()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="demo", help="dataset name (default: the synthetic demo)")
    parser.add_argument("--size", default="large", help="synthetic corpus size: small, default or large")
    parser.add_argument("--limit", type=int, help="use only the first N files")
    parser.add_argument("--feature-set", default="kaggle162")
    parser.add_argument("--grid", default="small", help="hyper-parameter grid of each nested search: small or default")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    manifest = load_dataset(args.dataset, synthetic_size=args.size).manifest
    print(
        f"corpus: {len(manifest)} files, {manifest['speaker'].nunique()} speakers ({time.perf_counter() - start:.0f} s)"
    )
    if args.limit:
        manifest = manifest.groupby("speaker", group_keys=False).head(
            max(1, args.limit // manifest["speaker"].nunique())
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="ser-scale-") as tmp:
        for way in ("local, 1 worker", "local, 2 workers", "Dask LocalCluster, 2 workers"):
            local_cluster = cluster.start_local(2) if way.startswith("Dask") else None
            if local_cluster is not None:
                os.environ[cluster.SCHEDULER_ENV] = local_cluster.scheduler_address
            try:
                rows.append(run_one(way, manifest, args.feature_set, Path(tmp) / way.replace(" ", "_"), args.grid))
            finally:
                cluster.close()
                os.environ.pop(cluster.SCHEDULER_ENV, None)
                if local_cluster is not None:
                    local_cluster.close()
                stop_workers()
            print(f"  {way}: {rows[-1]['files/s']} files/s, LOSO grid {rows[-1]['LOSO grid s']} s", flush=True)
    for row in rows[1:]:  # the same numbers, wherever they were computed
        assert np.array_equal(row["_X"], rows[0]["_X"]), f"{row['way']}: features differ"
        assert all(np.array_equal(a, b) for a, b in zip(row["_folds"], rows[0]["_folds"])), (
            f"{row['way']}: scores differ"
        )
    table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    print()
    print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
    for values in table.itertuples(index=False):
        print("| " + " | ".join(map(str, values)) + " |")
    print(
        f"\nfiles={len(manifest)} "
        + " ".join(f"{w}={r['files/s']}" for w, r in zip(("local1", "local2", "cluster2"), rows))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
