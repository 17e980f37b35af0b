import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
# the project's shared data (reference samples in the authors' format): next to the repository,
# or where CINEGAN_SHARED says
SHARED = os.path.abspath(os.environ.get("CINEGAN_SHARED") or os.path.join(ROOT, "..", "shared"))


def textured(h, w, seed=0):
    """A cloud-like RGB test image (H, W, 3) uint8: smooth blobs plus fine detail."""
    import cv2
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    coarse = cv2.GaussianBlur(noise, (0, 0), 4)
    fine = cv2.GaussianBlur(noise, (0, 0), 1)
    img = 128 + (coarse - 0.5) * 900 + (fine - 0.5) * 300
    return np.clip(img, 0, 255).astype(np.uint8)


def busy_frames(h, w, n=24, seed=3):
    """A loop where everything moves (n frames of a textured image sliding 4 px a frame):
    the hardest case for a size budget."""
    base = textured(h, w, seed)
    return [np.roll(base, 4 * i, axis=1) for i in range(n)]


def sky_mask(h, w, frac=0.5):
    m = np.zeros((h, w), bool)
    m[: int(h * frac)] = True
    return m


@pytest.fixture
def photo_files(tmp_path):
    """A small photo with a sky mask on disk: (photo.png, mask.png)."""
    img = textured(96, 128)
    photo = tmp_path / "photo.png"
    Image.fromarray(img).save(photo)
    mask = tmp_path / "mask.png"
    Image.fromarray(sky_mask(96, 128).astype(np.uint8) * 255).save(mask)
    return photo, mask


def run_cli(*args, cwd=None):
    """Run `python -m cinegan_core ...`; returns CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "cinegan_core", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=600)


def measure_shift(a, b, region):
    """(dx, dy) that best carries gray image a onto b inside region (phase correlation)."""
    import cv2
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    ga = a[y0:y1, x0:x1].astype(np.float32).mean(2)
    gb = b[y0:y1, x0:x1].astype(np.float32).mean(2)
    win = cv2.createHanningWindow((ga.shape[1], ga.shape[0]), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(ga, gb, win)
    return dx, dy
