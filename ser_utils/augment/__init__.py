"""Data augmentation for SER: waveform and spectrogram transforms, named presets, and leak-proof manifests.

* :mod:`.waveform` — noise (at an SNR or peak-scaled), time stretch, pitch shift, low-pass, gain, shift.
* :mod:`.spectrogram` — SpecAugment masks, image-style rotation/zoom/brightness, mixup for batches.
* :mod:`.presets` — ``PRESETS``, ``describe_presets()`` and ``apply_augmentation(y, sr, name, seed)``.
* :mod:`.manifest` — ``augment_manifest`` (training rows → augmented rows tied to their ``source_id``)
  and ``assert_no_leak`` (no source clip on both sides of a split).
* :mod:`.plots` — figures and measurements for the notebook (imported separately: it needs matplotlib).
"""

from .manifest import AUG_COLUMNS, LeakageError, assert_no_leak, augment_manifest, derive_seed, source_ids
from .presets import PRESETS, Preset, apply_augmentation, describe_presets, get_preset
from .spectrogram import (
    brightness,
    image_augment,
    mask_bands,
    mask_frames,
    mixup,
    rotate,
    spec_augment,
    spec_augment_mask,
    zoom,
)
from .waveform import add_noise_snr, add_peak_noise, gain, low_pass, pitch_shift, rms, time_shift, time_stretch

__all__ = [
    "AUG_COLUMNS",
    "LeakageError",
    "PRESETS",
    "Preset",
    "add_noise_snr",
    "add_peak_noise",
    "apply_augmentation",
    "assert_no_leak",
    "augment_manifest",
    "brightness",
    "derive_seed",
    "describe_presets",
    "gain",
    "get_preset",
    "image_augment",
    "low_pass",
    "mask_bands",
    "mask_frames",
    "mixup",
    "pitch_shift",
    "rms",
    "rotate",
    "source_ids",
    "spec_augment",
    "spec_augment_mask",
    "time_shift",
    "time_stretch",
    "zoom",
]
