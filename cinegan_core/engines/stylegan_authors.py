"""MSDFW the way the authors' released code does it (``warp_blend_feature`` in
StyleCineGAN's ``models/stylegan2/model.py`` with ``utils/cinemagraph_utils.py``
and ``utils/joint_splatting.py``), written from that code's behaviour so a user
with the real weights can compare it with our default path
(``StyleGANEngine(..., authors=True)``). bench/parity.py checks it against the
authors' code to float tolerance; weights/README.md says why the default departs.

For frame t of an N-frame loop, at every scale r from the inject block up
(the inject block's first-conv output, then each block's output):

* the motion field, given at half the canvas size (their ``*_motion.npy`` is
  512 x 512 for the 1024 canvas), is resized by repeated halving / doubling
  (bilinear, vectors scaled), the feature and field lose ``cut_size(r)`` px on
  each side and are reflect-padded by ``pad_size``;
* the padded field is Euler-integrated t steps forward and N-1-t steps along
  its negation, reading the field at the *rounded* position, a pixel that ever
  leaves the padded field keeping a zero displacement;
* both copies of the feature are forward-splatted (bilinear splatting, "linear"
  softmax-splatting normalisation) with weights 1 - alpha and alpha,
  alpha = t / (N - 1), into one map; pixels nothing lands on are filled with a
  7 x 7 box filter of the result; the centre is cropped back to r x r.

The inject block's RGB layer gets no skip from below (the generator's own
low-resolution RGB is dropped); above it the skips are summed as usual. No
colour residual. Frame N-1 equals frame 0 (alpha 1 with zero backward steps).

Displacements are integrated once for the whole loop (forward incrementally,
backward from checkpoints every ~sqrt(N) steps, replayed in reverse), unlike the
authors' code, which restarts from frame 0 for every frame and scale; the
results are the same.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F


def cut_size(size: int) -> int:
    """Border px the authors drop (and refill by padding) before warping a size x size map."""
    return {1024: 3, 512: 2, 256: 1}.get(size, 0)


def pad_size(size: int) -> int:
    """Reflect padding the authors add around a size x size map before warping."""
    return size // 4 + size // 8


def resize_flow(flow: torch.Tensor, size: int) -> torch.Tensor:
    """(1, 2, h, h) px per frame -> (1, 2, size, size): halve or double (bilinear,
    half-pixel centres) until the size matches, scaling the vectors each time.
    Sizes must differ by a power of two."""
    shrink = flow.shape[-1] > size
    while flow.shape[-1] != size:
        h = flow.shape[-1] // 2 if shrink else flow.shape[-1] * 2
        if h < 1 or (shrink and h < size) or (not shrink and h > size):
            raise ValueError(f"cannot resize a {flow.shape[-1]} px field to {size} px by factors of 2")
        flow = F.interpolate(flow, size=(h, h), mode="bilinear", align_corners=False)
        flow = flow / 2 if shrink else flow * 2
    return flow


class Integrator:
    """Euler integration of a padded motion field the authors' way.

    motion: (2, P, P) px per step at this scale. State: (positions (2, P, P) float32,
    x then y; `gone` (P, P) bool, set for good once a pixel leaves [0, P-1]; such
    a pixel sits at its start)."""

    def __init__(self, motion: torch.Tensor):
        self.motion = motion
        p = motion.shape[-1]
        ys, xs = torch.meshgrid(torch.arange(p, device=motion.device, dtype=motion.dtype),
                                torch.arange(p, device=motion.device, dtype=motion.dtype), indexing="ij")
        self.start = torch.stack([xs, ys])
        self.last = p - 1

    def initial(self):
        return self.start, torch.zeros(self.start.shape[1:], dtype=torch.bool, device=self.start.device)

    def step(self, state):
        pos, gone = state
        ix, iy = torch.round(pos[0]).long(), torch.round(pos[1]).long()
        pos = pos + self.motion[:, iy, ix]
        gone = gone | (pos[0] > self.last) | (pos[0] < 0) | (pos[1] > self.last) | (pos[1] < 0)
        return torch.where(gone, self.start, pos), gone

    def displacement(self, state) -> torch.Tensor:
        return state[0] - self.start


def ascending(initial, step: Callable, n: int) -> Iterator:
    """States after 0, 1, ..., n-1 steps."""
    state = initial
    for k in range(n):
        if k:
            state = step(state)
        yield state


def descending(initial, step: Callable, n: int) -> Iterator:
    """States after n-1, n-2, ..., 0 steps: one pass keeping a checkpoint every
    ~sqrt(n) steps, then each segment replayed and yielded in reverse (at most
    2n steps, O(sqrt(n)) states held)."""
    every = max(1, math.isqrt(n))
    checkpoints = {}
    state = initial
    for k in range(n):
        if k:
            state = step(state)
        if k % every == 0:
            checkpoints[k] = state
    for k0 in sorted(checkpoints, reverse=True):
        k1 = min(k0 + every, n)  # exclusive
        segment = [checkpoints[k0]]
        for _ in range(k0 + 1, k1):
            segment.append(step(segment[-1]))
        yield from reversed(segment)
        del segment


def splat(values: torch.Tensor, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
          num: torch.Tensor, den: torch.Tensor) -> None:
    """Forward bilinear splatting, accumulated in place.

    values: (P*P, C) source map, pixel-major; x, y: (P, P) float32 target positions
    in px of the P x P output; weight: 0-d tensor, the source's importance (the
    authors' Z); num (P*P, C) receives sum(values * weight * w_bilinear), den (P*P,)
    receives sum(weight * w_bilinear). Corners outside the output are dropped."""
    p = x.shape[-1]
    weighted = values * weight
    x0, y0 = torch.floor(x), torch.floor(y)
    x1, y1 = x0 + 1, y0 + 1
    for cx, cy, w in ((x0, y0, (x1 - x) * (y1 - y)), (x1, y0, (x - x0) * (y1 - y)),
                      (x0, y1, (x1 - x) * (y - y0)), (x1, y1, (x - x0) * (y - y0))):
        inside = ((cx >= 0) & (cx < p) & (cy >= 0) & (cy < p)).flatten()
        idx = (cy.flatten()[inside] * p + cx.flatten()[inside]).long()
        wv = w.flatten()[inside]
        num.index_add_(0, idx, weighted[inside] * wv[:, None])
        den.index_add_(0, idx, weight * wv)


class LevelWarp:
    """The authors' warp of one scale for one frame.

    size: the map's side r; d_fwd, d_bwd: (2, P, P) displacements on the padded grid
    (t steps forward, N-1-t steps along the negated field); alpha: the backward weight."""

    def __init__(self, size: int, d_fwd: torch.Tensor, d_bwd: torch.Tensor, alpha: float):
        self.size, self.cut, self.pad = size, cut_size(size), pad_size(size - 2 * cut_size(size))
        self.d_fwd, self.d_bwd, self.alpha = d_fwd, d_bwd, alpha

    def __call__(self, feat: torch.Tensor) -> torch.Tensor:
        """feat (1, C, r, r) -> the warped (1, C, r, r)."""
        c, p = self.cut, self.pad
        if c:
            feat = feat[:, :, c:-c, c:-c]
        padded = F.pad(feat, (p, p, p, p), mode="reflect")[0]
        ch, side = padded.shape[0], padded.shape[-1]
        values = padded.reshape(ch, -1).T.contiguous()
        ar = torch.arange(side, device=feat.device, dtype=feat.dtype)
        ys, xs = torch.meshgrid(ar, ar, indexing="ij")
        num = torch.zeros(side * side, ch, device=feat.device, dtype=feat.dtype)
        den = torch.zeros(side * side, device=feat.device, dtype=feat.dtype)
        z_f = torch.tensor(1.0 - self.alpha, device=feat.device, dtype=feat.dtype)
        z_b = torch.tensor(self.alpha, device=feat.device, dtype=feat.dtype)
        splat(values, xs + self.d_fwd[0], ys + self.d_fwd[1], z_f, num, den)
        # the backward copy sits to the right of the forward one in the authors' joint
        # splatting (x displacement offset by -side): the same targets, with their rounding
        splat(values, (xs + side) + (self.d_bwd[0] - side), ys + self.d_bwd[1], z_b, num, den)
        blank = (den == 0).reshape(1, 1, side, side)
        out = (num / torch.where(den == 0, torch.ones_like(den), den)[:, None]).T.reshape(1, ch, side, side)
        if bool(blank.any()):
            box = torch.ones(ch, 1, 7, 7, device=feat.device, dtype=feat.dtype) / 49
            out = torch.where(blank, F.conv2d(out, box, padding=3, groups=ch), out)
        start = (side - self.size) // 2
        return out[:, :, start:start + self.size, start:start + self.size]


def level_motions(flow: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The padded forward and negated fields (2, P, P) of one scale, from the
    half-canvas field (1, 2, h, h)."""
    f = resize_flow(flow, size)
    c = cut_size(size)
    if c:
        f = f[:, :, c:-c, c:-c]
    p = pad_size(size - 2 * c)
    return (F.pad(f, (p, p, p, p), mode="reflect")[0], F.pad(-f, (p, p, p, p), mode="reflect")[0])


def loop_warps(flow: torch.Tensor, sizes: list[int], n: int) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
    """For t = 0 .. n-1, a warp(feat) applying the authors' warp of frame t at the
    feature's scale (one of `sizes`). flow: (1, 2, h, h) px per frame at h = half
    the canvas, float32."""
    if n < 2:
        raise ValueError("the authors' loop needs at least 2 frames (alpha = t / (N - 1))")
    streams = {}
    for r in sizes:
        fwd, bwd = (Integrator(m) for m in level_motions(flow, r))
        streams[r] = (fwd, bwd, ascending(fwd.initial(), fwd.step, n), descending(bwd.initial(), bwd.step, n))
    for t in range(n):
        alpha = t / (n - 1)
        levels = {}
        for r, (fwd, bwd, up, down) in streams.items():
            levels[r] = LevelWarp(r, fwd.displacement(next(up)), bwd.displacement(next(down)), alpha)
        yield lambda feat, levels=levels: levels[feat.shape[-1]](feat)


@torch.no_grad()
def canvas_frames(backbone, trunk, flow: torch.Tensor, n: int) -> Iterator[torch.Tensor]:
    """The authors' loop on the canvas: n tensors (1, 3, S, S) from a cached trunk.

    flow: (1, 2, S/2, S/2) px per frame at half the canvas size, zero outside the
    moving region. The RGB layers above the inject block are linear per pixel and
    the authors' warp (splatting, box fill, padding, crop) is linear in the map,
    so their cached outputs (without bias) are warped instead of the features."""
    g, lat = backbone.g, trunk.latent
    inject = backbone.inject
    i = g.first_index(inject)
    for warp in loop_warps(flow, backbone.scales, n):
        x = g.layer(i + 1)(warp(trunk.first), lat[:, i + 1], g.noise(i + 1))
        skip = g.to_rgb(inject)(x, lat[:, i + 2])  # no skip from below: the authors drop it
        for r in backbone.scales[1:]:
            bias = g.to_rgb(r).bias
            skip = g.to_rgb(r).upsample(skip) + (warp(trunk.rgb[r] - bias) + bias)
        yield skip
