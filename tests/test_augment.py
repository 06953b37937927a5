"""Augmentations do what they say (measured), are reproducible, and augmented rows cannot leak into a test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from ser_utils import augment as aug

SR = 16000


def tone(f0: float = 150.0, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A harmonic tone (5 partials) with a soft fade in and out: a stand-in for a voiced vowel."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6))
    return (y * signal.windows.tukey(len(t), 0.1)).astype(np.float32)


def white(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """White noise at about -10 dBFS RMS."""
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def db(ratio: float) -> float:
    return 10 * np.log10(ratio)


def band_energy(y: np.ndarray, lo: float, hi: float) -> float:
    """Spectral energy of ``y`` between ``lo`` and ``hi`` Hz."""
    power = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(power[(freqs >= lo) & (freqs < hi)].sum())


def median_f0(y: np.ndarray) -> float:
    return float(np.median(__import__("librosa").yin(y, fmin=60, fmax=600, sr=SR)[5:-5]))


# --- waveform transforms -------------------------------------------------------------------------------

WAVEFORM_CASES = {
    "add_noise_snr": lambda y, s: aug.add_noise_snr(y, 15.0, s),
    "add_peak_noise": lambda y, s: aug.add_peak_noise(y, 0.035, s),
}


@pytest.mark.parametrize("name", WAVEFORM_CASES)
def test_random_waveform_transforms_are_seeded(name: str) -> None:
    y = tone()
    f = WAVEFORM_CASES[name]
    a, b, c = f(y, 1), f(y, 1), f(y, 2)
    assert a.dtype == np.float32 and a.shape == y.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(f(y, np.random.default_rng(5)), f(y, np.random.default_rng(5)))


@pytest.mark.parametrize("snr_db", [0.0, 15.0, 30.0])
def test_noise_hits_the_requested_snr(snr_db: float) -> None:
    y = tone(seconds=2.0)
    noisy = aug.add_noise_snr(y, snr_db, 0)
    measured = 20 * np.log10(aug.rms(y) / aug.rms(noisy - y))
    assert abs(measured - snr_db) < 0.5


def test_peak_noise_follows_the_kaggle_recipe() -> None:
    y = tone()
    noise = aug.add_peak_noise(y, 0.035, 7) - y
    gen = np.random.default_rng(7)
    amplitude = 0.035 * gen.uniform() * np.max(np.abs(y))
    assert np.allclose(noise, amplitude * gen.standard_normal(len(y)), atol=1e-6)
    assert np.array_equal(aug.add_peak_noise(np.zeros(100, np.float32), 0.035, 0), np.zeros(100, np.float32))


def test_stretch_makes_the_clip_longer_and_keeps_pitch() -> None:
    y = tone()
    z = aug.time_stretch(y, SR, 0.8)
    assert z.dtype == np.float32 and z.ndim == 1
    assert abs(len(z) / len(y) - 1 / 0.8) < 0.01
    assert abs(12 * np.log2(median_f0(z) / median_f0(y))) < 0.3
    assert len(aug.time_stretch(y, SR, 0.8, keep_length=True)) == len(y)
    assert np.array_equal(z, aug.time_stretch(y, SR, 0.8))


def test_pitch_shift_moves_f0_by_the_requested_semitones() -> None:
    y = tone(150.0)
    z = aug.pitch_shift(y, SR, 7.0)
    assert z.dtype == np.float32 and z.shape == y.shape
    assert abs(12 * np.log2(median_f0(z) / 150.0) - 7.0) < 0.3
    assert np.array_equal(z, aug.pitch_shift(y, SR, 7.0))


def test_low_pass_removes_energy_above_cutoff() -> None:
    y = white()
    z = aug.low_pass(y, SR, 3000.0)
    assert z.dtype == np.float32 and z.shape == y.shape
    assert db(band_energy(z, 6000, SR / 2) / band_energy(y, 6000, SR / 2)) < -20  # an octave above: > 20 dB down
    assert abs(db(band_energy(z, 50, 1500) / band_energy(y, 50, 1500))) < 1  # pass band kept
    with pytest.raises(ValueError, match="Nyquist"):
        aug.low_pass(y, SR, 9000.0)


@pytest.mark.parametrize("gain_db", [-6.0, 3.5])
def test_gain_changes_rms_by_the_requested_db(gain_db: float) -> None:
    y = tone()
    z = aug.gain(y, gain_db)
    assert z.dtype == np.float32 and z.shape == y.shape
    assert abs(20 * np.log10(aug.rms(z) / aug.rms(y)) - gain_db) < 0.01


def test_time_shift_rolls_or_zero_fills() -> None:
    y = np.arange(1, 11, dtype=np.float32)
    assert np.array_equal(aug.time_shift(y, 10, 0.3), np.roll(y, 3))
    assert np.array_equal(aug.time_shift(y, 10, -0.2, unit="fraction", rollover=False), [*y[2:], 0, 0])
    assert np.array_equal(aug.time_shift(y, 10, 2, unit="samples", rollover=False), [0, 0, *y[:8]])
    assert not aug.time_shift(y, 10, 20, unit="samples", rollover=False).any()
    with pytest.raises(ValueError, match="unit"):
        aug.time_shift(y, 10, 1, unit="bars")


def test_waveform_transforms_refuse_non_mono_input() -> None:
    with pytest.raises(ValueError, match="mono"):
        aug.gain(np.zeros((2, 100), np.float32), 3.0)


# --- presets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(aug.PRESETS))
def test_presets_are_deterministic_per_seed(name: str) -> None:
    y = tone(seconds=0.8)
    a, b = aug.apply_augmentation(y, SR, name, 11), aug.apply_augmentation(y, SR, name, 11)
    assert a.dtype == np.float32 and a.ndim == 1 and len(a) > 0 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, y)
    if aug.PRESETS[name].varies_with_seed:
        others = [aug.apply_augmentation(y, SR, name, s) for s in (12, 13, 14)]
        assert any(len(o) != len(a) or not np.array_equal(o, a) for o in others)


def test_random_preset_leaves_global_random_state_alone() -> None:
    np.random.seed(1)
    expected = np.random.random()
    np.random.seed(1)
    aug.apply_augmentation(tone(seconds=0.5), SR, "random", 3)
    assert np.random.random() == expected


def test_preset_values_match_the_references() -> None:
    y = tone(150.0)
    assert abs(len(aug.apply_augmentation(y, SR, "stretch", 0)) / len(y) - 1.25) < 0.01
    assert abs(12 * np.log2(median_f0(aug.apply_augmentation(y, SR, "pitch", 0)) / 150.0) - 7) < 0.3
    noisy = aug.apply_augmentation(y, SR, "noise_snr", 0)
    assert abs(20 * np.log10(aug.rms(y) / aug.rms(noisy - y)) - aug.PRESETS["noise_snr"].params["snr_db"]) < 0.5


def test_unknown_preset_lists_the_presets_and_empty_name_is_identity() -> None:
    with pytest.raises(ValueError, match="noise, noise_snr, stretch"):
        aug.apply_augmentation(tone(), SR, "reverb", 0)
    y = tone()
    assert np.array_equal(aug.apply_augmentation(y, SR, "", -1), y)


def test_describe_presets_is_a_table_of_every_preset() -> None:
    table = aug.describe_presets()
    assert list(table.index) == list(aug.PRESETS)
    assert {"what it does", "parameters", "varies with seed", "source"} <= set(table.columns)
    assert "rate=0.8" in table.loc["stretch", "parameters"]


# --- spectrogram transforms ----------------------------------------------------------------------------


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-40, 10, size=(64, 120)).astype(np.float32)


def test_mask_bands_and_frames_touch_only_what_was_asked() -> None:
    S = image()
    bands = aug.mask_bands(S, 10, 5, fill=-80.0)
    assert (bands[10:15] == -80).all() and np.array_equal(
        np.delete(bands, range(10, 15), axis=0), np.delete(S, range(10, 15), axis=0)
    )
    frames = aug.mask_frames(S, 30, 7)
    assert np.allclose(frames[:, 30:37], S.mean()) and np.array_equal(
        np.delete(frames, range(30, 37), axis=1), np.delete(S, range(30, 37), axis=1)
    )


def test_spec_augment_masks_whole_bands_and_frames_and_leaves_the_rest() -> None:
    S = image()
    mask = aug.spec_augment_mask(S.shape, 3, freq_masks=2, max_freq_width=8, time_masks=3, max_time_width=15)
    out = aug.spec_augment(S, 3, freq_masks=2, max_freq_width=8, time_masks=3, max_time_width=15, fill=-100.0)
    assert out.shape == S.shape and out.dtype == S.dtype
    assert (out[mask] == -100).all() and np.array_equal(out[~mask], S[~mask])
    full_bands, full_frames = mask.all(axis=1), mask.all(axis=0)
    # every masked cell lies in a fully masked band or a fully masked frame, within the requested sizes
    assert np.array_equal(mask, full_bands[:, None] | full_frames[None, :])
    assert full_bands.sum() <= 2 * 8 and full_frames.sum() <= 3 * 15
    assert mask.any()
    assert np.array_equal(
        out, aug.spec_augment(S, 3, freq_masks=2, max_freq_width=8, time_masks=3, max_time_width=15, fill=-100.0)
    )
    assert not np.array_equal(out, aug.spec_augment(S, 4, fill=-100.0))
    assert np.array_equal(S, image())  # input untouched


def test_image_transforms_keep_shape_and_behave() -> None:
    S = image()
    assert np.allclose(aug.rotate(S, 0.0), S, atol=1e-4)
    assert np.allclose(aug.zoom(S, 1.0), S, atol=1e-4)
    for out in (
        aug.rotate(S, 5.0),
        aug.zoom(S, 1.2),
        aug.zoom(S, 1.2, 0),
        aug.brightness(S, 3.0),
        aug.image_augment(S, 0),
    ):
        assert out.shape == S.shape and np.isfinite(out).all()
    assert np.allclose(aug.brightness(S, 6.0, scale=0.5), S * 0.5 + 6.0)
    ramp = np.tile(np.arange(100, dtype=float), (50, 1))  # zooming in on a ramp flattens its slope
    zoomed = aug.zoom(ramp, 2.0)
    assert np.allclose(np.diff(zoomed, axis=1)[:, 1:-1], 0.5, atol=1e-6)
    assert np.array_equal(aug.image_augment(S, 5), aug.image_augment(S, 5))
    with pytest.raises(ValueError, match=">= 1"):
        aug.zoom(S, 0.5)


def test_mixup_is_a_convex_combination_with_soft_labels() -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(8, 4, 5)).astype(np.float32)
    labels = np.eye(3)[gen.integers(0, 3, 8)]
    xm, ym, lam, perm = aug.mixup(x, labels, 0.4, 1, return_pairs=True)
    assert 0 <= lam <= 1 and sorted(perm) == list(range(8))
    assert xm.shape == x.shape and xm.dtype == np.float32
    assert np.allclose(xm, lam * x + (1 - lam) * x[perm], atol=1e-6)
    assert np.allclose(ym.sum(axis=1), 1.0) and (ym >= 0).all()
    assert np.allclose(ym, lam * labels + (1 - lam) * labels[perm])
    x2, y2 = aug.mixup(x, labels, 0.4, 1)
    assert np.array_equal(x2, xm) and np.array_equal(y2, ym)
    with pytest.raises(ValueError, match="alpha"):
        aug.mixup(x, labels, 0.0)
    with pytest.raises(ValueError, match="batch"):
        aug.mixup(x, labels[:5], 0.2)


# --- manifests -----------------------------------------------------------------------------------------


def manifest(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "utt_id": [f"u{i}" for i in range(n)],
            "path": [f"/data/u{i}.wav" for i in range(n)],
            "speaker": [f"s{i % 3}" for i in range(n)],
            "sentence": ["b1"] * n,
            "emotion": ["angry", "sad"] * (n // 2),
            "file_hash": [f"h{i}" for i in range(n)],
        }
    )


def test_augment_manifest_rows_ids_and_links() -> None:
    train = manifest()
    out = aug.augment_manifest(train, ["noise", "gain"], copies=2, seed=0)
    assert len(out) == len(train) * 2 * 2
    assert out["utt_id"].is_unique
    assert set(out["source_id"]) == set(train["utt_id"])
    assert (out["utt_id"].str.split("#").str[0] == out["source_id"]).all()
    assert out.iloc[0]["utt_id"] == "u0#noise0" and set(out["augmentation"]) == {"noise", "gain"}
    merged = out.merge(train, left_on="source_id", right_on="utt_id", suffixes=("", "_src"))
    for column in ("path", "speaker", "sentence", "emotion", "file_hash"):
        assert (merged[column] == merged[f"{column}_src"]).all()
    assert out["aug_seed"].dtype == np.int64 and out["aug_seed"].between(0, 2**32 - 1).all()
    assert out["aug_seed"].is_unique


def test_aug_seed_is_deterministic_and_depends_on_the_seed() -> None:
    train = manifest()
    a = aug.augment_manifest(train, "noise", copies=3, seed=4)
    pd.testing.assert_frame_equal(a, aug.augment_manifest(train, "noise", copies=3, seed=4))
    b = aug.augment_manifest(train, "noise", copies=3, seed=5)
    assert not (a["aug_seed"] == b["aug_seed"]).any()
    assert aug.derive_seed(4, "u0", "noise", 0) == a.loc[a["utt_id"] == "u0#noise0", "aug_seed"].item()
    # a row's seed does not depend on which other rows were augmented with it
    single = aug.augment_manifest(train.iloc[[3]], "noise", copies=3, seed=4)
    assert list(single["aug_seed"]) == list(a.loc[a["source_id"] == "u3", "aug_seed"])


def test_include_original_comes_first_and_source_id_is_kept() -> None:
    train = manifest().assign(source_id=lambda m: ["orig0", None, "", "orig3", None, None])
    out = aug.augment_manifest(train, ["gain"], include_original=True)
    originals = out.iloc[: len(train)]
    assert list(originals["utt_id"]) == list(train["utt_id"])
    assert (originals["augmentation"] == "").all() and (originals["aug_seed"] == -1).all()
    assert list(originals["source_id"]) == ["orig0", "u1", "u2", "orig3", "u4", "u5"]
    copies = out.iloc[len(train) :]
    assert list(copies["source_id"]) == list(originals["source_id"])
    assert train["source_id"].tolist()[0] == "orig0" and len(train.columns) == 7  # input not modified


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda m: m.drop(columns="path"), "path"),
        (lambda m: m.drop(columns="utt_id"), "utt_id"),
        (lambda m: pd.concat([m, m.iloc[[0]]]), "unique"),
        (lambda m: m.assign(augmentation=["noise"] + [""] * 5), "already augmented"),
    ],
)
def test_augment_manifest_refuses_wrong_rows(bad, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        aug.augment_manifest(bad(manifest()), "noise")


@pytest.mark.parametrize(
    "presets, copies, match",
    [
        (["noise", "echo"], 1, "presets: noise"),
        ([], 1, "no augmentation"),
        (["noise", "noise"], 1, "twice"),
        ("noise", 0, "copies"),
        ("noise", 1.5, "copies"),
    ],
)
def test_augment_manifest_refuses_wrong_arguments(presets, copies, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        aug.augment_manifest(manifest(), presets, copies=copies)


def test_identical_copies_are_warned_about() -> None:
    with pytest.warns(UserWarning, match="identical"):
        aug.augment_manifest(manifest(), ["stretch", "noise"], copies=2)


def test_augmented_rows_reproduce_the_same_audio() -> None:
    rows = aug.augment_manifest(manifest(2), ["noise", "random"], seed=1)
    y = tone(seconds=0.5)
    for row in rows.itertuples():
        first = aug.apply_augmentation(y, SR, row.augmentation, row.aug_seed)
        assert np.array_equal(first, aug.apply_augmentation(y, SR, row.augmentation, row.aug_seed))


def test_assert_no_leak_passes_a_clean_split_and_catches_a_leaked_copy() -> None:
    data = manifest()
    train, test = data[data["speaker"] != "s0"], data[data["speaker"] == "s0"]
    aug.assert_no_leak(aug.augment_manifest(train, ["noise", "pitch"], include_original=True), test)
    leaky = aug.augment_manifest(data, "noise", include_original=True)  # augmented before splitting
    leaked_train = leaky[~leaky["utt_id"].isin(test["utt_id"])]  # originals removed, their copies left in
    with pytest.raises(aug.LeakageError, match=r"2 source clip\(s\).*u0, u3"):
        aug.assert_no_leak(leaked_train, test)
    with pytest.raises(aug.LeakageError):
        aug.assert_no_leak(data, data.iloc[[1]])  # no source_id at all: utt_id is compared
