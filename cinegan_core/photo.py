"""Load, validate, orient and resize photos; content hashes.

Everything leaves here as RGB ``uint8`` arrays of shape ``(H, W, 3)``.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .errors import CineGANError

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


def _open(source, what: str, max_pixels: int) -> Image.Image:
    """Open a path, bytes, file object or PIL image without decoding the pixels yet."""
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            fp, name = io.BytesIO(source), what
        else:
            name = os.fspath(source)
            if not os.path.exists(name):
                raise CineGANError(f"{what} {name!r} does not exist")
            if os.path.isdir(name):
                raise CineGANError(f"{what} {name!r} is a folder, not an image file")
            if os.path.getsize(name) == 0:
                raise CineGANError(f"{what} {name!r} is empty (0 bytes)")
            fp = name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # decompression bombs are limited below; damage raises
                img = Image.open(fp)
        except MemoryError:
            raise CineGANError(f"{what} {name!r} is too large to open in the memory available") from None
        except Exception as e:  # noqa: BLE001 - Pillow's parsers raise many types on damaged files
            raise CineGANError(f"{what} {name!r} is not an image that can be read "
                               f"(PNG, JPEG, WebP, TIFF, ...): {_first_line(e)}") from None
    w, h = img.size
    if w * h > max_pixels:
        raise CineGANError(f"{what} is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the limit of "
                           f"{max_pixels / 1e6:.0f}; scale it down first")
    return img


def _decode(img: Image.Image, what: str, target_side: int | None) -> Image.Image:
    """Decode pixels, apply EXIF orientation. JPEGs are decoded at reduced scale when
    that is enough for target_side (much faster for 12+ megapixel photos)."""
    try:
        if target_side and img.format == "JPEG":
            w, h = img.size
            scale = target_side / max(w, h)
            if scale < 0.5:
                img.draft("RGB", (max(1, int(w * scale) + 1), max(1, int(h * scale) + 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged EXIF etc.: what cannot be read raises
            img.load()
            img = ImageOps.exif_transpose(img)
    except MemoryError:
        raise CineGANError(f"{what} is too large to decode in the memory available") from None
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many types on damaged files
        raise CineGANError(f"{what} could not be decoded (truncated or damaged file?): {_first_line(e)}") from None
    return img


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def oriented_size(img: Image.Image, what: str = "photo") -> tuple[int, int]:
    """(width, height) of an opened image once its EXIF orientation is applied."""
    w, h = img.size
    try:
        orientation = img.getexif().get(0x0112, 1)  # reading EXIF may load a PNG's data
    except MemoryError:
        raise CineGANError(f"{what} is too large to decode in the memory available") from None
    except Exception as e:  # noqa: BLE001 - damaged EXIF raises many types (as in _decode)
        raise CineGANError(f"{what} could not be decoded (truncated or damaged file?): {_first_line(e)}") from None
    if orientation in (5, 6, 7, 8):  # EXIF orientations that swap the axes
        w, h = h, w
    return w, h


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB.

    16- and 32-bit grayscale are scaled to 8 bits (not clipped); transparency is
    composited over white; CMYK, palette and grayscale are converted."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        if mode == "F" and a.max() <= 1.0:
            top = 1.0
        g = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


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
    from . import framing
    max_side = check_max_side(max_side)
    aspect = framing.aspect_name(aspect)
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim not in (2, 3):
            raise CineGANError(f"{what} array must be uint8 (H, W) or (H, W, 3|4), got {source.dtype} {source.shape}")
        source = Image.fromarray(source)
    img = _open(source, what, max_pixels)
    frame = oriented_size(img, what)
    box = framing.crop_box(frame, aspect, *crop)
    tw, th = framing.output_size(box, aspect, max_side)
    draft = round(max(frame) * max(tw / (box[2] - box[0]), th / (box[3] - box[1])))  # px the decode must keep
    img = _decode(img, what, draft)
    if min(frame) < MIN_SIDE:
        w, h = frame
        raise CineGANError(f"{what} is only {w}x{h} px; use a photo at least {MIN_SIDE} px on each side")
    try:
        rgb = to_rgb(img)
    except MemoryError:
        raise CineGANError(f"{what} is too large to convert in the memory available") from None
    except (ValueError, OSError) as e:  # a pixel mode Pillow cannot convert (e.g. "La")
        raise CineGANError(f"{what} has pixels of mode {img.mode!r}, which cannot be converted to RGB: "
                           f"{_first_line(e)}") from None
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
