"""Feature sets by name and the cached, parallel extraction engine.

    from ser_utils.features import describe_feature_sets, extract_features
    table = extract_features(ds.manifest, "kaggle162")      # FeatureTable: X, meta, skipped, ...
    table.X, table.meta["source_id"], table.skipped

Sets: ``kaggle162``, ``window160``, ``mfcc_mean``, ``mfcc_seq``, ``logmel``, ``stats``, ``prosody``, ``egemaps_lld``, ``compare``, and
embeddings of pretrained speech models, ``whisper``, ``wavlm``, ``hubert``, ``wav2vec2``, when their weights
are here (:mod:`ser_utils.features.embeddings`; see :func:`describe_feature_sets`). Several tables together: :func:`combine_tables` (columns
side by side), :func:`extract_sets` (several, combinations included) and :func:`align_tables` (the inputs of a multi-input network). Plots for the notebooks are in :mod:`ser_utils.features.plots`.
"""

from .combine import align_tables, column_blocks, combine_tables, extract_sets
from .embeddings import WeightsNotFound
from .engine import FEATURE_VERSION, FeatureTable, extract_available, extract_features
from .registry import FEATURE_SETS, PRETRAINED, FeatureSet, compute, describe_feature_sets, get_feature_set

__all__ = [
    "FEATURE_SETS",
    "FEATURE_VERSION",
    "FeatureSet",
    "FeatureTable",
    "PRETRAINED",
    "WeightsNotFound",
    "align_tables",
    "column_blocks",
    "combine_tables",
    "compute",
    "describe_feature_sets",
    "extract_available",
    "extract_features",
    "extract_sets",
    "get_feature_set",
]
