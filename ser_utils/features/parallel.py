"""Running batches of work on several cores: threads, or loky worker processes for GIL-bound work.

Threads start instantly and share memory; they run in parallel wherever the work is native code
that releases the GIL (numpy FFT, BLAS, openSMILE). Worker processes scale any work but take a few
seconds to start (importing librosa, scipy, numba caches); they are reused for the rest of the
session, and while they start the parent computes batches itself, so a small job never waits.
With a Dask cluster (:mod:`ser_utils.cluster`), the worker processes are the cluster's workers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from typing import Any

from joblib.executor import get_memmapping_executor

from .. import cluster

#: Seconds an idle worker process waits for more work before exiting (as joblib's default).
IDLE_TIMEOUT = 300
BACKENDS = ("loky", "threading")


_POOL = None  # the pool this module last handed out (so stop_workers shuts that one, not a new one)


def executor(workers: int, local: bool = False):
    """The session's reusable loky process pool with ``workers`` processes (started on first use), or the
    Dask cluster's executor when there is a cluster (:func:`ser_utils.cluster.executor`) and not ``local``.

    Taken through joblib, so that ``joblib.Parallel`` elsewhere in the package shares the same pool:
    a bare loky executor lacks the bookkeeping joblib expects, and joblib then fails.
    """
    global _POOL
    on_cluster = None if local else cluster.executor()
    if on_cluster is not None:
        return on_cluster
    _POOL = get_memmapping_executor(workers, timeout=IDLE_TIMEOUT)
    return _POOL


def stop_workers() -> None:
    """Shut the worker processes down (if this session started any); the next job starts them again."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=True)
        _POOL = None


def run_batches(
    function: Callable[[Any], Any],
    batches: Sequence[Any],
    *,
    workers: int,
    backend: str,
    on_result: Callable[[Any], None],
    isolated: bool = False,
) -> None:
    """Call ``function(batch)`` for every batch on ``workers`` workers; ``on_result`` gets each result as it ends.

    ``function`` must be picklable for ``"loky"`` (a module-level function or a partial of one).
    Results arrive in completion order: callers restore their own order. ``isolated``: every batch
    runs in a worker process (at least one), none in this process. On a Dask cluster, with more than one
    worker, every batch is a task on the cluster.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_cluster = cluster.executor() is not None  # then every batch is a task on the cluster, whatever the backend
    if isolated or (on_cluster and workers > 1):
        _run_processes(function, batches, max(1, workers), on_result, parent_helps=not (isolated or on_cluster))
    elif workers <= 1 or len(batches) <= 1:
        for batch in batches:
            on_result(function(batch))
    elif backend == "threading":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(function, batch) for batch in batches]):
                on_result(future.result())
    else:
        _run_processes(function, batches, workers, on_result)


def _run_processes(
    function: Callable[[Any], Any],
    batches: Sequence[Any],
    workers: int,
    on_result: Callable[[Any], None],
    parent_helps: bool = True,
) -> None:
    """Feed the process pool (two batches per worker in flight); the parent works until a worker answers
    (unless ``parent_helps`` is False)."""
    pool = executor(workers)
    queue = deque(batches)
    running: set = set()
    answered = not parent_helps

    def top_up() -> None:
        while queue and len(running) < 2 * workers:
            running.add(pool.submit(function, queue.popleft()))

    top_up()
    while running:
        done, _ = wait(running, timeout=0 if queue and not answered else None, return_when=FIRST_COMPLETED)
        if not done:  # workers still starting: take a batch from the end of the queue here
            on_result(function(queue.pop()))
            continue
        answered = True
        for future in done:
            running.remove(future)
            on_result(future.result())
        top_up()


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a new Python process of its own (pickled there and back through a temporary file).

    For work that must not share a process with what this one has loaded (openSMILE beside TensorFlow), where
    no worker pool can be started: a Dask worker is a daemon process, which multiprocessing forbids to
    have children, but a plain subprocess is allowed. Costs an interpreter start (about a second).
    """
    import pickle
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import cloudpickle

    with tempfile.TemporaryDirectory(prefix="ser-apart-") as folder:
        task, answer = Path(folder) / "task.pkl", Path(folder) / "answer.pkl"
        task.write_bytes(cloudpickle.dumps((function, args)))
        code = (
            "import pickle, sys\n"
            "function, args = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "open(sys.argv[2], 'wb').write(pickle.dumps(function(*args)))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(task), str(answer)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"the separate process for {getattr(function, '__name__', function)!r} failed: "
                f"{done.stderr.strip()[-600:]}"
            )
        return pickle.loads(answer.read_bytes())
