"""Motion styles: how each kind of region moves, and which one a region gets.

* **drift**: the region slides as one coherent sheet (clouds), slower near the
  horizon (``perspective``);
* **flow**: water follows its own course: a channel along its local axis,
  downhill; open water along its wave crests (``flow_directions``);
* **ripple**: calm water shimmers in place, a small displacement periodic over
  the loop (``Ripple``, ``ripple_basis``).

``choose_style`` picks one from the photo (``water_cues``: does the water mirror
the scene, is it a channel, is it textured). Region and style names are those of
``regions`` (the settings groups "sky" and "water"; ``regions.STYLES``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import CineGANError
from ..regions import DEFAULT_DRIFT, STYLES

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
STRAIGHT_COURSE = 0.85    # a body of water less elongated than a channel still flows along its banks when they
                          # are this straight (``_course``); where they bend it is open water
APPROACH_TAPER = 0.6      # a body of water that enters at the bottom edge, sloped, and is at most this wide at its
                          # far end (its top quarter) as at its near end (its bottom quarter) is a stream coming
                          # toward the camera, its banks converging in perspective: it flows downhill


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


def check_style(region: str, style) -> str:
    """A style name for a region, or CineGANError naming the choices."""
    style = "auto" if style is None else str(style).lower()
    if style not in STYLES:
        raise CineGANError(f"unknown {region} style {style!r}; choose one of {', '.join(STYLES)}")
    return style


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


def _coming_closer(r: np.ndarray, axis: float) -> bool:
    """Whether a boolean body of water (not spanning the width) is a stream seen coming toward
    the camera: it enters at the bottom edge, not at the top, its axis (degrees, ``_shape_axis``)
    slopes (at least ~12 deg off level), it is one piece, and it narrows away from the camera
    (APPROACH_TAPER). A bay or cove is not: its far end is its wide mouth, or it touches the top."""
    rows = np.flatnonzero(r.any(1))
    if not len(rows) or r[0].any() or not r[-1].any() or abs(math.sin(math.radians(axis))) < 0.2:
        return False
    k = 2 * max(1, round(0.02 * max(r.shape))) + 1        # rocks and boulders in a stream do not split it
    joined = cv2.morphologyEx(r.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    if np.bincount(lab[r], minlength=n)[1:].max() < 0.9 * r.sum():
        return False   # scattered pieces (parts of a larger water given this kind), not one stream
    q = max(1, (rows[-1] - rows[0] + 1) // 4)
    far, near = r[rows[0]:rows[0] + q].any(0).sum(), r[rows[-1] - q + 1:rows[-1] + 1].any(0).sum()
    return bool(far <= APPROACH_TAPER * near)


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
    if name != "water":  # a settings group (regions.GROUPS)
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

def perspective(region: np.ndarray, name: str) -> np.ndarray:
    """Speed factor by height within a region: water is faster near the bottom of the
    frame (closer to the camera), clouds slower near the horizon. (H, W) float32."""
    rows = np.flatnonzero(region.any(1))
    h = region.shape[0]
    y = np.arange(h, dtype=np.float32)[:, None]
    top, bottom = rows[0], rows[-1] + 1
    u = np.clip((y - top) / max(bottom - top, 1), 0, 1)  # 0 at the region's top, 1 at its bottom
    f = np.broadcast_to(0.5 + 0.5 * u if name == "water" else 1.0 - 0.35 * u, region.shape)
    return f / float(f[region].mean())  # the region's mean speed stays the one asked for


def unit_vector(deg: float) -> np.ndarray:
    return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))], np.float32)


def flow_directions(region: np.ndarray, rgb: np.ndarray | None = None,
                    toward: float | None = None) -> tuple[np.ndarray, str]:
    """Unit directions (2, H, W) float32 along which a water body flows, and a description.

    A channel (a stream, a river: not spanning the photo, and elongated, CHANNEL_ELONGATION
    or more, or with banks at least STRAIGHT_COURSE straight, or coming toward the camera
    down a slope, narrowing away from it: ``_coming_closer``) flows along its own local
    axis, from the structure tensor of the smoothed region (the banks), downhill, i.e. with
    a downward component in the image, or leftward where the channel is level (``_course``).
    Open water (a sea or lake spanning the photo; a bay or cove whose shore curves round it,
    where following the shore would bend the surf into curved streaks) slides along its wave
    crests (from the structure tensor of its texture), leftward unless the user asks
    otherwise (``_open_water``). Not toward the camera, although swell comes that way: a
    flat warp cannot make content grow as it approaches nor appear at the far edge, so such
    a flow melts the texture and piles it against every still thing in the water (foam,
    rocks, the shore), whose edges lie along the crests; sliding along the crests keeps the
    texture's scale and runs along those edges. `toward` (degrees): the user's direction,
    used only to pick which way along the estimated axis."""
    H, W = region.shape
    g, r, _ = _small(rgb, region, 256)
    if not _spans_width(r):
        elongation, axis = _shape_axis(r)
        d, how, straight = _course(r, axis, toward)
        if elongation >= CHANNEL_ELONGATION or straight >= STRAIGHT_COURSE or _coming_closer(r, axis):
            big = np.moveaxis(cv2.resize(np.moveaxis(d, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR), -1, 0)
            big /= np.maximum(np.hypot(big[0], big[1]), 1e-6)
            return np.ascontiguousarray(big, dtype=np.float32), how
    d, how = _open_water(r, g, toward)
    return np.broadcast_to(d[:, None, None], (2, H, W)).astype(np.float32), how


def _course(r: np.ndarray, axis: float, toward: float | None) -> tuple[np.ndarray, str, float]:
    """A channel's course: unit directions (2, h, w) float32 along the local axis of the body
    r ((h, w) bool; axis: its overall axis in degrees, ``_shape_axis``), from the tensor of the
    smoothed region's gradient (across the banks), downhill (or the way asked, or leftward where
    level); its description; and how straight it is (0..1: the mean resultant length of the
    axis angles, doubled, over the body)."""
    h, w = r.shape
    sigma = max(2.0, 0.02 * max(h, w))
    m = cv2.GaussianBlur(r.astype(np.float32), (0, 0), sigma)
    gx, gy = cv2.Sobel(m, cv2.CV_32F, 1, 0), cv2.Sobel(m, cv2.CV_32F, 0, 1)
    t = [cv2.GaussianBlur(a * b, (0, 0), 3 * sigma) for a, b in ((gx, gx), (gx, gy), (gy, gy))]
    ga = unit_vector(axis)  # the region's overall axis, as a floor where the banks are far away
    nrm = np.array([-ga[1], ga[0]])
    floor = 0.05 * float(np.median((t[0] + t[2])[r])) + 1e-9
    txx, txy, tyy = t[0] + floor * nrm[0] ** 2, t[1] + floor * nrm[0] * nrm[1], t[2] + floor * nrm[1] ** 2
    along = 0.5 * np.arctan2(2 * txy, txx - tyy) + np.pi / 2  # perpendicular to the bank normal
    straight = float(np.hypot(np.cos(2 * along[r]).mean(), np.sin(2 * along[r]).mean()))
    d = np.stack([np.cos(along), np.sin(along)]).astype(np.float32)
    if toward is not None and abs(float(ga @ unit_vector(toward))) >= 0.5:
        ref, how = unit_vector(toward), "along the channel, the way asked"
    elif abs(ga[1]) >= 0.2:
        ref, how = (ga if ga[1] > 0 else -ga), "along the channel, downhill"
    else:
        ref, how = unit_vector(DEFAULT_DRIFT["water"][0]), "along the level channel"
    d *= np.where(d[0] * ref[0] + d[1] * ref[1] < 0, -1.0, 1.0).astype(np.float32)
    d = np.stack([cv2.GaussianBlur(c, (0, 0), 2 * sigma) for c in d])
    d /= np.maximum(np.hypot(d[0], d[1]), 1e-6)
    return d, how, straight


def _open_water(r: np.ndarray, g: np.ndarray | None, toward: float | None) -> tuple[np.ndarray, str]:
    """Open water's course: one unit direction along the wave crests of the body r ((h, w)
    bool; from the structure tensor of its texture in g, when coherent), else level; leftward
    unless `toward` says otherwise (steep crests: downward). Crests steeper than 45 deg count only
    where the water reaches the top of the photo (seen from above, surf lines run any way); below
    a horizon they are glitter or reflections, and flowing along them would come toward the camera.
    Returns (the unit direction (2,) float32, a description)."""
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
        if coherence >= 0.15 and (abs(crest[0]) >= 0.7 or r[0].any()):
            d, how = crest, "along the wave crests"
    ref = unit_vector(DEFAULT_DRIFT["water"][0] if toward is None else toward)
    if toward is None and abs(d[0]) < 0.7:
        ref = np.array([0.0, 1.0], np.float32)
    if float(d @ ref) < 0 or (toward is None and float(d @ ref) == 0):
        d = -d
    how += f" ({math.degrees(math.atan2(d[1], d[0])) % 360:.0f} deg)"
    return d, how


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
