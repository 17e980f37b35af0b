"""The feature-style encoder (Yao et al.) as trained for StyleCineGAN on LHQ
("lhq_k9"): an IResNet-50 trunk whose four stages are pooled to 3x3 and mapped
by 18 linear heads to W+ offsets, plus a content branch that turns the first
stage's output into the generator's 64x64 feature (the input of the 128x128
block). State-dict names follow the authors' ``fs_encoder_v2``.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def _bn(c):
    return nn.BatchNorm2d(c, eps=1e-5)


class IBasicBlock(nn.Module):
    """BN - conv3x3 - BN - PReLU - conv3x3(stride) - BN, plus the (projected) input."""

    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.bn1 = _bn(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = _bn(out_ch)
        self.prelu = nn.PReLU(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride, 1, bias=False)
        self.bn3 = _bn(out_ch)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), _bn(out_ch))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


def _stage(in_ch, out_ch, n):
    return nn.Sequential(IBasicBlock(in_ch, out_ch, 2), *[IBasicBlock(out_ch, out_ch) for _ in range(n - 1)])


class FeatureStyleEncoder(nn.Module):
    """Photo -> (W+ offsets (N, n_styles, style_dim), content feature (N, C, H/4, W/4)).

    Input: (N, 3, H, W) in [-1, 1]; for the real model H = W = 256 (the 1024
    canvas halved twice, bilinear). Add the generator's mean latent to the offsets.

    widths / depths:  channels and blocks of the four stages (IResNet-50: 64,
                      128, 256, 512 / 3, 4, 14, 3); small values for tests.
    feature_channels: channels of the content feature (512: the generator's 64x64 width).
    """

    def __init__(self, n_styles: int = 18, style_dim: int = 512, widths=(64, 128, 256, 512),
                 depths=(3, 4, 14, 3), feature_channels: int = 512):
        super().__init__()
        w = widths
        self.conv = nn.Sequential(nn.Conv2d(3, w[0], 3, 1, 1, bias=False), _bn(w[0]), nn.PReLU(w[0]))
        self.block_1 = _stage(w[0], w[0], depths[0])
        self.block_2 = _stage(w[0], w[1], depths[1])
        self.block_3 = _stage(w[1], w[2], depths[2])
        self.block_4 = _stage(w[2], w[3], depths[3])
        self.avg_pool = nn.AdaptiveAvgPool2d((3, 3))
        self.styles = nn.ModuleList([nn.Linear(sum(w) * 9, style_dim) for _ in range(n_styles)])
        self.content_layer = nn.Sequential(
            _bn(w[0]), nn.Conv2d(w[0], 512, 3, 1, 1, bias=False), _bn(512), nn.PReLU(512),
            nn.Conv2d(512, feature_channels, 3, 2, 1, bias=False), _bn(feature_channels))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x)
        x = self.block_1(x)
        content = self.content_layer(x)
        pooled = [self.avg_pool(x)]
        for stage in (self.block_2, self.block_3, self.block_4):
            x = stage(x)
            pooled.append(self.avg_pool(x))
        flat = torch.cat(pooled, 1).flatten(1)
        return torch.stack([head(flat) for head in self.styles], 1), content


def encoder_input(canvas: torch.Tensor, size: int) -> torch.Tensor:
    """The canvas (N, 3, S, S) in [-1, 1] halved (bilinear) until it is `size` px."""
    x = canvas
    while x.shape[-1] > size:
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
    return x
