"""Progress bars for long work: live in a terminal and in JupyterLab, one line per step in a report.

A live bar redraws itself many times a second; a notebook executed into a report (``run_all.py``
sets :data:`REPORT_ENV` for its kernels) would keep every redraw as a line of text. There each bar
is a :class:`StepLine` instead: it counts silently and prints one line when the step ends — what
ran, how many items, how long.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

with warnings.catch_warnings():  # tqdm.auto warns when ipywidgets is missing, then falls back to text bars
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

#: Set (to anything but "" or "0") in the environment of a kernel whose notebook becomes a report.
REPORT_ENV = "SER_REPORT"


def in_report() -> bool:
    """Whether this process executes a notebook into a report (see :data:`REPORT_ENV`)."""
    return os.environ.get(REPORT_ENV, "") not in ("", "0")


class StepLine:
    """A bar that draws nothing: it counts, and on closing prints ``desc: n units in s``."""

    def __init__(self, iterable: Iterable | None, total: int | None, desc: str, unit: str) -> None:
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = 0
        self.start = time.perf_counter()
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable or ():
                self.n += 1  # counted when handed out: a consumer that stops early (zip) has had it
                yield item
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        seconds = time.perf_counter() - self.start
        of = f" of {self.total}" if self.total is not None and self.total != self.n else ""
        last = self.total if of else self.n
        unit = self.unit if last == 1 or self.unit.endswith("s") else self.unit + "s"
        print(f"{self.desc}: {self.n}{of} {unit} in {seconds:.1f} s", file=sys.stdout, flush=True)

    def __enter__(self) -> StepLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    leave: bool = True,
) -> Any:
    """A progress bar over ``iterable`` (or updated by hand, given ``total``): tqdm's live bar (a widget in
    JupyterLab) interactively, a :class:`StepLine` in a report, nothing when ``disable``."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not disable and in_report():
        return StepLine(iterable, total, desc, unit)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=leave)
