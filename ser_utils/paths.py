"""Where things live: the repository, the data root and the on-disk cache."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the default data root (``<repo>/data``).
DATA_ENV = "SER_DATA_DIR"
#: Environment variable that overrides the default cache folder (``<repo>/cache``).
CACHE_ENV = "SER_CACHE_DIR"


def repo_root() -> Path | None:
    """The ser-lab checkout this package sits in, or ``None`` when installed elsewhere."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "run_all.py").is_file() else None


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding one sub-folder per corpus (``EMOVO/``, ``RAVDESS/``, ...).

    Precedence: the explicit ``data_dir`` argument, then ``$SER_DATA_DIR``, then ``<repo>/data``
    (or ``~/ser-lab-data`` when the package is not inside a checkout).
    """
    if data_dir:
        return Path(data_dir).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    root = repo_root()
    return (root / "data") if root else Path.home() / "ser-lab-data"


def cache_dir(sub: str | None = None) -> Path:
    """The on-disk cache (created on demand): ``$SER_CACHE_DIR``, else ``<repo>/cache``."""
    if os.environ.get(CACHE_ENV):
        base = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        root = repo_root()
        base = (root / "cache") if root else Path.home() / ".cache" / "ser-lab"
    path = base / sub if sub else base
    path.mkdir(parents=True, exist_ok=True)
    return path
