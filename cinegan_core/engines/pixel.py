"""The weight-free renderer: warps the photo itself.

Per frame, every moving pixel gathers the photo at the two sources the loop
policy gives it (``loop.LoopPolicy``: open image borders, occluding mask edges,
staggered and distortion-aware cross-over, ripple displacement) and blends them
with the policy's weights.

Resampling keeps the grain. Any interpolation at a sub-pixel offset removes the
finest, pixel-level detail (at a half-pixel diagonal offset bicubic keeps less
than half of the Laplacian energy of a photo), so a drifting region would look
softer than the still photo around it. The photo is split into a smooth part
(Gaussian, ``grain_sigma`` px), gathered bilinearly in the same pass as the
policy's validity, and the grain (photo minus smooth part), gathered from the
nearest pixel: the grain moves in whole pixels, which the eye does not see in
noise-like detail, and keeps its contrast. Which whole pixel is taken is decided
with a smooth per-pixel dither of the rounding threshold (``grain_dither``), so
that the grain of a slow drift does not jump everywhere at once every few frames
(a stutter, worst at the wrap where every pixel starts on the grid) but a little
of it at every frame, as the smooth part does.

The blend keeps the grain too: blending two unrelated textures halves their
fine-detail variance (the washed-out "double exposure"), so the smooth parts are
blended linearly and the grain is rescaled by
``1 / sqrt(sum w_i^2 + 2 w_f w_b rho)``, which keeps its contrast (the
variance-preserving blend of Heitz & Neyret 2018). rho, the correlation of the
two grain samples, falls with the distance between the two sources, so nothing
is over-sharpened where they (nearly) coincide.

The smooth part keeps its contrast too. Mid-way through a cross-over the smooth
parts of two unrelated pieces of texture (a fall's streaks, a cloud's billows)
averaged 50/50 lose up to a third of their amplitude, which shows as a fall that
goes soft mid-loop. Their blend is rescaled about its local mean (``LocalContrast``)
by sqrt((a v_f + b v_b) / (a^2 v_f + b^2 v_b + 2 a b c)), where a, b are the two
shares and v_f, v_b, c the local variances and covariance of the two samples,
measured per frame in a window of ``VP_WINDOW`` of the long side (at least
``VP_WINDOW_MIN`` px): where the two sources show the same content (c = v) nothing
changes, where they are unrelated the blend has the contrast of either; the local
mean, and so every coarser brightness (the sky's gradient, a glow), is unchanged,
and the gain is at most that of an uncorrelated 50/50 blend (1.41).

The detail moves, the smooth base stays (``composite.Rebase``, ``detail.py``): the
photo is split into its base over the moving region (a local linear fit: the sky's
gradient, a glow, a vignette) and its detail; only the detail is split into smooth
part and grain and moved as above, and every frame adds the base back at each pixel
where it is. So the gradient never slides and nothing of it shows as a halo where
content comes out from behind a frozen edge.

Small frozen islands inside a moving region (``MotionPlan.holes``: a bird, a speck
the mask kept still) are passed behind, the soft edge and the paste over the photo
are those of every engine (``composite``): frozen pixels are the photo's bytes.
"""
from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np
import torch

from ..composite import Paste, Rebase, fill_outside, pass_behind
from ..detail import LUMA
from ..loop import PADDING, LoopPolicy, StepCounter, sample, soften, to_grid, validity_map
from ..motion import as_plan
from .base import Engine, Progress


GRAIN_DITHER_SIGMA = 4.0   # px: size of the patches whose grain steps to the next pixel together
VP_WINDOW = 0.01           # the window whose mean and contrast a cross-over keeps (``LocalContrast``): share of
VP_WINDOW_MIN = 4          # the long side, and at least this many px


def grain_dither(shape: tuple[int, int], sigma: float = GRAIN_DITHER_SIGMA, seed: int = 0) -> np.ndarray:
    """Offsets of the grain's rounding threshold: (2, H, W) float32 in (-0.49, 0.49) px,
    (dx, dy), each uniformly distributed and smooth over ~sigma px.

    The grain is taken from the pixel nearest to source + offset. With |offset| < 0.5 the
    pixel nearest to an on-grid source is unchanged (frame 0 stays the photo), while a
    source moving at s px per frame reaches its next pixel after a uniformly spread
    number of frames: about s of the region's grain steps at each frame, at the wrap too.
    Smooth offsets keep neighbouring grain together (no per-pixel scrambling)."""
    H, W = shape
    rng = np.random.default_rng(seed)
    out = np.empty((2, H, W), np.float32)
    for i in range(2):
        g = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), sigma,
                             borderType=cv2.BORDER_REFLECT)
        g /= max(float(g.std()), 1e-12)
        out[i] = np.clip(torch.special.ndtr(torch.from_numpy(g)).numpy() - 0.5, -0.49, 0.49)  # uniform
    return out


class LocalContrast:
    """Gain and local mean that keep the contrast of a blend of two sources (see the module docstring).

    index:  (K,) int64 flat indices of the K moving pixels of an (H, W) image.
    shape:  (H, W).
    window: px, the side of the square cells the statistics are gathered on.
    The statistics are summed on cells of `window` px over (a sample of) the points that are mid-way
    through a cross-over (each source has more than ``MIN_SHARE`` of the weight; elsewhere
    the blend is one source and is left as it is) and smoothed over a cell
    (normalised convolution: frozen pixels and settled points do not count)."""

    MIN_SHARE = 0.02   # the smaller source's share from which a point is mid-way through its cross-over
    EVERY = 3          # the window statistics are taken from every EVERY-th such point (raster order)

    def __init__(self, index: torch.Tensor, shape: tuple[int, int], window: float):
        H, W = shape
        self.cell = max(1, int(round(window)))
        self.coarse = (-(-H // self.cell), -(-W // self.cell))
        ys, xs = index // W, index % W
        self.cell_of = (ys // self.cell) * self.coarse[1] + xs // self.cell        # (K,) coarse cell of each point
        self.pos = (torch.stack([xs, ys], 1).to(torch.float32) + 0.5) / self.cell - 0.5   # (K, 2) coarse px
        self.luma = torch.tensor(LUMA, dtype=torch.float32, device=index.device).view(3, 1)

    def __call__(self, a: torch.Tensor, b: torch.Tensor, w_a: torch.Tensor,
                 w_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """a, b: (3, K) values of the two sources; w_a, w_b: (K,) their weights.
        Returns (sel, mean, gain): the points mid-way through a cross-over, (K',) int64, the
        local mean of their blend, (3, K'), and its gain, (K',), >= 1; or None when no point
        is mid-way (frame 0 of every cycle)."""
        sel = torch.nonzero(torch.minimum(w_a, w_b) > self.MIN_SHARE)[:, 0]   # the weights sum to about 1
        if sel.numel() == 0:
            return None
        some = sel[::self.EVERY].contiguous()              # the statistics from a sample of the points
        a, b = a.index_select(1, some), b.index_select(1, some)
        w_a, w_b = w_a.index_select(0, some), w_b.index_select(0, some)
        la, lb = (self.luma * a).sum(0), (self.luma * b).sum(0)
        chans = torch.cat([a, b, torch.stack([la * la, lb * lb, la * lb, w_a, w_b, torch.ones_like(la)])])
        h, w = self.coarse
        sums = torch.zeros(chans.shape[0], h * w, dtype=chans.dtype, device=chans.device)
        sums.index_add_(1, self.cell_of.index_select(0, some), chans)
        m = soften(sums.view(1, -1, h, w), 1.0)[0]
        m = m[:-1] / m[-1:].clamp_min(1e-6)
        mu_a, mu_b, (saa, sbb, sab, wa, wb) = m[0:3], m[3:6], m[6:]
        ma, mb = (self.luma.view(3, 1, 1) * mu_a).sum(0), (self.luma.view(3, 1, 1) * mu_b).sum(0)
        va, vb = (saa - ma * ma).clamp_min(0), (sbb - mb * mb).clamp_min(0)
        cab = torch.minimum((sab - ma * mb).clamp_min(0), (va * vb).sqrt())
        s = (wa + wb).clamp_min(1e-6)
        an, bn = wa / s, wb / s
        blend = an * an * va + bn * bn * vb + 2 * an * bn * cab
        gain = ((an * va + bn * vb) / blend.clamp_min(1e-6)).sqrt()
        gain = torch.minimum(gain.clamp_min(1.0), (an * an + bn * bn).clamp_min(0.5).rsqrt())
        gain = torch.where(blend > 1e-4, gain, torch.ones_like(gain))   # no texture: nothing to keep
        mean = wa * mu_a + wb * mu_b
        out = sample(torch.cat([mean, gain[None]])[None], self.pos.index_select(0, sel), padding="border")
        return sel, out[:3], out[3]


class PixelEngine(Engine):
    """Weight-free cinemagraph renderer.

    fade:          length of each pixel's cross-over, fraction of the loop (``LoopPolicy``).
    stagger:       per-pixel cross-over times (False: the whole region crosses at once).
    distortion:    prefer the less deformed source (``LoopPolicy``).
    grain_sigma:   px; Gaussian that splits the photo into a smooth part, gathered
                   bilinearly, and the grain, gathered from the nearest pixel
                   (0 = everything bilinear, no grain).
    vp_blend:      keep the contrast of the grain and of the smooth part where two sources
                   are blended (variance-preserving, ``LocalContrast``; False = plain linear blend).
    still_weight:  weight of the still photo, the fallback where neither source is valid.
    rebase:        move the detail only, keep the smooth base in place (``composite.Rebase``;
                   False: the whole photo moves, gradient and all).
    edge_hold:     with rebase, the base also holds a glow hugging a frozen thing where content
                   is carried along (``composite.carried_hold``; False: for comparison only).
    feather_px:    width of the soft edge inside the mask, px (None: ``composite.feather_width``).
    device:        torch device ("cpu", "cuda", ...).
    """

    name = "pixel"

    def __init__(self, *, fade: float = 0.15, stagger: bool = True, distortion: bool = True,
                 grain_sigma: float = 1.0, vp_blend: bool = True, still_weight: float = 0.01,
                 rebase: bool = True, edge_hold: bool = True, feather_px: float | None = None,
                 device: str | torch.device = "cpu"):
        self.fade, self.stagger, self.distortion = fade, stagger, distortion
        self.grain_sigma, self.vp_blend = grain_sigma, vp_blend and grain_sigma > 0   # the grain's part
        self.keep_contrast = vp_blend                                                  # the smooth part's
        self.still_weight, self.rebase, self.edge_hold = still_weight, rebase, edge_hold
        self.feather_px = feather_px
        self.device = torch.device(device)

    def policy(self, n: int) -> LoopPolicy:
        return LoopPolicy(n, fade=self.fade, still_weight=self.still_weight, stagger=self.stagger,
                          distortion=self.distortion)

    def frames(self, photo: np.ndarray, mask: np.ndarray, motion, n: int, *,
               progress: Progress | None = None, counter: StepCounter | None = None) -> Iterator[np.ndarray]:
        """Yield the n frames of the loop.

        photo:  (H, W, 3) uint8. mask: (H, W) bool, True = moves.
        motion: a ``motion.MotionPlan`` at this size, or a bare (2, H, W) float32 field
                (px per frame, zero outside the mask).
        Yields (H, W, 3) uint8 frames; frame 0 is the photo.
        """
        plan = as_plan(motion)
        H, W, _ = photo.shape
        if mask.shape != (H, W) or plan.field.shape != (2, H, W):
            raise ValueError(f"photo {photo.shape}, mask {mask.shape}, field {plan.field.shape} disagree")
        if plan.ripple is not None and plan.ripple.basis.shape[2:] != (H, W):
            raise ValueError(f"ripple {plan.ripple.basis.shape} does not match the photo {photo.shape}")
        dev = self.device
        # frozen pixels are replaced by the nearest moving ones in what is sampled, so
        # neither the footprint of a sample nor a blur drags them into moving content;
        # small frozen islands (plan.holes) are passed behind: sampled inpainted, not occluders
        source, passable = pass_behind(photo, mask, plan.holes, field=plan.field, veil=plan.veil)
        photo_f = fill_outside(source, passable).astype(np.float32)
        flat = np.flatnonzero(mask)
        base = None
        if self.rebase:
            # what moves is the detail over the region's smooth base; the base is added back in place
            rebase = Rebase.for_loop(source, passable, plan, index=flat, device=dev, hold=self.edge_hold)
            photo_f = photo_f - rebase.base_image[0].permute(1, 2, 0).cpu().numpy()
            base = rebase.base
        smooth = photo_f
        if self.grain_sigma > 0:
            smooth = cv2.GaussianBlur(photo_f, (0, 0), self.grain_sigma, borderType=cv2.BORDER_REFLECT)

        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].contiguous().to(dev)

        smooth_t, grain_t = tensor(smooth), tensor(photo_f - smooth)
        valid = torch.from_numpy(validity_map(passable))[None, None].to(dev)
        field = torch.from_numpy(plan.field)[None].to(dev)

        ys, xs = np.divmod(flat, W)
        start = torch.from_numpy(np.stack([xs, ys], 1).astype(np.float32)).to(dev)
        idx = torch.from_numpy(flat).to(dev)
        still_smooth, still_grain = smooth_t.view(3, -1)[:, idx], grain_t.view(3, -1)[:, idx]
        # the soft edge blends toward the photo as split here (base + smooth + grain); the base is
        # added to every frame's values by the paste (the weights sum to 1: it stays in place)
        still = still_smooth + still_grain if base is None else still_smooth + still_grain + base
        paste = Paste(photo, mask, feather_px=self.feather_px, device=dev, still=still, offset=base)
        nudge = 2e-3 / max(H, W)  # in grid units: no ties between two nearest pixels
        if self.grain_sigma > 0:
            dither = torch.from_numpy(grain_dither((H, W)).reshape(2, -1)[:, flat].T.copy()).to(dev)
            offset = to_grid(dither, (H, W)) + 1.0 + nudge     # (1, 1, K, 2): the dither in grid units

        def grain(pos):
            if self.grain_sigma <= 0:
                return 0.0
            return sample(grain_t, pos, "nearest", PADDING, to_grid(pos, (H, W)) + offset)

        # the smooth part travels with the validity (one bilinear pass per source)
        cycles = None if plan.cycles is None else torch.from_numpy(plan.cycles.astype(np.float32))[None, None].to(dev)
        loop = self.policy(n).frames(start, field, valid, ripple=plan.ripple, extra=smooth_t, cycles=cycles,
                                     counter=counter)
        contrast = LocalContrast(idx, (H, W), max(VP_WINDOW * max(H, W), VP_WINDOW_MIN)) if self.keep_contrast else None
        for t, lf in enumerate(loop):
            w_f, w_b, w_s = lf.w_fwd, lf.w_bwd, lf.w_still
            moving = w_f * lf.extra_fwd + w_b * lf.extra_bwd
            kept = None if contrast is None else contrast(lf.extra_fwd, lf.extra_bwd, w_f, w_b)
            if kept is not None:
                sel, mean, gain = kept
                part = moving.index_select(1, sel)
                moving.index_copy_(1, sel, torch.addcmul(part, part - mean, gain - 1.0))
            low_mix = moving + w_s * still_smooth
            detail = w_f * grain(lf.fwd) + w_b * grain(lf.bwd) + w_s * still_grain
            if self.vp_blend:
                d2 = ((lf.fwd - lf.bwd) ** 2).sum(1)
                rho = torch.exp(-d2 / (self.grain_sigma ** 2))
                q = w_f ** 2 + w_b ** 2 + w_s ** 2 + 2 * w_f * w_b * rho + 2 * w_s * (w_f + w_b)
                detail = detail * q.rsqrt()
            result = paste(low_mix + detail)
            if progress is not None:
                progress({"stage": "render", "step": t + 1, "total": n})
            yield result
