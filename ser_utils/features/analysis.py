"""Numbers behind the feature notebook: how separable emotions and speakers are, and what the cache saves."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer

from ..audio import AudioConfig
from .engine import extract_features, start_workers
from .registry import get_feature_set


def gaussianize(n_samples: int, seed: int = 0) -> QuantileTransformer:
    """Per-feature rank → normal transform: energies are heavy-tailed, and standardising alone lets a few
    loud clips dominate distances and projections."""
    return QuantileTransformer(output_distribution="normal", n_quantiles=int(min(1000, n_samples)), random_state=seed)


def separability(
    X: np.ndarray,
    meta: pd.DataFrame,
    columns: Sequence[str] = ("emotion", "speaker"),
    *,
    k: int = 5,
    folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Per label: silhouette score and k-NN accuracy (gaussianised features) next to chance.

    A higher score for ``speaker`` than for ``emotion`` means the features mostly encode who is
    speaking. The k-NN folds are random, not by speaker: this measures structure, not generalisation.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = gaussianize(len(X), seed).fit_transform(X)
    rows = []
    for column in columns:
        labels = meta[column].astype(str).to_numpy()
        counts = pd.Series(labels).value_counts()
        n_folds = int(min(folds, counts.min()))
        knn = np.nan
        if n_folds >= 2:
            model = make_pipeline(
                gaussianize(len(X) * (n_folds - 1) // n_folds, seed), KNeighborsClassifier(n_neighbors=k)
            )
            cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            knn = float(cross_val_score(model, X, labels, cv=cv).mean())
        rows.append(
            {
                "label": column,
                "classes": int(counts.size),
                "silhouette": float(silhouette_score(Z, labels)) if counts.size > 1 else np.nan,
                f"{k}-NN accuracy": knn,
                "chance (majority)": float(counts.max() / counts.sum()),
            }
        )
    return pd.DataFrame(rows).set_index("label")


def project(X: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D projection of gaussianised features: ``"pca"`` or ``"tsne"`` (after PCA to 50 dimensions)."""
    from sklearn.decomposition import PCA

    Z = gaussianize(len(X), seed).fit_transform(np.asarray(X, dtype=np.float64))
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(Z)
    if method == "tsne":
        from sklearn.manifold import TSNE

        Z = PCA(n_components=min(50, *Z.shape), random_state=seed).fit_transform(Z)
        perplexity = float(min(30.0, max(5.0, (len(Z) - 1) / 4)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(Z)
    raise ValueError(f"projection must be 'pca' or 'tsne', got {method!r}")


def cache_timings(
    rows: pd.DataFrame, feature_sets: Sequence[str], *, audio: AudioConfig | None = None, n_jobs: int = -1
) -> pd.DataFrame:
    """Seconds to extract each set cold (an empty temporary cache) and warm (the same cache again).

    Sets computed in worker processes get them started first, and that one-off cost (a few seconds
    per session, ~0 when they already run; 0 for sets run in threads) is kept apart in
    ``attrs["worker_start_s"]``: "cold" is the computing cost.
    ``benchmarks/features.py`` times everything together, against the plain per-file loop.
    """
    processes = [n for n in feature_sets if not get_feature_set(n).threads(get_feature_set(n).resolve())]
    worker_start = start_workers(n_jobs) if processes else 0.0
    results = []
    with tempfile.TemporaryDirectory(prefix="ser-cache-timing-") as root:
        for name in feature_sets:
            seconds = []
            for _ in range(2):
                start = time.perf_counter()
                table = extract_features(rows, name, audio=audio, n_jobs=n_jobs, cache_root=root, progress=False)
                seconds.append(time.perf_counter() - start)
            results.append(
                {
                    "feature_set": name,
                    "files": len(rows),
                    "skipped": len(table.skipped),
                    "cold_s": round(seconds[0], 3),
                    "warm_s": round(seconds[1], 3),
                    "ms_per_file_cold": round(1000 * seconds[0] / max(1, len(rows)), 2),
                    "warm_speedup": round(seconds[0] / seconds[1], 1),
                }
            )
    table = pd.DataFrame(results).set_index("feature_set")
    table.attrs["worker_start_s"] = round(worker_start, 2)
    return table
