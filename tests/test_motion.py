"""Motion without files: per-region drifts, easing, arrows."""
import numpy as np
import pytest

from cinegan_core import CineGANError, region_motion, render, read_video
from conftest import measure_shift, textured


def two_regions(h=120, w=160):
    labels = np.zeros((h, w), np.uint8)
    labels[:50] = 1    # sky
    labels[70:] = 2    # water
    return labels


def coherence(f, region):
    v = f[:, region]
    return np.hypot(*v.mean(1)) / np.hypot(*v).mean()


def test_default_drifts_are_coherent_opposite_and_eased():
    labels = two_regions()
    field, notes = region_motion(labels, frames=60)
    sky, water = labels == 1, labels == 2
    assert (field[:, labels == 0] == 0).all()
    assert coherence(field, sky) > 0.99 and coherence(field, water) > 0.99
    assert field[0][sky].mean() > 0 > field[0][water].mean()           # opposite horizontal drifts
    assert 0.05 < np.hypot(*field[:, sky].mean(1)) < 0.5              # ~1 px/frame per 1024 px, here 160 px
    assert np.abs(field[:, 49]).max() < 0.02 and np.abs(field[:, 70]).max() < 0.02  # eased to 0 at the edges
    assert any("default" in n for n in notes)


def test_region_overrides_and_global_direction():
    labels = two_regions()
    field, _ = region_motion(labels, frames=60, drift={"sky": (90, 2.0), "water": (None, 1.0)})
    core = np.zeros_like(labels, bool)
    core[10:40, 10:-10] = True
    assert np.allclose(field[0][core], 0, atol=1e-5) and np.isclose(field[1][core].mean(), 2.0, rtol=0.15)
    assert field[0][labels == 2].mean() < 0  # water keeps its default direction with the new speed


def test_one_arrow_gives_a_uniform_drift_over_its_region():
    labels = two_regions()
    field, notes = region_motion(labels, frames=40, arrows=["20,10,60,30"])
    core = np.zeros_like(labels, bool)
    core[10:40, 10:-10] = True
    assert np.allclose(field[0][core], 1.0, atol=1e-4) and np.allclose(field[1][core], 0.5, atol=1e-4)
    assert field[0][labels == 2].mean() < 0  # water is not steered by a sky arrow
    assert not [n for n in notes if "ignored" in n]


def test_two_arrows_blend_smoothly():
    labels = np.ones((100, 200), np.uint8)
    field, _ = region_motion(labels, frames=50, arrows=[(10, 50, 60, 50), (140, 50, 140, 100)])
    row = field[:, 50, 35:141]  # from the first arrow's midpoint to the second's column
    # near each arrow its own velocity dominates; between them the field turns gradually
    assert field[0, 50, 35] > 0.6 and field[1, 50, 35] < 0.4
    assert field[1, 75, 140] > 0.6 and field[0, 75, 140] < 0.4
    assert np.abs(np.diff(row, axis=1)).max() < 0.05
    assert np.all(np.diff(row[0]) <= 1e-6) and np.all(np.diff(row[1]) >= -1e-6)


def test_arrows_outside_the_mask_are_reported():
    labels = two_regions()
    field, notes = region_motion(labels, frames=40, arrows=[(20, 55, 60, 65)])  # in the frozen band
    assert any("arrow 1" in n and "ignored" in n for n in notes)
    default, _ = region_motion(labels, frames=40)
    assert np.allclose(field, default)


def test_arrows_in_photo_pixels_are_scaled_to_the_render():
    labels = two_regions()
    field, _ = region_motion(labels, frames=40, arrows=["40,20,120,20"], arrow_scale=0.5)
    assert np.isclose(field[0, 25, 80], 1.0, atol=1e-4)   # 80 px of photo = 40 px of render, over 40 frames


@pytest.mark.parametrize("arrow,match", [
    ("1,2,3", "four numbers"),
    ("a,b,c,d", "four numbers"),
    ("1,2,3,nan", "four numbers"),
    ("10,10,10,10", "no length"),
    ("10,10,500,10", "outside the photo"),
    ("-5,10,20,10", "outside the photo"),
])
def test_bad_arrows(arrow, match):
    with pytest.raises(CineGANError, match=match):
        region_motion(two_regions(), frames=40, arrows=[arrow])


def test_arrow_sets_direction_and_speed_end_to_end(tmp_path):
    """Render with one arrow over an all-sky scene; the measured drift follows the arrow."""
    from PIL import Image
    h, w, n = 128, 160, 40
    img = textured(h, w, seed=2)
    Image.fromarray(img).save(tmp_path / "p.png")
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(tmp_path / "m.png")
    render(tmp_path / "p.png", tmp_path / "loop.mp4", mask=tmp_path / "m.png", arrows=["30,60,90,40"],
           frames=n, engine="pixel", device="cpu")
    frames, _ = read_video(tmp_path / "loop.mp4")
    core = np.zeros((h, w), bool)
    core[24:-24, 24:-24] = True
    k = 5
    dx, dy = measure_shift(frames[0], frames[k], core)
    ex, ey = 60 / n * k, -20 / n * k
    assert (dx * ex + dy * ey) / (np.hypot(dx, dy) * np.hypot(ex, ey)) > 0.95
    assert 0.75 < np.hypot(dx, dy) / np.hypot(ex, ey) < 1.25
