"""One emotion vocabulary for every corpus, and the label selection the studies make on it.

Each corpus names its emotions its own way (RAVDESS ``05``, EMOVO ``rab``, EMO-DB ``W`` ...); the
readers map them all onto :data:`CANONICAL_EMOTIONS`, so that corpora can be combined and compared.
:func:`select_labels` then merges and filters labels the way a study asks (e.g. RAVDESS ``calm`` as
``neutral``, or the "superset" study without ``calm`` and ``surprised``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

CANONICAL_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom")


def _check_emotions(names: Iterable[str], where: str) -> None:
    """Raise ValueError naming the valid emotions when any of ``names`` is not canonical."""
    unknown = sorted({name for name in names if name not in CANONICAL_EMOTIONS})
    if unknown:
        raise ValueError(
            f"unknown emotion(s) {', '.join(map(repr, unknown))} in {where}; "
            f"valid emotions: {', '.join(CANONICAL_EMOTIONS)}"
        )


def select_labels(
    manifest: pd.DataFrame, emotions: Iterable[str] | str | None = None, merge: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Apply ``merge`` (emotion → emotion), then keep the rows whose emotion is in ``emotions`` (None: all).

    When anything is merged, the label before merging is kept in ``emotion_original`` (right after
    ``emotion``; an existing ``emotion_original`` from an earlier merge is left as it is). The input
    is not modified; the result has a fresh 0..n-1 index.
    """
    out = manifest.copy()
    if merge:
        _check_emotions([*merge.keys(), *merge.values()], "merge")
        if "emotion_original" not in out.columns:
            out.insert(out.columns.get_loc("emotion") + 1, "emotion_original", out["emotion"])
        out["emotion"] = out["emotion"].replace(dict(merge))
    if emotions is not None:
        wanted = [emotions] if isinstance(emotions, str) else list(emotions)
        _check_emotions(wanted, "emotions")
        out = out[out["emotion"].isin(wanted)]
    return out.reset_index(drop=True)
