"""Writing whole synthetic corpora to disk, in parallel, reproducibly and safely.

Every file is synthesised from its own keys (seed, layout, speaker, sentence, emotion, intensity), so
the bytes do not depend on ``n_jobs`` or order. Each WAV carries a comment tag and is written under a
temporary name then renamed, and the ``synthetic.json`` marker is written last: an interrupted run
is detected (no marker) and cleaned up, and a folder holding files this module did not write (a real
corpus) is never deleted or overwritten. A lock file beside the corpus folder makes concurrent callers
(parallel notebooks) generate a corpus only once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import Parallel, delayed

from ..progress import progress_bar
from .layouts import CREMAD_DEMOGRAPHICS, Item, Layout, get_layout, write_cremad_demographics
from .voice import synthesize_utterance

try:  # POSIX advisory locks; elsewhere concurrent generation of one corpus is simply not guarded
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: Bump when the synthesiser changes its output: existing corpora are then regenerated.
GENERATOR_VERSION = 1
#: Marker file, written last, that records what a corpus folder holds.
MARKER = "synthetic.json"
#: Comment stored in every generated WAV, to tell our files from a real corpus's.
WAV_TAG = "ser-lab synthetic corpus"
_PART = ".part"
#: joblib backend: processes. On 2 cores they are as fast as threads (measured, ~9-10 s for EMOVO),
#: and they scale further since the synthesiser's per-frame filtering holds the GIL.
_BACKEND = "loky"


def corpus_items(layout: str, size: str = "default") -> list[Item]:
    """The files a corpus of ``layout`` and ``size`` consists of (paths relative to its folder)."""
    return get_layout(layout, size).items(size)


def _write_item(folder: Path, layout: str, item: Item, seed: int) -> str:
    """Synthesise one item and write it as tagged 16-bit PCM (temporary name, then rename)."""
    spec = get_layout(layout)
    y = synthesize_utterance(
        item.emotion,
        sentence=item.sentence,
        language=spec.language,
        speaker=item.speaker,
        sex=item.sex,
        intensity=item.intensity,
        sr=spec.sr,
        channels=item.channels,
        seed=seed,
        corpus=layout,
        take=item.take,
        silence=spec.silence,
    )
    pcm = np.round(y * 32767).astype(np.int16)
    path = folder / item.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + _PART)
    with sf.SoundFile(part, "w", spec.sr, item.channels, "PCM_16", format="WAV") as fh:
        fh.comment = WAV_TAG
        fh.write(pcm)
    os.replace(part, path)
    return item.relpath


def _is_ours(path: Path) -> bool:
    """True for a WAV that this module wrote (it carries WAV_TAG)."""
    try:
        with sf.SoundFile(path) as fh:
            return fh.comment == WAV_TAG
    except (sf.LibsndfileError, RuntimeError):
        return False


def _clear(folder: Path) -> None:
    """Delete a previous (possibly interrupted) generation; refuse if the folder holds foreign files."""
    if not folder.exists():
        return
    files = [p for p in folder.rglob("*") if p.is_file()]
    wavs = [p for p in files if p.suffix.lower() == ".wav"]
    parts = [p for p in files if p.name.endswith(_PART)]
    ours_wav = [p for p in wavs if _is_ours(p)]
    evidence = bool(ours_wav or parts or (folder / MARKER).is_file())
    extras = [p for p in files if p not in wavs and p not in parts and p.name not in (MARKER, CREMAD_DEMOGRAPHICS)]
    foreign = [p for p in wavs if p not in ours_wav] + extras
    if foreign or (files and not evidence):
        example = (foreign or files)[0]
        raise FileExistsError(
            f"{folder} holds files that ser_utils.synthetic did not write (e.g. {example}); "
            "refusing to overwrite what may be a real corpus: move it or pick another root"
        )
    for p in sorted(files, key=lambda p: p.name != MARKER):  # the marker first: never a stale "complete"
        p.unlink()
    for d in sorted((d for d in folder.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
        d.rmdir()


def _marker(layout: str, seed: int, size: str, n_files: int) -> dict:
    """The marker content describing a complete corpus."""
    return {
        "generator": "ser_utils.synthetic",
        "generator_version": GENERATOR_VERSION,
        "layout": layout,
        "seed": seed,
        "size": size,
        "n_files": n_files,
    }


@contextmanager
def _lock(root: Path, spec: Layout) -> Iterator[None]:
    """Hold an exclusive lock on root/.<FOLDER>.lock, so that concurrent callers generate only once."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{spec.folder}.lock", "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _is_complete(folder: Path, expected: dict) -> bool:
    """True when the folder's marker equals ``expected`` and all its WAV files are there."""
    try:
        found = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return found == expected and sum(1 for _ in folder.rglob("*.wav")) == expected["n_files"]


def _generate(spec: Layout, size: str, folder: Path, seed: int, n_jobs: int, progress: bool) -> None:
    """Clear the folder, write every file in parallel, then the demographics and (last) the marker."""
    items = spec.items(size)
    _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = (delayed(_write_item)(folder, spec.name, item, seed) for item in items)
    runner = Parallel(n_jobs=n_jobs, backend=_BACKEND, return_as="generator_unordered", batch_size=8)
    for _ in progress_bar(
        runner(jobs), total=len(items), desc=f"synthetic {spec.folder}", unit="file", disable=not progress
    ):
        pass
    if spec.name == "cremad":
        write_cremad_demographics(folder, size)
    (folder / MARKER).write_text(json.dumps(_marker(spec.name, seed, size, len(items)), indent=2) + "\n")


def generate_corpus(
    layout: str, out_dir: str | Path, *, seed: int = 0, size: str = "default", n_jobs: int = -1, progress: bool = True
) -> Path:
    """Write a synthetic corpus in the real layout of ``layout`` under out_dir/<FOLDER>; return that folder.

    FOLDER is "EMOVO", "RAVDESS" or "CREMA-D". A previous synthetic corpus there is replaced; a folder
    with other files raises FileExistsError. ``n_jobs`` worker processes (joblib; -1: all cores).
    """
    spec = get_layout(layout, size)
    root = Path(out_dir).expanduser().resolve()
    with _lock(root, spec):
        _generate(spec, size, root / spec.folder, seed, n_jobs, progress)
    return root / spec.folder


def ensure_corpus(
    layout: str, root: str | Path, *, seed: int = 0, size: str = "default", n_jobs: int = -1, progress: bool = True
) -> Path:
    """Return root/<FOLDER>, generating it unless its marker matches (version, layout, seed, size, count)."""
    spec = get_layout(layout, size)
    root = Path(root).expanduser().resolve()
    folder = root / spec.folder
    expected = _marker(layout, seed, size, len(spec.items(size)))
    if not _is_complete(folder, expected):
        with _lock(root, spec):
            if not _is_complete(folder, expected):  # another process may have finished meanwhile
                _generate(spec, size, folder, seed, n_jobs, progress)
    return folder
