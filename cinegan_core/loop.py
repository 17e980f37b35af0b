"""Looping: Euler integration of a motion field and the loop policy both engines share.

Positions are float tensors ``(K, 2)`` of (x, y) pixel coordinates (pixel centres
at integers) of K points on some grid (the moving pixels of the photo, or the
stylegan engine's integration grid). A motion field is a tensor ``(1, 2, H, W)``
on that grid in px per frame (channel 0 = rightward, 1 = downward).

For output frame t of an N-frame loop, the point at y shows

* content carried forward t steps: the photo at ``trace(y, -field, t)``
  (where that content was t frames ago), and
* content carried backward N - t steps: the photo at ``trace(y, +field, N - t)``
  (where it will be when the loop closes on the photo at frame N),

blended so that frame 0 is the photo and frame N would be the photo again: the
wrap-around is seamless by construction and no frame repeats (unlike the
t/(N-1) scheme of the authors' code, which stalls for one frame at every wrap).
How the two are blended is the loop policy (``LoopPolicy``), kept here so that
both engines loop the same way:

* Open image borders. Beyond the image lies the image mirrored (``PADDING``) and
  the motion continues (the field is clamped at the border), so content that
  enters the frame is the mirrored continuation of what is at the border: no
  fallback band, no seam line, and the outermost pixels move like their
  neighbours. Only true mask edges (frozen pixels) are occluders: a source that
  lands on frozen pixels is worth nothing there (``validity_map``), so content
  emerges from behind a mountain instead of dragging the mountain along, and where
  neither source is valid the pixel falls back to the still photo.
* Staggered cross-over. Every point crosses from the forward to the backward
  source at its own time, phase(y) in [fade/2, 1 - fade/2] of the loop, within
  a window of fade * N frames; at any frame only the points whose phase is near
  t/N are mid-fade, instead of the whole region showing a double exposure at
  N/2. The phase is constant along the flow's streamlines over the loop's reach
  (line integral convolution), so a piece of content keeps about one phase along
  its path and its forward and backward copies, which lie on the same
  streamline, never show at once; neighbouring streams cross over at different
  times, side by side. The phase is noise, spread evenly over the range by rank,
  and does not look at the photo. (An earlier round timed each stream by when its
  two sources look most alike; in smooth areas that favours early cross-overs,
  where the backward source shows before the forward one has travelled, and the
  content was measured slower than the field. With noise phases the official
  samples move at 0.91 to 1.03 of the field, where exact advection of the photo
  scores 0.93 to 1.04: bench/quality.py --exact.) The per-frame timing maps are
  computed on a coarse grid and blurred over a few of its cells (``soften``), so
  that no cell switches to the other source on its own (a blocky patch).
* Distortion-aware timing. Where the field stretches the content, the source
  that is less magnified is preferred: each source's weight is scaled by
  exp(-4 log(1 / s_min) - log(s_max)) of the singular values s of its Jacobian
  d source / d y (integrated along with it on a coarse grid), so a cloud never
  shows up smeared when the other source has it crisp (after Neyret, "Advected
  textures", 2003, who regenerates texture where its deformation grows).
* Fallback to the other source. A source that is occluded or smeared beyond use
  (``usable``) hands its share to the other source, whatever the time, except
  at t = 0 and towards t = N where the loop must close; only where neither is
  usable does the still photo show (its weight ``still_weight`` scales with how
  unusable the better source is: none at all where one is fully usable, since a
  constant share of the still photo is static content under the moving one).
* Cycles. Content travels speed x length of a cross-over cycle before the other
  source takes over, so a fast region that is short along its motion (a waterfall
  of 150 px falling 3 px a frame over a 48-frame loop) would leave itself: both
  sources run into its edges, where the eased motion stalls, and the content is
  drawn out into streaks. Such a region loops several times per loop (``cycles``:
  k whole cycles of about n / k frames each, ``cycle_bounds``), every cycle
  built like the whole loop (frame 0 of each is the photo, the cross-over
  staggered within it), so the loop still closes exactly at n. ``cycle_count``
  picks k from how far the content travels against the region's length.
* Ripple. A rippling region does not drift (its field is zero) and is sampled at
  y + r(y, t), a displacement that is exactly periodic over the loop and zero at
  t = 0 (``motion.Ripple``): no cross-fade at all.

Displacements are integrated once for all frames: the forward trace advances
one step per frame, the backward one is run once with checkpoints every
``~sqrt(N)`` steps and replayed segment by segment in reverse, so the total
number of Euler steps is at most 3N and memory stays O(sqrt(N)) position sets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .composite import inside_distance

PADDING = "reflection"   # what a source sees beyond the image border: the image mirrored (open borders)
VALID_RAMP = 2.0         # px over which a source's validity rises from 0 at a mask edge to 1
MIN_FADE_FRAMES = 6      # the shortest cross-over of a point, in frames
REACH = 0.4              # the most content may travel in one cycle, as a share of its region's length along
                         # the motion (beyond it both sources run into the region's edges and smear)
MIN_CYCLE_FRAMES = 12    # the shortest cycle: a cross-over of MIN_FADE_FRAMES takes at most half of it


class StepCounter:
    """Counts Euler steps (tests check that integration is O(N))."""

    def __init__(self):
        self.steps = 0


def to_grid(pos: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Positions (K, 2) in px of an image of size (H, W) -> (1, 1, K, 2) grid_sample coordinates."""
    H, W = size
    scale = torch.tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)], dtype=pos.dtype, device=pos.device)
    minus_one = torch.tensor([-1.0, -1.0], dtype=pos.dtype, device=pos.device)
    return torch.addcmul(minus_one, pos, scale).view(1, 1, -1, 2)  # one pass over the positions


def sample(image: torch.Tensor, pos: torch.Tensor, mode: str = "bilinear",
           padding: str = "border", grid: torch.Tensor | None = None) -> torch.Tensor:
    """Sample image (1, C, H, W) at positions pos (K, 2) in px. Returns (C, K).

    mode:    "bilinear" | "bicubic" | "nearest" (torch.grid_sample modes).
    padding: what lies outside the image ("border" | "reflection" | "zeros"); images
             are sampled with PADDING, motion fields with "border" (motion continues).
    grid:    ``to_grid(pos, (H, W))`` when the caller already has it (pos is then unused).
    """
    if grid is None:
        grid = to_grid(pos, image.shape[-2:])
    out = F.grid_sample(image, grid.to(image.dtype), mode=mode, padding_mode=padding, align_corners=True)
    return out[0, :, 0, :]


def euler_step(pos: torch.Tensor, field: torch.Tensor, sign: float, counter: StepCounter | None = None) -> torch.Tensor:
    """One Euler step along sign * field.

    pos:   (K, 2) positions in px, or (K, 6): positions and their Jacobian with respect
           to the start positions (J11, J12, J21, J22, row-major), which is carried along.
    field: (1, 2, H, W) velocity, or (1, 6, H, W) velocity and its derivatives
           (``field_derivatives``) for a (K, 6) state.
    """
    if counter is not None:
        counter.steps += 1
    s = sample(field, pos[:, :2]).t()
    if pos.shape[1] == 2:
        return torch.add(pos, s, alpha=sign)
    jac = pos[:, 2:].reshape(-1, 2, 2)
    grad = s[:, 2:].reshape(-1, 2, 2)
    jac = jac + sign * torch.bmm(grad, jac)
    return torch.cat([pos[:, :2] + sign * s[:, :2], jac.reshape(-1, 4)], 1)


def trace(pos: torch.Tensor, field: torch.Tensor, sign: float, steps: int,
          counter: StepCounter | None = None) -> torch.Tensor:
    """Positions after `steps` Euler steps along sign * field (the reference path)."""
    for _ in range(steps):
        pos = euler_step(pos, field, sign, counter)
    return pos


def forward_sources(start: torch.Tensor, field: torch.Tensor, n: int,
                    counter: StepCounter | None = None) -> Iterator[torch.Tensor]:
    """For t = 0 .. n-1, where the content shown at `start` at frame t was at frame 0:
    start traced t steps against the motion. One Euler step per frame."""
    pos = start
    for t in range(n):
        if t:
            pos = euler_step(pos, field, -1.0, counter)
        yield pos


def backward_sources(start: torch.Tensor, field: torch.Tensor, n: int,
                     counter: StepCounter | None = None) -> Iterator[torch.Tensor]:
    """For t = 0 .. n-1, where the content shown at `start` at frame t will be at
    frame n: start traced n - t steps along the motion.

    Integrates once to n keeping a checkpoint every ~sqrt(n) steps, then replays
    each segment (highest first) and yields its positions in reverse: at most
    2n steps and O(sqrt(n)) stored position sets."""
    every = max(1, math.isqrt(n))
    checkpoints = {0: start}
    pos = start
    for k in range(1, n + 1):
        pos = euler_step(pos, field, 1.0, counter)
        if k % every == 0:
            checkpoints[k] = pos
    last = pos  # k = n
    for seg_start in sorted(checkpoints, reverse=True):
        seg_end = min(seg_start + every - 1, n)  # inclusive
        if seg_start == n:
            segment = [last]
        else:
            segment = [checkpoints[seg_start]]
            for _ in range(seg_start + 1, seg_end + 1):
                segment.append(last if _ == n else euler_step(segment[-1], field, 1.0, counter))
        for k in range(seg_end, seg_start - 1, -1):
            if k == 0:
                return  # k = n - t with t <= n - 1, so k >= 1
            yield segment[k - seg_start]
        del segment


def field_derivatives(field: torch.Tensor) -> torch.Tensor:
    """(1, 2, H, W) velocity -> (1, 6, H, W): vx, vy, dvx/dx, dvx/dy, dvy/dx, dvy/dy
    (central differences, per px)."""
    p = F.pad(field, (1, 1, 1, 1), mode="replicate")
    ddx = (p[:, :, 1:-1, 2:] - p[:, :, 1:-1, :-2]) / 2
    ddy = (p[:, :, 2:, 1:-1] - p[:, :, :-2, 1:-1]) / 2
    return torch.cat([field, ddx[:, :1], ddy[:, :1], ddx[:, 1:], ddy[:, 1:]], 1)


def distortion_weight(state: torch.Tensor) -> torch.Tensor:
    """How much to trust a source by how its content is deformed: (K, 6) state -> (K,).

    With s_min <= s_max the singular values of the Jacobian d source / d y:
    exp(-(4 max(0, -log s_min) + max(0, log s_max))). 1 for an undistorted source;
    magnification (s < 1: the source's content is stretched over more pixels, so it
    is blurred) costs much more than minification."""
    a, b, c, d = state[:, 2], state[:, 3], state[:, 4], state[:, 5]
    sq = a * a + b * b + c * c + d * d
    det = (a * d - b * c).abs()
    root = (sq * sq - 4 * det * det).clamp_min(0).sqrt()
    s_max = ((sq + root) / 2).clamp_min(1e-12).sqrt()
    s_min = ((sq - root) / 2).clamp_min(1e-12).sqrt()
    return torch.exp(-(4.0 * torch.log(s_min).neg().clamp_min(0) + torch.log(s_max).clamp_min(0)))


def usable(q) -> torch.Tensor | float:
    """Whether a source is usable at all given its ``distortion_weight`` q: 1 down to
    q = 0.3 (mild deformation only sways the timing), 0 from q = 0.05 (content smeared
    over several times its size, e.g. piled up against a still edge)."""
    if not torch.is_tensor(q):
        return 1.0
    return smoothstep((q - 0.05) / 0.25)


def validity_map(mask: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """How much a source landing at each pixel is worth: (H, W) float32 in [0, 1].

    0 on frozen pixels, rising from half a pixel inside a mask edge to 1 VALID_RAMP
    px further in. The image border is not an edge (borders are open, see PADDING).
    mask: (H, W) bool, True = moves. scale: grid px per px of `mask` (the ramp is in
    grid px)."""
    return np.clip((inside_distance(mask) * scale - 0.5) / VALID_RAMP, 0.0, 1.0).astype(np.float32)


def soften(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (1, C, h, w) maps, sigma in their px (mirrored at the borders).

    The timing maps switch a point between two unrelated sources; computed per coarse
    cell and only interpolated bilinearly, a switch that differs from one cell to the
    next shows as a blocky patch of the other source. Blurred over a few cells, the
    switch becomes a soft transition."""
    if sigma <= 0:
        return maps
    r = max(1, math.ceil(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=maps.dtype, device=maps.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = maps.shape[1]
    out = maps
    for kernel, pad in ((k.view(1, 1, 1, -1), (r, r, 0, 0)), (k.view(1, 1, -1, 1), (0, 0, r, r))):
        if out.shape[-1 if pad[0] else -2] <= r:  # too small to mirror: replicate
            out = F.conv2d(F.pad(out, pad, mode="replicate"), kernel.expand(c, 1, *kernel.shape[2:]), groups=c)
        else:
            out = F.conv2d(F.pad(out, pad, mode="reflect"), kernel.expand(c, 1, *kernel.shape[2:]), groups=c)
    return out


def smoothstep(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def cycle_bounds(n: int, k: int) -> list[int]:
    """Frame indices where each of k cycles of an n-frame loop starts, then n: k + 1
    increasing ints from 0 to n (cycles of n // k or n // k + 1 frames)."""
    k = max(1, min(int(k), n))
    return [round(j * n / k) for j in range(k + 1)]


def cycle_count(length: float, speed: float, n: int) -> int:
    """How many cycles a region should loop in an n-frame loop (1 .. n // MIN_CYCLE_FRAMES):
    the fewest with which its content travels at most REACH x its length per cycle.

    length: px, the region's typical extent along its motion (e.g. a fall's height).
    speed:  px per frame, the region's typical speed."""
    most = max(1, n // MIN_CYCLE_FRAMES)
    if length <= 0 or speed <= 0:
        return 1
    return int(min(most, max(1, math.ceil(speed * n / (REACH * length) - 1e-9))))


@dataclass
class LoopFrame:
    """One frame of a loop for K points: what to sample and how to blend it.

    t:        frame index, 0 .. N-1.
    fwd, bwd: (K, 2) px: where to sample the forward and the backward source (the
              ripple offset, if any, is already added).
    w_fwd, w_bwd, w_still: (K,) weights of the two sources and of the still photo at
              the point itself (the fallback where neither source is valid); they sum to 1.
    ripple:   (K, 2) px, the ripple displacement of this frame, or None.
    extra_fwd, extra_bwd: (C, K) the `extra` maps given to ``LoopPolicy.frames``, sampled
              at the two sources along with the validity (bilinear), or None.
    """

    t: int
    fwd: torch.Tensor
    bwd: torch.Tensor
    w_fwd: torch.Tensor
    w_bwd: torch.Tensor
    w_still: torch.Tensor
    ripple: torch.Tensor | None = None
    extra_fwd: torch.Tensor | None = None
    extra_bwd: torch.Tensor | None = None


class LoopPolicy:
    """How a loop is assembled from its two sources (see the module docstring).

    n:            frames in the loop.
    fade:         length of each point's cross-over, as a fraction of the loop (at least
                  MIN_FADE_FRAMES frames).
    still_weight: weight of the still photo, the fallback where neither source is valid
                  (times 1 - the better source's usability: 0 where one is fully usable).
    stagger:      per-point cross-over times (False: every point crosses at once,
                  the paper's global cross-fade, with the same smoothstep curve).
    distortion:   scale each source's weight by how little it is deformed.
    coarse_side:  px of the long side of the coarse grid on which the phase and the
                  deformation are computed (both are smooth).
    soften_cells: Gaussian sigma, in coarse px, of the blur of the per-frame timing maps
                  (``soften``): no blocky patches where a cell switches source.
    seed:         of the phase noise (same inputs, same loop).
    """

    def __init__(self, n: int, *, fade: float = 0.15, still_weight: float = 0.01, stagger: bool = True,
                 distortion: bool = True, coarse_side: int = 128, soften_cells: float = 2.0, seed: int = 0):
        if n < 1:
            raise ValueError("a loop needs at least one frame")
        # at least MIN_FADE_FRAMES frames per cross-over, so that short loops dissolve, not pop
        fade = max(fade, MIN_FADE_FRAMES / n)
        self.n, self.fade, self.still_weight = n, float(min(max(fade, 1e-3), 1.0)), still_weight
        self.stagger, self.distortion = stagger, distortion
        self.coarse_side, self.seed, self.soften_cells = coarse_side, seed, soften_cells
        self.coarse_counter = StepCounter()  # Euler steps on the coarse grid (phase and deformation)

    # -- setup ----------------------------------------------------------------------------
    def _coarse(self, field: torch.Tensor):
        """The field on the coarse grid, (1, 6, h, w) with its derivatives, and the
        (sx, sy) coarse px per grid px."""
        _, _, H, W = field.shape
        c = max(1, math.ceil(max(H, W) / self.coarse_side))
        h, w = max(2, math.ceil(H / c)), max(2, math.ceil(W / c))
        sx, sy = w / W, h / H
        small = F.interpolate(field, size=(h, w), mode="area") * torch.tensor(
            [sx, sy], dtype=field.dtype, device=field.device).view(1, 2, 1, 1)
        return field_derivatives(small), (sx, sy)

    @staticmethod
    def _to_coarse(pos: torch.Tensor, scale) -> torch.Tensor:
        sx, sy = scale
        s = torch.tensor([sx, sy], dtype=pos.dtype, device=pos.device)
        return (pos + 0.5) * s - 0.5

    def _walk(self, vel: torch.Tensor, start: torch.Tensor):
        """Yield (k, upstream, downstream) for k = 0 .. n: the points `start` (P, 2) traced
        k steps against and along the coarse velocity (1, 2, h, w)."""
        up = down = start
        yield 0, up, down
        for k in range(1, self.n + 1):
            up = euler_step(up, vel, -1.0, self.coarse_counter)
            down = euler_step(down, vel, 1.0, self.coarse_counter)
            yield k, up, down

    def _along(self, maps: torch.Tensor, vel: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """maps (1, C, h, w) averaged along each point's streamline over one loop each way
        (line integral convolution): (C, P)."""
        total = 0.0
        for k, up, down in self._walk(vel, start):
            total = total + sample(maps, up, padding=PADDING) + (sample(maps, down, padding=PADDING) if k else 0.0)
        return total / (2 * self.n + 1)

    def phase_map(self, coarse: torch.Tensor) -> torch.Tensor:
        """Cross-over time of every coarse point, (1, 1, h, w) in [fade/2, 1 - fade/2]
        (fractions of the loop): smooth noise averaged along the streamlines over the
        loop's reach, spread evenly over the range by rank."""
        _, _, h, w = coarse.shape
        lo, hi = self.fade / 2, 1.0 - self.fade / 2
        dev, dt = coarse.device, coarse.dtype
        if not self.stagger or hi <= lo:
            return torch.full((1, 1, h, w), 0.5, dtype=dt, device=dev)
        rng = np.random.default_rng(self.seed)
        noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0),
                                 0.05 * max(h, w), borderType=cv2.BORDER_REFLECT)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=dt, device=dev), torch.arange(w, dtype=dt, device=dev),
                                indexing="ij")
        start = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1)
        smooth = self._along(torch.from_numpy(noise)[None, None].to(dev, dt), coarse[:, :2], start)[0]
        rank = torch.empty_like(smooth)
        rank[torch.argsort(smooth)] = torch.arange(smooth.numel(), dtype=dt, device=dev)
        return (lo + (hi - lo) * rank / max(smooth.numel() - 1, 1)).view(1, 1, h, w)

    def _timing(self, tl: int, m: int, phase: torch.Tensor, c_f, c_b, cgrid: torch.Tensor, hw) -> tuple:
        """(a_b, usable_f, usable_b), (K,) each: the backward source's share by time, refined
        by the deformation of both sources (``distortion_weight``), and whether each source
        is usable at all (``usable``). Computed on the coarse grid, where all of it is
        smooth, from the coarse states c_f, c_b (P, 6); one bilinear pass to the points.
        tl: frame within its cycle of m frames (the whole loop: m = n); a shorter cycle
        keeps each point's place in the order of cross-overs, with a cross-over of at
        least MIN_FADE_FRAMES."""
        fade = self.fade
        if m != self.n:
            fade = min(1.0, max(self.fade, MIN_FADE_FRAMES / m))
            lo, hi = self.fade / 2, 1.0 - self.fade / 2
            rank = (phase - lo) / (hi - lo) if hi > lo else torch.full_like(phase, 0.5)
            phase = fade / 2 + rank * (1.0 - fade)
        alpha = smoothstep((tl / m - phase) / fade + 0.5)
        if not self.distortion:
            return sample(alpha.view(1, 1, *hw), None, grid=cgrid)[0], 1.0, 1.0
        q_f, q_b = distortion_weight(c_f), distortion_weight(c_b)
        r_f, r_b = (1.0 - alpha) * q_f, alpha * q_b
        a_b = r_b / (r_f + r_b).clamp_min(1e-20)
        maps = soften(torch.stack([a_b, usable(q_f), usable(q_b)]).view(1, 3, *hw), self.soften_cells)
        return tuple(sample(maps, None, grid=cgrid))

    def _blend(self, t, tl, m, p_f, p_b, valid, timing, offset) -> LoopFrame:
        """Weights of frame t at K points, frame tl of their cycle of m frames (see the module
        docstring). valid: (1, 1 + C, H, W), the validity map and C extra maps sampled along
        with it; timing: ``_timing``."""
        a_b, d_f, d_b = timing
        if tl == 0:
            a_b = torch.zeros_like(a_b)                            # exactly: a cycle starts on the photo
        u = tl / m
        if offset is not None:
            p_f, p_b = p_f + offset, p_b + offset
        x_f, x_b = sample(valid, p_f, padding=PADDING), sample(valid, p_b, padding=PADDING)
        g_f, g_b = x_f[0] * d_f, x_b[0] * d_b                      # 0: occluded or badly deformed
        # a source that cannot be used hands its share to the other one (not to the still
        # photo), except at tl = 0 (only the photo) and towards tl = m (the cycle closes)
        w_f = g_f * ((1.0 - a_b) + a_b * (1.0 - u) * (1.0 - g_b))
        w_b = g_b * (a_b + (1.0 - a_b) * u * (1.0 - g_f))
        # the still photo only where no source is fully usable: a constant share of it in every
        # frame was static content under the moving one (it held the measured drift back and
        # softened the detail)
        still = self.still_weight * (1.0 - torch.maximum(g_f, g_b)) + 1e-6
        norm = 1.0 / (w_f + w_b + still)
        extra = (x_f[1:], x_b[1:]) if valid.shape[1] > 1 else (None, None)
        return LoopFrame(t, p_f, p_b, w_f * norm, w_b * norm, still * norm, offset, *extra)

    def _ripple_parts(self, ripple, start: torch.Tensor):
        """(cos part (K, k), sin part (K, k), direction (k, 2), cycles (k,)) of a Ripple at the
        start points, or None."""
        if ripple is None:
            return None
        basis = torch.from_numpy(np.ascontiguousarray(ripple.basis)).to(start.device, start.dtype)
        k, _, h, w = basis.shape
        at = sample(basis.view(1, 2 * k, h, w), start).view(k, 2, -1)
        direction = torch.from_numpy(np.asarray(ripple.direction, np.float32)).to(start.device, start.dtype)
        return at[:, 0].t().contiguous(), at[:, 1].t().contiguous(), direction, np.asarray(ripple.cycles)

    def ripple_offset(self, parts, t: int) -> torch.Tensor | None:
        """(K, 2) px: r(y, t) = sum_k direction_k (C_k (cos w_k t - 1) + S_k sin w_k t),
        w_k = 2 pi cycles_k / n. Zero at t = 0 and periodic with period n."""
        if parts is None:
            return None
        cos_part, sin_part, direction, cycles = parts
        w = 2 * math.pi * cycles * t / self.n
        cw = torch.tensor(np.cos(w) - 1.0, dtype=cos_part.dtype, device=cos_part.device)
        sw = torch.tensor(np.sin(w), dtype=cos_part.dtype, device=cos_part.device)
        return (cos_part * cw + sin_part * sw) @ direction

    def _setup(self, start, field, ripple):
        """Coarse field, the points' coarse grid, phase map, coarse start states, coarse size,
        ripple parts."""
        coarse, scale = self._coarse(field)
        _, _, h, w = coarse.shape
        cgrid = to_grid(self._to_coarse(start, scale), (h, w))
        phase = self.phase_map(coarse).view(-1)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=start.dtype, device=start.device),
                                torch.arange(w, dtype=start.dtype, device=start.device), indexing="ij")
        eye = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=start.dtype, device=start.device).expand(h * w, 4)
        cpoints = torch.cat([torch.stack([xs.reshape(-1), ys.reshape(-1)], 1), eye], 1)
        return coarse, cgrid, phase, cpoints, (h, w), self._ripple_parts(ripple, start)

    # -- the loop -------------------------------------------------------------------------
    def _groups(self, start: torch.Tensor, cycles: torch.Tensor | None) -> list:
        """[(index (K',) of the points, or None for all of them; cycles k)] from a cycles map
        (1, 1, H, W) on the grid of `start` (None: the whole loop is one cycle everywhere).
        The largest group comes first, as None: it is computed at every point (each point's
        trace and weights depend on that point alone) and the other groups overwrite their
        points (``_merge``), so the largest is never copied."""
        if cycles is None:
            return [(None, 1)]
        per_point = sample(cycles.to(start.dtype), start, "nearest")[0].round().clamp(1, self.n).long()
        groups = [(torch.nonzero(per_point == k)[:, 0], int(k)) for k in torch.unique(per_point).tolist()]
        groups.sort(key=lambda g: -len(g[0]))
        return [(None, groups[0][1])] + groups[1:]

    def _cycle_walk(self, k: int, start, field, coarse, cpoints, counter):
        """For t = 0 .. n-1 in k cycles: (tl, m, forward source, backward source, coarse forward
        state, coarse backward state), tl the frame within its cycle of m frames."""
        bounds = cycle_bounds(self.n, k)
        for b0, b1 in zip(bounds, bounds[1:]):
            m = b1 - b0
            fwd, bwd = forward_sources(start, field, m, counter), backward_sources(start, field, m, counter)
            c_fwd = forward_sources(cpoints, coarse, m, self.coarse_counter)
            c_bwd = backward_sources(cpoints, coarse, m, self.coarse_counter)
            for tl in range(m):
                yield tl, m, next(fwd), next(bwd), next(c_fwd), next(c_bwd)

    @staticmethod
    def _merge(groups: list, parts: list) -> LoopFrame:
        """One LoopFrame for all points: the first part's (computed at every point), with the
        points of the other groups overwritten by theirs."""
        base = parts[0]
        if len(parts) == 1:
            return base
        # the positions may be the very tensors the traces go on from (or `start`): copies
        base.fwd, base.bwd = base.fwd.clone(), base.bwd.clone()
        for (idx, _), p in zip(groups[1:], parts[1:]):
            for name in ("fwd", "bwd", "w_fwd", "w_bwd", "w_still", "ripple", "extra_fwd", "extra_bwd"):
                dst = getattr(base, name)
                if dst is not None:                                     # extras are (C, K), the rest (K, ...)
                    dst.index_copy_(1 if name.startswith("extra") else 0, idx, getattr(p, name))
        return base

    def frames(self, start: torch.Tensor, field: torch.Tensor, valid: torch.Tensor, *, ripple=None,
               extra: torch.Tensor | None = None, cycles: torch.Tensor | None = None,
               counter: StepCounter | None = None) -> Iterator[LoopFrame]:
        """The n frames of the loop at the points `start`, incrementally (O(n) steps in all).

        start:  (K, 2) px on the grid of `field`.
        field:  (1, 2, H, W) px per frame (zero in rippling regions).
        valid:  (1, 1, H, W) ``validity_map`` of the mask on the same grid.
        ripple: a ``motion.Ripple`` at this grid's size (``Ripple.resized``), or None.
        extra:  (1, C, H, W) maps an engine needs at both sources (e.g. a low-pass photo),
                sampled in the same pass as the validity: LoopFrame.extra_fwd / extra_bwd.
        cycles: (1, 1, H, W) whole cycles per loop of every point (``cycle_count``; read at
                the nearest grid point), or None: one cycle everywhere.
        counter: counts the Euler steps of the two sources at `start` (at most 3n per
                distinct number of cycles).
        """
        valid = valid if extra is None else torch.cat([valid, extra], 1)
        coarse, cgrid, phase, cpoints, hw, parts = self._setup(start, field, ripple)
        groups = self._groups(start, cycles)
        walks = [self._cycle_walk(k, start if idx is None else start[idx], field, coarse,
                                  cpoints, counter) for idx, k in groups]
        grids = [cgrid if idx is None else cgrid[:, :, idx] for idx, _ in groups]  # each group's coarse grid
        for t in range(self.n):
            offset = self.ripple_offset(parts, t)
            frames = []
            for (idx, _), walk, grid in zip(groups, walks, grids):
                tl, m, p_f, p_b, c_f, c_b = next(walk)
                timing = self._timing(tl, m, phase, c_f, c_b, grid, hw)
                frames.append(self._blend(t, tl, m, p_f, p_b, valid, timing,
                                          offset if offset is None or idx is None else offset[idx]))
            yield self._merge(groups, frames)

    def frame(self, t: int, start: torch.Tensor, field: torch.Tensor, valid: torch.Tensor, *,
              ripple=None, extra: torch.Tensor | None = None, cycles: torch.Tensor | None = None) -> LoopFrame:
        """Frame t computed the straightforward way (every trace integrated from the start of
        its cycle): the reference that ``frames`` must match, for tests."""
        valid = valid if extra is None else torch.cat([valid, extra], 1)
        coarse, cgrid, phase, cpoints, hw, parts = self._setup(start, field, ripple)
        offset = self.ripple_offset(parts, t)
        groups = self._groups(start, cycles)
        frames = []
        for idx, k in groups:
            bounds = cycle_bounds(self.n, k)
            j = max(i for i in range(len(bounds) - 1) if bounds[i] <= t)
            tl, m = t - bounds[j], bounds[j + 1] - bounds[j]
            points = start if idx is None else start[idx]
            grid = cgrid if idx is None else cgrid[:, :, idx]
            timing = self._timing(tl, m, phase, trace(cpoints, coarse, -1.0, tl), trace(cpoints, coarse, 1.0, m - tl),
                                  grid, hw)
            frames.append(self._blend(t, tl, m, trace(points, field, -1.0, tl), trace(points, field, 1.0, m - tl),
                                      valid, timing, offset if offset is None or idx is None else offset[idx]))
        return self._merge(groups, frames)
