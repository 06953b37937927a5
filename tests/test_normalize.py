"""Speaker normalisation (ser_utils.normalize): one rule for vectors, sequences and images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_utils.normalize import MODE_OF_KIND, apply, reduced_axes, speaker_normalize, statistics


def classical_rule(X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
    """The classical baselines' rule before the refactoring (evaluation.speaker_normalize): z-score every column
    within each speaker by the speaker's original rows; a constant column was centred (to 0), not kept."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    speakers = meta["speaker"].to_numpy()
    original = meta["augmentation"].fillna("").eq("").to_numpy()
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        reference = X[rows & original] if (rows & original).any() else X[rows]
        mean, std = reference.mean(axis=0), reference.std(axis=0)
        out[rows] = (X[rows] - mean) / np.where(std > 1e-12, std, 1.0)
    return out


def _vectors(toy_table):
    """A toy table's vectors (with augmented copies) plus a gender column, constant within each speaker."""
    table = toy_table(copies=1, speakers=4)
    gender = (table.meta["gender"] == "male").to_numpy(float)[:, None]
    return np.hstack([table.X, gender]).astype(np.float32), table.meta


def test_vectors_follow_the_classical_rule_and_constant_columns_keep_their_value(toy_table) -> None:
    X, meta = _vectors(toy_table)
    Z = speaker_normalize(X, meta)
    assert Z.dtype == np.float64 and Z.shape == X.shape
    np.testing.assert_allclose(Z[:, :-1], classical_rule(X, meta)[:, :-1], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(Z[:, -1], X[:, -1])  # gender, constant within a speaker, survives
    assert set(np.unique(Z[:, -1])) == {0.0, 1.0}  # (the classical rule made it 0 everywhere)
    original = (meta["augmentation"] == "").to_numpy()
    for _, rows in meta[original].groupby("speaker").groups.items():
        np.testing.assert_allclose(Z[rows, :-1].mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(Z[rows, :-1].std(axis=0), 1, atol=1e-9)


def test_statistics_come_from_original_rows_only(toy_table) -> None:
    X, meta = _vectors(toy_table)
    copies = meta["augmentation"].ne("").to_numpy()
    wild = X.copy()
    wild[copies] += 100.0  # copies far from the originals must not move the statistics
    Z, W = speaker_normalize(X, meta), speaker_normalize(wild, meta)
    np.testing.assert_allclose(W[~copies], Z[~copies], atol=1e-9)
    # a speaker with copies only is standardised by its copies
    only_copies = meta.assign(augmentation=np.where(meta["speaker"] == "s0", "noise", meta["augmentation"]))
    rows = (meta["speaker"] == "s0").to_numpy()
    np.testing.assert_allclose(speaker_normalize(X, only_copies)[rows, :-1].mean(axis=0), 0, atol=1e-9)


def test_statistics_and_apply_are_the_parts_of_speaker_normalize(toy_table) -> None:
    X, meta = _vectors(toy_table)
    rows = (meta["speaker"] == "s2").to_numpy()
    reference = X[rows & (meta["augmentation"] == "").to_numpy()]
    mean, std = statistics(reference)
    assert mean.shape == std.shape == (X.shape[1],)
    assert mean[-1] == 0.0 and std[-1] == 1.0  # the constant column: kept as it is
    np.testing.assert_allclose(apply(X[rows], mean, std), speaker_normalize(X, meta)[rows], atol=1e-12)


def test_band_mode_on_images_and_feature_mode_on_sequences(toy_table) -> None:
    images = toy_table(kind="image", shape=(6, 10), copies=1)
    Z = speaker_normalize(images.X, images.meta, mode="band")
    assert Z.dtype == np.float32 and Z.shape == images.X.shape
    original = (images.meta["augmentation"] == "").to_numpy()
    for speaker in images.meta["speaker"].unique():
        rows = (images.meta["speaker"] == speaker).to_numpy() & original
        np.testing.assert_allclose(Z[rows].mean(axis=(0, 2)), 0, atol=1e-5)  # per mel band, over clips and frames
        np.testing.assert_allclose(Z[rows].std(axis=(0, 2)), 1, atol=1e-4)
        assert np.abs(Z[rows].mean(axis=(0, 1))).max() > 1e-3  # frames are not standardised one by one
    mean, std = statistics(images.X[:4], "band")
    assert mean.shape == std.shape == (6, 1)  # broadcasts over (bands, frames)
    sequences = toy_table(kind="sequence", shape=(7, 5))
    S = speaker_normalize(sequences.X, sequences.meta, mode=MODE_OF_KIND["sequence"])
    first = (sequences.meta["speaker"] == "s0").to_numpy()
    np.testing.assert_allclose(S[first].mean(axis=(0, 1)), 0, atol=1e-5)  # per coefficient, over clips and frames
    G = speaker_normalize(images.X, images.meta, mode="global")
    rows = (images.meta["speaker"] == "s1").to_numpy() & original
    assert G[rows].mean() == pytest.approx(0, abs=1e-5) and G[rows].std() == pytest.approx(1, abs=1e-4)


def test_modes_and_errors(toy_table) -> None:
    assert MODE_OF_KIND == {"vector": "feature", "windows": "feature", "sequence": "feature", "image": "band"}
    assert (
        reduced_axes(2, "feature") == (0,)
        and reduced_axes(3, "band") == (0, 2)
        and reduced_axes(3, "global") == (0, 1, 2)
    )
    table = toy_table()
    with pytest.raises(ValueError, match="unknown normalisation mode"):
        speaker_normalize(table.X, table.meta, mode="speaker")
    with pytest.raises(ValueError, match="'speaker' column"):
        speaker_normalize(table.X, table.meta.drop(columns="speaker"))
