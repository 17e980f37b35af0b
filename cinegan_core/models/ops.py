"""StyleGAN2's custom ops as plain PyTorch: FIR up/down-sampling and the fused
bias + leaky ReLU. These are the reference paths of the CUDA kernels in the
official code; they run anywhere torch runs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def make_kernel(taps) -> torch.Tensor:
    """Separable FIR kernel from 1-D taps, normalised to sum 1. (k, k) float32."""
    k = torch.tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with `kernel`, downsample.

    x:      (N, C, H, W) float.
    kernel: (kh, kw) FIR filter (applied as a true convolution, i.e. flipped).
    up, down: integer factors.
    pad:    (before, after) px on both axes, after upsampling; negative crops.
    Returns (N, C, (H * up + p0 + p1 - kh) // down + 1, ...).
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0): x.shape[2] - max(-p1, 0), max(-p0, 0): x.shape[3] - max(-p1, 0)]
    weight = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2,
                     scale: float = math.sqrt(2)) -> torch.Tensor:
    """leaky_relu(x + bias) * scale, bias broadcast over channel dim 1."""
    shape = [1, -1] + [1] * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope) * scale
