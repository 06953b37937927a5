"""The source-filter synthesiser: one sentence, one speaker, one emotion -> one recorded waveform.

Pipeline (Klatt 1980 in spirit, vectorised numpy + scipy.signal):

1. *Timing*: phones get durations from their base length, the speaking rate, stress (English is
   stress-timed, Italian syllable-timed), word- and phrase-final lengthening and random rhythm
   jitter; word boundaries may carry pauses, which split the sentence into phrases.
2. *Prosody*: an F0 contour in semitones = declination per phrase + a Gaussian pitch accent on
   stressed syllables + a final boundary tone (fall, or rise for questions / surprise) + slow drift,
   tremor and phrase-final creak; per-syllable intensity with stress and declination.
3. *Source*: Rosenberg glottal pulses placed along the F0 contour with jitter, shimmer and creaky
   period alternation; their derivative (flow derivative incl. lip radiation) plus pitch-synchronous
   aspiration noise; a high-shelf filter sets the spectral tilt from vocal tension.
4. *Filter*: five cascaded formant resonators, updated every 10 ms, following vowel targets and
   consonant loci scaled by the speaker's vocal-tract length; band-passed noise for fricatives and
   plosive bursts is added in parallel; stops have a closure, a burst and an aspiration (VOT).
5. *Recording*: vocal effort gain, a small room (exponential reverberation tail), microphone EQ, a
   noise floor per channel, and a soft limiter that keeps peaks below 0.95 without normalising.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

from .phonetics import Phone, Sentence, parse_sentence
from .profiles import Speaker, UtteranceParams, make_speaker, make_style, rng_for, utterance_params

#: Control-frame hop (s): formant and F0 tracks are updated at this rate.
HOP = 0.01
#: Gain (dB) from the synthesiser's internal level (voiced speech at unit RMS) to the file: neutral
#: speech then averages about -31 dBFS RMS while speaking, leaving headroom for loud emotions.
LEVEL_REF_DB = -28.0
#: Peak limit of the written signal (the soft limiter starts at LIMIT_KNEE).
PEAK_LIMIT = 0.95
LIMIT_KNEE = 0.80

#: Language rhythm: overall tempo (duration factor), vowel-duration factors for stressed/unstressed
#: syllables, voice-onset time of voiceless stops (English aspirates them, Italian does not),
#: pitch-accent and pause probabilities.
RHYTHM: dict[str, dict[str, float]] = {
    "it": {"tempo": 0.80, "stressed": 1.30, "unstressed": 0.90, "vot": 0.012, "accent": 0.75, "pause": 0.08},
    "en": {"tempo": 0.85, "stressed": 1.45, "unstressed": 0.70, "vot": 0.055, "accent": 0.85, "pause": 0.06},
}
#: Amplitude of the voice source per manner of articulation (vowels = 1).
_VOICING = {
    "vowel": 1.0,
    "approximant": 0.55,
    "trill": 0.5,
    "nasal": 0.35,
    "fricative": 0.3,
    "affricate": 0.2,
    "stop": 0.07,
}
#: Fixed higher formants (male, Hz) and bandwidths of F1..F5 (Hz).
_F45 = (3500.0, 4500.0)
_BANDWIDTHS = np.array([70.0, 100.0, 140.0, 220.0, 300.0])
#: Neutral vowel the articulation factor expands from / reduces towards.
_SCHWA = np.array([500.0, 1500.0, 2500.0])


@dataclass(frozen=True)
class Segment:
    """A timed phone (``phone=None`` for a pause) with the gain of its syllable."""

    phone: Phone | None
    start: float
    dur: float
    gain: float
    vot: float = 0.0  # aspiration after a voiceless stop's release, part of ``dur``


@dataclass(frozen=True)
class SyllableTiming:
    """Where a syllable and its (first) vowel fall in time, for placing pitch accents."""

    start: float
    end: float
    vowel_mid: float
    stressed: bool


@dataclass(frozen=True)
class Timeline:
    """The planned utterance: timed segments, syllables, phrases (start, end) and total length."""

    segments: tuple[Segment, ...]
    syllables: tuple[SyllableTiming, ...]
    phrases: tuple[tuple[float, float], ...]
    duration: float


def plan_timeline(
    sentence: Sentence, p: UtteranceParams, language: str, rng: np.random.Generator, silence: tuple[float, float]
) -> Timeline:
    """Give every phone a duration and every word boundary a possible pause (rate, stress, emotion)."""
    rhythm = RHYTHM[language]
    sylls = sentence.syllables
    n = len(sylls)
    break_at = _phrase_break(sentence, p, rng)
    t = silence[0] * rng.uniform(0.7, 1.3)
    segments: list[Segment] = [Segment(None, 0.0, t, 0.0)]
    timings: list[SyllableTiming] = []
    phrases: list[tuple[float, float]] = []
    phrase_start = t
    for i, syl in enumerate(sylls):
        if i > 0 and syl.word != sylls[i - 1].word and (i == break_at or rng.random() < rhythm["pause"] * p.pause):
            phrases.append((phrase_start, t))
            pause = rng.uniform(0.08, 0.22) * p.pause
            segments.append(Segment(None, t, pause, 0.0))
            t += pause
            phrase_start = t
        final = i == n - 1 or i + 1 == break_at
        gain = 10 ** ((2.5 * syl.stressed - 4.0 * i / n + rng.normal(0, 1.0)) / 20)
        start, vowel_mid = t, None
        n_vowels = sum(ph.kind == "vowel" for ph in syl.phones)
        for ph in syl.phones:
            d = ph.duration * rhythm["tempo"] / p.rate * float(np.exp(rng.normal(0, p.irregular)))
            if ph.kind == "vowel":
                d *= (rhythm["stressed"] * p.stress_len if syl.stressed else rhythm["unstressed"]) / n_vowels**0.6
            if final:
                d *= 1.35
            elif syl.word_final:
                d *= 1.08
            if segments and ph.kind != "vowel" and segments[-1].phone is ph:  # geminate: lengthen the first
                prev = segments[-1]
                segments[-1] = Segment(ph, prev.start, prev.dur + 0.8 * d, prev.gain, prev.vot)
                t += 0.8 * d
                continue
            vot = 0.0
            if ph.kind == "stop" and not ph.voiced:
                vot = rhythm["vot"] * (1.0 if syl.stressed else 0.5) / p.rate
                d += vot
            if ph.kind == "vowel" and vowel_mid is None:
                vowel_mid = t + d / 2
            segments.append(Segment(ph, t, d, gain, vot))
            t += d
        timings.append(SyllableTiming(start, t, vowel_mid if vowel_mid is not None else (start + t) / 2, syl.stressed))
    phrases.append((phrase_start, t))
    trail = silence[1] * rng.uniform(0.7, 1.3)
    segments.append(Segment(None, t, trail, 0.0))
    return Timeline(tuple(segments), tuple(timings), tuple(phrases), t + trail)


def _phrase_break(sentence: Sentence, p: UtteranceParams, rng: np.random.Generator) -> int:
    """Index of the syllable after a mid-sentence phrase break in long sentences, or -1."""
    sylls = sentence.syllables
    if len(sylls) < 11 or rng.random() > min(1.0, 0.5 * p.pause):
        return -1
    starts = [i for i in range(1, len(sylls)) if sylls[i].word != sylls[i - 1].word]
    return min(starts, key=lambda i: abs(i - len(sylls) / 2))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S-curve between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def f0_contour(
    tl: Timeline, p: UtteranceParams, question: bool, accent_prob: float, tf: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz) and creak amount per control frame: declination, accents, boundary tone, drift, tremor."""
    st = np.zeros_like(tf)
    creak = np.full_like(tf, 0.3 * p.creak)
    decl = 0.35 * p.range_st
    for j, (a, b) in enumerate(tl.phrases):
        in_phrase = (tf >= a - 0.05) & (tf < b + 0.1) if j + 1 < len(tl.phrases) else tf >= a - 0.05
        st[in_phrase] = 0.85**j - decl * (tf[in_phrase] - a)
        creak += 0.7 * p.creak * _smoothstep((tf - (b - 0.35 * (b - a))) / (0.35 * (b - a))) * (tf <= b + 0.05)
        accents = [s for s in tl.syllables if s.stressed and a <= s.start < b]
        for k, s in enumerate(accents):
            if 0 < k < len(accents) - 1 and rng.random() > accent_prob:
                continue
            height = p.range_st * rng.uniform(0.6, 1.15) * 0.85**k
            width = max(0.05, 0.45 * (s.end - s.start))
            st += height * np.exp(-0.5 * ((tf - s.vowel_mid - 0.3 * width) / width) ** 2)
    last = tl.syllables[-1]
    final = (7.0 if question else -2.0) + p.final_st
    st += final * _smoothstep((tf - last.start) / max(last.end - last.start, 0.05))
    drift = signal.lfilter([0.05], [1, -0.95], rng.standard_normal(tf.size))
    st += 0.5 * drift / max(drift.std(), 1e-9)
    st += p.tremor_st * np.sin(2 * np.pi * rng.uniform(5, 8) * tf + rng.uniform(0, 2 * np.pi))
    st -= 3.0 * creak
    return np.clip(p.f0_hz * 2 ** (st / 12), 55.0, 700.0), np.clip(creak, 0.0, 1.0)


def control_tracks(
    tl: Timeline, p: UtteranceParams, spk: Speaker, tf: np.ndarray, ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Formant frequencies (F1..F5) per frame; voicing and aspiration amplitude per sample."""
    av_t, av_v, ah_t, ah_v, ft, fv = [], [], [], [], [], []
    for seg in tl.segments:
        ph, a, d = seg.phone, seg.start, seg.dur
        ramp = min(0.012, d / 4)
        if ph is None:  # silence: both sources off
            av_t += [a + ramp, a + d - ramp]
            av_v += [0.0, 0.0]
            ah_t += [a + ramp, a + d - ramp]
            ah_v += [0.0, 0.0]
            continue
        voicing = _VOICING.get(ph.kind, 0.0) * seg.gain if ph.voiced else 0.0
        aspiration = ph.noise_level * seg.gain if ph.kind == "aspirate" else 0.0
        if ph.kind == "stop":  # closure (voice bar if voiced), release, aspiration (VOT)
            release = a + d - seg.vot - ramp
            av_t += [a + ramp, release]
            av_v += [voicing, voicing]
            ah_t += [a + ramp, release, release + 0.3 * seg.vot, release + seg.vot]
            ah_v += [0.0, 0.0, 0.25 * seg.gain * (seg.vot > 0), 0.15 * seg.gain * (seg.vot > 0)]
            ft.append(release)
            fv.append(ph.formants)
            continue
        if ph.kind == "trill":  # two brief tongue-tip closures
            av_t += list(a + d * np.array([0.1, 0.25, 0.4, 0.55, 0.7, 0.9]))
            av_v += list(voicing * np.array([1, 0.2, 1, 0.2, 1, 1]))
        else:
            av_t += [a + ramp, a + d - ramp]
            av_v += [voicing, voicing]
        ah_t += [a + ramp, a + d - ramp]
        ah_v += [aspiration, aspiration]
        if ph.kind == "vowel":
            ft += [a + 0.25 * d, a + 0.8 * d] if ph.glide_to else [a + 0.3 * d, a + 0.7 * d]
            fv += [_SCHWA + p.artic * (np.array(f) - _SCHWA) for f in (ph.formants, ph.glide_to or ph.formants)]
        elif ph.formants is not None:
            ft += [a + 0.3 * d, a + 0.7 * d]
            fv += [ph.formants, ph.formants]
    av = np.interp(ts, np.maximum.accumulate(av_t), av_v)
    ah = np.interp(ts, np.maximum.accumulate(ah_t), ah_v)
    fv_arr = np.array(fv, dtype=float)
    f123 = np.stack([np.interp(tf, ft, fv_arr[:, i]) for i in range(3)], axis=1)
    f123[:, 0] *= p.f1
    f123[:, 1:] *= p.smile
    f123[:, 0] = np.clip(f123[:, 0], 200, 1100)
    f123[:, 1] = np.maximum(f123[:, 1], f123[:, 0] + 150)
    f123[:, 2] = np.clip(np.maximum(f123[:, 2], f123[:, 1] + 200), None, _F45[0] - 250)
    return np.concatenate([f123, np.broadcast_to(_F45, (tf.size, 2))], axis=1) * spk.vtl, av, ah


def glottal_source(
    f0_s: np.ndarray, creak_s: np.ndarray, av: np.ndarray, p: UtteranceParams, sr: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg pulses along F0 with jitter/shimmer/creak: (tilted flow derivative, flow) per sample.

    The derivative is normalised to unit RMS over voiced stretches (as is the vocal-tract output
    later), so loudness is set by the vocal-effort level alone while tension, F0 and formants shape
    the spectrum.
    """
    phase = np.cumsum(f0_s) / sr
    k = np.arange(1, int(phase[-1]) + 1)
    idx = np.clip(np.searchsorted(phase, k), 1, phase.size - 1)
    t_pulse = idx - 1 + (k - phase[idx - 1]) / np.maximum(phase[idx] - phase[idx - 1], 1e-12)
    period = np.diff(t_pulse)
    c = creak_s[idx[:-1]]
    alt = np.where(k[:-1] % 2 == 0, 1.0, -1.0)
    period = period * np.clip(1 + p.jitter * rng.standard_normal(period.size) + 0.3 * c * alt, 0.3, None)
    starts = t_pulse[0] + np.concatenate([[0.0], np.cumsum(period[:-1])])
    amp = np.exp(p.shimmer * rng.standard_normal(period.size)) * (1 - 0.45 * c * (alt > 0))
    n = np.arange(f0_s.size)
    kk = np.searchsorted(starts, n, side="right") - 1
    valid = (kk >= 0) & (n < starts[-1] + period[-1])
    kk = np.clip(kk, 0, period.size - 1)
    phi = np.where(valid, (n - starts[kk]) / period[kk], 1.0)
    oq = float(np.clip(0.62 - 0.12 * p.tension + 0.8 * p.breath, 0.35, 0.85))
    tp = oq * float(np.clip(0.72 + 0.08 * p.tension, 0.55, 0.85))
    flow = (
        np.where(
            phi < tp,
            0.5 * (1 - np.cos(np.pi * phi / tp)),
            np.where(phi < oq, np.cos(0.5 * np.pi * (phi - tp) / (oq - tp)), 0.0),
        )
        * amp[kk]
    )
    deriv = _tilt(np.diff(flow, prepend=0.0), 3.0 + 5.0 * p.tension, sr)
    return deriv * av / _loud_rms(deriv, av), flow


def _loud_rms(x: np.ndarray, av: np.ndarray) -> float:
    """RMS of ``x`` where the voice is on (voicing amplitude > 0.5): the reference for normalising."""
    loud = av > 0.5
    return max(float(np.sqrt(np.mean(x[loud] ** 2))) if loud.any() else 1.0, 1e-12)


def _tilt(x: np.ndarray, db: float, sr: int, corner: float = 1200.0) -> np.ndarray:
    """High-shelf by ``db`` above ``corner``: a flatter (>0) or steeper (<0) spectral tilt."""
    a = np.exp(-2 * np.pi * corner / sr)
    low = signal.lfilter([1 - a], [1, -a], x)
    return low + 10 ** (db / 20) * (x - low)


def vocal_tract(x: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int, hop: int) -> np.ndarray:
    """Cascade of five formant resonators (unity DC gain), coefficients updated every frame."""
    f = np.minimum(formants, 0.45 * sr)
    r = np.exp(-np.pi * bandwidths / sr)
    a1 = -2 * r * np.cos(2 * np.pi * f / sr)
    a2 = np.broadcast_to(r * r, a1.shape)
    sos = np.zeros((*f.shape, 6))
    sos[..., 0] = 1 + a1 + a2
    sos[..., 3] = 1.0
    sos[..., 4] = a1
    sos[..., 5] = a2
    y = np.empty_like(x)
    zi = np.zeros((f.shape[1], 2))
    for i in range(-(-x.size // hop)):
        blk = slice(i * hop, (i + 1) * hop)
        y[blk], zi = signal.sosfilt(sos[i], x[blk], zi=zi)
    return y


@lru_cache(maxsize=256)
def _band_sos(sr: int, lo: float, hi: float) -> np.ndarray:
    """Band-pass (Butterworth, order 2) for a frication band, cut to the Nyquist range."""
    hi = min(hi, 0.45 * sr)
    return signal.butter(2, [min(lo, 0.8 * hi), hi], btype="bandpass", fs=sr, output="sos")


def frication(tl: Timeline, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Band-passed noise for fricatives, affricate releases and plosive bursts."""
    out = np.zeros(n)
    for seg in tl.segments:
        ph = seg.phone
        if ph is None or ph.noise_band is None:
            continue
        if ph.kind == "stop":
            a, d = seg.start + seg.dur - seg.vot - min(0.012, seg.dur / 4), 0.02
            shape = "burst"
        elif ph.kind == "affricate":
            a, d, shape = seg.start + 0.4 * seg.dur, 0.6 * seg.dur, "fric"
        else:
            a, d, shape = seg.start, seg.dur, "fric"
        i0, m = int(a * sr), int(d * sr)
        m = min(m, n - i0)
        if m <= 8:
            continue
        tt = np.arange(m) / sr
        if shape == "burst":
            env = np.exp(-tt / 0.004) * np.minimum(tt / 0.001, 1.0)
        else:
            env = _smoothstep(tt / min(0.02, d / 3)) * _smoothstep((d - tt) / min(0.02, d / 3))
        noise = signal.sosfilt(_band_sos(sr, *ph.noise_band), rng.standard_normal(m))
        out[i0 : i0 + m] += ph.noise_level * seg.gain * env * noise
    return out


def _room(x: np.ndarray, spk: Speaker, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a small room: direct sound plus an exponentially decaying noise tail."""
    ch = spk.channel
    m = int(ch.rt60 * sr)
    tt = np.arange(m) / sr
    tail = rng.standard_normal(m) * np.exp(-6.9 * tt / ch.rt60) * (tt > 0.003)
    tail *= 10 ** (-ch.drr_db / 20) / max(np.sqrt(np.sum(tail**2)), 1e-12)
    tail[0] = 1.0
    return signal.fftconvolve(x, tail)[: x.size]


def _biquad(kind: str, f0: float, db: float, sr: int, q: float = 0.707) -> np.ndarray:
    """RBJ-cookbook peaking or high-shelf biquad as one SOS row."""
    big_a, w = 10 ** (db / 40), 2 * np.pi * f0 / sr
    cw, alpha = np.cos(w), np.sin(w) / (2 * q)
    if kind == "peaking":
        b = [1 + alpha * big_a, -2 * cw, 1 - alpha * big_a]
        a = [1 + alpha / big_a, -2 * cw, 1 - alpha / big_a]
    else:  # high shelf
        k = 2 * np.sqrt(big_a) * alpha
        b = [
            big_a * ((big_a + 1) + (big_a - 1) * cw + k),
            -2 * big_a * ((big_a - 1) + (big_a + 1) * cw),
            big_a * ((big_a + 1) + (big_a - 1) * cw - k),
        ]
        a = [
            (big_a + 1) - (big_a - 1) * cw + k,
            2 * ((big_a - 1) - (big_a + 1) * cw),
            (big_a + 1) - (big_a - 1) * cw - k,
        ]
    return np.array(b + a) / a[0]


def record(
    speech: np.ndarray, p: UtteranceParams, spk: Speaker, sr: int, channels: int, rng: np.random.Generator
) -> np.ndarray:
    """Vocal-effort gain, room, mic EQ, per-channel noise floor and a soft limiter: the file's samples."""
    ch = spk.channel
    y = _room(speech * 10 ** ((p.level_db + LEVEL_REF_DB) / 20), spk, sr, rng)
    eq = np.vstack(
        [
            signal.butter(2, ch.highpass_hz, btype="highpass", fs=sr, output="sos"),
            _biquad("peaking", ch.eq_hz, ch.eq_db, sr, q=1.0),
            _biquad("shelf", min(4000.0, 0.4 * sr), ch.shelf_db, sr),
        ]
    )
    y = signal.sosfilt(eq, y)
    out = np.empty((channels, y.size))
    out[0] = y
    if channels == 2:
        out[1] = np.roll(y, int(ch.right_delay * sr)) * 10 ** (ch.right_db / 20)
    floor = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal((channels, y.size)), axis=-1)
    out += floor * (10 ** (ch.noise_db / 20) * np.sqrt(1 - 0.9**2))  # unit-variance AR(1) pink-ish noise
    return _soft_limit(out.T).astype(np.float32)


def _soft_limit(x: np.ndarray) -> np.ndarray:
    """Identity below LIMIT_KNEE, a tanh knee above it, never reaching PEAK_LIMIT."""
    over = np.abs(x) > LIMIT_KNEE
    room = PEAK_LIMIT - LIMIT_KNEE
    mag = np.abs(x[over])
    x[over] = np.sign(x[over]) * (LIMIT_KNEE + room * np.tanh((mag - LIMIT_KNEE) / room))
    return x


def synthesize_utterance(
    emotion: str = "neutral",
    *,
    sentence: str = "b1",
    language: str = "it",
    speaker: str = "f1",
    sex: str = "female",
    intensity: float = 1.0,
    sr: int = 16000,
    channels: int = 1,
    seed: int = 0,
    corpus: str = "demo",
    take: int = 1,
    silence: tuple[float, float] = (0.25, 0.3),
) -> np.ndarray:
    """Synthesise one recorded utterance: float32 samples, shape (n,) or (n, channels) if channels > 1.

    All randomness derives from (seed, corpus, speaker, sentence, emotion, intensity, take), so a call
    is reproducible anywhere. ``speaker`` names a voice within ``corpus`` (same names -> same voice);
    ``intensity`` scales the emotion's deviation from neutral; ``silence`` is the mean lead/trail (s).
    """
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    parsed = parse_sentence(language, sentence)
    spk = make_speaker(seed, corpus, speaker, sex)
    rng = rng_for(seed, corpus, speaker, sentence, emotion, round(float(intensity), 3), take)
    p = utterance_params(spk, make_style(seed, corpus, speaker, emotion), emotion, intensity, rng)
    tl = plan_timeline(parsed, p, language, rng, silence)
    hop = round(HOP * sr)
    n = int(tl.duration * sr)
    tf = (np.arange(n // hop + 1) + 0.5) * hop / sr
    ts = np.arange(n) / sr
    f0, creak = f0_contour(tl, p, parsed.question, RHYTHM[language]["accent"], tf, rng)
    formants, av, ah = control_tracks(tl, p, spk, tf, ts)
    voiced, flow = glottal_source(np.interp(ts, tf, f0), np.interp(ts, tf, creak), av, p, sr, rng)
    noise = rng.standard_normal(n)
    source = voiced + noise * (p.breath * av * (0.3 + flow) + ah)
    bandwidths = _BANDWIDTHS * np.array([1 + 2.0 * p.breath - 0.15 * p.tension, 1, 1, 1, 1])
    voice = vocal_tract(source, formants, bandwidths, sr, hop)
    speech = voice / _loud_rms(voice, av) + frication(tl, n, sr, rng)
    out = record(speech, p, spk, sr, channels, rng)
    return out[:, 0] if channels == 1 else out
