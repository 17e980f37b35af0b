"""Motion fields: files in the official format, uniform drifts, rescaling.

A motion field here is a float32 array ``(2, h, w)``: channel 0 = rightward,
channel 1 = downward, in pixels per frame at the array's own resolution. Files
may also hold the official ``(1, 2, h, w)``.
"""
from __future__ import annotations

import math
import os

import cv2
import numpy as np

from .errors import CineGANError

MAX_SPEED_FRACTION = 0.25  # fastest allowed motion, as a fraction of the longest side per frame


def load_motion(source) -> np.ndarray:
    """Read a ``.npy`` motion field (never unpickles). Returns (2, h, w) float32.

    Raises CineGANError for a missing or unreadable file, a wrong shape, pickled
    objects, or values that are not finite."""
    name = os.fspath(source) if not hasattr(source, "read") else "motion"
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(name):
        raise CineGANError(f"motion file {name!r} does not exist")
    try:
        field = np.load(source, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise CineGANError(f"motion file {name!r} holds Python objects; it must be a plain float "
                               "array of shape (1, 2, h, w) or (2, h, w)") from None
        raise CineGANError(f"motion file {name!r} is not a NumPy .npy array: {e}") from None
    except (OSError, EOFError) as e:
        raise CineGANError(f"motion file {name!r} is not a NumPy .npy array: {e}") from None
    if not isinstance(field, np.ndarray):  # .npz archives load as a mapping
        raise CineGANError(f"motion file {name!r} must be a single .npy array, not an archive")
    return check_motion(field, name)


def check_motion(field: np.ndarray, name: str = "motion field") -> np.ndarray:
    """Validate a motion array; returns it as (2, h, w) float32."""
    if field.dtype.kind not in "fiu":
        raise CineGANError(f"{name} has dtype {field.dtype}; it must hold numbers")
    if field.ndim == 4 and field.shape[0] == 1:
        field = field[0]
    if field.ndim != 3 or field.shape[0] != 2 or min(field.shape[1:]) < 2:
        raise CineGANError(f"{name} has shape {tuple(field.shape)}; expected (1, 2, h, w) or (2, h, w) "
                           "with channel 0 = rightward and 1 = downward, px per frame")
    field = field.astype(np.float32)
    if not np.isfinite(field).all():
        raise CineGANError(f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(field)


def resize_motion(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a (2, h, w) field to size = (width, height) and rescale its vectors
    by the size ratio, so it stays in px per frame at the new resolution."""
    _, h, w = field.shape
    W, H = size
    if (w, h) == (W, H):
        return field.copy()
    out = cv2.resize(np.moveaxis(field, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR)
    out = np.moveaxis(out, -1, 0).astype(np.float32)
    out[0] *= W / w
    out[1] *= H / h
    return np.ascontiguousarray(out)


def uniform_motion(size: tuple[int, int], direction: float, speed: float) -> np.ndarray:
    """A uniform drift: direction in degrees (0 = rightward, 90 = downward), speed
    in px per frame. Returns (2, H, W) float32 for size = (width, height)."""
    W, H = size
    rad = math.radians(direction)
    out = np.empty((2, H, W), np.float32)
    out[0] = speed * math.cos(rad)
    out[1] = speed * math.sin(rad)
    return out


def check_speed(field: np.ndarray) -> None:
    """Refuse fields that move content absurdly far per frame."""
    limit = MAX_SPEED_FRACTION * max(field.shape[1:])
    fastest = float(np.hypot(field[0], field[1]).max()) if field.size else 0.0
    if fastest > limit:
        raise CineGANError(f"motion of {fastest:.0f} px per frame is too fast for a "
                           f"{field.shape[2]}x{field.shape[1]} image (at most {limit:.0f}); lower the speed")
