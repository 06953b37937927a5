#!/usr/bin/env python
"""Time feature extraction: the plain per-file loop of the widely copied notebooks vs the cached engine.

    python benchmarks/features.py --dataset demo [--data-dir DIR] [--limit N] [--n-jobs -1] [--backend auto]

For ``kaggle162`` and ``prosody``, on the same files in the same run, it times (a) the plain
sequential loop (``librosa.load`` then one librosa call per feature; for prosody one openSMILE call
per file), (b) the engine cold (empty temporary cache) and (c) the engine warm (second run), checks
that the engine returns the same numbers as the plain loop, prints a table and ends with one line
``cold_speedup=X warm_speedup=Y files=N`` (total plain time / total engine time over both sets).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ser_utils.audio import AudioConfig  # noqa: E402
from ser_utils.datasets import load_dataset  # noqa: E402
from ser_utils.features import extract_features, get_feature_set  # noqa: E402
from ser_utils.features.parallel import stop_workers  # noqa: E402
from ser_utils.features.prosody import librosa_prosody  # noqa: E402

SETS = ("kaggle162", "prosody")


def plain_kaggle162(path: str, sr: int) -> np.ndarray:
    """The Kaggle notebooks' extract_features: one librosa call (and one STFT) per feature."""
    data, sample_rate = librosa.load(path, sr=sr)
    result = np.array([])
    zcr = np.mean(librosa.feature.zero_crossing_rate(y=data).T, axis=0)
    result = np.hstack((result, zcr))
    stft = np.abs(librosa.stft(data))
    chroma_stft = np.mean(librosa.feature.chroma_stft(S=stft, sr=sample_rate).T, axis=0)
    result = np.hstack((result, chroma_stft))
    mfcc = np.mean(librosa.feature.mfcc(y=data, sr=sample_rate).T, axis=0)
    result = np.hstack((result, mfcc))
    rms = np.mean(librosa.feature.rms(y=data).T, axis=0)
    result = np.hstack((result, rms))
    mel = np.mean(librosa.feature.melspectrogram(y=data, sr=sample_rate).T, axis=0)
    return np.hstack((result, mel))


def plain_prosody_factory(backend: str):
    """A per-file prosody function as a notebook would write it (one openSMILE extractor, one call per file)."""
    if backend == "opensmile":
        import opensmile

        smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
        )

        def run(path: str, sr: int) -> np.ndarray:
            data, sample_rate = librosa.load(path, sr=sr)
            return smile.process_signal(data, sample_rate).to_numpy().reshape(-1)

        return run

    def run_librosa(path: str, sr: int) -> np.ndarray:
        data, sample_rate = librosa.load(path, sr=sr)
        return librosa_prosody(data, sample_rate)

    return run_librosa


def _busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used so far (Linux /proc/stat), or None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _own_seconds() -> float:
    """CPU seconds used by this process (all its threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def plain_loop(paths: list[str], function, sr: int) -> tuple[float, np.ndarray]:
    """Seconds for the sequential loop, and its output."""
    start = time.perf_counter()
    out = np.array([function(p, sr) for p in paths], dtype=np.float64)
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N files (by utt_id)")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument(
        "--backend",
        default="auto",
        help="auto (threads for openSMILE, processes otherwise), loky (processes) or threading",
    )
    parser.add_argument("--synthetic-size", default="default")
    parser.add_argument("--sr", type=int, default=16000)
    args = parser.parse_args(argv)

    ds = load_dataset(args.dataset, args.data_dir, synthetic_size=args.synthetic_size, progress=False)
    rows = ds.manifest.sort_values("utt_id").reset_index(drop=True)
    if args.limit:
        rows = rows.iloc[: args.limit].reset_index(drop=True)
    paths = rows["path"].tolist()
    audio = AudioConfig(sr=args.sr)
    prosody_backend = get_feature_set("prosody").resolve()["backend"]
    print(
        f"{len(rows)} files of {args.dataset} ({rows['duration'].sum() / 60:.1f} min of audio), "
        f"{os.cpu_count()} CPUs, engine n_jobs={args.n_jobs} backend={args.backend}, prosody={prosody_backend}"
    )

    busy_start, own_start, wall_start = _busy_seconds(), _own_seconds(), time.perf_counter()
    plain = {"kaggle162": plain_kaggle162, "prosody": plain_prosody_factory(prosody_backend)}
    plain_kaggle162(paths[0], args.sr)  # import and warm librosa in this process, as a notebook would have
    plain["prosody"](paths[0], args.sr)
    results, outputs = [], {}
    for name in SETS:
        seconds, out = plain_loop(paths, plain[name], args.sr)
        outputs[name] = out
        results.append({"feature_set": name, "run": "plain loop", "seconds": seconds})
    with tempfile.TemporaryDirectory(prefix="ser-bench-cache-") as cache_root:
        tables = {}
        for run in ("engine cold", "engine warm"):
            for name in SETS:
                start = time.perf_counter()
                tables[name] = extract_features(
                    rows,
                    name,
                    audio=audio,
                    n_jobs=args.n_jobs,
                    cache_root=cache_root,
                    progress=False,
                    backend=args.backend,
                )
                results.append({"feature_set": name, "run": run, "seconds": time.perf_counter() - start})
    table = pd.DataFrame(results)
    table["ms_per_file"] = table["seconds"] / len(rows) * 1000
    plain_total = table.groupby("feature_set")["seconds"].transform(lambda s: s.iloc[0])
    table["speedup"] = plain_total / table["seconds"]
    pd.set_option("display.width", 120)
    print(table.round({"seconds": 3, "ms_per_file": 2, "speedup": 1}).to_string(index=False))
    for name in SETS:
        engine = tables[name]
        same = len(engine.skipped) == 0 and engine.X.shape == outputs[name].shape
        diff = np.max(np.abs(engine.X - outputs[name]) / (np.abs(outputs[name]) + 1e-3)) if same else float("nan")
        print(f"{name}: engine vs plain loop, max relative difference {diff:.2e} ({len(engine.skipped)} skipped)")
    busy_end = _busy_seconds()
    if busy_start is not None and busy_end is not None:
        stop_workers()  # worker processes (if any) count as ours once they have exited
        others = (busy_end - busy_start) - (_own_seconds() - own_start)
        print(
            f"other processes used {max(0.0, others) / (time.perf_counter() - wall_start):.2f} of "
            f"{os.cpu_count()} cores during the run (0 = a quiet machine; timings are wall-clock)"
        )
    totals = table.groupby("run")["seconds"].sum()
    cold = totals["plain loop"] / totals["engine cold"]
    warm = totals["plain loop"] / totals["engine warm"]
    print(f"cold_speedup={cold:.1f} warm_speedup={warm:.1f} files={len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
