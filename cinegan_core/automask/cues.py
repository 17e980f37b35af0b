"""Measurements the automatic mask is built from (no weights, no random numbers).

Two working sizes of the photo:

* the *fine* image (long side ``FINE_SIDE`` px), where thin structures,
  crisp edges and texture are measured and where the final boundary is drawn;
* the *work* image (long side ``WORK_SIDE`` px), where regions are reasoned
  about (skyline, waterline, reflection symmetry).

All maps are float32 arrays; lightness L* is in 0..100 (CIELAB), gradients in
L* units per fine pixel. Everything here is deterministic and keeps no state
between calls, so concurrent calls from threads cannot disturb each other.
"""
from __future__ import annotations

import cv2
import numpy as np

FINE_SIDE = 1024   # px, long side of the fine image
WORK_SIDE = 384    # px, long side of the work image


def resize_to(img: np.ndarray, side: int, interpolation=cv2.INTER_AREA) -> np.ndarray:
    """Resize so that the long side is `side` px (never enlarges)."""
    h, w = img.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(8, round(w * s)), max(8, round(h * s))), interpolation=interpolation)


def ramp(x, lo: float, hi: float):
    """0 below lo, 1 above hi, linear between (works on arrays and floats); where hi <= lo
    (e.g. bounds taken from an all-black photo) a step at lo: 1 above it, 0 elsewhere."""
    x = np.asarray(x, np.float32)
    if hi <= lo:
        return (x > lo).astype(np.float32)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def box(x: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k window (reflected borders)."""
    k = max(1, int(k))
    return cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT)


def gradient(L: np.ndarray, sigma: float):
    """(gx, gy) of L smoothed with a Gaussian of `sigma` px, in L units per px."""
    Ls = cv2.GaussianBlur(L, (0, 0), sigma) if sigma > 0 else L
    gx = cv2.Sobel(Ls, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(Ls, cv2.CV_32F, 0, 1, ksize=3) / 8
    return gx, gy


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-aware smoothing of `src` (h, w) guided by the grey image `guide` (h, w)
    (He, Sun and Tang, "Guided image filtering", 2010): the output follows the
    guide's edges, so a coarse probability map snaps to the photo's boundaries."""
    k = 2 * radius + 1
    mI, mp = box(guide, k), box(src, k)
    cov = box(guide * src, k) - mI * mp
    var = box(guide * guide, k) - mI * mI
    a = cov / (var + eps)
    b = mp - a * mI
    return box(a, k) * guide + box(b, k)


def components(mask: np.ndarray, connectivity: int = 4):
    """(n, labels, stats) of the connected components of a boolean mask."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity)
    return n, lab, stats


def keep_touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected components of `mask` that contain at least one `seeds` pixel."""
    if not mask.any():
        return mask.copy()
    n, lab, _ = components(mask)
    keep = np.zeros(n, bool)
    keep[np.unique(lab[seeds & mask])] = True
    keep[0] = False
    return keep[lab]


def drop_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Remove connected components smaller than min_px pixels."""
    if not mask.any():
        return mask.copy()
    n, lab, stats = components(mask)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_px
    keep[0] = False
    return keep[lab]


def fill_holes(mask: np.ndarray, max_px: int, allowed: np.ndarray | None = None,
               allowed_share: float = 1.0) -> np.ndarray:
    """Fill holes of `mask` smaller than max_px pixels that do not touch the border
    (and, when `allowed` is given, of which at least `allowed_share` lies inside it)."""
    n, lab, stats = components(~mask)
    fill = stats[:, cv2.CC_STAT_AREA] < max_px
    fill[0] = False
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    fill[border] = False
    if allowed is not None:
        inside = np.bincount(lab.ravel(), weights=allowed.ravel().astype(np.float64), minlength=n)
        fill &= inside >= allowed_share * stats[:, cv2.CC_STAT_AREA]
    return mask | fill[lab]


def disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def crisp_edges(p) -> np.ndarray:
    """(hf, wf) bool: where a PhotoViews' fine gradient stands well above its coarse one (a sharp
    edge: a cable, a branch, a roof line; not the soft edge of a cloud)."""
    return p.g_fine > 1.8 * p.g_coarse + 0.5


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    return cv2.dilate(mask.astype(np.uint8), disk(r)) > 0


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    return cv2.erode(mask.astype(np.uint8), disk(r), borderType=cv2.BORDER_REPLICATE) > 0


class ColourModel:
    """A smoothed 3-D histogram of CIELAB colours: a deterministic, fast stand-in
    for the Gaussian mixtures of GrabCut. `likelihood(lab)` is the density of
    each pixel's colour under the model (bins of BIN_L x BIN_AB units)."""

    BIN_L, BIN_AB = 6.25, 8.0
    SHAPE = (17, 17, 17)

    def __init__(self, samples: np.ndarray, lightness_weight: float = 1.0):
        self.lw = lightness_weight
        hist = np.zeros(self.SHAPE, np.float32)
        if len(samples):
            flat = np.ravel_multi_index(self._index(samples), self.SHAPE)
            hist = np.bincount(flat.ravel(), minlength=hist.size).reshape(self.SHAPE).astype(np.float32)
            hist = _smooth3(_smooth3(hist))
            hist /= hist.sum()
        self.hist = hist
        self.n = len(samples)

    def _index(self, lab: np.ndarray):
        L = np.clip(lab[..., 0] * self.lw / self.BIN_L, 0, self.SHAPE[0] - 1).astype(np.int32)
        a = np.clip(lab[..., 1] / self.BIN_AB + self.SHAPE[1] // 2, 0, self.SHAPE[1] - 1).astype(np.int32)
        b = np.clip(lab[..., 2] / self.BIN_AB + self.SHAPE[2] // 2, 0, self.SHAPE[2] - 1).astype(np.int32)
        return L, a, b

    def likelihood(self, lab: np.ndarray) -> np.ndarray:
        return self.hist[self._index(lab)]


def _smooth3(h: np.ndarray) -> np.ndarray:
    """[1, 2, 1] / 4 smoothing along each axis of a 3-D array (zero outside)."""
    for ax in range(3):
        p = np.pad(h, [(1, 1) if i == ax else (0, 0) for i in range(3)])
        sl = [slice(None)] * 3
        lo, mid, hi = (tuple(sl[:ax] + [slice(o, o + h.shape[ax])] + sl[ax + 1:]) for o in (0, 1, 2))
        h = (p[lo] + 2 * p[mid] + p[hi]) / 4
    return h


def posterior(fg: ColourModel, bg: ColourModel, lab: np.ndarray, prior: float = 0.5) -> np.ndarray:
    """P(fg | colour) for two colour models, in [0, 1] (0.5 where neither knows the colour)."""
    pf, pb = fg.likelihood(lab) * prior, bg.likelihood(lab) * (1 - prior)
    return ((pf + 1e-6) / (pf + pb + 2e-6)).astype(np.float32)


class PhotoViews:
    """Views of the photo at the fine and the work size, with the measurements shared by
    the sky and the water finders.

    Attributes (fine size (hf, wf) unless named *_w, work size (h, w)):
      rgb_f, lab_f, L_f     fine image, CIELAB, lightness
      g_fine, g_coarse      gradient magnitude at sigma 0.7 and 2.5 px
      texture_f             dense texture: the local minimum of the local mean
                            gradient (isolated edges and lines vanish, foliage,
                            rock and gravel remain), L units per px
      rgb, lab, L, a, b     work image
      texture               texture_f at the work size
      chroma, y             chroma, row position 0 (top) .. 1 (bottom)
      colourful             False for black-and-white and single-tone photos
    """

    def __init__(self, rgb: np.ndarray):
        self.H, self.W = rgb.shape[:2]
        self.rgb_f = resize_to(rgb, FINE_SIDE)
        f = self.rgb_f.astype(np.float32) / 255.0
        self.lab_f = cv2.cvtColor(f, cv2.COLOR_RGB2Lab)
        self.L_f = np.ascontiguousarray(self.lab_f[..., 0])
        self.hf, self.wf = self.L_f.shape
        self.unit = max(self.hf, self.wf) / 1024.0   # fine pixels per 1/1024 of the long side
        gx, gy = gradient(self.L_f, 0.7)
        self.gx_f, self.gy_f = gx, gy
        self.g_fine = np.hypot(gx, gy)
        cx, cy = gradient(self.L_f, 2.5)
        self.g_coarse = np.hypot(cx, cy)
        k = max(3, round(9 * self.unit) | 1)
        self.texture_f = cv2.erode(box(self.g_fine, k), np.ones((k, k), np.uint8), borderType=cv2.BORDER_REPLICATE)

        self.rgb = resize_to(self.rgb_f, WORK_SIDE)
        self.h, self.w = self.rgb.shape[:2]
        self.lab = cv2.resize(self.lab_f, (self.w, self.h), interpolation=cv2.INTER_AREA)
        self.L, self.a, self.b = (np.ascontiguousarray(self.lab[..., i]) for i in range(3))
        self.texture = cv2.resize(self.texture_f, (self.w, self.h), interpolation=cv2.INTER_AREA)
        self.chroma = np.hypot(self.a, self.b)
        self.y = np.repeat(np.linspace(0.0, 1.0, self.h, dtype=np.float32)[:, None], self.w, 1)
        self.rows = np.arange(self.h)[:, None]
        self.colourful = self._colourful()
        self._standout = {}

    def _colourful(self) -> bool:
        """Whether colour tells regions apart: False for greyscale photos and for
        toned ones (sepia, duotone), where all pixels share one hue."""
        ab = np.stack([self.a.ravel(), self.b.ravel()], 1)
        if np.percentile(self.chroma, 95) < 6:
            return False
        centred = ab - ab.mean(0)
        spread = np.linalg.eigvalsh(np.cov(centred.T))
        return bool(np.sqrt(max(float(spread[0]), 0.0)) > 2.5 or np.percentile(self.chroma, 95) > 25)

    def standout(self, window: float = 21, colour: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """How much each fine pixel stands out from its surroundings: the photo minus its
        median over a window of `window`/1024 of the long side (the median keeps edges
        and large shapes, so a step edge or a cloud scores ~0, a cable, a mast or a bird
        up to about half the window wide scores its contrast). Returns (signed lightness
        difference, colour distance), L units; computed once per photo and window.
        colour=False measures lightness only (three times faster): the distance is |dL|."""
        k = max(5, round(window * self.unit) | 1)
        if (k, colour) not in self._standout:
            lab = self.lab_f
            if colour:
                q = np.stack([lab[..., 0] * 2.55, lab[..., 1] * 2 + 128, lab[..., 2] * 2 + 128], -1)
            else:
                q = lab[..., 0] * 2.55
            med = cv2.medianBlur(np.clip(q, 0, 255).astype(np.uint8), k).astype(np.float32)
            d = q - med
            if colour:
                dL = d[..., 0] / 2.55
                dist = np.sqrt(dL ** 2 + (d[..., 1] / 2) ** 2 + (d[..., 2] / 2) ** 2)
            else:
                dL = d / 2.55
                dist = np.abs(dL)
            self._standout[(k, colour)] = (dL, dist)
        return self._standout[(k, colour)]

    def to_fine(self, x: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
        return cv2.resize(x.astype(np.float32), (self.wf, self.hf), interpolation=interpolation)

    def to_work(self, x: np.ndarray) -> np.ndarray:
        return cv2.resize(x.astype(np.float32), (self.w, self.h), interpolation=cv2.INTER_AREA)
