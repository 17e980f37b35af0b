"""The automatic sky / water mask on synthetic scenes and on the example photos."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, auto_labels, load_photo, prepare
from cinegan_core.automask import skyline
from conftest import EXAMPLES, run_cli


def synthetic_landscape(h=240, w=320, seed=0):
    """Blue sky with soft clouds / textured green hills / streaked teal water."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    sky = np.array([90, 150, 235]) * (1 - 0.3 * y) + 40 * cv2.GaussianBlur(rng.random((h, w)), (0, 0), 12)[..., None]
    hills = np.array([60, 110, 40]) + 60 * (rng.random((h, w, 1)) - 0.5)
    streaks = cv2.GaussianBlur(rng.random((h, w)), (0, 0), sigmaX=9, sigmaY=1)[..., None]
    water = np.array([40, 120, 130]) + 80 * (streaks - 0.5)
    img = np.where(y < 0.4, sky, np.where(y < 0.6, hills, water))
    ridge = (0.4 + 0.05 * np.sin(np.linspace(0, 6, w)))[None, :]
    img = np.where((y[..., 0] >= ridge)[..., None] & (y < 0.6), hills, img)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_labels_on_a_synthetic_landscape():
    img = synthetic_landscape()
    labels = auto_labels(img)
    assert labels.shape == img.shape[:2] and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2}
    h = img.shape[0]
    assert (labels[: int(0.3 * h)] == 1).mean() > 0.9     # sky on top
    assert (labels[int(0.47 * h): int(0.58 * h)] == 0).mean() > 0.8  # hills frozen
    assert (labels[int(0.7 * h):] == 2).mean() > 0.9      # water at the bottom


def test_no_sky_or_water_is_reported():
    rng = np.random.default_rng(1)
    foliage = np.clip(np.array([50, 100, 30]) + 90 * (rng.random((120, 160, 3)) - 0.5), 0, 255).astype(np.uint8)
    assert not auto_labels(foliage).any()
    with pytest.raises(CineGANError, match="no sky or water"):
        prepare(foliage)


@pytest.mark.parametrize("name,sky_top,water_bottom", [
    ("sea-overcast.jpg", True, True),
    ("sunset-skyline.jpg", True, True),
    ("mountain-clouds.jpg", True, False),
    ("storm-clouds.jpg", True, False),
])
def test_example_photos_get_sensible_masks(name, sky_top, water_bottom):
    photo = load_photo(os.path.join(EXAMPLES, name), max_side=640)
    labels = auto_labels(photo.rgb)
    h = labels.shape[0]
    top, bottom = labels[: h // 8], labels[-h // 10:]
    assert ((top == 1).mean() > 0.8) == sky_top
    assert ((bottom == 2).mean() > 0.6) == water_bottom
    if not water_bottom:
        assert (bottom == 0).mean() > 0.9  # meadows and hills stay still


def test_skyline_follows_the_boundary():
    score = np.zeros((50, 40))
    line = (20 + 8 * np.sin(np.linspace(0, 3, 40))).astype(int)
    for x, b in enumerate(line):
        score[:b, x] = 0.9
        score[b:, x] = 0.1
    assert np.abs(skyline(score, 0.2) - line).max() <= 1


def test_mask_command_writes_full_size_png(tmp_path):
    src = os.path.join(EXAMPLES, "sea-overcast.jpg")
    out, regions = tmp_path / "mask.png", tmp_path / "regions.png"
    res = run_cli("mask", src, "-o", out, "--regions", regions)
    assert res.returncode == 0, res.stderr
    m = Image.open(out)
    assert m.size == Image.open(src).size
    values = set(np.unique(np.asarray(m)))
    assert values == {0, 255}
    assert set(np.unique(np.asarray(Image.open(regions)))) == {0, 1, 2}
    assert "sky" in res.stderr and "water" in res.stderr


def test_render_without_mask_uses_the_automatic_one(tmp_path):
    res = run_cli("render", os.path.join(EXAMPLES, "sea-overcast.jpg"), "-o", tmp_path / "x.gif", "--frames", 6,
                  "--max-side", 320, "--quiet")
    assert res.returncode == 0, res.stderr
    assert "mask: automatic" in res.stderr
