"""Load, validate, orient and resize photos; content hashes.

Everything leaves here as RGB ``uint8`` arrays of shape ``(H, W, 3)``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import framing
from .errors import CineGANError
from .images import decode_image, first_line, open_image, oriented_size, to_rgb

DEFAULT_MAX_SIDE = 2048           # longest side rendered, px; larger photos are scaled down
DEFAULT_MAX_PIXELS = 100_000_000  # photos above this many pixels are refused (decompression bombs)
MIN_SIDE = 16                     # px; smaller images cannot hold a cinemagraph
# Bounds of max_side (the longest side rendered), px. Below 64 px a loop shows nothing: the
# mask's feathered edge (2-3 px), the motion's easing at region edges (2% of the short side)
# and the automatic mask's smoothing take up most of the picture. Above 8192 px no common
# player decodes the video (H.264 level 6.2 stops at 8192x4320) and the engines need tens
# of GB (the pixel engine's memory grows with the pixel count: about 0.8 GB at 1024x1024).
MIN_RENDER_SIDE, MAX_RENDER_SIDE = 64, 8192


@dataclass(frozen=True)
class Photo:
    """A decoded photo ready for rendering.

    rgb:      (H, W, 3) uint8, EXIF orientation applied, cropped to `box`, scaled to the render size.
    original_size: (width, height) of the oriented photo before scaling, px (the photo frame).
    sha256:   hex digest of the decoded pixels at render size (the cache key).
    box:      (x0, y0, x1, y1) crop of the photo frame that was rendered, px (None: all of it);
              see ``framing`` for what arrows and masks are relative to.
    """

    rgb: np.ndarray
    original_size: tuple[int, int]
    sha256: str
    box: tuple[int, int, int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in px."""
        return self.rgb.shape[1], self.rgb.shape[0]

    @property
    def frame_box(self) -> tuple[int, int, int, int]:
        """The crop box in the photo frame (the whole photo when nothing was cropped)."""
        return self.box or (0, 0, *self.original_size)

    @property
    def cropped(self) -> bool:
        """True when only part of the photo frame is rendered."""
        x0, y0, x1, y1 = self.frame_box
        return (x0, y0, x1, y1) != (0, 0, *self.original_size)

    @property
    def scale(self) -> float:
        """Render px per photo-frame px (<= 1 unless a tiny crop was brought to 2 px units)."""
        x0, _, x1, _ = self.frame_box
        return self.rgb.shape[1] / (x1 - x0)


def pixels_hash(rgb: np.ndarray) -> str:
    """sha256 of an image array's shape and bytes."""
    h = hashlib.sha256(repr(rgb.shape).encode())
    h.update(np.ascontiguousarray(rgb).tobytes())
    return h.hexdigest()


def check_max_side(max_side) -> int | None:
    """Validate a longest-side limit (px): a whole number from MIN_RENDER_SIDE to
    MAX_RENDER_SIDE, or None for no limit (the photo's own size, within max_pixels).
    Returns it as an int; CineGANError otherwise. One check shared by the command
    line, the API, the app and batch jobs."""
    if max_side is None:
        return None
    number = isinstance(max_side, (int, np.integer, float, np.floating)) and not isinstance(max_side, (bool, np.bool_))
    if not (number and float(max_side).is_integer() and MIN_RENDER_SIDE <= max_side <= MAX_RENDER_SIDE):
        raise CineGANError(f"max side (the longest side of the render) must be a whole number of px from "
                           f"{MIN_RENDER_SIDE} to {MAX_RENDER_SIDE}, got {max_side!r}")
    return int(max_side)


def load_photo(source, *, max_side: int | None = DEFAULT_MAX_SIDE,
               max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "photo",
               aspect: str = "original", crop: tuple[float, float] = (0.5, 0.5)) -> Photo:
    """Load a photo for rendering.

    source:     path, bytes, PIL image or (H, W, 3|4) uint8 array.
    max_side:   longest side of the render, px (larger photos are scaled down, Lanczos).
    max_pixels: photos with more pixels than this are refused before decoding.
    aspect:     "original" or a channel aspect ("1:1", "4:5", "9:16", "16:9"): the photo
                is cropped to it and brought to the channel's size (see ``framing``).
    crop:       (x, y) position of the crop box, 0..1 per axis (0.5, 0.5 = centred).
    Raises CineGANError for anything that is not a usable photo, or a max_side
    outside MIN_RENDER_SIDE..MAX_RENDER_SIDE.
    """
    max_side = check_max_side(max_side)
    aspect = framing.aspect_name(aspect)
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise CineGANError(f"{what} array must be uint8 (H, W) or (H, W, 3|4), got {source.dtype} {source.shape}")
        source = Image.fromarray(source)
    img = open_image(source, what, max_pixels)
    frame = oriented_size(img, what)
    box = framing.crop_box(frame, aspect, *crop)
    tw, th = framing.output_size(box, aspect, max_side)
    draft = round(max(frame) * max(tw / (box[2] - box[0]), th / (box[3] - box[1])))  # px the decode must keep
    img = decode_image(img, what, draft)
    if min(frame) < MIN_SIDE:
        w, h = frame
        raise CineGANError(f"{what} is only {w}x{h} px; use a photo at least {MIN_SIDE} px on each side")
    try:
        rgb = to_rgb(img)
    except MemoryError:
        raise CineGANError(f"{what} is too large to convert in the memory available") from None
    except (ValueError, OSError) as e:  # a pixel mode Pillow cannot convert (e.g. "La")
        raise CineGANError(f"{what} has pixels of mode {img.mode!r}, which cannot be converted to RGB: "
                           f"{first_line(e)}") from None
    if min(tw, th) < MIN_SIDE:
        raise CineGANError(f"at a max side of {max_side} px this {frame[0]}x{frame[1]} photo would be only "
                           f"{tw}x{th} px; use a larger max side (at least {MIN_SIDE} px on each side are needed)")
    if not framing.is_whole(box, frame):  # the box in the decoded pixels (a JPEG draft may be smaller)
        rgb = framing.crop_array(rgb, box, frame)
    if (tw, th) != (rgb.shape[1], rgb.shape[0]):
        rgb = np.asarray(Image.fromarray(rgb).resize((tw, th), Image.LANCZOS))
    rgb = np.ascontiguousarray(rgb)
    return Photo(rgb=rgb, original_size=frame, sha256=pixels_hash(rgb),
                 box=None if framing.is_whole(box, frame) else box)
