"""Masks: which pixels move.

A mask is a boolean ``(H, W)`` array, True = moves; on disk a PNG, white = moves.
What kind of thing each pixel is (sky, water...) is a label map of ``regions``
codes; the automatic one lives in ``automask/``, the soft edge and the paste over
the photo in ``composite``.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import CineGANError
from .images import decode_image, open_image


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
        img = decode_image(open_image(source, "mask", 100_000_000), "mask", None)
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
