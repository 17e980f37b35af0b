"""The stylegan engine: multi-scale deep feature warping (MSDFW), StyleCineGAN's method.

It renders; it never predicts. Per photo it uses the shared backbone
(``predictors/backbone.py``, cached by photo hash and shared with the learned
mask and motion predictors):
  * the photo is placed on the generator's square canvas (see ``place``);
  * the feature-style encoder inverts it: W+ latent and a feature that replaces
    the input of the block at ``inject`` resolution (128 for a 1024 generator,
    method index 9);
  * the trunk: everything that does not depend on the frame. The generator's
    own low-resolution RGB skip (up to inject / 2), the first convolution of the
    inject block (its output is what the authors warp at that scale), and the
    RGB outputs of every higher block. Also the unwarped reconstruction, whose
    low-passed difference from the photo corrects the colours of every frame.

Per frame t of N, with the loop's forward and backward displacements
(integrated once for the whole loop, ``loop.py``), at each scale r from
inject up to the canvas size the cached map is warped (bilinear gather)
from both sources and blended; only the second convolution of the inject block
(it reads a warped feature) and the 1x1 RGB layers run per frame, and the RGB
skips are summed as in the generator. The authors' code instead recomputes the
generator from the feature onwards and re-integrates the motion from frame 0
for every frame and scale; ``reference_canvas`` keeps that straightforward
computation for the tests.

``authors=True`` renders the authors' own variant instead (forward splatting,
alpha = t / (N-1), no low-resolution skip; ``stylegan_authors.py``), for
comparison; weights/README.md lists each departure of the default and why.

Any aspect ratio: the photo is scaled so its long side fits the canvas and
the rest of the square is filled by mirroring the photo (the generator sees a
plausible landscape and nothing is squashed or cropped); the animated canvas is
cropped back to the photo's box and resized to the render size, re-based on the
photo's smooth base so that only the detail moves (``composite.Rebase``, the rule
both engines follow), and only the moving region is composited over the untouched photo (``composite``: the soft
edge, the paste, and small frozen islands passed behind: the photo is inverted
with them inpainted and they do not occlude, as in the pixel engine).
"""
from __future__ import annotations

from typing import Callable, Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..composite import Paste, Rebase, pass_behind
from ..loop import PADDING, LoopFrame, LoopPolicy, StepCounter, validity_map
from ..motion import as_plan
from ..predictors.backbone import Backbone, Placement, Trunk, place, to_tensor
from . import stylegan_authors
from .base import Engine, Progress

__all__ = ["StyleGANEngine", "Warp", "identity_warp", "place", "to_canvas_field", "Placement", "Trunk"]


def to_canvas_field(field: np.ndarray, where: Placement, size: int) -> np.ndarray:
    """A (2, H, W) render-size field placed on the canvas, (2, S, S), px per frame
    at canvas scale; zero outside the photo."""
    _, h, w = field.shape
    out = np.zeros((2, size, size), np.float32)
    f = cv2.resize(np.moveaxis(field, 0, -1), (where.w, where.h), interpolation=cv2.INTER_LINEAR)
    f = np.moveaxis(f, -1, 0)
    out[0, where.y0:where.y0 + where.h, where.x0:where.x0 + where.w] = f[0] * (where.w / w)
    out[1, where.y0:where.y0 + where.h, where.x0:where.x0 + where.w] = f[1] * (where.h / h)
    return out


def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
    if x.shape[-1] == r:
        return x
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=x.shape[-1] > r)


class Warp:
    """One frame's blend of forward and backward sources, applicable at any scale.

    d_fwd, d_bwd: (1, 2, G, G) displacements in px of a G x G grid over the canvas.
    w_fwd, w_bwd, w_still: (1, 1, G, G) blend weights (sum 1).
    """

    def __init__(self, d_fwd, d_bwd, w_fwd, w_bwd, w_still):
        self.g = d_fwd.shape[-1]
        self.d_fwd, self.d_bwd = d_fwd, d_bwd
        self.w = (w_fwd, w_bwd, w_still)
        self._at: dict[int, tuple] = {}

    def _prepared(self, r: int, device, dtype):
        if r not in self._at:
            scale = r / self.g
            ys, xs = torch.meshgrid(torch.arange(r, device=device, dtype=dtype),
                                    torch.arange(r, device=device, dtype=dtype), indexing="ij")
            base = torch.stack([xs, ys], -1)[None]                       # (1, r, r, 2) px
            norm = 2.0 / max(r - 1, 1)
            grids = [((base + _resize(d, r).permute(0, 2, 3, 1) * scale) * norm - 1.0).to(dtype)
                     for d in (self.d_fwd, self.d_bwd)]
            weights = [_resize(w, r).to(dtype) for w in self.w]
            self._at[r] = (grids, weights)
        return self._at[r]

    def __call__(self, feat: torch.Tensor) -> torch.Tensor:
        (g_f, g_b), (w_f, w_b, w_s) = self._prepared(feat.shape[-1], feat.device, feat.dtype)
        f = F.grid_sample(feat, g_f, mode="bilinear", padding_mode=PADDING, align_corners=True)
        b = F.grid_sample(feat, g_b, mode="bilinear", padding_mode=PADDING, align_corners=True)
        return w_f * f + w_b * b + w_s * feat


def identity_warp(feat: torch.Tensor) -> torch.Tensor:
    return feat


class StyleGANEngine(Engine):
    """MSDFW renderer over a ``predictors.Backbone`` (or loaded ``weights.Networks``).

    nets:              a Backbone (shared with the learned predictors) or weights.Networks.
    device:            torch device (when nets are Networks).
    inject_resolution: output resolution of the block whose input is the encoder
                       feature (None: generator size / 8, i.e. 128 at 1024).
    grid:              px of the grid the loop is integrated on (<= canvas size).
    fade:              length of each point's cross-over, fraction of the loop (``loop.LoopPolicy``).
    still_weight:      weight of the unwarped feature, the fallback where neither source is valid.
    authors:           render the way the authors' released code does (forward
                       splatting with their padding, alpha = t / (N-1), N-1-t backward
                       steps, no low-resolution skip, no colour residual; see
                       ``stylegan_authors``). Their loop repeats frame 0 as frame N-1.
    rebase:            keep the photo's smooth base in the moving region, move only the detail
                       (``composite.Rebase``, as the pixel engine does; not in the authors' variant).
    """

    name = "stylegan"

    def __init__(self, nets, device="cpu", inject_resolution: int | None = None, grid: int = 512,
                 fade: float = 0.15, still_weight: float = 0.01, keep: int = 2, authors: bool = False,
                 rebase: bool = True):
        self.backbone = nets if isinstance(nets, Backbone) else Backbone(nets, device, inject_resolution, keep)
        bb = self.backbone
        self.nets, self.device, self.g = bb.nets, bb.device, bb.g
        self.size, self.inject, self.scales = bb.size, bb.inject, bb.scales
        self.grid = min(grid, self.size)
        self.fade, self.still_weight = fade, still_weight
        self.authors, self.rebase = authors, rebase
        self.name = "stylegan-authors" if authors else "stylegan"  # told apart in cache keys
        self._predictors = None

    def identity(self) -> dict:
        """The base identity plus the fingerprint of the checkpoint files loaded
        (``weights.Networks.fingerprint``: their sha256s)."""
        return {**super().identity(), "weights": self.nets.fingerprint}

    def predictors(self):
        """The learned mask and motion over this engine's backbone (``predictors.Predictors``,
        sharing its per-photo inversion)."""
        if self._predictors is None:
            from ..predictors import Predictors
            self._predictors = Predictors(self.backbone)
        return self._predictors

    # -- per photo (the backbone's cached inversion and trunk) ---------------------------
    def invert(self, canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canvas (1, 3, S, S) in [-1, 1] -> (W+ latent (1, n_latent, style_dim), feature)."""
        return self.backbone.invert(canvas)

    def trunk(self, latent: torch.Tensor, feature: torch.Tensor) -> Trunk:
        return self.backbone.trunk(latent, feature)

    def compose(self, trunk: Trunk, warp: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """One frame on the canvas (1, 3, S, S) in about [-1, 1] from the cached trunk:
        warp the inject block's first-conv output and run its second conv and RGB
        layer, warp the cached RGB outputs above, sum the skips."""
        g, lat = self.g, trunk.latent
        i = g.first_index(self.inject)
        x = g.layer(i + 1)(warp(trunk.first), lat[:, i + 1], g.noise(i + 1))
        skip = g.to_rgb(self.inject)(x, lat[:, i + 2], warp(trunk.skip_low))
        for r in self.scales[1:]:
            skip = g.to_rgb(r).upsample(skip) + warp(trunk.rgb[r])
        if trunk.residual is not None:
            skip = skip + warp(trunk.residual)
        return skip

    def compose_reference(self, latent, feature, skip_low, residual, warp) -> torch.Tensor:
        """The same frame computed the authors' way: the generator from the feature
        onwards, features warped at every scale before their RGB layers."""
        g = self.g
        i = g.first_index(self.inject)
        first = g.layer(i)(feature, latent[:, i], g.noise(i))
        x = g.layer(i + 1)(warp(first), latent[:, i + 1], g.noise(i + 1))
        skip = g.to_rgb(self.inject)(x, latent[:, i + 2], warp(skip_low))
        unwarped = g.layer(i + 1)(first, latent[:, i + 1], g.noise(i + 1))
        for x, r in zip(self.backbone.features_above(latent, unwarped), self.scales[1:]):
            skip = g.to_rgb(r)(warp(x), latent[:, g.first_index(r) + 2], skip)
        return skip + warp(residual) if residual is not None else skip

    def prepare_photo(self, photo: np.ndarray) -> tuple[Trunk, Placement, str]:
        """Trunk and placement of a photo (H, W, 3) uint8, cached by content hash."""
        return self.backbone.prepare(photo)

    def behind(self, photo: np.ndarray, mask: np.ndarray, motion) -> tuple[np.ndarray, np.ndarray]:
        """(what is inverted (H, W, 3) uint8, where sampling may go (H, W) bool): small frozen
        islands passed behind (``composite.pass_behind``); the authors' variant has none."""
        if self.authors:
            return photo, mask
        plan = as_plan(motion)
        return pass_behind(photo, mask, plan.holes, field=plan.field, veil=plan.veil)

    # -- per loop ------------------------------------------------------------------------
    def _grid_setup(self, mask: np.ndarray, motion, where: Placement):
        """Motion, validity, start points, ripple and cycles (``MotionPlan.cycles``) on the
        integration grid (G x G over the canvas). Like the canvas itself, the mask is mirrored beyond the photo's box and the
        motion continues there, so the photo's borders are open (``loop.PADDING``).
        motion: a ``motion.MotionPlan`` or a (2, H, W) field at the mask's size."""
        G, S = self.grid, self.size
        plan = as_plan(motion)
        pad = (where.y0, S - where.h - where.y0, where.x0, S - where.w - where.x0)

        def on_grid(maps, border, interpolation):  # (C, H, W) at render size -> (C, G, G) on the canvas grid
            box = cv2.resize(np.moveaxis(maps, 0, -1), (where.w, where.h), interpolation=interpolation)
            box = box.reshape(where.h, where.w, -1)
            canvas = cv2.copyMakeBorder(box, *pad, border).reshape(S, S, -1)
            return np.moveaxis(cv2.resize(canvas, (G, G), interpolation=cv2.INTER_AREA).reshape(G, G, -1), -1, 0)

        H, W = mask.shape
        fg = on_grid(plan.field, cv2.BORDER_REPLICATE, cv2.INTER_LINEAR) * np.array(
            [where.w / W * G / S, where.h / H * G / S], np.float32)[:, None, None]
        motion_t = torch.from_numpy(np.ascontiguousarray(fg, dtype=np.float32))[None].to(self.device)
        m = on_grid(mask[None].astype(np.float32), cv2.BORDER_REFLECT_101, cv2.INTER_NEAREST)[0] > 0.5
        valid = torch.from_numpy(validity_map(m))[None, None].to(self.device)
        ripple = None
        if plan.ripple is not None:
            k = plan.ripple.basis.shape[0]
            basis = on_grid(plan.ripple.basis.reshape(2 * k, H, W), cv2.BORDER_CONSTANT, cv2.INTER_LINEAR)
            ripple = type(plan.ripple)((basis * (where.w / W * G / S)).reshape(k, 2, G, G).astype(np.float32),
                                       plan.ripple.direction, plan.ripple.cycles)
        cycles = None
        if plan.cycles is not None:  # cycles per loop, averaged over each grid cell and rounded
            c = on_grid(plan.cycles[None].astype(np.float32), cv2.BORDER_REFLECT_101, cv2.INTER_NEAREST)[0]
            cycles = torch.from_numpy(np.ascontiguousarray(np.rint(c), dtype=np.float32))[None, None].to(self.device)
        ys, xs = np.mgrid[0:G, 0:G]
        start = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)).to(self.device)
        return motion_t, valid, start, ripple, cycles

    def _policy(self, n: int) -> LoopPolicy:
        return LoopPolicy(n, fade=self.fade, still_weight=self.still_weight)

    def _warp(self, lf: LoopFrame, start) -> Warp:
        """The Warp of one frame of the shared loop policy on the G x G grid."""
        G = self.grid

        def img(x):
            return x.reshape(1, G, G, -1).permute(0, 3, 1, 2)

        return Warp(img(lf.fwd - start), img(lf.bwd - start), img(lf.w_fwd), img(lf.w_bwd), img(lf.w_still))

    def canvas_frames(self, photo: np.ndarray, mask: np.ndarray, field, n: int, *,
                      counter: StepCounter | None = None) -> Iterator[torch.Tensor]:
        """The loop on the canvas: n tensors (1, 3, S, S), cached trunk + incremental integration.
        field: a ``motion.MotionPlan`` or a (2, H, W) field at the photo's size."""
        source, passable = self.behind(photo, mask, field)
        trunk, where, _ = self.prepare_photo(source)
        return self._canvas_frames(trunk, where, passable, field, n, counter)

    def _canvas_frames(self, trunk: Trunk, where: Placement, mask, field, n, counter) -> Iterator[torch.Tensor]:
        if self.authors:
            return stylegan_authors.canvas_frames(self.backbone, trunk,
                                                   self.half_canvas_flow(as_plan(field).field, where), n)
        return self._our_canvas_frames(trunk, where, mask, field, n, counter)

    def half_canvas_flow(self, field: np.ndarray, where: Placement) -> torch.Tensor:
        """A (2, H, W) render-size field as the authors' motion input: (1, 2, S/2, S/2)
        px per frame at half the canvas size (their 512 x 512 for a 1024 canvas)."""
        half = self.size // 2
        cf = np.moveaxis(to_canvas_field(field, where, self.size), 0, -1)
        f = cv2.resize(cf, (half, half), interpolation=cv2.INTER_AREA) * (half / self.size)
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(f, -1, 0)))[None].to(self.device)

    def _our_canvas_frames(self, trunk: Trunk, where: Placement, mask, field, n, counter) -> Iterator[torch.Tensor]:
        motion, valid, start, ripple, cycles = self._grid_setup(mask, field, where)
        with torch.no_grad():
            for lf in self._policy(n).frames(start, motion, valid, ripple=ripple, cycles=cycles, counter=counter):
                yield self.compose(trunk, self._warp(lf, start))

    @torch.no_grad()
    def reference_canvas(self, photo: np.ndarray, mask: np.ndarray, field, n: int, t: int) -> torch.Tensor:
        """Frame t computed the straightforward way: invert, run the generator from the
        feature onwards warping its features, integrate the motion from frame 0
        (``LoopPolicy.frame``). For tests and the benchmark."""
        source, passable = self.behind(photo, mask, field)
        canvas_np, where = place(source, self.size)
        canvas = to_tensor(canvas_np, self.device)
        latent, feature = self.invert(canvas)
        trunk = self.trunk(latent, feature)
        residual = self.backbone.residual(canvas, self.compose(trunk, identity_warp))
        motion, valid, start, ripple, cycles = self._grid_setup(passable, field, where)
        warp = self._warp(self._policy(n).frame(t, start, motion, valid, ripple=ripple, cycles=cycles), start)
        return self.compose_reference(latent, feature, trunk.skip_low, residual, warp)

    def frames(self, photo: np.ndarray, mask: np.ndarray, field, n: int, *,
               progress: Progress | None = None, counter: StepCounter | None = None) -> Iterator[np.ndarray]:
        """The n frames (H, W, 3) uint8 at the photo's size, composited over the photo:
        frozen pixels are the photo's bytes. field: a ``motion.MotionPlan`` or a (2, H, W)
        float32 field at the photo's size (the authors' variant takes the plan's field only)."""
        H, W, _ = photo.shape
        source, passable = self.behind(photo, mask, field)
        trunk, where, _ = self.prepare_photo(source)
        paste = Paste(photo, mask, device=self.device)
        # the detail moves, the base stays (the rule of both engines, ``composite.Rebase``): the
        # features carry the whole picture, so each frame is re-based on the photo's smooth base
        plan = as_plan(field)
        rebase = None if self.authors or not self.rebase else Rebase.for_loop(
            source, passable, plan, index=paste.flat, device=self.device)
        if progress is not None:
            progress({"stage": "invert", "step": 1, "total": 1})
        for t, canvas in enumerate(self._canvas_frames(trunk, where, passable, field, n, counter)):
            crop = canvas[:, :, where.y0:where.y0 + where.h, where.x0:where.x0 + where.w]
            img = F.interpolate(crop, size=(H, W), mode="bicubic", align_corners=False,
                                antialias=(H < where.h)) if (H, W) != (where.h, where.w) else crop
            values = (img[0].reshape(3, -1)[:, paste.index] + 1.0) * 127.5
            if rebase is not None:
                values = rebase(values, (img + 1.0) * 127.5 if rebase.veil is not None else None)
            frame = paste(values.clamp(0, 255))
            if progress is not None:
                progress({"stage": "render", "step": t + 1, "total": n})
            yield frame
