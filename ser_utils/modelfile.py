"""The saved-model format: ``model.keras`` and, beside it, ``model.json`` with what prediction needs.

The description holds the label map, how to recompute every input from a wav file (feature set,
full parameters, kind, shape; a combined table lists its parts), the audio settings, whether inputs
were speaker-normalised, the network's name, hyper-parameters and training settings, and where it
was trained. Training writes it (:func:`write`), prediction reads it (:func:`read_description`);
both import only this module, so neither depends on the other.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

#: Version of the ``model.json`` written next to a saved model.
MODEL_FORMAT = "ser-lab-model/1"


class ModelFileError(ValueError):
    """The model file or its description is missing, unreadable or not a ser-lab model."""


def description_path(model_path: str | Path) -> Path:
    """``model.json`` beside ``model.keras``."""
    return Path(model_path).with_suffix(".json")


def json_default(value: Any) -> Any:
    """JSON for the numpy scalars, arrays and tuples found in parameters."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _atomic_write_text(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write(path: str | Path, network: Any, description: dict[str, Any]) -> tuple[Path, Path]:
    """Save ``network`` to ``path`` (``.keras``) and ``description`` beside it; each file appears whole or not at all."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.keras")
    network.save(tmp)
    os.replace(tmp, path)
    meta = description_path(path)
    _atomic_write_text(meta, json.dumps({"format": MODEL_FORMAT, **description}, indent=1, default=json_default))
    return path, meta


def read_description(model_path: str | Path) -> dict[str, Any]:
    """The checked contents of the model's ``.json`` (no TensorFlow needed)."""
    path = Path(model_path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if path.is_dir() or path.suffix != ".keras":
        raise ModelFileError(
            f"{path} is not a Keras model file: expected a file ending in .keras "
            f"(saved by ser-lab, with its .json beside it)"
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a valid .keras file (a .keras file is a zip archive)")
    meta_path = description_path(path)
    if not meta_path.is_file():
        raise ModelFileError(
            f"{meta_path.name} is missing next to {path.name}: prediction needs the label map and "
            f"feature configuration saved with the model (save_network writes both)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{meta_path} is not valid JSON: {err}") from err
    missing = (
        [k for k in ("format", "model", "labels", "inputs", "audio") if k not in meta]
        if isinstance(meta, dict)
        else ["all"]
    )
    if missing or meta.get("format") != MODEL_FORMAT:
        raise ModelFileError(
            f"{meta_path} is not a ser-lab model description (format {MODEL_FORMAT!r}; "
            f"missing: {', '.join(missing) or 'none'}, format: {meta.get('format') if isinstance(meta, dict) else '?'})"
        )
    return meta


_LOADED: dict[tuple[str, float], tuple[Any, dict[str, Any]]] = {}


def load(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(Keras model, description) of a saved network, read once per process (keyed by path and mtime)."""
    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime if path.exists() else 0.0)
    if key not in _LOADED:
        description = read_description(path)
        from .models import keras_module

        try:
            network = keras_module().models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001 - Keras raises many kinds; the user needs one clear message
            text = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise ModelFileError(f"could not load {path} as a Keras model: {type(err).__name__}: {text}") from err
        if int(network.output_shape[-1]) != len(description["labels"]):
            raise ModelFileError(
                f"{path} has {int(network.output_shape[-1])} outputs but its description "
                f"lists {len(description['labels'])} labels"
            )
        _LOADED[key] = (network, description)
    return _LOADED[key]
