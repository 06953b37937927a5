"""File-name parsers: what each corpus encodes in its file names (speaker, sentence, emotion, ...).

A parser takes a file's path relative to the corpus folder and returns an :class:`Utterance` with
the corpus' *raw* ids (the reader adds the corpus prefixes), ``None`` when the name does not follow
the corpus pattern, or raises :class:`SkipFile` when the name parses but the file is not one to use
(a RAVDESS song, an unknown emotion code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath


class SkipFile(Exception):
    """A file whose name parses but that is not used; the message is the reason given in ``skipped``."""


@dataclass(frozen=True)
class Utterance:
    """What a file name says about one recording; two files with equal Utterances are duplicates."""

    speaker: str
    gender: str
    sentence: str
    emotion: str
    emotion_code: str
    intensity: str | None = None
    take: str = ""  # repetition (RAVDESS) or version letter (EMO-DB): tells two takes of one text apart


def _code(table: dict[str, str], code: str) -> str:
    """The canonical emotion for a raw code, or SkipFile naming the known codes."""
    if code not in table:
        raise SkipFile(f"unknown emotion code {code!r} (known: {', '.join(table)})")
    return table[code]


EMOVO_EMOTIONS = {
    "dis": "disgust",
    "gio": "happy",
    "neu": "neutral",
    "pau": "fearful",
    "rab": "angry",
    "sor": "surprised",
    "tri": "sad",
}
_EMOVO = re.compile(r"([a-z]{3})-([fm])(\d+)-([a-z]+\d+)", re.IGNORECASE)


def parse_emovo(rel: PurePosixPath) -> Utterance | None:
    """``f1/dis-f1-b1.wav``: emotion, speaker (gender letter + number), sentence."""
    m = _EMOVO.fullmatch(rel.stem)
    if not m:
        return None
    code, sex, number, sentence = (g.lower() for g in m.groups())
    return Utterance(
        speaker=f"{sex}{number}",
        gender="female" if sex == "f" else "male",
        sentence=sentence,
        emotion=_code(EMOVO_EMOTIONS, code),
        emotion_code=code,
    )


RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
RAVDESS_INTENSITIES = {"01": "normal", "02": "strong"}
_RAVDESS = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")


def parse_ravdess(rel: PurePosixPath) -> Utterance | None:
    """``Actor_01/03-01-05-02-01-01-01.wav``: modality, channel, emotion, intensity, statement, repetition, actor."""
    m = _RAVDESS.fullmatch(rel.stem)
    if not m:
        return None
    modality, channel, code, intensity, statement, repetition, actor = m.groups()
    if modality != "03":
        raise SkipFile(f"modality {modality} is not audio-only: only audio-only files (03) are used")
    if channel != "01":
        raise SkipFile(f"vocal channel {channel} is song: only speech (01) is used")
    if intensity not in RAVDESS_INTENSITIES:
        raise SkipFile(f"unknown intensity code {intensity!r} (known: 01 normal, 02 strong)")
    return Utterance(
        speaker=actor,
        gender="male" if int(actor) % 2 else "female",
        sentence=statement,
        emotion=_code(RAVDESS_EMOTIONS, code),
        emotion_code=code,
        intensity=RAVDESS_INTENSITIES[intensity],
        take=repetition,
    )


CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMAD_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
_CREMAD = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")


def parse_cremad(rel: PurePosixPath) -> Utterance | None:
    """``AudioWAV/1001_DFA_ANG_XX.wav``: actor, sentence, emotion, level (gender comes from the demographics)."""
    m = _CREMAD.fullmatch(rel.stem)
    if not m:
        return None
    actor, sentence, code, level = m.groups()
    if level not in CREMAD_LEVELS:
        raise SkipFile(f"unknown intensity level {level!r} (known: {', '.join(CREMAD_LEVELS)})")
    return Utterance(
        speaker=actor,
        gender="unknown",
        sentence=sentence,
        emotion=_code(CREMAD_EMOTIONS, code),
        emotion_code=code,
        intensity=CREMAD_LEVELS[level],
    )


SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
_SAVEE = re.compile(r"(?:([A-Z]{2})_)?(sa|su|a|d|f|h|n)(\d\d)", re.IGNORECASE)


def parse_savee(rel: PurePosixPath) -> Utterance | None:
    """``DC_a01.wav`` (Kaggle) or ``AudioData/DC/a01.wav`` (original): speaker, emotion, number."""
    m = _SAVEE.fullmatch(rel.stem)
    if not m:
        return None
    speaker = (m.group(1) or rel.parent.name).upper()
    if speaker not in SAVEE_SPEAKERS:
        raise SkipFile(f"no SAVEE speaker ({', '.join(SAVEE_SPEAKERS)}) in the file name or its folder")
    code, number = m.group(2).lower(), m.group(3)
    # Numbers count sentences within one emotion, so the id is code + number. SAVEE reuses 3 common
    # sentences across emotions, but its file names do not say which: those texts get several ids.
    return Utterance(
        speaker=speaker,
        gender="male",
        sentence=f"{code}{number}",
        emotion=_code(SAVEE_EMOTIONS, code),
        emotion_code=code,
    )


TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "sad": "sad",
}
_TESS = re.compile(r"(OAF|YAF)_([^_]+)_(.+)", re.IGNORECASE)


def parse_tess(rel: PurePosixPath) -> Utterance | None:
    """``OAF_angry/OAF_back_angry.wav``: speaker (OAF older, YAF younger; both female), word, emotion."""
    m = _TESS.fullmatch(rel.stem)
    if not m:
        return None
    speaker, word, code = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
    return Utterance(
        speaker=speaker, gender="female", sentence=word, emotion=_code(TESS_EMOTIONS, code), emotion_code=code
    )


EMODB_EMOTIONS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
EMODB_GENDERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}
_EMODB = re.compile(r"(\d\d)([ab]\d\d)([A-Z])([a-z])")


def parse_emodb(rel: PurePosixPath) -> Utterance | None:
    """``wav/03a01Fa.wav``: speaker, text, emotion letter, version."""
    m = _EMODB.fullmatch(rel.stem)
    if not m:
        return None
    speaker, text, code, version = m.groups()
    return Utterance(
        speaker=speaker,
        gender=EMODB_GENDERS.get(speaker, "unknown"),
        sentence=text,
        emotion=_code(EMODB_EMOTIONS, code),
        emotion_code=code,
        take=version,
    )
