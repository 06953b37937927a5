"""Dataset names: one corpus, a synthetic corpus, or several joined with ``+`` — loaded into one manifest.

``"ravdess"``, ``"crema-d"`` (aliases are case-insensitive), ``"ravdess+savee"``, ``"superset"``
(RAVDESS + CREMA-D + SAVEE + TESS without calm and surprised) and the synthetic ``"demo"`` (EMOVO
layout), ``"demo-ravdess"``, ``"demo-cremad"`` are all dataset names. :func:`load_dataset` reads the
real corpora under the data root, generates the synthetic ones on demand, merges them and applies the
label selection, returning a :class:`Dataset`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import paths
from .corpora import CORPORA, CorpusNotFoundError, read_corpus
from .emotions import CANONICAL_EMOTIONS, select_labels

#: Synthetic components → the corpus layout they are generated in (and read with).
SYNTHETIC = {"demo": "emovo", "demo-ravdess": "ravdess", "demo-cremad": "cremad"}
#: Friendly spellings → component.
ALIASES = {"crema-d": "cremad", "crema_d": "cremad", "emo-db": "emodb", "emo_db": "emodb"}


@dataclass(frozen=True)
class Combination:
    """A named combination of components, with the emotions it leaves out unless asked otherwise."""

    components: tuple[str, ...]
    drop: tuple[str, ...] = ()


#: The named combinations (the studies' own datasets).
COMBINATIONS = {
    # SER-FusionNet's "superset": calm exists only in RAVDESS and surprised is missing from CREMA-D.
    "superset": Combination(("ravdess", "cremad", "savee", "tess"), drop=("calm", "surprised")),
}


class UnknownDatasetError(ValueError):
    """A dataset name (or one of its ``+`` parts) is not known; the message lists the valid names."""


def dataset_names() -> list[str]:
    """Every name valid on its own: the components, then the named combinations (aliases aside)."""
    return [*CORPORA, *SYNTHETIC, *COMBINATIONS]


def _parts(name: str) -> list[str]:
    """The canonical ``+`` parts of a name (components or combination names), or UnknownDatasetError."""
    parts = [ALIASES.get(part, part) for part in (raw.strip().lower() for raw in str(name).split("+"))]
    known = dataset_names()
    for part in parts:
        if part not in known:
            close = difflib.get_close_matches(part, [*known, *ALIASES], n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownDatasetError(
                f"unknown dataset {part or '(empty)'!r} in {name!r}.{hint} Valid names: {', '.join(known)} "
                f"(aliases: {', '.join(ALIASES)}); join several with '+', e.g. 'ravdess+savee'."
            )
    return parts


def resolve_dataset(name: str) -> list[str]:
    """The components a dataset name stands for, in order, each once (``superset`` expanded)."""
    components = []
    for part in _parts(name):
        components.extend(COMBINATIONS[part].components if part in COMBINATIONS else [part])
    return list(dict.fromkeys(components))


def is_synthetic(name: str) -> bool:
    """Whether any component is generated (results on it then say nothing about real speech)."""
    return any(component in SYNTHETIC for component in resolve_dataset(name))


def default_emotions(name: str) -> list[str] | None:
    """The emotions a name keeps when none are asked for: all (None) unless a named combination drops some."""
    dropped = {emotion for part in _parts(name) if part in COMBINATIONS for emotion in COMBINATIONS[part].drop}
    return [e for e in CANONICAL_EMOTIONS if e not in dropped] if dropped else None


@dataclass
class Dataset:
    """A loaded dataset: the merged manifest, what was skipped and where each component was read from."""

    name: str
    manifest: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)  # path, corpus, reason
    roots: dict[str, Path]  # component -> corpus folder

    def fingerprint(self) -> str:
        """Stable hash of the sorted (utt_id, file_hash, emotion) rows: same data and labels, same fingerprint."""
        rows = self.manifest.sort_values("utt_id")
        text = (rows["utt_id"] + "\t" + rows["file_hash"] + "\t" + rows["emotion"]).str.cat(sep="\n")
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def summary(self) -> pd.DataFrame:
        """Per corpus: files, speakers, sentences, emotions, hours of audio and files skipped."""
        table = self.manifest.groupby("corpus", sort=False).agg(
            files=("utt_id", "size"),
            speakers=("speaker", "nunique"),
            sentences=("sentence", "nunique"),
            emotions=("emotion", "nunique"),
            hours=("duration", "sum"),
        )
        table["hours"] = (table["hours"] / 3600).round(3)
        skipped = self.skipped.groupby("corpus").size()
        table["skipped"] = skipped.reindex(table.index, fill_value=0).astype("int64")
        return table


def _component_root(component: str, data_root: Path, *, seed: int, synthetic_size: str, progress: bool) -> Path:
    """The corpus folder of a component: ``<root>/<FOLDER>``, or the synthetic corpus (generated if needed)."""
    if component not in SYNTHETIC:
        return data_root / CORPORA[component].folder
    from . import synthetic  # imported here: generating needs more than reading

    layout = SYNTHETIC[component]
    target = data_root / "synthetic" / f"{layout}-{synthetic_size}-seed{seed}"
    return Path(synthetic.ensure_corpus(layout, target, seed=seed, size=synthetic_size, progress=progress))


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    emotions: Iterable[str] | None = None,
    merge: Mapping[str, str] | None = None,
    seed: int = 0,
    synthetic_size: str = "default",
    progress: bool = True,
) -> Dataset:
    """Read (or generate) every component of ``name`` under the data root, merge them and select labels.

    ``merge`` maps emotions onto others first (e.g. ``{"calm": "neutral"}``), then only ``emotions``
    are kept (default: all, or what a named combination keeps: ``superset`` drops calm and surprised).
    A missing component raises its :class:`CorpusNotFoundError`, naming the component.
    """
    components = resolve_dataset(name)
    data_root = paths.data_root(data_dir)
    manifests, skipped, roots = [], [], {}
    for component in components:
        roots[component] = _component_root(
            component, data_root, seed=seed, synthetic_size=synthetic_size, progress=progress
        )
        reader = SYNTHETIC.get(component, component)
        try:
            manifest, dropped = read_corpus(reader, roots[component], label=component, progress=progress)
        except CorpusNotFoundError as err:
            if len(components) == 1:
                raise
            raise CorpusNotFoundError(
                f"dataset {name!r} needs component {component!r}, which is missing.\n{err}"
            ) from err
        manifests.append(manifest)
        skipped.append(dropped)
    wanted = default_emotions(name) if emotions is None else emotions
    manifest = select_labels(pd.concat(manifests, ignore_index=True), wanted, merge)
    if manifest.empty:
        raise ValueError(
            f"dataset {name!r}: no utterance left after selecting the emotions {wanted!r} (merge: {merge!r})"
        )
    return Dataset(
        name="+".join(_parts(name)), manifest=manifest, skipped=pd.concat(skipped, ignore_index=True), roots=roots
    )
