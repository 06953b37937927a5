#!/usr/bin/env python
"""Time the whole study: every notebook with its default parameters, seconds per notebook.

    python benchmarks/study.py                      # synthetic default, cold cache, → a table and a total
    python benchmarks/study.py --dataset emodb --data-dir ../shared/data --notebooks 05,06
    python benchmarks/study.py --warm               # reuse the project's cache (features, pre-trained networks)

It runs ``run_all.py`` into a temporary reports folder (with a temporary, empty cache and, for the
synthetic corpora, a temporary data root they are generated into, unless ``--warm``: a fresh
machine's first run) and reads the durations ``run.json`` recorded. The last line is
``total_s=... notebooks=N failed=K``. A target, not a test: the README's table comes from here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--data-dir")
    parser.add_argument("--notebooks", help="e.g. 05,06 (default: all)")
    parser.add_argument("--quick", action="store_true", help="the quick parameters instead of the defaults")
    parser.add_argument(
        "--warm", action="store_true", help="use the project's cache (and data root) instead of empty ones"
    )
    parser.add_argument("--out", help="keep the reports here (default: a temporary folder, removed)")
    parser.add_argument("-p", dest="param", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ser-study-") as tmp:
        env = dict(os.environ)
        if not args.warm:
            env["SER_CACHE_DIR"] = str(Path(tmp) / "cache")
            if not args.data_dir:  # synthetic corpora are generated as on a fresh machine
                env["SER_DATA_DIR"] = str(Path(tmp) / "data")
        out = Path(args.out) if args.out else Path(tmp) / "reports"
        command = [sys.executable, str(REPO / "run_all.py"), "--dataset", args.dataset, "--out", str(out)]
        command += ["--data-dir", args.data_dir] if args.data_dir else []
        command += ["--notebooks", args.notebooks] if args.notebooks else []
        command += ["--quick"] if args.quick else []
        for item in args.param:
            command += ["-p", item]
        done = subprocess.run(command, env=env, cwd=REPO)
        run = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {"notebooks": []}
    rows = run["notebooks"]
    print(
        f"\n{args.dataset}, {'quick' if args.quick else 'default'} parameters, {'warm' if args.warm else 'cold'} cache, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"
    )
    print(f"{'notebook':<24}{'status':<8}{'seconds':>9}")
    for row in rows:
        print(f"{row['name']:<24}{row['status']:<8}{row['duration_s']:>9.1f}")
    total = sum(row["duration_s"] for row in rows)
    failed = sum(row["status"] != "ok" for row in rows)
    print(f"{'total':<32}{total:>9.1f}  ({total / 60:.1f} min)")
    print(f"total_s={total:.1f} notebooks={len(rows)} failed={failed}")
    return 0 if done.returncode == 0 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
