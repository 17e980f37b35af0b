"""Motion: files in the official format, per-region styles (drift, flow, ripple), arrows.

A motion field here is a float32 array ``(2, h, w)``: channel 0 = rightward,
channel 1 = downward, in pixels per frame at the array's own resolution. Files
may also hold the official ``(1, 2, h, w)``.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field as dc_field

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


# --- motion that needs no files: a motion plan per region --------------------------

STYLES = ("auto", "drift", "flow", "ripple")
DEFAULT_DRIFT = {  # region -> (direction in degrees, speed in px per frame per 1024 px of long side)
    "sky": (0.0, 1.0),      # clouds drift right
    "water": (180.0, 0.8),  # used when water is asked to drift; flow follows the water body, ripple has no direction
}
EASE_FRACTION = 0.02  # motion eases to zero over this fraction of the short side inside each region
# ripple: calm water. Amplitude per px/frame of the region's speed (so the speed slider still means
# "how lively"), wavelength of the longest wave nearest the camera as a fraction of the long side,
# and temporal frequency of that wave in cycles per frame (shorter waves are faster, as on water).
RIPPLE_AMPLITUDE = 1.5
RIPPLE_WAVELENGTH = 0.035
RIPPLE_FREQUENCY = 1.0 / 24
# automatic style of water: mirror-like water ripples; clearly textured or channel-like water flows
MIRROR_SCORE = 0.3     # correlation of the water's fine detail with the scene mirrored at the waterline
TEXTURE_SCORE = 0.02   # std of the water's fine detail (0..1 grey levels) above which it is "textured"
                       # (measured: calm, mirror-like water 0.005-0.011; waves, chop, streaks 0.030-0.065)
CHANNEL_ELONGATION = 3.0  # long / short axis of a stream-like region


@dataclass
class Ripple:
    """A small displacement, periodic over the loop: calm water that shimmers.

    At pixel y and frame t of an N-frame loop the photo is sampled at y + r(y, t) with

        r(y, t) = sum_k direction[k] * (basis[k, 0](y) * (cos(w_k t) - 1) + basis[k, 1](y) * sin(w_k t)),

    w_k = 2 pi cycles[k] / N: travelling waves minus their value at t = 0, so r(y, 0) = 0 (frame 0 is
    the photo) and r(y, t + N) = r(y, t) (the loop closes exactly, with no cross-fade).
    ``loop.ripple_offset`` evaluates it.

    basis:     (K, 2, H, W) float32, px: A_k(y) cos(theta_k(y)) and A_k(y) sin(theta_k(y)) of wave k
               (amplitude times spatial phase); zero outside the rippling regions.
    direction: (K, 2) float32, unit displacement direction of each wave (x right, y down).
    cycles:    (K,) int64, whole periods of each wave in one loop.
    """

    basis: np.ndarray
    direction: np.ndarray
    cycles: np.ndarray

    @property
    def amplitude(self) -> np.ndarray:
        """(H, W) float32, px: the largest displacement a pixel can get (sum of the wave amplitudes, x2)."""
        return 2.0 * np.hypot(self.basis[:, 0], self.basis[:, 1]).sum(0)

    def resized(self, size: tuple[int, int]) -> "Ripple":
        """The same ripple at size = (width, height): maps resampled, px scaled by the width ratio."""
        k, _, h, w = self.basis.shape
        W, H = size
        if (w, h) == (W, H):
            return self
        flat = np.moveaxis(self.basis.reshape(2 * k, h, w), 0, -1)
        out = cv2.resize(flat, (W, H), interpolation=cv2.INTER_AREA if W < w else cv2.INTER_LINEAR)
        out = np.moveaxis(out.reshape(H, W, 2 * k), -1, 0).reshape(k, 2, H, W) * (W / w)
        return Ripple(np.ascontiguousarray(out, dtype=np.float32), self.direction, self.cycles)


@dataclass
class MotionPlan:
    """How every moving region moves: what the engines render through ``loop.LoopPolicy``.

    field:  (2, H, W) float32, px per frame: the stationary motion of drifting and flowing
            regions (zero outside the mask and in rippling regions; it continues through
            ``holes``).
    ripple: the periodic displacement of rippling regions, or None.
    holes:  (H, W) bool, small frozen islands inside a moving region (``enclosed_holes``):
            still in the output, but what moves passes behind them (an engine samples
            them inpainted and does not treat them as occluders), or None.
    styles: region name -> the style it got: "drift" | "flow" | "ripple", or "arrows",
            "learned", "file" when the user's arrows, a learned predictor or a motion file set it.
    notes:  what was decided on the user's behalf, for messages.
    """

    field: np.ndarray
    ripple: Ripple | None = None
    styles: dict = dc_field(default_factory=dict)
    notes: list = dc_field(default_factory=list)
    holes: np.ndarray | None = None


def as_plan(motion) -> MotionPlan:
    """A MotionPlan from a plan or a bare (2, H, W) field (which then only drifts/flows)."""
    return motion if isinstance(motion, MotionPlan) else MotionPlan(np.asarray(motion, np.float32))


def check_style(region: str, style) -> str:
    """A style name for a region, or CineGANError naming the choices."""
    style = "auto" if style is None else str(style).lower()
    if style not in STYLES:
        raise CineGANError(f"unknown {region} style {style!r}; choose one of {', '.join(STYLES)}")
    return style


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


HOLE_FRACTION = 0.02  # frozen islands inside a region up to this fraction of the photo: things in front of it


def enclosed_holes(labels: np.ndarray, region: np.ndarray, max_fraction: float = HOLE_FRACTION) -> np.ndarray:
    """(H, W) bool: frozen islands inside `region` (a bird, a kite, a lamp, a speck the
    mask left still, also where it touches the image border), i.e. components of frozen
    pixels (label 0) of at most max_fraction of the photo whose surroundings inside the
    image are the region (at least 90 % of the ring around them). Things in front of the
    sky or the water: what lies behind them keeps moving."""
    H, W = labels.shape
    frozen = (labels == 0).astype(np.uint8)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(frozen, connectivity=8)
    out = np.zeros((H, W), bool)
    ring_kernel = np.ones((3, 3), np.uint8)
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if area > max_fraction * H * W:
            continue
        y0, y1, x0, x1 = max(y - 1, 0), min(y + h + 1, H), max(x - 1, 0), min(x + w + 1, W)
        part = comp[y0:y1, x0:x1] == k
        ring = cv2.dilate(part.astype(np.uint8), ring_kernel).astype(bool) & ~part
        if ring.any() and region[y0:y1, x0:x1][ring].mean() >= 0.9:
            out[y0:y1, x0:x1] |= part
    return out


def region_easing(labels: np.ndarray, ease_px: float, holes: dict | None = None) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 outside the moving regions and at every region's
    edge (also where sky meets water), rising smoothly to 1 ease_px inside. Small frozen
    islands inside a region (``enclosed_holes``; holes: label -> those already found) are
    not edges: the clouds or the water pass behind them at full speed instead of slowing
    down and piling up around them."""
    out = np.zeros(labels.shape, np.float32)
    for k in np.unique(labels):
        if k == 0:
            continue
        region = labels == k
        through = region | (holes[k] if holes and k in holes else enclosed_holes(labels, region))
        d = cv2.distanceTransform(through.astype(np.uint8), cv2.DIST_L2, 5) if not through.all() \
            else np.full(region.shape, 1e6, np.float32)
        u = np.clip((d - 0.5) / max(ease_px, 3.0), 0, 1)  # the region's outermost pixels barely move
        out[through] = (u * u * (3 - 2 * u))[through]  # smoothstep
    return out


# --- automatic style: what the photo says about a region ---------------------------

@dataclass
class WaterCues:
    """What a water region looks like (measured on the photo at about 512 px).

    mirror:     correlation (-1..1) of the water's fine detail with the scene above it,
                mirrored at the waterline: high for calm water that reflects.
    texture:    std of the fine detail inside the water, grey levels 0..1.
    elongation: long / short axis of the region (from its second moments).
    axis:       direction of the long axis in degrees (0 = horizontal, 90 = vertical).
    wide:       the region spans most of the photo's width (sea, lake) rather than a channel.
    """

    mirror: float
    texture: float
    elongation: float
    axis: float
    wide: bool


def _small(rgb: np.ndarray | None, region: np.ndarray, side: int):
    """(grey (h, w) float32 in 0..1 or None, region (h, w) bool, scale) at about `side` px."""
    H, W = region.shape
    s = min(1.0, side / max(H, W))
    size = (max(8, round(W * s)), max(8, round(H * s)))
    r = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    g = None
    if rgb is not None:
        g = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32).mean(2) / 255.0
    return g, r, s


def _detail(g: np.ndarray) -> np.ndarray:
    """Fine detail of a grey image: itself minus a Gaussian (sigma 2 px) blur."""
    return g - cv2.GaussianBlur(g, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)


def _spans_width(r: np.ndarray) -> bool:
    """Whether a boolean region spans most (80 %) of the image's width: open water (sea,
    lake) rather than a channel."""
    cols = np.flatnonzero(r.any(0))
    return bool(len(cols) and (cols[-1] - cols[0] + 1) >= 0.8 * r.shape[1])


def _shape_axis(r: np.ndarray) -> tuple[float, float]:
    """(elongation, axis degrees in [-90, 90)) of a boolean region from its second moments."""
    ys, xs = np.nonzero(r)
    if len(xs) < 3:
        return 1.0, 0.0
    cov = np.cov(np.stack([xs, ys]).astype(np.float64))
    vals, vecs = np.linalg.eigh(cov)
    elong = float(np.sqrt(vals[1] / max(vals[0], 1e-6)))
    axis = float(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
    return elong, (axis + 90.0) % 180.0 - 90.0


def _edge_correlation(d: np.ndarray, r: np.ndarray, mirrored: bool) -> float:
    """Correlation of the detail d (h, w) in a band just below the water's top edge with a
    band just above it, mirrored at the edge (or, as a control, in the same order), per
    block of columns at its best offset (masks miss the waterline by some px), averaged
    over the blocks weighted by their detail. r: (h, w) bool water."""
    h, w = r.shape
    cols = np.flatnonzero(r.any(0))
    top = cv2.medianBlur(np.argmax(r[:, cols], axis=0).astype(np.float32)[None], 5)[0].astype(int)
    depth = max(4, int(0.1 * h))
    j = np.arange(2, depth)[:, None]  # pairs right at the edge say little
    blocks = cols // max(8, w // 24)
    reach = max(3, int(0.04 * h))
    best: dict = {}
    for off in range(-reach, reach + 1, max(1, reach // 12)):
        below = top[None, :] + off + j
        above = top[None, :] + off - 1 - j if mirrored else top[None, :] + off - depth + j - 1
        ok = (above >= 0) & (below < h)
        b_y, a_y = np.clip(below, 0, h - 1), np.clip(above, 0, h - 1)
        ok &= r[b_y, cols] & ~r[a_y, cols]
        a, b = d[a_y, cols] * ok, d[b_y, cols] * ok
        sums = [np.bincount(blocks, x.sum(0)) for x in (a * b, a * a, b * b, ok.astype(np.float32))]
        for k in np.flatnonzero(sums[3] >= 0.25 * len(j) * max(8, w // 24)):
            den = math.sqrt(sums[1][k] * sums[2][k])
            if den > 0 and sums[0][k] / den > best.get(k, (-1.0, 0.0))[0]:
                best[k] = (sums[0][k] / den, den)
    if not best:
        return 0.0
    cs, ws = np.array(list(best.values())).T
    return float((cs * ws).sum() / ws.sum())


def mirror_score(g: np.ndarray, r: np.ndarray) -> float:
    """How much the water mirrors the scene above it (about 0: not at all, up to 1): the
    correlation of the water's detail with the scene mirrored at the waterline, less the
    same correlation without mirroring (what any textured pair of bands reaches by chance
    at its best offset). Only horizontal changes count: a level line (a horizon, a shore)
    mirrors onto itself whatever the water does, while trees, ridges and lights keep their
    left-right structure in a reflection. g: (h, w) grey; r: (h, w) bool water."""
    if r.any(0).sum() < 16:
        return 0.0
    d = cv2.Sobel(cv2.GaussianBlur(g, (0, 0), 1.5), cv2.CV_32F, 1, 0)
    return _edge_correlation(d, r, True) - max(0.0, _edge_correlation(d, r, False))


def water_cues(rgb: np.ndarray, region: np.ndarray) -> WaterCues:
    """Measure a water region of a photo. rgb: (H, W, 3) uint8; region: (H, W) bool."""
    g, r, _ = _small(rgb, region, 512)
    inner = cv2.erode(r.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    d = _detail(g)
    texture = float(d[inner].std()) if inner.sum() > 50 else 0.0
    elong, axis = _shape_axis(r)
    return WaterCues(mirror_score(g, r), texture, elong, axis, _spans_width(r))


def choose_style(name: str, rgb: np.ndarray | None, region: np.ndarray) -> tuple[str, str]:
    """The automatic style of a region and why: (style, reason).

    Sky drifts. Water ripples when it mirrors the scene (calm), flows when it is a
    channel (a stream or river: elongated and not spanning the photo) or clearly
    textured (waves, streaks), and otherwise ripples: the gentler choice when unsure."""
    if name != "water":
        return "drift", "clouds drift"
    if rgb is None:
        elong, _ = _shape_axis(_small(None, region, 256)[1])
        return ("flow", "channel-shaped") if elong >= CHANNEL_ELONGATION else ("ripple", "calm by default")
    c = water_cues(rgb, region)
    if c.mirror >= MIRROR_SCORE:
        return "ripple", f"mirror-like, reflection score {c.mirror:.2f}"
    if not c.wide and c.elongation >= CHANNEL_ELONGATION:
        return "flow", f"a channel, {c.elongation:.1f}:1 along {c.axis:.0f} deg"
    if c.texture >= TEXTURE_SCORE:
        return "flow", f"textured, detail {c.texture:.3f}"
    return "ripple", f"calm, detail {c.texture:.3f}"


# --- fields of each style ------------------------------------------------------------

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


def _unit(deg: float) -> np.ndarray:
    return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))], np.float32)


def flow_directions(region: np.ndarray, rgb: np.ndarray | None = None,
                    toward: float | None = None) -> tuple[np.ndarray, str]:
    """Unit directions (2, H, W) float32 along which a water body flows, and a description.

    A channel (stream, river: not spanning the photo) flows along its own local axis,
    from the structure tensor of the smoothed region (the banks), downhill, i.e. with a
    downward component in the image, or leftward where the channel is level. Open water
    (sea, lake spanning the photo) slides along its wave crests (from the structure
    tensor of its texture), leftward unless the user asks otherwise. Not toward the
    camera, although swell comes that way: a flat warp cannot make content grow as it
    approaches nor appear at the far edge, so such a flow melts the texture and piles
    it against every still thing in the water (foam, rocks, the shore), whose edges lie
    along the crests; sliding along the crests keeps the texture's scale and runs along
    those edges. `toward` (degrees): the user's direction, used only to pick which way
    along the estimated axis."""
    H, W = region.shape
    g, r, _ = _small(rgb, region, 256)
    h, w = r.shape
    _, axis = _shape_axis(r)
    if _spans_width(r):
        d = np.array([1.0, 0.0], np.float32)
        how = "along the horizon"
        if g is not None:
            inner = cv2.erode(r.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            dt = _detail(g)
            gx, gy = cv2.Sobel(dt, cv2.CV_32F, 1, 0), cv2.Sobel(dt, cv2.CV_32F, 0, 1)
            jxx, jxy, jyy = (float((a * b)[inner].mean()) if inner.any() else 0.0
                             for a, b in ((gx, gx), (gx, gy), (gy, gy)))
            coherence = math.hypot(jxx - jyy, 2 * jxy) / max(jxx + jyy, 1e-12)
            normal = 0.5 * math.atan2(2 * jxy, jxx - jyy)  # across the wave crests
            crest = np.array([-math.sin(normal), math.cos(normal)], np.float32)
            if coherence >= 0.15 and abs(crest[0]) >= 0.7:
                d, how = crest, "along the wave crests"
        ref = _unit(DEFAULT_DRIFT["water"][0] if toward is None else toward)
        if float(d @ ref) < 0 or (toward is None and float(d @ ref) == 0):
            d = -d
        how += f" ({math.degrees(math.atan2(d[1], d[0])) % 360:.0f} deg)"
        out = np.broadcast_to(d[:, None, None], (2, H, W)).astype(np.float32)
        return out, how
    # a channel: the local axis, from the tensor of the smoothed region's gradient (across the banks)
    sigma = max(2.0, 0.02 * max(h, w))
    m = cv2.GaussianBlur(r.astype(np.float32), (0, 0), sigma)
    gx, gy = cv2.Sobel(m, cv2.CV_32F, 1, 0), cv2.Sobel(m, cv2.CV_32F, 0, 1)
    t = [cv2.GaussianBlur(a * b, (0, 0), 3 * sigma) for a, b in ((gx, gx), (gx, gy), (gy, gy))]
    ga = _unit(axis)  # the region's overall axis, as a floor where the banks are far away
    nrm = np.array([-ga[1], ga[0]])
    floor = 0.05 * float(np.median((t[0] + t[2])[r])) + 1e-9
    txx, txy, tyy = t[0] + floor * nrm[0] ** 2, t[1] + floor * nrm[0] * nrm[1], t[2] + floor * nrm[1] ** 2
    along = 0.5 * np.arctan2(2 * txy, txx - tyy) + np.pi / 2  # perpendicular to the bank normal
    d = np.stack([np.cos(along), np.sin(along)]).astype(np.float32)
    if toward is not None and abs(float(ga @ _unit(toward))) >= 0.5:
        ref, how = _unit(toward), "along the channel, the way asked"
    elif abs(ga[1]) >= 0.2:
        ref, how = (ga if ga[1] > 0 else -ga), "along the channel, downhill"
    else:
        ref, how = _unit(DEFAULT_DRIFT["water"][0]), "along the level channel"
    d *= np.where(d[0] * ref[0] + d[1] * ref[1] < 0, -1.0, 1.0).astype(np.float32)
    d = np.stack([cv2.GaussianBlur(c, (0, 0), 2 * sigma) for c in d])
    d /= np.maximum(np.hypot(d[0], d[1]), 1e-6)
    big = cv2.resize(np.moveaxis(d, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR)
    big = np.moveaxis(big, -1, 0)
    big /= np.maximum(np.hypot(big[0], big[1]), 1e-6)
    return np.ascontiguousarray(big, dtype=np.float32), how


RIPPLE_WAVES = (  # (wavelength factor, direction on the water plane in degrees, share of the amplitude,
    #  spatial phase, displacement direction): a long swell toward the camera and two shorter oblique ones
    (1.0, -90.0, 0.5, 0.0, (0.3, 0.95)),
    (0.62, -60.0, 0.3, 2.1, (-0.3, 0.95)),
    (0.41, -125.0, 0.2, 4.2, (0.25, 0.97)),
)


def ripple_cycles(frames: int) -> np.ndarray:
    """Whole periods per loop of each wave in RIPPLE_WAVES: about RIPPLE_FREQUENCY cycles per
    frame for the longest, faster for shorter ones (deep-water dispersion, f ~ 1/sqrt(wavelength)),
    all different so that the waves never all rest at once except at frame 0."""
    out = []
    for lam, *_ in RIPPLE_WAVES:
        m = max(1, round(frames * RIPPLE_FREQUENCY / math.sqrt(lam)))
        while m in out:
            m += 1
        out.append(m)
    return np.array(out, np.int64)


def ripple_basis(region: np.ndarray, amplitude: float) -> np.ndarray:
    """Spatial part (K, 2, H, W) float32 (px) of the ripple of one region: the waves of
    RIPPLE_WAVES laid on the water plane in perspective (the region's top edge is taken as
    the far shore, a little below the horizon), so that they shrink and calm toward the
    horizon. `amplitude`: px nearest the camera. Waves shorter than ~4 px fade out (no
    aliasing) and the displacement never folds the image (its slope stays below 0.5)."""
    H, W = region.shape
    rows = np.flatnonzero(region.any(1))
    cols = np.flatnonzero(region.any(0))
    top, bottom = rows[0], rows[-1] + 1
    span = max(bottom - top, 4)
    horizon = top - 0.3 * span
    depth = bottom - horizon
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    below = np.maximum(y - horizon, 0.15 * span)
    g = depth / below                                   # 1 at the bottom, larger toward the horizon
    dg = -g * g / depth                                 # d g / d y
    cx = 0.5 * (cols[0] + cols[-1])
    lam0 = max(12.0, RIPPLE_WAVELENGTH * max(H, W))  # small renders keep waves they can show
    out = np.zeros((len(RIPPLE_WAVES), 2, H, W), np.float32)
    slope = np.zeros((H, W), np.float32)
    for k, (lam_f, beta, share, phase, _) in enumerate(RIPPLE_WAVES):
        lam, cb, sb = lam0 * lam_f, math.cos(math.radians(beta)), math.sin(math.radians(beta))
        theta = 2 * math.pi / lam * ((x - cx) * g * cb + depth * g * sb) + phase
        tx = 2 * math.pi / lam * g * cb
        ty = 2 * math.pi / lam * dg * ((x - cx) * cb + depth * sb)
        freq = np.hypot(tx, ty)                         # rad per px
        local = 2 * math.pi / np.maximum(freq, 1e-6)    # local wavelength, px
        amp = share * amplitude / g * np.clip((local - 4.0) / 4.0, 0, 1)
        out[k, 0], out[k, 1] = amp * np.cos(theta), amp * np.sin(theta)
        slope += amp * freq
    out *= np.minimum(1.0, 0.5 / np.maximum(slope, 1e-6))[None, None]
    return out * region[None, None]


def plausible_labels(labels: np.ndarray) -> np.ndarray:
    """Labels for motion: a 'water' part that touches the top of the photo or lies higher
    than the middle of the sky is taken as sky, so one sky moves as one. (H, W) uint8."""
    from .mask import SKY, WATER
    water = (labels == WATER).astype(np.uint8)
    if not water.any():
        return labels
    sky_rows = np.nonzero(labels == SKY)[0]
    sky_mid = float(np.median(sky_rows)) if len(sky_rows) else None
    n, comp, stats, cent = cv2.connectedComponentsWithStats(water, connectivity=8)
    out = labels.copy()
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_TOP] == 0 or (sky_mid is not None and cent[k][1] < sky_mid):
            out[comp == k] = SKY
    return out


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


def region_motion(labels: np.ndarray, *, frames: int, photo: np.ndarray | None = None, styles: dict | None = None,
                  drift: dict | None = None, arrows=None, arrow_scale: float = 1.0,
                  patterns: dict | None = None, scale: float = 1.0) -> MotionPlan:
    """The motion plan of a labelled mask, without any motion file.

    labels: (H, W) uint8, 0 frozen, 1 sky, 2 water (``mask.REGIONS``).
    frames: frames in the loop (arrows span one loop; ripples make whole periods in it).
    photo:  (H, W, 3) uint8, the photo at this size: the automatic styles are read from it.
    styles: {"sky" | "water": "auto" | "drift" | "flow" | "ripple"}; missing or None = "auto"
            (sky drifts; water ripples when it mirrors the scene, flows when it is a channel
            or clearly textured, else ripples; see ``choose_style``).
    drift:  {"sky": (direction_deg, speed_px_per_frame), "water": ...}; None in either place
            takes the default (speeds in DEFAULT_DRIFT are per 1024 px of the long side and are
            scaled to this size). drift uses the direction; flow uses it only to pick which way
            along the water body; ripple ignores it, and its amplitude is RIPPLE_AMPLITUDE x speed px.
    arrows: Arrow list in input-photo px; arrow_scale converts them to render px.
            Each arrow steers the region its start (else its end) lies in; a region with
            arrows follows them whatever its style.
    patterns: {"sky" | "water": (2, H, W)} learned motion patterns (any scale): a region with
            one, no direction and style "auto" follows it, at its speed.
    scale:  multiplies every speed, arrow and ripple amplitude at once (presets).
    Returns a MotionPlan: the field (px per frame, eased to zero at region edges, zero
    outside and in rippling regions), the ripple, the style of each region, notes.
    """
    from .mask import REGIONS
    patterns = patterns or {}
    styles = {name: check_style(name, (styles or {}).get(name)) for name in REGIONS}
    labels = plausible_labels(labels)
    H, W = labels.shape
    drift = drift or {}
    notes: list[str] = []
    per_region = _arrows_by_region(labels, coerce_arrows(arrows), arrow_scale, notes)

    holes = {k: enclosed_holes(labels, labels == k) for k in REGIONS.values() if (labels == k).any()}
    ease = region_easing(labels, EASE_FRACTION * min(H, W), holes)
    field = np.zeros((2, H, W), np.float32)
    ripple_basis_sum, chosen = None, {}
    unit = max(H, W) / 1024.0
    for name, k in REGIONS.items():
        region = labels == k
        if not region.any():
            continue
        through = region | holes[k]  # the motion continues behind small frozen islands
        direction, speed = drift.get(name, (None, None))
        default_speed = speed is None
        if default_speed:
            speed = DEFAULT_DRIFT[name][1] * unit
        speed *= scale
        style = styles[name]
        if k in per_region:
            chosen[name] = "arrows"
            field[:, region] = scale * arrow_field(per_region[k], (W, H), frames, arrow_scale)[:, region]
            notes.append(f"{name}: follows your arrows")
            continue
        pattern = patterns.get(name)
        if pattern is not None and direction is None and style == "auto":
            mean = float(np.hypot(pattern[0], pattern[1])[region].mean())
            if mean > 0:
                chosen[name] = "learned"
                field[:, region] = (pattern * (speed / mean))[:, region]
                notes.append(f"{name}: learned motion, {speed:.2f} px/frame")
                continue
        how = "asked"
        if style == "auto":
            style, how = choose_style(name, photo, region)
        chosen[name] = style
        if style == "drift":
            if direction is None:
                direction = DEFAULT_DRIFT[name][0]
            f = uniform_motion((W, H), direction, speed) * _perspective(through, name)
            field[:, through] = f[:, through]
            what = f"drift at {direction:g} deg"
        elif style == "flow":
            d, along = flow_directions(region, photo, direction)
            field[:, through] = (d * (speed * _perspective(through, name)))[:, through]
            what = f"flow {along}"
        else:
            basis = ripple_basis(region, RIPPLE_AMPLITUDE * speed)
            ripple_basis_sum = basis if ripple_basis_sum is None else ripple_basis_sum + basis
            what = f"ripple of {RIPPLE_AMPLITUDE * speed:.1f} px"
        notes.append(f"{name}: {what}, {speed:.2f} px/frame{' (default speed)' if default_speed else ''}"
                     f"{'' if how == 'asked' else f' (automatic: {how})'}")
    ripple = None
    if ripple_basis_sum is not None:
        ripple = Ripple(np.ascontiguousarray(ripple_basis_sum * ease[None, None], dtype=np.float32),
                        np.array([wave[4] for wave in RIPPLE_WAVES], np.float32), ripple_cycles(frames))
        ripple.direction /= np.linalg.norm(ripple.direction, axis=1, keepdims=True)
    passed = np.zeros((H, W), bool)
    for h in holes.values():
        passed |= h
    return MotionPlan(field * ease, ripple, chosen, notes, passed if passed.any() else None)


def _arrows_by_region(labels: np.ndarray, arrows: list[Arrow], scale: float, notes: list[str]) -> dict:
    """Arrows grouped by the label their start (else their end) lies in; arrows outside
    every moving region are reported in notes. CineGANError for arrows outside the photo
    or without length."""
    H, W = labels.shape
    per_region: dict[int, list[Arrow]] = {}
    for i, a in enumerate(arrows, 1):
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            if not (0 <= x * scale < W + 0.5 and 0 <= y * scale < H + 0.5):
                raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) reaches outside the photo "
                                   f"({W / scale:.0f}x{H / scale:.0f} px)")
        if a.length * scale < 0.5:
            raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) has no length; "
                               "drag from where content starts to where it should go")
        label = 0
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            xi = min(W - 1, int(x * scale))
            yi = min(H - 1, int(y * scale))
            if labels[yi, xi]:
                label = int(labels[yi, xi])
                break
        if not label:
            notes.append(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) lies outside the moving areas "
                         "and was ignored; paint the area into the mask to move it")
            continue
        per_region.setdefault(label, []).append(a)
    return per_region
