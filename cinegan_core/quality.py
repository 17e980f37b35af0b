"""The loop's own quality figures, measured while it renders (manifests, API info).

``LoopProbe`` is a frame sink (``add(frame)``, like the video writers): it keeps
only the first two and last two frames and a running check of the frozen
pixels, so it costs one comparison per frame. The figures follow
``shared/tools/cinemetrics.py``:

* seam_ratio:   mean absolute change (0..255 levels) across the wrap-around
                (last frame -> first frame) in the moving core, over the mean of
                the two steps on either side of it; about 1 for a seamless loop.
* frozen_exact: every frame equals the photo, byte for byte, on every frozen
                pixel (outside the mask, away from the feathered edge).
* moving_share: fraction of the photo's pixels that move.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


class LoopProbe:
    """Measures a loop frame by frame.

    photo: (H, W, 3) uint8, the photo the loop was made from (frame 0).
    mask:  (H, W) bool, True = moves.
    band:  px kept out of both regions around the mask's edge (None: 1% of the short side).
    """

    def __init__(self, photo: np.ndarray, mask: np.ndarray, band: int | None = None):
        h, w = mask.shape
        band = band if band is not None else max(2, round(0.01 * min(h, w)))
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * band + 1, 2 * band + 1))
        m = mask.astype(np.uint8)
        self.core = cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
        self.frozen = ~cv2.dilate(m, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
        self.photo_frozen = photo[self.frozen]
        self.moving_share = float(mask.mean())
        self.frozen_exact = True
        self.count = 0
        self._first: list[np.ndarray] = []
        self._last: list[np.ndarray] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add(self, frame: np.ndarray) -> None:
        """Take one (H, W, 3) uint8 frame."""
        if self.frozen_exact and not np.array_equal(frame[self.frozen], self.photo_frozen):
            self.frozen_exact = False
        core = frame[self.core].astype(np.float32)
        if len(self._first) < 2:
            self._first.append(core)
        self._last = (self._last + [core])[-2:]
        self.count += 1

    @property
    def info(self) -> dict:
        """{"seam_ratio", "frozen_exact", "moving_share"}; seam_ratio is None for
        loops under 4 frames or with no moving core."""
        seam = None
        if self.count >= 4 and self._first[0].size:
            step = lambda a, b: float(np.abs(a - b).mean())  # noqa: E731
            near = np.mean([step(*self._first), step(*self._last)])
            across = step(self._last[-1], self._first[0])
            seam = across / near if near > 0 else (1.0 if across == 0 else math.inf)
        return {"seam_ratio": seam, "frozen_exact": self.frozen_exact, "moving_share": self.moving_share}
