"""StyleGAN2 generator (config-f), laid out like rosinality/stylegan2-pytorch so
its ``g_ema`` state dict loads unchanged: mapping ``style.1..8``, constant
``input.input``, ``conv1``/``to_rgb1`` at 4x4, then per resolution two styled
convolutions (``convs.2i`` upsamples) and a ``to_rgbs.i``, and the fixed noise
buffers ``noises.noise_0..``. Written from the paper and that layout; only
plain PyTorch ops (``ops.py``).

Layer indexing (as the StyleCineGAN method uses it): the 17 styled
convolutions of a 1024 generator are numbered 0 (``conv1``, 4x4) to 16; index
``i = 2 * log2(r) - 5`` is the first (upsampling) convolution of the block
that outputs resolution r (1 = 8x8, 9 = 128x128, 15 = 1024x1024), and it
reads W+ row i. The RGB skip of that block reads row i + 2.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from .ops import fused_leaky_relu, make_kernel, upfirdn2d

BLUR = (1, 3, 3, 1)


def channels_for(size: int, channel_multiplier: int = 2, narrow: float = 1.0) -> dict[int, int]:
    """Feature channels per resolution (config-f with channel_multiplier 2)."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
            256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return {r: max(1, int(c * narrow)) for r, c in base.items() if r <= size}


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate (weights scaled at run time)."""

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, taps, pad, upsample_factor=1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, taps, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * factor ** 2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per input channel by the style
    (modulation) and renormalised per output channel (demodulation)."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=BLUR):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        if upsample:
            p = (len(blur_kernel) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

    def forward(self, x, style):
        batch, in_ch, h, w = x.shape
        s = self.modulation(style).view(batch, 1, in_ch, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, self.out_channel, 1, 1, 1)
        k = self.kernel_size
        x = x.reshape(1, batch * in_ch, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_ch, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = self.blur(out.view(batch, self.out_channel, out.shape[2], out.shape[3]))
        else:
            weight = weight.reshape(batch * self.out_channel, in_ch, k, k)
            out = F.conv2d(x, weight, padding=self.padding, groups=batch)
            out = out.view(batch, self.out_channel, out.shape[2], out.shape[3])
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=BLUR):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=BLUR):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


class Generator(nn.Module):
    """StyleGAN2 synthesis + mapping network.

    size:               output resolution, px (a power of two >= 8).
    style_dim:          width of z / w, 512 in config-f.
    n_mlp:              mapping network depth, 8 in config-f.
    channel_multiplier: 2 in config-f.
    narrow:             scales every channel count (tiny test models); 1 for real ones.
    """

    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
                 blur_kernel=BLUR, lr_mlp: float = 0.01, narrow: float = 1.0):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.log_size = int(math.log2(size))
        if 2 ** self.log_size != size or size < 8:
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True)
                                                  for _ in range(n_mlp)])
        self.channels = channels_for(size, channel_multiplier, narrow)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.noises = nn.Module()
        for i in range(self.num_layers):
            r = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        in_ch = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_ch = self.channels[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    # -- indexing helpers ------------------------------------------------------------
    @staticmethod
    def first_index(resolution: int) -> int:
        """Index of the first styled convolution of the block that outputs `resolution`."""
        return 2 * int(math.log2(resolution)) - 5

    def noise(self, index: int) -> torch.Tensor:
        return getattr(self.noises, f"noise_{index}")

    def layer(self, index: int) -> StyledConv:
        """Styled convolution by method index (0 = conv1 at 4x4)."""
        return self.conv1 if index == 0 else self.convs[index - 1]

    def to_rgb(self, resolution: int) -> ToRGB:
        return self.to_rgb1 if resolution == 4 else self.to_rgbs[int(math.log2(resolution)) - 3]

    # -- forward passes ----------------------------------------------------------------
    def mean_latent(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Average w of n random z (1, style_dim)."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.style_dim, generator=g).to(self.input.input.device)
        return self.style(z).mean(0, keepdim=True)

    def block(self, x, latent, resolution, skip):
        """One resolution block: upsampling conv, conv, RGB skip. Returns (x, skip)."""
        i = self.first_index(resolution)
        x = self.layer(i)(x, latent[:, i], self.noise(i))
        x = self.layer(i + 1)(x, latent[:, i + 1], self.noise(i + 1))
        return x, self.to_rgb(resolution)(x, latent[:, i + 2], skip)

    def synthesis(self, latent: torch.Tensor, feature: torch.Tensor | None = None,
                  inject_resolution: int | None = None) -> torch.Tensor:
        """W+ latent (N, n_latent, style_dim) -> image (N, 3, size, size) in about [-1, 1].

        feature: optional (N, C, r/2, r/2) replacing the input of the block that
                 outputs inject_resolution r (the feature-style encoder's content),
                 fed with the fixed noise buffers."""
        x = self.conv1(self.input(latent.shape[0]), latent[:, 0], self.noise(0))
        skip = self.to_rgb1(x, latent[:, 1])
        for log_r in range(3, self.log_size + 1):
            r = 2 ** log_r
            if feature is not None and r == inject_resolution:
                x = feature
            x, skip = self.block(x, latent, r, skip)
        return skip

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.synthesis(latent)
