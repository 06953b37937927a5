"""Running batches of work on several cores: threads, or loky worker processes for GIL-bound work.

Threads start instantly and share memory; they run in parallel wherever the work is native code
that releases the GIL (numpy FFT, BLAS, openSMILE). Worker processes scale any work but take a few
seconds to start (importing librosa, scipy, numba caches); they are reused for the rest of the
session, and while they start the parent computes batches itself, so a small job never waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from typing import Any

from joblib.executor import get_memmapping_executor

#: Seconds an idle worker process waits for more work before exiting (as joblib's default).
IDLE_TIMEOUT = 300
BACKENDS = ("loky", "threading")


_POOL = None  # the pool this module last handed out (so stop_workers shuts that one, not a new one)


def executor(workers: int):
    """The session's reusable loky process pool with ``workers`` processes (started on first use).

    Taken through joblib, so that ``joblib.Parallel`` elsewhere in the package shares the same pool:
    a bare loky executor lacks the bookkeeping joblib expects, and joblib then fails.
    """
    global _POOL
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
    runs in a worker process (at least one), none in this process.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if isolated:
        _run_processes(function, batches, max(1, workers), on_result, parent_helps=False)
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
