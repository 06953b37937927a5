"""How a network is trained: one mapping of settings, the same in every fold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class TrainConfig:
    """Training settings (notebooks pass a mapping of the ones they change: ``TrainConfig.from_dict(training)``).

    Adam (``weight_decay`` > 0: decoupled weight decay, AdamW) on categorical cross-entropy
    (``label_smoothing`` > 0 softens the targets). ``epochs`` is a ceiling: training stops after
    ``patience`` epochs without a better validation loss and the best epoch's weights are kept; the
    learning rate is multiplied by ``reduce_lr_factor`` after ``reduce_lr_patience`` epochs without
    progress (0 disables). ``val_fraction``: share of the training speakers held out for these
    decisions (:func:`ser_utils.splits.validation_split`). ``class_weight``: weight rows by inverse
    class frequency. ``balanced_batches``: instead, draw every epoch's rows class-balanced (with replacement,
    each emotion as often; as many rows as the training part has), so rare emotions are seen as often as common
    ones rather than weighted up. ``mixup_alpha`` > 0: mixup of training batches, Beta(α, α). ``spec_augment``:
    SpecAugment masks on image and sequence inputs of training batches. ``refit``: once early
    stopping has chosen the number of epochs, train a fresh network on the whole training part
    (validation speakers included) for that many epochs (about twice the cost). ``ensemble``: that many
    networks (seeds differ), probabilities averaged (cost × n). ``progressive_epochs`` > 0:
    progressive resizing, for a network given one input more than it takes (the same clips as larger
    images): that many epochs on them after the small ones. ``devices``: TensorFlow devices to train on data
    parallel (TensorFlow backend only) (e.g. ``["/gpu:0", "/gpu:1"]``; empty: every GPU when there are several,
    :func:`ser_utils.models.backend.distribution`). ``deterministic``: TensorFlow's deterministic ops (on two CPU cores
    they cost little, about 1.4× for the BiLSTM; seeded CPU runs repeat exactly without them). ``mixed_precision``: "auto" = on a GPU
    only, TensorFlow backend only (True: on any backend's GPU).
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    patience: int = 4
    reduce_lr_patience: int = 3
    reduce_lr_factor: float = 0.5
    min_lr: float = 1e-6
    val_fraction: float = 0.1
    class_weight: bool = True
    balanced_batches: bool = False
    mixup_alpha: float = 0.0
    spec_augment: bool = False
    refit: bool = False
    ensemble: int = 1
    progressive_epochs: int = 0
    seed: int = 0
    devices: tuple[str, ...] = ()
    deterministic: bool = False
    mixed_precision: bool | str = "auto"
    verbose: int = 0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | TrainConfig | None = None, **changes: Any) -> TrainConfig:
        """A config from a mapping (e.g. a notebook's ``training`` parameter) plus ``changes``; unknown keys are an error."""
        values = asdict(values) if isinstance(values, TrainConfig) else dict(values or {})
        values.update(changes)
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ValueError(f"TrainConfig has no setting(s) {unknown}; valid: {valid}")
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some settings changed (unknown names are an error)."""
        return TrainConfig.from_dict(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
