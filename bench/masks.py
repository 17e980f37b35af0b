"""Contact sheet of the automatic masks (sky tinted red, water green) for a look by eye.

    python bench/masks.py [FOLDER ...] [--out bench/out/masks.png]

Default folders: examples/ and, when present, ../shared/data/photos and the
reference samples. Prints the time taken per photo (the mask step alone).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def tint(rgb, labels):
    out = rgb.astype(np.float32)
    for k, colour in ((1, (255, 40, 40)), (2, (40, 255, 80))):
        sel = labels == k
        out[sel] = out[sel] * 0.55 + np.array(colour) * 0.45
    return out.astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "masks.png"))
    a = ap.parse_args()
    from cinegan_core import auto_labels, load_photo
    shared = os.path.join(ROOT, "..", "shared", "data")
    folders = a.folders or [os.path.join(ROOT, "examples"), os.path.join(shared, "photos")]
    paths = sorted(p for f in folders for p in glob.glob(os.path.join(f, "*")) if p.lower().endswith((".jpg", ".png")))
    if not a.folders:
        paths += sorted(glob.glob(os.path.join(shared, "samples", "*", "*[0-9].png")))
    tiles = []
    for p in paths:
        photo = load_photo(p, max_side=None)
        t = time.perf_counter()
        labels = auto_labels(photo.rgb)
        dt = time.perf_counter() - t
        print(f"{os.path.basename(p):28s} {photo.size[0]}x{photo.size[1]}  {dt:.2f} s  "
              f"sky {(labels == 1).mean():.0%} water {(labels == 2).mean():.0%}")
        tile = Image.fromarray(tint(photo.rgb, labels))
        tile.thumbnail((320, 240))
        canvas = Image.new("RGB", (320, 256), "white")
        canvas.paste(tile, (0, 0))
        ImageDraw.Draw(canvas).text((4, 242), os.path.basename(p), fill="black")
        tiles.append(canvas)
    cols = 4
    sheet = Image.new("RGB", (320 * cols, 256 * ((len(tiles) + cols - 1) // cols)), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (320 * (i % cols), 256 * (i // cols)))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    sheet.save(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
