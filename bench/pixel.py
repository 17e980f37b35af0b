"""Benchmark of the pixel engine (prints figures; not a timed test).

    python bench/pixel.py [--json] [--size 1024] [--frames 120] [--full-mask]

Prints, measured in this run:
  * seconds per frame rendering a 1024x1024, 120-frame loop to MP4 (H.264),
  * the floor: seconds for two plain bicubic grid_sample warps of the whole
    frame (what any two-source loop must at least do), and the ratio,
  * total time for 30 and 120 frames and their ratio (linear growth = 4),
  * peak memory (max RSS) of the 120-frame render, in MB.
Each render runs in a child process so its peak memory is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from _common import best_seconds, report  # noqa: E402  (bench/ is on sys.path when run as a script)
SAMPLE = os.path.join(ROOT, "..", "shared", "data", "samples", "0000008")


def scene_files(size: int, full_mask: bool, folder: str):
    """A photo and a mask of size x size: the reference sample if present, else synthetic."""
    import numpy as np
    from PIL import Image
    photo = os.path.join(SAMPLE, "0000008.png")
    if os.path.exists(photo):
        img = Image.open(photo).convert("RGB").resize((size, size), Image.LANCZOS)
        mask = Image.open(os.path.join(SAMPLE, "0000008_mask.png")).convert("L").resize((size, size))
    else:
        rng = np.random.default_rng(0)
        img = Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8))
        m = np.zeros((size, size), np.uint8)
        m[: size * 6 // 10] = 255
        mask = Image.fromarray(m)
    if full_mask:
        mask = Image.new("L", (size, size), 255)
    img.save(os.path.join(folder, "photo.png"))
    mask.save(os.path.join(folder, "mask.png"))
    frac = float(np.asarray(mask).astype(bool).mean())
    return os.path.join(folder, "photo.png"), os.path.join(folder, "mask.png"), frac


def child_render(photo, mask, frames, out) -> dict:
    """Render in a child process; returns its wall seconds (render + encode) and peak RSS."""
    code = (
        "import sys, time, json, resource, torch\n"
        "torch.set_num_threads(torch.get_num_threads())\n"
        "from cinegan_core import render\n"
        "t = time.perf_counter()\n"
        f"render({photo!r}, {out!r}, mask={mask!r}, direction=20, speed=1.5, speed_units='px', frames={frames}, "
        "engine='pixel', device='cpu', max_side=None)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, "
        "'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT), check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def two_warp_floor(size: int, repeats: int = 5) -> float:
    """Seconds for two bicubic grid_sample warps of a 3 x size x size float frame."""
    import torch
    import torch.nn.functional as F
    img = torch.rand(1, 3, size, size)
    grid = torch.rand(1, size, size, 2) * 2 - 1
    return best_seconds(lambda: (F.grid_sample(img, grid, mode="bicubic", align_corners=True),
                                 F.grid_sample(img, grid.flip(-1), mode="bicubic", align_corners=True)), repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--full-mask", action="store_true", help="everything moves (the worst case)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo, mask, frac = scene_files(a.size, a.full_mask, tmp)
        out = os.path.join(tmp, "loop.mp4")
        short = child_render(photo, mask, a.frames // 4, out)
        full = child_render(photo, mask, a.frames, out)
    floor = two_warp_floor(a.size)
    per_frame = full["seconds"] / a.frames
    res = {
        "size": a.size, "frames": a.frames, "moving_fraction": round(frac, 3),
        "seconds_per_frame": round(per_frame, 4),
        "two_warp_floor_seconds": round(floor, 4),
        "ratio_to_floor": round(per_frame / floor, 2),
        f"total_seconds_{a.frames // 4}_frames": round(short["seconds"], 2),
        f"total_seconds_{a.frames}_frames": round(full["seconds"], 2),
        "growth_ratio": round(full["seconds"] / short["seconds"], 2),
        "peak_memory_mb": round(full["peak_mb"], 1),
    }
    report(res, a.json)


if __name__ == "__main__":
    main()
