"""Painted regions move as what they are: does a painted waterfall fall, a painted stream
flow downhill, and how often does ``automask.kinds.classify`` name a region right?

For the waterfall and stream photos of data/scenes (a label json with falling or flowing
water), the "painted" mask is the labelled falling water (a waterfall photo) or flowing
water (a stream photo). Each is rendered with the pixel engine twice, with every setting
at its default: from the command line (``python -m cinegan_core render --mask``) and as
the web API does it (``settings.from_api({})``). The content's motion is measured between
consecutive frames with OpenCV's Farneback optical flow inside the upper half (by rows) of
the painted area, over the first frames of the loop (before the cross-over); the figure is
the angle between the median measured flow and straight down (degrees; the bar for a
fall: <= 40), and for streams whether it runs downhill (median flow has a downward part).
Streams are rendered at STREAM_SIDE at least: a stream is a few tens of px wide at 384 px,
as wide as Farneback's window, which then averages the water with the still banks and reads
a third of the planned motion (rwenzori-boulder-river: planned 0.20, 0.05 px/frame in its
upper half, measured 0.06, 0.01 at 384 px; at 768 px planned 0.40, 0.10, measured 0.27, 0.07).

Classification: every labelled region (a connected area of one moving class, at least
0.2 % of the photo) of the train split is classified from the photo's cues alone (and with
the scene parser's probabilities when the parser is installed); the held-out split is
reported apart (never tuned on).

    python bench/kinds.py [--side 384] [--frames 12] [--only NAME,...] [--skip-render]
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import cv2
import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import scene_labels  # noqa: E402  (scripts/scene_labels.py: rasterise the label json)

from cinegan_core import regions  # noqa: E402

SCENES = os.path.join(ROOT, "data", "scenes")
MIN_REGION = 0.002
STREAM_SIDE = 768  # px: the long side streams are rendered and measured at (see above)


def load(path: str, side: int) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    img.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(img)


def label_map(js: dict, size) -> np.ndarray:
    return scene_labels.rasterise(js, size, band=0)


def scenes():
    for path in sorted(glob.glob(os.path.join(SCENES, "*", "*.json"))):
        js = scene_labels.read(path)
        yield path, js


def measure(frames_dir: str, region: np.ndarray, first: int = 1, count: int = 4) -> tuple[float, float, float]:
    """(angle off straight down in degrees, median dx, median dy px per frame) of the content's
    motion inside `region` between frames first..first+count (Farneback optical flow)."""
    names = sorted(f for f in os.listdir(frames_dir) if f.endswith(".png"))
    vx, vy = [], []
    for t in range(first, min(first + count, len(names) - 1)):
        a = cv2.cvtColor(cv2.imread(os.path.join(frames_dir, names[t])), cv2.COLOR_BGR2GRAY)
        b = cv2.cvtColor(cv2.imread(os.path.join(frames_dir, names[t + 1])), cv2.COLOR_BGR2GRAY)
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        r = cv2.resize(region.astype(np.uint8), (a.shape[1], a.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        vx.append(flow[..., 0][r])
        vy.append(flow[..., 1][r])
    dx, dy = float(np.median(np.concatenate(vx))), float(np.median(np.concatenate(vy)))
    return abs(math.degrees(math.atan2(dx, dy))), dx, dy


def upper_half(region: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(region.any(1))
    out = region.copy()
    out[(rows[0] + rows[-1] + 1) // 2:] = False
    return out


def sloped(region: np.ndarray) -> bool:
    """Whether a channel runs down the image (its long axis at least ~12 deg off horizontal)."""
    ys, xs = np.nonzero(region)
    vals, vecs = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    return abs(vecs[1, 1]) >= 0.2


def render_cli(photo, mask, out, frames, side):
    cmd = [sys.executable, "-m", "cinegan_core", "render", photo, "--mask", mask, "--frames-dir", out,
           "--engine", "pixel", "--max-side", str(side), "--frames", str(frames), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return [ln for ln in done.stderr.splitlines() if "painted region" in ln]


def render_api(photo, mask, out, frames, side):
    from cinegan_core.pipeline import render
    from cinegan_core.settings import from_api
    settings = from_api({"engine": "pixel"}, max_side=side).replace(frames=frames)  # the API's defaults
    info = render(photo, None, settings, frames_dir=out, mask=mask)
    return info["painted"], info["motion"]


def motion_bench(side: int, frames: int, only) -> None:
    print(f"## motion of painted regions (pixel engine, {side} px, streams {max(side, STREAM_SIDE)} px, {frames} frames, "
          "every other setting default)")
    print(f"{'photo':34s} {'split':7s} {'kind':7s} {'painted as':16s} {'moves by':12s} {'CLI off-down':>12s} {'API off-down':>12s}"
          f" {'API dx,dy px/f':>15s}  verdict")
    falls_ok, falls_n, streams_ok, streams_n = 0, 0, 0, 0
    for path, js in scenes():
        name = os.path.splitext(os.path.basename(path))[0]
        classes = {r["class"] for r in js.get("regions", [])}
        tags = set(js.get("tags", []))
        if only and name not in only:
            continue
        if "falling_water" in classes:
            kind, code = "fall", regions.FALLING_WATER
        elif "flowing_water" in classes and tags & {"stream", "mountain-stream", "river"} and \
                not tags & {"sea", "surf", "aerial", "wide-river"}:
            kind, code = "stream", regions.FLOWING_WATER
        else:
            continue
        photo = os.path.join(os.path.dirname(path), js["image"])
        at = max(side, STREAM_SIDE) if kind == "stream" else side
        rgb = load(photo, at)
        h, w = rgb.shape[:2]
        lab = label_map(js, (w, h))
        region = lab == code
        if region.mean() < MIN_REGION:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            small = os.path.join(tmp, "photo.png")
            Image.fromarray(rgb).save(small)
            mask = os.path.join(tmp, "mask.png")
            Image.fromarray(region.astype(np.uint8) * 255).save(mask)
            try:
                render_cli(small, mask, os.path.join(tmp, "cli"), frames, at)
                painted, motion = render_api(small, mask, os.path.join(tmp, "api"), frames, at)
            except Exception as e:  # noqa: BLE001 - a bench reports and goes on
                print(f"{name:34s} failed: {e}")
                continue
            up = upper_half(region)
            cli = measure(os.path.join(tmp, "cli"), up)
            api = measure(os.path.join(tmp, "api"), up)
        became = ",".join(p["as"] for p in painted) or "-"
        styles = ",".join(sorted({m["style"] for m in motion})) or "-"
        if kind == "fall":
            ok = cli[0] <= 40 and api[0] <= 40
            falls_ok += ok
            falls_n += 1
        elif sloped(region):
            ok = cli[2] > 0.02 and api[2] > 0.02
            streams_ok += ok
            streams_n += 1
        else:
            ok = None
        verdict = ("falls" if ok else "DOES NOT FALL") if kind == "fall" else \
            "level channel (not judged)" if ok is None else ("downhill" if ok else "NOT downhill")
        print(f"{name:34s} {js['split']:7s} {kind:7s} {became:16s} {styles:12s} {cli[0]:12.1f} {api[0]:12.1f} "
              f"{api[1]:7.2f},{api[2]:6.2f}  {verdict}")
    print(f"falls falling (both paths, <= 40 deg off down): {falls_ok}/{falls_n}; "
          f"streams flowing downhill: {streams_ok}/{streams_n}")


def classification_bench(side: int) -> None:
    from cinegan_core.automask import kinds
    probs_of = None
    try:
        from cinegan_core.automask import parser  # noqa: F401
        if parser.available()[0]:
            probs_of = parser.parse_scene
    except ImportError:
        pass
    names = {c: regions.NAMES[c] for c in regions.MOVING}
    results = {}
    t0 = time.perf_counter()
    for path, js in scenes():
        photo = os.path.join(os.path.dirname(path), js["image"])
        rgb = load(photo, side)
        h, w = rgb.shape[:2]
        lab = label_map(js, (w, h))
        probs = probs_of(rgb) if probs_of else None
        for code in regions.MOVING:
            n, comp, st, _ = cv2.connectedComponentsWithStats((lab == code).astype(np.uint8), connectivity=8)
            for k in range(1, n):
                if st[k, cv2.CC_STAT_AREA] < MIN_REGION * h * w:
                    continue
                r = comp == k
                got = {"cues": kinds.classify(rgb, r)}
                if probs is not None:
                    got["parser"] = kinds.classify(rgb, r, probs)
                for how, pred in got.items():
                    results.setdefault((js["split"], how), []).append((code, pred))
    print(f"\n## classify() on labelled regions (>= {MIN_REGION:.1%} of the photo), {time.perf_counter() - t0:.0f} s")
    for (split, how), pairs in sorted(results.items(), key=lambda kv: (kv[0][0] != "train", kv[0][1])):
        conf = Counter(pairs)
        right = sum(v for (t, p), v in conf.items() if t == p)
        print(f"{split} ({how}): {right}/{len(pairs)} = {right / len(pairs):.1%}")
        print("  truth \\ got   " + " ".join(f"{names[c][:13]:>13s}" for c in regions.MOVING) + "   recall")
        for t in regions.MOVING:
            row = [conf[(t, p)] for p in regions.MOVING]
            total = sum(row)
            print(f"  {names[t]:14s}" + " ".join(f"{v:13d}" for v in row)
                  + (f"   {conf[(t, t)] / total:.0%}" if total else "   -"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=384, help="px, long side of the renders and of the cues")
    ap.add_argument("--frames", type=int, default=12, help="frames per loop of the renders")
    ap.add_argument("--only", help="comma list of photo names (without extension) to render")
    ap.add_argument("--skip-render", action="store_true", help="only the classification figures")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    if not a.skip_render:
        motion_bench(a.side, a.frames, only)
    classification_bench(a.side)


if __name__ == "__main__":
    main()
