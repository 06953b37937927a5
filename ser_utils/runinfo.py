"""Reproducibility facts recorded in every report: package versions, code revision, machine."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata

from .paths import repo_root

#: Distributions whose versions change numbers (or how they are computed).
TRACKED_PACKAGES = (
    "ser-lab",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "librosa",
    "soundfile",
    "soxr",
    "audiomentations",
    "tensorflow",
    "jax",
    "torch",
    "keras",
    "papermill",
    "nbconvert",
    "matplotlib",
    "seaborn",
    "opensmile",
    "dask",
    "distributed",
)


def package_versions(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each tracked distribution (missing ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_revision() -> str | None:
    """The checkout's commit (with ``+dirty`` when it has uncommitted changes), or ``None``."""
    root = repo_root()
    if root is None:
        return None
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def machine() -> dict[str, str | int | None]:
    """Where the numbers were computed."""
    import os

    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_executable": sys.executable,
    }
