"""Embeddings of large pretrained speech models as feature sets: frozen, pooled over time, offline-safe.

``whisper``: the encoder of Keras Hub's Whisper backbone (TensorFlow, as the networks of 05-08).
``wavlm``, ``hubert``, ``wav2vec2``: Hugging Face ``transformers`` models (PyTorch; an optional extra,
``pip install -e '.[embeddings-torch]'``). Each clip gives one vector: the hidden states of one layer
(``layer``: an index, -1 the last; or ``"average"`` of every layer), pooled over the clip's frames
(``pooling``: ``"mean"`` or ``"mean+std"``).

Nothing is downloaded here, ever by importing: weights come from a local folder (``checkpoint`` is a
path) or from ``$SER_CACHE_DIR/weights/<set>/<checkpoint>``, which one explicit command fills::

    python -m ser_utils.features.embeddings fetch whisper whisper_base_multi

Without them, :func:`check_weights` raises :class:`WeightsNotFound`, naming the folders it looked in and
that command; the notebooks skip the set with that reason and go on.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths

#: The library each embedding set needs, and the checkpoint it loads by default.
LIBRARIES = {"whisper": "keras_hub", "wavlm": "transformers", "hubert": "transformers", "wav2vec2": "transformers"}
DEFAULT_CHECKPOINTS = {
    "whisper": "whisper_base_multi",
    "wavlm": "microsoft/wavlm-base-plus",
    "hubert": "facebook/hubert-base-ls960",
    "wav2vec2": "facebook/wav2vec2-base",
}
INSTALL = {"keras_hub": "pip install keras-hub", "transformers": "pip install -e '.[embeddings-torch]'"}
POOLINGS = ("mean", "mean+std")
#: Samples per encoder frame: Whisper's mel hop (160) times its stride-2 convolution; HF models: 320.
SAMPLES_PER_FRAME = 320
SR = 16000

_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


class WeightsNotFound(RuntimeError):
    """The weights of an embedding set are not on this machine (and are never fetched silently)."""


def weights_folder(name: str, checkpoint: str) -> Path:
    """Where :func:`fetch` keeps ``checkpoint`` of set ``name``: ``$SER_CACHE_DIR/weights/<name>/<checkpoint>``."""
    return paths.cache_dir("weights") / name / checkpoint.replace("/", "__")


def absolute_checkpoint(checkpoint: str) -> str:
    """A checkpoint that names an existing folder, as an absolute path (workers may start elsewhere); others as given."""
    folder = Path(str(checkpoint)).expanduser()
    return str(folder.resolve()) if folder.is_dir() else str(checkpoint)


def check_settings(name: str, params: Mapping[str, Any]) -> Path:
    """Everything a set needs before any file is tried: its libraries, weights, and a valid layer and pooling."""
    if params["pooling"] not in POOLINGS:
        raise ValueError(f"{name}: pooling must be one of {POOLINGS}, got {params['pooling']!r}")
    layer = params["layer"]
    if layer != "average" and not (isinstance(layer, (int, np.integer)) and not isinstance(layer, bool)):
        raise ValueError(
            f"{name}: layer must be an index of the hidden states (-1: the last) or 'average', got {layer!r}"
        )
    return check_weights(name, params["checkpoint"])


def check_weights(name: str, checkpoint: str | None = None) -> Path:
    """The folder holding the weights of ``checkpoint`` (a path, or a name fetched before); else
    :class:`WeightsNotFound` saying where it looked and the one command that fetches them."""
    checkpoint = checkpoint or DEFAULT_CHECKPOINTS[name]
    library = LIBRARIES[name]
    for package in (library, "torch") if library == "transformers" else (library,):
        if importlib.util.find_spec(package) is None:
            raise WeightsNotFound(f"feature set {name!r} needs the {package} package: {INSTALL[library]}")
    given = Path(checkpoint).expanduser()
    candidates = [given] if given.is_absolute() or given.exists() else [weights_folder(name, checkpoint)]
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    looked = ", ".join(str(c / "config.json") for c in candidates)
    raise WeightsNotFound(
        f"no weights for {name} {checkpoint!r} on this machine (looked for {looked}). With internet access, "
        f"fetch them once: python -m ser_utils.features.embeddings fetch {name} {checkpoint}"
    )


def fetch(name: str, checkpoint: str | None = None) -> Path:
    """Download ``checkpoint`` (a Keras Hub preset or a Hugging Face model id) into :func:`weights_folder`."""
    checkpoint = checkpoint or DEFAULT_CHECKPOINTS[name]
    library = LIBRARIES[name]
    if importlib.util.find_spec(library) is None:
        raise WeightsNotFound(f"fetching {name} weights needs the {library} package: {INSTALL[library]}")
    target = weights_folder(name, checkpoint)
    if library == "keras_hub":
        _keras_hub().models.WhisperBackbone.from_preset(checkpoint).save_to_preset(str(target))
    else:
        import transformers

        transformers.AutoModel.from_pretrained(checkpoint).save_pretrained(target)
        try:
            transformers.AutoFeatureExtractor.from_pretrained(checkpoint).save_pretrained(target)
        except (OSError, ValueError):  # some checkpoints carry no feature-extractor settings
            pass
    return target


def _keras_hub():
    from ..models import keras_module

    keras_module()  # Keras on its backend (Whisper on Keras Hub: TensorFlow), quietly
    import keras_hub

    return keras_hub


def _encoder(name: str, folder: Path) -> Any:
    """The loaded model (once per process): for whisper a Keras model from mel features to every encoder
    layer's output; for the others (model, feature extractor or None)."""
    key = (name, str(folder))
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load_whisper(folder) if name == "whisper" else _load_hf(folder)
        return _LOADED[key]


def _load_whisper(folder: Path) -> Any:
    keras_hub = _keras_hub()
    import keras

    backbone = keras_hub.models.WhisperBackbone.from_preset(str(folder))
    n = backbone.num_layers
    names = ["encoder_embeddings_dropout", *[f"transformer_encoder_layer_{i}" for i in range(n - 1)]]
    outputs = [backbone.get_layer(layer).output for layer in names] + [backbone.get_layer("encoder_layer_norm").output]
    converter = keras_hub.layers.WhisperAudioConverter(num_mels=backbone.num_mels)
    return keras.Model(backbone.input["encoder_features"], outputs), converter


def _load_hf(folder: Path) -> Any:
    import torch
    import transformers

    model = transformers.AutoModel.from_pretrained(folder).eval()
    if torch.cuda.is_available():
        model = model.to("cuda")
    try:
        extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    except (OSError, ValueError):
        extractor = None
    return model, extractor


def _pool(states: Sequence[np.ndarray], layer: int | str, pooling: str) -> np.ndarray:
    """One vector from hidden states (each frames × dims): the chosen layer (or all, averaged), pooled."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if layer == "average":
        chosen = np.mean(np.stack(states), axis=0)
    elif isinstance(layer, (int, np.integer)) and -len(states) <= int(layer) < len(states):
        chosen = states[int(layer)]
    else:
        raise ValueError(f"layer must be an index between {-len(states)} and {len(states) - 1}, or 'average'")
    parts = [chosen.mean(axis=0)] + ([chosen.std(axis=0)] if pooling == "mean+std" else [])
    return np.concatenate(parts).astype(np.float32)


def embed_batch(
    name: str,
    clips: Sequence[np.ndarray],
    sr: int,
    *,
    checkpoint: str | None = None,
    layer: int | str = -1,
    pooling: str = "mean",
) -> list[np.ndarray]:
    """The embedding of each clip (mono, at ``sr`` = 16 kHz); Whisper's clips go through the encoder together."""
    if sr != SR:
        raise ValueError(f"pretrained speech models take {SR} Hz audio, got {sr} Hz (set sample_rate = {SR})")
    folder = check_weights(name, checkpoint)
    if name == "whisper":
        model, converter = _encoder(name, folder)
        limit = converter.num_samples
        mel = converter(np.stack([np.pad(c[:limit], (0, limit - len(c[:limit]))) for c in clips]).astype(np.float32))
        states = [np.asarray(s) for s in model(mel)]
        frames = [max(1, min(states[0].shape[1], int(np.ceil(len(c) / SAMPLES_PER_FRAME)))) for c in clips]
        return [_pool([s[i, : frames[i]] for s in states], layer, pooling) for i in range(len(clips))]
    import torch

    model, extractor = _encoder(name, folder)
    out = []
    for clip in clips:
        if extractor is not None:
            values = extractor(clip, sampling_rate=SR, return_tensors="pt")["input_values"]
        else:
            values = torch.from_numpy(((clip - clip.mean()) / np.sqrt(clip.var() + 1e-7))[None].astype(np.float32))
        with torch.no_grad():
            hidden = model(values.to(model.device), output_hidden_states=True).hidden_states
        out.append(_pool([h[0].cpu().numpy() for h in hidden], layer, pooling))
    return out


def embedding_function(name: str):
    """The per-clip function of set ``name`` (a batch of one), with its parameters as keywords."""

    def function(
        y: np.ndarray,
        sr: int,
        *,
        checkpoint: str = DEFAULT_CHECKPOINTS[name],
        layer: int | str = -1,
        pooling: str = "mean",
    ) -> np.ndarray:
        return embed_batch(name, [y], sr, checkpoint=checkpoint, layer=layer, pooling=pooling)[0]

    function.__name__ = f"{name}_embedding"
    function.__doc__ = f"{name} embedding of one clip (see :mod:`ser_utils.features.embeddings`)."
    return function


def batch_function(name: str):
    """The batch function of set ``name``: ``(clips, sr, **params) -> list of vectors``."""

    def function(clips: Sequence[np.ndarray], sr: int, **params: Any) -> list[np.ndarray]:
        return embed_batch(name, clips, sr, **params)

    return function


def available(names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str | None]:
    """For each embedding set: None when its weights are here, else the reason it cannot run (and how to fix it)."""
    params = params or {}
    status: dict[str, str | None] = {}
    for name in names:
        try:
            check_weights(name, dict(params.get(name) or {}).get("checkpoint"))
            status[name] = None
        except WeightsNotFound as err:
            status[name] = str(err)
    return status


def main(argv: list[str] | None = None) -> int:
    """``python -m ser_utils.features.embeddings fetch NAME [CHECKPOINT]`` (needs internet), or ``check``."""
    parser = argparse.ArgumentParser(prog="python -m ser_utils.features.embeddings", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["fetch", "check"])
    parser.add_argument("name", choices=sorted(LIBRARIES))
    parser.add_argument("checkpoint", nargs="?", help="a Keras Hub preset / Hugging Face model id, or a folder")
    args = parser.parse_args(argv)
    try:
        folder = (
            fetch(args.name, args.checkpoint) if args.action == "fetch" else check_weights(args.name, args.checkpoint)
        )
    except WeightsNotFound as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{args.name} weights: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
