"""How much texture a loop keeps through its cross-overs: band amplitude per frame against frame 0.

    python bench/contrast.py [PHOTO ...] [--side 1024] [--frames 48] [--engine pixel]

Each photo is rendered with every default (automatic mask and motion). Over the pixels that
move (any change from frame 0, eroded by 4 px so that the soft mask edge does not count), the
grey image is split into three bands: fine (photo minus Gaussian 1 px: the grain), mid (1 to
2.5 px) and coarse (2.5 to 6 px: a fall's streaks, a cloud's billows); each frame's RMS amplitude
in each band is divided by frame 0's. A cross-over that blends two unrelated pieces of texture
linearly keeps about 0.71 of it mid-way; 1 is as much texture as the photo has. Prints, per
photo, the worst frame and the mean over frames for each band, and the coarse band every few
frames (a fall that loops k times per loop dips k times).

Without photos: three train falls of data/scenes (where a fast fall loops several times and goes
through many cross-overs). Figures only; nothing is checked here.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cinegan_core import RenderSettings, render  # noqa: E402

DEFAULT = ("forest-cascade-rock-steps", "forest-waterfall-white-curtains", "plitvice-falls-turquoise-pool")
BANDS = ("fine", "mid", "coarse")


def bands(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W) float32 -> the fine, mid and coarse bands (differences of Gaussians, px)."""
    g1, g2, g6 = (cv2.GaussianBlur(grey, (0, 0), s) for s in (1.0, 2.5, 6.0))
    return grey - g1, g1 - g2, g2 - g6


def amplitude_ratios(frames: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """frames: (H, W, 3) uint8, frame 0 first -> ((N, 3) RMS amplitude of each band per frame over
    frame 0's, over the moving pixels; the moving share of the photo)."""
    grey = np.stack([f.astype(np.float32).mean(2) for f in frames])
    moving = np.abs(grey - grey[0]).max(0) > 0
    moving = cv2.erode(moving.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    if not moving.any():
        return np.ones((len(frames), 3)), 0.0
    ref = [float(np.sqrt((b[moving] ** 2).mean())) for b in bands(grey[0])]
    rows = [[float(np.sqrt((b[moving] ** 2).mean())) / max(r, 1e-9) for b, r in zip(bands(g), ref)] for g in grey]
    return np.array(rows), float(moving.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="*")
    ap.add_argument("--side", type=int, default=1024, help="longest side of the render, px")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--engine", default="pixel")
    a = ap.parse_args()
    photos = a.photos or [p for name in DEFAULT for p in glob.glob(os.path.join(ROOT, "data", "scenes", "*", name + ".jpg"))]
    settings = RenderSettings.from_dict({"frames": a.frames, "max_side": a.side, "engine": a.engine})
    print(f"band amplitude over frame 0's in the moving region ({a.side} px, {a.frames} frames, {a.engine} engine); "
          "worst frame / mean over frames")
    print(f"| photo | moving | {' | '.join(BANDS)} | coarse every {max(1, a.frames // 12)} frames |")
    print("|---|---|---|---|---|---|")
    for photo in photos:
        with tempfile.TemporaryDirectory() as tmp:
            render(photo, None, settings, frames_dir=tmp)
            frames = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(glob.glob(os.path.join(tmp, "*.png")))]
        r, share = amplitude_ratios(frames)
        cells = " | ".join(f"{r[:, i].min():.3f} / {r[:, i].mean():.3f}" for i in range(3))
        trace = " ".join(f"{v:.2f}" for v in r[:: max(1, a.frames // 12), 2])
        print(f"| {os.path.basename(photo)} | {share * 100:.1f} % | {cells} | {trace} |", flush=True)


if __name__ == "__main__":
    main()
