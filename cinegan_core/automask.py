"""Automatic sky and water mask, from the photo alone (no weights).

Pipeline, at a working size of about WORK_SIDE px:

1. cues per pixel (CIELAB colour, local texture, gradient orientation,
   position): how sky-like and how water-like each pixel looks, with
   photo-adaptive colour statistics (the sky's own colours are learned from
   the most confident sky pixels, water is compared with them because it
   reflects the sky);
2. a skyline: per column, the boundary between sky above and the rest below,
   chosen jointly for all columns by dynamic programming (each column agrees
   with the sky cue, neighbouring columns move the boundary little);
3. graph-cut refinement (OpenCV's GrabCut) of sky and of water, initialised
   from 1 and 2, which snaps the boundary to colour edges;
4. connectivity and clean-up: sky must reach the top of the photo, water
   must lie below the skyline; specks are removed, small holes filled.

The result is a label map: 0 = frozen, 1 = sky, 2 = water (``mask.REGIONS``).
``MaskPredictor`` is the interface; a learned predictor (for example the
authors' DatasetGAN classifiers, when weights exist) can stand in for
``HeuristicMasker`` with the same call.
"""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from .mask import FROZEN, SKY, WATER

WORK_SIDE = 320            # px, longest side of the working image
WATERLINE_STIFFNESS = 2.5  # DP cost per row of change between columns: shores are mostly level


class MaskPredictor(Protocol):
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 photo -> (H, W) uint8 labels (0 frozen, 1 sky, 2 water)."""


def _small(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)


def _norm01(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


class Cues:
    """Per-pixel measurements of a small photo (all (h, w) float32)."""

    def __init__(self, rgb: np.ndarray):
        f = rgb.astype(np.float32) / 255.0
        lab = cv2.cvtColor(f, cv2.COLOR_RGB2Lab)
        self.lab = lab
        self.L, self.a, self.b = lab[..., 0], lab[..., 1], lab[..., 2]
        self.h, self.w = self.L.shape
        L = cv2.GaussianBlur(self.L, (0, 0), 0.8)
        gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3) / 8
        k = max(3, (min(self.h, self.w) // 60) | 1)
        self.grad = cv2.blur(np.hypot(gx, gy), (k, k))                   # L units per px
        ax, ay = cv2.blur(np.abs(gx), (k, k)), cv2.blur(np.abs(gy), (k, k))
        self.horizontal = (ay - ax) / (ay + ax + 0.05)                  # +1: horizontal streaks (waves)
        self.chroma = np.hypot(self.a, self.b)
        self.y = np.repeat(np.linspace(0.0, 1.0, self.h, dtype=np.float32)[:, None], self.w, 1)
        lo, hi = np.percentile(self.L, [5, 95])
        self.bright = _norm01(self.L, lo, max(hi, lo + 1))               # 0 darkest .. 1 brightest
        self.smooth = np.exp(-self.grad / max(0.6, float(np.median(self.grad)) * 0.8))
        self.green = _norm01(-self.a, 2, 12) * _norm01(self.b, 0, 15)    # vegetation
        self.blue = _norm01(-self.b, 0, 25)

    def sky_colour_prior(self) -> np.ndarray:
        """Generic sky colours: blue, bright and neutral (cloud, overcast), or warm and
        bright (sunset); not vegetation."""
        neutral = _norm01(self.L, 35, 75) * (1 - _norm01(self.chroma, 8, 30))
        sunset = self.bright * _norm01(self.a + self.b, 10, 40) * (1 - self.green)
        return np.clip(np.maximum.reduce([self.blue, neutral, sunset]) - self.green, 0, 1)


def _colour_similarity(lab: np.ndarray, sample: np.ndarray, scale: float = 12.0,
                       lightness_weight: float = 1.0) -> np.ndarray:
    """How close each pixel's colour is to its nearest of a few representative
    colours of `sample` ((n, 3) Lab), in [0, 1]. lightness_weight < 1 forgives
    differences in L* (a reflection is a darker copy of what it reflects)."""
    if len(sample) == 0:
        return np.zeros(lab.shape[:2], np.float32)
    k = min(6, len(sample))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    wts = np.array([lightness_weight, 1.0, 1.0], np.float32)
    _, _, centres = cv2.kmeans((sample * wts).astype(np.float32), k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    flat = lab.reshape(-1, 3) * wts
    d = np.min(((flat[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return np.exp(-d / (2 * scale ** 2)).reshape(lab.shape[:2]).astype(np.float32)


def skyline(score: np.ndarray, jump_cost: float = 0.6) -> np.ndarray:
    """Per column x, the row b(x) (0..h) such that rows < b(x) are sky.

    Minimises, jointly over columns, the disagreement with `score` (h, w) in
    [0, 1] (sky above pays 1 - score, the rest pays score) plus jump_cost per
    row of change between neighbouring columns (dynamic programming; the
    min-convolution with jump_cost * |db| is an L1 distance transform)."""
    h, w = score.shape
    s = score.astype(np.float64)
    above = np.vstack([np.zeros((1, w)), np.cumsum(1 - s, 0)])          # rows < b as sky
    below = np.vstack([np.cumsum(s[::-1], 0)[::-1], np.zeros((1, w))])  # rows >= b as not sky
    unary = above + below                                                # (h+1, w)
    ramp = jump_cost * np.arange(h + 1, dtype=np.float64)
    accs = np.empty((h + 1, w))
    acc = unary[:, 0]
    accs[:, 0] = acc
    for x in range(1, w):
        fwd = np.minimum.accumulate(acc - ramp) + ramp
        bwd = (np.minimum.accumulate((acc + ramp)[::-1]) - ramp[::-1])[::-1]
        acc = np.minimum(fwd, bwd) + unary[:, x]
        accs[:, x] = acc
    b = np.empty(w, np.int32)
    b[-1] = int(np.argmin(acc))
    for x in range(w - 1, 0, -1):
        b[x - 1] = int(np.argmin(accs[:, x - 1] + jump_cost * np.abs(np.arange(h + 1) - b[x])))
    return b


def _grabcut(rgb: np.ndarray, sure_fg, likely_fg, sure_bg, iterations: int = 4) -> np.ndarray:
    """Binary graph cut initialised from boolean maps; returns (h, w) bool foreground."""
    init = np.full(rgb.shape[:2], cv2.GC_PR_BGD, np.uint8)
    init[likely_fg] = cv2.GC_PR_FGD
    init[sure_fg] = cv2.GC_FGD
    init[sure_bg] = cv2.GC_BGD
    if not (init == cv2.GC_FGD).any() and not (init == cv2.GC_PR_FGD).any():
        return np.zeros(rgb.shape[:2], bool)
    if not ((init == cv2.GC_BGD) | (init == cv2.GC_PR_BGD)).any():
        return np.ones(rgb.shape[:2], bool)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), init, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # too few samples of a class for its colour model
        return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)


def _components(mask: np.ndarray):
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    return n, lab, stats


def _clean(mask: np.ndarray, min_frac: float = 0.004, hole_frac: float = 0.002) -> np.ndarray:
    """Drop specks and fill small holes (fractions of the image area)."""
    area = mask.size
    n, lab, stats = _components(mask)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_frac * area
    out = keep[lab]
    n, lab, stats = _components(~out)
    fill = np.zeros(n, bool)
    fill[1:] = stats[1:, cv2.CC_STAT_AREA] < hole_frac * area
    return out | fill[lab]


def auto_labels(rgb: np.ndarray) -> np.ndarray:
    """Label sky and water in a landscape photo.

    rgb: (H, W, 3) uint8. Returns (H, W) uint8: 0 frozen, 1 sky, 2 water.
    """
    H, W = rgb.shape[:2]
    cv2.setRNGSeed(12345)  # k-means and GrabCut draw random numbers: same photo, same mask
    small = _small(rgb, WORK_SIDE)
    c = Cues(small)
    h, w = c.h, c.w

    # 1. sky: generic cue -> skyline -> the photo's own sky colours -> graph cut
    band = max(2, h // 12)
    top_like = _colour_similarity(c.lab, c.lab[:band].reshape(-1, 3), 10.0)
    bottom_like = _colour_similarity(c.lab, c.lab[-band:].reshape(-1, 3), 10.0)
    top_vs_bottom = (top_like + 0.05) / (top_like + bottom_like + 0.1)  # 1: like the top edge, 0: like the bottom
    cue = np.clip(0.25 * c.sky_colour_prior() + 0.2 * c.smooth + 0.15 * c.bright + 0.2 * (1 - c.y)
                  + 0.2 * top_vs_bottom - 0.4 * c.green, 0, 1)
    line = skyline(cue)
    above = c.y * (h - 1) < line[None, :]
    sky_sample = c.lab[above & (cue > np.quantile(cue[above], 0.5))] if above.sum() > 20 else np.empty((0, 3))
    like_sky = _colour_similarity(c.lab, sky_sample)
    margin = max(2, h // 40)
    rows = np.arange(h)[:, None]
    deep_above = rows < (line[None, :] - margin)
    deep_below = rows >= (line[None, :] + margin)
    sky = _grabcut(small, deep_above & (cue > 0.6), above,
                   deep_below & (like_sky < 0.2) & (c.smooth < 0.5))
    sky &= ~(deep_below & (like_sky < 0.5))
    n, lab, stats = _components(sky)
    touches_top = np.zeros(n, bool)
    touches_top[np.unique(lab[0][sky[0]])] = True
    sky = touches_top[lab] & sky
    sky = _clean(sky)
    if sky.any() and float(c.smooth[sky].mean()) < 0.25:
        sky[:] = False  # "sky" as busy as foliage: no sky in this photo

    # 2. water: below the sky, reflects it, smooth or horizontally streaked, low in the frame
    sky_line = np.where(sky.any(0), h - 1 - np.argmax(sky[::-1], 0), -1)
    below_sky = rows > sky_line[None, :]
    reflect = (_colour_similarity(c.lab, c.lab[sky], 10.0, 0.3) if sky.sum() > 20
               else np.zeros_like(like_sky))
    lit = _norm01(c.L, 8, 22)                                    # silhouettes and shadows are not water
    cool = _norm01(-0.7 * c.a - 0.5 * (c.b - 6), 0, 10)          # cyan, teal, blue, grey-green: not yellow or red
    colour = np.maximum(reflect, cool) * lit * (1 - c.green)
    wcue = colour * np.clip(0.35 + 0.25 * _norm01(c.horizontal, -0.1, 0.4) + 0.15 * c.smooth
                            + 0.35 * c.y, 0, 1) * below_sky
    # the stretch of the photo that continues the bottom edge's colours: if it looks like
    # water on the whole (cool or reflecting, streaked), all of it counts as water
    base = bottom_like * below_sky
    region = rows >= (h - skyline(base[::-1], jump_cost=WATERLINE_STIFFNESS))[None, :]
    if region.sum() > 0.05 * h * w:
        looks_wet = float(colour[region].mean()) + 0.5 * float(np.clip(c.horizontal[region].mean(), 0, 1))
        if looks_wet > 0.35:
            wcue = np.maximum(wcue, 0.9 * base * lit * (1 - c.green))
    wline = h - skyline(wcue[::-1], jump_cost=WATERLINE_STIFFNESS)  # rows >= wline are water
    wb = rows >= wline[None, :]
    deep_in = rows >= (wline[None, :] + margin)
    water = _grabcut(small, deep_in & (wcue > 0.45) & below_sky, wb & below_sky,
                     ~below_sky | ((rows < wline[None, :] - margin) & (wcue < 0.3)))
    water &= below_sky & ~sky & (colour > 0.15) & (rows >= wline[None, :] - margin)
    water = _clean(water)

    labels = np.zeros((h, w), np.uint8)
    labels[sky] = SKY
    labels[water] = WATER
    if (h, w) != (H, W):
        labels = _upsample_labels(labels, (W, H))
    return labels


def _upsample_labels(labels: np.ndarray, size) -> np.ndarray:
    """Smooth upsampling of a small label map: each class's indicator is resized
    bilinearly and the largest wins (no blocky staircase edges)."""
    W, H = size
    stack = np.stack([cv2.resize((labels == k).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
                      for k in (FROZEN, SKY, WATER)])
    return np.argmax(stack, 0).astype(np.uint8)
