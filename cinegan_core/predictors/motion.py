"""Learned motion: the authors' pix2pixHD motion predictors (one for sky, one for
water), run on the photo's canvas at 512 x 512 in [-1, 1]."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .backbone import Backbone, place, to_tensor

FLOW_SIZE = 512  # the predictors' input and output size


class MotionPredictor:
    """Unit-scale motion patterns from the pix2pixHD networks of a backbone's networks."""

    def __init__(self, backbone: Backbone):
        self.backbone = backbone

    @property
    def nets(self) -> dict:
        n = self.backbone.nets
        return {name: net for name, net in (("sky", n.flow_sky), ("water", n.flow_fluid)) if net is not None}

    @property
    def available(self) -> bool:
        return bool(self.nets)

    @torch.no_grad()
    def patterns(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """Motion patterns (2, H, W) float32 per region name ("sky", "water") for a photo
        (H, W, 3) uint8: outliers (|z| > 3 in magnitude) removed, divided by the largest
        magnitude. Speeds are applied by the caller. Empty without predictors."""
        nets = self.nets
        if not nets:
            return {}
        bb = self.backbone
        canvas_np, where = place(photo, bb.size)
        x = to_tensor(cv2.resize(canvas_np, (FLOW_SIZE, FLOW_SIZE), interpolation=cv2.INTER_AREA), bb.device)
        H, W = photo.shape[:2]
        s = FLOW_SIZE / bb.size
        out = {}
        for name, net in nets.items():
            flow = z_score_filter(net.to(bb.device)(x)[0].cpu().numpy())
            peak = float(np.hypot(flow[0], flow[1]).max())
            if peak > 0:
                flow = flow / peak
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
