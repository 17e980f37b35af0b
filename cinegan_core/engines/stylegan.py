"""The stylegan engine: multi-scale deep feature warping (MSDFW), StyleCineGAN's method.

Per photo (cached by photo hash, per engine and so per set of weights):
  * the photo is placed on the generator's square canvas (see ``place``);
  * the feature-style encoder inverts it: W+ latent and a feature that replaces
    the input of the block at ``inject`` resolution (128 for a 1024 generator,
    method index 9);
  * the trunk: everything that does not depend on the frame. The generator's
    own low-resolution RGB skip (up to inject / 2), the first convolution of the
    inject block (its output is what the authors warp at that scale), and the
    block outputs at every higher resolution. Also the unwarped reconstruction,
    whose difference from the photo corrects the colours of every frame.

Per frame t of N, with the loop's forward and backward displacements
(integrated once for the whole loop, ``loop.py``), at each scale r from
inject up to the canvas size the cached feature is warped (bilinear gather)
from both sources and blended; only the second convolution of the inject block
(it reads a warped feature) and the 1x1 RGB layers run per frame, and the RGB
skips are summed as in the generator. The authors' code instead recomputes the
generator from the feature onwards and re-integrates the motion from frame 0
for every frame and scale; ``reference_canvas`` keeps that straightforward
computation for the tests.

Any aspect ratio: the photo is scaled so its long side fits the canvas and
the rest of the square is filled by mirroring the photo (the generator sees a
plausible landscape and nothing is squashed or cropped); the animated canvas is
cropped back to the photo's box and resized to the render size, and only the
moving region is composited over the untouched photo.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..loop import PADDING, LoopFrame, LoopPolicy, StepCounter, validity_map
from ..mask import feather, inside_distance
from ..motion import as_plan
from ..models.encoder import encoder_input
from ..photo import pixels_hash

Progress = Callable[[dict], None]


@dataclass
class Trunk:
    """Frame-independent tensors of one photo on the canvas (batch 1)."""

    latent: torch.Tensor               # (1, n_latent, style_dim) W+
    feature: torch.Tensor              # (1, C, inject/2, inject/2) encoder content
    skip_low: torch.Tensor             # (1, 3, inject/2, inject/2) RGB skip of the generator below inject
    first: torch.Tensor                # (1, C, inject, inject) output of the inject block's first conv
    rgb: dict                          # resolution r > inject -> (1, 3, r, r) that block's RGB layer output
    residual: torch.Tensor | None = None  # (1, 3, S, S) low-pass (photo - reconstruction) on the canvas


@dataclass
class Placement:
    """Where the photo sits on the canvas: x0, y0, width, height in canvas px."""

    x0: int
    y0: int
    w: int
    h: int


def place(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Placement]:
    """Scale the photo (H, W, 3) uint8 so its long side is `size`, centre it on a
    size x size canvas and fill the rest by mirroring. Returns (canvas (S, S, 3)
    uint8, placement)."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    canvas = cv2.copyMakeBorder(img, y0, size - nh - y0, x0, size - nw - x0, cv2.BORDER_REFLECT_101
                                if min(nw, nh) > 1 else cv2.BORDER_REPLICATE)
    return canvas, Placement(x0, y0, nw, nh)


def _to_tensor(rgb: np.ndarray, device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(127.5).sub(1.0).to(device)


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


class StyleGANEngine:
    """MSDFW renderer over loaded ``weights.Networks``.

    device:            torch device.
    inject_resolution: output resolution of the block whose input is the encoder
                       feature (None: generator size / 8, i.e. 128 at 1024).
    grid:              px of the grid the loop is integrated on (<= canvas size).
    fade:              length of each point's cross-over, fraction of the loop (``loop.LoopPolicy``).
    still_weight:      weight of the unwarped feature, the fallback where neither source is valid.
    """

    name = "stylegan"

    def __init__(self, nets, device="cpu", inject_resolution: int | None = None, grid: int = 512,
                 fade: float = 0.15, still_weight: float = 0.01, keep: int = 2):
        self.nets = nets
        self.device = torch.device(device)
        g = nets.generator.to(self.device)
        nets.encoder.to(self.device)
        self.g = g
        self.size = g.size
        self.inject = inject_resolution or max(8, g.size // 8)
        self.scales = [2 ** k for k in range(int(math.log2(self.inject)), g.log_size + 1)]
        self.grid = min(grid, self.size)
        self.fade, self.still_weight = fade, still_weight
        self._trunks: OrderedDict[str, tuple[Trunk, Placement]] = OrderedDict()
        self.keep = keep

    # -- per photo -----------------------------------------------------------------------
    @torch.no_grad()
    def invert(self, canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canvas (1, 3, S, S) in [-1, 1] -> (W+ latent (1, n_latent, style_dim), feature)."""
        offsets, feature = self.nets.encoder(encoder_input(canvas, 2 * self.inject))
        if offsets.shape[1] != self.g.n_latent:
            raise ValueError(f"encoder gives {offsets.shape[1]} styles, generator needs {self.g.n_latent}")
        return offsets + self.nets.mean_latent.to(offsets.device)[:, None], feature

    @torch.no_grad()
    def trunk(self, latent: torch.Tensor, feature: torch.Tensor) -> Trunk:
        """Everything that does not depend on the frame.

        Above the inject block only linear, per-pixel layers (the 1x1 RGB
        convolutions) read the warped features, and a bilinear warp commutes
        with them: warping a block's RGB output equals running the RGB layer on
        the warped features. So their 3-channel outputs are cached here and only
        those are warped per frame (``reference_canvas`` warps the features
        themselves, as the authors do; the two agree to float rounding)."""
        g = self.g
        x = g.conv1(g.input(1), latent[:, 0], g.noise(0))
        skip = g.to_rgb1(x, latent[:, 1])
        r = 8
        while r < self.inject:
            x, skip = g.block(x, latent, r, skip)
            r *= 2
        i = g.first_index(self.inject)
        first = g.layer(i)(feature, latent[:, i], g.noise(i))
        x = g.layer(i + 1)(first, latent[:, i + 1], g.noise(i + 1))
        rgb = {}
        for x, r in zip(self._features_above(latent, x), self.scales[1:]):
            rgb[r] = g.to_rgb(r).conv(x, latent[:, g.first_index(r) + 2]) + g.to_rgb(r).bias
        return Trunk(latent=latent, feature=feature, skip_low=skip, first=first, rgb=rgb)

    def _features_above(self, latent, x, with_first=False):
        """Block outputs at every scale above inject, from the inject block's output x
        (and each block's first-conv output too when with_first)."""
        g = self.g
        for r in self.scales[1:]:
            j = g.first_index(r)
            y = g.layer(j)(x, latent[:, j], g.noise(j))
            x = g.layer(j + 1)(y, latent[:, j + 1], g.noise(j + 1))
            yield (y, x) if with_first else x

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
        for x, r in zip(self._features_above(latent, unwarped), self.scales[1:]):
            skip = g.to_rgb(r)(warp(x), latent[:, g.first_index(r) + 2], skip)
        return skip + warp(residual) if residual is not None else skip

    def prepare_photo(self, photo: np.ndarray) -> tuple[Trunk, Placement, torch.Tensor]:
        """Trunk and placement of a photo (H, W, 3) uint8, cached by content hash."""
        key = pixels_hash(photo)
        if key in self._trunks:
            self._trunks.move_to_end(key)
            trunk, where = self._trunks[key]
        else:
            canvas_np, where = place(photo, self.size)
            canvas = _to_tensor(canvas_np, self.device)
            with torch.no_grad():
                trunk = self.trunk(*self.invert(canvas))
                trunk.residual = self._residual(canvas, self.compose(trunk, identity_warp))
            self._trunks[key] = (trunk, where)
            while len(self._trunks) > self.keep:
                self._trunks.popitem(last=False)
        return trunk, where, key

    # -- per loop ------------------------------------------------------------------------
    def _grid_setup(self, mask: np.ndarray, motion, where: Placement):
        """Motion, validity, start points and ripple on the integration grid (G x G over the
        canvas). Like the canvas itself, the mask is mirrored beyond the photo's box and the
        motion continues there, so the photo's borders are open (``loop.PADDING``)."""
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
        ys, xs = np.mgrid[0:G, 0:G]
        start = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)).to(self.device)
        return motion_t, valid, start, ripple

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
        trunk, where, _ = self.prepare_photo(photo)
        return self._canvas_frames(trunk, where, mask, field, n, counter)

    def _canvas_frames(self, trunk: Trunk, where: Placement, mask, field, n, counter) -> Iterator[torch.Tensor]:
        motion, valid, start, ripple = self._grid_setup(mask, field, where)
        with torch.no_grad():
            for lf in self._policy(n).frames(start, motion, valid, ripple=ripple, counter=counter):
                yield self.compose(trunk, self._warp(lf, start))

    @torch.no_grad()
    def reference_canvas(self, photo: np.ndarray, mask: np.ndarray, field, n: int, t: int) -> torch.Tensor:
        """Frame t computed the straightforward way: invert, run the generator from the
        feature onwards warping its features, integrate the motion from frame 0
        (``LoopPolicy.frame``). For tests and the benchmark."""
        canvas_np, where = place(photo, self.size)
        canvas = _to_tensor(canvas_np, self.device)
        latent, feature = self.invert(canvas)
        trunk = self.trunk(latent, feature)
        residual = self._residual(canvas, self.compose(trunk, identity_warp))
        motion, valid, start, ripple = self._grid_setup(mask, field, where)
        warp = self._warp(self._policy(n).frame(t, start, motion, valid, ripple=ripple), start)
        return self.compose_reference(latent, feature, trunk.skip_low, residual, warp)

    def _residual(self, canvas: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """Low-pass of photo - reconstruction on the canvas: moved with the content, it
        corrects the colours the inversion gets wrong."""
        diff = (canvas - recon)[0].permute(1, 2, 0).cpu().numpy()
        blurred = cv2.GaussianBlur(diff, (0, 0), max(1.0, self.size / 128))
        return torch.from_numpy(blurred).permute(2, 0, 1)[None].to(self.device)

    def frames(self, photo: np.ndarray, mask: np.ndarray, field, n: int, *,
               progress: Progress | None = None, counter: StepCounter | None = None) -> Iterator[np.ndarray]:
        """The n frames (H, W, 3) uint8 at the photo's size, composited over the photo:
        frozen pixels are the photo's bytes. field: a ``motion.MotionPlan`` or a
        (2, H, W) float32 field at the photo's size."""
        H, W, _ = photo.shape
        trunk, where, _ = self.prepare_photo(photo)
        dist = inside_distance(mask)
        alpha = torch.from_numpy(feather(mask, max(1.5, min(H, W) / 400), dist)).to(self.device)
        flat_np = np.flatnonzero(mask)
        flat = torch.from_numpy(flat_np).to(self.device)
        a = alpha.reshape(-1)[flat][None]
        still = torch.from_numpy(photo.reshape(-1, 3)[flat_np].T.astype(np.float32)).to(self.device)
        if progress is not None:
            progress({"stage": "invert", "step": 1, "total": 1})
        for t, canvas in enumerate(self._canvas_frames(trunk, where, mask, field, n, counter)):
            crop = canvas[:, :, where.y0:where.y0 + where.h, where.x0:where.x0 + where.w]
            img = F.interpolate(crop, size=(H, W), mode="bicubic", align_corners=False,
                                antialias=(H < where.h)) if (H, W) != (where.h, where.w) else crop
            moving = ((img[0].reshape(3, -1)[:, flat] + 1.0) * 127.5).clamp(0, 255)
            out = (a * moving + (1 - a) * still).round().to(torch.uint8).cpu().numpy()
            frame = photo.copy()
            frame.reshape(-1, 3)[flat_np] = out.T
            if progress is not None:
                progress({"stage": "render", "step": t + 1, "total": n})
            yield frame

    # -- learned mask and motion ---------------------------------------------------------
    @torch.no_grad()
    def predict_labels(self, photo: np.ndarray, out_size: int = 512) -> np.ndarray | None:
        """Sky / water labels (H, W) uint8 from the DatasetGAN classifiers, or None
        without them. Features: the injected feature and every styled convolution
        after it, resized to out_size (bilinear), concatenated per pixel."""
        from ..models.classifier import vote
        classifiers = [c.to(self.device) for c in self.nets.classifiers]
        if not classifiers:
            return None
        trunk, where, _ = self.prepare_photo(photo)
        g, lat = self.g, trunk.latent
        i = g.first_index(self.inject)
        x = g.layer(i + 1)(trunk.first, lat[:, i + 1], g.noise(i + 1))
        layers = [trunk.feature, trunk.first, x]
        for y, x in self._features_above(lat, x, with_first=True):
            layers += [y, x]
        labels = torch.empty(out_size * out_size, dtype=torch.int64)
        band = max(1, 65536 // out_size)
        for y0 in range(0, out_size, band):
            y1 = min(out_size, y0 + band)
            ys = (torch.arange(y0, y1, dtype=torch.float32) + 0.5) / out_size * 2 - 1
            xs = (torch.arange(out_size, dtype=torch.float32) + 0.5) / out_size * 2 - 1
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            grid = torch.stack([gx, gy], -1)[None].to(self.device)
            feats = torch.cat([F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
                               for x in layers], 1)
            labels[y0 * out_size:y1 * out_size] = vote(classifiers, feats[0].flatten(1).T).cpu()
        lab = labels.reshape(out_size, out_size).numpy().astype(np.uint8)
        lab = _smooth_labels(lab)
        s = out_size / self.size
        box = lab[round(where.y0 * s):round((where.y0 + where.h) * s), round(where.x0 * s):round((where.x0 + where.w) * s)]
        H, W = photo.shape[:2]
        return cv2.resize(box, (W, H), interpolation=cv2.INTER_NEAREST)

    @torch.no_grad()
    def predict_motion(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """Unit-scale motion patterns (2, H, W) per region name from the pix2pixHD
        predictors present: outliers (|z| > 3 in magnitude) removed, divided by the
        largest magnitude. Speeds are applied by the caller."""
        out = {}
        nets = {"sky": self.nets.flow_sky, "water": self.nets.flow_fluid}
        if not any(nets.values()):
            return out
        canvas_np, where = place(photo, self.size)
        x = _to_tensor(cv2.resize(canvas_np, (512, 512), interpolation=cv2.INTER_AREA), self.device)
        H, W = photo.shape[:2]
        for name, net in nets.items():
            if net is None:
                continue
            flow = net.to(self.device)(x)[0].cpu().numpy()
            flow = z_score_filter(flow)
            peak = float(np.hypot(flow[0], flow[1]).max())
            if peak > 0:
                flow = flow / peak
            s = 512 / self.size
            box = flow[:, round(where.y0 * s):round((where.y0 + where.h) * s),
                       round(where.x0 * s):round((where.x0 + where.w) * s)]
            out[name] = np.moveaxis(cv2.resize(np.moveaxis(box, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR),
                                    -1, 0).astype(np.float32)
        return out


def z_score_filter(flow: np.ndarray, limit: float = 3.0) -> np.ndarray:
    """Zero the vectors whose magnitude is more than `limit` standard deviations from
    the mean of the non-zero magnitudes. (2, h, w) -> (2, h, w)."""
    mag = np.hypot(flow[0], flow[1])
    nz = mag[mag > 0]
    if nz.size < 2 or nz.std() == 0:
        return flow
    keep = np.abs(mag - nz.mean()) / nz.std() <= limit
    return flow * keep


def _smooth_labels(lab: np.ndarray, min_frac: float = 0.1) -> np.ndarray:
    """The authors' clean-up: close small gaps, then fill holes smaller than
    min_frac of the image in the moving area and in the frozen one."""
    moving = (lab > 0).astype(np.uint8) * 255
    moving = cv2.dilate(moving, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4, 4)))
    moving = cv2.erode(moving, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)), iterations=2) > 0
    area = lab.size * min_frac
    for target in (False, True):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((moving == target).astype(np.uint8), connectivity=4)
        for k in range(1, n):
            x, y, w, h, a = stats[k]
            touches = x == 0 or y == 0 or x + w == lab.shape[1] or y + h == lab.shape[0]
            if a < area and not touches:
                moving[comp == k] = not target
    out = np.where(moving, np.where(lab == 2, 2, 1), 0).astype(np.uint8)
    return out
