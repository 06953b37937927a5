"""Where the heavy work runs: this machine's cores (the default), or the workers of a Dask cluster.

With ``SER_DASK_SCHEDULER`` set to a scheduler's address (``run_all.py --scheduler ADDRESS`` sets it
for the notebooks; ``--workers N`` starts a cluster on this machine and sets it), the three heavy
jobs of a study become tasks on the cluster's workers: feature extraction (one task per batch of
files, each written to the shared content-addressed cache), classical experiment grids (one task
per experiment, its nested search inside) and network folds (one task per fold). Nothing else
changes: every task is seeded on its own, so a cluster gives the numbers this machine gives.

The cluster is Dask's ``distributed``, not a scheduler of our own; this module only connects to it,
checks that its workers can run our code, and hands out a ``concurrent.futures`` executor on it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

#: Environment variable holding the address of the Dask scheduler to send work to (unset: this machine).
SCHEDULER_ENV = "SER_DASK_SCHEDULER"
#: The allocator setting Dask gives its workers, which slows feature extraction (see :func:`start_local`).
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"

_STATE: dict[str, Any] = {}


class ClusterError(RuntimeError):
    """The Dask cluster asked for cannot be used (unreachable, no workers, workers without ser_utils)."""


def worker_threads(workers: int, cores: int | None = None) -> dict[str, str]:
    """Thread settings for ``workers`` processes sharing ``cores`` (default: this machine's): the cores split
    between them. TensorFlow's default, every core in every process, oversubscribes them: a CRNN and a
    CNN-4 under LOSO (12 folds, two at a time on 2 cores) took 93-94 s that way, 79-81 s with one thread each."""
    threads = str(max(1, (cores or os.cpu_count() or 1) // max(1, workers)))
    settings = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": threads}
    if os.environ.get("KERAS_BACKEND") == "jax":  # XLA's CPU thread pool reads its own flags
        flags = os.environ.get("XLA_FLAGS", "")
        settings["XLA_FLAGS"] = (
            f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}".strip()
        )
    return settings


def _distributed():
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - a dependency of the project
        raise ClusterError(
            "running on a Dask cluster needs the distributed package: pip install 'dask[distributed]'"
        ) from err
    return distributed


def connect(address: str, timeout: float | str | None = None) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``, its workers checked (:func:`check_workers`).

    ``timeout``: how long to try to reach the scheduler (default: Dask's ``distributed.comm.timeouts.connect``,
    which ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT`` sets).
    """
    distributed = _distributed()
    try:
        options = {} if timeout is None else {"timeout": timeout}
        client = distributed.Client(address, set_as_default=False, **options)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterError(
            f"could not reach the Dask scheduler at {address!r} ({type(err).__name__}: {str(err)[:200]}). "
            "Is it running (`dask scheduler`, then `dask worker ADDRESS` on each machine)? For a cluster on "
            "this machine use --workers N; to run here, leave out --scheduler and unset "
            f"{SCHEDULER_ENV}."
        ) from err
    try:
        check_workers(client)
    except ClusterError:
        client.close()
        raise
    return client


def check_workers(client: Any, wait: float = 30.0) -> dict[str, str]:
    """Check that the cluster has workers and that each imports this version of ser_utils; {worker: version}.

    A worker without the package would fail every task with an unpickling error deep in a notebook; here
    the message names the workers and says what to install.
    """
    from . import __version__

    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError as err:
        raise ClusterError(
            f"the Dask scheduler at {client.scheduler.address} has no workers after {wait:.0f} s: "
            "start some (`dask worker ADDRESS`)"
        ) from err
    crowded = sorted(w for w, n in client.nthreads().items() if n > 1)
    if crowded:  # two folds at once in one process would share its compiled networks and random state
        warnings.warn(
            f"{len(crowded)} Dask worker(s) run several threads (e.g. {crowded[0]}): network folds there may not "
            "repeat exactly. Start workers with one thread each (`dask worker ADDRESS --nthreads 1 --nworkers N`).",
            RuntimeWarning,
            stacklevel=2,
        )
    # A builtin (eval) is pickled by name, so the probe itself never needs ser_utils on the worker.
    found = client.run(eval, "__import__('ser_utils').__version__", on_error="return")
    bad = {w: v for w, v in found.items() if v != __version__}
    if bad:
        details = "; ".join(
            f"{w}: {type(v).__name__}: {v}" if isinstance(v, BaseException) else f"{w}: version {v}"
            for w, v in sorted(bad.items())
        )
        raise ClusterError(
            f"{len(bad)} of {len(found)} Dask workers cannot run ser-lab {__version__} ({details}). Install the "
            "project in the workers' environment (`pip install -e <checkout>` there, or start the workers "
            "from this environment), and point SER_CACHE_DIR at a folder every worker and this machine share."
        )
    return {w: str(v) for w, v in found.items()}


def client() -> Any | None:
    """The client of ``$SER_DASK_SCHEDULER`` (connected on first use), or ``None`` to work on this machine.

    If the scheduler cannot be reached from here, the work runs on this machine with a warning: results
    do not depend on where they are computed (``run_all.py`` checks the address before any notebook runs).
    """
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        close()  # a client of an address no longer asked for is not kept
        return None
    if _STATE.get("address") != address:
        close()
        try:
            _STATE.update(address=address, client=connect(address))
        except ClusterError as err:
            warnings.warn(f"{err} Working on this machine instead.", RuntimeWarning, stacklevel=2)
            _STATE.update(address=address, client=None)
    return _STATE.get("client")


def executor() -> Any | None:
    """A ``concurrent.futures`` executor whose tasks run on the cluster's workers, or ``None`` without one."""
    active = client()
    if active is None:
        return None
    if _STATE.get("executor") is None:
        _STATE["executor"] = active.get_executor(pure=False)  # every call is a task: no deduplication by hash
    return _STATE["executor"]


def total_threads() -> int:
    """Tasks the cluster runs at once (its workers' threads summed); 0 without a cluster."""
    active = client()
    return int(sum(active.nthreads().values())) if active is not None else 0


def effective_workers(n_jobs: int) -> int:
    """How many tasks ``n_jobs`` means here: as joblib counts on this machine; on a cluster, ``-1`` (or any
    negative) is every thread of the cluster."""
    from joblib import effective_n_jobs

    threads = total_threads()
    if threads and n_jobs < 0:
        return max(1, threads + 1 + n_jobs)
    return effective_n_jobs(n_jobs)


def describe(active: Any | None = None) -> dict[str, Any]:
    """Where work is sent, for reports: the scheduler, workers and threads of ``active`` (default: this
    process's :func:`client`), or this machine."""
    active = active if active is not None else client()
    if active is None:
        return {"compute": "this machine", "cores": os.cpu_count()}
    threads = active.nthreads()
    return {
        "compute": "Dask cluster",
        "scheduler": active.scheduler.address,
        "workers": len(threads),
        "threads": int(sum(threads.values())),
    }


def start_local(n_workers: int, threads_per_worker: int = 1) -> Any:
    """A ``distributed.LocalCluster`` of ``n_workers`` worker processes on this machine (its ``.scheduler_address``
    is what ``SER_DASK_SCHEDULER`` takes), each with its share of the cores for TensorFlow and BLAS."""
    distributed = _distributed()
    import logging

    import dask

    # Set before each worker process starts (and restarts), as the local fold workers get them: TensorFlow
    # reads its thread counts once. (The Nanny's own env= argument is not passed on to the worker here.)
    # Dask's MALLOC_TRIM_THRESHOLD_=65536 hands every freed FFT buffer back to the system: feature
    # extraction ran at half speed (kaggle162, 588 clips on 2 workers: 99 files/s with it, 174 without).
    environ = {
        **{k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items() if k != MALLOC_TRIM},
        **worker_threads(n_workers),
    }
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=":0",  # a free port: two runs side by side do not clash
            silence_logs=logging.ERROR,
        )


def close() -> None:
    """Disconnect this process from the cluster (the cluster itself keeps running)."""
    client_ = _STATE.pop("client", None)
    _STATE.clear()
    if client_ is not None:
        client_.close()
