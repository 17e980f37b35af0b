"""pix2pixHD global generator as used by StyleCineGAN's img2flow models:
photo (N, 3, 512, 512) in [-1, 1] -> motion field (N, 2, 512, 512).

Reflection-padded 7x7 conv, four stride-2 convs, nine residual blocks, four
(bilinear upsample + 3x3 conv) stages, a final 7x7 conv with no activation.
Instance norm without affine parameters. State-dict names ``model.<index>``.
"""
from __future__ import annotations

from torch import nn


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class GlobalGenerator(nn.Module):
    """input_nc -> output_nc channels; ngf base width; n_down stride-2 stages; n_blocks residual blocks."""

    def __init__(self, input_nc: int = 3, output_nc: int = 2, ngf: int = 64, n_down: int = 4, n_blocks: int = 9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(n_down):
            m = 2 ** i
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * m * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 2 ** n_down) for _ in range(n_blocks)]
        for i in range(n_down):
            m = 2 ** (n_down - i)
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                       nn.Conv2d(ngf * m, ngf * m // 2, 3, 1, 1), nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)
