"""Masks: which pixels move.

A mask is a boolean ``(H, W)`` array, True = moves; on disk a PNG, white = moves.
Regions are labelled in an ``(H, W)`` uint8 array: 0 = frozen, 1 = sky, 2 = water
(see ``REGIONS``). The automatic mask lives in ``automask.py``.
"""
from __future__ import annotations


import cv2
import numpy as np
from PIL import Image

from .errors import CineGANError
from .photo import _decode, _open

FROZEN, SKY, WATER = 0, 1, 2
REGIONS = {"sky": SKY, "water": WATER}


def load_mask(source, size: tuple[int, int]) -> np.ndarray:
    """Read a mask image and bring it to the photo's size.

    source: path, bytes, PIL image or array; white (> 127) = moves. Where the image
            has an alpha channel, transparent pixels do not move.
    size:   (width, height) of the photo; a mask of another size is resized
            (nearest neighbour, so it stays binary).
    Returns (H, W) bool. Raises CineGANError for unreadable or empty masks.
    """
    if isinstance(source, np.ndarray):
        if source.ndim == 2 and source.dtype == bool:
            m = source
        else:
            source = Image.fromarray(np.asarray(source).astype(np.uint8) if source.dtype != np.uint8 else source)
    if not isinstance(source, np.ndarray):
        img = _decode(_open(source, "mask", 100_000_000), "mask", None)
        lum = np.asarray(img.convert("L")) > 127
        if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
            lum &= np.asarray(img.convert("RGBA"))[..., 3] > 127
        m = lum
    w, h = size
    if m.shape != (h, w):
        m = np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST))
    if not m.any():
        raise CineGANError("the mask is empty: paint the areas that should move in white "
                           "(or leave the mask out to find sky and water automatically)")
    return np.ascontiguousarray(m, dtype=bool)


def save_mask(mask: np.ndarray, path) -> None:
    """Write a boolean (H, W) mask as a PNG (white = moves), atomically."""
    from .video import atomic_output
    with atomic_output(path) as tmp:
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(tmp, format="PNG")


def inside_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px, float32) from each True pixel to the nearest False
    pixel; 0 on False pixels. The image border is not an edge: a mask that
    touches it keeps moving right up to it."""
    m = mask.astype(np.uint8)
    if m.all():
        return np.full(mask.shape, 1e6, np.float32)
    return cv2.distanceTransform(m, cv2.DIST_L2, 5).astype(np.float32)


def feather(mask: np.ndarray, width: float, distance: np.ndarray | None = None) -> np.ndarray:
    """Compositing alpha (H, W) float32 in [0, 1]: 0 on frozen pixels, rising to 1
    over `width` px inside the mask, so frozen pixels stay exactly the photo."""
    d = inside_distance(mask) if distance is None else distance
    if width <= 0:
        return mask.astype(np.float32)
    return np.clip(d / width, 0.0, 1.0).astype(np.float32)


def fill_outside(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of image (H, W, C) where every pixel outside the mask takes the value
    of the nearest pixel inside it. Sampling and blurring the result near the
    mask edge then never mixes frozen colours into moving content."""
    if mask.all() or not mask.any():
        return image.copy()
    _, labels = cv2.distanceTransformWithLabels((~mask).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    inside = np.flatnonzero(mask)           # label k (1-based) is the k-th mask pixel in raster order
    nearest = inside[labels.ravel() - 1]
    flat = image.reshape(-1, *image.shape[2:])
    return flat[nearest].reshape(image.shape)
