"""Notebook parameters: layered YAML files, ``-p key=value`` overrides, and validation.

Papermill only *warns* about a parameter a notebook does not declare, so a misspelled ``-p`` would
silently run with the default. Here every key is checked against the ``parameters`` cells of the
notebooks before anything runs, with a "did you mean" hint, and values are checked against the type
of the notebook's default.

Each notebook's ``parameters`` cell holds its defaults (papermill's convention); the layers hold only
changes, later wins: ``params/<dataset>.yaml`` → ``params/quick.yaml`` (with ``--quick``) →
``--params FILE`` → ``-p key=value``. A YAML file holds flat keys, which go to every notebook that
declares them, and an optional ``notebooks:`` mapping of per-notebook keys
(``notebooks: {05_cnn: {networks: [cnn1]}}``); on the command line ``-p 05_cnn.networks=[cnn1]`` does the
same. A mapping value is merged into the same mapping of an earlier layer and, last, into the notebook's
default mapping (``-p training='{epochs: 5}'`` keeps the other training settings of ``--quick`` and of
the notebook).
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NOTEBOOK_SECTION = "notebooks"


class ParameterError(ValueError):
    """A parameter is unknown, malformed or of the wrong type."""


@dataclass
class ParameterSet:
    """Global parameters plus per-notebook overrides, merged layer by layer."""

    common: dict[str, Any] = field(default_factory=dict)
    per_notebook: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def update(self, other: ParameterSet) -> None:
        """Overlay ``other`` on this set: its values win, its flat keys over earlier per-notebook ones too
        (``-p network=cnn1`` beats ``notebooks: {08_transfer_learning: {network: conv1d5}}`` in a dataset's
        file); a flat mapping merges into an earlier per-notebook mapping instead of replacing it."""
        for values in self.per_notebook.values():
            for key, value in other.common.items():
                if isinstance(value, dict) and isinstance(values.get(key), dict):
                    _merge(values[key], value)
                else:
                    values.pop(key, None)
        _merge(self.common, other.common)
        for nb, values in other.per_notebook.items():
            _merge(self.per_notebook.setdefault(nb, {}), values)
        self.sources.extend(other.sources)

    def for_notebook(self, notebook: str, declared: dict[str, Any]) -> dict[str, Any]:
        """The values to inject into ``notebook``: only the keys its parameters cell declares."""
        merged = {k: v for k, v in self.common.items() if k in declared}
        _merge(merged, self.per_notebook.get(notebook, {}))
        defaults = {k: v for k, v in declared.items() if isinstance(v, dict) and isinstance(merged.get(k), dict)}
        _merge(defaults, {k: merged[k] for k in defaults})  # a mapping changes the notebook's default mapping
        return {**merged, **defaults}


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    """``into.update(values)``, except that a mapping merges into a mapping already there (recursively)."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merged = dict(into[key])
            _merge(merged, value)
            into[key] = merged
        else:
            into[key] = value


def load_yaml(path: str | Path) -> ParameterSet:
    """Read one parameter file; an empty file is an empty set."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"parameter file not found: {path}")
    try:
        data = _yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParameterError(f"{path} must hold a mapping of parameter: value, not {type(data).__name__}")
    per_notebook = data.pop(NOTEBOOK_SECTION, None) or {}
    if not isinstance(per_notebook, dict) or not all(isinstance(v, dict) for v in per_notebook.values()):
        raise ParameterError(f"{path}: '{NOTEBOOK_SECTION}:' must map notebook names to mappings of parameters")
    return ParameterSet(dict(data), {k: dict(v) for k, v in per_notebook.items()}, [str(path)])


class _Loader(yaml.SafeLoader):
    """YAML loader that reads ``1e-4`` as a float (plain YAML 1.1 reads it as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _parse_value(raw: str) -> Any:
    """A command-line value as YAML; an empty value is ``None``."""
    return _yaml(raw) if raw.strip() else None


def parse_overrides(items: list[str]) -> ParameterSet:
    """Parse ``key=value`` strings; values are read as YAML (``3`` is an int, ``[a, b]`` a list)."""
    result = ParameterSet(sources=["command line"] if items else [])
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"-p expects key=value, got {item!r} (example: -p seed=1)")
        try:
            value = _parse_value(raw)
        except yaml.YAMLError as exc:
            raise ParameterError(f"-p {item!r}: the value is not valid YAML ({exc})") from exc
        notebook, dot, name = key.rpartition(".")
        if dot:
            result.per_notebook.setdefault(notebook, {})[name] = value
        else:
            result.common[key] = value
    return result


def declared_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters a notebook declares, name → default value (``None`` when not a literal)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    defaults: dict[str, Any] = {}
    for name, info in declared.items():
        try:
            defaults[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError):
            defaults[name] = None
    return defaults


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _type_ok(value: Any, default: Any) -> bool:
    """Is ``value`` acceptable where the notebook's default is ``default``?"""
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def validate(params: ParameterSet, declared: dict[str, dict[str, Any]]) -> None:
    """Raise ParameterError for keys no notebook declares or values of the wrong type.

    ``declared`` maps notebook name → its declared parameters (name → default).
    """
    problems: list[str] = []
    all_names = sorted({name for params_ in declared.values() for name in params_})
    for key, value in params.common.items():
        if key not in all_names:
            problems.append(f"unknown parameter '{key}'.{_suggest(key, all_names)}")
            continue
        for nb, nb_params in declared.items():
            if key in nb_params and not _type_ok(value, nb_params[key]):
                problems.append(
                    f"parameter '{key}' = {value!r} should be a {type(nb_params[key]).__name__} "
                    f"(the default in {nb} is {nb_params[key]!r})"
                )
                break
    for nb, values in params.per_notebook.items():
        if nb not in declared:
            problems.append(f"unknown notebook '{nb}'.{_suggest(nb, sorted(declared))}")
            continue
        names = sorted(declared[nb])
        for key, value in values.items():
            if key not in declared[nb]:
                problems.append(f"notebook {nb} has no parameter '{key}'.{_suggest(key, names)}")
            elif not _type_ok(value, declared[nb][key]):
                problems.append(
                    f"parameter '{nb}.{key}' = {value!r} should be a {type(declared[nb][key]).__name__} "
                    f"(its default is {declared[nb][key]!r})"
                )
    if problems:
        listing = ", ".join(all_names)
        raise ParameterError("invalid parameters:\n  - " + "\n  - ".join(problems) + f"\nKnown parameters: {listing}")
