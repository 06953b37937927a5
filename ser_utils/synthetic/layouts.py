"""The three real corpus layouts the synthetic corpora imitate: folders, file names, formats, sizes.

- EMOVO (Costantini et al. 2014): ``EMOVO/f1/dis-f1-b1.wav``, 48 kHz 16-bit stereo (a few files mono),
  6 speakers x 14 sentences x 7 emotions.
- RAVDESS (Livingstone & Russo 2018), speech: ``RAVDESS/Actor_01/03-01-05-02-01-01-01.wav`` =
  modality-channel-emotion-intensity-statement-repetition-actor, 48 kHz mono; odd actors are male.
- CREMA-D (Cao et al. 2014): ``CREMA-D/AudioWAV/1001_DFA_ANG_XX.wav`` = actor_sentence_emotion_level,
  16 kHz mono, plus ``VideoDemographics.csv``; only sentence IEO has levels LO/MD/HI.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .profiles import rng_for

#: Corpus layouts the generator can write.
LAYOUTS: tuple[str, ...] = ("emovo", "ravdess", "cremad")
#: Corpus sizes: "default" for real runs (the real corpora's speakers), "small" (100-200 files) for quick runs
#: and tests, "large" (several thousand files: more speakers or takes) for measuring how the study scales.
SIZES: tuple[str, ...] = ("default", "small", "large")


@dataclass(frozen=True)
class Item:
    """One file of a synthetic corpus and what to synthesise into it."""

    relpath: str
    speaker: str
    sex: str  # "female" | "male"
    sentence: str
    emotion: str  # a name in profiles.EMOTIONS
    intensity: float
    channels: int = 1
    take: int = 1  # the repetition of the same sentence by the same speaker


@dataclass(frozen=True)
class Layout:
    """How one corpus is laid out on disk and recorded."""

    name: str
    folder: str
    sr: int
    language: str
    silence: tuple[float, float]  # mean leading / trailing silence (s)
    items: Callable[[str], list[Item]]  # size -> the files to write


EMOVO_SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
EMOVO_SENTENCES = ("b1", "b2", "b3", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5", "d1", "d2")
EMOVO_EMOTIONS = {
    "dis": "disgust",
    "gio": "happy",
    "neu": "neutral",
    "pau": "fear",
    "rab": "angry",
    "sor": "surprise",
    "tri": "sad",
}
#: The real EMOVO has a mono file among the stereo ones; these are ours (present in both sizes).
EMOVO_MONO = frozenset({"f2/neu-f2-b1.wav", "m3/tri-m3-n1.wav"})

RAVDESS_EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fear", 7: "disgust", 8: "surprise"}
RAVDESS_INTENSITY = {1: 1.0, 2: 1.6}

CREMAD_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMAD_LEVELS = {"LO": 0.6, "MD": 1.0, "HI": 1.5, "XX": 1.0}
CREMAD_DEMOGRAPHICS = "VideoDemographics.csv"


def emovo_speakers(size: str) -> tuple[str, ...]:
    """EMOVO speakers of a generated corpus: the real six, or for "large" fifteen of each sex (2,940 files)."""
    return tuple(f"{s}{i}" for s in "fm" for i in range(1, 16)) if size == "large" else EMOVO_SPEAKERS


def _emovo_items(size: str) -> list[Item]:
    """EMOVO: every speaker x sentence x emotion (small: four sentences, one of each kind)."""
    sentences = ("b1", "l1", "n1", "d1") if size == "small" else EMOVO_SENTENCES
    items = []
    for spk in emovo_speakers(size):
        for sent in sentences:
            for code, emotion in EMOVO_EMOTIONS.items():
                rel = f"{spk}/{code}-{spk}-{sent}.wav"
                sex = "female" if spk.startswith("f") else "male"
                items.append(Item(rel, spk, sex, sent, emotion, 1.0, 1 if rel in EMOVO_MONO else 2))
    return items


def _ravdess_items(size: str) -> list[Item]:
    """RAVDESS speech: all emotion x intensity x statement combinations per actor, repetition 01 (both
    repetitions for "large", as in the real corpus: 1,440 files)."""
    actors = range(1, 7) if size == "small" else range(1, 25)
    items = []
    for actor in actors:
        for emo, emotion in RAVDESS_EMOTIONS.items():
            for inten in (1,) if emo == 1 else (1, 2):
                for statement in (1, 2):
                    for take in (1, 2) if size == "large" else (1,):
                        name = f"03-01-{emo:02d}-{inten:02d}-{statement:02d}-{take:02d}-{actor:02d}.wav"
                        items.append(
                            Item(
                                f"Actor_{actor:02d}/{name}",
                                f"Actor_{actor:02d}",
                                "male" if actor % 2 else "female",
                                f"{statement:02d}",
                                emotion,
                                RAVDESS_INTENSITY[inten],
                                take=take,
                            )
                        )
    return items


def cremad_actors(size: str) -> list[int]:
    """CREMA-D actor ids of a generated corpus (91 for "large", as many as the real corpus has)."""
    return list(range(1001, {"small": 1007, "default": 1021, "large": 1092}[size]))


def cremad_sex(actor: int) -> str:
    """Sex of a generated CREMA-D actor ("Male"/"Female", as in VideoDemographics.csv)."""
    return "Male" if actor % 2 else "Female"


def _cremad_items(size: str) -> list[Item]:
    """CREMA-D: sentence IEO at every level (neutral: XX only), the other sentences at XX ("large": all twelve
    sentences of 91 actors, 7,462 files, about the real corpus)."""
    sentences = {"small": ("IEO", "TIE", "DFA"), "default": ("IEO", "TIE", "IOM", "DFA", "ITS")}.get(
        size, CREMAD_SENTENCES
    )
    items = []
    for actor in cremad_actors(size):
        sex = cremad_sex(actor).lower()
        for sent in sentences:
            for code, emotion in CREMAD_EMOTIONS.items():
                levels = ("LO", "MD", "HI") if sent == "IEO" and code != "NEU" else ("XX",)
                for level in levels:
                    items.append(
                        Item(
                            f"AudioWAV/{actor}_{sent}_{code}_{level}.wav",
                            str(actor),
                            sex,
                            sent,
                            emotion,
                            CREMAD_LEVELS[level],
                        )
                    )
    return items


def write_cremad_demographics(folder: Path, size: str) -> None:
    """Write VideoDemographics.csv (ActorID,Age,Sex,Race,Ethnicity) for the generated actors."""
    races = ["Caucasian", "African American", "Asian", "Unknown"]
    with open(folder / CREMAD_DEMOGRAPHICS, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        for actor in cremad_actors(size):
            rng = rng_for("cremad-demographics", actor)
            race = races[rng.choice(len(races), p=[0.6, 0.25, 0.1, 0.05])]
            ethnicity = "Hispanic" if rng.random() < 0.1 else "Not Hispanic"
            writer.writerow([actor, int(rng.integers(20, 75)), cremad_sex(actor), race, ethnicity])


LAYOUT_SPECS: dict[str, Layout] = {
    "emovo": Layout("emovo", "EMOVO", 48000, "it", (0.3, 0.35), _emovo_items),
    "ravdess": Layout("ravdess", "RAVDESS", 48000, "en", (0.9, 0.7), _ravdess_items),
    "cremad": Layout("cremad", "CREMA-D", 16000, "en", (0.35, 0.35), _cremad_items),
}


def get_layout(layout: str, size: str = "default") -> Layout:
    """The layout spec for ``layout``, checking it and ``size`` (ValueError lists valid values)."""
    if layout not in LAYOUT_SPECS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {list(SIZES)}")
    return LAYOUT_SPECS[layout]
