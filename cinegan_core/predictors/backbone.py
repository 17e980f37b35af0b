"""The shared StyleGAN backbone: the loaded networks and, per photo, the inversion
and the generator's frame-independent activations (the trunk).

Both the renderer (``engines/stylegan.py``) and the learned predictors
(``mask.py``: DatasetGAN classifiers on the generator's features, ``motion.py``:
pix2pixHD) work from the same photo on the same canvas; the inversion and the
trunk are computed once per photo and kept in a small cache keyed by the photo's
content hash, shared by all of them.

Both caches here (loaded networks per weights folder and device, trunks per
photo) are bounded and safe under concurrent requests: lookups and insertions
hold a lock, and a value being computed for a key is computed once, the other
requests for that key waiting for it.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

import cv2
import numpy as np
import torch

from ..models.encoder import encoder_input
from ..photo import pixels_hash


@dataclass
class Trunk:
    """Frame-independent tensors of one photo on the canvas (batch 1, float32).

    latent:   (1, n_latent, style_dim) W+ (the encoder's offsets plus the mean latent).
    feature:  (1, C, inject/2, inject/2) the encoder's content feature, the input of
              the inject block (method index 9 for a 1024 generator).
    skip_low: (1, 3, inject/2, inject/2) the generator's own RGB skip below inject,
              computed from the latent as in the encoder's training forward.
    first:    (1, C', inject, inject) output of the inject block's first convolution.
    rgb:      resolution r > inject -> (1, 3, r, r) that block's RGB layer output
              (bias included) on the unwarped features.
    residual: (1, 3, S, S) low-pass of (photo - reconstruction) on the canvas, or None.
    """

    latent: torch.Tensor
    feature: torch.Tensor
    skip_low: torch.Tensor
    first: torch.Tensor
    rgb: dict
    residual: torch.Tensor | None = None


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


def to_tensor(rgb: np.ndarray, device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(127.5).sub(1.0).to(device)


class BoundedCache:
    """A thread-safe LRU map of at most `keep` values, each computed once.

    ``get(key, make)`` returns the value for key, calling ``make()`` if it is
    absent; concurrent calls for the same key wait for the one computation (if it
    fails, each waiter tries again itself). The oldest value is dropped when more
    than `keep` are held. ``make`` runs without the lock held."""

    def __init__(self, keep: int):
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keep = keep
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable, make: Callable[[], object]):
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                event = self._pending.get(key)
                if event is None:
                    event = self._pending[key] = threading.Event()
                    break  # this thread computes it
            event.wait()
        try:
            value = make()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.keep:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)
            event.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Backbone:
    """The loaded ``weights.Networks`` on a device, with the per-photo trunk cache.

    nets:              weights.Networks (generator, mean latent, encoder, optional
                       classifiers and motion predictors).
    device:            torch device.
    inject_resolution: output resolution of the block whose input is the encoder
                       feature (None: generator size / 8, i.e. 128 at 1024).
    keep:              photos whose trunk is kept (about 40 MB each at 1024).
    """

    def __init__(self, nets, device="cpu", inject_resolution: int | None = None, keep: int = 4):
        self.nets = nets
        self.device = torch.device(device)
        self.g = nets.generator.to(self.device)
        nets.encoder.to(self.device)
        self.size = self.g.size
        self.inject = inject_resolution or max(8, self.g.size // 8)
        self.scales = [2 ** k for k in range(int(math.log2(self.inject)), self.g.log_size + 1)]
        self._trunks = BoundedCache(keep)

    # -- per photo ---------------------------------------------------------------------
    @torch.no_grad()
    def invert(self, canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canvas (1, 3, S, S) in [-1, 1] -> (W+ latent (1, n_latent, style_dim), feature).

        The encoder sees the canvas halved (bilinear) down to 2 * inject px (256 for
        the real networks) and its offsets are added to ``nets.mean_latent`` (the
        authors' separately computed mean W, see weights/README.md)."""
        offsets, feature = self.nets.encoder(encoder_input(canvas, 2 * self.inject))
        if offsets.shape[1] != self.g.n_latent:
            raise ValueError(f"encoder gives {offsets.shape[1]} styles, generator needs {self.g.n_latent}")
        return offsets + self.nets.mean_latent.to(offsets.device)[:, None], feature

    @torch.no_grad()
    def trunk(self, latent: torch.Tensor, feature: torch.Tensor) -> Trunk:
        """Everything that does not depend on the frame (residual not included).

        Above the inject block only linear, per-pixel layers (the 1x1 RGB
        convolutions) read the warped features, and a bilinear warp commutes
        with them: warping a block's RGB output equals running the RGB layer on
        the warped features. So their 3-channel outputs are cached here and the
        renderer warps only those."""
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
        for x, r in zip(self.features_above(latent, x), self.scales[1:]):
            rgb[r] = g.to_rgb(r).conv(x, latent[:, g.first_index(r) + 2]) + g.to_rgb(r).bias
        return Trunk(latent=latent, feature=feature, skip_low=skip, first=first, rgb=rgb)

    def features_above(self, latent, x, with_first=False):
        """Block outputs at every scale above inject, from the inject block's output x
        (and each block's first-conv output too when with_first)."""
        g = self.g
        for r in self.scales[1:]:
            j = g.first_index(r)
            y = g.layer(j)(x, latent[:, j], g.noise(j))
            x = g.layer(j + 1)(y, latent[:, j + 1], g.noise(j + 1))
            yield (y, x) if with_first else x

    @torch.no_grad()
    def reconstruction(self, trunk: Trunk) -> torch.Tensor:
        """The unwarped generator output (1, 3, S, S) of a trunk (no residual)."""
        g, lat = self.g, trunk.latent
        i = g.first_index(self.inject)
        x = g.layer(i + 1)(trunk.first, lat[:, i + 1], g.noise(i + 1))
        skip = g.to_rgb(self.inject)(x, lat[:, i + 2], trunk.skip_low)
        for r in self.scales[1:]:
            skip = g.to_rgb(r).upsample(skip) + trunk.rgb[r]
        return skip

    def residual(self, canvas: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """Low-pass of photo - reconstruction on the canvas (1, 3, S, S): moved with the
        content, it corrects the colours the inversion gets wrong."""
        diff = (canvas - recon)[0].permute(1, 2, 0).cpu().numpy()
        blurred = cv2.GaussianBlur(diff, (0, 0), max(1.0, self.size / 128))
        return torch.from_numpy(blurred).permute(2, 0, 1)[None].to(self.device)

    def prepare(self, photo: np.ndarray) -> tuple[Trunk, Placement, str]:
        """(trunk with residual, placement, photo hash) of a photo (H, W, 3) uint8,
        cached by content hash."""
        key = pixels_hash(photo)

        def make():
            canvas_np, where = place(photo, self.size)
            canvas = to_tensor(canvas_np, self.device)
            with torch.no_grad():
                trunk = self.trunk(*self.invert(canvas))
                trunk.residual = self.residual(canvas, self.reconstruction(trunk))
            return trunk, where

        trunk, where = self._trunks.get(key, make)
        return trunk, where, key


_LOADED = BoundedCache(keep=1)  # one set of networks in memory at a time


def loaded(weights=None, device: str = "cpu") -> Backbone:
    """The backbone over the checkpoints found for `weights` on `device`, loaded once
    per process (thread-safe; loading another set replaces it)."""
    from ..weights import load_networks
    key = (os.path.abspath(weights) if weights else None, os.environ.get("CINEGAN_WEIGHTS"),
           os.environ.get("CINEGAN_HUB_REPO"), str(device))
    return _LOADED.get(key, lambda: Backbone(load_networks(weights), device=device))
