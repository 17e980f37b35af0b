"""What a painted region is: sky, still, flowing or falling water (``regions`` codes).

A region the user paints (brush or mask file) moves as what it is. ``classify``
decides it from the learned scene parser's probabilities when they are given
(the mean probability of each moving class over the region), otherwise from
position, colour, texture and structure (``RegionCues``):

* vertical streaks (the fine texture's structure tensor is coherent and lies
  within ~30 deg of vertical), bright, not a smooth blue sky => falling water;
* touching the top of the photo, or high in it, smooth or bluish => sky;
* elongated band along a direction with directional texture, or clearly textured
  low water => flowing water;
* otherwise low, smooth, horizontal water => still water.

``painted_regions`` splits a user's mask into the connected regions to classify.
Images are RGB uint8 (H, W, 3); masks (H, W) bool.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..regions import CODES, FALLING_WATER, FLOWING_WATER, MOVING, SKY, STILL_WATER

SIDE = 384            # px: the cues are measured at about this long side
MIN_RESOLVED = 0.5    # the parser decides a region only where it sees at least this share of it whole
MIN_MOVING = 0.5      # ... and only where it sees sky or water there (mean moving probability at least this):
                      # over a region it takes for solid (a painted meadow) its choice among the moving classes
                      # is noise, and the region's cues decide
MIN_LEAD = 0.8        # ... or where one moving class holds at least this share of a moving probability of at least
MIN_SOME = 0.1        # this: a waterfall shot from below, which the parser half takes for the cliff (0.75 solid, 0.24
                      # falling, 0.005 sky), is still surely water that falls, not the sky its cues see (it touches
                      # the top of the photo)
MIN_REGION = 0.001    # a painted region smaller than this share of the photo joins its neighbour


@dataclass
class RegionCues:
    """What a region looks like, measured at about SIDE px.

    top:        the region's top edge, 0..1 of the photo's height (0 = touches the top).
    centre:     its centroid's height, 0..1.
    bottom:     its lowest row, 0..1.
    width:      its horizontal extent, 0..1 of the photo's width.
    elongation: long / short axis (second moments); axis: that axis in degrees from horizontal (0..90).
    brightness: mean grey 0..1; blue: mean (b - r) 0..1 (positive: bluish); saturation: mean HSV S 0..1.
    texture:    std of the fine detail (grey minus its Gaussian blur, sigma 2 px) inside, 0..1.
    coherence:  how strongly the fine texture has one orientation (structure tensor, 0..1).
    streak:     the texture's streak direction, degrees from vertical (0 = vertical streaks, 90 = horizontal).
    vstreak:    share of the texture's energy in vertical streaks (horizontal gradients), 0..1.
    relbright:  its brightness minus the photo's median grey.
    """

    top: float
    centre: float
    bottom: float
    width: float
    elongation: float
    axis: float
    brightness: float
    blue: float
    saturation: float
    texture: float
    coherence: float
    streak: float
    vstreak: float
    relbright: float

    def as_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def region_cues(rgb: np.ndarray, region: np.ndarray) -> RegionCues:
    """Measure a region of a photo. rgb: (H, W, 3) uint8; region: (H, W) bool, not empty."""
    H, W = region.shape
    s = min(1.0, SIDE / max(H, W))
    size = (max(8, round(W * s)), max(8, round(H * s)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    r = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if not r.any():  # a sliver lost in the resize
        r = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
    h, w = r.shape
    f = small.astype(np.float32) / 255.0
    g = f.mean(2)
    ys, xs = np.nonzero(r)
    rows, cols = np.flatnonzero(r.any(1)), np.flatnonzero(r.any(0))
    if len(xs) >= 3:
        cov = np.cov(np.stack([xs, ys]).astype(np.float64))
        vals, vecs = np.linalg.eigh(cov)
        elong = float(np.sqrt(vals[1] / max(vals[0], 1e-6)))
        axis = abs(math.degrees(math.atan2(vecs[1, 1], vecs[0, 1])))
        axis = 180.0 - axis if axis > 90 else axis
    else:
        elong, axis = 1.0, 0.0
    inner = cv2.erode(r.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 30:
        inner = r
    detail = g - cv2.GaussianBlur(g, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)
    band = cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 4.0)   # texture, not shading
    gx, gy = cv2.Sobel(band, cv2.CV_32F, 1, 0), cv2.Sobel(band, cv2.CV_32F, 0, 1)
    jxx, jxy, jyy = (float((a * b)[inner].mean()) for a, b in ((gx, gx), (gx, gy), (gy, gy)))
    coherence = math.hypot(jxx - jyy, 2 * jxy) / max(jxx + jyy, 1e-12)
    phi = 0.5 * math.atan2(2 * jxy, jxx - jyy)           # across the streaks, from horizontal
    streak = abs(math.degrees(phi))                       # gradient angle from horizontal = streak angle from vertical
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    return RegionCues(
        top=rows[0] / h, centre=float(ys.mean()) / h, bottom=(rows[-1] + 1) / h, width=(cols[-1] + 1 - cols[0]) / w,
        elongation=elong, axis=axis, brightness=float(g[r].mean()),
        blue=float((f[..., 2] - f[..., 0])[r].mean()), saturation=float(hsv[..., 1][r].mean()) / 255.0,
        texture=float(detail[inner].std()), coherence=coherence, streak=streak,
        vstreak=jxx / max(jxx + jyy, 1e-12), relbright=float(g[r].mean() - np.median(g)))


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at lo, 1 at hi, linear between (lo > hi gives a falling ramp)."""
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def scores(c: RegionCues) -> dict[int, float]:
    """A score per moving class for a region's cues (higher = more likely); ``classify``
    takes the largest. Hand-set weights, checked on the train split of data/scenes
    (bench/kinds.py reports the held-out split apart)."""
    high = _ramp(c.top, 0.08, 0.0)                  # touches (or nearly) the top of the photo
    low = _ramp(c.centre, 0.35, 0.65)               # lies in the lower part
    textured = _ramp(c.texture, 0.015, 0.055)       # waves, streaks, foam (a clear sky is smooth)
    vertical = _ramp(c.vstreak, 0.3, 0.6)           # streaks running down (horizontal gradients)
    narrow = _ramp(c.width, 0.35, 0.1)              # a column, not a sheet across the photo
    wide = _ramp(c.width, 0.5, 0.9)
    grey = _ramp(c.saturation, 0.35, 0.15)          # white water is unsaturated
    bright = _ramp(c.relbright, -0.02, 0.15)        # brighter than the photo's median
    band = _ramp(c.elongation, 1.8, 4.0) * (1.0 - wide)
    fall = 1.4 * vertical * textured + 1.0 * narrow * textured + 0.4 * grey * bright + 0.3 * bright * textured \
        - 1.0 * high
    sky = 1.6 * high + 0.5 * (1.0 - low) + 0.8 * max(0.0, c.blue) - 1.6 * textured
    rough = _ramp(c.texture, 0.02, 0.04)            # waves and rapids against calm water
    flowing = 1.0 * rough * low + 0.4 * band + 0.2 * (1.0 - narrow) - 0.5 * high
    still = 0.5 * low + 0.9 * (1.0 - rough) * low + 0.2 * wide + 0.3 * c.saturation - 0.5 * high
    return {SKY: sky, STILL_WATER: still, FLOWING_WATER: flowing, FALLING_WATER: fall}


def from_probs(probs: np.ndarray, region: np.ndarray) -> tuple[int, dict[int, float]]:
    """(class code, {code: mean probability}) of a region from the scene parser's
    probabilities probs (5, h, w) float32 in ``regions.CODES`` order (any resolution: the
    region is brought to it), among the moving classes (the user painted it: it moves)."""
    p = np.asarray(probs, np.float32)
    h, w = p.shape[1:]
    r = cv2.resize(region.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    if not r.any():
        r = cv2.resize(region.astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA) > 0
    if not r.any():
        r = np.ones((h, w), bool)
    mean = {code: float(p[i][r].mean()) for i, code in enumerate(CODES) if code in MOVING}
    return max(mean, key=mean.get), mean


def resolved(probs: np.ndarray, region: np.ndarray) -> float:
    """The share (0..1) of a region that lies at least one cell inside it on the grid of
    the parser's probabilities probs (5, h, w): the part the parser sees whole, not mixed
    with its surroundings. A thin waterfall or stream a few cells wide scores near 0."""
    h, w = np.asarray(probs).shape[1:]
    cells = cv2.resize(region.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    if not cells.any():
        return 0.0
    inner = cv2.erode(cells.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return float(inner.sum()) / float(cells.sum())


def classify(rgb: np.ndarray, region_mask: np.ndarray, probs=None) -> int:
    """The class code (``regions``: SKY, STILL_WATER, FLOWING_WATER or FALLING_WATER) of one
    painted region.

    rgb:         (H, W, 3) uint8, the photo.
    region_mask: (H, W) bool, the region (one connected painted area).
    probs:       the scene parser's class probabilities (5, h, w) float32 in ``regions.CODES``
                 order, or an object with a ``probs`` attribute (``parser.SceneProbs``), or
                 None: then the photo's cues decide (``region_cues``, ``scores``). The cues
                 decide too where the region is too thin for the parser's grid (``resolved``
                 under MIN_RESOLVED: a narrow fall is mixed with the rock beside it there)."""
    return decide(rgb, region_mask, probs)[0]


def decide(rgb: np.ndarray, region_mask: np.ndarray, probs=None) -> tuple[int, str]:
    """``classify``'s class code with what decided it: "parser" or "cues" (the parser decides
    where its grid sees the region whole, MIN_RESOLVED, and sees sky or water there, MIN_MOVING, or some
    of it with one moving class clearly leading, MIN_SOME and MIN_LEAD)."""
    region = np.asarray(region_mask, bool)
    if not region.any():
        raise ValueError("classify needs a region with at least one pixel")
    if probs is not None:
        p = getattr(probs, "probs", probs)
        if resolved(p, region) >= MIN_RESOLVED:
            code, mean = from_probs(p, region)
            moving = sum(mean.values())
            if moving >= MIN_MOVING or (moving >= MIN_SOME and mean[code] >= MIN_LEAD * moving):
                return code, "parser"
    sc = scores(region_cues(rgb, region))
    return max(sc, key=sc.get), "cues"


def nearest_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """values (H, W) with every pixel outside `known` ((H, W) bool, not empty) replaced by
    the value of the nearest known pixel (Euclidean, approximately)."""
    src = (~np.asarray(known, bool)).astype(np.uint8)   # zeros: the known pixels
    _, idx = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(known)
    lut = np.zeros(int(idx.max()) + 1, values.dtype)
    lut[idx[ys, xs]] = values[ys, xs]
    return lut[idx]


def painted_regions(mask: np.ndarray, min_share: float = MIN_REGION) -> list[np.ndarray]:
    """The connected regions of a painted mask ((H, W) bool), largest first, each (H, W)
    bool. Specks under min_share of the photo join the nearest larger region (they are
    strokes' spatter, not regions of their own)."""
    m = np.asarray(mask, bool)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = 1 + np.argsort(-areas, kind="stable")
    big = [k for k in order if stats[k, cv2.CC_STAT_AREA] >= min_share * m.size] or [order[0]]
    if len(big) == n - 1:
        return [comp == k for k in big]
    seeds = np.zeros(m.shape, np.int32)
    for i, k in enumerate(big, 1):
        seeds[comp == k] = i
    nearest = nearest_fill(seeds, seeds > 0)
    return [m & (nearest == i) for i in range(1, len(big) + 1)]
