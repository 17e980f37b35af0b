"""The learned scene parser alone, measured on the labelled photos and the reference samples.

    python bench/scene_parser.py [--split heldout train] [--head DIR] [--only NAME ...] [--per-photo]

For each split of data/scenes (labels from scripts/scene_labels.py, scored
where the label is not 255), from the argmax of ``parse_scene`` at the working
size (long side 512):

* per-class IoU and pixel accuracy (pooled over the split's pixels);
* moving vs solid: the share of solid pixels called moving (false-move),
  pooled, per-photo mean and worst, with the photos over 1 %; and the share
  of moving pixels called moving (recall), pooled and worst;
* falling and flowing water per photo that has it: the share of its pixels
  given its own class and given any water class ("found" = at least 30 % of
  it given a water class other than still water, i.e. it moves as running water);

then the reference samples (../shared/data/samples: IoU of the moving area and
false-move against NAME_mask.png, at 1024 px), and the parser's time on a
2048 px photo (one cold call with loading, one warm call; wall and CPU s).

--head DIR measures another head (DIR/scene_head.safetensors, verified against
the sha256 in DIR/scene_head.json) instead of the shipped one.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

# an entry point, so it may choose: OpenMP threads that sleep instead of spinning while they wait
# (with other processes on the cores, spinning threads made one parse take seconds instead of 0.2 s)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import scene_labels  # noqa: E402
from cinegan_core.automask import parser  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(ROOT), "shared", "data", "samples")
CLASSES = scene_labels.CLASSES
SHORT = ("solid", "sky", "still", "flowing", "falling")
FOUND = 0.30


def photos_of(split: str, only=None) -> list[tuple[str, dict]]:
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "data", "scenes", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        if "regions" not in raw or raw.get("split", "train") != split:
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        if only and name not in only:
            continue
        img = os.path.join(os.path.dirname(path), raw.get("image", name + ".jpg"))
        out.append((img, raw))
    return out


def score_split(split: str, only, per_photo: bool) -> None:
    photos = photos_of(split, only)
    if not photos:
        return
    conf = np.zeros((5, 5), np.int64)           # [true, predicted]
    bins = np.linspace(0, 1, 101)
    hist_solid, hist_moving = np.zeros(100, np.int64), np.zeros(100, np.int64)   # P(moving) per pixel
    rows, running = [], []
    for img_path, label in photos:
        rgb = np.asarray(scene_labels.load_image(img_path))
        sp = parser.parse_scene(rgb)
        h, w = parser.work_size(*rgb.shape[:2])
        probs = sp.up((h, w))
        pred = np.argmax(probs, 0).astype(np.uint8)
        lab = scene_labels.rasterise(label, (w, h))
        valid = lab != scene_labels.IGNORE
        p_moving = 1.0 - probs[0]
        hist_solid += np.histogram(p_moving[valid & (lab == 0)], bins)[0]
        hist_moving += np.histogram(p_moving[valid & (lab != 0)], bins)[0]
        t, p = lab[valid].astype(np.int64), pred[valid].astype(np.int64)
        c = np.bincount(t * 5 + p, minlength=25).reshape(5, 5)
        conf += c
        solid, moving = c[0].sum(), c[1:].sum()
        fm = c[0, 1:].sum() / solid if solid else 0.0
        rec = c[1:, 1:].sum() / moving if moving else None
        name = os.path.relpath(img_path, os.path.join(ROOT, "data", "scenes"))
        rows.append((name, fm, rec))
        for k in (3, 4):
            n = c[k].sum()
            if n:
                own = c[k, k] / n
                running_water = (c[k, 3] + c[k, 4]) / n
                anywater = c[k, 2:].sum() / n
                running.append((name, SHORT[k], own, running_water, anywater))
    total = conf.sum()
    print(f"\n== split {split}: {len(photos)} photos, {total} scored pixels at the working size")
    print("class      IoU    recall  precision  (pixels)")
    for k in range(5):
        tp, fn, fp = conf[k, k], conf[k].sum() - conf[k, k], conf[:, k].sum() - conf[k, k]
        iou = tp / max(1, tp + fn + fp)
        print(f"  {SHORT[k]:8s} {iou:6.3f}  {tp / max(1, tp + fn):6.3f}  {tp / max(1, tp + fp):6.3f}     ({conf[k].sum()})")
    print(f"  pixel accuracy {np.trace(conf) / max(1, total):.4f}; mean IoU "
          f"{np.mean([conf[k, k] / max(1, conf[k].sum() + conf[:, k].sum() - conf[k, k]) for k in range(5) if conf[k].sum()]):.3f}")
    print("confusion (rows true, columns predicted, % of the row):")
    print("           " + " ".join(f"{s:>8s}" for s in SHORT))
    for k in range(5):
        if conf[k].sum():
            print(f"  {SHORT[k]:8s} " + " ".join(f"{100 * v / conf[k].sum():8.2f}" for v in conf[k]))
    fms = np.array([r[1] for r in rows])
    recs = np.array([r[2] for r in rows if r[2] is not None])
    pooled_fm = conf[0, 1:].sum() / max(1, conf[0].sum())
    pooled_rec = conf[1:, 1:].sum() / max(1, conf[1:].sum())
    print(f"moving vs solid: false-move pooled {100 * pooled_fm:.2f} %, per photo mean {100 * fms.mean():.2f} % "
          f"worst {100 * fms.max():.2f} %, photos over 1 %: {int((fms > 0.01).sum())}/{len(fms)}")
    print(f"                 recall pooled {100 * pooled_rec:.2f} %, per photo mean {100 * recs.mean():.2f} % "
          f"worst {100 * recs.min():.2f} %")
    fm_at = lambda t: hist_solid[round(100 * t):].sum() / max(1, hist_solid.sum())   # noqa: E731
    rec_at = lambda t: hist_moving[round(100 * t):].sum() / max(1, hist_moving.sum())   # noqa: E731
    print("  moving where P(moving) >= t (pooled): " + ", ".join(
        f"t {t:.2f}: false-move {100 * fm_at(t):.2f} % recall {100 * rec_at(t):.2f} %" for t in (0.5, 0.7, 0.85, 0.95)))
    bad = sorted(rows, key=lambda r: -r[1])[: (len(rows) if per_photo else 8)]
    print("  most false-move: " + ", ".join(f"{n} {100 * f:.1f}%" for n, f, _ in bad if f > 0.01 or per_photo))
    if per_photo:
        for n, f, r in rows:
            print(f"    {n:55s} false-move {100 * f:6.2f} %  recall {'-' if r is None else f'{100 * r:6.2f} %'}")
    if running:
        found = sum(1 for r in running if r[3] >= FOUND)
        print(f"falling / flowing water per photo: found {found}/{len(running)} "
              "(own class / running water / any water, share of its pixels)")
        for n, k, own, run, anyw in running:
            print(f"  {'found  ' if run >= FOUND else 'MISSED '} {k:8s} {n:55s} {own:5.2f} / {run:5.2f} / {anyw:5.2f}")


def score_samples() -> None:
    names = sorted(d for d in os.listdir(SAMPLES) if os.path.isdir(os.path.join(SAMPLES, d))) \
        if os.path.isdir(SAMPLES) else []
    if not names:
        return
    print(f"\n== reference samples ({SAMPLES}): moving = argmax is not solid")
    ious, fms = [], []
    for n in names:
        rgb = np.asarray(Image.open(os.path.join(SAMPLES, n, f"{n}.png")).convert("RGB"))
        ref = np.asarray(Image.open(os.path.join(SAMPLES, n, f"{n}_mask.png")).convert("L")) > 127
        pred = parser.parse_scene(rgb).labels(ref.shape) != 0
        iou = (pred & ref).sum() / max(1, (pred | ref).sum())
        fm = (pred & ~ref).sum() / max(1, (~ref).sum())
        ious.append(iou)
        fms.append(fm)
        print(f"  {n:10s} IoU {iou:.3f}  false-move {100 * fm:5.2f} %")
    print(f"  IoU mean {np.mean(ious):.3f} worst {np.min(ious):.3f}; false-move mean {100 * np.mean(fms):.2f} % "
          f"worst {100 * np.max(fms):.2f} %")


def timing() -> None:
    path = sorted(glob.glob(os.path.join(ROOT, "data", "scenes", "**", "*.jpg"), recursive=True))[0]
    img = Image.open(path).convert("RGB")
    s = 2048 / max(img.size)
    rgb = np.asarray(img.resize((round(img.width * s), round(img.height * s)), Image.BICUBIC))
    out = []
    for what in ("first call", "second call"):
        t, c = time.perf_counter(), time.process_time()
        parser.parse_scene(rgb)
        out.append(f"{what} {time.perf_counter() - t:.3f} s wall / {time.process_time() - c:.3f} s CPU")
    import torch
    print(f"\n== time at {rgb.shape[1]}x{rgb.shape[0]} px (torch threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}): " + "; ".join(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", nargs="*", default=["heldout", "train"])
    ap.add_argument("--head", help="folder with scene_head.safetensors + scene_head.json to measure instead")
    ap.add_argument("--only", nargs="*", help="photo names (without extension)")
    ap.add_argument("--per-photo", action="store_true")
    ap.add_argument("--no-samples", action="store_true")
    args = ap.parse_args(argv)
    if args.head:
        with open(os.path.join(args.head, "scene_head.json"), encoding="utf-8") as f:
            parser.HEAD_SHA256 = json.load(f)["sha256"]
        parser.HEAD_PATH = os.path.join(args.head, "scene_head.safetensors")
    ok, why = parser.available()
    if not ok:
        print(f"scene parser not available: {why}")
        return 1
    print(f"head {os.path.relpath(parser.HEAD_PATH, ROOT)} sha256 {parser.HEAD_SHA256[:16]}...")
    timing()
    for split in args.split:
        score_split(split, args.only, args.per_photo)
    if not args.no_samples and not args.only:
        score_samples()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
