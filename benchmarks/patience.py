#!/usr/bin/env python
"""How much early-stopping patience do the networks need? Decided on validation speakers only.

    python benchmarks/patience.py                                   # synthetic default
    python benchmarks/patience.py --dataset emodb --data-dir ../shared/data

Trains CNN-1, the CRNN, the LSTM and the fusion network under LOSO with patience 6 and keeps each
fold's validation curve (its validation speakers are carved from the training part: the test speaker
is never looked at). A shorter patience follows the same curve and stops earlier, so what patience p
would have chosen is read off that curve exactly: the epoch kept, its validation loss and accuracy,
and the epochs trained. The table compares p = 2 ... 6 with 6. The training default (patience 4)
comes from this table on the synthetic default, EMO-DB and the TESS sample (see the README).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ser_utils.datasets import load_dataset
from ser_utils.estimators import NetworkClassifier
from ser_utils.evaluation import cross_validate_many
from ser_utils.features import combine_tables, extract_features
from ser_utils.training import TrainConfig

LONGEST = 6


def stopped(val_loss: np.ndarray, patience: int) -> tuple[int, int]:
    """(epochs trained, 0-based epoch kept) of Keras' EarlyStopping with ``patience`` on this curve."""
    best, kept, wait = np.inf, 0, 0
    for epoch, value in enumerate(val_loss):
        if value < best:
            best, kept, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch + 1, kept
    return len(val_loss), kept


def curves(dataset: str, data_dir: str | None, seed: int) -> dict[str, dict[str, pd.DataFrame]]:
    """Validation curves per network and fold (LOSO, speaker-normalised, the notebooks' settings)."""
    manifest = load_dataset(dataset, data_dir, seed=seed).manifest
    vector = extract_features(manifest, "kaggle162", n_jobs=-1)
    stats = combine_tables([extract_features(manifest, s, n_jobs=-1) for s in ("stats", "prosody")])
    mfcc = extract_features(
        manifest, "mfcc_seq", params={"n_mfcc": 40, "frames": 60, "hop_length": 800, "n_fft": 1024}, n_jobs=-1
    )
    config = TrainConfig(patience=LONGEST, seed=seed)
    fusion = {"filters": [64, 64], "hidden": [64], "units": 64, "head": "mlp"}
    runs = {
        "cnn1": (NetworkClassifier("cnn1", {}, config), vector),
        "crnn": (NetworkClassifier("crnn", {}, config), vector),
        "lstm": (NetworkClassifier("lstm", {}, config.replace(batch_size=64)), mfcc),
        "fusion": (NetworkClassifier("fusion", fusion, config), [vector, stats]),
    }
    jobs = {
        name: dict(estimator=e, tables=t, protocol="loso", experiment=name, speaker_norm=True, seed=seed)
        for name, (e, t) in runs.items()
    }
    return {name: result.histories for name, result in cross_validate_many(jobs, n_jobs=-1, desc="folds").items()}


def compare(histories: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per patience: epochs trained, share of folds keeping the same epoch as patience 6, and the
    change of the kept epoch's validation loss and accuracy (mean over folds)."""
    rows = []
    for network, folds in histories.items():
        for fold, history in folds.items():
            loss, accuracy = history["val_loss"].to_numpy(), history["val_accuracy"].to_numpy()
            _, longest_kept = stopped(loss, LONGEST)
            for patience in range(2, LONGEST + 1):
                epochs, kept = stopped(loss, patience)
                rows.append(
                    {
                        "network": network,
                        "fold": fold,
                        "patience": patience,
                        "epochs": epochs,
                        "same epoch": kept == longest_kept,
                        "Δ val loss": loss[kept] - loss[longest_kept],
                        "Δ val accuracy": accuracy[kept] - accuracy[longest_kept],
                    }
                )
    table = (
        pd.DataFrame(rows)
        .groupby("patience")
        .agg({"epochs": "sum", "same epoch": "mean", "Δ val loss": "mean", "Δ val accuracy": "mean"})
    )
    table["epochs saved"] = 1 - table["epochs"] / table.loc[LONGEST, "epochs"]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--data-dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = compare(curves(args.dataset, args.data_dir, args.seed))
    print(f"\n{args.dataset}: early stopping on validation speakers, LOSO, four networks")
    print(table.round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
