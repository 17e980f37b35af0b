"""Move the detail, not the gradient: a moving region split into a smooth base and its detail.

A sky is a brightness gradient (darker at the zenith, a glow at the horizon, a
vignette) with detail on it (clouds, haze, texture). Advected whole, the
gradient slides: a darker band crosses a clear sky mid-loop, and where content
comes out from behind a frozen tree a light or dark halo opens beside it. So a
moving region is split into

* its **base**: a weighted local linear fit of the photo over the region's own
  pixels (``BaseFit``: at every point the plane a + b x + c y that best fits the
  region's pixels under a Gaussian window of ``BASE_WINDOW`` of the long side),
  which stays where it is; frozen pixels have weight 0, so they never bleed into
  it, and a linear gradient is reproduced exactly, right up to a mask edge;
* its **detail**: photo - base, which the engine moves.

Every frame is base + moved detail inside the region; frozen pixels are never
touched (``composite.Rebase`` applies this for both engines).

Falling water is a veil: thin curtains and strands of white water over the rock
they fall down, which shows through them. Moved whole, the rock streams down with
the water and melts. So over a fall the base also keeps what lies behind the veil
(``behind_veil``): the detail's smooth lower envelope (a grey opening ``VEIL_WIDTH`` of
the long side wide: the dark rock between and behind strands narrower than that), and
only the bright water above it moves.

Beside a frozen thing the base is not enough: a halo or glow hugging it (a sharpening
or dehaze halo round a tree, haze lit along a cliff) is narrower than the base's window,
so it is detail and slides off with the sky, opening a pale wedge where it was. So where
content is carried along (drifting or flowing, not rippling in place, not falling), the
base also holds the detail's smooth part near the region's frozen edges (``edge_hold``,
``EdgeFit``): a local linear fit of the detail against the distance to the edge, over a
Gaussian window of ``EDGE_SCALE`` of the long side (the scale ``detail_level`` calls coarse),
fully at the edge and fading out over ``EDGE_REACH``; only the fine detail (cloud edges,
ripples, grain) moves there. On the gradient test with a glow round the tower
(bench/quality.py) the low-frequency change beside the tower falls from 3.38 to 0.72 grey
levels (bar 0.8; 0.48 with the flow line's mean taken off, below); at a reach of 0.03 it was
1.3 (the glow outlasts it), and a plain low-pass in place of the fit kept less of the glow's
rise at the edge (1.8 at 0.03). The price: within
the reach a cloud's coarse shape stays too, only its fine detail passes a frozen edge (the
reference samples' measured speed along their own motion: 0004317 0.912 -> 0.902, the others
unchanged to 0.003).

What the hold keeps is what differs from the rest of the same flow line (``AlongFlow``): the
detail's mean along the motion, over ``EDGE_LINE`` of the long side each way and over the points
beyond the hold's reach, is taken off before the fit. A glow hugging a tower differs from the sky
farther along the line and is held; a band that runs along the motion (a hazy horizon above a
skyline the sky drifts along, the part of a gradient the base's window leaves) is the same
everywhere on the line and moves, which shows nothing. Held whole, such a band is held by a weight
that changes along the motion where the edge is jagged (a building's top, the foot of a tower), so
the band's share that is not held came out of the edge as a smudge: on a city skyline drifting
past a tower (a held-out photo) a dark patch and a pale streak beside the tower mid-loop (low-pass
change -5.7 / +6.8 grey levels there; -3.2 / +2.1 with the line's mean taken off, -2.7 / +2.6 with
no hold at all), while the bench's glow round a tower stays held (bench/quality.py).

Where a region has almost no detail nothing visible can move: ``detail_level``
measures it and ``featureless_warnings`` says so.

The window trades the two things a base can get wrong. What the base holds stays
put, and a cinemagraph's structure at the window's scale (a cloud bank, a mountain
mirrored in a lake) stays with it: cinemetrics then measures less drift, since its
estimate compares whole frames (exact advection of the detail alone over the official
samples' motion: speed 0.91 to 1.03 of the field at a window of 0.3, against 0.93 to
1.04 for the whole photo; bench/quality.py --exact). A wider window keeps less, but
lets more of a glow or gradient's curvature move (the gradient test of
bench/quality.py: low-frequency change 0.41 / 0.48 / 0.56 / 0.64 grey levels over the
sky at windows 0.3 / 0.4 / 0.5 / 0.6, bar 0.6). 0.4 keeps a margin on both.

The fit runs on a coarse grid (``COARSE_SIDE`` cells on the long side, exact
moments: every pixel's own coordinates enter the sums) and its result is
interpolated bilinearly to the full size: the base is smooth by construction.
Torch throughout, so it runs on the engine's device.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

BASE_WINDOW = 0.4        # the fit's window, fraction of the long side (Gaussian sigma = window / 4)
COARSE_SIDE = 128        # cells on the long side of the grid the fit is computed on
RIDGE = 1e-6             # regularisation of the slopes, relative to a full window's second moment
FEATURELESS_LEVEL = 1.5  # grey levels (RMS of the fine detail) below which a region is "nearly featureless"
MIN_REGION_SHARE = 0.01  # regions smaller than this share of the photo are not judged
LUMA = (0.299, 0.587, 0.114)   # weights of R, G, B in the grey (luma) the detail is measured in
VEIL_WIDTH = 0.02        # fraction of the long side: water strands narrower than this across a fall move over
                         # what lies behind them, which stays; wider white water moves by its texture alone
EDGE_SCALE = 0.01        # fraction of the long side: Gaussian sigma of the smooth detail held beside frozen things
EDGE_REACH = 0.05        # fraction of the long side: from a frozen edge, the distance over which that hold fades out
EDGE_LINE = 0.1          # fraction of the long side: each way along the flow, how far the hold compares what the
                         # flow line shows away from frozen edges (``AlongFlow``)


def _blur(maps: torch.Tensor, sigma: float, *, truncate: float = 4.0, replicate: bool = False) -> torch.Tensor:
    """Separable Gaussian blur of (1, C, h, w), sigma in px, cut at truncate sigmas; zeros beyond the
    border (the fit then simply has no pixels there), or the border pixels repeated (``replicate``)."""
    r = max(1, math.ceil(truncate * sigma))
    x = torch.arange(-r, r + 1, dtype=maps.dtype, device=maps.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = maps.shape[1]
    if replicate:
        out = F.conv2d(F.pad(maps, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(F.pad(out, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    out = F.conv2d(maps, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, r), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(r, 0), groups=c)


def _lerp_matrix(n: int, m: int, device) -> torch.Tensor:
    """(n, m) float32: linear interpolation from m cell centres to n pixels (cells of n / m px),
    extrapolated linearly beyond the outermost centres (a plane stays a plane up to the border)."""
    u = (torch.arange(n, dtype=torch.float64, device=device) + 0.5) * m / n - 0.5
    i0 = u.floor().clamp(0, m - 2).long()
    f = u - i0
    out = torch.zeros(n, m, dtype=torch.float64, device=device)
    rows = torch.arange(n, device=device)
    out[rows, i0] = 1.0 - f
    out[rows, i0 + 1] = f
    return out.float()


class BaseFit:
    """The smooth base of images over one region (weighted local linear fit).

    mask:   (H, W) bool numpy array or tensor, True = the region (moving pixels).
    window: the fit's window as a fraction of the long side (Gaussian sigma = window / 4).
    device: torch device.

    The region's geometric moments and the per-cell 3 x 3 normal equations are
    computed once; ``__call__`` fits an image: (1, C, H, W) float -> (1, C, H, W)
    float32 base (defined everywhere; meaningful on and near the region)."""

    def __init__(self, mask, *, window: float | None = None, coarse_side: int = COARSE_SIDE,
                 device: str | torch.device = "cpu"):
        window = BASE_WINDOW if window is None else window
        m = torch.as_tensor(np.asarray(mask) if not torch.is_tensor(mask) else mask).to(device)
        H, W = m.shape
        self.size, self.device = (H, W), torch.device(device)
        L = max(H, W)
        cell = max(1.0, L / coarse_side)
        self.coarse = (max(2, math.ceil(H / cell)), max(2, math.ceil(W / cell)))
        h, w = self.coarse
        self.sigma = window * L / 4 / (L / max(h, w))            # in coarse cells
        # coordinates normalised by the long side, centred on the image (well conditioned)
        ys = (torch.arange(H, dtype=torch.float64, device=self.device) - (H - 1) / 2) / L
        xs = (torch.arange(W, dtype=torch.float64, device=self.device) - (W - 1) / 2) / L
        self.x, self.y = xs.view(1, 1, 1, W), ys.view(1, 1, H, 1)
        self.w = m.to(torch.float64).view(1, 1, H, W)
        x, y, wt = self.x, self.y, self.w
        self.x32, self.y32, self.w32 = x.float(), y.float(), wt.float()
        geo = torch.cat([wt, wt * x, wt * y, wt * x * x, wt * x * y, wt * y * y], 1)
        s1, sx, sy, sxx, sxy, syy = self._moments(geo).unbind(1)          # (1, h, w) each
        # cell centres (same normalisation), moments re-centred on them
        cy = ((torch.arange(h, dtype=torch.float64, device=self.device) + 0.5) * H / h - 0.5 - (H - 1) / 2) / L
        cx = ((torch.arange(w, dtype=torch.float64, device=self.device) + 0.5) * W / w - 0.5 - (W - 1) / 2) / L
        cx, cy = cx.view(1, 1, w).expand(1, h, w), cy.view(1, h, 1).expand(1, h, w)
        self.cx, self.cy = cx, cy
        mxx = sxx - 2 * cx * sx + cx * cx * s1
        mxy = sxy - cx * sy - cy * sx + cx * cy * s1
        myy = syy - 2 * cy * sy + cy * cy * s1
        mx, my = sx - cx * s1, sy - cy * s1
        ridge = RIDGE * s1 * (window / 4) ** 2
        A = torch.stack([torch.stack([s1, mx, my], -1), torch.stack([mx, mxx + ridge, mxy], -1),
                         torch.stack([my, mxy, myy + ridge], -1)], -2)[0]           # (h, w, 3, 3)
        self.ok = (s1[0] > 1e-9 * float(s1.max().clamp_min(1e-30)))
        eye = torch.eye(3, dtype=torch.float64, device=self.device)
        A = torch.where(self.ok[..., None, None], A, eye)
        # the base at a cell centre is the first row of A^-1 applied to the image moments
        self.row = torch.linalg.solve(A, eye[0].expand(h, w, 3).unsqueeze(-1))[..., 0]   # (h, w, 3)
        self.ry, self.rx = _lerp_matrix(H, h, self.device), _lerp_matrix(W, w, self.device)

    def _moments(self, maps: torch.Tensor) -> torch.Tensor:
        """Sums of full-size maps (1, C, H, W) per coarse cell, Gaussian-windowed: (1, C, h, w)."""
        H, W = self.size
        h, w = self.coarse
        sums = F.interpolate(maps, size=(h, w), mode="area").double() * (H * W / (h * w))
        return _blur(sums, self.sigma)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """image: (1, C, H, W) float (values outside the region are ignored) -> base (1, C, H, W) float32."""
        C = image.shape[1]
        # pooled in float32 (only first moments: little cancellation), windowed in float64
        img = image.to(self.device, torch.float32) * self.w32
        m = self._moments(torch.cat([img, img * self.x32, img * self.y32], 1))   # (1, 3C, h, w)
        si, six, siy = m[:, :C], m[:, C:2 * C], m[:, 2 * C:]
        mix, miy = six - self.cx * si, siy - self.cy * si                          # re-centred
        r = self.row.permute(2, 0, 1)[:, None]                                     # (3, 1, h, w)
        a = r[0] * si + r[1] * mix + r[2] * miy                                    # (1, C, h, w)
        a = torch.where(self.ok, a, torch.zeros_like(a))[0].float()              # (C, h, w)
        return torch.matmul(torch.matmul(self.ry, a), self.rx.t())[None]


def edge_hold(moving: np.ndarray, carried: np.ndarray, *, reach: float | None = None) -> np.ndarray:
    """How much of the detail's smooth part stays put beside frozen things (module docstring).

    moving:  (H, W) bool, the region (True = moves; False = frozen: its edge is what is held against).
    carried: (H, W) bool, where content is carried along (drifting or flowing); elsewhere nothing is held.
    reach:   fraction of the long side over which the hold fades (default ``EDGE_REACH``).
    Returns (H, W) float32 in [0, 1]: on the carried region 1 at a frozen edge, a raised cosine down
    to 0 at the reach (the image border is not a frozen edge); 1 on the frozen pixels within the reach
    of it (what an engine samples there is the region's edge carried inwards, ``composite.fill_outside``:
    its held part must not travel out from behind the frozen thing either); 0 elsewhere."""
    import cv2
    reach_px = (EDGE_REACH if reach is None else reach) * max(moving.shape)
    region = moving & carried
    if not region.any() or moving.all() or reach_px <= 0:
        return np.zeros(moving.shape, np.float32)
    d = cv2.distanceTransform(moving.astype(np.uint8), cv2.DIST_L2, 5)
    w = 0.5 * (1.0 + np.cos(np.pi * np.clip(d / reach_px, 0.0, 1.0))) * region
    behind = ~moving & (cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5) <= reach_px)
    return np.where(behind, 1.0, w).astype(np.float32)


class AlongFlow:
    """The mean of an image along each point's flow line, over the points away from frozen edges.

    direction: (1, 2, H, W) float, the motion (px per frame, x then y; only its direction counts).
    weight:    (1, 1, H, W) float in [0, 1], how much each point counts (the region away from
               frozen edges: region x (1 - hold)).
    small:     (h, w), the coarse grid the means are taken on (area means of the full size).
    length:    half the line's length, in coarse cells (the line runs both ways, one tap per cell).
    ``__call__``: image (1, C, H, W) float -> (1, C, h, w) float32, the weighted mean over the taps
    p + k u (u the unit direction at p, |k| <= length); where the line holds less than
    ``MIN_SHARE`` of its taps' worth of weight the mean shrinks towards 0 in proportion (a line
    that runs along a frozen edge all the way: nothing to compare with, everything near the
    edge may be held)."""

    MIN_SHARE = 0.05

    def __init__(self, direction: torch.Tensor, weight: torch.Tensor, small: tuple[int, int], length: float):
        h, w = small
        v = F.interpolate(direction.float(), size=small, mode="area")
        norm = v.norm(dim=1, keepdim=True)
        u = torch.where(norm > 1e-6, v / norm.clamp_min(1e-6), torch.zeros_like(v))   # (1, 2, h, w)
        self.taps = max(1, int(round(length)))
        gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=v.device),
                                torch.arange(w, dtype=torch.float32, device=v.device), indexing="ij")
        scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=v.device)
        self.grid = torch.stack([gx, gy], -1)[None] * scale - 1.0          # grid_sample's units (align_corners)
        self.step = u[0].permute(1, 2, 0)[None] * scale                     # one cell along the flow, same units
        self.small = small
        self.weight = F.interpolate(weight.float(), size=small, mode="area")
        self.norm = self._sum(self.weight).clamp_min(self.MIN_SHARE * (2 * self.taps + 1))

    def _sum(self, maps: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(maps)
        for k in range(-self.taps, self.taps + 1):
            out += F.grid_sample(maps, self.grid + k * self.step, mode="bilinear", padding_mode="zeros",
                                 align_corners=True)
        return out

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(image.float(), size=self.small, mode="area") * self.weight
        return self._sum(x) / self.norm


class EdgeFit:
    """The part of a detail held beside frozen things (module docstring): weight x a local linear fit
    of the detail against the distance to the frozen edge (Gaussian window of sigma px, over the
    region's pixels only: normalised convolution), so a halo's rise towards the edge is kept whole
    rather than averaged away; on frozen pixels (distance 0) the fit's value at the edge.

    weight:   (1, 1, H, W) float in [0, 1] (``edge_hold``).
    region:   (1, 1, H, W) float, 1 on the region.
    distance: (1, 1, H, W) float, px to the nearest frozen pixel (0 on them).
    sigma:    px.
    along:    (1, 2, H, W) float, the motion (px per frame), or None: the detail's mean along each
              point's flow line (``AlongFlow``, weighted by region x (1 - weight)) is taken off before
              the fit, so only what differs from the rest of the line is held.
    length:   px, how far that line runs each way.
    The fit is smooth, so its moments are computed on cells of about sigma / 3 px (area means) and
    interpolated back; the region's own moments once, here. ``__call__``: detail (1, C, H, W) float
    -> held part (1, C, H, W) float32."""

    def __init__(self, weight: torch.Tensor, region: torch.Tensor, distance: torch.Tensor, sigma: float, *,
                 along: torch.Tensor | None = None, length: float = 0.0):
        H, W = region.shape[-2:]
        self.size, self.sigma = (H, W), sigma
        self.cell = max(1, int(sigma // 3))
        self.small = (max(1, -(-H // self.cell)), max(1, -(-W // self.cell)))
        self.weight, self.r, self.d = weight.float(), region.float(), distance.float()
        m0, m1, m2 = self._moments(torch.cat([self.r, self.r * self.d, self.r * self.d * self.d], 1)).unbind(1)
        self.m0 = m0[:, None].clamp_min(1e-3)
        self.mean_d = m1[:, None] / self.m0
        self.var = (m2[:, None] / self.m0 - self.mean_d ** 2).clamp_min(0.0)
        self.sloped = self.var > 0.05 * sigma ** 2          # enough spread of distances to fit a slope
        self.lines = None
        if along is not None and length > 0:
            self.lines = AlongFlow(along, self.r * (1.0 - self.weight), self.small, length / self.cell)

    def _moments(self, maps: torch.Tensor) -> torch.Tensor:
        m = F.interpolate(maps, size=self.small, mode="area") if self.cell > 1 else maps
        return _blur(m, max(0.5, self.sigma / self.cell))

    def __call__(self, detail: torch.Tensor) -> torch.Tensor:
        C = detail.shape[1]
        x = detail.float()
        if self.lines is not None:      # what the same flow line shows away from frozen edges is not held
            x = x - F.interpolate(self.lines(x), size=self.size, mode="bilinear", align_corners=False)
        x = x * self.r
        s = self._moments(torch.cat([x, x * self.d], 1))
        mean = s[:, :C] / self.m0
        slope = torch.where(self.sloped, (s[:, C:] / self.m0 - mean * self.mean_d) / self.var.clamp_min(1e-6),
                            torch.zeros_like(mean))
        fit = torch.cat([mean, slope, self.mean_d], 1)
        if self.cell > 1:
            fit = F.interpolate(fit, size=self.size, mode="bilinear", align_corners=False)
        mean, slope, mean_d = fit[:, :C], fit[:, C:2 * C], fit[:, 2 * C:]
        reach = 3 * self.sigma
        return (mean + slope * (self.d - mean_d).clamp(-reach, reach)) * self.weight


def smooth_base(image: np.ndarray, mask: np.ndarray, *, window: float | None = None) -> np.ndarray:
    """The base of an image over a region: image (H, W) or (H, W, C) numbers, mask (H, W) bool
    -> float32 array of the image's shape (``BaseFit``)."""
    arr = np.asarray(image, np.float32)
    t = torch.from_numpy(arr if arr.ndim == 3 else arr[..., None]).permute(2, 0, 1)[None]
    out = BaseFit(mask, window=window)(t)[0].permute(1, 2, 0).numpy()
    return out if arr.ndim == 3 else out[..., 0]


def _gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32) @ np.array(LUMA, np.float32)


def detail_level(photo: np.ndarray, region: np.ndarray) -> float:
    """How much visible detail a region has to move: grey levels (0..255 scale), the RMS over the
    region of the grey photo minus its region-only Gaussian low-pass (sigma 1 % of the long side,
    at least 2 px: cloud edges, ripples, texture; not the gradient, which stays put).

    photo: (H, W, 3) uint8; region: (H, W) bool. A region eroded away (thinner than the low-pass)
    is measured as it is. An empty region has level 0."""
    import cv2
    if not region.any():
        return 0.0
    g = _gray(photo)
    m = region.astype(np.float32)
    sigma = max(2.0, 0.01 * max(region.shape))
    num = cv2.GaussianBlur(g * m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    low = num / np.maximum(den, 1e-6)
    # away from the region's edge, where the low-pass is well supported
    inner = region & (den > 0.9)
    use = inner if inner.sum() >= 64 else region
    d = (g - low)[use]
    return float(np.sqrt(np.mean(d * d)))


def featureless_warnings(photo: np.ndarray, regions: dict[str, np.ndarray],
                         level: float = FEATURELESS_LEVEL) -> list[str]:
    """One warning per moving region with almost no detail (``detail_level`` < level):
    "the sky is nearly featureless: little will appear to move".

    photo: (H, W, 3) uint8; regions: name ("sky", "water") -> (H, W) bool of its moving pixels.
    Regions under MIN_REGION_SHARE of the photo are not judged."""
    out = []
    for name, region in regions.items():
        if region.mean() < MIN_REGION_SHARE:
            continue
        if detail_level(photo, region) < level:
            out.append(f"the {name} is nearly featureless: little will appear to move")
    return out


def veil_width(size: tuple[int, int]) -> int:
    """The side of the square ``behind_veil`` opens with for an (H, W) image: VEIL_WIDTH of the long
    side, odd, px."""
    return max(3, round(VEIL_WIDTH * max(size))) | 1


def behind_veil(detail: torch.Tensor, weight: torch.Tensor, width: int) -> torch.Tensor:
    """What stays behind falling water: (1, C, H, W) float detail -> (1, C, H, W) float32, the
    detail's lower envelope: a grey opening with a ``width`` px square (strands of water narrower
    than that are lifted off what lies behind them), smoothed (Gaussian, width / 4: no blocks),
    and never above the detail itself (dark rock stays exactly as it is); times weight
    (1, 1, H, W) in [0, 1] (1 over the fall, 0 elsewhere). detail - envelope >= 0 is the water.

    Only the weight's bounding box (and a margin) is read. The envelope is smooth, so it is
    computed on cells of ``width // 8`` px (the minimum of each cell: a thin strand never lifts
    it), then interpolated back.

    Tried (round 16): keeping also the water's mean down each column (a Gaussian of ``width``
    px) with the base, so that a fall's strands stay and only the texture along them runs down:
    below the rocks in 16 train falls the water changed less than the rest of the fall on 6 and
    more on 9 (the measure of ``composite.fill_upstream``'s note), and the rest of a fall moved
    less; not kept. Also tried: an opening that keeps whole colours (pixels ordered by luma, the
    colour of the darkest / brightest one taken) instead of each channel's own minimum, which can
    make a colour no pixel has (a pink-green haze mid-cycle on a held-out cascade): over the
    35 train falls the colour of the water changed more on 30 (CIELAB a*b* from frame 0, median
    0.76 -> 0.78); not kept."""
    out = torch.zeros_like(detail, dtype=torch.float32)
    on = torch.nonzero(weight[0, 0] > 0)
    if on.numel() == 0:
        return out
    H, W = detail.shape[-2:]
    margin = 2 * width
    y0, x0 = (on.min(0).values - margin).clamp_min(0).tolist()
    y1, x1 = (on.max(0).values + margin + 1).tolist()
    y1, x1 = min(y1, H), min(x1, W)
    x = detail[..., y0:y1, x0:x1].float()
    cell = max(1, width // 8)
    low = -F.max_pool2d(-x, cell, stride=cell, ceil_mode=True)          # each cell's minimum
    k = max(3, round(width / cell)) | 1
    pad = k // 2

    def box_max(y):
        y = F.max_pool2d(F.pad(y, (pad, pad, 0, 0), mode="replicate"), (1, k), stride=1)
        return F.max_pool2d(F.pad(y, (0, 0, pad, pad), mode="replicate"), (k, 1), stride=1)

    smooth = _blur(box_max(-box_max(-low)), width / 4 / cell, truncate=3.0, replicate=True)
    up = F.interpolate(smooth, size=x.shape[-2:], mode="bilinear", align_corners=False)
    out[..., y0:y1, x0:x1] = torch.minimum(up, x) * weight[..., y0:y1, x0:x1]
    return out
