"""The weight-free renderer: warps the photo itself.

Per frame, every moving pixel gathers the photo at two sources (content carried
forward t steps and backward N - t steps, see ``loop.py``) with bicubic
resampling, and blends them. Three things keep the loop clean and sharp:

* Validity. A source that left the moving region (it would drag frozen pixels,
  e.g. a mountain, into the sky) or the image is worth nothing; the weights of
  the two sources are ``(1 - alpha) * valid_fwd`` and ``alpha * valid_bwd``,
  so where content emerges from behind an occluder the other source shows it.
  Where neither is valid (a region too narrow for the motion) the pixel fades
  to the still photo instead of smearing. Both weights stay continuous in t,
  and at t = 0 (and t = N) only the photo remains: the loop stays seamless.
* Detail-preserving blending. Blending two unrelated textures halves their
  fine-detail variance (the washed-out "double exposure"). The blend is split
  into a low-pass part, blended linearly, and a detail part rescaled by
  ``1 / sqrt(sum w_i^2 + 2 w_f w_b rho)``, so its contrast is kept (the
  variance-preserving blend of Heitz & Neyret 2018). rho, the correlation of
  the two detail samples, falls with the distance between the two sources, so
  nothing is over-sharpened where they (nearly) coincide.
* A sharpened cross-over (``loop_alpha`` with sharpness > 1): each part plays
  alone for longer, so fewer frames are double exposed at all.

Frozen pixels are never touched: they are the photo's bytes.
"""
from __future__ import annotations

from typing import Callable, Iterator

import cv2
import numpy as np
import torch

from ..loop import StepCounter, backward_sources, forward_sources, loop_alpha, sample
from ..mask import feather, fill_outside, inside_distance

Progress = Callable[[dict], None]


class PixelEngine:
    """Weight-free cinemagraph renderer.

    sharpness:     cross-over sharpness of the loop weights (1 = linear t/N).
    detail_sigma:  px; Gaussian that splits low-pass from detail for the
                   variance-preserving blend (0 = plain linear blend).
    still_weight:  weight of the still photo, the fallback where neither source is valid.
    feather_px:    width of the compositing edge inside the mask, px (None = auto).
    device:        torch device ("cpu", "cuda", ...).
    """

    name = "pixel"

    def __init__(self, *, sharpness: float = 2.0, detail_sigma: float = 2.0,
                 still_weight: float = 0.01, feather_px: float | None = None,
                 device: str | torch.device = "cpu"):
        self.sharpness = sharpness
        self.detail_sigma = detail_sigma
        self.still_weight = still_weight
        self.feather_px = feather_px
        self.device = torch.device(device)

    def frames(self, photo: np.ndarray, mask: np.ndarray, field: np.ndarray, n: int, *,
               progress: Progress | None = None, counter: StepCounter | None = None) -> Iterator[np.ndarray]:
        """Yield the n frames of the loop.

        photo: (H, W, 3) uint8. mask: (H, W) bool, True = moves.
        field: (2, H, W) float32, px per frame at this size, zero outside the mask.
        Yields (H, W, 3) uint8 frames; frame 0 is the photo.
        """
        H, W, _ = photo.shape
        if mask.shape != (H, W) or field.shape != (2, H, W):
            raise ValueError(f"photo {photo.shape}, mask {mask.shape}, field {field.shape} disagree")
        dev = self.device
        # frozen pixels are replaced by the nearest moving ones in what is sampled, so
        # neither the bicubic footprint nor the low-pass drags them into moving content
        photo_f = fill_outside(photo, mask).astype(np.float32)
        dist = inside_distance(mask)
        feather_px = self.feather_px if self.feather_px is not None else max(1.5, min(H, W) / 400)
        alpha_map = feather(mask, feather_px, dist)
        # validity of a source: ramps from 0 half a pixel inside the mask edge to 1 two px
        # further in, and from 0 on the image's outermost pixels to 1 four px in (sources
        # beyond the image sample the border value, 0)
        valid = np.clip((dist - 0.5) / 2.0, 0.0, 1.0)
        yy, xx = np.ogrid[:H, :W]
        edge = np.minimum(np.minimum(xx, W - 1 - xx), np.minimum(yy, H - 1 - yy))
        valid *= np.clip(edge / 4.0, 0.0, 1.0)
        if self.detail_sigma > 0:
            low = cv2.GaussianBlur(photo_f, (0, 0), self.detail_sigma, borderType=cv2.BORDER_REFLECT)
        else:
            low = photo_f
        image = torch.from_numpy(photo_f).permute(2, 0, 1)[None].to(dev)
        aux = torch.from_numpy(np.dstack([low, valid])).permute(2, 0, 1)[None].contiguous().to(dev)
        motion = torch.from_numpy(field)[None].to(dev)

        flat = np.flatnonzero(mask)
        ys, xs = np.divmod(flat, W)
        start = torch.from_numpy(np.stack([xs, ys], 1).astype(np.float32)).to(dev)
        idx = torch.from_numpy(flat).to(dev)
        a_map = torch.from_numpy(alpha_map.ravel()[flat])[None].to(dev)       # (1, K)
        still = image.view(3, -1)[:, idx]                                      # (3, K)
        still_low = aux.view(4, -1)[:3, idx]

        fwd = forward_sources(start, motion, n, counter)
        bwd = backward_sources(start, motion, n, counter)
        for t in range(n):
            p_f, p_b = next(fwd), next(bwd)
            alpha = loop_alpha(t, n, self.sharpness)
            c_f, c_b = sample(image, p_f, "bicubic"), sample(image, p_b, "bicubic")
            x_f, x_b = sample(aux, p_f), sample(aux, p_b)
            w_f = (1.0 - alpha) * x_f[3]
            w_b = alpha * x_b[3]
            w_s = torch.full_like(w_f, self.still_weight)
            total = w_f + w_b + w_s
            w_f, w_b, w_s = w_f / total, w_b / total, w_s / total
            low_mix = w_f * x_f[:3] + w_b * x_b[:3] + w_s * still_low
            detail = w_f * (c_f - x_f[:3]) + w_b * (c_b - x_b[:3]) + w_s * (still - still_low)
            if self.detail_sigma > 0:
                d2 = ((p_f - p_b) ** 2).sum(1)
                rho = torch.exp(-d2 / (self.detail_sigma ** 2))
                q = w_f ** 2 + w_b ** 2 + w_s ** 2 + 2 * w_f * w_b * rho + 2 * w_s * (w_f + w_b)
                detail = detail * q.rsqrt()
            moving = low_mix + detail
            out = a_map * moving + (1.0 - a_map) * still
            frame = out.clamp_(0, 255).round_().to(torch.uint8).cpu().numpy()
            result = photo.copy()
            result.reshape(-1, 3)[flat] = frame.T
            if progress is not None:
                progress({"stage": "render", "step": t + 1, "total": n})
            yield result
