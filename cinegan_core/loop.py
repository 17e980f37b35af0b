"""Looping: Euler integration of a motion field, loop weights, resampling.

Positions are float tensors ``(K, 2)`` of (x, y) pixel coordinates (pixel
centres at integers) of the K moving pixels. A motion field is a tensor
``(1, 2, H, W)`` in px per frame (channel 0 = rightward, 1 = downward).

For output frame t of an N-frame loop, the pixel at y shows

* content carried forward t steps: the photo at ``trace(y, -field, t)``
  (where that content was t frames ago), and
* content carried backward N - t steps: the photo at ``trace(y, +field, N - t)``
  (where it will be when the loop closes on the photo at frame N),

blended with weight ``loop_alpha(t, N)`` on the backward part. Frame 0 is the
photo, and frame N would be the photo again, so the wrap-around is seamless by
construction and no frame repeats (unlike the t/(N-1) scheme of the authors'
code, which stalls for one frame at every wrap).

Displacements are integrated once for all frames: the forward trace advances
one step per frame, the backward one is run once with checkpoints every
``~sqrt(N)`` steps and replayed segment by segment in reverse, so the total
number of Euler steps is at most 3N and memory stays O(sqrt(N)) position sets.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F


class StepCounter:
    """Counts Euler steps (tests check that integration is O(N))."""

    def __init__(self):
        self.steps = 0


def sample(image: torch.Tensor, pos: torch.Tensor, mode: str = "bilinear",
           padding: str = "border") -> torch.Tensor:
    """Sample image (1, C, H, W) at positions pos (K, 2) in px. Returns (C, K).

    mode:    "bilinear" | "bicubic" | "nearest" (torch.grid_sample modes).
    padding: what lies outside the image ("border" | "reflection" | "zeros").
    """
    _, _, H, W = image.shape
    scale = torch.tensor([2.0 / max(W - 1, 1), 2.0 / max(H - 1, 1)], dtype=pos.dtype, device=pos.device)
    grid = (pos * scale - 1.0).view(1, 1, -1, 2).to(image.dtype)
    out = F.grid_sample(image, grid, mode=mode, padding_mode=padding, align_corners=True)
    return out[0, :, 0, :]


def euler_step(pos: torch.Tensor, field: torch.Tensor, sign: float, counter: StepCounter | None = None) -> torch.Tensor:
    """One Euler step along sign * field: pos + sign * field(pos). pos (K, 2) px."""
    if counter is not None:
        counter.steps += 1
    return pos + sign * sample(field, pos).t()


def trace(pos: torch.Tensor, field: torch.Tensor, sign: float, steps: int,
          counter: StepCounter | None = None) -> torch.Tensor:
    """Positions after `steps` Euler steps along sign * field (the reference path)."""
    for _ in range(steps):
        pos = euler_step(pos, field, sign, counter)
    return pos


def forward_sources(start: torch.Tensor, field: torch.Tensor, n: int,
                    counter: StepCounter | None = None) -> Iterator[torch.Tensor]:
    """For t = 0 .. n-1, where the content shown at `start` at frame t was at frame 0:
    start traced t steps against the motion. One Euler step per frame."""
    pos = start
    for t in range(n):
        if t:
            pos = euler_step(pos, field, -1.0, counter)
        yield pos


def backward_sources(start: torch.Tensor, field: torch.Tensor, n: int,
                     counter: StepCounter | None = None) -> Iterator[torch.Tensor]:
    """For t = 0 .. n-1, where the content shown at `start` at frame t will be at
    frame n: start traced n - t steps along the motion.

    Integrates once to n keeping a checkpoint every ~sqrt(n) steps, then replays
    each segment (highest first) and yields its positions in reverse: at most
    2n steps and O(sqrt(n)) stored position sets."""
    every = max(1, math.isqrt(n))
    checkpoints = {0: start}
    pos = start
    for k in range(1, n + 1):
        pos = euler_step(pos, field, 1.0, counter)
        if k % every == 0:
            checkpoints[k] = pos
    last = pos  # k = n
    for seg_start in sorted(checkpoints, reverse=True):
        seg_end = min(seg_start + every - 1, n)  # inclusive
        if seg_start == n:
            segment = [last]
        else:
            segment = [checkpoints[seg_start]]
            for _ in range(seg_start + 1, seg_end + 1):
                segment.append(last if _ == n else euler_step(segment[-1], field, 1.0, counter))
        for k in range(seg_end, seg_start - 1, -1):
            if k == 0:
                return  # k = n - t with t <= n - 1, so k >= 1
            yield segment[k - seg_start]
        del segment


def loop_alpha(t: int, n: int, sharpness: float = 1.0) -> float:
    """Weight of the backward part at frame t of n, from 0 (t = 0) towards 1 (t = n).

    sharpness 1 is the linear t/n of the paper; larger values keep each part
    alone for longer near the ends and cross over faster in the middle,
    u^p / (u^p + (1 - u)^p), which shortens the double-exposed stretch."""
    u = t / n
    if sharpness == 1.0 or u in (0.0, 1.0):
        return u
    a, b = u ** sharpness, (1.0 - u) ** sharpness
    return a / (a + b)
