"""Falling water: how a waterfall or cascade moves.

A fall moves fast (``FALL_FACTOR`` times the water's speed), downward along its own
streaks: the orientation of the photo's fine texture inside the region (its
structure tensor), kept within ``MAX_TILT`` degrees of straight down, and straight
down where the texture has no clear orientation. Towards its foot (the lowest
``FOOT_FRACTION`` of the fall in every column) it slows down, so that content is
not squeezed into horizontal streaks where it stops, and churns: a small
turbulent displacement, periodic over the loop (``foam_ripple``), like foam where
the water lands.

Units: px and px per frame at the size of the arrays given; directions as unit
vectors (x right, y down).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

FALL_FACTOR = 4.0       # a fall's speed, per unit of the water's speed (falls are fast)
MAX_TILT = 30.0         # degrees: the most a fall may lean off straight down along its streaks (a margin
                        # under 40: a fall leaning further reads as sliding sideways)
STREAK_COHERENCE = 0.3  # structure-tensor coherence at which the streaks are fully trusted
FOOT_FRACTION = 0.22    # the lowest share of the fall (per column) that slows down and churns
FOOT_SLOWDOWN = 0.7     # share of the speed lost at the very foot
# foam: short waves in several directions, faster than calm water's ripples.
# (wavelength as a fraction of the long side, direction of the wave in degrees, share of the
# amplitude, displacement direction (x, y), cycles per frame)
FOAM_WAVES = (
    (0.020, 20.0, 0.35, (0.35, 0.94), 1 / 10),
    (0.014, 115.0, 0.25, (-0.6, 0.8), 1 / 8),
    (0.011, 70.0, 0.22, (0.95, 0.3), 1 / 7),
    (0.008, 160.0, 0.18, (-0.9, -0.45), 1 / 6),
)
FOAM_AMPLITUDE = 1.2    # px nearest the foot per px/frame of the water's speed


def _grey_small(rgb: np.ndarray, region: np.ndarray, side: int = 384):
    """(grey (h, w) float32 0..1, region (h, w) bool) at about `side` px on the long side."""
    H, W = region.shape
    s = min(1.0, side / max(H, W))
    size = (max(8, round(W * s)), max(8, round(H * s)))
    g = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32).mean(2) / 255.0
    r = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return g, r


def streak_tilt(rgb: np.ndarray | None, region: np.ndarray, max_tilt: float = MAX_TILT) -> tuple[np.ndarray, float]:
    """How far a fall's streaks lean off straight down: ((H, W) float32 radians, positive =
    leaning to the right as it falls, within +-max_tilt degrees; the region's mean in degrees).

    From the structure tensor of the photo's fine detail inside the region, averaged over
    neighbourhoods of about 5 % of the long side (normalised to the region), of the edges that
    run within 45 deg of vertical only (a streak's sides; level edges say nothing of the fall's
    direction); where the texture's orientation is weak (coherence below STREAK_COHERENCE) the
    tilt fades to 0."""
    H, W = region.shape
    if rgb is None or not region.any():
        return np.zeros((H, W), np.float32), 0.0
    g, r = _grey_small(rgb, region)
    h, w = r.shape
    d = g - cv2.GaussianBlur(g, (0, 0), 3.0)
    d = cv2.GaussianBlur(d, (0, 0), 0.8)
    gx, gy = cv2.Sobel(d, cv2.CV_32F, 1, 0), cv2.Sobel(d, cv2.CV_32F, 0, 1)
    # only an edge across a possible streak (its gradient within 45 deg of horizontal, weight cos 2a)
    # says which way the water falls: the level edges of ledges, lips and foam fronts would otherwise
    # turn the streaks sideways (their +-90 deg clipped to +-max_tilt on a fall that drops straight)
    across = np.clip((gx * gx - gy * gy) / (gx * gx + gy * gy + 1e-12), 0.0, 1.0)
    rf = r.astype(np.float32) * across
    sigma = max(2.0, 0.05 * max(h, w))
    norm = cv2.GaussianBlur(rf, (0, 0), sigma) + 1e-6
    jxx, jxy, jyy = (cv2.GaussianBlur(a * b * rf, (0, 0), sigma) / norm for a, b in ((gx, gx), (gx, gy), (gy, gy)))
    # the whole region's tensor: where a neighbourhood says little, the region's own orientation
    weight = max(float(rf[r].sum()), 1e-6)
    tot = [float((a * b * rf)[r].sum()) / weight for a, b in ((gx, gx), (gx, gy), (gy, gy))]
    jxx, jxy, jyy = 0.7 * jxx + 0.3 * tot[0], 0.7 * jxy + 0.3 * tot[1], 0.7 * jyy + 0.3 * tot[2]
    phi = 0.5 * np.arctan2(2 * jxy, jxx - jyy)       # the gradient's main orientation: across the streaks
    coherence = np.hypot(jxx - jyy, 2 * jxy) / np.maximum(jxx + jyy, 1e-12)
    sx, sy = -np.sin(phi), np.cos(phi)               # along the streaks
    flip = sy < 0
    sx, sy = np.where(flip, -sx, sx), np.where(flip, -sy, sy)
    tilt = np.arctan2(sx, sy)                         # 0 = straight down, + = leaning right
    trust = np.clip(coherence / STREAK_COHERENCE, 0.0, 1.0)
    lim = math.radians(max_tilt)
    tilt = np.clip(tilt * trust, -lim, lim).astype(np.float32)
    tilt = cv2.GaussianBlur(tilt, (0, 0), sigma)
    mean = float(np.degrees(tilt[r].mean())) if r.any() else 0.0
    big = cv2.resize(tilt, (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(big, -lim, lim).astype(np.float32), mean


def foot_weight(region: np.ndarray, fraction: float = FOOT_FRACTION) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 at the foot of a fall (the lowest pixel of the region in
    each column), falling smoothly to 0 at `fraction` of the fall's height above it; 0
    outside the region."""
    H, W = region.shape
    rows = np.flatnonzero(region.any(1))
    if not len(rows):
        return np.zeros((H, W), np.float32)
    height = max(rows[-1] + 1 - rows[0], 4)
    # distance to the lowest region pixel below, per column (the region's foot in that column)
    y = np.arange(H, dtype=np.float32)[:, None]
    low = np.where(region, y, -1.0).max(0)                           # (W,) lowest row of each column
    low = cv2.GaussianBlur(low[None].astype(np.float32), (0, 0), max(1.0, 0.01 * W))[0] if W > 2 else low
    dist = np.maximum(low[None, :] - y, 0.0)
    u = np.clip(1.0 - dist / (fraction * height), 0.0, 1.0)
    return (u * u * (3 - 2 * u) * region).astype(np.float32)


def fall_field(region: np.ndarray, rgb: np.ndarray | None, speed: float, toward: float | None = None
               ) -> tuple[np.ndarray, float, str]:
    """The stationary motion of falling water: ((2, H, W) float32 px per frame, zero outside
    the region; mean direction in degrees; a description).

    speed:  px per frame of the fall (its mean over the region before the foot slows down).
    toward: the user's direction in degrees, used only to choose which way along the streaks
            (default downward)."""
    tilt, mean_tilt = streak_tilt(rgb, region)
    dx, dy = np.sin(tilt), np.cos(tilt)                           # downward along the streaks
    sense = 1.0
    if toward is not None and math.sin(math.radians(toward)) < 0:  # asked to go up: the other way
        sense = -1.0
    slow = 1.0 - FOOT_SLOWDOWN * foot_weight(region)
    out = np.stack([dx, dy]).astype(np.float32) * (sense * speed * slow)[None] * region[None]
    direction = (90.0 - mean_tilt) % 360.0 if sense > 0 else (270.0 - mean_tilt) % 360.0
    how = f"falls along its streaks ({direction:.0f} deg), churning at the foot"
    return out.astype(np.float32), direction, how


def foam_ripple(region: np.ndarray, amplitude: float, frames: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Churning foam at the foot of a fall: (basis (K, 2, H, W) float32 px, direction (K, 2)
    float32 unit, cycles (K,) int64), the parts of a ``styles.Ripple`` (K = len(FOAM_WAVES)).

    amplitude: px at the very foot; it fades with ``foot_weight`` and never folds the image
    (each wave's slope stays below 0.5 / K)."""
    H, W = region.shape
    weight = foot_weight(region)
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    side = max(H, W)
    basis = np.zeros((len(FOAM_WAVES), 2, H, W), np.float32)
    cycles, dirs = [], []
    for k, (lam_f, beta, share, disp, freq) in enumerate(FOAM_WAVES):
        lam = max(8.0, lam_f * side)
        theta = 2 * math.pi / lam * (x * math.cos(math.radians(beta)) + y * math.sin(math.radians(beta))) + 1.7 * k
        amp = min(share * amplitude, 0.5 / len(FOAM_WAVES) * lam / (2 * math.pi)) * weight
        basis[k, 0], basis[k, 1] = amp * np.cos(theta), amp * np.sin(theta)
        m = max(1, round(frames * freq))
        while m in cycles:
            m += 1
        cycles.append(m)
        v = np.array(disp, np.float32)
        dirs.append(v / np.linalg.norm(v))
    return basis, np.array(dirs, np.float32), np.array(cycles, np.int64)
