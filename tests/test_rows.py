"""Small facts about feature-table rows (ser_utils.rows) and FeatureTable.take."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ser_utils.rows import common_rows, is_augmented, mean_std, source_ids


def test_source_ids_and_copies() -> None:
    meta = pd.DataFrame(
        {"utt_id": ["a", "a#n", "b"], "source_id": ["a", "a", "b"], "augmentation": ["", "noise", None]}
    )
    assert list(source_ids(meta)) == ["a", "a", "b"]
    assert list(source_ids(meta.drop(columns="source_id"))) == ["a", "a#n", "b"]  # no source_id: each row its own
    assert list(is_augmented(meta)) == [False, True, False]  # a missing augmentation is an original
    assert not is_augmented(meta.drop(columns="augmentation")).any()


def test_common_rows_follow_the_first_table() -> None:
    first = pd.DataFrame({"utt_id": ["c", "a", "b", "d"]})
    second = pd.DataFrame({"utt_id": ["a", "b", "c", "e"]})
    positions = common_rows([first, second])
    assert list(first["utt_id"].iloc[positions[0]]) == ["c", "a", "b"]
    assert list(second["utt_id"].iloc[positions[1]]) == ["c", "a", "b"]


def test_mean_std_text() -> None:
    assert mean_std(0.51234, 0.04321) == "0.512 ± 0.043"
    assert mean_std(0.5, float("nan")) == "0.500"  # a single fold: no spread
    assert mean_std(float("nan"), 0.1) == "—" and mean_std(0.5, 0.25, digits=1) == "0.5 ± 0.2"


def test_feature_table_take(toy_table) -> None:
    table = toy_table(copies=1)
    part = table.take(np.array([5, 0, 3]))
    assert len(part) == 3 and list(part.meta.index) == [0, 1, 2]
    assert list(part.meta["utt_id"]) == list(table.meta["utt_id"].iloc[[5, 0, 3]])
    np.testing.assert_array_equal(part.X, table.X[[5, 0, 3]])
    assert part.feature_set == table.feature_set and len(table) == 54  # the original is untouched
