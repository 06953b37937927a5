"""Feature tables used together: columns side by side (:func:`combine_tables`) or rows matched
across the inputs of a multi-input network (:func:`align_tables`). Rows are matched on ``utt_id``.
:func:`extract_sets` extracts several sets of one manifest, combinations (``"a+b"``) included."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..rows import common_rows
from .engine import FeatureTable, extract_features


def align_tables(tables: Sequence[FeatureTable]) -> list[FeatureTable]:
    """The same tables restricted to the rows every one of them has, in the first table's order.

    For the inputs of a multi-input network (one table per input). A windowed set (one row per window)
    cannot be matched with another table.
    """
    tables = list(tables)
    if len(tables) == 1:
        return tables
    if any(t.kind == "windows" for t in tables):
        raise ValueError("a windowed set (one row per window) cannot be combined with other tables")
    for t in tables[1:]:
        if t.audio != tables[0].audio:
            raise ValueError(f"{t.feature_set} and {tables[0].feature_set} were extracted with different audio configs")
    return [t.take(rows) for t, rows in zip(tables, common_rows([t.meta for t in tables]))]


def combine_tables(
    tables: Sequence[FeatureTable] | Mapping[str, FeatureTable], *, name: str | None = None
) -> FeatureTable:
    """Concatenate the columns of several vector feature tables, rows aligned on ``utt_id``.

    A row is kept only when every table has it (a clip skipped by one set is dropped from the
    combination and listed in ``skipped`` with the reason); the row order is that of the first table.
    Column names are prefixed with their set (``prosody:F0semitoneFrom27.5Hz_sma3nz_amean``). Window,
    sequence and image sets cannot be combined this way (one row per clip is required).
    """
    tables = list(tables.values()) if isinstance(tables, Mapping) else list(tables)
    if not tables:
        raise ValueError("combine_tables needs at least one feature table")
    for table in tables:
        if table.kind != "vector" or np.ndim(table.X) != 2:
            raise ValueError(
                f"only vector sets (one row per clip) can be combined; {table.feature_set} is a {table.kind} set"
            )
        duplicated = table.meta["utt_id"][table.meta["utt_id"].duplicated()]
        if len(duplicated):
            raise ValueError(f"{table.feature_set}: utt_id must be unique, duplicated: {list(duplicated[:3])}")
    positions = common_rows([t.meta for t in tables])
    kept = positions[0]
    common = set(tables[0].meta["utt_id"].astype(str).iloc[kept])
    meta = tables[0].meta.iloc[kept].reset_index(drop=True)
    for table, pos in zip(tables[1:], positions[1:]):
        other = table.meta.iloc[pos].reset_index(drop=True)
        for column in ("emotion", "speaker", "source_id"):
            if column in meta and column in other and not meta[column].astype(str).equals(other[column].astype(str)):
                raise ValueError(
                    f"{table.feature_set} disagrees with {tables[0].feature_set} on {column!r} "
                    f"for the same utt_id: were they extracted from the same manifest?"
                )
    X = (
        np.hstack([np.asarray(t.X, dtype=np.float32)[pos] for t, pos in zip(tables, positions)])
        if len(kept)
        else np.empty((0, sum(np.shape(t.X)[1] for t in tables)), dtype=np.float32)
    )
    names = [
        f"{t.feature_set}:{n}" for t in tables for n in (t.feature_names or [str(i) for i in range(np.shape(t.X)[1])])
    ]
    return FeatureTable(
        X=X,
        meta=meta,
        skipped=_combined_skipped(tables, common),
        feature_names=names,
        feature_set=name or "+".join(t.feature_set for t in tables),
        kind="vector",
        params={t.feature_set: t.params for t in tables},
        audio=tables[0].audio,
        config_key="+".join(t.config_key for t in tables),
        timing={
            key: float(sum(t.timing.get(key, 0.0) for t in tables)) for key in ("computed", "from_cache", "seconds")
        },
    )


def column_blocks(table: FeatureTable) -> tuple[tuple[str, int, int], ...]:
    """The feature sets side by side in a table from :func:`combine_tables`: ``(set, first column, end)``
    each, read from the prefixes of its column names (a table that is not a combination is one block)."""
    names = table.feature_names or []
    sets = [name.split(":", 1)[0] if ":" in name else table.feature_set for name in names]
    if not sets:
        return ((table.feature_set, 0, int(np.shape(table.X)[1])),)
    blocks, start = [], 0
    for name, run in itertools.groupby(sets):
        width = len(list(run))
        blocks.append((name, start, start + width))
        start += width
    return tuple(blocks)


def _combined_skipped(tables: list[FeatureTable], common: set) -> pd.DataFrame:
    """Rows left out of a combination: skipped by a set (its reason), or present in one set but not another."""
    parts = [
        t.skipped.assign(reason=t.feature_set + ": " + t.skipped["reason"].astype(str))
        for t in tables
        if len(t.skipped)
    ]
    listed = set(pd.concat(parts)["utt_id"].astype(str)) if parts else set()
    for table in tables:
        missing = table.meta[
            ~table.meta["utt_id"].astype(str).isin(common) & ~table.meta["utt_id"].astype(str).isin(listed)
        ]
        if len(missing):
            absent_from = [t.feature_set for t in tables if not set(missing["utt_id"]) <= set(t.meta["utt_id"])]
            columns = [c for c in ("utt_id", "source_id", "path", "augmentation") if c in missing]
            parts.append(missing[columns].assign(reason=f"missing from {', '.join(absent_from)}"))
            listed |= set(missing["utt_id"].astype(str))
    columns = ["utt_id", "source_id", "path", "augmentation", "reason"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True).drop_duplicates("utt_id").reindex(columns=columns).reset_index(drop=True)


def extract_sets(manifest: pd.DataFrame, names: Sequence[str], **kwargs) -> dict[str, FeatureTable]:
    """The feature tables called ``names`` for ``manifest``: each set extracted once (cached), a name joined by
    ``+`` (``"kaggle162+prosody"``) the combination of its parts. ``kwargs`` go to ``extract_features``."""
    parts = dict.fromkeys(part for name in names for part in name.split("+"))
    tables = {part: extract_features(manifest, part, **kwargs) for part in parts}
    return {
        name: tables[name] if name in tables else combine_tables([tables[p] for p in name.split("+")]) for name in names
    }
