"""Reading a corpus folder into a manifest (one row per utterance) and a table of skipped files.

The folder is walked recursively, so official downloads work as unpacked, wrapper folders and all.
Each audio file is read once: its bytes are hashed (the hash later keys the feature cache) and
decoded from memory for duration, rate, channels and peak. What each file yielded is cached on disk,
keyed by (relative path, size, mtime_ns) and :data:`READER_VERSION`, so re-reading an unchanged
corpus decodes nothing and only changed files are read again.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed

from .. import paths
from ..progress import progress_bar
from .names import SkipFile, Utterance
from .registry import CorpusInfo, CorpusNotFoundError, corpus_info, not_found_message

#: Bump when what :func:`probe_audio` records changes: older cache files are then ignored.
READER_VERSION = 1
#: Extensions read as audio (libsndfile decides the real format from the bytes). MP3 is left out on
#: purpose: CREMA-D's AudioMP3/ folder duplicates AudioWAV/.
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg"})
MIN_DURATION = 0.2  # seconds; shorter files hold no utterance
SILENCE_PEAK = 1e-3  # -60 dBFS; a quieter peak means an empty recording
N_JOBS = min(16, os.cpu_count() or 1)

MANIFEST_DTYPES = {
    "utt_id": "str",
    "path": "str",
    "corpus": "str",
    "speaker": "str",
    "gender": "str",
    "sentence": "str",
    "emotion": "str",
    "emotion_code": "str",
    "intensity": "str",
    "language": "str",
    "duration": "float64",
    "sample_rate": "int64",
    "channels": "int64",
    "file_hash": "str",
}
SKIPPED_DTYPES = {"path": "str", "corpus": "str", "reason": "str"}


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Cast columns to ``dtypes``, keeping missing text missing (pandas 2's astype("str") makes None "None")."""
    for column, dtype in dtypes.items():
        cast = frame[column].astype(dtype)
        frame[column] = cast.where(frame[column].notna()) if dtype == "str" else cast
    return frame


def list_files(root: Path) -> dict[str, tuple[int, ...]]:
    """Visible files under ``root`` (hidden files/folders and macOS ``._`` forks left out) → their stat key.

    The key is (size, mtime_ns, ctime_ns, inode): restoring a changed file's size and modification time
    does not restore its ctime, so a changed file is probed (and hashed) again. A name that cannot be
    stat'ed (a broken or looping symbolic link) is listed with key ``(-1, 0, 0, 0)``: reading it fails
    later and it is skipped with that reason, not dropped without a word.
    """
    files = {}
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        prefix = os.path.relpath(folder, root).replace(os.sep, "/") + "/"
        for name in filenames:
            if name.startswith("."):
                continue
            try:
                stat = os.stat(os.path.join(folder, name))
                key = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            except OSError:  # vanished, or a broken or looping link
                key = (-1, 0, 0, 0)
            files[name if prefix == "./" else prefix + name] = key
    return files


def parse_names(
    info: CorpusInfo, files: dict[str, tuple[int, ...]]
) -> tuple[dict[str, Utterance], list[tuple[str, str]]]:
    """Split the listing into audio files whose names parse (→ Utterance) and skipped ones (→ reason)."""
    parsed, skipped = {}, []
    for rel in sorted(files):
        suffix = PurePosixPath(rel).suffix.lower()
        if suffix in info.listed_extensions:
            skipped.append((rel, info.listed_extensions[suffix]))
        elif suffix in AUDIO_EXTENSIONS:
            try:
                utterance = info.parser(PurePosixPath(rel))
            except SkipFile as reason:
                skipped.append((rel, str(reason)))
                continue
            if utterance is None:
                skipped.append((rel, f"file name does not match the {info.folder} pattern {info.pattern}"))
            else:
                parsed[rel] = utterance
    return parsed, skipped


def probe_audio(path: Path) -> dict:
    """Hash a file's bytes and decode them once from memory: the facts the manifest and skip rules need."""
    try:
        data = path.read_bytes()
    except OSError as err:
        link = " (a broken or looping symbolic link)" if path.is_symlink() else ""
        return {"error": f"cannot read the file{link}: {err.strerror or err}"}
    probe = {"file_hash": hashlib.blake2b(data, digest_size=10).hexdigest(), "error": None}
    if not data:
        return {**probe, "error": "empty file (0 bytes)"}
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - whatever a decoder raises on bad bytes, the file is unreadable
        return {**probe, "error": f"not readable as audio: {getattr(err, 'error_string', None) or err}"}
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not math.isfinite(peak):
        return {**probe, "error": "audio holds NaN or infinite samples"}
    return {**probe, "frames": audio.shape[0], "sample_rate": int(rate), "channels": audio.shape[1], "peak": peak}


def _cache_file(key: str, root: Path) -> Path:
    """Where the per-file probes of one corpus folder are cached."""
    digest = hashlib.blake2b(str(root).encode(), digest_size=8).hexdigest()
    return paths.cache_dir("manifests") / f"{key}-v{READER_VERSION}-{digest}.pkl"


def _load_cache(path: Path) -> dict[str, dict]:
    """The cached probes, or nothing when the cache is absent or unreadable."""
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
    except Exception:  # noqa: BLE001 - a damaged cache is only a cache miss
        return {}
    return cached if isinstance(cached, dict) else {}


def _save_cache(path: Path, probes: dict[str, dict]) -> None:
    """Write the probes atomically, so that a concurrent reader never sees half a file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(probes, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def probe_cached(
    key: str, root: Path, files: dict[str, tuple[int, ...]], *, progress: bool, desc: str
) -> dict[str, dict]:
    """Probe every file in ``files`` (rel → stat key, see :func:`list_files`), reusing cached probes of unchanged files."""
    cache_file = _cache_file(key, root)
    cached = _load_cache(cache_file)
    probes = {rel: cached[rel] for rel, stat in files.items() if cached.get(rel, {}).get("stat") == stat}
    stale = sorted(set(files) - set(probes))
    if stale:
        jobs = Parallel(n_jobs=N_JOBS, prefer="threads", return_as="generator")(
            delayed(probe_audio)(root / rel) for rel in stale
        )
        for rel, probe in zip(
            stale, progress_bar(jobs, total=len(stale), desc=desc, unit="file", disable=not progress)
        ):
            probes[rel] = {**probe, "stat": files[rel]}
    if stale or len(cached) != len(probes):  # files changed, appeared or went away
        # A failed read (no hash) may be transient (permissions, a file being copied): not cached.
        _save_cache(cache_file, {rel: probe for rel, probe in probes.items() if "file_hash" in probe})
    return probes


def audio_problem(probe: dict) -> str | None:
    """Why a probed file cannot be used (unreadable, empty, too short, silent), or None when it is fine."""
    if probe["error"]:
        return probe["error"]
    if probe["frames"] == 0:
        return "no audio frames (header only)"
    duration = probe["frames"] / probe["sample_rate"]
    if duration < MIN_DURATION:
        return f"too short: {duration:.3f} s (minimum {MIN_DURATION} s)"
    if probe["peak"] == 0:
        return "silent: every sample is zero"
    if probe["peak"] < SILENCE_PEAK:
        return (
            f"silent: peak {20 * math.log10(probe['peak']):.0f} dBFS "
            f"(threshold {20 * math.log10(SILENCE_PEAK):.0f} dBFS)"
        )
    return None


def _manifest_row(info: CorpusInfo, label: str, root: Path, rel: str, utt: Utterance, gender: str, probe: dict) -> dict:
    """One manifest row: ids prefixed with the corpus label so they stay unique across corpora."""
    return {
        "utt_id": f"{label}/{PurePosixPath(rel).with_suffix('').as_posix()}",
        "path": str(root / rel),
        "corpus": label,
        "speaker": f"{label}_{utt.speaker}",
        "gender": gender,
        "sentence": f"{label}_{utt.sentence}",
        "emotion": utt.emotion,
        "emotion_code": utt.emotion_code,
        "intensity": utt.intensity,
        "language": info.language,
        "duration": probe["frames"] / probe["sample_rate"],
        "sample_rate": probe["sample_rate"],
        "channels": probe["channels"],
        "file_hash": probe["file_hash"],
    }


def read_corpus(
    key: str, root: str | os.PathLike, *, label: str | None = None, progress: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the corpus ``key`` from its folder ``root`` → (manifest, skipped).

    ``label`` (default: ``key``) fills the ``corpus`` column and prefixes ids (utt_id, speaker,
    sentence), e.g. "demo" for a synthetic corpus in EMOVO's layout. Files that cannot be used are
    listed in ``skipped`` with a reason, never raised; a missing folder or one without a single
    usable file raises :class:`CorpusNotFoundError`. Of duplicates (the same utterance or the same
    bytes twice, e.g. a Kaggle copy beside the original) the first by path is kept.
    """
    info = corpus_info(key)
    label = label or key
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise CorpusNotFoundError(not_found_message(info, root, "the corpus folder does not exist"))
    files = list_files(root)
    parsed, skipped = parse_names(info, files)
    probes = probe_cached(key, root, {rel: files[rel] for rel in parsed}, progress=progress, desc=f"reading {label}")
    genders = info.speaker_genders(root, list(files)) if info.speaker_genders else {}
    rows, first_of_utterance, first_of_bytes = [], {}, {}
    for rel, utt in sorted(parsed.items()):
        probe = probes[rel]
        reason = audio_problem(probe)
        if reason is None and utt in first_of_utterance:
            reason = f"duplicate of {first_of_utterance[utt]} (same speaker, text, emotion and take)"
        elif reason is None and probe["file_hash"] in first_of_bytes:
            reason = f"duplicate of {first_of_bytes[probe['file_hash']]} (identical bytes)"
        if reason:
            skipped.append((rel, reason))
            continue
        first_of_utterance[utt], first_of_bytes[probe["file_hash"]] = rel, rel
        rows.append(_manifest_row(info, label, root, rel, utt, genders.get(utt.speaker, utt.gender), probe))
    skipped_frame = _typed(
        pd.DataFrame(
            [(str(root / rel), label, reason) for rel, reason in sorted(skipped)], columns=list(SKIPPED_DTYPES)
        ),
        SKIPPED_DTYPES,
    )
    if not rows:
        problem = (
            "no audio files in the corpus folder"
            if skipped_frame.empty
            else (
                f"none of its files is usable ({len(skipped_frame)} skipped, e.g. "
                f"{Path(skipped_frame.path[0]).name}: {skipped_frame.reason[0]})"
            )
        )
        raise CorpusNotFoundError(not_found_message(info, root, problem))
    manifest = _typed(pd.DataFrame(rows, columns=list(MANIFEST_DTYPES)), MANIFEST_DTYPES)
    return manifest.sort_values("utt_id", ignore_index=True), skipped_frame
