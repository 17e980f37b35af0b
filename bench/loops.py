"""Contact sheets of rendered loops, for a look by eye (seams at the borders, doubled
objects, how water moves).

    python bench/loops.py [PHOTO|FOLDER ...] [--frames 60] [--speed PX] [--engine pixel]
                          [--sky-style S] [--water-style S] [--out bench/out/loops]

Default photos: ../shared/data/photos, automatic mask and motion. For each photo it
writes <out>/<name>.png: one row of frames 0, N/4 and N/2 scaled down, then two
rows of 300 px crops at full render resolution of the same three frames:

  border  at the left or right image border, where the moving region is widest
          (a seam line or a still band would show here),
  busiest in the moving region, where frame N/2 differs most from frame 0
          (a doubled object or a washed-out cloud would show here),

and a line with the styles chosen and, per region, how far its content shifted between
frames 0 and N/4 (phase correlation, px) and how much it changed (mean |difference|, grey
levels): calm water that ripples changes without shifting. Prints the same and how long
each render took.
--speed sets both regions' speed in px per frame per 1024 px of the long side (the
app's sliders go up to 4).
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
CROP = 300
THUMB = 420


def pick_crops(frames: list[np.ndarray], mask: np.ndarray) -> dict:
    """{"border": (x0, y0), "busiest": (x0, y0)} of CROP x CROP windows in the render."""
    import cv2
    H, W = mask.shape
    c = min(CROP, H, W)
    out = {}
    strip = mask[:, :c], mask[:, W - c:]
    side = 0 if strip[0].sum() >= strip[1].sum() else 1
    rows = cv2.blur(strip[side].mean(1, dtype=np.float32)[:, None], (1, c))[:, 0]
    y = int(np.clip(np.argmax(rows) - c // 2, 0, H - c))
    out["border"] = (0 if side == 0 else W - c, y)
    change = np.abs(frames[-1].astype(np.float32) - frames[0].astype(np.float32)).mean(2) * mask
    change = cv2.blur(change, (c, c))
    half = c // 2
    inner = change[half:H - half + 1, half:W - half + 1] if H > c and W > c else change[:1, :1]
    iy, ix = np.unravel_index(int(np.argmax(inner)), inner.shape)
    out["busiest"] = (int(ix), int(iy))
    return out


def region_motion_summary(frames: list[np.ndarray], labels: np.ndarray, styles: dict) -> str:
    """'sky drift: shift 14.8 px, change 6.1; water ripple: shift 0.2 px, change 2.3' between
    the first and the second frame given. The shift is the median over 128 px blocks lying
    wholly inside the region of each block's phase correlation (one correlation over the
    whole region locks onto its still outline), "n/a" without such blocks."""
    import cv2
    from cinegan_core.regions import GROUPS, in_group
    out = []
    grey = [f.astype(np.float32).mean(2) for f in frames[:2]]
    B = 128
    win = cv2.createHanningWindow((B, B), cv2.CV_32F)
    for name in GROUPS:
        region = in_group(labels, name)
        if region.mean() < 0.02:
            continue
        shifts = []
        H, W = region.shape
        for y in range(0, H - B + 1, B):
            for x in range(0, W - B + 1, B):
                if region[y:y + B, x:x + B].all():
                    (dx, dy), resp = cv2.phaseCorrelate(grey[0][y:y + B, x:x + B], grey[1][y:y + B, x:x + B], win)
                    if resp > 0.05:
                        shifts.append((dx, dy))
        shift = "n/a" if not shifts else f"{float(np.hypot(*np.median(np.array(shifts), 0))):.1f} px"
        change = float(np.abs(frames[1].astype(np.float32) - frames[0].astype(np.float32)).mean(2)[region].mean())
        out.append(f"{name} {styles.get(name, '?')}: shift {shift}, change {change:.1f}")
    return "; ".join(out)


def sheet(name: str, frames: list[np.ndarray], labels: list[str], mask: np.ndarray, caption: str) -> Image.Image:
    H, W = mask.shape
    c = min(CROP, H, W)
    crops = pick_crops(frames, mask)
    tw = THUMB
    th = round(H * tw / W)
    width = max(3 * tw, 3 * c) + 40
    height = 20 + th + 2 * (c + 20) + 24
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    draw.text((4, 4), f"{name}: {caption}", fill="black")
    for i, (f, lab) in enumerate(zip(frames, labels)):
        img = Image.fromarray(f)
        out.paste(img.resize((tw, th), Image.LANCZOS), (i * tw, 20))
        for j, (kind, (x0, y0)) in enumerate(crops.items()):
            y = 20 + th + j * (c + 20)
            out.paste(img.crop((x0, y0, x0 + c, y0 + c)), (i * c, y + 16))
            draw.text((i * c + 4, y + 2), f"{kind} ({x0},{y0}) frame {lab}", fill="black")
            if i == 0:  # where the crops are, on the thumbnail
                s = tw / W
                draw.rectangle([x0 * s, 20 + y0 * s, (x0 + c) * s, 20 + (y0 + c) * s], outline=(255, 0, 0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", nargs="*")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--speed", type=float, help="px per frame per 1024 px, both regions")
    ap.add_argument("--sky-style", default="auto", help="auto | drift | flow | ripple")
    ap.add_argument("--water-style", default="auto", help="auto | drift | flow | ripple")
    ap.add_argument("--engine", default="pixel")
    ap.add_argument("--max-side", type=int, default=None, help="render size (default: the app's default)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "loops"))
    a = ap.parse_args()
    from cinegan_core import CineGANError, frames as loop_frames, prepare
    from cinegan_core.photo import DEFAULT_MAX_SIDE
    sources = a.photos or [os.path.join(ROOT, "..", "shared", "data", "photos")]
    paths = []
    for s in sources:
        paths += sorted(glob.glob(os.path.join(s, "*"))) if os.path.isdir(s) else [s]
    paths = [p for p in paths if p.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))]
    os.makedirs(a.out, exist_ok=True)
    n = a.frames
    wanted = {0: "0", n // 4: "N/4", n // 2: "N/2"}
    for p in paths:
        name = os.path.splitext(os.path.basename(p))[0]
        t0 = time.perf_counter()
        side = a.max_side or DEFAULT_MAX_SIDE
        try:
            scene = prepare(p, frames=n, speed=a.speed, max_side=side, sky={"style": a.sky_style},
                            water={"style": a.water_style}, engine=a.engine, device="cpu")
        except CineGANError as e:  # a photo without sky or water: say so and go on
            print(f"{name}: skipped ({e})")
            continue
        got = {}
        for t, f in enumerate(loop_frames(scene, n)):
            if t in wanted:
                got[t] = f
            if t >= n // 2:
                break
        w, h = scene.photo.size
        summary = region_motion_summary([got[0], got[n // 4]], scene.labels, scene.styles)
        caption = f"{w}x{h}, {n} frames" + (f", speed {a.speed:g}/1024 px" if a.speed else "") + f"; {summary}"
        img = sheet(name, [got[t] for t in sorted(got)], [wanted[t] for t in sorted(got)], scene.mask, caption)
        path = os.path.join(a.out, f"{name}.png")
        img.save(path)
        print(f"{name}: {caption}; {time.perf_counter() - t0:.1f} s -> {path}", flush=True)


if __name__ == "__main__":
    main()
