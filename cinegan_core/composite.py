"""Compositing: the animated region over the untouched photo, one way for every engine.

Three things every engine does the same way, so they live here once:

* **frozen islands** (``pass_behind``): small frozen things inside a moving region
  (``MotionPlan.holes``: a bird, a kite, a speck the mask kept still) stay still,
  but what moves passes behind them: they are filled in what the engine samples
  and count as moving for sampling, so they neither occlude nor get dragged along;
  an island is filled with a nearby copy of the texture round it, Poisson-blended
  (``clone_texture``), so what the motion carries out from behind it looks like
  the rest of the region, and a rock in a fall with the water above it
  (``fill_upstream``), so the water that passes it stays water; an island that no
  copy fits (``uncopyable``) is left an occluder by the motion plan;
* **the soft edge** (``feather``): the animated region fades in over a few px
  inside the mask (``feather_width``), so there is no hard seam, and frozen
  pixels (mask False) get weight 0;
* **the final paste** (``Paste``): each frame is the photo's own bytes with the
  moving pixels replaced by the feathered blend of the engine's output and the
  photo. Frozen pixels are never touched: in lossless output they are bit-exact;
* **the detail moves, the base stays** (``Rebase``, ``detail.py``): inside the
  moving region every frame is the photo's smooth base (its gradient, glow,
  vignette) plus the moved detail. The pixel engine moves the detail only
  (``Rebase.split`` before it warps, ``Rebase.base`` added back); the stylegan
  engine warps whole features, so its output is re-based after rendering
  (``Rebase.__call__``: output - its own base + the photo's base). Either way
  the gradient does not slide and no halo opens beside frozen things; a glow hugging a
  frozen thing, narrower than the base's window, is held beside it too where content is
  carried along (``carried_hold``, ``detail.edge_hold``). Over falling water
  (``MotionPlan.veil``) the base also keeps what lies behind the water (``detail.behind_veil``):
  the rock seen through thin strands stays, the water moves over it.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .detail import EDGE_LINE, EDGE_SCALE, BaseFit, EdgeFit, behind_veil, edge_hold, veil_width

CLONE_PAD = 16          # px the image is mirrored by beyond its border while islands that touch it are cloned
CLONE_DIRECTIONS = 16   # directions tried for the copy of an island's texture (``clone_offset``)
CLONE_MIN_AREA = 25     # px: smaller islands (specks) keep the inpainting, too small to show it
CLONE_UPSTREAM = 67.5   # degrees: copies within this of straight upstream are preferred (``island_copies``)


def inside_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px, float32) from each True pixel to the nearest False
    pixel; 0 on False pixels. The image border is not an edge: a mask that
    touches it keeps moving right up to it."""
    m = mask.astype(np.uint8)
    if m.all():
        return np.full(mask.shape, 1e6, np.float32)
    return cv2.distanceTransform(m, cv2.DIST_L2, 5).astype(np.float32)


def feather_width(shape: tuple[int, int]) -> float:
    """The soft edge's width in px for an (H, W) render: 1.5 px, more on large renders."""
    return max(1.5, min(shape) / 400)


def feather(mask: np.ndarray, width: float, distance: np.ndarray | None = None) -> np.ndarray:
    """Compositing alpha (H, W) float32 in [0, 1]: 0 on frozen pixels, rising to 1
    over `width` px inside the mask, so frozen pixels stay exactly the photo."""
    d = inside_distance(mask) if distance is None else distance
    if width <= 0:
        return mask.astype(np.float32)
    return np.clip(d / width, 0.0, 1.0).astype(np.float32)


def fill_outside(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of image (H, W, C) where every pixel outside the mask takes the value
    of the nearest pixel inside it. Sampling and blurring the result near the
    mask edge then never mixes frozen colours into moving content."""
    if mask.all() or not mask.any():
        return image.copy()
    _, labels = cv2.distanceTransformWithLabels((~mask).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    inside = np.flatnonzero(mask)           # label k (1-based) is the k-th mask pixel in raster order
    nearest = inside[labels.ravel() - 1]
    flat = image.reshape(-1, *image.shape[2:])
    return flat[nearest].reshape(image.shape)


def pass_behind(photo: np.ndarray, mask: np.ndarray, holes: np.ndarray | None, *,
                field: np.ndarray | None = None, veil: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What an engine samples when small frozen islands are passed behind.

    photo: (H, W, 3) uint8; mask: (H, W) bool, True = moves; holes: (H, W) bool frozen
    islands inside moving regions (``MotionPlan.holes``) or None.
    field: (2, H, W) float32 px per frame (``MotionPlan.field``, continued through the holes) and
    veil: (H, W) bool falling water (``MotionPlan.veil``), or None: a rock in a fall is filled
    with the water from just upstream of it, drawn along the flow (``fill_upstream``), so what
    leaves it below is more falling water; other islands (a bird, a kite, a rock or a patch the
    mask kept still in the waves) get a nearby copy of the texture round them (``clone_texture``),
    over OpenCV's Telea inpainting where no copy fits.
    Returns (source, passable): the photo with the islands filled (the photo itself
    when there are none) and (H, W) bool mask | holes, where sampling may go."""
    if holes is None or not holes.any():
        return photo, mask
    source = cv2.inpaint(photo, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    in_fall = np.zeros(holes.shape, bool)
    if field is not None and veil is not None and veil.any():
        _, lab = cv2.connectedComponents(holes.astype(np.uint8), connectivity=8)
        touching = np.unique(lab[(cv2.dilate(veil.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & holes])
        in_fall = np.isin(lab, touching[touching > 0])
        if in_fall.any():
            source = fill_upstream(source, in_fall, mask, field)
    if (holes & ~in_fall).any():
        source = clone_texture(source, photo, holes & ~in_fall, mask & ~holes, field=field)
    return source, mask | holes


def clone_texture(filled: np.ndarray, photo: np.ndarray, islands: np.ndarray, open_: np.ndarray, *,
                  field: np.ndarray | None = None) -> np.ndarray:
    """The islands of an inpainted image filled with a nearby copy of the photo's texture.

    filled:  (H, W, 3) uint8, the photo with the islands inpainted (smooth: Telea).
    photo:   (H, W, 3) uint8.
    islands: (H, W) bool, the frozen islands that are passed behind.
    open_:   (H, W) bool, the moving pixels that are no island (where texture may be taken from).
    field:   (2, H, W) px per frame, the motion (continued through the islands), or None: copies
             are taken from upstream where one fits (``island_copies``).
    Returns (H, W, 3) uint8: each island (8-connected component) filled with the photo moved by one
    displacement (``clone_offset``: a nearby copy of the island's shape that lies on moving pixels
    and whose surroundings look most like the island's), blended in by OpenCV's Poisson cloning
    (``cv2.seamlessClone``: the copy's gradients inside, the surroundings' values at the edge, so
    no seam); an island with no such copy, or smaller than ``CLONE_MIN_AREA``, keeps the inpainting.
    Inpainted alone, an island in textured water is a smooth patch, fanned out from its edge, that
    the flow carries out from behind it: a pale blob in the waves. One displacement for the whole
    island keeps the texture's structure (filling each pixel from its own upstream drew streaks)."""
    H, W = islands.shape
    copies = island_copies(photo, islands, open_, field=field)
    if not any(d is not None for _, _, d in copies):
        return filled
    P = CLONE_PAD
    pad = lambda a: cv2.copyMakeBorder(a, P, P, P, P, cv2.BORDER_REFLECT)
    src_all, out = pad(photo), pad(filled)
    grow = np.ones((5, 5), np.uint8)
    for ys, xs, d in copies:
        if d is None:
            continue
        dx, dy = d
        # a window round the island, in padded coordinates, with room for the grown mask and its edge
        y0, y1, x0, x1 = ys.min() + P - 4, ys.max() + P + 5, xs.min() + P - 4, xs.max() + P + 5
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        mask[ys + P - y0, xs + P - x0] = 255
        mask = cv2.dilate(mask, grow)                    # the edge the copy is fitted to lies outside the island
        mask[[0, -1], :] = 0
        mask[:, [0, -1]] = 0
        sy0, sx0 = y0 + dy, x0 + dx                      # the copy lies in the image: its window in the padding
        src = np.ascontiguousarray(src_all[sy0:sy0 + mask.shape[0], sx0:sx0 + mask.shape[1]])
        dst = np.ascontiguousarray(out[y0:y1, x0:x1])
        my, mx = np.nonzero(mask)
        rect_x, rect_y = mx.min(), my.min()
        centre = (int(rect_x + (mx.max() - rect_x + 1) // 2), int(rect_y + (my.max() - rect_y + 1) // 2))
        blended = cv2.seamlessClone(src, dst, mask, centre, cv2.NORMAL_CLONE)
        out[ys + P, xs + P] = blended[ys + P - y0, xs + P - x0]
    return out[P:P + H, P:P + W]


def island_copies(photo: np.ndarray, islands: np.ndarray, open_: np.ndarray, *,
                  field: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int] | None]]:
    """For each island (8-connected component of `islands`, (H, W) bool) of at least ``CLONE_MIN_AREA``
    px: (ys, xs) its pixels and the displacement of its copy (``clone_offset``; None: none fits) in
    `photo` (H, W, 3) uint8, over `open_` (H, W) bool, the moving pixels that are no island.
    field: (2, H, W) px per frame or None: the copy comes from upstream of the island where one
    fits (its mean motion's opposite, within ``CLONE_UPSTREAM`` degrees). Taken from downstream, a
    copy would travel out beside the texture it was copied from, an echo a fixed distance behind
    it; from upstream, what goes in behind the island seems to come out of it."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(islands.astype(np.uint8), connectivity=8)
    if n < 2 or stats[1:, 4].max() < CLONE_MIN_AREA:
        return []
    table = _BoxStats(photo, open_)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < CLONE_MIN_AREA:
            continue
        ys, xs = np.nonzero(lab[y:y + h, x:x + w] == k)
        ys, xs = ys + y, xs + x
        upstream = None
        if field is not None:
            v = -field[:, ys, xs].mean(1)
            upstream = (float(v[0]), float(v[1])) if np.hypot(*v) > 1e-6 else None
        out.append((ys, xs, clone_offset(ys, xs, table, open_, upstream=upstream)))
    return out


def uncopyable(photo: np.ndarray, islands: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """(H, W) bool: the islands (of at least ``CLONE_MIN_AREA`` px) that no nearby copy of the photo
    can fill (``island_copies``): passed behind, they would be a smooth inpainted patch carried out
    into the texture; ``motion.region_motion`` leaves them occluders, like any frozen edge."""
    out = np.zeros(islands.shape, bool)
    for ys, xs, d in island_copies(photo, islands, open_):
        if d is None:
            out[ys, xs] = True
    return out


class _BoxStats:
    """Sums over axis-aligned boxes in O(1) (integral images) of an image's open pixels: their count,
    colour and squared colour, and the count of the pixels that are not open."""

    def __init__(self, img: np.ndarray, open_: np.ndarray):
        o = open_.astype(np.float32)
        x = img.astype(np.float32) * o[..., None]
        self.n = cv2.integral(o, sdepth=cv2.CV_64F)
        self.s1 = cv2.integral(x, sdepth=cv2.CV_64F)
        self.s2 = cv2.integral(x * x, sdepth=cv2.CV_64F)
        self.shut = cv2.integral((~open_).astype(np.uint8))

    @staticmethod
    def _box(t: np.ndarray, y0: int, y1: int, x0: int, x1: int):
        return t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]

    def ring(self, outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]):
        """(count, mean (3,), std (3,)) of the open pixels in outer minus inner (y0, y1, x0, x1)."""
        n = self._box(self.n, *outer) - self._box(self.n, *inner)
        s1 = self._box(self.s1, *outer) - self._box(self.s1, *inner)
        s2 = self._box(self.s2, *outer) - self._box(self.s2, *inner)
        mean = s1 / max(n, 1.0)
        return n, mean, np.sqrt(np.maximum(s2 / max(n, 1.0) - mean * mean, 0.0))

    def all_open(self, y0: int, y1: int, x0: int, x1: int) -> bool:
        return self._box(self.shut, y0, y1, x0, x1) == 0


def clone_offset(ys: np.ndarray, xs: np.ndarray, stats: _BoxStats, open_: np.ndarray, *,
                 upstream: tuple[float, float] | None = None) -> tuple[int, int] | None:
    """(dx, dy) px that moves the island (pixels ys, xs) wholly onto open pixels of the image, among
    ``CLONE_DIRECTIONS`` directions at 1.2, 1.6 and 2.2 times the island's extent along each: the one
    whose ring (the open pixels of a band a quarter of the island's size round its bounding box)
    matches the ring moved with it best in mean colour and contrast; None when no displacement fits.
    upstream: (x, y) the direction upstream of the island, or None: when given, the best of the
    displacements within ``CLONE_UPSTREAM`` degrees of it, if any fits."""
    H, W = open_.shape
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    h, w = y1 - y0, x1 - x0
    r = max(2, int(round(0.25 * min(w, h))) + 2)

    def ring(dy, dx):
        outer = (max(y0 - r + dy, 0), min(y1 + r + dy, H), max(x0 - r + dx, 0), min(x1 + r + dx, W))
        return stats.ring(outer, (y0 + dy, y1 + dy, x0 + dx, x1 + dx))

    n, mean, std = ring(0, 0)
    if n < 8:
        return None
    cone = np.cos(np.radians(CLONE_UPSTREAM))
    up = None if upstream is None else np.array(upstream) / np.hypot(*upstream)
    best, best_score, best_up = None, np.inf, False
    for t in np.arange(CLONE_DIRECTIONS) * (2 * np.pi / CLONE_DIRECTIONS):
        c, s = np.cos(t), np.sin(t)
        along = abs(w * c) + abs(h * s)
        for f in (1.2, 1.6, 2.2):
            dx, dy = int(round(f * along * c)), int(round(f * along * s))
            if y0 + dy < 0 or x0 + dx < 0 or y1 + dy > H or x1 + dx > W:
                continue
            if not stats.all_open(y0 + dy, y1 + dy, x0 + dx, x1 + dx) and not open_[ys + dy, xs + dx].all():
                continue
            m, other_mean, other_std = ring(dy, dx)
            if m < 0.8 * n:
                continue
            score = float(np.abs(other_mean - mean).mean() + np.abs(other_std - std).mean())
            is_up = up is not None and c * up[0] + s * up[1] >= cone - 1e-9
            if (is_up, -score) > (best_up, -best_score):     # upstream first, then the best match
                best, best_score, best_up = (dx, dy), score, is_up
    return best


def fill_upstream(image: np.ndarray, holes: np.ndarray, mask: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Copy of image (H, W, C) where the holes are filled with the water upstream of them,
    mirrored at their upstream edge (as the image is mirrored beyond its borders): a pixel whose
    first moving pixel (mask True, not a hole) going upstream along the field (2, H, W) in 1 px
    steps is k px away takes the value of the one 2k - 1 px upstream (its mirror image across the
    edge), or k px when that one is no moving pixel. A pixel with no motion, or none met within
    the image, keeps its value.

    Tried (round 16, 16 train falls with islands in the fall, 768 px, 48 frames; the local
    brightness and contrast change below the islands against the rest of the fall): islands as
    occluders, not passed behind (content comes out from behind them as at any mask edge),
    changed the water below them more on 14 of 16 falls; this fill with its local brightness
    taken from the inpainting around the island was no better (6 lower, 6 higher). The pale
    patches that gaps in a white curtain leave below them mid-cycle are a known limit."""
    H, W = holes.shape
    out = image.copy()
    ys, xs = np.nonzero(holes)
    fx, fy = field[0][ys, xs], field[1][ys, xs]
    norm = np.hypot(fx, fy)
    go = norm > 1e-6
    ys, xs, dx, dy = ys[go], xs[go], -fx[go] / norm[go], -fy[go] / norm[go]
    open_ = mask & ~holes

    def at(step):   # (y, x, whether that is a moving pixel of the image) `step` px upstream of each
        sy, sx = np.rint(ys + step * dy).astype(int), np.rint(xs + step * dx).astype(int)
        ok = (sy >= 0) & (sy < H) & (sx >= 0) & (sx < W)
        ok[ok] = open_[sy[ok], sx[ok]]
        return sy, sx, ok

    edge = np.zeros(len(ys), int)           # px upstream to the hole's edge, 0: not met (yet)
    todo = np.ones(len(ys), bool)
    for step in range(1, H + W):
        if not todo.any():
            break
        sy, sx, ok = at(step)
        edge[todo & ok] = step
        todo &= ~ok & (sy >= 0) & (sy < H) & (sx >= 0) & (sx < W)     # gone past the image: not met
    found = edge > 0
    ys, xs, dx, dy, edge = ys[found], xs[found], dx[found], dy[found], edge[found]
    sy, sx, _ = at(edge)
    my, mx, ok = at(2 * edge - 1)
    sy, sx = np.where(ok, my, sy), np.where(ok, mx, sx)
    out[ys, xs] = image[sy, sx]
    return out


class Paste:
    """The final paste of one loop's frames: photo outside the mask, the feathered blend
    of the engine's output and the photo inside.

    photo:      (H, W, 3) uint8; mask: (H, W) bool, True = moves.
    feather_px: width of the soft edge, px (None: ``feather_width``).
    device:     torch device of the engine's output.
    still:      (3, K) float32 tensor: the photo's moving pixels as the engine holds them
                (None: the photo's bytes), what the soft edge blends toward.
    offset:     (3, K) float32 tensor added to every frame's engine values (e.g. the smooth
                base an engine that moves only the detail leaves out), or None.

    ``index`` (K,) are the flat indices of the moving pixels (raster order) and
    ``alpha`` (1, K) their weights; ``__call__`` takes the engine's (3, K) float
    values (0..255) at those pixels and returns the (H, W, 3) uint8 frame."""

    def __init__(self, photo: np.ndarray, mask: np.ndarray, *, feather_px: float | None = None,
                 device: str | torch.device = "cpu", still: torch.Tensor | None = None,
                 offset: torch.Tensor | None = None):
        H, W, _ = photo.shape
        self.photo = photo
        self.flat = np.flatnonzero(mask)
        self.index = torch.from_numpy(self.flat).to(device)
        width = feather_width((H, W)) if feather_px is None else feather_px
        self.alpha = torch.from_numpy(feather(mask, width).ravel()[self.flat])[None].to(device)   # (1, K)
        if still is None:
            still = torch.from_numpy(photo.reshape(-1, 3)[self.flat].T.astype(np.float32)).to(device)
        self.still_part = (1.0 - self.alpha) * still                                             # (3, K)
        if offset is not None:
            self.still_part = self.still_part + self.alpha * offset    # folded in once, not per frame

    def __call__(self, moving: torch.Tensor) -> np.ndarray:
        """moving: (3, K) float, 0..255, the engine's values at the moving pixels.
        Returns the (H, W, 3) uint8 frame."""
        out = torch.addcmul(self.still_part, self.alpha, moving)
        values = out.clamp_(0, 255).round_().to(torch.uint8).cpu().numpy()
        frame = self.photo.copy()
        frame.reshape(-1, 3)[self.flat] = values.T
        return frame


def carried_hold(passable: np.ndarray, field: np.ndarray, veil: np.ndarray | None) -> np.ndarray | None:
    """``Rebase``'s hold for a motion: beside the frozen edges of `passable` ((H, W) bool, the moving
    region with the islands it passes behind), where the field ((2, H, W) px per frame) carries content
    along and nothing falls (`veil`, (H, W) bool or None): ``detail.edge_hold``. None where nothing is held."""
    carried = np.hypot(field[0], field[1]) > 0
    if veil is not None:
        carried &= ~veil
    hold = edge_hold(passable, carried)         # (all zeros, at once, where nothing is carried)
    return hold if hold.any() else None


class Rebase:
    """The photo's smooth base inside the moving region, for every engine (``detail.BaseFit``).

    photo:  (H, W, 3) uint8 or float: what the engine renders from (frozen islands inpainted).
    mask:   (H, W) bool, the region the base is fitted over (True = moves; frozen pixels
            never enter the fit).
    index:  (K,) flat indices of the pixels the engine returns values for (default: the mask's,
            raster order, as ``Paste.index``).
    device: torch device.
    veil:   (H, W) bool, falling water (``MotionPlan.veil``), or None: there the base also keeps
            what lies behind the water (``detail.behind_veil``), blended in over a few px.
    hold:   (H, W) float32 in [0, 1] (``detail.edge_hold``), or None: beside frozen things the base
            also holds that much of the detail's smooth part (``detail.EdgeFit``), so a halo hugging
            a frozen thing stays with it.
    along:  (2, H, W) float32, the motion (px per frame), or None: with a hold, what the detail shows
            along the same flow line away from frozen edges is not held (``detail.AlongFlow``).

    ``base_image`` (1, 3, H, W) float32 is the photo's base; ``base`` (3, K) its values at
    ``index``; ``split(image)`` -> (detail (1, 3, H, W) = image - base_image); calling it
    on an engine's (3, K) values re-bases them: values - their own base + the photo's base."""

    def __init__(self, photo: np.ndarray, mask: np.ndarray, *, index: np.ndarray | None = None,
                 device: str | torch.device = "cpu", veil: np.ndarray | None = None,
                 hold: np.ndarray | None = None, along: np.ndarray | None = None):
        H, W = mask.shape
        self.device = torch.device(device)
        self.fit = BaseFit(mask, device=self.device)
        self.hold = None
        if hold is not None and (hold > 0).any():
            flow = None if along is None else torch.from_numpy(np.ascontiguousarray(along, np.float32))[None]
            self.hold = EdgeFit(self._map(hold), self._map(mask), self._map(inside_distance(mask)),
                                EDGE_SCALE * max(H, W), along=None if flow is None else flow.to(self.device),
                                length=EDGE_LINE * max(H, W))
        img = torch.from_numpy(np.ascontiguousarray(photo, dtype=np.float32)).permute(2, 0, 1)[None].to(self.device)
        self.veil = None
        if veil is not None and (veil & mask).any():
            width = veil_width((H, W))
            soft = cv2.GaussianBlur((veil & mask).astype(np.float32), (0, 0), width / 4) * mask
            self.veil = (self._map(soft), width)
        self.base_image = self._own(img)
        flat = np.flatnonzero(mask) if index is None else np.asarray(index)
        self.index = torch.from_numpy(flat).to(self.device)
        self.size = (H, W)
        self.base = self.base_image.view(3, -1)[:, self.index]

    @classmethod
    def for_loop(cls, source: np.ndarray, passable: np.ndarray, plan, *, index: np.ndarray,
                 device: str | torch.device = "cpu", hold: bool = True) -> "Rebase":
        """The re-base every engine builds for one loop (one place, so the engines cannot differ):
        fitted over what the engine renders, ``pass_behind``'s (source, passable), so the base, the
        veil's weight and the edge hold all refer to the same region and its edges.

        source:   (H, W, 3) uint8, the photo with the islands passed behind filled.
        passable: (H, W) bool, the moving region with those islands.
        plan:     the loop's ``motion.MotionPlan`` (its field and veil).
        index:    (K,) flat indices of the pixels the engine returns values for (the paste's: the mask's).
        hold:     hold the smooth detail beside frozen edges where content is carried (``carried_hold``);
                  False: for comparison only."""
        held = carried_hold(passable, plan.field, plan.veil) if hold else None
        return cls(source, passable, index=index, device=device, veil=plan.veil, hold=held, along=plan.field)

    def _map(self, a: np.ndarray) -> torch.Tensor:
        """An (H, W) array as a (1, 1, H, W) float32 tensor on the device."""
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None].to(self.device)

    def split(self, image: torch.Tensor) -> torch.Tensor:
        """image (1, 3, H, W) float -> its detail over the photo's base, (1, 3, H, W)."""
        return image - self.base_image

    def _own(self, image: torch.Tensor) -> torch.Tensor:
        """The base of an image (1, 3, H, W) float over the region: its smooth fit, over
        falling water what lies behind it, and beside frozen things the held smooth detail."""
        base = self.fit(image)
        if self.veil is not None:
            weight, width = self.veil
            base = base + behind_veil(image - base, weight, width)
        if self.hold is not None:
            base = base + self.hold(image - base)
        return base

    def __call__(self, values: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """values: (3, K) float, an engine's output at ``index`` -> (3, K) re-based on the photo's base.
        image: the engine's whole output frame (1, 3, H, W) on the same 0..255 scale, when it has one
        (what lies behind falling water near the region's edge is then read from it); None: the
        values alone, zero elsewhere."""
        H, W = self.size
        if image is None:
            full = torch.zeros(3, H * W, dtype=torch.float32, device=values.device)
            full[:, self.index] = values.float()
            image = full.view(1, 3, H, W)
        own = self._own(image.float()).view(3, -1)[:, self.index]
        return values - own + self.base
