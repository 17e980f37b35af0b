"""The engine interface: what the pipeline asks of a renderer, and nothing else.

An engine renders; it never predicts. What it brings besides frames is said
here, so the pipeline never probes an engine's attributes:

* ``name``: "pixel" | "stylegan" | "stylegan-authors", what the user chose;
* ``identity()``: what identifies its frames, for cache keys (name, the rendering
  version and, for an engine with weights, their fingerprint);
* ``predictors()``: the learned mask and motion that come with its networks
  (``predictors.Predictors``), or None: the pipeline uses them for the mask and
  motion the user did not give, in ``prepare`` and so in ``render`` alike;
* ``frames(photo, mask, motion, n)``: the loop, composited over the photo
  (``composite``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Iterator

import numpy as np

RENDER_VERSION = 15  # bump whenever the same settings would render different frames (cache keys)

Progress = Callable[[dict], None]


class Engine(ABC):
    """A renderer: (photo, mask, motion) -> the frames of a loop."""

    name: str = ""

    def identity(self) -> dict:
        """{"engine": name, "version": RENDER_VERSION}, plus "weights" (the checkpoint
        files' fingerprint) for an engine with weights: JSON-ready, for cache keys."""
        return {"engine": self.name, "version": RENDER_VERSION}

    def predictors(self):
        """The learned mask and motion this engine's networks bring
        (``predictors.Predictors``), or None (the automatic mask and styles then apply)."""
        return None

    @abstractmethod
    def frames(self, photo: np.ndarray, mask: np.ndarray, motion, n: int, *,
               progress: Progress | None = None, counter=None) -> Iterator[np.ndarray]:
        """Yield the n frames of the loop.

        photo:    (H, W, 3) uint8. mask: (H, W) bool, True = moves.
        motion:   a ``motion.MotionPlan`` at this size, or a bare (2, H, W) float32 field
                  (px per frame, zero outside the mask).
        progress: progress({"stage", "step", "total"}); counter: a ``loop.StepCounter``.
        Yields (H, W, 3) uint8 frames; frozen pixels are the photo's bytes."""
