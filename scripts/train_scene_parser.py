"""Train the scene parser's decoder head on the labelled photos of data/scenes (train split only).

    python scripts/train_scene_parser.py                 # the shipped head (see the card for its time)
    python scripts/train_scene_parser.py --folds 4 --out /tmp/cv [--set NAME=VALUE ...]
                                                         # cross-validation: out-of-fold figures
    python scripts/train_scene_parser.py --quick --out /tmp/h   # a few steps on synthetic photos (tests)

The EfficientNet backbones (``BACKBONES``: ``MEMBERS`` heads on each) stay frozen but for their
last block, so their features are computed once per photo and view (``AUG_SETS``: the photo at the
working size, flipped, colour-jittered, smaller and larger; random crops, rotations, blur, noise and
JPEG) and kept in memory as float16, and on disk under ``CACHE`` (/tmp), keyed by the photo's bytes,
its label, the view and the seed, so a second run (or an experiment) reads them back. Each head
(``automask.parser.SceneHead``) is a decoder (~130K parameters) and, with ``HEAD`` "top" (round 17),
its own copy of the backbone's last block (``efficientnet.top_block``: ~0.7 M parameters on Lite2,
started from the ImageNet weights, trained at ``TOP_LR`` of the decoder's learning rate, shipped as
float16); the block's input (the output of the block before it) is computed once per view from the
cached stride-16 features. Both are trained with AdamW and a cosine learning rate on random windows
of ``CROP`` x ``CROP`` stride-32 cells of the feature maps (the features themselves come from the
whole photo, so a window keeps its context; the top block sees a margin of one cell; the
row-position input gets the window's true rows).

Labels come from ``scripts/scene_labels.py`` (polygons rasterised at each
view's size; boundary bands and ignore areas are 255 and not scored). Every
``*.json`` under the data folders at any depth is read (new folders are picked up),
but only photos whose label says ``"split": "train"``; the held-out photos are
never opened here. The loss is a class-weighted cross-entropy plus a
moving-vs-solid term (a solid pixel called moving costs more than a moving
pixel called solid: precision first), and photos with falling or flowing water
are drawn more often (they are rare).

Cross-validation (``--folds K``): the train photos are dealt to K folds
(``folds_of``: deterministic, near-identical photos kept together, stratified by
their rarest class); for each fold a head is trained on the others and scored on
it, and the out-of-fold (OOF) figures are printed: pixel accuracy, per-class IoU,
solid pixels called moving (pooled, per-photo mean, photos over 1 %), moving
pixels found, photos whose flowing / falling water is called running water
(>= 30 %), each with and without flip averaging. ``--out DIR`` keeps the fold
heads and DIR/folds.json, so that ``bench/masks.py --split train --side 1024
--heads DIR`` gives the fused mask's OOF figures. Every setting was chosen by
these OOF figures on the train split, never on the held-out photos; what was measured, round by round
and stop by stop (what was kept, what was tried and why it was not), is in docs/scene-parser-log.md.

Deterministic: fixed seeds, deterministic algorithms, one order of photos and
views, each view's random draws seeded by the photo's name; the same data gives
the same head bit for bit on the same machine (with or without the feature cache), but not across machines
(stop 52: a reset machine gave other fold heads from the same code and data).

Writes OUT/scene_head.safetensors and OUT/scene_head.json (the card: classes,
working size, training totals, settings, sha256 of the weights file) and prints
the sha256 to pin in ``cinegan_core/automask/parser.py`` (HEAD_SHA256).
"""
from __future__ import annotations

import argparse
import ast
import functools
import glob
import hashlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
import zlib

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import scene_labels  # noqa: E402
from cinegan_core.automask import parser  # noqa: E402
from cinegan_core.automask.parser import WORK_SIDE, SceneHead, SceneHeads, backbone_input, to_work  # noqa: E402
from cinegan_core.models import efficientnet  # noqa: E402
from cinegan_core.models.efficientnet import PRE_TOP  # noqa: E402
from cinegan_core.regions import NAMES  # noqa: E402
from cinegan_core.weights import sha256_file  # noqa: E402

CLASSES = tuple(NAMES[i] for i in range(5))
assert CLASSES == scene_labels.CLASSES
IGNORE = scene_labels.IGNORE
DATA_ROOT = os.path.join(ROOT, "data", "scenes")
# folders of DATA_ROOT the shipped head is not trained on (by default; cross-validation runs name their folders with
# --data, --always-train and --fold-apart). Rounds 14, 18, 19 and 20 waited here from their rounds until stop 61, when
# they were measured on their own photos too (--fold-apart) and joined with fusion.WATER_T 0.92; round 22 (cloud-field
# skies, wet streets and quays) failed its rule at stop 62 and waits; round 23 (falls, rivers, flats, measured with round
# 22) failed its rule at stop 63 and waits too (docs/scene-parser-log.md)
WAITING: tuple = ("mixed-r22clouds", "mixed-r22wet", "mixed-r23falls", "mixed-r23flats", "mixed-r23minnesota",
                  "mixed-r23running")
CACHE = os.path.join(tempfile.gettempdir(), "cinegan_scene_features")
CACHE_VERSION = 1          # bump when the backbone input or an augmentation's meaning changes
# class weights of the cross-entropy (solid, sky, still, flowing, falling)
CLASS_WEIGHTS = (1.5, 1.0, 1.2, 2.0, 5.0)
SOLID_MOVING_COST = 3.0     # extra weight of the moving-vs-solid term on solid pixels called moving
LABEL_SMOOTHING = 0.0       # of the cross-entropy
BAND_GROW = 0               # px at the view's size: the labels' unscored areas (the band around every class
                            # boundary, ``scene_labels.DEFAULT_BAND``, and ignore areas) grown by this for the loss only
# how often a photo is drawn, relative to a plain one: rare classes and hard negatives more often
DRAW_FALLING, DRAW_FLOWING, DRAW_HARD_NEGATIVE = 6.0, 2.0, 2.0
DRAW_STILL = 1.0            # ... photos with still water (and no running water): 2.0 moved more solid out of fold
HARD_NEGATIVE_TAGS = {"hard-negative", "negative"}
# the head's shape and regularisation
# ("top": each head its own fine-tuned copy of the backbone's last block, round 17: docs/scene-parser-log.md)
HEAD = {"width": 64, "fine": 16, "mid": 32, "drop": 0.15, "context": True, "position": True, "top": True}
TOP_LR = 0.03               # learning rate of the head's top block (HEAD "top": its copy of the backbone's last
                            # block, started from the ImageNet weights), relative to LR (0.1 moved more solid and
                            # found less running water out of fold: docs/scene-parser-log.md)
WEIGHT_DECAY = 1e-3
EMA = 0.0                   # (0.99 with drop 0.25 and weight decay 1e-2 did not help out of fold) decay of an exponential moving average of the weights (0: the last weights)
CROP = 6                    # train on random windows of CROP x CROP stride-32 cells of the feature maps (0: whole
                            # maps, round 3): OOF photos over 1 % must-freeze moving 48 -> 38 of 141 (docs/scene-parser-log.md)
STEPS, BATCH, LR = 2000, 8, 3e-3
BACKBONES = parser.BACKBONES  # the frozen backbones whose features the heads read (``efficientnet.VARIANTS``; lite0
                            # before round 13: Lite2 moved less solid out of fold, docs/scene-parser-log.md); MEMBERS heads
                            # on each, all averaged. Cross-validation takes one (runs on others fuse in bench/masks.py)
MEMBERS = 4                 # heads trained alike (per backbone) from seeds ``member_seeds`` whose probabilities are
                            # averaged (``parser.SceneHeads``; 4 move less solid out of fold than 2: stops 53 and
                            # 58, docs/scene-parser-log.md); 1 with one backbone: one head, keys without the members.I. prefix
# the augmentations each photo's features are computed for: (name, spec). spec keys: side (long side
# px, or (lo, hi) drawn), flip (True / "random"), jitter (0 none, 1 mild, 2 strong), crop ((lo, hi) share
# of the photo's area, a random window), rotate (max degrees), blur (max Gaussian sigma, px), noise
# (max sigma, 0..255), jpeg ((lo, hi) quality)
AUG_SETS = {
    "r3": (("base", {"side": WORK_SIDE}), ("flip-jitter", {"side": WORK_SIDE, "flip": True, "jitter": 1}),
           ("small", {"side": 384}), ("large-flip", {"side": 640, "flip": True}),
           ("jitter", {"side": WORK_SIDE, "jitter": 1})),
}
AUG_SETS["r4"] = AUG_SETS["r3"] + (
    ("crop-a", {"side": (448, 640), "flip": "random", "jitter": 1, "crop": (0.35, 0.8)}),
    ("crop-b", {"side": (384, 576), "flip": "random", "jitter": 2, "crop": (0.45, 0.9), "rotate": 6}),
    ("rotate", {"side": WORK_SIDE, "flip": "random", "rotate": 8, "blur": 1.2}),
    ("degrade", {"side": (416, 576), "flip": "random", "jitter": 2, "blur": 1.5, "noise": 6, "jpeg": (25, 70)}),
    ("scale", {"side": (320, 768), "flip": "random", "jitter": 1}),
)
AUGMENTS = "r3"            # "r4" (crops, rotations, blur, noise, JPEG) was worse out of fold (docs/scene-parser-log.md)
EVAL_VIEWS = (("base", {"side": WORK_SIDE}), ("flip", {"side": WORK_SIDE, "flip": True}))
TUNABLE = ("CLASS_WEIGHTS", "SOLID_MOVING_COST", "LABEL_SMOOTHING", "DRAW_FALLING", "DRAW_FLOWING",
           "DRAW_STILL", "DRAW_HARD_NEGATIVE", "HEAD", "WEIGHT_DECAY", "EMA", "CROP", "STEPS", "BATCH", "LR",
           "AUGMENTS", "MEMBERS", "BACKBONES", "TOP_LR", "BAND_GROW")


def jitter(rgb: np.ndarray, rng: np.random.Generator, strength: int = 1) -> np.ndarray:
    """Photometric change: gamma, saturation, brightness, a little haze (strength 2: wider ranges,
    a colour cast and contrast). uint8 in and out."""
    x = rgb.astype(np.float32) / 255.0
    wide = strength >= 2
    x = x ** rng.uniform(0.6, 1.6) if wide else x ** rng.uniform(0.7, 1.4)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * (rng.uniform(0.3, 1.6) if wide else rng.uniform(0.5, 1.4))
    x = x * (rng.uniform(0.65, 1.3) if wide else rng.uniform(0.75, 1.2))
    if wide:
        x = x * rng.uniform(0.88, 1.12, 3).astype(np.float32)
        x = 0.5 + (x - 0.5) * rng.uniform(0.7, 1.3)
    haze = rng.uniform(0.0, 0.25)
    x = x * (1 - haze) + haze * rng.uniform(0.7, 1.0)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _draw(v, rng):
    return rng.uniform(*v) if isinstance(v, (tuple, list)) else v


def augment(full: np.ndarray, label: dict, spec: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One augmented view of a photo: (rgb (h, w, 3) uint8, labels (h, w) uint8, IGNORE unscored),
    long side ``spec["side"]``. full: the photo (H, W, 3) uint8 (long side <= 1600)."""
    side = int(round(_draw(spec.get("side", WORK_SIDE), rng)))
    flip = spec.get("flip", False)
    flip = bool(rng.random() < 0.5) if flip == "random" else bool(flip)
    if "crop" not in spec and not spec.get("rotate"):
        rgb = to_work(full, side)
        lab = scene_labels.rasterise(label, (rgb.shape[1], rgb.shape[0]))
    else:
        H, W = full.shape[:2]
        img, lab = full, scene_labels.rasterise(label, (W, H))
        if spec.get("rotate"):
            angle = rng.uniform(-1, 1) * spec["rotate"]
            m = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
            img = cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            lab = cv2.warpAffine(lab, m, (W, H), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=IGNORE)
        if "crop" in spec:
            area = _draw(spec["crop"], rng)
            aspect = math.exp(rng.uniform(-0.25, 0.25))
            ch = min(H, max(32, int(round(H * math.sqrt(area / aspect)))))
            cw = min(W, max(32, int(round(W * math.sqrt(area * aspect)))))
            y0, x0 = int(rng.integers(0, H - ch + 1)), int(rng.integers(0, W - cw + 1))
            img, lab = img[y0:y0 + ch, x0:x0 + cw], lab[y0:y0 + ch, x0:x0 + cw]
        rgb = to_work(np.ascontiguousarray(img), side)
        lab = cv2.resize(np.ascontiguousarray(lab), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
    if flip:
        rgb, lab = rgb[:, ::-1].copy(), lab[:, ::-1].copy()
    if spec.get("jitter"):
        rgb = jitter(rgb, rng, spec["jitter"])
    if spec.get("blur"):
        sigma = rng.uniform(0.3, spec["blur"])
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
    if spec.get("noise"):
        sd = rng.uniform(1.0, spec["noise"])
        rgb = np.clip(rgb + rng.normal(0, sd, rgb.shape), 0, 255).astype(np.uint8)
    if spec.get("jpeg"):
        q = int(round(_draw(spec["jpeg"], rng)))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
        rgb = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return np.ascontiguousarray(rgb), np.ascontiguousarray(lab)


def photo_key(json_path: str, folder: str) -> str:
    """A photo's name: its label's path under data/scenes (or under its folder) without .json,
    e.g. "debian/kite" (the names bench/masks.py prints)."""
    base = DATA_ROOT if os.path.abspath(json_path).startswith(DATA_ROOT + os.sep) else folder
    return os.path.relpath(json_path, base)[:-5]


def default_data() -> list[str]:
    """The folders the shipped head is trained on: every folder of DATA_ROOT but ``WAITING``."""
    return [d for d in sorted(glob.glob(os.path.join(DATA_ROOT, "*", "")))
            if os.path.basename(os.path.dirname(d)) not in WAITING]


def labelled_photos(folders: list[str]) -> list[tuple[str, dict, str]]:
    """(image path, label, name) of every train-split photo under the folders (any sub-folder,
    so new folders are picked up), sorted by image path."""
    out = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "**", "*.json"), recursive=True)):
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            if "regions" not in raw or raw.get("split", "train") != "train":
                continue
            label = scene_labels.read(path)
            img = os.path.join(os.path.dirname(path), label.get("image", os.path.basename(path)[:-5] + ".jpg"))
            if os.path.isfile(img):
                out.append((img, label, photo_key(path, folder)))
    return sorted(out, key=lambda t: t[0])


def synthetic_photos(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """n small photos with labels: a blue sky band over green ground with a water strip."""
    out = []
    for _ in range(n):
        h, w = int(rng.integers(48, 96)), int(rng.integers(64, 128))
        rgb = np.zeros((h, w, 3), np.uint8)
        lab = np.zeros((h, w), np.uint8)
        line = int(h * rng.uniform(0.3, 0.6))
        rgb[:line] = (90, 150, 230)
        lab[:line] = 1
        rgb[line:] = (60, 120, 40)
        water = int(h * 0.85)
        rgb[water:] = (40, 80, 140)
        lab[water:] = 2
        rgb = np.clip(rgb.astype(np.int16) + rng.integers(-12, 12, rgb.shape), 0, 255).astype(np.uint8)
        out.append((rgb, lab))
    return out


@torch.no_grad()
def features_of(backbone, rgb_work: np.ndarray) -> dict:
    f = backbone.features(backbone_input(rgb_work))
    return {s: v[0].to(torch.float16) for s, v in f.items()}


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def photo_weight(label: dict) -> float:
    """How often a photo is drawn relative to a plain one (falling / flowing / still water, hard negatives)."""
    present = set(np.unique(scene_labels.rasterise(label, (64, 48), band=0)).tolist())
    weight = DRAW_FALLING if 4 in present else DRAW_FLOWING if 3 in present else DRAW_STILL if 2 in present else 1.0
    if HARD_NEGATIVE_TAGS & set(label.get("tags", [])):
        weight = max(weight, DRAW_HARD_NEGATIVE)
    return weight


def build_items(backbone, photos, views, seed: int, log, cache: str | None = CACHE,
                variant: str = parser.BACKBONE) -> list[dict]:
    """Backbone features (float16) and labels (uint8 at the view's size) per photo and view
    (``augment``). Each view's random draws come from (seed, the photo's name, the view's name),
    so a photo's views do not depend on which other photos there are. With ``cache`` (a folder),
    each view is kept on disk under a digest of the photo's bytes, its label, the view and the
    seed, and read back instead of recomputed."""
    items = []
    t0, done = time.time(), 0
    if cache:
        os.makedirs(cache, exist_ok=True)
    for k, (img_path, label, name) in enumerate(photos):
        full = None
        ident = json.dumps([CACHE_VERSION, WORK_SIDE, _file_digest(img_path), label, seed, variant], sort_keys=True)
        weight = photo_weight(label)
        for v, (view, spec) in enumerate(views):
            key = hashlib.sha256((ident + json.dumps([view, spec], sort_keys=True)).encode()).hexdigest()[:32]
            path = os.path.join(cache, key + ".pt") if cache else None
            if path and os.path.isfile(path):
                item = torch.load(path)
            else:
                if full is None:
                    full = np.asarray(scene_labels.load_image(img_path, side=1600))
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(view.encode())])
                rgb, lab = augment(full, label, spec, rng)
                item = {"feats": features_of(backbone, rgb), "labels": torch.from_numpy(lab)}
                if path:   # each process its own temporary file: runs beside each other may write one key
                    tmp = f"{path}.{os.getpid()}.tmp"
                    torch.save(item, tmp)
                    os.replace(tmp, path)
                done += 1
            item.update(photo=k, name=name, aug=view, weight=weight)
            items.append(item)
        if log and (k + 1) % 20 == 0:
            log(f"features: {k + 1}/{len(photos)} photos ({done} views computed, the rest cached), "
                f"{time.time() - t0:.0f} s")
    return items


@functools.lru_cache(maxsize=None)
def folded_backbone(variant: str):
    """The frozen backbone `variant` with its batch norms folded (as ``parse_scene`` runs it)."""
    return efficientnet.fold_batchnorm(efficientnet.load(variant, classifier=False))


def top_weights(variant: str) -> dict:
    """The ImageNet weights of `variant`'s last block, folded: where a head's top block starts."""
    net = folded_backbone(variant)
    return {k: v.clone() for k, v in net._blocks[net.variant.taps[32]].state_dict().items()}


@torch.no_grad()
def add_top_inputs(items, variant: str, log) -> None:
    """Each item's ``PRE_TOP`` features (float16), the last block's input, for heads with a top block:
    from its stride-16 features through the frozen blocks in between (batch norms folded)."""
    net = folded_backbone(variant)
    taps = net.variant.taps
    t0 = time.time()
    for it in items:
        x = it["feats"][16][None].float()
        for block in net._blocks[taps[16] + 1:taps[32]]:
            x = block(x)
        it["feats"][PRE_TOP] = x[0].to(torch.float16)
    if log:
        log(f"the top block's input for {len(items)} views in {time.time() - t0:.0f} s")


def feature_stats(items) -> dict:
    """Per-channel mean and std of each feature level over all items."""
    stats = {}
    for s, f0 in items[0]["feats"].items():
        if s == PRE_TOP:
            continue
        c = f0.shape[0]
        n, m1, m2 = 0, torch.zeros(c, dtype=torch.float64), torch.zeros(c, dtype=torch.float64)
        for it in items:
            f = it["feats"][s].double().reshape(c, -1)
            n += f.shape[1]
            m1 += f.sum(1)
            m2 += (f * f).sum(1)
        mean = m1 / n
        std = (m2 / n - mean * mean).clamp_min(1e-6).sqrt()
        stats[s] = (mean.float(), std.float())
    return stats


def crop_of(item, cells: int, rng: np.random.Generator):
    """A random window of cells x cells stride-32 cells of an item's features and labels:
    (features {stride: (1, C, h, w)}, labels (h', w'), rows (first, last) stride-8 row as a
    fraction of the photo's height). cells 0: the whole item. The top block's input (``PRE_TOP``)
    comes as (its window with a margin of one cell where the map has one, (rows, columns) of
    margin before the window), and whole as "whole_pre": (the whole map, (row, column) of the window's
    first cell) (for a head's photo-level context)."""
    feats, lab = item["feats"], item["labels"]
    n8 = feats[8].shape[1]
    if cells <= 0:
        out = {s: (v[None], (0, 0)) if s == PRE_TOP else v[None] for s, v in feats.items()}
        if PRE_TOP in feats:
            out["whole_pre"] = (feats[PRE_TOP][None], (0, 0))
        return out, lab, (0.0, 1.0)
    n32 = (feats[32].shape[1], feats[32].shape[2])
    ch, cw = min(cells, n32[0]), min(cells, n32[1])
    y0, x0 = int(rng.integers(0, n32[0] - ch + 1)), int(rng.integers(0, n32[1] - cw + 1))
    out = {}
    for s, v in feats.items():
        if s == PRE_TOP:     # with a margin of one cell for the top block's 3x3 depthwise convolution
            a0, b0 = max(0, y0 - 1), max(0, x0 - 1)
            out[s] = (v[None, :, a0:y0 + ch + 1, b0:x0 + cw + 1], (y0 - a0, x0 - b0))
            out["whole_pre"] = (v[None], (y0, x0))
            continue
        f = 32 // s
        out[s] = v[None, :, y0 * f:(y0 + ch) * f, x0 * f:(x0 + cw) * f]
    lab = lab[y0 * 32:(y0 + ch) * 32, x0 * 32:(x0 + cw) * 32]
    a, b = y0 * 4, min(n8, (y0 + ch) * 4) - 1
    return out, lab, (a / max(1, n8 - 1), b / max(1, n8 - 1))


def grow_unscored(target: torch.Tensor, px: int) -> torch.Tensor:
    """target (N, h, w) int64 labels with IGNORE where unscored -> the same with every unscored area grown by
    `px` pixels (a square neighbourhood; the boundary band widens by px on each side); px 0: target itself."""
    if px <= 0:
        return target
    unscored = F.max_pool2d((target == IGNORE).float()[:, None], 2 * px + 1, stride=1, padding=px)[:, 0]
    return target.masked_fill(unscored > 0, IGNORE)


def loss_of(head, feats, lab, rows, class_weights) -> torch.Tensor:
    """Cross-entropy (class-weighted, label-smoothed, 255 ignored) + the moving-vs-solid term,
    on one view (or a crop of it)."""
    whole32 = None
    if PRE_TOP in feats:     # a window with a margin (crop_of): the top block runs on it, the margin is cut
        feats = dict(feats)
        pre, (oy, ox) = feats.pop(PRE_TOP)
        whole_pre, (y0, x0) = feats.pop("whole_pre")
        if head.top is not None:
            ch, cw = feats[32].shape[-2:]
            if head.context is not None:   # the context vector reads the whole photo, as at inference;
                whole32 = head.top(whole_pre.float())      # the window is part of it (no norms, 3x3 kernel)
                feats[32] = whole32[:, :, y0:y0 + ch, x0:x0 + cw]
            else:
                feats[32] = head.top(pre.float())[:, :, oy:oy + ch, ox:ox + cw]
    logits = head(feats, rows, whole32=whole32)
    logits = F.interpolate(logits, size=lab.shape, mode="bilinear", align_corners=False)
    target = lab.long()[None]
    target = grow_unscored(target, BAND_GROW)
    ce = F.cross_entropy(logits, target, weight=class_weights, ignore_index=IGNORE,
                         label_smoothing=LABEL_SMOOTHING)
    valid = target != IGNORE
    if not valid.any():     # a crop wholly inside ignore areas: nothing to learn (ce is 0 / 0 there)
        return logits.sum() * 0.0
    logp = F.log_softmax(logits, 1)
    p_solid = logp[:, 0].exp().clamp(1e-6, 1 - 1e-6)
    solid = (target == 0) & valid
    moving = (target != 0) & valid
    # solid pixels: -log p(solid) weighted up; moving pixels: -log(1 - p(solid))
    bin_loss = (SOLID_MOVING_COST * -torch.log(p_solid[solid])).sum() + (-torch.log1p(-p_solid[moving])).sum()
    return ce + bin_loss / valid.sum()


@torch.no_grad()
def predict(head, item, mirrored=None) -> torch.Tensor:
    """(5, h, w) class probabilities of a view at its labels' size; with ``mirrored`` (the same
    photo's mirror-image view) the mean of both (flip test-time averaging, as parse_scene)."""
    lab = item["labels"]
    up = dict(size=lab.shape, mode="bilinear", align_corners=False)
    p = torch.softmax(F.interpolate(head({s: v[None].float() for s, v in item["feats"].items()}), **up), 1)[0]
    if mirrored is not None:
        q = torch.softmax(F.interpolate(head({s: v[None].float() for s, v in mirrored["feats"].items()}), **up), 1)[0]
        p = 0.5 * (p + q.flip(2))
    return p


def figures(conf: np.ndarray, per_photo: list[dict]) -> dict:
    """Parser figures from a confusion matrix [true, predicted] (5 x 5 pixel counts) and
    per-photo rows {"fm": solid share called moving or None, "fast": running water share
    called running water or None}."""
    iou = [conf[k, k] / max(1, conf[k].sum() + conf[:, k].sum() - conf[k, k]) for k in range(5)]
    fms = [r["fm"] for r in per_photo if r["fm"] is not None]
    fast = [r["fast"] for r in per_photo if r["fast"] is not None]
    return {"acc": np.trace(conf) / max(1, conf.sum()), "iou": iou,
            "false_move": conf[0, 1:].sum() / max(1, conf[0].sum()),
            "fm_mean": float(np.mean(fms)) if fms else 0.0,
            "fm_over_1": sum(f > 0.01 for f in fms), "n_photos": len(fms),
            "recall": conf[1:, 1:].sum() / max(1, conf[1:].sum()),
            "running_found": sum(f >= 0.3 for f in fast), "running_photos": len(fast)}


@torch.no_grad()
def evaluate(head, items, flip: bool = True) -> tuple[np.ndarray, list[dict]]:
    """Confusion matrix and per-photo rows (``figures``) of a head on the "base" views of items
    (with flip averaging over their "flip" views when ``flip``)."""
    head.eval()
    by = {}
    for it in items:
        by.setdefault(it["photo"], {})[it["aug"]] = it
    conf = np.zeros((5, 5), np.int64)
    rows = []
    for k in sorted(by):
        base = by[k]["base"]
        p = predict(head, base, by[k].get("flip") if flip else None)
        lab = base["labels"]
        valid = lab != IGNORE
        t, q = lab[valid].long(), p.argmax(0)[valid]
        c = np.bincount((t * 5 + q).numpy(), minlength=25).reshape(5, 5)
        conf += c
        n_fast = c[3:].sum()
        rows.append({"name": base["name"], "fm": c[0, 1:].sum() / c[0].sum() if c[0].sum() else None,
                     "fast": c[3:, 3:].sum() / n_fast if n_fast > 0.002 * lab.numel() else None})
    return conf, rows


def train(items, steps: int, batch: int, lr: float, seed: int, log, stats=None,
          variant: str = parser.BACKBONE) -> SceneHead:
    """A head reading backbone `variant`'s features, trained on items (their features; module
    settings: HEAD, WEIGHT_DECAY, CROP, EMA, ...)."""
    torch.manual_seed(seed)
    head = SceneHead(**HEAD, backbone=variant)
    stats = stats or feature_stats(items)
    for s, (mean, std) in stats.items():
        getattr(head, f"mean_{s}").copy_(mean)
        getattr(head, f"std_{s}").copy_(std)
    groups = [{"params": [p for n, p in head.named_parameters() if not n.startswith("top.")], "scale": 1.0}]
    if head.top is not None:
        head.top.load_state_dict(top_weights(variant))
        groups.append({"params": list(head.top.parameters()), "scale": TOP_LR})
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=WEIGHT_DECAY)
    class_weights = torch.tensor(CLASS_WEIGHTS, dtype=torch.float32)
    w = np.array([it["weight"] for it in items], np.float64)
    w /= w.sum()
    rng = np.random.default_rng(seed)
    avg = {k: v.detach().clone() for k, v in head.state_dict().items()} if EMA > 0 else None
    t0 = time.time()
    head.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = g["scale"] * lr * 0.5 * (1 + math.cos(math.pi * step / max(1, steps)))
        chosen = rng.choice(len(items), size=batch, replace=False, p=w) if batch < len(items) else range(len(items))
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for i in chosen:
            feats, lab, rows = crop_of(items[i], CROP, rng)
            loss = loss_of(head, feats, lab, rows, class_weights) / batch
            loss.backward()
            total += float(loss.detach())
        opt.step()
        if avg is not None:
            with torch.no_grad():
                for k, v in head.state_dict().items():
                    if v.dtype.is_floating_point:
                        avg[k].mul_(EMA).add_(v, alpha=1 - EMA)
        if log and (step % 100 == 0 or step == steps - 1):
            log(f"step {step}/{steps}: loss {total:.4f}, {time.time() - t0:.0f} s")
    if avg is not None:
        head.load_state_dict(avg)
    return parser.round_to_stored(head).eval()     # rounded as ``save`` stores it: the head is what ships


def train_members(items, steps: int, batch: int, lr: float, seed: int, log,
                  variant: str = parser.BACKBONE, workers: int = 1) -> list[SceneHead]:
    """MEMBERS heads reading backbone `variant`, trained on items (its features; ``train``) from
    ``member_seeds(seed, MEMBERS)``. With workers > 1 (and fork, so the features are shared, not
    copied) up to that many members train at once, each in its own process on the threads this
    one has; a member's weights do not depend on where it trained (its seed sets every draw)."""
    stats = feature_stats(items) if MEMBERS > 1 else None     # (the same for every member)
    seeds = member_seeds(seed, MEMBERS)
    workers = min(workers, MEMBERS)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        if log:
            log(f"{variant}: {MEMBERS} members (seeds {', '.join(map(str, seeds))}), {workers} at a time")
        _FORKED.update(items=items, steps=steps, batch=batch, lr=lr, stats=stats, variant=variant, log=log,
                       threads=torch.get_num_threads())
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                states = pool.map(_train_forked, seeds, chunksize=1)
        finally:
            _FORKED.clear()
        heads = []
        for state in states:
            head = SceneHead(**HEAD, backbone=variant)
            head.load_state_dict(state)
            heads.append(head.eval())
        return heads
    heads = []
    for i, s in enumerate(seeds):
        if log and MEMBERS > 1:
            log(f"{variant} member {i + 1} of {MEMBERS} (seed {s})")
        heads.append(train(items, steps, batch, lr, s, log, stats, variant))
    return heads


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of n members, in pairs as cross-validation measured them: seed, seed + 1000, seed + 10,
    seed + 1010, seed + 20, ... (17, 1017, 27, 1027 by default: two runs of two members, seeds 17 and 27)."""
    return [seed + 1000 * (i % 2) + 10 * (i // 2) for i in range(n)]


_FORKED: dict = {}      # train_members' arguments, read by the forked workers (fork shares them, pickling would copy)


def _train_forked(seed: int) -> dict:
    """One member in a worker process: its state dict (``train``'s head)."""
    a = _FORKED
    torch.set_num_threads(a["threads"])
    log = a["log"] and (lambda msg: a["log"](f"seed {seed}: {msg}"))
    return train(a["items"], a["steps"], a["batch"], a["lr"], seed, log, a["stats"], a["variant"]).state_dict()


def ensemble(heads: list[SceneHead]) -> SceneHead | SceneHeads:
    """One head as it is, several as their SceneHeads (probabilities averaged)."""
    return heads[0] if len(heads) == 1 else SceneHeads(heads).eval()


def folds_of(photos, k: int) -> list[int]:
    """A fold (0..k-1) per photo: deterministic, grouped and stratified. Near-identical photos
    (their 48 x 32 high-passed grey thumbnails correlating > 0.8: one view taken twice, two crops
    of one photo) share a group, and a group stays in one fold; groups are dealt to the folds in
    turn, those with falling water first, then flowing, still water, hard negatives and the rest
    (each in the order of a digest of the first photo's name), so every fold gets its share of the
    rare classes. (Among the 146 train photos of round 4 the closest pair correlates 0.65: no groups.)"""
    thumbs = []
    for img_path, _, _ in photos:
        g = np.asarray(scene_labels.load_image(img_path, side=256).convert("L").resize((48, 32)), np.float32)
        t = (g - cv2.GaussianBlur(g, (0, 0), 3)).ravel()
        thumbs.append((t - t.mean()) / (t.std() + 1e-6))
    n = len(photos)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i in range(n):
        for j in range(i + 1, n):
            if float(np.dot(thumbs[i], thumbs[j])) / len(thumbs[i]) > 0.8:
                parent[find(j)] = find(i)
    groups = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)

    def rank(i):
        label = photos[i][1]
        present = set(np.unique(scene_labels.rasterise(label, (64, 48), band=0)).tolist())
        hard = bool(HARD_NEGATIVE_TAGS & set(label.get("tags", [])))
        return 0 if 4 in present else 1 if 3 in present else 2 if 2 in present else 3 if hard else 4
    order = sorted(groups.values(), key=lambda g: (min(rank(i) for i in g), zlib.crc32(photos[g[0]][2].encode())))
    fold = [0] * n
    for turn, g in enumerate(order):
        for i in g:
            fold[i] = turn % k
    return fold


def fold_assignment(photos, k: int, always_train: tuple = (), fold_apart: tuple = (),
                    score_apart: tuple = ()) -> list[int]:
    """A fold per photo (-1: in every fold's training, never scored) for ``cross_validate``: photos whose
    name starts with one of ``always_train`` get -1; those in ``fold_apart`` or ``score_apart`` are dealt
    to folds among themselves; the rest get the folds they would have without any (``folds_of``)."""
    scored = [i for i, (_, _, name) in enumerate(photos) if not name.startswith(tuple(always_train))]
    apart = [i for i in scored if photos[i][2].startswith(tuple(fold_apart) + tuple(score_apart))]
    rest = sorted(set(scored) - set(apart))
    fold = [-1] * len(photos)
    for part in (rest, apart):
        if part:
            for i, f in zip(part, folds_of([photos[i] for i in part], k)):
                fold[i] = f
    return fold


def cross_validate(photos, items, k: int, steps, batch, lr, seed, out: str | None, log,
                   always_train: tuple = (), variant: str = parser.BACKBONE, train_share: float = 1.0,
                   workers: int = 1, fold_apart: tuple = (), score_apart: tuple = ()) -> dict:
    """Train a head on k-1 folds and evaluate it on the one held back, for each fold; print and
    return the out-of-fold figures (with and without flip averaging). With ``out``, each fold's
    head goes to OUT/foldI/ and OUT/folds.json maps each photo's name to its fold (for
    ``bench/masks.py --split train --heads OUT``). Photos whose name starts with one of
    ``always_train`` (folder names under data/scenes) are in every fold's training and never
    scored, so that the other photos' folds and figures compare with a run without them
    (is new data worth adding?). ``train_share`` < 1: each fold's head trains on that share of
    its photos only (drawn at random, the same steps; a learning curve: does more data help?).
    Photos in ``fold_apart`` folders are scored too but dealt to folds among themselves
    (``fold_assignment``), so the other photos keep the folds of a run without them and new data
    is measured on its own photos as well. Photos in ``score_apart`` folders are dealt so too but never
    trained on: the run without new data, scoring them with the folds a ``fold_apart`` run deals them
    (its heads are those of a run without them, bit for bit: the training items keep their order)."""
    fold = fold_assignment(photos, k, always_train, fold_apart, score_apart)
    never = {i for i, (_, _, name) in enumerate(photos) if name.startswith(tuple(score_apart))}
    conf = {True: np.zeros((5, 5), np.int64), False: np.zeros((5, 5), np.int64)}
    rows = {True: [], False: []}
    folds_json = {"folds": k, "photos": {}}
    for f in range(k):
        pool = sorted({it["photo"] for it in items if fold[it["photo"]] != f and it["photo"] not in never})
        keep = set(pool) if train_share >= 1 else set(
            np.random.default_rng([seed, f]).permutation(pool)[:max(1, round(train_share * len(pool)))].tolist())
        train_items = [it for it in items if it["photo"] in keep and it["aug"] in train_views()]
        held = [it for it in items if fold[it["photo"]] == f and it["aug"] in ("base", "flip")]
        t0 = time.time()
        head = ensemble(train_members(train_items, steps, batch, lr, seed, None, variant, workers))
        for flip in (False, True):
            c, r = evaluate(head, held, flip)
            conf[flip] += c
            rows[flip] += r
        log(f"fold {f}: {sum(1 for x in fold if x == f)} photos held back, trained on {len(keep)} in "
            f"{time.time() - t0:.0f} s")
        if out:
            names = sorted({it["name"] for it in held})
            save(head, os.path.join(out, f"fold{f}"), {"fold": f, "held_back": names, "settings": settings()})
            for nm in names:
                folds_json["photos"][nm] = f
    if out:
        with open(os.path.join(out, "folds.json"), "w", encoding="utf-8") as fh:
            json.dump(folds_json, fh, indent=1)
    result = {}
    for flip in (False, True):
        fig = figures(conf[flip], rows[flip])
        result["flip" if flip else "plain"] = fig
        print(f"OOF {k} folds, {'flip-averaged' if flip else 'single pass'}: acc {fig['acc']:.4f}; IoU "
              + " ".join(f"{c[:5]} {v:.3f}" for c, v in zip(CLASSES, fig["iou"]))
              + f"; solid called moving {100 * fig['false_move']:.2f}% pooled, {100 * fig['fm_mean']:.2f}% mean, "
              f"{fig['fm_over_1']}/{fig['n_photos']} photos > 1%; moving found {100 * fig['recall']:.1f}%; "
              f"running water found on {fig['running_found']}/{fig['running_photos']} photos", flush=True)
    return result


def train_views() -> tuple:
    """The names of the views the head trains on (``AUG_SETS[AUGMENTS]``)."""
    return tuple(name for name, _ in AUG_SETS[AUGMENTS])


def all_views() -> tuple:
    """The training views plus the evaluation-only ones (the mirror image for flip averaging)."""
    views = list(AUG_SETS[AUGMENTS])
    return tuple(views + [v for v in EVAL_VIEWS if v[0] not in dict(views)])


def override(assignments) -> None:
    """Set module settings from NAME=VALUE strings (Python literals; HEAD.key=VALUE for one key)."""
    for a in assignments or []:
        name, _, value = a.partition("=")
        name, _, key = name.strip().upper().partition(".")
        if name not in TUNABLE:
            raise SystemExit(f"--set {a}: {name} is not one of {', '.join(TUNABLE)}")
        try:
            v = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            v = value
        if key:
            globals()[name] = dict(globals()[name], **{key.lower(): v})
        else:
            globals()[name] = v
    if AUGMENTS not in AUG_SETS:
        raise SystemExit(f"AUGMENTS must be one of {', '.join(AUG_SETS)}")


def settings() -> dict:
    """The tunable module settings (recorded in the card)."""
    return {name.lower(): globals()[name] for name in TUNABLE}


def save(head: SceneHead | SceneHeads, out_dir: str, meta: dict) -> str:
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "scene_head.safetensors")
    state = parser.pack(head.state_dict())     # int8 / float16 / float32 (``train`` rounded the head so)
    # one metadata entry: safetensors writes several in a random order, and the file must be reproducible
    save_file(state, path, metadata={"about": "CineGAN scene parser head; classes " + ",".join(CLASSES)})
    digest = sha256_file(path)
    n_params = sum(p.numel() for p in head.parameters())
    variants = [efficientnet.VARIANTS[name] for name in head.backbones]
    over = " and ".join(f"EfficientNet-{v.name.capitalize()} ({v.package}=={efficientnet.PACKAGE_VERSION}, ImageNet, "
                        "Apache-2.0)" for v in variants)
    frozen = ("frozen but for its last block, a fine-tuned copy of which each member carries"
              if any(m.top is not None for m in head.members) else "frozen")
    card = {"what": f"decoder head of the CineGAN scene parser over {over}, {frozen}",
            "backbone": variants[0].name if len(variants) == 1 else [v.name for v in variants],
            "file": "scene_head.safetensors", "sha256": digest, "bytes": os.path.getsize(path),
            "parameters": n_params, "members": len(head.members), "stored": parser.STORED,
            "classes": list(CLASSES), "working_long_side": WORK_SIDE,
            "output_stride": 4, "input": "RGB 0..255, (x - 127) / 128", **meta}
    with open(os.path.join(out_dir, "scene_head.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    return digest


def training_card(photos, items, steps: int, batch: int, lr: float, seed: int) -> dict:
    """What the shipped head was trained on, for its card: photos, classes, pixels, settings."""
    counts = {c: 0 for c in CLASSES}
    pixels = {c: 0 for c in CLASSES}
    for it in items:
        if it["aug"] != "base":
            continue
        lab = it["labels"].numpy()
        for i, c in enumerate(CLASSES):
            n = int((lab == i).sum())
            pixels[c] += n
            counts[c] += int(n > 0)
    return {"photos": len(photos), "split": "train only (held-out photos never read)",
            "data": sorted({os.path.dirname(n) for _, _, n in photos}),
            "photos_with_class": counts, "scored_pixels_at_working_size": pixels,
            "augmentations": [a[0] for a in AUG_SETS[AUGMENTS]], "steps": steps, "batch": batch, "lr": lr,
            "seed": seed, "member_seeds": member_seeds(seed, MEMBERS), "settings": settings()}


def name_prefixes(names) -> tuple:
    """Folder names under data/scenes as the name prefixes they give their photos ("new-r7" -> "new-r7/")."""
    return tuple(n.rstrip("/") + "/" for n in names)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="*", default=None,
                    help="folders of labelled photos (NAME.jpg + NAME.json, any depth); only split 'train' is used "
                         "(default: data/scenes but its WAITING folders)")
    ap.add_argument("--out", default=os.path.join(ROOT, "cinegan_core", "data"))
    ap.add_argument("--steps", type=int, default=None, help=f"default STEPS ({STEPS})")
    ap.add_argument("--batch", type=int, default=None, help=f"default BATCH ({BATCH})")
    ap.add_argument("--lr", type=float, default=None, help=f"default LR ({LR})")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: with the photo-level context a step took 0.28 s on one thread and "
                         "0.45 s on two of a 2-core machine, stop 48)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="members trained at once, each in its own process on --threads threads (default: the "
                         "CPU count; fork only; the head is the same bit for bit either way)")
    ap.add_argument("--folds", type=int, default=0,
                    help="K > 1: cross-validation over the train photos instead of the shipped head: K heads, "
                         "each evaluated on its held-back fold (out-of-fold figures); --out gets foldI/ heads "
                         "and folds.json for bench/masks.py --heads")
    ap.add_argument("--always-train", nargs="*", default=[], metavar="FOLDER",
                    help="with --folds: folders (names under data/scenes, e.g. fedora-r7flow/) whose photos are "
                         "in every fold's training and never scored, to measure what new data adds")
    ap.add_argument("--fold-apart", nargs="*", default=[], metavar="FOLDER",
                    help="with --folds: folders whose photos are dealt to folds among themselves and scored, the "
                         "others keeping the folds they have without them (new data measured on its own photos too)")
    ap.add_argument("--score-apart", nargs="*", default=[], metavar="FOLDER",
                    help="with --folds: folders whose photos are dealt to folds as --fold-apart deals them and "
                         "scored, but never trained on (the run without new data, scored on the new photos too)")
    ap.add_argument("--train-share", type=float, default=1.0, metavar="S",
                    help="with --folds: each fold's head trains on this share (0..1] of its photos, drawn at random "
                         "(a learning curve)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="override a setting for an experiment, e.g. WEIGHT_DECAY=1e-2 HEAD.drop=0.3 AUGMENTS=r3")
    ap.add_argument("--cache", default=CACHE, help="folder for the backbone features ('' to keep none)")
    ap.add_argument("--quick", action="store_true", help="synthetic photos, a few steps (to test the script)")
    args = ap.parse_args(argv)
    if args.data is None:
        args.data = default_data()
    override(args.set)
    steps = STEPS if args.steps is None else args.steps
    batch = BATCH if args.batch is None else args.batch
    lr = LR if args.lr is None else args.lr

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    if args.folds > 1 and len(BACKBONES) > 1:
        raise SystemExit("--folds: cross-validate one backbone at a time (--set \"BACKBONES=('lite0',)\"); "
                         "bench/masks.py --heads fuses the runs")
    if args.quick:
        synthetic = synthetic_photos(6, rng)
        steps = min(steps, 5)
        batch = min(batch, 3)
        meta = {"training": {"data": "synthetic (--quick): not a usable head", "photos": len(synthetic)}}
    else:
        photos = labelled_photos(args.data)
        if not photos:
            print("no train-split labelled photos found under " + ", ".join(args.data), file=sys.stderr)
            return 2
        views = all_views() if args.folds > 1 else AUG_SETS[AUGMENTS]
        log(f"{len(photos)} train photos, {len(views)} views each")
        meta = None
    heads = []
    for variant in BACKBONES:
        backbone = efficientnet.load(variant, classifier=False)
        if args.quick:
            items = [{"feats": features_of(backbone, rgb), "labels": torch.from_numpy(lab), "photo": k,
                      "name": f"synthetic-{k}", "aug": "synthetic", "weight": 1.0}
                     for k, (rgb, lab) in enumerate(synthetic)]
        else:
            items = build_items(backbone, photos, views, args.seed, log, args.cache or None, variant)
        if HEAD.get("top"):
            add_top_inputs(items, variant, log)
        if args.folds > 1:
            log(f"cross-validation, {args.folds} folds, {steps} steps of {batch} each; settings {settings()}")
            cross_validate(photos, items, args.folds, steps, batch, lr, args.seed,
                           args.out if args.out != os.path.join(ROOT, "cinegan_core", "data") else None, log,
                           name_prefixes(args.always_train), variant, args.train_share, args.workers,
                           name_prefixes(args.fold_apart), name_prefixes(args.score_apart))
            log("done")
            return 0
        if meta is None:
            meta = {"training": training_card(photos, items, steps, batch, lr, args.seed)}
        log(f"{len(items)} feature sets of {variant} ready; training {steps} steps of {batch}")
        heads += train_members(items, steps, batch, lr, args.seed, log, variant, args.workers)
        del items, backbone
    head = ensemble(heads)
    meta["training"]["seconds"] = round(time.time() - t0, 1)
    digest = save(head, args.out, meta)
    log(f"wrote {os.path.join(args.out, 'scene_head.safetensors')} sha256 {digest}")
    print(f'HEAD_SHA256 = "{digest}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
