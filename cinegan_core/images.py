"""Opening and decoding images safely: photos, masks, anything a user uploads.

``open_image`` reads only the header (size, format) and refuses decompression
bombs before any pixel is decoded; ``decode_image`` decodes (JPEGs at a reduced
scale when that is enough) and applies the EXIF orientation; ``to_rgb`` turns
any Pillow mode into (H, W, 3) uint8. Every failure a user can cause is a
CineGANError with one line that says what to do.
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

from .errors import CineGANError


def open_image(source, what: str, max_pixels: int) -> Image.Image:
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
                               f"(PNG, JPEG, WebP, TIFF, ...): {first_line(e)}") from None
    w, h = img.size
    if w * h > max_pixels:
        raise CineGANError(f"{what} is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the limit of "
                           f"{max_pixels / 1e6:.0f}; scale it down first")
    return img


def decode_image(img: Image.Image, what: str, target_side: int | None) -> Image.Image:
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
        raise CineGANError(f"{what} could not be decoded (truncated or damaged file?): {first_line(e)}") from None
    return img


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), or its type's name."""
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def oriented_size(img: Image.Image, what: str = "photo") -> tuple[int, int]:
    """(width, height) of an opened image once its EXIF orientation is applied."""
    w, h = img.size
    try:
        orientation = img.getexif().get(0x0112, 1)  # reading EXIF may load a PNG's data
    except MemoryError:
        raise CineGANError(f"{what} is too large to decode in the memory available") from None
    except Exception as e:  # noqa: BLE001 - damaged EXIF raises many types (as in decode_image)
        raise CineGANError(f"{what} could not be decoded (truncated or damaged file?): {first_line(e)}") from None
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
