"""Audio loading, checks, trimming, normalisation, fixed length and windows (ser_utils.audio)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import soundfile as sf

from ser_utils.audio import (
    AudioConfig,
    AudioError,
    condition,
    fix_length,
    load_audio,
    load_clip,
    normalize,
    read_clip,
    segment,
    trim_silence,
    windows,
)

SR = 16000


def tone(seconds: float, sr: int = SR, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    """A sine tone (float32)."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, data, sr=SR, **kwargs):
    sf.write(path, data, sr, **kwargs)
    return path


# --- formats, rates, channels -------------------------------------------------------------------


def test_48k_stereo_becomes_mono_at_target_rate(tmp_path):
    stereo = np.stack([tone(1.0, 48000), 0.5 * tone(1.0, 48000)], axis=1)
    y, sr = load_audio(write(tmp_path / "a.wav", stereo, 48000), 16000)
    assert sr == 16000 and y.dtype == np.float32 and y.ndim == 1 and y.size == 16000
    channels, _ = load_audio(tmp_path / "a.wav", 16000, mono=False)
    assert channels.shape == (2, 16000)


def test_96k_and_native_rate(tmp_path):
    path = write(tmp_path / "hi.wav", tone(0.5, 96000), 96000)
    y, sr = load_audio(path, 16000)
    assert (sr, y.size) == (16000, 8000)
    native, rate = load_audio(path, None)
    assert (rate, native.size) == (96000, 48000)
    # the resampled tone keeps its level (no gain change from resampling)
    assert np.max(np.abs(y[100:-100])) == pytest.approx(0.5, abs=0.02)


def test_aiff_behind_a_wav_name(tmp_path):
    path = write(tmp_path / "really_aiff.wav", tone(0.5, 22050), 22050, format="AIFF")
    assert sf.info(path).format == "AIFF"
    y, sr = load_audio(path, 16000)
    assert sr == 16000 and y.size == 8000


def test_load_clip_with_default_config(tmp_path):
    y = load_clip(write(tmp_path / "a.wav", tone(1.0, 44100), 44100))
    assert y.dtype == np.float32 and y.size == SR


# --- trimming, normalisation, length ------------------------------------------------------------


def test_trim_removes_leading_and_trailing_silence():
    clip = np.concatenate([np.zeros(SR), tone(1.0), np.zeros(SR)]).astype(np.float32)
    trimmed = trim_silence(clip, top_db=30)
    assert abs(trimmed.size - SR) < 0.1 * SR  # frame granularity (1024-sample frames)


def test_read_clip_trims_when_configured(tmp_path):
    path = write(tmp_path / "pad.wav", np.concatenate([np.zeros(SR), tone(0.5), np.zeros(SR)]))
    assert read_clip(path, AudioConfig()).size == 2.5 * SR
    assert abs(read_clip(path, AudioConfig(trim_db=30)).size - 0.5 * SR) < 0.1 * SR


def test_peak_and_rms_normalisation():
    y = tone(1.0, amp=0.1)
    assert np.max(np.abs(normalize(y, "peak", -1.0))) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    rms = np.sqrt(np.mean(normalize(y, "rms", -20.0) ** 2))
    assert 20 * np.log10(rms) == pytest.approx(-20.0, abs=0.01)
    loud = normalize(y, "rms", 0.0)  # a sine at 0 dBFS RMS would clip: the gain is limited
    assert np.max(np.abs(loud)) <= 1.0 + 1e-6
    assert np.array_equal(normalize(np.zeros(10, np.float32)), np.zeros(10, np.float32))
    with pytest.raises(ValueError):
        normalize(y, "lufs")


def test_condition_normalises_then_fixes_length():
    y = condition(tone(1.3, amp=0.2), AudioConfig(normalize="peak", duration=2.0))
    assert y.size == 2 * SR and y.dtype == np.float32
    assert np.max(np.abs(y)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)


@pytest.mark.parametrize("n", [5, 10, 13])
@pytest.mark.parametrize("align", ["centre", "start"])
def test_fix_length_is_exact(n, align):
    y = np.arange(1, 11, dtype=np.float32)
    out = fix_length(y, n, align)
    assert out.size == n
    if n < 10:
        assert np.array_equal(out, y[:n] if align == "start" else y[(10 - n) // 2 : (10 - n) // 2 + n])
    elif n > 10:
        assert out.sum() == y.sum()  # zeros were added, nothing lost
        assert out[0] == (1 if align == "start" else 0)


# --- windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "hop", "expected"),
    [
        (5.0, None, 3),  # 0-2, 2-4, and 4-5 (1 s = half a window: kept, padded)
        (4.5, None, 2),  # the last 0.5 s is a quarter window: dropped
        (4.0, None, 2),  # exact fit
        (4.0, 1.0, 3),  # overlapping: starts 0, 1, 2
        (1.0, None, 1),  # shorter than a window: one padded window
    ],
)
def test_segment_counts(seconds, hop, expected):
    parts = segment(tone(seconds), SR, window=2.0, hop=hop, min_last=0.5)
    assert parts.shape == (expected, 2 * SR) and parts.dtype == np.float32


def test_segment_keeps_content_and_pads_with_zeros():
    y = np.arange(5 * SR, dtype=np.float32)
    parts = segment(y, SR, window=2.0)
    assert np.array_equal(parts[1], y[2 * SR : 4 * SR])
    assert np.array_equal(parts[2, :SR], y[4 * SR :]) and not parts[2, SR:].any()
    short = segment(y[:SR], SR, window=2.0)
    assert np.array_equal(short[0, :SR], y[:SR]) and not short[0, SR:].any()


def test_windows_carry_source_id_and_index():
    parts = windows(tone(5.0), SR, "spk1/clip7", window=2.0, hop=1.0)
    assert [w.index for w in parts] == list(range(len(parts)))
    assert {w.source_id for w in parts} == {"spk1/clip7"}
    assert [w.start for w in parts] == [0.0, 1.0, 2.0, 3.0]


# --- named errors -------------------------------------------------------------------------------


def test_audio_error_reasons(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    cases = {
        "corrupt or unreadable:": corrupt,
        "empty: 0 samples": write(tmp_path / "empty.wav", np.zeros(0, np.float32)),
        "silent: peak -120 dBFS": write(tmp_path / "silent.wav", np.zeros(SR, np.float32)),
        "too short: 0.05 s < 0.20 s": write(tmp_path / "short.wav", tone(0.05)),
        "odd sample rate: 4000 Hz < 8000 Hz": write(tmp_path / "lowrate.wav", tone(1.0, 4000), 4000),
        "not found: no such file": tmp_path / "missing.wav",
    }
    for reason, path in cases.items():
        with pytest.raises(AudioError) as info:
            read_clip(path, AudioConfig())
        assert info.value.reason.startswith(reason), (path.name, info.value.reason)
        assert isinstance(info.value, ValueError)


def test_quiet_but_not_silent_and_trim_then_too_short(tmp_path):
    hiss = write(tmp_path / "hiss.wav", tone(1.0, amp=10 ** (-50 / 20)))
    assert read_clip(hiss, AudioConfig()).size == SR  # -50 dBFS is quiet speech, not silence
    with pytest.raises(AudioError, match="silent: peak -50 dBFS"):
        read_clip(hiss, AudioConfig(silence_dbfs=-40))
    blip = write(tmp_path / "blip.wav", np.concatenate([np.zeros(SR), tone(0.1), np.zeros(SR)]))
    with pytest.raises(AudioError, match="too short"):
        read_clip(blip, AudioConfig(trim_db=30))


def test_load_audio_raises_audio_error_on_corrupt_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(AudioError, match="corrupt or unreadable"):
        load_audio(bad)


def test_audio_config_is_frozen_validated_and_hashable():
    config = AudioConfig(trim_db=30, normalize="rms", duration=3.0)
    with pytest.raises(FrozenInstanceError):
        config.sr = 8000  # type: ignore[misc]
    assert config.key()["trim_db"] == 30
    assert hash(config) == hash(AudioConfig(trim_db=30, normalize="rms", duration=3.0))
    with pytest.raises(ValueError):
        AudioConfig(normalize="loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AudioConfig(align="end")  # type: ignore[arg-type]
