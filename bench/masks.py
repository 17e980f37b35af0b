"""The automatic sky / water mask, measured: reference masks, hand-made checks, a contact sheet.

    python bench/masks.py [--samples DIR] [--photos DIR] [--debian-root DIR] [--bw]
                          [--max-side PX] [--out bench/out/masks.png] [--only NAME ...]

Prints, per photo, the time the mask took (wall and CPU seconds) and:

* reference samples (DIR/NAME/NAME.png + NAME_mask.png, white = moves): IoU
  of the moving area, and the false-move rate: the fraction of the
  reference's frozen pixels that the automatic mask marks moving;
* photos with hand-made checks (bench/mask_annotations.json): how much of the
  must-freeze area moves (it must be 0), and how much of the areas that are
  clearly sky / water get that label (recall; precision comes first);
* the mask's notes (what a user is told).

Then the mean and the worst of each figure, and a contact sheet (sky tinted
red, water green, the must-freeze areas outlined in cyan, any of their
pixels that move painted yellow) plus one full-resolution picture per photo
under bench/out/masks/ for a look by eye.

Photos from Debian packages are found under --debian-root, the folder into
which the packages named in the JSON were unpacked (`apt-get download
plasma-workspace-wallpapers lomiri-wallpapers-16.04 ... && dpkg -x FILE.deb ROOT`).
--bw adds a black-and-white copy of every annotated photo (same checks).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SHARED = os.path.join(ROOT, "..", "shared", "data")
ANNOTATIONS = os.path.join(ROOT, "bench", "mask_annotations.json")
TILE = (400, 300)


def draw_shapes(shapes, size) -> np.ndarray:
    """Rasterise annotation shapes (percent coordinates, see the JSON's "about") to (H, W) bool."""
    w, h = size
    img = Image.new("L", size, 0)
    d = ImageDraw.Draw(img)
    for s in shapes:
        if "box" in s:
            x0, y0, x1, y1 = s["box"]
            d.rectangle([x0 * w / 100, y0 * h / 100, x1 * w / 100 - 1, y1 * h / 100 - 1], fill=255)
        elif "poly" in s:
            d.polygon([(x * w / 100, y * h / 100) for x, y in s["poly"]], fill=255)
        elif "line" in s:
            width = max(1, round(s["width"] * max(w, h) / 100))
            d.line([(x * w / 100, y * h / 100) for x, y in s["line"]], fill=255, width=width)
    return np.asarray(img) > 0


def tint(rgb, labels):
    out = rgb.astype(np.float32)
    for k, colour in ((1, (255, 40, 40)), (2, (40, 255, 80))):
        sel = labels == k
        out[sel] = out[sel] * 0.55 + np.array(colour) * 0.45
    return out.astype(np.uint8)


def outline(mask: np.ndarray) -> np.ndarray:
    import cv2
    k = np.ones((3, 3), np.uint8)
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, k, iterations=2) > 0) & ~(cv2.erode(m, k) > 0)


def picture(rgb, labels, freeze=None) -> np.ndarray:
    """The photo tinted with its labels; must-freeze outlines cyan, moving must-freeze pixels yellow."""
    out = tint(rgb, labels)
    if freeze is not None:
        out[outline(freeze)] = (0, 230, 255)
        out[freeze & (labels > 0)] = (255, 230, 0)
    return out


def run_mask(rgb):
    from cinegan_core.automask import auto_mask
    t, c = time.perf_counter(), time.process_time()
    result = auto_mask(rgb)
    return result, time.perf_counter() - t, time.process_time() - c


def load(path, max_side):
    from cinegan_core import load_photo
    return load_photo(path, max_side=max_side).rgb


def samples(folder, max_side, only):
    """Rows for the reference samples: IoU and false-move rate against NAME_mask.png."""
    rows = []
    for d in sorted(glob.glob(os.path.join(folder, "*", ""))):
        name = os.path.basename(os.path.dirname(d))
        if only and name not in only:
            continue
        rgb = load(os.path.join(d, name + ".png"), max_side)
        ref = np.asarray(Image.open(os.path.join(d, name + "_mask.png")).convert("L").resize(
            (rgb.shape[1], rgb.shape[0]), Image.NEAREST)) > 127
        res, wall, cpu = run_mask(rgb)
        moving = res.labels > 0
        iou = (moving & ref).sum() / max(1, (moving | ref).sum())
        false_move = (moving & ~ref).sum() / max(1, (~ref).sum())
        missed = (~moving & ref).sum() / max(1, ref.sum())
        rows.append(dict(name=name, rgb=rgb, res=res, wall=wall, cpu=cpu, iou=iou, false_move=false_move,
                         missed=missed, ref=ref))
    return rows


def annotated(max_side, photos_dir, debian_root, bw, only):
    """Rows for the hand-annotated photos: must-freeze area moving, sky / water recall."""
    spec = json.load(open(ANNOTATIONS))
    items = [(n, os.path.join(photos_dir, n), a) for n, a in spec["photos"].items()]
    if debian_root:
        items += [(n, os.path.join(debian_root, a["path"]), a) for n, a in spec["debian"].items()]
    rows = []
    for name, path, a in items:
        if only and os.path.splitext(name)[0] not in only:
            continue
        if not os.path.exists(path):
            print(f"  (skipped {name}: {path} not found)")
            continue
        rgb0 = load(path, max_side)
        for variant in ("colour", "bw") if bw else ("colour",):
            rgb = rgb0 if variant == "colour" else np.repeat(
                np.asarray(Image.fromarray(rgb0).convert("L"))[..., None], 3, 2)
            size = (rgb.shape[1], rgb.shape[0])
            freeze = draw_shapes(a.get("freeze", []), size)
            sky = draw_shapes(a.get("sky", []), size)
            water = draw_shapes(a.get("water", []), size)
            res, wall, cpu = run_mask(rgb)
            lab = res.labels
            rows.append(dict(
                name=os.path.splitext(name)[0] + ("" if variant == "colour" else " (bw)"), rgb=rgb, res=res,
                wall=wall, cpu=cpu, freeze=freeze,
                freeze_moving=(freeze & (lab > 0)).sum() / freeze.sum() if freeze.any() else None,
                sky_recall=(sky & (lab == 1)).sum() / sky.sum() if sky.any() else None,
                water_recall=(water & (lab == 2)).sum() / water.sum() if water.any() else None))
    return rows


def fmt(x, pct=True):
    if x is None:
        return "   -  "
    return f"{100 * x:5.1f}%" if pct else f"{x:6.3f}"


def sheet(rows, path):
    tiles = []
    for r in rows:
        pic = Image.fromarray(picture(r["rgb"], r["res"].labels, r.get("freeze")))
        os.makedirs(os.path.join(os.path.dirname(path), "masks"), exist_ok=True)
        pic.save(os.path.join(os.path.dirname(path), "masks", r["name"].replace(" ", "_") + ".png"))
        pic.thumbnail(TILE)
        canvas = Image.new("RGB", (TILE[0], TILE[1] + 30), "white")
        canvas.paste(pic, (0, 0))
        d = ImageDraw.Draw(canvas)
        if "iou" in r:
            text = f"{r['name']}  IoU {r['iou']:.3f}  false-move {100 * r['false_move']:.1f}%"
        else:
            text = f"{r['name']}  freeze moving {fmt(r['freeze_moving'])}"
        d.text((4, TILE[1] + 2), text, fill="black")
        d.text((4, TILE[1] + 15), (r["res"].notes[0] if r["res"].notes else "")[:64], fill=(90, 90, 90))
        tiles.append(canvas)
    cols = 4
    out = Image.new("RGB", (TILE[0] * cols, (TILE[1] + 30) * ((len(tiles) + cols - 1) // cols)), "white")
    for i, t in enumerate(tiles):
        out.paste(t, (TILE[0] * (i % cols), (TILE[1] + 30) * (i // cols)))
    out.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default=os.path.join(SHARED, "samples"))
    ap.add_argument("--photos", default=os.path.join(SHARED, "photos"))
    ap.add_argument("--debian-root", default=None, help="folder the Debian packages were unpacked into")
    ap.add_argument("--bw", action="store_true", help="also check black-and-white copies")
    ap.add_argument("--max-side", type=int, default=2048, help="photos are resized to this long side first")
    ap.add_argument("--only", nargs="*", default=None, help="names (without extension) to run")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "masks.png"))
    a = ap.parse_args()
    only = set(a.only or [])

    srows = samples(a.samples, a.max_side, only) if os.path.isdir(a.samples) else []
    if srows:
        print("reference samples                IoU   false-move  missed   wall s  cpu s")
        for r in srows:
            print(f"  {r['name']:28s} {r['iou']:6.3f}   {fmt(r['false_move'])}   {fmt(r['missed'])}"
                  f"   {r['wall']:5.2f}  {r['cpu']:5.2f}")
        iou = [r["iou"] for r in srows]
        fm = [r["false_move"] for r in srows]
        print(f"  IoU mean {np.mean(iou):.4f} worst {min(iou):.4f}; "
              f"false-move mean {100 * np.mean(fm):.3f}% worst {100 * max(fm):.3f}%")

    arows = annotated(a.max_side, a.photos, a.debian_root, a.bw, only)
    if arows:
        print("\nhand-checked photos        size       freeze moving  sky recall  water recall  sky   water"
              "  wall s  cpu s  notes")
        for r in arows:
            h, w = r["rgb"].shape[:2]
            share = r["res"].share
            print(f"  {r['name']:26s} {w:4d}x{h:<4d} {fmt(r['freeze_moving']):>8s}      {fmt(r['sky_recall'])}"
                  f"      {fmt(r['water_recall'])}    {100 * share['sky']:3.0f}%  {100 * share['water']:3.0f}%"
                  f"   {r['wall']:5.2f}  {r['cpu']:5.2f}  {' | '.join(r['res'].notes)}")
        fz = [r["freeze_moving"] for r in arows if r["freeze_moving"] is not None]
        bad = [r["name"] for r in arows if (r["freeze_moving"] or 0) > 0.001]
        print(f"  must-freeze area moving: mean {100 * np.mean(fz):.2f}% worst {100 * max(fz):.2f}%; "
              f"photos with more than 0.1% of it moving: {len(bad)} {bad}")
        for key in ("sky_recall", "water_recall"):
            v = [r[key] for r in arows if r[key] is not None]
            if v:
                print(f"  {key.replace('_', ' ')}: mean {100 * np.mean(v):.1f}% worst {100 * min(v):.1f}% over {len(v)}")
    rows = srows + arows
    if rows:
        walls = [r["wall"] for r in rows]
        big = [r["wall"] for r in rows if max(r["rgb"].shape[:2]) >= 1900]
        print(f"\ntime per photo: mean {np.mean(walls):.2f} s, worst {max(walls):.2f} s"
              + (f"; at ~2048 px long side: mean {np.mean(big):.2f} s, worst {max(big):.2f} s" if big else ""))
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        sheet(rows, a.out)
        print(f"wrote {a.out} and {os.path.join(os.path.dirname(a.out), 'masks')}/")


if __name__ == "__main__":
    main()
