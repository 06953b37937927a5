"""The feature sets by name: function, default parameters, description and output kind."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import embeddings as _embeddings
from . import prosody as _prosody
from . import spectral

Kind = Literal["vector", "windows", "sequence", "image"]

#: Gender codes of the ``stats`` set (SER-FusionNet: male 1, female 0); anything else is 0.5.
GENDER_CODES = {"male": 1.0, "m": 1.0, "female": 0.0, "f": 0.0}


def gender_column(rows: pd.DataFrame) -> np.ndarray:
    """Gender as a feature column (1 male, 0 female, 0.5 unknown or absent), one value per row."""
    if "gender" not in rows:
        return np.full((len(rows), 1), 0.5, dtype=np.float32)
    codes = rows["gender"].astype("string").str.lower().map(GENDER_CODES)
    return codes.fillna(0.5).to_numpy(dtype=np.float32).reshape(-1, 1)


@dataclass(frozen=True)
class FeatureSet:
    """One named feature set: ``function(y, sr, **params) -> array`` and what to know about it."""

    name: str
    function: Callable[..., np.ndarray]
    defaults: dict[str, Any]
    description: str
    kind: Kind
    names: Callable[..., list[str]] | None = field(default=None, repr=False)
    #: Columns taken from the manifest, not the audio (appended after the cached part).
    row_features: tuple[str, Callable[[pd.DataFrame], np.ndarray]] | None = field(default=None, repr=False)
    #: Whether, with these parameters, threads parallelise the work (its heavy parts release the GIL: FFT,
    #: BLAS, openSMILE); else worker processes are used. Measured: see benchmarks/features.py.
    threads: Callable[[Mapping[str, Any]], bool] = field(default=lambda params: True, repr=False)
    #: Whether, with these parameters, the set must not run in a process that has loaded TensorFlow:
    #: openSMILE's C library and TensorFlow's corrupt each other's heap there (the process aborts), so
    #: such a set is then computed in a worker process (see :func:`must_isolate`).
    isolate: Callable[[Mapping[str, Any]], bool] = field(default=lambda params: False, repr=False)
    #: ``batch(clips, sr, **params) -> list of arrays``: several clips in one call (a pretrained model's
    #: forward pass), used by the engine instead of ``function`` when given.
    batch: Callable[..., list[np.ndarray]] | None = field(default=None, repr=False)
    #: Raises (with what to do) when the set cannot run here at all, e.g. its model weights are missing;
    #: called before any file is computed.
    check: Callable[[Mapping[str, Any]], Any] = field(default=lambda params: None, repr=False)

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``params``: unknown names are an error, "auto" choices are made concrete."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(f"feature set {self.name!r} has no parameter(s) {unknown}; valid: {sorted(self.defaults)}")
        resolved = {**self.defaults, **params}
        if "backend" in resolved:
            resolved["backend"] = _prosody.resolve_backend(resolved["backend"])
        if "checkpoint" in resolved:  # a folder given relative to here must mean the same in every worker
            resolved["checkpoint"] = _embeddings.absolute_checkpoint(resolved["checkpoint"])
        for key, value in resolved.items():  # tuples and lists must hash the same way
            if isinstance(value, tuple):
                resolved[key] = list(value)
        return resolved

    def feature_names(self, params: Mapping[str, Any] | None = None) -> list[str] | None:
        """Column names for vector/window sets (None for sequences and images)."""
        if self.names is None:
            return None
        names = self.names(**self.resolve(params))
        return names + [self.row_features[0]] if self.row_features else names


def _defaults(function: Callable[..., np.ndarray]) -> dict[str, Any]:
    """The keyword-only parameters of a feature function and their defaults."""
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _register(
    name: str,
    function: Callable[..., np.ndarray],
    description: str,
    kind: Kind,
    names: Callable[..., list[str]] | None = None,
    row_features=None,
    threads=None,
    isolate=None,
    batch=None,
    check=None,
) -> FeatureSet:
    return FeatureSet(
        name,
        function,
        _defaults(function),
        description,
        kind,
        names,
        row_features,
        threads or (lambda params: True),
        isolate or (lambda params: False),
        batch,
        check or (lambda params: None),
    )


def _embedding(name: str, description: str) -> FeatureSet:
    """A pretrained speech model's embedding (:mod:`.embeddings`): checked for its weights before any work."""
    return _register(
        name,
        _embeddings.embedding_function(name),
        description,
        "vector",
        threads=lambda params: False,  # worker processes: the model (and TensorFlow) stays out of the notebook
        batch=_embeddings.batch_function(name),
        check=lambda params: _embeddings.check_settings(name, params),
    )


# A table: one entry per line reads better than one argument per line.
# fmt: off
#: Every feature set, by name.
FEATURE_SETS: dict[str, FeatureSet] = {s.name: s for s in [
    _register("kaggle162", spectral.kaggle162,
              "means of ZCR, chroma, MFCC, RMS, mel (162): the widely copied Kaggle vector", "vector",
              spectral.kaggle162_names),
    _register("window160", spectral.window160,
              "per 2 s window: means of mel (128), MFCC (20), chroma (12) = 160, one row per window", "windows",
              spectral.window160_names),
    _register("mfcc_mean", spectral.mfcc_mean, "mean of 20 MFCCs over time: the SVM baseline", "vector",
              spectral.mfcc_mean_names),
    _register("mfcc_seq", spectral.mfcc_seq,
              "MFCC sequence (frames × coefficients, fixed length, optional deltas) for recurrent models", "sequence"),
    _register("logmel", spectral.logmel,
              "128-band log-mel image of fixed size (128×128; 256×256 for progressive resizing) for CNNs", "image"),
    _register("stats", spectral.stats,
              "mean/var/skew/kurtosis of 36 frame features + gender (145): a fusion model's statistical branch",
              "vector", spectral.stats_names, ("gender", gender_column)),
    _register("prosody", _prosody.prosody,
              "eGeMAPS v02 functionals via openSMILE (88), or 27 eGeMAPS-like librosa descriptors", "vector",
              _prosody.prosody_names, threads=lambda params: params["backend"] == "opensmile",
              isolate=lambda params: params["backend"] == "opensmile"),
    _register("egemaps_lld", _prosody.egemaps_lld,
              "eGeMAPS v02 low-level descriptors via openSMILE, 25 per 10 ms frame (frames × 25) for sequence "
              "networks", "sequence", isolate=lambda params: True),
    _register("compare", _prosody.compare,
              "ComParE 2016 functionals via openSMILE (6373): the paralinguistics challenges' large set", "vector",
              _prosody.compare_names, isolate=lambda params: True),
    _embedding("whisper", "Whisper encoder (Keras Hub), one layer or their average, pooled over the clip: "
                          "frozen pretrained embeddings (weights fetched once, see ser_utils.features.embeddings)"),
    _embedding("wavlm", "WavLM (Hugging Face, PyTorch extra), one layer or their average, pooled: frozen embeddings"),
    _embedding("hubert", "HuBERT (Hugging Face, PyTorch extra), one layer or their average, pooled: frozen embeddings"),
    _embedding("wav2vec2", "wav2vec 2.0 (Hugging Face, PyTorch extra), one layer or their average, pooled"),
]}
#: The feature sets that are embeddings of large pretrained models (reported apart from CPU-trainable ones).
PRETRAINED = tuple(_embeddings.LIBRARIES)
# fmt: on


def get_feature_set(name: str) -> FeatureSet:
    """The feature set called ``name``; an unknown name lists the valid ones."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown feature set {name!r}; valid: {', '.join(FEATURE_SETS)}") from None


def describe_feature_sets() -> pd.DataFrame:
    """One row per feature set: output kind, shape per clip with default parameters, description, parameters."""
    rows = []
    for fs in FEATURE_SETS.values():
        rows.append(
            {
                "feature_set": fs.name,
                "kind": fs.kind,
                "shape": _default_shape(fs),
                "description": fs.description,
                "parameters": ", ".join(f"{k}={v!r}" for k, v in fs.defaults.items()),
            }
        )
    return pd.DataFrame(rows).set_index("feature_set")


def _default_shape(fs: FeatureSet) -> str:
    """The per-clip output shape with default parameters, as text."""
    p = fs.resolve()
    if fs.kind == "image":
        return f"{p['size'][0]} × {p['size'][1]}"
    if fs.kind == "sequence" and "n_mfcc" in p:
        return f"{p['frames']} × {p['n_mfcc'] * (3 if p['deltas'] else 1)}"
    if fs.kind == "sequence":  # eGeMAPS low-level descriptors
        return f"{p['frames']} × {_prosody.EGEMAPS_LLDS}"
    if fs.names is None:  # known once the model is loaded
        return "hidden size (× 2 with mean+std pooling)"
    n = len(fs.feature_names() or [])
    return f"windows × {n}" if fs.kind == "windows" else str(n)


def must_isolate(fs: FeatureSet, params: Mapping[str, Any]) -> bool:
    """Whether ``fs`` (with resolved ``params``) has to run in another process than this one: it cannot
    share a process with TensorFlow (:attr:`FeatureSet.isolate`) and this process has imported it, or
    another deep-learning framework (untested with openSMILE: kept apart too)."""
    return bool(fs.isolate(params)) and any(m in sys.modules for m in ("tensorflow", "jax", "torch"))


def _apply(name: str, y: np.ndarray, sr: int, params: dict[str, Any]) -> np.ndarray:
    fs = get_feature_set(name)
    if must_isolate(fs, params):  # a worker that has loaded TensorFlow (for embeddings): a fresh process then
        from .parallel import in_fresh_process

        return in_fresh_process(_apply, name, y, sr, params)
    return np.asarray(fs.function(y, sr, **params), dtype=np.float32)


def compute(
    name: str, y: np.ndarray, sr: int, params: Mapping[str, Any] | None = None, rows: pd.DataFrame | None = None
) -> np.ndarray:
    """One feature set on one prepared clip (with manifest columns from ``rows``, one row, when given).

    A set that cannot share this process with TensorFlow (see :func:`must_isolate`) runs in a worker process.
    """
    fs = get_feature_set(name)
    params = fs.resolve(params)
    if must_isolate(fs, params):
        from . import parallel

        out = (
            parallel.executor(1, local=True).submit(_apply, name, np.asarray(y, dtype=np.float32), sr, params).result()
        )
    else:
        out = _apply(name, y, sr, params)
    if fs.row_features:
        extra = fs.row_features[1](rows if rows is not None else pd.DataFrame(index=[0]))[0]
        out = np.concatenate([out, extra]).astype(np.float32)
    return out
