"""Learned mask and motion over a shared StyleGAN backbone.

``Predictors(backbone)`` gives ``labels(photo)`` (DatasetGAN classifiers, or None
without them) and ``motion(photo)`` (pix2pixHD patterns per region, empty
without them). The pipeline asks these, never the renderer; the renderer
(``engines/stylegan.py``) shares the same backbone and so the same per-photo
inversion.
"""
from __future__ import annotations

import numpy as np

from .backbone import Backbone, BoundedCache, Placement, Trunk, loaded, place
from .mask import MaskPredictor
from .motion import MotionPredictor

__all__ = ["Backbone", "BoundedCache", "Placement", "Predictors", "Trunk", "loaded", "place"]


class Predictors:
    """The learned mask and motion predictors present in a backbone's networks."""

    def __init__(self, backbone: Backbone):
        self.backbone = backbone
        self.mask = MaskPredictor(backbone)
        self.motion_nets = MotionPredictor(backbone)

    def labels(self, photo: np.ndarray) -> np.ndarray | None:
        """(H, W) uint8 labels (``regions`` codes: 0 solid, 1 sky, 2 water); None without classifiers."""
        return self.mask.labels(photo)

    def motion(self, photo: np.ndarray) -> dict[str, np.ndarray]:
        """Unit-scale (2, H, W) float32 patterns per region name; empty without predictors."""
        return self.motion_nets.patterns(photo)
