"""Prosodic and voice-quality descriptors: eGeMAPS v02 via openSMILE, or a compact pure-librosa fallback.

eGeMAPS (Eyben et al. 2016) is the standard minimalistic parameter set for affective speech: 88
functionals of pitch, loudness, jitter, shimmer, formants, spectral balance and timing. openSMILE
computes it in C (about 10 ms per second of audio). Where ``opensmile`` is not installed, the
librosa backend gives 27 eGeMAPS-like descriptors with the same intent (F0 level, range and slope;
loudness; voicing; jitter/shimmer/HNR-like measures; alpha ratio, Hammarberg index, spectral slope;
speaking-rate proxies). The two are different sets: never mix them in one table.
"""

from __future__ import annotations

import importlib.util
import threading

import librosa
import numpy as np
import scipy.signal

from ..audio import fix_length

#: F0 search range (Hz): low male to high, excited female voices.
F0_MIN, F0_MAX = 60.0, 600.0


def opensmile_available() -> bool:
    """Whether the ``opensmile`` package can be imported here."""
    return importlib.util.find_spec("opensmile") is not None


def resolve_backend(backend: str) -> str:
    """``"auto"`` → ``"opensmile"`` when importable, else ``"librosa"``; explicit names are checked."""
    if backend == "auto":
        return "opensmile" if opensmile_available() else "librosa"
    if backend not in ("opensmile", "librosa"):
        raise ValueError(f"prosody backend must be 'auto', 'opensmile' or 'librosa', got {backend!r}")
    if backend == "opensmile" and not opensmile_available():
        raise ImportError(
            "prosody backend 'opensmile' needs the opensmile package (pip install opensmile); "
            "use backend='librosa' for the pure-librosa descriptors"
        )
    return backend


_LOCAL = threading.local()


def _smile(feature_set: str = "eGeMAPSv02", level: str = "Functionals"):
    """One openSMILE extractor per thread, set and level (functionals per clip, or low-level descriptors per
    frame); building one parses its config."""
    extractors = _LOCAL.__dict__.setdefault("extractors", {})
    if (feature_set, level) not in extractors:
        import opensmile

        extractors[feature_set, level] = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=getattr(opensmile.FeatureLevel, level)
        )
    return extractors[feature_set, level]


def prosody(
    y: np.ndarray, sr: int, *, backend: str = "auto", fmin: float = F0_MIN, fmax: float = F0_MAX, f0_method: str = "yin"
) -> np.ndarray:
    """eGeMAPS v02 functionals (88, openSMILE) or 27 eGeMAPS-like librosa descriptors (``backend``).

    ``fmin``/``fmax``/``f0_method`` ("yin" fast, "pyin" ~100× slower) apply to the librosa backend only.
    """
    if resolve_backend(backend) == "opensmile":
        return _smile().process_signal(y, sr).to_numpy(dtype=np.float32).reshape(-1)
    return librosa_prosody(y, sr, fmin=fmin, fmax=fmax, f0_method=f0_method)


def prosody_names(*, backend: str = "auto", **_: object) -> list[str]:
    """Column names for the chosen backend."""
    if resolve_backend(backend) == "opensmile":
        return list(_smile().feature_names)
    return list(LIBROSA_NAMES)


def compare(y: np.ndarray, sr: int) -> np.ndarray:
    """ComParE 2016 functionals (6,373 values, openSMILE): the large brute-force set of the Interspeech
    paralinguistics challenges, whose baseline is a linear model on it; it needs the ``opensmile`` package."""
    resolve_backend("opensmile")  # a clear ImportError when it is missing
    return _smile("ComParE_2016").process_signal(y, sr).to_numpy(dtype=np.float32).reshape(-1)


#: openSMILE's eGeMAPS v02 low-level descriptors: how many per frame, and a frame every 10 ms.
EGEMAPS_LLDS, LLD_STEP_S = 25, 0.01


def egemaps_lld(y: np.ndarray, sr: int, *, frames: int = 300, align: str = "centre") -> np.ndarray:
    """eGeMAPS v02 low-level descriptors (openSMILE): 25 per 10 ms frame (pitch, loudness, jitter, shimmer,
    HNR, formants, spectral slope and balance) as a fixed-length sequence (frames × 25) for sequence networks.

    The waveform is padded with silence or cropped around its ``align`` point to ``frames`` steps first
    (300: 3 s); the last few rows, which openSMILE's analysis windows do not reach, are zeros.
    """
    if not opensmile_available():
        raise ImportError("the egemaps_lld feature set needs the opensmile package (pip install opensmile)")
    y = fix_length(np.asarray(y, dtype=np.float32), int(round(frames * LLD_STEP_S * sr)), align)  # type: ignore[arg-type]
    lld = _smile("eGeMAPSv02", "LowLevelDescriptors").process_signal(y, sr).to_numpy(dtype=np.float32)
    out = np.zeros((frames, lld.shape[1]), dtype=np.float32)
    out[: min(frames, len(lld))] = lld[:frames]
    return out


def compare_names() -> list[str]:
    """Column names of :func:`compare`."""
    resolve_backend("opensmile")
    return list(_smile("ComParE_2016").feature_names)


LIBROSA_NAMES = (
    "f0_mean_st",
    "f0_std_st",
    "f0_p20_st",
    "f0_p50_st",
    "f0_p80_st",
    "f0_range_p20_p80_st",
    "f0_slope_st_per_s",
    "loudness_mean_db",
    "loudness_std_db",
    "loudness_p20_db",
    "loudness_p80_db",
    "voiced_ratio",
    "jitter_like",
    "shimmer_like_db",
    "hnr_like_db",
    "alpha_ratio_db",
    "hammarberg_db",
    "spectral_slope_db_per_khz",
    "spectral_flux_mean",
    "mfcc1_mean",
    "mfcc2_mean",
    "mfcc3_mean",
    "mfcc4_mean",
    "voiced_segments_per_s",
    "voiced_segment_mean_s",
    "unvoiced_segment_mean_s",
    "loudness_peaks_per_s",
)


def _periodicity(frames: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of each frame at its own pitch period (1 = perfectly periodic)."""
    out = np.zeros(frames.shape[1])
    for i, lag in enumerate(periods):
        x = frames[:, i]
        if not 0 < lag < x.size // 2:
            continue
        a, b = x[:-lag], x[lag:]
        denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
        out[i] = np.dot(a, b) / denom if denom > 0 else 0.0
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (in frames) of the runs of True and of False in a boolean sequence."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [mask.size]])
    lengths = np.diff(bounds)
    values = mask[bounds[:-1]]
    return lengths[values], lengths[~values]


def _band_db(power: np.ndarray, freqs: np.ndarray, lo: float, hi: float, how: str = "sum") -> np.ndarray:
    """Per-frame energy (sum) or peak (max) of a frequency band, in dB."""
    band = power[(freqs >= lo) & (freqs < hi)]
    value = band.sum(axis=0) if how == "sum" else band.max(axis=0)
    return 10 * np.log10(value + 1e-12)


def librosa_prosody(
    y: np.ndarray,
    sr: int,
    *,
    fmin: float = F0_MIN,
    fmax: float = F0_MAX,
    f0_method: str = "yin",
    frame_length: int = 1024,
    hop_length: int = 256,
) -> np.ndarray:
    """27 eGeMAPS-like descriptors from librosa (see :data:`LIBROSA_NAMES`); undefined ones (no voicing) are 0."""
    seconds_per_frame = hop_length / sr
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0]
    level = 20 * np.log10(rms + 1e-10)
    active = level > level.max() - 40  # frames that belong to speech, not pauses
    frames = librosa.util.frame(np.pad(y, frame_length // 2), frame_length=frame_length, hop_length=hop_length)
    n = min(frames.shape[1], rms.size)
    if f0_method == "pyin":
        f0, voiced, _ = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length, hop_length=hop_length)
        f0 = np.nan_to_num(f0[:n], nan=fmin)
        periodic = _periodicity(frames[:, :n], np.round(sr / f0).astype(int))
        voiced = voiced[:n] & active[:n]
    elif f0_method == "yin":
        f0 = librosa.yin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length, hop_length=hop_length)[:n]
        periodic = _periodicity(frames[:, :n], np.round(sr / f0).astype(int))
        voiced = (periodic > 0.5) & active[:n] & (f0 > fmin * 1.01) & (f0 < fmax * 0.99)
    else:
        raise ValueError(f"f0_method must be 'yin' or 'pyin', got {f0_method!r}")
    level, active = level[:n], active[:n]

    st = 12 * np.log2(f0[voiced] / 27.5)  # semitones re 27.5 Hz, as eGeMAPS
    if st.size >= 2:
        times = np.flatnonzero(voiced) * seconds_per_frame
        pitch = [st.mean(), st.std(), *np.percentile(st, [20, 50, 80])]
        pitch += [pitch[4] - pitch[2], np.polyfit(times, st, 1)[0]]
        periods = 1.0 / f0[voiced]
        amp_db = level[voiced]
        consecutive = np.diff(np.flatnonzero(voiced)) == 1
        jitter = float(np.mean(np.abs(np.diff(periods))[consecutive]) / periods.mean()) if consecutive.any() else 0.0
        shimmer = float(np.mean(np.abs(np.diff(amp_db))[consecutive])) if consecutive.any() else 0.0
        r = np.clip(periodic[voiced], 1e-3, 1 - 1e-3)
        hnr = float(np.mean(10 * np.log10(r / (1 - r))))
    else:
        pitch, jitter, shimmer, hnr = [0.0] * 7, 0.0, 0.0, 0.0
    speech = level[active]
    loudness = [speech.mean(), speech.std(), *np.percentile(speech, [20, 80])]

    power = np.abs(librosa.stft(y, n_fft=frame_length, hop_length=hop_length))[:, :n] ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=frame_length)
    sel = voiced if voiced.any() else active
    alpha = float(np.mean(_band_db(power, freqs, 50, 1000)[sel] - _band_db(power, freqs, 1000, 5000)[sel]))
    hammarberg = float(
        np.mean(_band_db(power, freqs, 0, 2000, "max")[sel] - _band_db(power, freqs, 2000, 5000, "max")[sel])
    )
    band = (freqs > 0) & (freqs <= 5000)
    spectrum_db = 10 * np.log10(power[band][:, sel].mean(axis=1) + 1e-12)
    slope = float(np.polyfit(freqs[band] / 1000, spectrum_db, 1)[0])
    flux = float(np.mean(librosa.onset.onset_strength(S=librosa.power_to_db(power), sr=sr)))
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr)), n_mfcc=5)
    mfcc_means = list(mfcc[1:5][:, sel].mean(axis=1))

    duration = y.size / sr
    voiced_runs, unvoiced_runs = _runs(voiced)
    envelope = scipy.signal.savgol_filter(level, 9, 2) if level.size >= 9 else level
    peaks, _ = scipy.signal.find_peaks(envelope, prominence=3.0, distance=max(1, int(0.1 / seconds_per_frame)))
    timing = [
        voiced_runs.size / duration,
        voiced_runs.mean() * seconds_per_frame if voiced_runs.size else 0.0,
        unvoiced_runs.mean() * seconds_per_frame if unvoiced_runs.size else 0.0,
        peaks.size / duration,
    ]
    values = [
        *pitch,
        *loudness,
        float(voiced.mean()),
        jitter,
        shimmer,
        hnr,
        alpha,
        hammarberg,
        slope,
        flux,
        *mfcc_means,
        *timing,
    ]
    return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
