"""Augmentations of 2-D time-frequency arrays (mel bands × frames) and of training batches (mixup).

SpecAugment (Park et al., 2019) masks whole bands and whole frames; the image-style transforms
(rotation, zoom, brightness) are what some studies borrowed from computer vision for log-mel
"images". All take a 2-D array and return a new one of the same shape; the input is never modified.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .waveform import RngLike, as_generator


def _as_image(S: np.ndarray) -> np.ndarray:
    """Check for a 2-D (bands × frames) array and return it as floating point."""
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"expected a 2-D array (bands × frames), got shape {S.shape}")
    return S if np.issubdtype(S.dtype, np.floating) else S.astype(np.float32)


def _fill_value(S: np.ndarray, fill: float | None) -> float:
    """The masking value: ``fill`` if given, else the mean of ``S`` (zero after per-clip normalisation)."""
    return float(S.mean()) if fill is None else float(fill)


def mask_bands(S: np.ndarray, start: int, width: int, *, fill: float | None = None) -> np.ndarray:
    """Set frequency bands ``start … start+width-1`` (all frames) to ``fill``."""
    S = _as_image(S)
    out = S.copy()
    out[start : start + width, :] = _fill_value(S, fill)
    return out


def mask_frames(S: np.ndarray, start: int, width: int, *, fill: float | None = None) -> np.ndarray:
    """Set frames ``start … start+width-1`` (all bands) to ``fill``."""
    S = _as_image(S)
    out = S.copy()
    out[:, start : start + width] = _fill_value(S, fill)
    return out


def spec_augment_mask(
    shape: tuple[int, int],
    rng: RngLike = None,
    *,
    freq_masks: int = 2,
    max_freq_width: int = 8,
    time_masks: int = 2,
    max_time_width: int = 20,
) -> np.ndarray:
    """The boolean mask SpecAugment would apply: each mask has width ~ U{0..max} and a uniform start."""
    gen = as_generator(rng)
    n_bands, n_frames = shape
    mask = np.zeros(shape, dtype=bool)
    for _ in range(freq_masks):
        width = int(gen.integers(0, min(max_freq_width, n_bands) + 1))
        start = int(gen.integers(0, n_bands - width + 1))
        mask[start : start + width, :] = True
    for _ in range(time_masks):
        width = int(gen.integers(0, min(max_time_width, n_frames) + 1))
        start = int(gen.integers(0, n_frames - width + 1))
        mask[:, start : start + width] = True
    return mask


def spec_augment(
    S: np.ndarray,
    rng: RngLike = None,
    *,
    freq_masks: int = 2,
    max_freq_width: int = 8,
    time_masks: int = 2,
    max_time_width: int = 20,
    fill: float | None = None,
) -> np.ndarray:
    """SpecAugment's frequency and time masking (no time warping); masked cells get ``fill`` (default: mean)."""
    S = _as_image(S)
    mask = spec_augment_mask(
        S.shape,
        rng,
        freq_masks=freq_masks,
        max_freq_width=max_freq_width,
        time_masks=time_masks,
        max_time_width=max_time_width,
    )
    return np.where(mask, np.asarray(_fill_value(S, fill), dtype=S.dtype), S)


def rotate(S: np.ndarray, degrees: float, *, fill: float | None = None) -> np.ndarray:
    """Rotate the image by ``degrees`` about its centre, same shape; corners get ``fill`` (default: minimum)."""
    S = _as_image(S)
    cval = float(S.min()) if fill is None else float(fill)
    return ndimage.rotate(S, degrees, reshape=False, order=1, mode="constant", cval=cval)


def zoom(S: np.ndarray, factor: float, rng: RngLike = None) -> np.ndarray:
    """Crop a ``1/factor`` window (random position given ``rng``, centred when ``None``) and stretch it back."""
    S = _as_image(S)
    if factor < 1:
        raise ValueError(f"zoom factor must be >= 1 (crop, then resize back), got {factor}")
    shape = np.array(S.shape, dtype=float)
    room = (shape - 1) * (1 - 1 / factor)  # how far the crop window can move along each axis
    offset = room / 2 if rng is None else as_generator(rng).uniform(0, 1, size=2) * room
    return ndimage.affine_transform(
        S, np.full(2, 1 / factor), offset=offset, output_shape=S.shape, order=1, mode="nearest"
    )


def brightness(S: np.ndarray, offset_db: float = 0.0, *, scale: float = 1.0) -> np.ndarray:
    """``scale · S + offset_db``: on a log-mel (dB) image an offset is a gain change, a scale a contrast change."""
    S = _as_image(S)
    return (S * scale + offset_db).astype(S.dtype)


def image_augment(
    S: np.ndarray, rng: RngLike = None, *, max_degrees: float = 5.0, max_zoom: float = 1.15, max_offset_db: float = 6.0
) -> np.ndarray:
    """Random rotation, zoom and brightness offset in one go, each drawn uniformly up to its maximum."""
    gen = as_generator(rng)
    out = rotate(S, gen.uniform(-max_degrees, max_degrees))
    out = zoom(out, gen.uniform(1.0, max_zoom), gen)
    return brightness(out, gen.uniform(-max_offset_db, max_offset_db))


def mixup(x: np.ndarray, y_onehot: np.ndarray, alpha: float = 0.2, rng: RngLike = None, *, return_pairs: bool = False):
    """Mixup (Zhang et al., 2018) for a training batch: ``λ·x + (1-λ)·x[perm]``, labels mixed alike.

    One λ ~ Beta(alpha, alpha) per batch, partners from a permutation of the batch. Returns
    ``(x_mixed, y_soft)``, plus ``(lam, perm)`` with ``return_pairs=True``. Use it on training batches
    only: the soft labels need a loss that accepts them (cross-entropy on probabilities).
    """
    x = np.asarray(x)
    y_onehot = np.asarray(y_onehot, dtype=float)
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if y_onehot.ndim != 2 or len(y_onehot) != len(x):
        raise ValueError(f"y_onehot must be (batch, classes) with batch = len(x) = {len(x)}, got {y_onehot.shape}")
    gen = as_generator(rng)
    lam = float(gen.beta(alpha, alpha))
    perm = gen.permutation(len(x))
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    x_mixed = (lam * x + (1 - lam) * x[perm]).astype(dtype)
    y_soft = lam * y_onehot + (1 - lam) * y_onehot[perm]
    return (x_mixed, y_soft, lam, perm) if return_pairs else (x_mixed, y_soft)
