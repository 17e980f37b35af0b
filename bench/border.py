"""Border figure: does motion reach the image border like it does the interior?

    python bench/border.py [--motion-scale 2.5] [--frames 60] [--only NAME,...]
    python bench/border.py --frames-dir DIR --mask MASK.png      (measure frames already rendered)

Per sample of ../shared/data/samples, rendered with its own mask and its own motion
multiplied by --motion-scale (pixel engine, in memory), it prints:

  left, right   mean change between consecutive frames in the moving region within
                the 6 % of the width next to the left (right) border, divided by the
                mean change in the moving region between the two strips, on the same
                rows. About 1 when the border moves like the interior; near 0 where a
                still band or a fallback to the photo sits at the border.
  top_row       for a moving region that touches the top border: the mean change of
                its top row divided by that of the rows just below it (about 1 = the
                outermost row moves like its neighbours), and whether it moves (>= 0.5).
  photo_left, photo_right
                the same figure for the photo simply carried along its own field for the
                same frames (forward source only, no loop, open borders): what the
                content itself gives, since a smooth patch near a border changes less
                than a textured interior whatever the renderer does.
  vs_photo      the worst of left / photo_left and right / photo_right: about 1 when the
                loop adds no seam, band or freeze at the borders.
  seam          the strongest vertical line of any frame: per frame, the mean horizontal
                change across each column of the moving region, divided by its running
                median over 31 columns, at the worst column of the worst frame; divided
                by the same for the photo carried along its field (about 1: the loop adds
                no line; a seam or the edge of a still band shows as a clear excess).

The moving region is the mask minus a band along its edges inside the image (mask
edges against frozen pixels ease and feather on purpose; image borders do not).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SAMPLES = os.path.join(ROOT, "..", "shared", "data", "samples")
STRIP = 0.06      # fraction of the width next to each border
TOP_ROWS = 8      # rows below the top row that it is compared with


def moving_core(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: mask pixels farther than 1 % of the short side from a frozen pixel;
    the image border does not count as frozen."""
    import cv2
    H, W = mask.shape
    band = max(2, round(0.01 * min(H, W)))
    if mask.all():
        return mask.copy()
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)  # outside the image counts as inside
    return d > band


def border_figure(frames, mask: np.ndarray) -> dict:
    """Border figures of a loop.

    frames: sequence of (H, W, 3) uint8 (or float) frames of one loop.
    mask:   (H, W) bool, True = moves.
    Returns {"left", "right", "worst", "top_row", "top_moves"}; a figure that cannot
    be measured (no moving pixels there) is None."""
    H, W = mask.shape
    core = moving_core(mask)
    change = np.zeros((H, W), np.float64)
    prev = None
    for f in frames:
        g = np.asarray(f, np.float32).mean(2)
        if prev is not None:
            change += np.abs(g - prev)
        prev = g
    strip = max(2, round(STRIP * W))
    interior = core.copy()
    interior[:, :strip] = interior[:, W - strip:] = False
    res = {}
    for side, cols in (("left", slice(0, strip)), ("right", slice(W - strip, W))):
        edge = np.zeros_like(core)
        edge[:, cols] = core[:, cols]
        rows = edge.any(1) & interior.any(1)
        e, i = edge & rows[:, None], interior & rows[:, None]
        res[side] = float(change[e].mean() / max(change[i].mean(), 1e-9)) if e.sum() >= 16 and i.sum() >= 16 else None
    known = [v for v in (res["left"], res["right"]) if v is not None]
    res["worst"] = min(known) if known else None
    res["top_row"], res["top_moves"] = None, None
    top = mask[0] & core[min(TOP_ROWS, H - 1)]  # columns where the region reaches the top border
    if top.sum() >= 16:
        below = change[1:TOP_ROWS + 1][:, top].mean()
        res["top_row"] = float(change[0, top].mean() / max(below, 1e-9))
        res["top_moves"] = bool(res["top_row"] >= 0.5)
    return res


def column_lines(frames, mask: np.ndarray) -> float:
    """The strongest vertical line over frames: max over frames and columns of the mean
    |horizontal difference| across a column (over rows where both pixels move) divided
    by the running median of that over 31 columns."""
    core = moving_core(mask)
    pair = core[:, 1:] & core[:, :-1]
    count = pair.sum(0)
    keep = count >= 16
    worst = 0.0
    for f in frames:
        g = np.asarray(f, np.float32).mean(2)
        prof = (np.abs(np.diff(g, axis=1)) * pair).sum(0) / np.maximum(count, 1)
        padded = np.pad(prof, 15, mode="edge")
        base = np.median(np.lib.stride_tricks.sliding_window_view(padded, 31), axis=1)
        ratio = np.where(keep, prof / np.maximum(base, 1e-3), 0)
        worst = max(worst, float(ratio.max()))
    return worst


def advected(photo: np.ndarray, mask: np.ndarray, field: np.ndarray, n: int):
    """The photo carried along its own field for n frames (forward source only, bicubic,
    the image mirrored beyond its border), frozen pixels kept: no loop at all. Yields
    (H, W) float32 grey frames."""
    import torch
    from cinegan_core.loop import PADDING, forward_sources, sample
    H, W = mask.shape
    grey = photo.astype(np.float32).mean(2)
    ys, xs = np.nonzero(mask)
    start = torch.from_numpy(np.stack([xs, ys], 1).astype(np.float32))
    img = torch.from_numpy(grey)[None, None]
    for pos in forward_sources(start, torch.from_numpy(field)[None], n):
        out = grey.copy()
        out[ys, xs] = sample(img, pos, "bicubic", PADDING)[0].numpy()
        yield out[..., None]


def render_sample(name: str, frames: int, scale: float):
    """(frames list, scene) of one sample with its own mask and motion x scale (pixel engine)."""
    from cinegan_core import prepare, frames as loop_frames, load_motion
    d = os.path.join(SAMPLES, name)
    motion = load_motion(os.path.join(d, f"{name}_motion.npy")) * scale
    scene = prepare(os.path.join(d, f"{name}.png"), mask=os.path.join(d, f"{name}_mask.png"), motion=motion,
                    frames=frames, max_side=None, engine="pixel", device="cpu")
    return list(loop_frames(scene, frames)), scene


def fmt(v):
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--motion-scale", type=float, default=2.5)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--only")
    ap.add_argument("--frames-dir")
    ap.add_argument("--mask")
    a = ap.parse_args()
    keys = ["left", "right", "worst", "top_row", "top_moves"]
    if a.frames_dir:
        from PIL import Image
        from cinegan_core import load_mask
        paths = sorted(glob.glob(os.path.join(a.frames_dir, "*.png")))
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        mask = load_mask(a.mask, frames[0].shape[1::-1])
        res = border_figure(frames, mask)
        print("  ".join(f"{k} {fmt(res[k])}" for k in keys))
        return
    names = sorted(n for n in os.listdir(SAMPLES) if os.path.isdir(os.path.join(SAMPLES, n)))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    print(f"border figure, own mask + own motion x {a.motion_scale:g}, {a.frames} frames, pixel engine")
    keys += ["photo_left", "photo_right", "vs_photo", "seam"]
    print("| sample | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for n in names:
        frames, scene = render_sample(n, a.frames, a.motion_scale)
        res = border_figure(frames, scene.mask)
        base = border_figure(advected(scene.photo.rgb, scene.mask, scene.field, a.frames), scene.mask)
        res["photo_left"], res["photo_right"] = base["left"], base["right"]
        rel = [res[k] / base[k] for k in ("left", "right") if res[k] is not None and base[k]]
        res["vs_photo"] = min(rel) if rel else None
        res["seam"] = column_lines(frames, scene.mask) / column_lines(
            advected(scene.photo.rgb, scene.mask, scene.field, a.frames), scene.mask)
        print(f"| {n} | " + " | ".join(fmt(res[k]) for k in keys) + " |", flush=True)


if __name__ == "__main__":
    main()
