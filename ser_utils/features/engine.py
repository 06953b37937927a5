"""The extraction engine: manifest rows → a :class:`FeatureTable`, in parallel, cached on disk.

Each (file content, augmentation, feature set, parameters, audio config, :data:`FEATURE_VERSION`)
gets one small ``.npy`` in ``cache_dir("features")/<set>-<config hash>/``. Workers (threads, or loky
processes for GIL-bound sets; see :mod:`.parallel`) take batches of files and write each result as
soon as it is computed, returning only a status, so memory stays bounded; the parent then loads the
files in row order. A second run finds every file and only loads them; a changed parameter gets a
new config folder and recomputes only that set. Bad files (corrupt, empty, silent, too short, odd
rate, or a feature function that fails) become rows of ``skipped`` with the reason — never a crash
and never a zero vector.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import cluster, paths
from ..audio import AudioConfig, AudioError, check_signal, condition, read_clip
from ..progress import progress_bar
from . import parallel
from .embeddings import WeightsNotFound
from .registry import FeatureSet, get_feature_set, must_isolate

#: Bump when a feature function changes its output: every cached file is then recomputed.
FEATURE_VERSION = 1
#: Where cache repairs are reported (a damaged entry is recomputed, never trusted).
LOG = logging.getLogger("ser_utils.features")
#: Above this many bytes, X is assembled in a memory-mapped file in the cache instead of in RAM.
MEMMAP_BYTES = 1 << 30
#: Threads per core with the threading backend: while one thread runs Python (holding the GIL), another
#: runs native code (FFT, BLAS, openSMILE), so more threads than cores keeps the cores busy.
THREADS_PER_CORE = 2
#: Manifest columns carried into ``meta`` when present (in this order).
META_COLUMNS = (
    "utt_id",
    "source_id",
    "path",
    "corpus",
    "speaker",
    "gender",
    "sentence",
    "emotion",
    "augmentation",
    "aug_seed",
)
SKIPPED_COLUMNS = ["utt_id", "source_id", "path", "augmentation", "reason"]


@dataclass
class FeatureTable:
    """Features of a set of rows: ``X`` aligned with ``meta``, plus what was skipped and how it was made.

    ``X`` is n × d (vectors; windows: one row per window), n × frames × coeffs (sequences) or n × H × W
    (images). ``meta`` has one row per row of ``X``: utt_id, source_id (the original file, shared by
    its windows and augmented copies: split on it), labels, augmentation and, for windowed sets, the
    window index and start. ``timing`` says how many items were computed or read from the cache.
    """

    X: np.ndarray
    meta: pd.DataFrame
    skipped: pd.DataFrame
    feature_names: list[str] | None
    feature_set: str
    kind: str
    params: dict[str, Any]
    audio: AudioConfig
    config_key: str
    timing: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def groups(self) -> np.ndarray:
        """The source id of every row: the groups to split on so no file leaks across folds."""
        return self.meta["source_id"].to_numpy()

    def labels(self, column: str = "emotion") -> np.ndarray:
        """One label per row of ``X``."""
        return self.meta[column].to_numpy()

    def take(self, rows: np.ndarray) -> FeatureTable:
        """The table restricted to ``rows`` (positions), meta re-indexed from 0; skipped rows kept."""
        rows = np.asarray(rows)
        return replace(self, X=np.asarray(self.X)[rows], meta=self.meta.iloc[rows].reset_index(drop=True))

    def frame(self) -> pd.DataFrame:
        """Vectors as a DataFrame (named feature columns, then meta), for inspection and export."""
        if self.X.ndim != 2:
            raise ValueError(f"{self.feature_set} is a {self.kind} set: X has shape {self.X.shape}")
        features = pd.DataFrame(np.asarray(self.X), columns=self.feature_names, index=self.meta.index)
        return pd.concat([features, self.meta], axis=1)


def config_key(feature_set: str, params: Mapping[str, Any], audio: AudioConfig) -> str:
    """Hash of everything but the file that decides the output (set, resolved params, audio config, version)."""
    text = json.dumps(
        {"version": FEATURE_VERSION, "set": feature_set, "params": dict(params), "audio": audio.key()},
        sort_keys=True,
        default=str,
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def item_key(file_hash: str, augmentation: str = "", aug_seed: int = 0) -> str:
    """Hash of what decides one item's input: the file content and the augmentation (name and seed)."""
    text = f"{file_hash}|{augmentation}|{int(aug_seed) if augmentation else 0}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


_HASHES: dict[tuple, str] = {}


def file_hash(path: str | os.PathLike) -> str | None:
    """Content hash of a file (as the corpus readers compute it), memoised by path, size, mtime, ctime and inode.

    None when the file cannot be read (the row is then skipped as unreadable).
    """
    try:
        stat = os.stat(path)
        memo = (os.fspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
        if memo not in _HASHES:
            _HASHES[memo] = hashlib.blake2b(Path(path).read_bytes(), digest_size=10).hexdigest()
        return _HASHES[memo]
    except OSError:
        return None


def _item_path(folder: Path, key: str) -> Path:
    return folder / key[:2] / f"{key}.npy"


def _readable(path: Path) -> bool:
    """Whether a cached item exists and can be read whole (header and data; memory-mapped, so cheap)."""
    try:
        np.load(path, mmap_mode="r")
        return True
    except FileNotFoundError:
        return False
    except (OSError, ValueError, EOFError):  # truncated, empty or not an .npy at all
        return False


def _save(path: Path, array: np.ndarray) -> None:
    """Write atomically (temporary file, then rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
    os.replace(tmp, path)


def _compute_one(
    fs: FeatureSet, params: dict[str, Any], audio: AudioConfig, path: str, augmentation: str, aug_seed: int
) -> np.ndarray:
    """Load → check → (trim) → augment → normalise/fix length → features, for one item."""
    return _finite(fs.function(_prepare(audio, path, augmentation, aug_seed), audio.sr, **params))


def _prepare(audio: AudioConfig, path: str, augmentation: str, aug_seed: int) -> np.ndarray:
    """One item's samples as every feature set receives them: loaded, checked, augmented, conditioned."""
    y = read_clip(path, audio)
    if augmentation:
        augment = importlib.import_module("ser_utils.augment")  # only needed (and imported) for copies
        y = np.asarray(augment.apply_augmentation(y, audio.sr, augmentation, int(aug_seed)), dtype=np.float32)
        check_signal(y, audio.sr, audio)
    return condition(y, audio)


def _finite(out: Any) -> np.ndarray:
    out = np.asarray(out, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise AudioError("feature extraction failed: non-finite values")
    return out


def _work(
    name: str,
    params: dict[str, Any],
    audio: AudioConfig,
    folder: str,
    items: list[tuple[str, str, str, int]],
    *,
    limit_threads: bool = True,
) -> list[tuple[str, str | None]]:
    """Worker task: compute a batch of items, write each to the cache, return only (key, skip reason).

    BLAS runs single-threaded (here in a worker process, or around the whole run in-process): a
    threaded matrix product sums in another order, and features must not depend on ``n_jobs``.
    """
    fs = get_feature_set(name)
    if must_isolate(fs, params):  # a cluster worker that has trained a network: this batch goes apart
        return parallel.in_fresh_process(_work, name, params, audio, folder, items)
    if fs.batch is not None:  # one call for the batch (a pretrained model's forward pass)
        return _work_batch(fs, params, audio, folder, items)
    if not limit_threads:
        return [_work_one(fs, params, audio, folder, *item) for item in items]
    with threadpool_limits(limits=1):
        return [_work_one(fs, params, audio, folder, *item) for item in items]


def _work_batch(
    fs: FeatureSet, params: dict[str, Any], audio: AudioConfig, folder: str, items: list[tuple[str, str, str, int]]
) -> list[tuple[str, str | None]]:
    """A batch through ``fs.batch``: items that cannot be read keep their reason, the others go in together."""
    status, ready, clips = {}, [], []
    for key, path, augmentation, aug_seed in items:
        try:
            clips.append(_prepare(audio, path, augmentation, aug_seed))
            ready.append(key)
        except AudioError as err:
            status[key] = err.reason
    try:
        outputs = fs.batch(clips, audio.sr, **params) if ready else []
    except (WeightsNotFound, ImportError):  # the set cannot run in this process at all: not a file's fault
        raise
    except Exception:  # noqa: BLE001 - one clip may break the batch: each on its own then, with its reason
        outputs = None
    for i, key in enumerate(ready):
        try:
            out = outputs[i] if outputs is not None else fs.batch([clips[i]], audio.sr, **params)[0]
            _save(_item_path(Path(folder), key), _finite(out))
            status[key] = None
        except AudioError as err:
            status[key] = err.reason
        except (WeightsNotFound, ImportError):
            raise
        except Exception as err:  # noqa: BLE001 - one odd file must not stop the run; the reason is kept
            status[key] = f"feature extraction failed: {type(err).__name__}: {str(err)[:160]}"
    return [(key, status[key]) for key, *_ in items]


def _work_one(
    fs: FeatureSet,
    params: dict[str, Any],
    audio: AudioConfig,
    folder: str,
    key: str,
    path: str,
    augmentation: str,
    aug_seed: int,
) -> tuple[str, str | None]:
    """Compute and cache one item; the skip reason (or None)."""
    try:
        _save(_item_path(Path(folder), key), _compute_one(fs, params, audio, path, augmentation, aug_seed))
        return key, None
    except AudioError as err:
        return key, err.reason
    except Exception as err:  # noqa: BLE001 - one odd file must not stop the run; the reason is kept
        return key, f"feature extraction failed: {type(err).__name__}: {str(err)[:160]}"


def _warm_worker(pause: float = 0.1) -> int:
    """Import and run the feature code once (lazy imports, numba caches), then pause so each worker gets one."""
    y = (0.1 * np.sin(np.arange(8000) * 0.07)).astype(np.float32)
    get_feature_set("kaggle162").function(y, 16000)
    time.sleep(pause)
    return os.getpid()


def start_workers(n_jobs: int = -1) -> float:
    """Start and warm the worker processes now (later calls reuse them); seconds it took (~0.1 when running)."""
    workers = cluster.effective_workers(n_jobs)
    if workers <= 1 or cluster.client() is not None:  # a cluster's workers are up already
        return 0.0
    start = time.perf_counter()
    pool = parallel.executor(workers)
    for future in [pool.submit(_warm_worker) for _ in range(workers)]:
        future.result()
    return time.perf_counter() - start


def _batches(items: list, n_workers: int, most: int = 64) -> list[list]:
    """Split into batches: about 8 per worker (load balancing), at most ``most`` items each (progress, memory)."""
    size = int(np.clip(np.ceil(len(items) / (8 * n_workers)), 1, most))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run(
    fs: FeatureSet,
    params: dict[str, Any],
    audio: AudioConfig,
    folder: Path,
    items: list,
    *,
    n_jobs: int,
    backend: str,
    progress: bool,
) -> dict[str, str | None]:
    """Compute the missing items on the chosen workers, with a progress bar; {key: skip reason or None}."""
    status: dict[str, str | None] = {}
    if not items:
        return status
    if backend == "auto":  # threads when the heavy lifting releases the GIL, else processes
        backend = "threading" if fs.threads(params) else "loky"
    isolated = must_isolate(fs, params)  # TensorFlow is loaded here: this set runs in worker processes only
    if isolated or cluster.client() is not None:  # worker processes: this machine's, or the cluster's
        backend = "loky"
    workers = cluster.effective_workers(n_jobs)
    if backend == "threading" and workers > 1:
        workers *= THREADS_PER_CORE
    workers = min(workers, len(items))
    in_process = not isolated and (workers <= 1 or backend == "threading")  # then BLAS threads are limited here, once
    bar = progress_bar(total=len(items), desc=f"{fs.name} features", unit="file", disable=not progress)

    def on_result(result: list[tuple[str, str | None]]) -> None:
        status.update(result)
        bar.update(len(result))

    work = partial(_work, fs.name, params, audio, str(folder), limit_threads=not in_process)
    with threadpool_limits(limits=1) if in_process else contextlib.nullcontext():
        parallel.run_batches(
            work,
            _batches(items, workers, most=8 if fs.batch is not None else 64),
            workers=workers,
            backend=backend,
            on_result=on_result,
            isolated=isolated,
        )
    bar.close()
    return status


def _prepare_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with the columns the engine relies on: utt_id, source_id, augmentation, aug_seed."""
    if "path" not in rows:
        raise ValueError("rows need a 'path' column (a manifest, or augment_manifest's output)")
    rows = rows.reset_index(drop=True).copy()
    if "utt_id" not in rows:
        rows["utt_id"] = [Path(p).stem for p in rows["path"]]
    rows["utt_id"] = rows["utt_id"].astype(str)
    source = rows["source_id"] if "source_id" in rows else pd.Series(pd.NA, index=rows.index)
    rows["source_id"] = source.where(source.notna() & (source.astype("string") != ""), rows["utt_id"]).astype(str)
    augmentation = rows["augmentation"] if "augmentation" in rows else pd.Series("", index=rows.index)
    rows["augmentation"] = augmentation.fillna("").astype(str)
    seeds = rows["aug_seed"] if "aug_seed" in rows else pd.Series(0, index=rows.index)
    rows["aug_seed"] = pd.to_numeric(seeds, errors="coerce").fillna(0).astype("int64")
    return rows


def _hashes(rows: pd.DataFrame) -> list[str | None]:
    """The content hash of each row's file: the manifest's ``file_hash``, else hashed here."""
    given = rows["file_hash"] if "file_hash" in rows else pd.Series(pd.NA, index=rows.index)
    return [str(h) if isinstance(h, str) and h else file_hash(p) for h, p in zip(given, rows["path"])]


def _stack(paths: list[Path], folder: Path, keys: list[str], use_disk: bool) -> np.ndarray:
    """Fill X (items × shape) one cached file at a time: in RAM, or for large outputs in a memory-mapped file.

    Peak memory is X itself (or nothing, memory-mapped): items are never all held in a list.
    """
    shape = np.load(paths[0], mmap_mode="r").shape
    full = (len(paths), *shape)
    target = folder / "assembled" / (hashlib.blake2b("\n".join(keys).encode(), digest_size=10).hexdigest() + ".npy")
    on_disk = use_disk and int(np.prod(full)) * 4 >= MEMMAP_BYTES
    if on_disk and target.is_file():
        existing = np.load(target, mmap_mode="r")
        if existing.shape == full:
            return existing
    if on_disk:
        target.parent.mkdir(exist_ok=True)
        X = np.lib.format.open_memmap(target, mode="w+", dtype=np.float32, shape=full)
    else:
        X = np.empty(full, dtype=np.float32)
    for i, path in enumerate(paths):
        item = np.load(path)
        if item.shape != shape:
            raise ValueError(
                f"cached item {path} has shape {item.shape}, expected {shape}: the cache folder "
                f"{folder} is inconsistent; delete it to recompute"
            )
        X[i] = item
    if on_disk:
        X.flush()
        return np.load(target, mmap_mode="r")
    return X


def extract_features(
    rows: pd.DataFrame,
    feature_set: str,
    *,
    params: dict | None = None,
    audio: AudioConfig | None = None,
    n_jobs: int = -1,
    cache: bool = True,
    progress: bool = True,
    cache_root: str | os.PathLike | None = None,
    backend: str = "auto",
) -> FeatureTable:
    """Compute ``feature_set`` for every row (manifest or augmented rows), in parallel, cached on disk.

    ``cache=False`` computes everything afresh (in a temporary folder removed afterwards);
    ``cache_root`` overrides ``paths.cache_dir("features")`` (e.g. a temporary folder to time a cold
    run). ``backend``: "threading" (``THREADS_PER_CORE`` threads per job; no start-up cost, good when
    the heavy parts release the GIL: FFT, BLAS, openSMILE), "loky" (worker processes, started once per
    session, best for GIL-bound work such as the librosa prosody fallback), or "auto" (the set's choice).
    Output order is the row order (windows in time order); skipped rows are absent from X and meta.
    """
    start = time.perf_counter()
    fs = get_feature_set(feature_set)
    resolved = fs.resolve(params)
    audio = audio or AudioConfig()
    rows = _prepare_rows(rows)
    presets = sorted(set(rows["augmentation"]) - {""})
    if presets:  # fail here, clearly (missing module, unknown preset), rather than once per row in the workers
        augment = importlib.import_module("ser_utils.augment")
        for preset in presets:
            if hasattr(augment, "get_preset"):
                augment.get_preset(preset)
    key_config = config_key(fs.name, resolved, audio)
    temporary = None
    if cache:
        root = Path(cache_root) if cache_root is not None else paths.cache_dir("features")
        folder = root / f"{fs.name}-{key_config}"
        folder.mkdir(parents=True, exist_ok=True)
        description = folder / "config.json"
        if not description.is_file():
            description.write_text(
                json.dumps(
                    {"feature_set": fs.name, "params": resolved, "audio": audio.key(), "version": FEATURE_VERSION},
                    indent=1,
                    default=str,
                )
            )
    else:
        folder = temporary = Path(tempfile.mkdtemp(prefix=f"ser-features-{fs.name}-"))
    try:
        hashes = _hashes(rows)
        keys = [item_key(h, a, s) if h else None for h, a, s in zip(hashes, rows["augmentation"], rows["aug_seed"])]
        todo: dict[str, tuple[str, str, str, int]] = {}
        damaged = []
        for key, row in zip(keys, rows[["path", "augmentation", "aug_seed"]].itertuples(index=False)):
            if key and key not in todo and not _readable(item := _item_path(folder, key)):
                todo[key] = (key, str(row.path), row.augmentation, int(row.aug_seed))
                if item.exists():
                    damaged.append(item)
        if damaged:  # never trusted: recomputed below, and said so
            for item in damaged:
                item.unlink(missing_ok=True)
            LOG.warning(
                "%s: %d damaged cache entr%s in %s (unreadable .npy, e.g. %s) recomputed",
                fs.name,
                len(damaged),
                "y" if len(damaged) == 1 else "ies",
                folder,
                damaged[0].name,
            )
        if todo:
            fs.check(resolved)  # e.g. missing model weights: one clear error before any file is tried
        status = _run(
            fs, resolved, audio, folder, list(todo.values()), n_jobs=n_jobs, backend=backend, progress=progress
        )
        unseen = [k for k, reason in status.items() if reason is None and not _item_path(folder, k).is_file()]
        if unseen:  # workers on other machines wrote where this one cannot read
            raise RuntimeError(
                f"{fs.name}: {len(unseen)} feature files the workers computed are not in {folder} on this machine. "
                f"On a cluster of several machines, point {paths.CACHE_ENV} at a folder they all share (cache on)."
            )
        return _collect(
            fs,
            resolved,
            audio,
            key_config,
            rows,
            keys,
            status,
            folder,
            use_disk=cache,
            timing={
                "computed": float(sum(r is None for r in status.values())),
                "repaired": float(len(damaged)),
                "from_cache": float(sum(1 for k in set(filter(None, keys)) if k not in status)),
                "seconds": 0.0,
                "start": start,
            },
        )
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _collect(
    fs: FeatureSet,
    params: dict[str, Any],
    audio: AudioConfig,
    key_config: str,
    rows: pd.DataFrame,
    keys: list[str | None],
    status: dict[str, str | None],
    folder: Path,
    *,
    use_disk: bool,
    timing: dict[str, float],
) -> FeatureTable:
    """Load the cached items in row order, build meta (one row per window for windowed sets) and skipped."""
    kept, skipped = [], []
    for i, key in enumerate(keys):
        reason = "corrupt or unreadable: file not found or not readable" if key is None else status.get(key)
        if reason is None:
            kept.append(i)
        else:
            skipped.append({**rows.loc[i, ["utt_id", "source_id", "path", "augmentation"]].to_dict(), "reason": reason})
    paths_kept = [_item_path(folder, keys[i]) for i in kept]
    meta = rows.loc[kept, [c for c in META_COLUMNS if c in rows]].reset_index(drop=True)
    names = fs.feature_names(params)
    if names is None and fs.kind == "vector" and kept:  # sized by the model (pretrained embeddings)
        names = [f"{fs.name}_{i}" for i in range(np.load(paths_kept[0], mmap_mode="r").shape[0])]
    counts = np.ones(len(kept), dtype=int)
    if not kept:
        X = np.zeros((0, len(names)) if names else (0,), dtype=np.float32)
    elif fs.kind == "windows":  # a few small arrays per clip: load and concatenate
        arrays = [np.load(p) for p in paths_kept]
        counts = np.array([a.shape[0] for a in arrays])
        X = np.concatenate(arrays).astype(np.float32, copy=False)
        meta = meta.loc[meta.index.repeat(counts)].reset_index(drop=True)
        meta["window"] = np.concatenate([np.arange(c) for c in counts])
        meta["window_start"] = meta["window"] * float(params.get("hop") or params["window"])
    else:
        X = _stack(paths_kept, folder, [keys[i] for i in kept], use_disk)
    if fs.row_features and kept:
        extra = fs.row_features[1](rows.loc[kept].reset_index(drop=True))
        X = np.hstack([np.asarray(X), np.repeat(extra, counts, axis=0)]).astype(np.float32)
    start = timing.pop("start")
    timing["seconds"] = round(time.perf_counter() - start, 4)
    return FeatureTable(
        X=X,
        meta=meta,
        skipped=pd.DataFrame(skipped, columns=SKIPPED_COLUMNS),
        feature_names=names,
        feature_set=fs.name,
        kind=fs.kind,
        params=params,
        audio=audio,
        config_key=key_config,
        timing=timing,
    )


def extract_available(
    rows: pd.DataFrame,
    feature_sets: Sequence[str],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    **kwargs: Any,
) -> tuple[dict[str, FeatureTable], dict[str, str]]:
    """Extract each set that can run here (:func:`extract_features`, ``kwargs`` passed on); for the others,
    whose model weights are missing, the reason and how to fetch them: ({set: table}, {set: reason})."""
    tables, missing = {}, {}
    for name in feature_sets:
        try:
            table = extract_features(rows, name, params=dict((params or {}).get(name) or {}), **kwargs)
        except WeightsNotFound as err:
            missing[name] = str(err)
            continue
        if len(table):
            tables[name] = table
        else:  # every file failed: the set did not run here
            first = table.skipped["reason"].iloc[0] if len(table.skipped) else "no rows"
            missing[name] = f"no file could be computed ({first})"
    return tables, missing
