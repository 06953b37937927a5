"""Who speaks and how: emotion profiles, speakers, their expressive styles, per-utterance draws.

An utterance's voice is a point in a small space of prosodic and voice-quality dimensions. It is the
sum of the speaker's own baseline, the emotion's deviation from neutral (Juslin & Laukka 2003,
table 7; Scherer 2003, table 4; Banse & Scherer 1996), scaled by the emotion's intensity and by the
speaker's idiosyncratic way of expressing that emotion, plus a per-utterance random draw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: Emotions the synthesiser knows (each corpus layout maps its label codes onto these).
EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")

#: Dimensions of expression, with their units and the per-utterance standard deviation.
#: st: semitones, dB: decibels, log: natural-log ratio, add: additive on an arbitrary scale.
UTTERANCE_SD: dict[str, float] = {
    "f0": 1.0,  # st, median F0
    "range": 0.20,  # log, size of pitch accents and declination
    "level": 2.0,  # dB, vocal effort / loudness
    "rate": 0.07,  # log, articulation rate (>0 faster)
    "tension": 0.25,  # add, -1 lax/breathy .. +1 pressed: open quotient, glottal closure, spectral tilt
    "breath": 0.25,  # log, aspiration noise
    "jitter": 0.20,  # log, period perturbation
    "shimmer": 0.20,  # log, amplitude perturbation
    "creak": 0.08,  # add, 0..1 creaky (irregular, low) phonation at phrase ends
    "tremor": 0.10,  # st, depth of a 5-8 Hz F0 tremor
    "pause": 0.25,  # log, pause probability and length
    "artic": 0.06,  # log, vowel-space expansion (hyper- vs hypo-articulation)
    "f1": 0.03,  # log, F1 raise from a wider mouth opening under effort
    "smile": 0.02,  # log, F2/F3 raise from lip spreading
    "final": 1.5,  # st, added to the utterance-final boundary tone (>0 rises)
    "stress_len": 0.10,  # log, extra lengthening of stressed vowels
    "irregular": 0.02,  # add, SD of random syllable-duration changes (rhythm irregularity)
}

#: Speaker idiosyncrasy: SD of an emotion's overall strength (log), of its per-dimension gain, and
#: of a personal offset per dimension (in units of UTTERANCE_SD).
STYLE_STRENGTH_SD = 0.35
STYLE_GAIN_SD = 0.4
STYLE_OFFSET_SD = 1.2

#: Deviation of each emotion from neutral along those dimensions, at intensity 1.
EMOTION_PROFILES: dict[str, dict[str, float]] = {
    "neutral": {},
    "calm": {
        "f0": -0.7,
        "range": -0.25,
        "level": -3.0,
        "rate": -0.10,
        "tension": -0.3,
        "breath": 0.25,
        "pause": 0.2,
        "artic": -0.05,
    },
    "happy": {
        "f0": 3.0,
        "range": 0.40,
        "level": 3.5,
        "rate": 0.08,
        "tension": 0.3,
        "pause": -0.15,
        "artic": 0.05,
        "f1": 0.04,
        "smile": 0.04,
        "final": 1.0,
    },
    "sad": {
        "f0": -2.0,
        "range": -0.50,
        "level": -5.0,
        "rate": -0.20,
        "tension": -0.6,
        "breath": 0.5,
        "jitter": 0.2,
        "creak": 0.1,
        "pause": 0.5,
        "artic": -0.25,
        "f1": -0.03,
        "final": -1.0,
    },
    "angry": {
        "f0": 3.5,
        "range": 0.45,
        "level": 7.0,
        "rate": 0.12,
        "tension": 0.8,
        "breath": -0.2,
        "jitter": 0.1,
        "pause": -0.3,
        "artic": 0.10,
        "f1": 0.08,
        "final": -1.5,
        "stress_len": 0.1,
        "irregular": 0.02,
    },
    "fear": {
        "f0": 4.5,
        "range": 0.15,
        "level": 1.0,
        "rate": 0.15,
        "tension": 0.2,
        "breath": 0.3,
        "jitter": 0.6,
        "shimmer": 0.3,
        "tremor": 0.6,
        "pause": 0.1,
        "artic": -0.05,
        "irregular": 0.08,
    },
    "disgust": {
        "f0": -1.5,
        "range": -0.10,
        "level": -1.0,
        "rate": -0.20,
        "tension": -0.1,
        "breath": 0.1,
        "jitter": 0.3,
        "shimmer": 0.2,
        "creak": 0.35,
        "pause": 0.2,
        "artic": -0.10,
        "final": -0.5,
        "stress_len": 0.35,
    },
    "surprise": {"f0": 4.0, "range": 0.60, "level": 3.0, "tension": 0.3, "artic": 0.05, "f1": 0.03, "final": 6.0},
}


def rng_for(*keys: object) -> np.random.Generator:
    """A generator seeded by stable hashes of ``keys``: the same keys give the same stream anywhere."""
    keys = tuple(k.item() if isinstance(k, np.generic) else k for k in keys)  # np.int64(0) acts as 0
    words = [int.from_bytes(hashlib.blake2b(repr(k).encode(), digest_size=8).digest(), "little") for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass(frozen=True)
class Channel:
    """A speaker's recording session: microphone/room colouring and noise floor."""

    highpass_hz: float  # microphone / preamp low cut
    eq_hz: float  # centre of a peaking EQ (mic response, placement)
    eq_db: float
    shelf_db: float  # high-shelf gain above ~4 kHz
    rt60: float  # reverberation time of the small room (s)
    drr_db: float  # direct-to-reverberant ratio
    noise_db: float  # noise floor (dBFS)
    right_db: float  # level of a second (stereo) channel relative to the first
    right_delay: float  # its delay (s)


@dataclass(frozen=True)
class Speaker:
    """A speaker's habitual voice: the neutral baseline every emotion deviates from."""

    sex: str  # "female" | "male"
    f0_hz: float
    range_st: float
    vtl: float  # formant scale (1 = average adult male vocal tract)
    level_db: float
    rate: float
    tension: float
    breath: float
    jitter: float
    shimmer: float
    creak: float
    channel: Channel


def _studio(rng: np.random.Generator) -> dict[str, float]:
    """The recording set-up shared by one corpus's speakers (its mean channel)."""
    return {
        "highpass_hz": rng.uniform(40, 90),
        "shelf_db": rng.normal(0, 2),
        "rt60": rng.uniform(0.12, 0.35),
        "drr_db": rng.uniform(8, 16),
        "noise_db": rng.uniform(-66, -52),
    }


def make_channel(seed: int, corpus: str, speaker: str) -> Channel:
    """A speaker's session channel: the corpus studio plus a per-speaker deviation."""
    studio = _studio(rng_for(seed, corpus, "studio"))
    rng = rng_for(seed, corpus, speaker, "channel")
    return Channel(
        highpass_hz=studio["highpass_hz"] * float(np.exp(rng.normal(0, 0.15))),
        eq_hz=float(np.exp(rng.uniform(np.log(500), np.log(4000)))),
        eq_db=rng.normal(0, 3.0),
        shelf_db=studio["shelf_db"] + rng.normal(0, 1.5),
        rt60=studio["rt60"] * float(np.exp(rng.normal(0, 0.25))),
        drr_db=studio["drr_db"] + rng.normal(0, 2.0),
        noise_db=studio["noise_db"] + rng.normal(0, 3.0),
        right_db=rng.normal(0, 1.0),
        right_delay=rng.uniform(0, 2e-4),
    )


def make_speaker(seed: int, corpus: str, speaker: str, sex: str) -> Speaker:
    """Draw a speaker's baseline voice (F0 and vocal-tract size by sex, habits, channel)."""
    if sex not in ("female", "male"):
        raise ValueError(f"sex must be 'female' or 'male', not {sex!r}")
    rng = rng_for(seed, corpus, speaker, "voice")
    female = sex == "female"
    return Speaker(
        sex=sex,
        f0_hz=rng.uniform(175, 245) if female else rng.uniform(92, 140),
        range_st=rng.uniform(2.5, 5.0),
        vtl=rng.uniform(1.10, 1.22) if female else rng.uniform(0.93, 1.05),
        level_db=rng.normal(0, 2.5),
        rate=float(np.exp(rng.normal(0, 0.08))),
        tension=rng.normal(0, 0.3),
        breath=(0.05 if female else 0.03) * float(np.exp(rng.normal(0, 0.4))),
        jitter=0.006 * float(np.exp(rng.normal(0, 0.3))),
        shimmer=0.04 * float(np.exp(rng.normal(0, 0.3))),
        creak=rng.uniform(0, 0.15) if female else rng.uniform(0, 0.3),
        channel=make_channel(seed, corpus, speaker),
    )


@dataclass(frozen=True)
class Style:
    """A speaker's idiosyncratic way of expressing one emotion, per dimension.

    ``gain`` scales the literature profile (same direction, own strength); ``offset`` adds a personal
    habit not in the profile (e.g. someone who slows down when happy). Both scale with intensity.
    """

    gain: dict[str, float]
    offset: dict[str, float]


def make_style(seed: int, corpus: str, speaker: str, emotion: str) -> Style:
    """Draw a speaker's style for one emotion (neutral has none: it is the speaker's baseline)."""
    rng = rng_for(seed, corpus, speaker, "style", emotion)
    strength = float(np.exp(rng.normal(0, STYLE_STRENGTH_SD)))
    gain = {dim: float(np.clip(strength * rng.normal(1, STYLE_GAIN_SD), 0.1, 2.2)) for dim in UTTERANCE_SD}
    scale = 0.0 if emotion == "neutral" else STYLE_OFFSET_SD
    offset = {dim: scale * sd * rng.normal() for dim, sd in UTTERANCE_SD.items()}
    return Style(gain, offset)


@dataclass(frozen=True)
class UtteranceParams:
    """Concrete voice settings of one utterance, in the units the synthesiser uses."""

    f0_hz: float
    range_st: float
    level_db: float
    rate: float
    tension: float
    breath: float
    jitter: float
    shimmer: float
    creak: float
    tremor_st: float
    pause: float
    artic: float
    f1: float
    smile: float
    final_st: float
    stress_len: float
    irregular: float


def utterance_params(
    speaker: Speaker, style: Style, emotion: str, intensity: float, rng: np.random.Generator
) -> UtteranceParams:
    """Baseline + intensity x (style gain x emotion profile + style offset) + per-utterance noise."""
    if emotion not in EMOTION_PROFILES:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {list(EMOTIONS)}")
    profile = EMOTION_PROFILES[emotion]
    d = {
        dim: intensity * (style.gain[dim] * profile.get(dim, 0.0) + style.offset[dim]) + rng.normal(0, sd)
        for dim, sd in UTTERANCE_SD.items()
    }
    return UtteranceParams(
        f0_hz=speaker.f0_hz * 2 ** (d["f0"] / 12),
        range_st=speaker.range_st * float(np.exp(d["range"])),
        level_db=speaker.level_db + d["level"],
        rate=speaker.rate * float(np.exp(np.clip(d["rate"], -0.35, 0.35))),
        tension=float(np.clip(speaker.tension + d["tension"], -1.5, 1.5)),
        breath=speaker.breath * float(np.exp(d["breath"])),
        jitter=speaker.jitter * float(np.exp(d["jitter"])),
        shimmer=speaker.shimmer * float(np.exp(d["shimmer"])),
        creak=float(np.clip(speaker.creak + d["creak"], 0, 1)),
        tremor_st=max(0.0, d["tremor"]),
        pause=float(np.exp(np.clip(d["pause"], -1.0, 1.0))),
        artic=float(np.exp(d["artic"])),
        f1=float(np.exp(d["f1"])),
        smile=float(np.exp(d["smile"])),
        final_st=d["final"],
        stress_len=float(np.exp(np.clip(d["stress_len"], -0.2, 0.45))),
        irregular=max(0.0, 0.08 + d["irregular"]),
    )
