"""Emotion of audio files from a saved model (``model.keras`` + ``model.json``, see :mod:`ser_utils.modelfile`).

    python -m ser_utils.predict models/cnn1.keras clip.wav [clip2.wav ...]
    python -m ser_utils.predict models/fusion.keras clip.wav --gender female
    python -m ser_utils.predict MODEL a.wav b.wav --same-speaker          # speaker-normalised models
    python -m ser_utils.predict MODEL a.wav --speaker-ref r1.wav r2.wav   # ... or reference clips
    python -m ser_utils.predict MODEL a.wav --json

Features are recomputed from each file exactly as in training: the feature set(s), their full
parameters and the audio configuration (rate, trimming, loudness, length) are read from
``model.json``; input normalisation is inside the model. Windowed sets are scored per window and
the probabilities averaged. Exit status: 0 when every file was classified, 1 when some file could not
be used (each named on stderr with the reason; the others are still printed), 2 when the model
file (or the command line) is the problem.

In a notebook: ``predict_files(model_path, paths)`` returns a DataFrame, ``load_predictor(path)``
a reusable :class:`Predictor`, ``command_line(*args)`` what the command prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .audio import AudioConfig, AudioError, load_clip
from .modelfile import ModelFileError, load
from .normalize import MODE_OF_KIND, apply, statistics
from .training import predict_proba


class PredictionError(ValueError):
    """A file cannot be classified (not audio, too short, silent ...): ``reason`` says why."""


#: Speaker normalisation needs statistics of the speaker: below this many usable reference clips they
#: are meaningless (one clip has no spread at all) and prediction is refused.
MIN_REFERENCE_CLIPS = 3
#: Below this many clips or seconds of reference the statistics are noisy: prediction says so.
ADVISED_REFERENCE = (5, 10.0)


@dataclass
class Predictor:
    """A loaded model with its label map, feature configuration and audio settings."""

    model: Any
    meta: dict[str, Any]
    path: Path
    audio: AudioConfig = field(init=False)

    def __post_init__(self) -> None:
        self.audio = AudioConfig(**self.meta["audio"])

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def speaker_norm(self) -> bool:
        """Whether the model was trained on speaker-standardised inputs (then it needs reference clips)."""
        return bool(self.meta.get("speaker_norm", self.meta.get("config", {}).get("speaker_norm", False)))

    def clip(self, path: str | Path) -> np.ndarray:
        """The conditioned audio of one file, as in training (:class:`PredictionError` when unusable)."""
        try:
            return load_clip(path, self.audio)
        except AudioError as err:
            raise PredictionError(err.reason) from err

    def features(self, path: str | Path, gender: str | None = None, y: np.ndarray | None = None) -> list[np.ndarray]:
        """The model's inputs for one file, one array per input; rows are windows (one for unwindowed sets)."""
        from .features import compute

        y = self.clip(path) if y is None else y
        rows = pd.DataFrame({"gender": [gender]}) if gender else None
        out = []
        for spec in self.meta["inputs"]:
            try:
                parts = spec.get("parts") or [spec]  # a combined table: its sets' columns side by side
                x = np.concatenate(
                    [compute(part["feature_set"], y, self.audio.sr, part["params"], rows=rows) for part in parts],
                    axis=-1,
                )
            except AudioError as err:
                raise PredictionError(err.reason) from err
            except Exception as err:  # noqa: BLE001 - an odd file must give a reason, not a traceback
                raise PredictionError(f"feature extraction failed: {type(err).__name__}: {err}") from err
            x = x if spec["kind"] == "windows" else x[None]
            if list(x.shape[1:]) != list(spec["shape"]):
                raise ModelFileError(
                    f"{spec['feature_set']} features have shape {list(x.shape[1:])} but the model "
                    f"expects {spec['shape']}: the description does not match the model"
                )
            if not np.all(np.isfinite(x)):
                raise PredictionError("feature extraction failed: non-finite values")
            out.append(x.astype(np.float32))
        return out

    def speaker_statistics(self, paths: Sequence[str | Path], gender: str | None = None) -> tuple[list[tuple], dict]:
        """Per-input statistics of one speaker from reference clips (any emotion), for speaker-normalised
        models, and what they rest on (``clips``, ``seconds``, ``problems``, ``warning``).

        Fewer than :data:`MIN_REFERENCE_CLIPS` usable clips is an error (a ``ValueError``: the call is
        the problem, not a file); fewer than :data:`ADVISED_REFERENCE` clips or seconds gives a warning.
        """
        feats, problems, seconds = [], [], 0.0
        for p in dict.fromkeys(map(str, paths)):
            try:
                y = self.clip(p)
                feats.append(self.features(p, gender, y))
                seconds += len(y) / self.audio.sr
            except PredictionError as err:
                problems.append(f"{p}: {err}")
        if len(feats) < MIN_REFERENCE_CLIPS:
            raise ValueError(
                f"speaker normalisation needs at least {MIN_REFERENCE_CLIPS} reference clips of the same speaker (any "
                f"emotion, ideally {ADVISED_REFERENCE[0]}+ and {ADVISED_REFERENCE[1]:.0f}+ s); {len(feats)} usable "
                f"given" + (f" ({'; '.join(problems)})" if problems else "") + ". With fewer, the statistics have no "
                "spread and the network sees unnormalised features: give more clips with --speaker-ref"
            )
        info = {"clips": len(feats), "seconds": round(seconds, 1), "problems": problems, "warning": ""}
        if len(feats) < ADVISED_REFERENCE[0] or seconds < ADVISED_REFERENCE[1]:
            info["warning"] = (
                f"speaker reference of only {len(feats)} clips ({seconds:.1f} s): the speaker's "
                f"statistics are noisy; {ADVISED_REFERENCE[0]}+ clips and {ADVISED_REFERENCE[1]:.0f}+ s are advised"
            )
        modes = [MODE_OF_KIND.get(spec["kind"], "feature") for spec in self.meta["inputs"]]
        stats = [statistics(np.concatenate([f[i] for f in feats]), mode) for i, mode in enumerate(modes)]
        return stats, info

    def probabilities(
        self, path: str | Path, *, gender: str | None = None, speaker_stats: list[tuple] | None = None
    ) -> pd.Series:
        """Class probabilities of one file (mean over its windows), indexed by emotion."""
        X = self.features(path, gender)
        if self.speaker_norm:
            if speaker_stats is None:
                raise ValueError(
                    "this model was trained on speaker-normalised features: give reference clips of "
                    "the same speaker (speaker_ref=[...], --speaker-ref) or same_speaker=True"
                )
            X = [apply(x, *stats) for x, stats in zip(X, speaker_stats)]
        proba = predict_proba(self.model, X).mean(axis=0)
        return pd.Series(proba, index=self.labels, name=str(path))

    def predict(
        self,
        paths: Sequence[str | Path],
        *,
        gender: str | None = None,
        speaker_ref: Sequence[str | Path] | None = None,
        same_speaker: bool = False,
    ) -> pd.DataFrame:
        """One row per file: emotion, confidence, a probability column per emotion, and ``error`` (why a
        file could not be classified; its other columns are then empty). For a speaker-normalised model,
        ``reference_clips`` and ``reference_s`` say what the speaker's statistics rest on, and
        ``table.attrs["reference"]`` holds the details (and a warning when the reference is small)."""
        paths = [str(p) for p in paths]
        stats, info = None, None
        if self.speaker_norm:
            refs = list(speaker_ref or []) or (paths if same_speaker else [])
            if not refs:
                raise ValueError(
                    "this model was trained on speaker-normalised features: give reference clips of the "
                    "same speaker (speaker_ref=[...] / --speaker-ref) or, when all files are one "
                    "speaker's, same_speaker=True / --same-speaker"
                )
            stats, info = self.speaker_statistics(refs, gender)
        rows = []
        for p in paths:
            try:
                proba = self.probabilities(p, gender=gender, speaker_stats=stats)
                rows.append(
                    {
                        "file": p,
                        "emotion": proba.idxmax(),
                        "confidence": float(proba.max()),
                        **{f"p_{k}": float(v) for k, v in proba.items()},
                        "error": "",
                    }
                )
            except PredictionError as err:
                rows.append({"file": p, "emotion": None, "confidence": np.nan, "error": str(err)})
            except Exception as err:  # noqa: BLE001 - one odd file must not cost the others their results
                rows.append(
                    {
                        "file": p,
                        "emotion": None,
                        "confidence": np.nan,
                        "error": f"unexpected failure: {type(err).__name__}: {str(err).strip()[:200]}",
                    }
                )
        columns = ["file", "emotion", "confidence", *[f"p_{k}" for k in self.labels], "error"]
        table = pd.DataFrame(rows).reindex(columns=columns)
        if info is not None:
            table.insert(len(columns) - 1, "reference_clips", info["clips"])
            table.insert(len(columns), "reference_s", info["seconds"])
            table.attrs["reference"] = info
        return table


def load_predictor(model_path: str | Path) -> Predictor:
    """Load ``model.keras`` and its description; :class:`ModelFileError` with the reason when it cannot."""
    model, meta = load(model_path)
    return Predictor(model, meta, Path(model_path))


def predict_files(model_path: str | Path, paths: Sequence[str | Path] | str | Path, **kwargs: Any) -> pd.DataFrame:
    """Predict the emotion of each file (see :meth:`Predictor.predict`); the loaded model is reused."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return load_predictor(model_path).predict(paths, **kwargs)


def demo(model_path: str | Path, manifest: pd.DataFrame, *, gender_column: str = "gender") -> tuple[pd.DataFrame, str]:
    """The notebooks' prediction demo: one clip per emotion of the first speaker, from Python and from the
    command line (its :func:`main`, run in this process; a speaker-normalised model gets up to 10 of the
    speaker's clips as its reference).
    Returns (the prediction table with the true emotion, what the command printed).

    Those clips were in training, so this shows how to use a model, not how good it is.
    """
    predictor = load_predictor(model_path)
    one = manifest[manifest["speaker"] == manifest["speaker"].iloc[0]]
    clips = one.groupby("emotion").head(1)
    gender = str(one[gender_column].iloc[0]) if gender_column in one else ""
    gender = gender if gender in ("male", "female") else None
    refs = list(one["path"].head(max(10, len(clips)))) if predictor.speaker_norm else None  # the speaker's reference
    table = predictor.predict(list(clips["path"]), gender=gender, speaker_ref=refs).assign(true=list(clips["emotion"]))
    table["file"] = table["file"].map(lambda p: Path(p).name)
    args = [
        str(model_path),
        str(clips["path"].iloc[0]),
        *(["--gender", gender] if gender else []),
        *(["--speaker-ref", *refs] if refs else []),
    ]
    status, printed = _run_main(args)
    shown = (
        f"$ python -m ser_utils.predict {Path(model_path).name} {Path(clips['path'].iloc[0]).name}"
        f"{' --gender ' + gender if gender else ''}{' --speaker-ref ...' if refs else ''}   → exit status {status}"
    )
    return table, shown + "\n" + printed


# --------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ser_utils.predict",
        description="Predict the emotion of audio files with a saved ser-lab model.",
        epilog="Exit status: 0 all files classified, 1 some file unusable, 2 model or usage error.",
    )
    parser.add_argument("model", help="the model file (.keras), with its .json description beside it")
    parser.add_argument("files", nargs="+", help="audio files (any format libsndfile reads)")
    parser.add_argument(
        "--gender",
        choices=["male", "female"],
        help="the speaker's gender, for models that use it (fusion with the stats set; unknown otherwise)",
    )
    parser.add_argument(
        "--speaker-ref",
        nargs="+",
        metavar="FILE",
        help="clips of the same speaker (any emotion), for speaker-normalised models",
    )
    parser.add_argument(
        "--same-speaker", action="store_true", help="all files are one speaker's: use them as the speaker reference"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per file instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        predictor = load_predictor(args.model)
        table = predictor.predict(
            args.files, gender=args.gender, speaker_ref=args.speaker_ref, same_speaker=args.same_speaker
        )
    except (ModelFileError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    reference = table.attrs.get("reference")
    if reference:
        print(f"speaker reference: {reference['clips']} clips, {reference['seconds']:.1f} s", file=sys.stderr)
        for problem in reference["problems"]:
            print(f"warning: reference clip left out: {problem}", file=sys.stderr)
        if reference["warning"]:
            print(f"warning: {reference['warning']}", file=sys.stderr)
    ok = table[table["error"] == ""]
    for row in table[table["error"] != ""].itertuples():
        print(f"error: {row.file}: cannot use this file: {row.error}", file=sys.stderr)
    if args.json:
        for record in ok.to_dict("records"):
            print(
                json.dumps(
                    {
                        "file": record["file"],
                        "emotion": record["emotion"],
                        "confidence": round(record["confidence"], 4),
                        "probabilities": {k[2:]: round(v, 4) for k, v in record.items() if k.startswith("p_")},
                    }
                )
            )
    elif len(ok):
        shown = ok.drop(columns="error").rename(columns=lambda c: c[2:] if c.startswith("p_") else c)
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0 if len(ok) == len(table) else 1


def command_line(*args: Any) -> str:
    """What ``python -m ser_utils.predict ARGS`` prints, and its exit status, as a terminal transcript.

    Runs the same :func:`main` in this process: no second interpreter (and TensorFlow start-up) per call.
    Paths are shown by their file name.
    """
    status, printed = _run_main(args)
    shown = [Path(str(a)).name if Path(str(a)).exists() else str(a) for a in args]
    return f"$ python -m ser_utils.predict {' '.join(shown)}   → exit status {status}\n{printed}"


def _run_main(args: Sequence[Any]) -> tuple[int, str]:
    """(exit status, what it printed: stdout then stderr) of :func:`main` run here on ``args``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as stop:  # argparse's usage errors
            status = stop.code if isinstance(stop.code, int) else 2
    return status, out.getvalue() + err.getvalue()


if __name__ == "__main__":
    sys.exit(main())
