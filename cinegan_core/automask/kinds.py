"""What a painted region is: sky, still, flowing or falling water (``regions`` codes).

A region the user paints (brush or mask file) moves as what it is. ``classify``
decides it from the learned scene parser's probabilities when they are given
(the mean probability of each moving class over the region) and the parser sees
the region whole; otherwise from the region's cues (``RegionCues``: position,
shape, colour, texture at two scales and its structure, contrast to its
surroundings) through a small learned classifier: a multinomial logistic
regression over standardised features of the cues (``FEATURES``), fitted on the
train split of data/scenes by ``scripts/fit_region_kinds.py`` (L2 and feature set
chosen by cross-validation grouped by photo) and shipped as
``cinegan_core/data/region_kinds.json`` (loaded once; ``load_model``).

``painted_regions`` splits a user's mask into the connected regions to classify.
Images are RGB uint8 (H, W, 3); masks (H, W) bool.
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..errors import CineGANError
from ..regions import CODES, MOVING, NAMES

NAMES_INV = {name: code for code, name in NAMES.items()}

SIDE = 384            # px: the cues are measured at about this long side
MIN_RESOLVED = 0.5    # the parser decides a region only where it sees at least this share of it whole
MIN_REGION = 0.001    # a painted region smaller than this share of the photo joins its neighbour
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "region_kinds.json")
RING = 0.04           # the surroundings: a ring this share of the long side wide around the region


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
    area:       its share of the photo, 0..1.
    texture2, coherence2, vstreak2: texture, coherence and vstreak of the coarse detail (Gaussian
                blur sigma 2 minus sigma 6 px): waves, rapids and the large streaks of a fall.
    contrast:   its mean grey minus that of a ring RING of the long side wide around it (0 where
                nothing surrounds it).
    green:      mean (g - (r + b) / 2), -1..1.
    vslope:     mean grey of its lower half minus its upper half (rows), -1..1 (a sky brightens
                towards the horizon).
    above, below: its mean grey minus that of the part of the ring above (below) its centroid (0 where
                there is none): water under a bright sky is darker than what lies above it.
    mirror:     correlation (-1..1) of the grey just below its top edge with the grey just above it
                mirrored about that edge, column by column (still water reflects the shore; 0 where
                nothing lies above).
    white:      share of its pixels that are white water or cloud (grey > 0.7, HSV S < 0.25), 0..1.
    texvar:     std over its inside of the log local detail energy (foam and rapids are patchy).
    texslope:   log detail energy of its lower half minus its upper half (water grows finer with
                distance, a sky does not).
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
    area: float = 0.0
    texture2: float = 0.0
    coherence2: float = 0.0
    vstreak2: float = 0.0
    contrast: float = 0.0
    green: float = 0.0
    vslope: float = 0.0
    above: float = 0.0
    below: float = 0.0
    mirror: float = 0.0
    white: float = 0.0
    texvar: float = 0.0
    texslope: float = 0.0

    def as_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def _structure(band: np.ndarray, inner: np.ndarray) -> tuple[float, float, float]:
    """(coherence 0..1, streak angle from vertical in degrees 0..90, vertical-streak share 0..1)
    of the texture `band` (h, w) float32 over the pixels `inner` (h, w) bool (structure tensor)."""
    gx, gy = cv2.Sobel(band, cv2.CV_32F, 1, 0), cv2.Sobel(band, cv2.CV_32F, 0, 1)
    jxx, jxy, jyy = (float((a * b)[inner].mean()) for a, b in ((gx, gx), (gx, gy), (gy, gy)))
    coherence = math.hypot(jxx - jyy, 2 * jxy) / max(jxx + jyy, 1e-12)
    phi = 0.5 * math.atan2(2 * jxy, jxx - jyy)           # across the streaks, from horizontal
    return coherence, abs(math.degrees(phi)), jxx / max(jxx + jyy, 1e-12)


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
    blur2 = cv2.GaussianBlur(g, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)
    detail = g - blur2
    fine = cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 4.0)   # texture, not shading
    coarse = blur2 - cv2.GaussianBlur(g, (0, 0), 6.0, borderType=cv2.BORDER_REFLECT)
    coherence, streak, vstreak = _structure(fine, inner)
    coherence2, _, vstreak2 = _structure(coarse, inner)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    k = 2 * max(1, round(RING * max(h, w))) + 1
    ring = (cv2.dilate(r.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0) & ~r
    inside = float(g[r].mean())
    mid = (rows[0] + rows[-1] + 1) / 2.0
    yy = np.arange(h)[:, None]
    upper, lower = r & (yy < mid), r & (yy >= mid)
    cy = float(ys.mean())
    ring_up, ring_down = ring & (yy < cy), ring & (yy >= cy)
    energy = cv2.GaussianBlur(detail * detail, (0, 0), 4.0) + 1e-6
    up_in, low_in = inner & (yy < mid), inner & (yy >= mid)
    return RegionCues(
        top=rows[0] / h, centre=float(ys.mean()) / h, bottom=(rows[-1] + 1) / h, width=(cols[-1] + 1 - cols[0]) / w,
        elongation=elong, axis=axis, brightness=inside,
        blue=float((f[..., 2] - f[..., 0])[r].mean()), saturation=float(hsv[..., 1][r].mean()) / 255.0,
        texture=float(detail[inner].std()), coherence=coherence, streak=streak,
        vstreak=vstreak, relbright=float(inside - np.median(g)),
        area=float(r.mean()), texture2=float(coarse[inner].std()), coherence2=coherence2, vstreak2=vstreak2,
        contrast=inside - float(g[ring].mean()) if ring.any() else 0.0,
        green=float((f[..., 1] - 0.5 * (f[..., 0] + f[..., 2]))[r].mean()),
        vslope=float(g[lower].mean() - g[upper].mean()) if upper.any() and lower.any() else 0.0,
        above=inside - float(g[ring_up].mean()) if ring_up.any() else 0.0,
        below=inside - float(g[ring_down].mean()) if ring_down.any() else 0.0,
        mirror=_mirror(cv2.GaussianBlur(g, (0, 0), 1.0), r),
        white=float(((g > 0.7) & (hsv[..., 1] < 0.25 * 255))[r].mean()),
        texvar=float(np.log(energy[inner]).std()),
        texslope=float(np.log(energy[low_in].mean()) - np.log(energy[up_in].mean()))
        if up_in.any() and low_in.any() else 0.0)


def _mirror(g: np.ndarray, r: np.ndarray) -> float:
    """Correlation (-1..1) of the grey g (h, w) float32 in the top rows of region r (h, w) bool,
    column by column, with the rows just above the region mirrored about its top edge; 0 where
    fewer than 20 pixel pairs exist. Depth: up to 12 % of the photo's height."""
    h = r.shape[0]
    xs = np.flatnonzero(r.any(0))
    if len(xs) == 0:
        return 0.0
    tops = np.argmax(r, 0)[xs]
    depth = max(2, round(0.12 * h))
    d = np.arange(depth)[None, :]
    below_y, above_y = tops[:, None] + d, tops[:, None] - 1 - d
    ok = (above_y >= 0) & (below_y < h)
    xx = np.broadcast_to(xs[:, None], ok.shape)
    ok &= r[np.clip(below_y, 0, h - 1), xx] & ~r[np.clip(above_y, 0, h - 1), xx]
    if ok.sum() < 20:
        return 0.0
    a, b = g[below_y[ok], xx[ok]].astype(np.float64), g[above_y[ok], xx[ok]].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-9))


# Every feature a model may use: name -> its value from a region's cues. Heavy-tailed cues
# (texture, elongation, area) enter as logarithms, angles as a share of 90 deg.
FEATURES = {
    "high": lambda c: min(1.0, max(0.0, 1.0 - c.top / 0.08)),       # 1: touches the top, 0: below 8 % of it
    "top": lambda c: c.top, "centre": lambda c: c.centre, "bottom": lambda c: c.bottom,
    "width": lambda c: c.width, "log_elongation": lambda c: math.log(max(c.elongation, 1.0)),
    "axis": lambda c: c.axis / 90.0, "brightness": lambda c: c.brightness, "blue": lambda c: c.blue,
    "saturation": lambda c: c.saturation, "log_texture": lambda c: math.log(c.texture + 0.002),
    "coherence": lambda c: c.coherence, "streak": lambda c: c.streak / 90.0, "vstreak": lambda c: c.vstreak,
    "relbright": lambda c: c.relbright, "log_area": lambda c: math.log(c.area + 1e-4),
    "log_texture2": lambda c: math.log(c.texture2 + 0.002), "coherence2": lambda c: c.coherence2,
    "vstreak2": lambda c: c.vstreak2, "contrast": lambda c: c.contrast, "green": lambda c: c.green,
    "vslope": lambda c: c.vslope, "above": lambda c: c.above, "below": lambda c: c.below,
    "mirror": lambda c: c.mirror, "white": lambda c: c.white, "texvar": lambda c: c.texvar,
    "texslope": lambda c: c.texslope,
}


def feature_vector(c: RegionCues, names) -> np.ndarray:
    """(len(names),) float64: the named ``FEATURES`` of a region's cues."""
    return np.array([FEATURES[n](c) for n in names], np.float64)


@dataclass(frozen=True)
class RegionModel:
    """A multinomial logistic regression over standardised region features.

    features: F names of ``FEATURES``; mean, scale: (F,) float64 (x_std = (x - mean) / scale);
    classes:  K class codes (``regions.MOVING``); weights: (K, F) float64; bias: (K,) float64.
    The class probabilities are softmax(weights @ x_std + bias)."""
    features: tuple
    mean: np.ndarray
    scale: np.ndarray
    classes: tuple
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, c: RegionCues) -> dict[int, float]:
        """{class code: probability} of a region's cues (sums to 1)."""
        z = self.weights @ ((feature_vector(c, self.features) - self.mean) / self.scale) + self.bias
        p = np.exp(z - z.max())
        p /= p.sum()
        return {code: float(v) for code, v in zip(self.classes, p)}


def parse_model(card: dict, where: str = "region_kinds.json") -> RegionModel:
    """A ``RegionModel`` from its json card (as ``scripts/fit_region_kinds.py`` writes it);
    raises CineGANError naming what is wrong if the card is malformed."""
    def bad(why: str) -> CineGANError:
        return CineGANError(f"{where} is malformed ({why}); restore it from the repository or rerun "
                            f"scripts/fit_region_kinds.py")
    try:
        names = tuple(str(n) for n in card["features"])
        classes = tuple(NAMES_INV[str(n)] for n in card["classes"])
        mean, scale = (np.asarray(card[k], np.float64) for k in ("mean", "scale"))
        weights, bias = np.asarray(card["weights"], np.float64), np.asarray(card["bias"], np.float64)
    except (KeyError, TypeError, ValueError) as e:
        raise bad(f"{type(e).__name__}: {e}") from None
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise bad(f"unknown features {unknown}")
    if sorted(classes) != sorted(MOVING):
        raise bad(f"classes {card['classes']} are not the four moving classes")
    F, K = len(names), len(classes)
    if mean.shape != (F,) or scale.shape != (F,) or weights.shape != (K, F) or bias.shape != (K,):
        raise bad(f"shapes mean {mean.shape}, scale {scale.shape}, weights {weights.shape}, bias {bias.shape} "
                  f"do not fit {F} features and {K} classes")
    if not (np.isfinite(mean).all() and np.isfinite(weights).all() and np.isfinite(bias).all()
            and np.isfinite(scale).all() and (scale > 0).all()):
        raise bad("non-finite numbers or a scale <= 0")
    return RegionModel(names, mean, scale, classes, weights, bias)


_MODEL: list = []
_LOCK = threading.Lock()


def load_model(path: str | None = None) -> RegionModel:
    """The shipped region classifier (``MODEL_PATH``), loaded once per process (another
    path: loaded each time, not cached)."""
    if path is None and _MODEL:
        return _MODEL[0]
    where = path or MODEL_PATH
    try:
        with open(where, encoding="utf-8") as fh:
            card = json.load(fh)
    except FileNotFoundError:
        raise CineGANError(f"{where} is missing: restore it from the repository or run "
                           f"scripts/fit_region_kinds.py") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CineGANError(f"{where} cannot be read ({e}); restore it from the repository") from None
    model = parse_model(card, os.path.basename(where))
    if path is None:
        with _LOCK:
            if not _MODEL:
                _MODEL.append(model)
    return model


def scores(c: RegionCues) -> dict[int, float]:
    """{class code: probability} per moving class for a region's cues (higher = more likely;
    ``classify`` takes the largest), from the shipped learned classifier (``load_model``)."""
    return load_model().probabilities(c)


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
    """``classify``'s class code with what decided it: "parser" or "cues"."""
    region = np.asarray(region_mask, bool)
    if not region.any():
        raise ValueError("classify needs a region with at least one pixel")
    if probs is not None:
        p = getattr(probs, "probs", probs)
        if resolved(p, region) >= MIN_RESOLVED:
            return from_probs(p, region)[0], "parser"
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
