"""Contact sheets to look at: full-resolution crops of a loop at frames 0, N/4 and N/2.
(and mid-way through the first cycle of a region that loops k > 1 times per loop, frame N/(2k))

    python bench/contact.py PHOTO --crop X0,Y0,X1,Y1 -o SHEET.png [--mask MASK.png]
        [--side 1024] [--frames 48] [--engine pixel] [--painted auto]

The photo is rendered with the defaults (automatic mask and motion unless a mask
is given), the crop box (fractions of the render, 0..1) is cut from frames 0,
N/4 and N/2 at the render's own pixels (no scaling), and the three crops are
laid side by side with a fourth panel of what changed (|frame - frame 0| x4, the
largest over all frames: a fast fall that loops k times is back in place every N/k frames), so that
detail, halos, tearing and banding can be judged by eye. Prints what the render chose
(styles, motion per region, painted regions, warnings).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cinegan_core import RenderSettings, render  # noqa: E402


def sheet(frames: list[np.ndarray], labels: list[str], box: tuple[int, int, int, int]) -> Image.Image:
    """Crops of `frames` ((H, W, 3) uint8) at box (x0, y0, x1, y1, render px), side by side,
    each captioned, 4 px apart."""
    x0, y0, x1, y1 = box
    crops = [Image.fromarray(f[y0:y1, x0:x1]) for f in frames]
    w, h = crops[0].size
    out = Image.new("RGB", (len(crops) * (w + 4) - 4, h + 18), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for i, (c, text) in enumerate(zip(crops, labels)):
        out.paste(c, (i * (w + 4), 18))
        draw.text((i * (w + 4) + 2, 3), text, fill=(0, 0, 0))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("--crop", required=True, help="x0,y0,x1,y1 as fractions of the render (0..1)")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--mask", default=None)
    ap.add_argument("--side", type=int, default=1024, help="longest side of the render, px")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--engine", default="pixel")
    ap.add_argument("--painted", default="auto")
    args = ap.parse_args(argv)
    fx0, fy0, fx1, fy1 = (float(v) for v in args.crop.split(","))
    settings = RenderSettings.from_dict({"frames": args.frames, "max_side": args.side, "engine": args.engine,
                                         "painted": args.painted})
    with tempfile.TemporaryDirectory() as tmp:
        info = render(args.photo, None, settings, frames_dir=tmp, mask=args.mask)
        n = info["frames"]
        picks = [0, n // 4, n // 2]
        # a region that loops k times per loop is back on the photo every N/k frames (N/4 and N/2 are
        # cycle starts when k is 2 or 4): show it mid-way through its first cycle as well
        k = max([int(m.get("cycles", 1)) for m in info.get("motion") or []] + [1])
        if k > 1 and n // (2 * k) not in picks:
            picks.append(n // (2 * k))
        # what changed, x4, over every frame (each read once): a region that loops k times per loop (a
        # fast fall) is back where it started every N/k frames, so N/4 and N/2 alone can show it as still
        frames, first, diff = [], None, None
        for i in range(n):
            frame = np.asarray(Image.open(os.path.join(tmp, f"{i:04d}.png")).convert("RGB"))
            frames += [frame] * picks.count(i)      # (a very short loop picks one frame twice)
            if first is None:
                first, diff = frame.astype(np.int16), np.zeros(frame.shape[:2], np.int16)
            else:
                np.maximum(diff, np.abs(frame.astype(np.int16) - first).max(axis=2), out=diff)
    h, w = frames[0].shape[:2]
    box = (round(fx0 * w), round(fy0 * h), round(fx1 * w), round(fy1 * h))
    moved = np.stack([np.clip(diff * 4, 0, 255)] * 3, axis=2).astype(np.uint8)
    mid = picks[3] if len(picks) > 3 else None
    labels = [f"frame {i}" + (" (mid-cycle)" if i == mid else "") for i in sorted(picks)]   # frames: read in order
    img = sheet(frames + [moved], labels + ["max over frames |frame - frame 0| x4"], box)
    img.save(args.out)
    print(f"{os.path.basename(args.photo)}: {w}x{h}, {n} frames, crop {box} -> {args.out}")
    for key in ("styles", "motion", "painted", "warnings", "notes"):
        if info.get(key):
            print(f"  {key}: {json.dumps(info[key], default=str)}")


if __name__ == "__main__":
    main()
