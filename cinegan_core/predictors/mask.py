"""Learned mask: the DatasetGAN pixel classifiers on the generator's features.

Per pixel of a 512 x 512 grid over the canvas, the features are the injected
feature and every styled convolution after it (1472 values for the real
networks), each resized to 512 x 512 (bilinear), as in the authors'
``make_sg2_features_fs``; ten classifiers vote, and the labels are cleaned up
the way the authors describe (close small gaps, fill small holes).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..models.classifier import vote
from .backbone import Backbone, Trunk


class MaskPredictor:
    """Sky / water labels from the classifiers of a backbone's networks."""

    def __init__(self, backbone: Backbone):
        self.backbone = backbone

    @property
    def available(self) -> bool:
        return bool(self.backbone.nets.classifiers)

    @torch.no_grad()
    def layers(self, trunk: Trunk) -> list[torch.Tensor]:
        """The classifiers' input layers: the injected feature, then the first and
        second convolution outputs of every block from inject up, (1, C_k, r_k, r_k)."""
        bb = self.backbone
        g, lat = bb.g, trunk.latent
        i = g.first_index(bb.inject)
        x = g.layer(i + 1)(trunk.first, lat[:, i + 1], g.noise(i + 1))
        layers = [trunk.feature, trunk.first, x]
        for y, x in bb.features_above(lat, x, with_first=True):
            layers += [y, x]
        return layers

    @staticmethod
    def pixel_features(layers: list[torch.Tensor], out_size: int, y0: int, y1: int) -> torch.Tensor:
        """Rows y0..y1 of the out_size x out_size feature grid: ((y1 - y0) * out_size, sum C_k)
        float32. Bilinear resize with half-pixel centres (align_corners False)."""
        device = layers[0].device
        ys = (torch.arange(y0, y1, dtype=torch.float32) + 0.5) / out_size * 2 - 1
        xs = (torch.arange(out_size, dtype=torch.float32) + 0.5) / out_size * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None].to(device)
        feats = torch.cat([F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
                           for x in layers], 1)
        return feats[0].flatten(1).T

    @torch.no_grad()
    def labels(self, photo: np.ndarray, out_size: int = 512) -> np.ndarray | None:
        """Labels (H, W) uint8 of a photo (H, W, 3) uint8: 0 other, 1 sky, 2 water;
        None without classifiers."""
        bb = self.backbone
        classifiers = [c.to(bb.device) for c in bb.nets.classifiers]
        if not classifiers:
            return None
        trunk, where, _ = bb.prepare(photo)
        layers = self.layers(trunk)
        labels = torch.empty(out_size * out_size, dtype=torch.int64)
        band = max(1, 65536 // out_size)
        for y0 in range(0, out_size, band):
            y1 = min(out_size, y0 + band)
            labels[y0 * out_size:y1 * out_size] = vote(classifiers, self.pixel_features(layers, out_size, y0, y1)).cpu()
        lab = smooth_labels(labels.reshape(out_size, out_size).numpy().astype(np.uint8))
        s = out_size / bb.size
        box = lab[round(where.y0 * s):round((where.y0 + where.h) * s), round(where.x0 * s):round((where.x0 + where.w) * s)]
        H, W = photo.shape[:2]
        return cv2.resize(box, (W, H), interpolation=cv2.INTER_NEAREST)


def smooth_labels(lab: np.ndarray, min_frac: float = 0.1) -> np.ndarray:
    """The authors' clean-up of (h, w) uint8 labels: close small gaps, then fill holes
    smaller than min_frac of the image in the moving area and in the frozen one."""
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
    return np.where(moving, np.where(lab == 2, 2, 1), 0).astype(np.uint8)
