"""Training batches with mixup, SpecAugment or class-balanced sampling, reproducible from the seed.

Only used when a batch must change on every pass (mixup, SpecAugment, balanced draws); plain training
feeds arrays to Keras directly, which is faster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..models import keras_module

_BATCHES: dict[str, type] = {}


def batch_class():
    """The :class:`keras.utils.PyDataset` subclass (defined lazily: Keras is imported on first use)."""
    if "cls" in _BATCHES:
        return _BATCHES["cls"]
    keras = keras_module()

    class Batches(keras.utils.PyDataset):
        """Shuffled training batches; random choices depend only on (seed, epoch, batch index)."""

        def __init__(
            self,
            X,
            Y,
            weights=None,
            *,
            batch_size=32,
            seed=0,
            mixup_alpha=0.0,
            spec_augment_inputs=(),
            kinds=(),
            balanced=False,
        ):
            super().__init__()
            self.X, self.Y, self.weights = X, Y, weights
            self.batch_size, self.seed = int(batch_size), int(seed)
            self.mixup_alpha, self.spec_inputs, self.kinds = float(mixup_alpha), tuple(spec_augment_inputs), kinds
            self.draw = balanced_probabilities(Y.argmax(axis=1)) if balanced else None
            self.epoch = 0
            self.order = self._order()

        def _order(self):
            rng = np.random.default_rng([self.seed, self.epoch])
            if self.draw is not None:  # class-balanced, with replacement: an epoch as long as the data
                return rng.choice(len(self.Y), size=len(self.Y), replace=True, p=self.draw)
            return rng.permutation(len(self.Y))

        def __len__(self):
            return max(1, math.ceil(len(self.Y) / self.batch_size))

        def __getitem__(self, index):
            rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
            xs, y = [x[rows] for x in self.X], self.Y[rows]
            w = None if self.weights is None else self.weights[rows]
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            xs, y, w = augment_batch(xs, y, w, rng, self.mixup_alpha, self.spec_inputs, self.kinds)
            x = xs[0] if len(xs) == 1 else tuple(xs)
            return (x, y) if w is None else (x, y, w)

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    _BATCHES["cls"] = Batches
    return Batches


def balanced_probabilities(y: np.ndarray) -> np.ndarray:
    """Each row's chance to be drawn so that every class present is drawn equally often (rows of a class alike)."""
    y = np.asarray(y)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    return 1.0 / (len(counts) * counts[inverse])


def augment_batch(
    xs: list[np.ndarray],
    y: np.ndarray,
    w: np.ndarray | None,
    rng: np.random.Generator,
    mixup_alpha: float,
    spec_inputs: Sequence[int],
    kinds: Sequence[str],
):
    """SpecAugment on the chosen inputs (per example), then mixup (one λ per batch, all inputs alike)."""
    from ..augment import mixup, spec_augment

    xs = list(xs)
    for i in spec_inputs:
        # images are (bands, frames); sequences (frames, coefficients): mask in the (features, time) view
        if kinds[i] == "sequence":
            xs[i] = np.stack(
                [
                    spec_augment(
                        e.T, rng, max_freq_width=max(1, e.shape[1] // 8), max_time_width=max(1, e.shape[0] // 8)
                    ).T
                    for e in xs[i]
                ]
            )
        else:
            xs[i] = np.stack(
                [
                    spec_augment(e, rng, max_freq_width=max(1, e.shape[0] // 8), max_time_width=max(1, e.shape[1] // 8))
                    for e in xs[i]
                ]
            )
    if mixup_alpha > 0 and len(y) > 1:
        _, y_mixed, lam, perm = mixup(xs[0], y, mixup_alpha, rng, return_pairs=True)
        xs = [(lam * x + (1 - lam) * x[perm]).astype(np.float32) for x in xs]
        y = y_mixed.astype(np.float32)
        if w is not None:
            w = (lam * w + (1 - lam) * w[perm]).astype(np.float32)
    return xs, y, w
