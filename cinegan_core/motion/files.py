"""Motion files: the official format, checked and resampled.

A motion field is a float32 array ``(2, h, w)``: channel 0 = rightward,
channel 1 = downward, in pixels per frame at the array's own resolution. Files
may also hold the official ``(1, 2, h, w)``. ``load_motion`` reads a ``.npy``
without ever unpickling; ``resize_motion`` brings a field to another size and
rescales its vectors; ``uniform_motion`` is one drift everywhere.
"""
from __future__ import annotations

import io
import math
import os

import cv2
import numpy as np

from ..errors import CineGANError

MAX_SPEED_FRACTION = 0.25  # fastest allowed motion, as a fraction of the longest side per frame


def load_motion(source) -> np.ndarray:
    """Read a ``.npy`` motion field (never unpickles). Returns (2, h, w) float32.

    source: a path or a binary file object, at most MAX_MOTION_BYTES long.
    The header is read and checked (numeric dtype, a shape that matches the
    file's length) before any data is, so a damaged or hostile file costs no
    more memory than its own size. Raises CineGANError for a missing,
    unreadable, damaged or oversized file, an archive, pickled objects, a wrong
    shape, or values that are not finite."""
    name = os.fspath(source) if not hasattr(source, "read") else "motion"
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(name):
        raise CineGANError(f"motion file {name!r} does not exist")
    limit = 256 * 1024 ** 2  # bytes; a (2, 4096, 4096) float64 field is 256 MiB
    try:
        if hasattr(source, "read"):
            data = source.read(limit + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as e:
        raise CineGANError(f"motion file {name!r} cannot be read: {e.strerror or e}") from None
    if len(data) > limit:
        raise CineGANError(f"motion file {name!r} is over {limit >> 20} MiB; a motion field is a few MB")
    if data[:4] == b"PK\x03\x04":
        raise CineGANError(f"motion file {name!r} must be a single .npy array, not an archive")
    try:
        fp = io.BytesIO(data)
        version = np.lib.format.read_magic(fp)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fp)
    except Exception as e:  # noqa: BLE001 - NumPy's header parser raises many types on bad input
        raise CineGANError(f"motion file {name!r} is not a NumPy .npy array: {str(e).splitlines()[0][:120]}") from None
    if dtype.hasobject:
        raise CineGANError(f"motion file {name!r} holds Python objects; it must be a plain float "
                           "array of shape (1, 2, h, w) or (2, h, w)")
    if dtype.kind not in "fiu" or dtype.itemsize == 0:
        raise CineGANError(f"motion file {name!r} has dtype {dtype}; it must hold numbers")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - fp.tell():
        raise CineGANError(f"motion file {name!r} is truncated or damaged: its header says {tuple(shape)} "
                           f"{dtype}, which does not match its length")
    field = np.frombuffer(data, dtype=dtype, count=count, offset=fp.tell())
    field = field.reshape(shape, order="F" if fortran else "C")
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
    fastest = float(np.hypot(field[0], field[1]).max()) if field.size else 0.0
    check_speed_value(fastest, (field.shape[2], field.shape[1]))


def check_speed_value(speed: float, size: tuple[int, int]) -> None:
    """Refuse a speed (px per frame) that moves content absurdly far per frame in an image of
    size (width, height), whatever the style (drift, flow, fall or ripple) that uses it."""
    limit = MAX_SPEED_FRACTION * max(size)
    if speed > limit:
        raise CineGANError(f"motion of {speed:.0f} px per frame is too fast for a "
                           f"{size[0]}x{size[1]} image (at most {limit:.0f}); lower the speed")
