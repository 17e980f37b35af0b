"""Motion fields: files in the official format, uniform drifts, rescaling.

A motion field here is a float32 array ``(2, h, w)``: channel 0 = rightward,
channel 1 = downward, in pixels per frame at the array's own resolution. Files
may also hold the official ``(1, 2, h, w)``.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import CineGANError

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
    limit = MAX_SPEED_FRACTION * max(field.shape[1:])
    fastest = float(np.hypot(field[0], field[1]).max()) if field.size else 0.0
    if fastest > limit:
        raise CineGANError(f"motion of {fastest:.0f} px per frame is too fast for a "
                           f"{field.shape[2]}x{field.shape[1]} image (at most {limit:.0f}); lower the speed")


# --- motion that needs no files: per-region drifts and arrows -------------------------

DEFAULT_DRIFT = {  # region -> (direction in degrees, speed in px per frame per 1024 px of long side)
    "sky": (0.0, 1.0),     # clouds drift right
    "water": (180.0, 0.8),  # water the other way, a little slower (as the authors' motion nets tend to)
}
EASE_FRACTION = 0.02  # motion eases to zero over this fraction of the short side inside each region


@dataclass(frozen=True)
class Arrow:
    """Content at (x0, y0) travels to (x1, y1) over one loop; coordinates in px of
    the input photo (before any scaling for rendering)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def parse(cls, text: str) -> "Arrow":
        """'X0,Y0,X1,Y1' -> Arrow (CineGANError if malformed)."""
        parts = str(text).replace(" ", "").split(",")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
            raise CineGANError(f"arrow {text!r} must be four numbers X0,Y0,X1,Y1 (pixels of the photo: "
                               "start point, then end point)")
        return cls(*vals)

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)


def coerce_arrows(arrows) -> list[Arrow]:
    """Arrows from Arrow objects, 'X0,Y0,X1,Y1' strings, 4-sequences or dicts with x0..y1."""
    out = []
    for a in arrows or []:
        if isinstance(a, Arrow):
            out.append(a)
        elif isinstance(a, str):
            out.append(Arrow.parse(a))
        elif isinstance(a, dict):
            out.append(Arrow.parse(",".join(str(a.get(k)) for k in ("x0", "y0", "x1", "y1"))))
        elif isinstance(a, (list, tuple)) or (isinstance(a, np.ndarray) and a.ndim == 1):
            out.append(Arrow.parse(",".join(map(str, a))))
        else:
            raise CineGANError(f"arrow {a!r} must be X0,Y0,X1,Y1 (four numbers, pixels of the photo)")
    return out


def region_easing(labels: np.ndarray, ease_px: float) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 outside the moving regions and at every region's
    edge (also where sky meets water), rising smoothly to 1 ease_px inside."""
    out = np.zeros(labels.shape, np.float32)
    for k in np.unique(labels):
        if k == 0:
            continue
        region = labels == k
        d = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5) if not region.all() \
            else np.full(region.shape, 1e6, np.float32)
        u = np.clip((d - 0.5) / max(ease_px, 3.0), 0, 1)  # the region's outermost pixels barely move
        out[region] = (u * u * (3 - 2 * u))[region]  # smoothstep
    return out


def _perspective(region: np.ndarray, name: str) -> np.ndarray:
    """Speed factor by height within a region: water is faster near the bottom of the
    frame (closer to the camera), clouds slower near the horizon. (H, W) float32."""
    rows = np.flatnonzero(region.any(1))
    h = region.shape[0]
    y = np.arange(h, dtype=np.float32)[:, None]
    top, bottom = rows[0], rows[-1] + 1
    u = np.clip((y - top) / max(bottom - top, 1), 0, 1)  # 0 at the region's top, 1 at its bottom
    f = np.broadcast_to(0.5 + 0.5 * u if name == "water" else 1.0 - 0.35 * u, region.shape)
    return f / float(f[region].mean())  # the region's mean speed stays the one asked for


def arrow_field(arrows: list[Arrow], size: tuple[int, int], frames: int, scale: float) -> np.ndarray:
    """Dense (2, H, W) field from arrows (already in render px after `scale`):
    inverse-distance weighting of each arrow's velocity (length / frames along it)
    from its midpoint; one arrow gives a uniform drift."""
    W, H = size
    vel = np.array([[(a.x1 - a.x0) * scale / frames, (a.y1 - a.y0) * scale / frames] for a in arrows], np.float32)
    if len(arrows) == 1:
        return np.broadcast_to(vel[0][:, None, None], (2, H, W)).astype(np.float32)
    mids = np.array([[(a.x0 + a.x1) * scale / 2, (a.y0 + a.y1) * scale / 2] for a in arrows], np.float32)
    # interpolate on a coarse grid (the field is smooth), then resize
    step = max(1, max(W, H) // 256)
    gx = np.arange(0, W, step, dtype=np.float32)
    gy = np.arange(0, H, step, dtype=np.float32)
    d2 = (gx[None, None, :] - mids[:, 0, None, None]) ** 2 + (gy[None, :, None] - mids[:, 1, None, None]) ** 2
    soft = (0.05 * max(W, H)) ** 2  # keeps weights finite and the blend smooth at the arrows
    wts = 1.0 / (d2 + soft)
    wts /= wts.sum(0, keepdims=True)
    coarse = np.einsum("nyx,nc->cyx", wts, vel)
    return np.moveaxis(cv2.resize(np.moveaxis(coarse, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR), -1, 0)


def region_motion(labels: np.ndarray, *, frames: int, drift: dict | None = None, arrows=None,
                  arrow_scale: float = 1.0, patterns: dict | None = None) -> tuple[np.ndarray, list[str]]:
    """Motion for a labelled mask, without any motion file.

    labels: (H, W) uint8, 0 frozen, 1 sky, 2 water (``mask.REGIONS``).
    drift:  {"sky": (direction_deg, speed_px_per_frame), "water": ...}; a missing
            region, or None in either place, takes DEFAULT_DRIFT (speeds there are
            per 1024 px of the long side and are scaled to this size).
    arrows: Arrow list in input-photo px; arrow_scale converts them to render px.
            Each arrow steers the region its start (else its end) lies in;
            a region with arrows follows them, one without keeps its drift.
    patterns: {"sky" | "water": (2, H, W)} learned motion patterns (any scale): a
            region with one and no direction given follows it, at its speed.
    Returns the (2, H, W) float32 field (px per frame, eased to zero at region
    edges, zero outside) and notes for the user (defaults used, ignored arrows).
    """
    patterns = patterns or {}
    from .mask import REGIONS
    H, W = labels.shape
    drift = drift or {}
    notes: list[str] = []
    arrows = coerce_arrows(arrows)
    per_region: dict[int, list[Arrow]] = {}
    for i, a in enumerate(arrows, 1):
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            if not (0 <= x * arrow_scale < W + 0.5 and 0 <= y * arrow_scale < H + 0.5):
                raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) reaches outside the photo "
                                   f"({W / arrow_scale:.0f}x{H / arrow_scale:.0f} px)")
        if a.length * arrow_scale < 0.5:
            raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) has no length; "
                               "drag from where content starts to where it should go")
        label = 0
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            xi = min(W - 1, int(x * arrow_scale))
            yi = min(H - 1, int(y * arrow_scale))
            if labels[yi, xi]:
                label = int(labels[yi, xi])
                break
        if not label:
            notes.append(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) lies outside the moving areas "
                         "and was ignored; paint the area into the mask to move it")
            continue
        per_region.setdefault(label, []).append(a)

    ease = region_easing(labels, EASE_FRACTION * min(H, W))
    field = np.zeros((2, H, W), np.float32)
    unit = max(H, W) / 1024.0
    for name, k in REGIONS.items():
        region = labels == k
        if not region.any():
            continue
        if k in per_region:
            f = arrow_field(per_region[k], (W, H), frames, arrow_scale)
        else:
            d_dir, d_speed = DEFAULT_DRIFT[name]
            direction, speed = drift.get(name, (None, None))
            pattern = patterns.get(name)
            if pattern is not None and direction is None:
                mean = float(np.hypot(pattern[0], pattern[1])[region].mean())
                if mean > 0:
                    if speed is None:
                        speed = d_speed * unit
                    field[:, region] = (pattern * (speed / mean))[:, region]
                    continue
            if direction is None:
                direction = d_dir
            if speed is None:
                speed = d_speed * unit
                notes.append(f"{name}: {speed:.2f} px/frame at {direction:g} deg (default)")
            f = uniform_motion((W, H), direction, speed) * _perspective(region, name)
        field[:, region] = f[:, region]
    return field * ease, notes
