"""Named waveform augmentations (the recipes of the reference studies) and ``apply_augmentation``.

A preset is a recipe with fixed parameters; the seed picks the random parts (noise samples, a gain
drawn from a range, the chain's choices). The same (clip, preset, seed) always gives the same audio,
which is what lets a manifest row stand for an augmented copy without storing it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import waveform as wf


@dataclass(frozen=True)
class Preset:
    """One named augmentation: what it does, its parameters and where the recipe comes from."""

    name: str
    description: str
    params: Mapping[str, Any]
    varies_with_seed: bool
    source: str
    apply: Callable[..., np.ndarray] = field(repr=False)


_GLOBAL_RNG_LOCK = threading.Lock()


@contextmanager
def _seeded_global_random(seed: int) -> Iterator[None]:
    """Seed Python's and numpy's global generators (audiomentations draws from them), restoring them after."""
    with _GLOBAL_RNG_LOCK:
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _random_chain():
    """The ``random`` preset: audiomentations Compose of several transforms, each with its own probability."""
    from audiomentations import AddGaussianSNR, Compose, Gain, LowPassFilter, PitchShift, Shift, TimeStretch

    return Compose(
        [
            AddGaussianSNR(min_snr_db=10.0, max_snr_db=30.0, p=0.5),
            TimeStretch(min_rate=0.8, max_rate=1.25, leave_length_unchanged=False, p=0.5),
            PitchShift(min_semitones=-4.0, max_semitones=4.0, p=0.5),
            LowPassFilter(min_cutoff_freq=2000.0, max_cutoff_freq=6000.0, p=0.3),
            Gain(min_gain_db=-6.0, max_gain_db=6.0, p=0.5),
            Shift(min_shift=-0.1, max_shift=0.1, shift_unit="fraction", rollover=True, p=0.5),
        ]
    )


def _apply_chain(y: np.ndarray, sr: int, rng: np.random.Generator, chain: str) -> np.ndarray:
    """Run the ``random`` chain with global generators seeded from ``rng`` (so it is reproducible)."""
    with _seeded_global_random(int(rng.integers(2**32))):
        return np.ascontiguousarray(_random_chain()(wf.as_mono(y), sr), dtype=np.float32)


def _gain(y: np.ndarray, sr: int, rng: np.random.Generator, min_gain_db: float, max_gain_db: float) -> np.ndarray:
    """Gain drawn uniformly in [min, max] dB."""
    return wf.gain(y, rng.uniform(min_gain_db, max_gain_db))


def _shift(y: np.ndarray, sr: int, rng: np.random.Generator, max_shift_s: float, rollover: bool) -> np.ndarray:
    """Shift by a time drawn uniformly in [-max, +max] seconds."""
    return wf.time_shift(y, sr, rng.uniform(-max_shift_s, max_shift_s), unit="seconds", rollover=rollover)


#: Every preset by name (``describe_presets()`` shows them as a table).
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "noise",
            "white noise scaled to the clip's peak: amp = factor · U(0,1) · max|y|",
            {"factor": 0.035},
            True,
            "Kaggle SER notebooks (widely copied)",
            lambda y, sr, rng, factor: wf.add_peak_noise(y, factor, rng),
        ),
        Preset(
            "noise_snr",
            "white noise at a fixed signal-to-noise ratio (clip RMS)",
            {"snr_db": 15.0},
            True,
            "controlled alternative to 'noise'",
            lambda y, sr, rng, snr_db: wf.add_noise_snr(y, snr_db, rng),
        ),
        Preset(
            "stretch",
            "slower tempo, same pitch (clip 1/rate longer)",
            {"rate": 0.8},
            False,
            "Kaggle SER notebooks (librosa time_stretch, rate 0.8)",
            lambda y, sr, rng, rate: wf.time_stretch(y, sr, rate),
        ),
        Preset(
            "pitch",
            "higher pitch (and formants), same duration",
            {"semitones": 7.0},
            False,
            "reference study (+7 semitones)",
            lambda y, sr, rng, semitones: wf.pitch_shift(y, sr, semitones),
        ),
        Preset(
            "lowpass",
            "Butterworth low-pass: muffled, band-limited channel",
            {"cutoff_hz": 3000.0, "rolloff_db_per_octave": 24},
            False,
            "reference studies (low-pass filtering)",
            lambda y, sr, rng, cutoff_hz, rolloff_db_per_octave: wf.low_pass(
                y, sr, cutoff_hz, rolloff_db_per_octave=rolloff_db_per_octave
            ),
        ),
        Preset(
            "gain",
            "louder or softer by a gain drawn uniformly in dB",
            {"min_gain_db": -6.0, "max_gain_db": 6.0},
            True,
            "reference studies (volume change)",
            _gain,
        ),
        Preset(
            "shift",
            "circular time shift by up to ±max seconds (np.roll)",
            {"max_shift_s": 0.3, "rollover": True},
            True,
            "Kaggle SER notebooks (np.roll by up to ±5000 samples)",
            _shift,
        ),
        Preset(
            "random",
            "audiomentations Compose, each step with its own probability",
            {
                "chain": "SNR noise 10–30 dB (p .5) → stretch 0.8–1.25 (p .5) → pitch ±4 st (p .5) → "
                "low-pass 2–6 kHz (p .3) → gain ±6 dB (p .5) → roll ±10 % (p .5)"
            },
            True,
            "audiomentations-style random pipeline",
            _apply_chain,
        ),
    ]
}


def _unknown(name: object) -> ValueError:
    """The error for a preset name that does not exist, listing the valid ones."""
    return ValueError(f"unknown augmentation preset {name!r}; presets: {', '.join(PRESETS)}")


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (ValueError listing the presets otherwise)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise _unknown(name) from None


def apply_augmentation(y: np.ndarray, sr: int, name: str, seed: int) -> np.ndarray:
    """Apply preset ``name`` to the clip ``y`` with ``seed``: same inputs, same float32 output.

    ``name=""`` (an original row of an augmented manifest, ``aug_seed=-1``) returns the clip unchanged,
    so a feature extractor can call this for every row.
    """
    if name is None or (isinstance(name, str) and name == ""):
        return wf.as_mono(y).copy()
    preset = get_preset(name)
    if seed is None or int(seed) < 0:
        raise ValueError(f"preset {name!r} needs a non-negative integer seed, got {seed!r}")
    return preset.apply(wf.as_mono(y), int(sr), np.random.default_rng(int(seed)), **preset.params)


def describe_presets(names: list[str] | None = None) -> pd.DataFrame:
    """The presets as a table: description, parameters, whether copies differ by seed, and the source."""
    rows = [
        {
            "preset": p.name,
            "what it does": p.description,
            "parameters": ", ".join(f"{k}={v}" for k, v in p.params.items()),
            "varies with seed": p.varies_with_seed,
            "source": p.source,
        }
        for p in (get_preset(n) for n in (names or list(PRESETS)))
    ]
    return pd.DataFrame(rows).set_index("preset")
