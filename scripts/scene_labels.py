"""Scene labels for training and checking the scene parser: read, draw, rasterise, count.

A labelled photo is ``NAME.jpg`` beside ``NAME.json``::

    {
      "image": "NAME.jpg",
      "source": "where it came from (package and path, or repository, commit and path)",
      "licence": "SPDX id, e.g. CC-BY-SA-4.0, CC0-1.0, GPL-2.0-or-later",
      "author": "who made the photo",
      "split": "train" | "heldout",
      "tags": ["waterfall", "forest", ...],
      "regions": [
        {"class": "sky", "poly": [[x, y], ...]},
        {"class": "solid", "box": [x0, y0, x1, y1], "what": "kite"},
        {"class": "solid", "line": [[x, y], ...], "width": 0.5, "what": "mast"}
      ],
      "ignore": [{"poly": [[x, y], ...]}],
      "band": 0.6
    }

Coordinates are percent of the image's width (x) and height (y), origin top
left, so they hold at any resolution. Regions are painted in order (a later
one covers an earlier one); what no region covers is ``solid``. Classes:
``sky``, ``still_water``, ``flowing_water``, ``falling_water``, ``solid``.
``ignore`` areas, and a band of ``band`` percent of the long side around every
boundary between two classes, are left out of training and scoring (value 255),
so a polygon need not follow a tree line to the pixel.

    python scripts/scene_labels.py grid IMG -o OUT.png    # the photo with a percent grid, to read positions
    python scripts/scene_labels.py show JSON -o OUT.png   # the labels tinted over the photo, with the grid
    python scripts/scene_labels.py card DIR [DIR ...]      # the data card's table and totals (markdown)
    python scripts/scene_labels.py dupes IMG [IMG ...]     # near-duplicates among the labelled photos and samples
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

CLASSES = ("solid", "sky", "still_water", "flowing_water", "falling_water")  # index = label value
IGNORE = 255
DEFAULT_BAND = 0.6   # percent of the long side, each side of a class boundary
TINTS = {"sky": (40, 120, 255), "still_water": (0, 200, 90), "flowing_water": (0, 230, 230),
         "falling_water": (255, 0, 200)}


def read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        label = json.load(f)
    for r in label.get("regions", []):
        if r.get("class") not in CLASSES:
            raise ValueError(f"{path}: unknown class {r.get('class')!r}; use one of {', '.join(CLASSES)}")
    return label


def _points(shape: dict, w: int, h: int) -> list:
    if "box" in shape:
        x0, y0, x1, y1 = shape["box"]
        pts = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    else:
        pts = shape.get("poly") or shape.get("line")
    return [(float(x) * w / 100.0, float(y) * h / 100.0) for x, y in pts]


def _paint(canvas: np.ndarray, shape: dict, value: int) -> None:
    h, w = canvas.shape
    pts = np.round(np.array(_points(shape, w, h)) * 16).astype(np.int32)   # 4 fractional bits
    if "line" in shape:
        width = max(1, int(round(float(shape.get("width", 0.5)) * max(w, h) / 100.0)))
        cv2.polylines(canvas, [pts], False, int(value), thickness=width, lineType=cv2.LINE_8, shift=4)
    else:
        cv2.fillPoly(canvas, [pts], int(value), lineType=cv2.LINE_8, shift=4)


def rasterise(label: dict, size: tuple[int, int], band: float | None = None) -> np.ndarray:
    """Labels at ``size`` = (W, H): (H, W) uint8, index into CLASSES, IGNORE where unscored."""
    w, h = size
    classes = np.zeros((h, w), np.uint8)
    for r in label.get("regions", []):
        _paint(classes, r, CLASSES.index(r["class"]))
    out = classes.copy()
    band = label.get("band", DEFAULT_BAND) if band is None else band
    r = int(round(band * max(w, h) / 100.0))
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        mixed = cv2.dilate(classes, k) != cv2.erode(classes, k)
        out[mixed] = IGNORE
    ignore = np.zeros((h, w), np.uint8)
    for s in label.get("ignore", []):
        _paint(ignore, s, 1)
    out[ignore > 0] = IGNORE
    return out


def _grid(img: Image.Image, step: int = 5) -> Image.Image:
    img = img.convert("RGB")
    d = ImageDraw.Draw(img)
    w, h = img.size
    font = ImageFont.load_default()
    for p in range(0, 101, step):
        x, y = round(p * (w - 1) / 100), round(p * (h - 1) / 100)
        colour = (255, 255, 0) if p % 10 == 0 else (160, 160, 160)
        d.line([(x, 0), (x, h)], fill=colour, width=1)
        d.line([(0, y), (w, y)], fill=colour, width=1)
        if p % 10 == 0:
            d.text((x + 2, 2), str(p), fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
            d.text((2, y + 2), str(p), fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return img


def load_image(path: str, side: int | None = None) -> Image.Image:
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    if side and max(img.size) > side:
        img.thumbnail((side, side), Image.LANCZOS)
    return img


def overlay(label: dict, img: Image.Image) -> Image.Image:
    """The photo with each moving class tinted, solid as it is, and unscored pixels darkened."""
    lab = rasterise(label, img.size)
    rgb = np.asarray(img, np.float32)
    out = rgb.copy()
    for i, name in enumerate(CLASSES):
        if name in TINTS:
            m = lab == i
            out[m] = 0.5 * rgb[m] + 0.5 * np.array(TINTS[name], np.float32)
    out[lab == IGNORE] *= 0.35
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


THUMB = 16            # side of the grey thumbnail compared by ``dupes``, px
# Mean abs difference (0-255 grey levels) below which two thumbnails are the same picture. Measured on the 224
# photos of round 3: a copy resized to 300 px and re-saved at JPEG q70 differs by at most 2.4, a 3% crop by 10.5,
# +10 brightness by 10.2; two different photos by at least 15.4. Crops over ~4% are missed: look, too.
DUPE_DIFF = 12.0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUPE_POOLS = (os.path.join(REPO, "data", "scenes", "**", "*.jpg"), "/work/shared/data/samples/*/*.png")


def thumb(path: str) -> np.ndarray:
    """(THUMB, THUMB) float32 grey levels 0-255 of the whole photo (EXIF applied, aspect squashed, area average)."""
    img = Image.open(path)
    img.draft("L", (4 * THUMB, 4 * THUMB))        # JPEG: decode at reduced scale, much faster
    img = ImageOps.exif_transpose(img).convert("L")
    return np.asarray(img.resize((THUMB, THUMB), Image.BOX), np.float32)


def dupes(paths: list[str], pools: tuple[str, ...] = DUPE_POOLS, limit: float = DUPE_DIFF) -> list[tuple[str, str, float]]:
    """(query, known photo, mean abs diff) for each pair closer than ``limit``; a path is never its own duplicate.

    Known photos are every file matching ``pools`` (recursive globs; masks ``*_mask.png`` skipped)."""
    known = sorted({os.path.abspath(f) for pat in pools for f in glob.glob(pat, recursive=True)
                    if not f.endswith("_mask.png")})
    thumbs = {f: thumb(f) for f in known}
    found = []
    for p in paths:
        q = thumb(p)
        for f, t in thumbs.items():
            if f == os.path.abspath(p):
                continue
            d = float(np.mean(np.abs(q - t)))
            if d < limit:
                found.append((p, f, d))
    return found


def card(folders: list[str]) -> str:
    """Markdown: one row per labelled photo, then totals per split, licence and tag."""
    rows, totals = [], {}
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            label = read(os.path.join(folder, name))
            img_path = os.path.join(folder, label.get("image", name[:-5] + ".jpg"))
            size = Image.open(img_path).size
            lab = rasterise(label, size)
            scored = lab != IGNORE
            shares = {c: float(np.mean(lab[scored] == i)) if scored.any() else 0.0 for i, c in enumerate(CLASSES)}
            moving = ", ".join(f"{c} {100 * s:.0f}%" for c, s in shares.items() if c != "solid" and s > 0) or "none"
            split = label.get("split", "train")
            rows.append(f"| {os.path.basename(folder)}/{label.get('image')} | {split} | {label.get('licence')} | "
                        f"{label.get('author', '')} | {label.get('source', '')} | {', '.join(label.get('tags', []))} | {moving} |")
            for key in (("split", split), ("licence", label.get("licence"))) + tuple(("tag", t) for t in label.get("tags", [])) \
                    + tuple(("class", c) for c, s in shares.items() if s > 0):
                totals.setdefault(key[0], {}).setdefault(key[1], {}).setdefault(split, 0)
                totals[key[0]][key[1]][split] += 1
    out = ["| photo | split | licence | author | source | tags | labelled moving (share of scored pixels) |",
           "| --- | --- | --- | --- | --- | --- | --- |", *rows, "", "Totals (photos; train / heldout):", ""]
    for kind in ("split", "class", "tag", "licence"):
        for value, n in sorted(totals.get(kind, {}).items(), key=lambda kv: str(kv[0])):
            out.append(f"- {kind} {value}: {n.get('train', 0)} / {n.get('heldout', 0)}")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid", help="the photo with a percent grid")
    g.add_argument("image")
    g.add_argument("-o", "--out", required=True)
    g.add_argument("--side", type=int, default=1024, help="long side of the picture, px")
    s = sub.add_parser("show", help="labels tinted over the photo, with the grid")
    s.add_argument("json")
    s.add_argument("-o", "--out", required=True)
    s.add_argument("--side", type=int, default=1024)
    c = sub.add_parser("card", help="data card table and totals")
    c.add_argument("folders", nargs="+")
    d = sub.add_parser("dupes", help="report near-duplicates of the given photos among data/scenes and the samples")
    d.add_argument("images", nargs="+")
    d.add_argument("--limit", type=float, default=DUPE_DIFF, help="mean abs grey difference of 16x16 thumbnails")
    args = ap.parse_args(argv)
    if args.cmd == "grid":
        _grid(load_image(args.image, args.side)).save(args.out)
    elif args.cmd == "show":
        label = read(args.json)
        img = load_image(os.path.join(os.path.dirname(args.json), label["image"]), args.side)
        _grid(overlay(label, img)).save(args.out)
    elif args.cmd == "dupes":
        found = dupes(args.images, limit=args.limit)
        for p, f, diff in found:
            print(f"{p}\t{os.path.relpath(f)}\t{diff:.1f}")
        print(f"{len(found)} near-duplicate(s) among {len(args.images)} photo(s) (limit {args.limit})", file=sys.stderr)
        return 1 if found else 0
    else:
        sys.stdout.write(card(args.folders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
