"""The model registry: every neural network of the study by name, with the features it expects."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import cnn, dense, fusion, pooling, recurrent

#: Feature-set kinds each input kind accepts (a windowed set is a vector per window).
ACCEPTS = {"vector": ("vector", "windows"), "sequence": ("sequence",), "image": ("image",)}


@dataclass(frozen=True)
class ModelSpec:
    """One named network: its builder, the feature set(s) it is meant for, and how inputs are normalised.

    ``inputs``: default feature set per model input, in the builder's order; ``input_kinds``: what kind
    of array each input takes (vector, sequence, image); ``norm``: normalisation statistics per input
    (per feature, per mel band, global); ``feature_params``: parameters of the feature sets that differ
    from the sets' defaults.
    """

    name: str
    builder: Callable[..., Any]
    inputs: tuple[str, ...]
    input_kinds: tuple[str, ...]
    norm: tuple[str, ...]
    description: str
    reference: str
    feature_params: tuple[dict, ...] = ()
    multi_input: bool = False
    notes: str = field(default="", repr=False)

    def defaults(self) -> dict[str, Any]:
        """The builder's hyper-parameters and their defaults."""
        return {
            k: p.default
            for k, p in inspect.signature(self.builder).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and k != "norm"
        }

    def check_params(self, params: dict[str, Any]) -> None:
        unknown = sorted(set(params) - set(self.defaults()))
        if unknown:
            raise ValueError(
                f"model {self.name!r} has no hyper-parameter(s) {unknown}; valid: {sorted(self.defaults())}"
            )

    def build(self, input_shapes: Sequence[Sequence[int]], n_classes: int, *, norm=None, **params):
        """The uncompiled Keras model for these input shapes (one per input) and classes."""
        self.check_params(params)
        shapes = [tuple(int(d) for d in s) for s in input_shapes]
        if len(shapes) != len(self.inputs):
            raise ValueError(
                f"model {self.name!r} takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), "
                f"got {len(shapes)} shape(s)"
            )
        if self.multi_input:
            return self.builder(shapes, n_classes, norm=norm, **params)
        return self.builder(shapes[0], n_classes, norm=None if norm is None else norm[0], **params)


def _spec(name, builder, inputs, kinds, norm, description, reference, feature_params=(), **kw) -> ModelSpec:
    return ModelSpec(
        name,
        builder,
        tuple(inputs),
        tuple(kinds),
        tuple(norm),
        description,
        reference,
        tuple(feature_params) or tuple({} for _ in inputs),
        **kw,
    )


# A table: one entry per line reads better than one argument per line.
# fmt: off
#: Every network, by name: (builder, expected feature set(s) and input kind, description).
MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    _spec("cnn1", cnn.cnn1, ["kaggle162"], ["vector"], ["feature"],
          "Conv1D 128×5 → dropout 0.2 → softmax", "002 CRNN study: CNN-1"),
    _spec("cnn4", cnn.cnn4, ["kaggle162"], ["vector"], ["feature"],
          "4 × (Conv1D + max-pool), dropout 0.2/0.3, dense 32 → softmax", "002 CRNN study: CNN-4"),
    _spec("crnn", recurrent.crnn, ["kaggle162"], ["vector"], ["feature"],
          "Conv1D blocks (3-4, kernel 3/5, activation per layer) → 4 stacked LSTM/GRU 64 → softmax",
          "002 CRNN study: CRNN and its variations"),
    _spec("conv1d5", cnn.conv1d5, ["window160"], ["vector"], ["feature"],
          "5 × (Conv1D + max-pool), filters growing, kernels shrinking → 2 × (dense + dropout) → softmax",
          "003 EMOVO study (2 s windows, probabilities averaged per clip)"),
    _spec("lstm", recurrent.lstm, ["mfcc_seq"], ["sequence"], ["feature"],
          "LSTM 256 → LSTM 64 → dense 128 → softmax, dropouts", "004 LSTM study"),
    _spec("bilstm", recurrent.bilstm, ["logmel"], ["image"], ["band"],
          "2 × bidirectional LSTM over log-mel frames → dropout → softmax", "000 DeepEmoNet: log-mel + BiLSTM"),
    _spec("cnn2d", cnn.cnn2d, ["logmel"], ["image"], ["band"],
          "4 × (Conv2D + BN + max-pool) → global pooling → softmax", "000 DeepEmoNet / 003: 2-D CNN on log-mel"),
    _spec("resnet", cnn.resnet, ["logmel"], ["image"], ["band"],
          "ResNet-34-style (basic blocks 3-4-6-3), from scratch; ImageNet ResNet-50 when weights are given",
          "000 DeepEmoNet: log-mel + ResNet34"),
    _spec("statpool", pooling.statpool, ["logmel"], ["image"], ["band"],
          "3 × dilated Conv1D over log-mel frames → mean and variance over time (attentive: attention > 0) → dense",
          "a recipe (x-vector-style statistics pooling), not a reference architecture"),
    _spec("statpool_lld", pooling.statpool_frames, ["egemaps_lld"], ["sequence"],
          ["feature"], "statpool over eGeMAPS low-level descriptors (frames × 25) instead of log-mel frames",
          "a recipe: frame-level eGeMAPS descriptors as a sequence input"),
    _spec("dense_compare", dense.dense, ["compare"], ["vector"], ["feature"],
          "dense 256 (ReLU, L2) between dropouts over the 6,373 ComParE functionals (04's reference input)",
          "a recipe: a network on the input of 04's strongest model"),
    _spec("fusion", fusion.fusion, ["kaggle162", "stats"], ["vector", "vector"], ["feature", "feature"],
          "Conv1D deep features (32) ⊕ statistics + gender → MLP / LSTM / BiLSTM head",
          "001 SER-FusionNet", multi_input=True),
    _spec("fusion2d", fusion.fusion, ["logmel", "stats"], ["image", "vector"], ["band", "feature"],
          "Conv2D deep features (32) from the log-mel image ⊕ statistics + gender → MLP / LSTM / BiLSTM head",
          "001 SER-FusionNet (its Conv2D extractor)", multi_input=True),
]}
# fmt: on


def get_model(name: str) -> ModelSpec:
    """The spec called ``name``; an unknown name lists the valid ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}") from None


def build_model(name: str, input_shapes: Sequence[Sequence[int]], n_classes: int, *, norm=None, **params):
    """Build the named network (uncompiled) for ``input_shapes`` (one per input, no batch axis)."""
    return get_model(name).build(input_shapes, n_classes, norm=norm, **params)


def describe_models() -> pd.DataFrame:
    """One row per network: its feature set(s), input kind, description, reference and hyper-parameters."""
    rows = [
        {
            "model": s.name,
            "features": " + ".join(s.inputs),
            "input": " + ".join(s.input_kinds),
            "description": s.description,
            "reference": s.reference,
            "hyper-parameters": ", ".join(f"{k}={v!r}" for k, v in s.defaults().items()),
        }
        for s in MODELS.values()
    ]
    return pd.DataFrame(rows).set_index("model")
