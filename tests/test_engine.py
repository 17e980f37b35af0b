"""The pixel engine on synthetic scenes: closure, frozen pixels, drift, detail, borders, ripple."""
import os
import sys

import numpy as np
import pytest

from cinegan_core import prepare, frames as loop_frames, resize_motion, uniform_motion
from cinegan_core.engines.pixel import PixelEngine
from cinegan_core.motion import region_motion
from conftest import ROOT, measure_shift, sky_mask, textured

sys.path.insert(0, os.path.join(ROOT, "bench"))
from border import advected, border_figure, column_lines  # noqa: E402  (bench/border.py)


def laplacian_var(img, region):
    import cv2
    g = img.astype(np.float32).mean(2)
    return float(cv2.Laplacian(g, cv2.CV_32F)[region].var())


def render(img, mask, field, n, **kw):
    return np.stack(list(PixelEngine(**kw).frames(img, mask, field, n)))


@pytest.fixture(scope="module")
def drift_loop():
    h, w = 120, 160
    img, mask = textured(h, w, seed=3), sky_mask(h, w, 0.6)
    field = uniform_motion((w, h), 0.0, 1.5) * mask
    return img, mask, field, render(img, mask, field, 40)


def test_frame_zero_is_the_photo_and_frozen_pixels_are_exact(drift_loop):
    img, mask, _, out = drift_loop
    assert out.shape == (40, *img.shape) and out.dtype == np.uint8
    assert np.array_equal(out[0], img)
    assert (out[:, ~mask] == img[~mask]).all()
    assert not np.array_equal(out[10][mask], img[mask])


def test_wrap_around_is_as_smooth_as_any_other_step(drift_loop):
    img, mask, _, out = drift_loop
    core = mask.copy()
    core[int(mask.sum(0).max()) - 6:] = False
    steps = [np.abs(out[i + 1][core].astype(float) - out[i][core]).mean() for i in range(len(out) - 1)]
    wrap = np.abs(out[0][core].astype(float) - out[-1][core]).mean()
    near = np.mean(steps[:2] + steps[-2:])
    assert 0.7 < wrap / near < 1.3  # no jump (> 1) and no stall (~ 0)


@pytest.mark.parametrize("direction,speed", [(0, 1.5), (90, 1.0), (225, 2.0)])
def test_drift_direction_and_speed_match_the_motion(direction, speed):
    h, w, n, k = 128, 128, 60, 4
    img, mask = textured(h, w, seed=1), np.ones((h, w), bool)
    field = uniform_motion((w, h), direction, speed)
    out = render(img, mask, field, n)
    core = np.zeros((h, w), bool)
    core[20:-20, 20:-20] = True
    dx, dy = measure_shift(out[0], out[k], core)
    ex, ey = speed * k * np.cos(np.radians(direction)), speed * k * np.sin(np.radians(direction))
    assert np.hypot(dx - ex, dy - ey) < 0.15 * speed * k + 0.3, ((dx, dy), (ex, ey))


def test_detail_is_kept_through_the_loop(drift_loop):
    img, mask, _, out = drift_loop
    core = mask.copy()
    core[:, :8] = core[:, -8:] = False
    core[int(mask.sum(0).max()) - 8:] = False
    base = laplacian_var(img, core)
    ratios = [laplacian_var(f, core) / base for f in out]
    assert np.mean(ratios) >= 0.75 and min(ratios) >= 0.5
    # one global cross-fade with plain bilinear gathers and blending loses visibly more detail mid-loop
    plain = render(img, mask, _drift(mask), 40, stagger=False, distortion=False, fade=1.0, vp_blend=False,
                   grain_sigma=0)
    assert laplacian_var(out[20], core) > 1.2 * laplacian_var(plain[20], core)


def _drift(mask):
    h, w = mask.shape
    return uniform_motion((w, h), 0.0, 1.5) * mask


def test_no_holes_where_content_leaves_an_edge():
    """Everything moves right: the left edge must keep showing texture, not a smear or black."""
    h, w, n = 64, 96, 40
    img, mask = textured(h, w, seed=5), np.ones((h, w), bool)
    out = render(img, mask, uniform_motion((w, h), 0.0, 2.0), n)
    for f in out[1:]:
        strip = f[:, :12].astype(float)
        assert strip.std(axis=1).mean() > 0.5 * img[:, :12].astype(float).std(axis=1).mean()
        assert (f.reshape(-1, 3).max(1) > 0).all()


def test_content_does_not_bleed_out_of_frozen_areas():
    """A dark frozen block inside a moving bright region must not be dragged into it."""
    h, w = 64, 96
    img = np.full((h, w, 3), 200, np.uint8)
    img[20:44, 30:50] = 0
    mask = np.ones((h, w), bool)
    mask[20:44, 30:50] = False
    field = uniform_motion((w, h), 0.0, 1.5) * mask
    out = render(img, mask, field, 40)
    assert out[:, mask].min() >= 150


def test_motion_file_at_another_resolution_is_rescaled():
    half = np.zeros((2, 32, 48), np.float32)
    half[0] = 1.0  # 1 px per frame at 48 px wide ...
    full = resize_motion(half, (96, 64))
    assert full.shape == (2, 64, 96)
    assert np.allclose(full[0], 2.0) and np.allclose(full[1], 0.0)  # ... is 2 px per frame at 96


def test_pipeline_prepare_masks_the_field(photo_files):
    photo, mask = photo_files
    scene = prepare(photo, mask=mask, direction=90, speed=1.2, speed_units="px", engine="pixel", device="cpu",
                    painted="clouds")  # a drift (the drawn test photo is no scene to recognise)
    assert scene.field.shape == (2, 96, 128) and scene.engine.name == "pixel"
    m = scene.mask
    assert (scene.field[:, ~m] == 0).all() and np.allclose(scene.field[0], 0, atol=1e-6)
    assert (scene.field[1][m] >= 0).all() and abs(scene.field[1][m].mean() - 1.2) < 0.25  # eased at the edges
    out = list(loop_frames(scene, 6))  # the engine it was prepared for
    assert len(out) == 6 and np.array_equal(out[0], scene.photo.rgb)


# --- borders: open, no seam, no still band, the outermost pixels move ---------------------

@pytest.mark.parametrize("direction,speed", [(0, 1.0), (180, 4.0), (20, 2.5)])
def test_motion_reaches_every_border(direction, speed):
    """A sky touching the top, left and right borders: the 6 % strips next to the left and
    right borders change as much as the interior, the top row moves like the rows below
    it, and no frame has a vertical line the photo carried along its field would not
    have (no seam, no band of still photo, no frozen outermost row)."""
    h, w, n = 96, 160, 40
    img, mask = textured(h, w, seed=7), sky_mask(h, w, 0.7)
    field = uniform_motion((w, h), direction, speed) * mask
    out = render(img, mask, field, n)
    res = border_figure(out, mask)
    assert res["worst"] >= 0.8, res
    assert res["top_moves"] and res["top_row"] >= 0.8, res
    assert column_lines(out, mask) < 1.2 * column_lines(advected(img, mask, field, n), mask)


def test_border_figures_see_a_still_band():
    """The figures themselves: a band of still photo along the left border is caught,
    and so is the line where it meets the moving content."""
    h, w, n = 96, 160, 20
    img, mask = textured(h, w, seed=7), sky_mask(h, w, 0.7)
    field = uniform_motion((w, h), 0, 1.5) * mask
    out = render(img, mask, field, n)
    out[:, :, :12] = img[:, :12]
    out[:, 0] = img[0]
    res = border_figure(out, mask)
    assert res["left"] < 0.2 and res["right"] >= 0.8 and not res["top_moves"]
    assert column_lines(out, mask) > 1.5 * column_lines(advected(img, mask, field, n), mask)


# --- ripple: calm water shimmers in place and loops exactly --------------------------------

def mirror_scene(h=120, w=160):
    img = textured(h, w, seed=9)
    img[h // 2:] = img[: h // 2][::-1]
    labels = np.zeros((h, w), np.uint8)
    labels[h // 2 + 2:] = 2
    labels[: h // 4] = 1
    return img, labels


def test_rippling_water_shimmers_in_place_and_loops():
    img, labels = mirror_scene()
    plan = region_motion(labels, frames=40, photo=img, styles={"water": "ripple"}, drift={"water": (None, 1.5)})
    water = labels == 2
    out = np.stack(list(PixelEngine().frames(img, labels > 0, plan, 40)))
    assert np.array_equal(out[0], img) and (out[:, labels == 0] == img[labels == 0]).all()
    core = np.zeros_like(water)
    core[labels.shape[0] // 2 + 12: -6, 6:-6] = True
    steps = [np.abs(out[i + 1][core].astype(float) - out[i][core]).mean() for i in range(len(out) - 1)]
    wrap = np.abs(out[0][core].astype(float) - out[-1][core]).mean()
    assert min(steps) > 0.2                                   # it shimmers in every frame
    assert 0.5 < wrap / np.mean(steps[:2] + steps[-2:]) < 1.5  # and wraps around without a jump
    for k in (5, 10, 20):
        dx, dy = measure_shift(out[0], out[k], core)
        assert np.hypot(dx, dy) < 1.0                         # it does not slide


def test_stylegan_engine_loops_through_the_shared_policy(tmp_path):
    """The stylegan engine renders a motion plan (drift and ripple) through the same loop
    policy: cached frames equal the straightforward computation, the loop closes, frozen
    pixels stay, and content reaching the photo's border keeps moving (open borders)."""
    import standins
    from cinegan_core.engines.stylegan import StyleGANEngine
    standins.write_tiny(str(tmp_path), classifiers=0, flows=False)
    eng = StyleGANEngine(standins.tiny_networks(str(tmp_path)), inject_resolution=standins.TINY_INJECT, grid=64)
    img, labels = mirror_scene(48, 80)
    plan = region_motion(labels, frames=8, photo=img, styles={"water": "ripple"},
                         drift={"sky": (0, 1.5), "water": (None, 3.0)})
    assert plan.ripple is not None and np.abs(plan.field).max() > 0
    mask = labels > 0
    n = 8
    canvas = list(eng.canvas_frames(img, mask, plan, n))
    for t in (0, 3, 7):
        assert (eng.reference_canvas(img, mask, plan, n, t) - canvas[t]).abs().max() < 1e-4
    assert (eng.reference_canvas(img, mask, plan, n, n) - canvas[0]).abs().max() < 1e-5
    out = list(eng.frames(img, mask, plan, n))
    assert all(np.array_equal(f[~mask], img[~mask]) for f in out)
    water = labels == 2
    assert not np.array_equal(out[3][water], out[0][water])
    sky_edge = np.zeros_like(mask)
    sky_edge[2:10, :3] = True  # sky at the left border, where drifting content enters
    assert not np.array_equal(out[4][sky_edge], out[0][sky_edge])


@pytest.mark.parametrize("speed", [0.3, 0.7])
def test_slow_drift_changes_evenly_through_the_wrap(speed):
    """The grain steps to the next whole pixel a little at every frame (dithered rounding),
    not everywhere at once every few frames: every step of the loop, across the wrap too,
    changes about as much as the others (without the dither, at 0.3 px/frame the first
    step changed almost nothing and the wrap showed as a hitch)."""
    h, w = 96, 128
    img, mask = textured(h, w, seed=5), np.ones((h, w), bool)
    n = 30
    out = render(img, mask, uniform_motion((w, h), 0.0, speed), n).astype(np.float32)
    steps = np.array([np.abs(out[(t + 1) % n] - out[t]).mean() for t in range(n)])
    assert np.array_equal(out[0], img)
    assert steps.min() > 0.6 * np.median(steps), np.round(steps / np.median(steps), 2)
    seam = steps[-1] / np.mean([steps[0], steps[-2]])
    assert 0.8 < seam < 1.25, seam


def test_grain_dither_keeps_on_grid_pixels():
    from cinegan_core.engines.pixel import grain_dither
    d = grain_dither((64, 80))
    assert d.shape == (2, 64, 80) and d.dtype == np.float32
    assert np.abs(d).max() < 0.5                      # the nearest pixel of an on-grid source is itself
    hist = np.histogram(d[0], bins=5, range=(-0.5, 0.5))[0] / d[0].size
    assert hist.min() > 0.12                          # spread evenly over the pixel
    assert np.abs(np.diff(d[0], axis=1)).mean() < 0.1  # and smooth: neighbours step together


def test_clouds_pass_behind_a_small_frozen_island():
    """A bird (a small frozen island in the sky) stays still while the sky drifts behind
    it at full speed: no slow-down around it, no band of the other source in its wake.
    Away from the island the loop matches the loop of the same sky without it, except
    for an island-sized patch of inpainted content carried along."""
    from cinegan_core.regions import SKY
    h, w, n = 96, 160, 30
    img = textured(h, w, seed=11)
    labels = np.full((h, w), SKY, np.uint8)
    bird = np.zeros((h, w), bool)
    bird[40:47, 70:77] = True
    plan = region_motion(np.where(bird, 0, labels).astype(np.uint8), frames=n, photo=img,
                         styles={"sky": "drift"}, drift={"sky": (0, 2.0)})
    free = region_motion(labels, frames=n, photo=img, styles={"sky": "drift"}, drift={"sky": (0, 2.0)})
    assert plan.holes is not None and plan.holes[bird].all() and plan.holes.sum() == bird.sum()
    assert np.allclose(plan.field[:, 43, 78], free.field[:, 43, 78], atol=0.05)  # full speed next to it
    with_bird = render(img, ~bird, plan, n).astype(int)
    without = render(img, np.ones((h, w), bool), free, n).astype(int)
    assert (with_bird[:, bird] == img[bird]).all()                               # the bird stays
    near = np.zeros((h, w), bool)
    near[37:50, 67:80] = True
    for t in (10, 15, 20):
        differs = (np.abs(with_bird[t] - without[t]).max(2) > 12) & ~near
        assert differs.sum() <= 3 * bird.sum(), (t, differs.sum())


def test_water_falling_past_a_rock_in_a_fall_leaves_it_as_water(monkeypatch):
    """A rock (a small frozen island) inside falling water: what the fall carries out below it
    is water from just above it, mirrored at its upper edge (composite.fill_upstream), not the
    smooth patch an isotropic inpainting leaves, which the fall drew down as a grey blotch; a
    bird in a drifting sky is filled with a copy of the sky's texture (composite.clone_texture)."""
    import dataclasses
    import cv2
    from cinegan_core import composite
    from cinegan_core.composite import pass_behind
    from cinegan_core.regions import FALLING_WATER, SKY
    h, w, n = 200, 160, 24
    rng = np.random.default_rng(3)
    streaks = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=1.0, sigmaY=6.0)
    img = np.repeat(np.clip(170 + 60 * streaks / streaks.std(), 0, 255)[..., None], 3, -1).astype(np.uint8)
    rock = np.zeros((h, w), bool)
    rock[40:64, 36:60] = True
    img[rock] = (70, 60, 50)
    labels = np.where(rock, 0, FALLING_WATER).astype(np.uint8)
    plan = region_motion(labels, frames=n, photo=img, drift={"water": (None, 0.5)})
    assert plan.holes is not None and plan.holes[rock].all() and plan.veil is not None
    field = np.zeros_like(plan.field)
    field[1] = 2.0                                          # straight down, 2 px a frame
    plan = dataclasses.replace(plan, field=field, ripple=None, cycles=None)
    filled, _ = pass_behind(img, ~rock, plan.holes, field=plan.field, veil=plan.veil)
    assert np.array_equal(filled[~rock], img[~rock])
    # inside the rock: the water above it, mirrored at its edge (row 39 - k for row 40 + k)
    assert np.array_equal(filled[40:64, 36:60], img[16:40, 36:60][::-1])

    def texture(a):      # grey levels of fine detail
        g = a[..., 0].astype(np.float32)
        return float((g - cv2.blur(g, (5, 5)))[2:-2, 2:-2].std())

    water = texture(img[10:40, 36:60])
    frames = render(img, ~rock, plan, n)
    t = n // 4                                              # 12 px on: the top 12 rows below the rock
    below = slice(66, 76), slice(38, 58)
    assert texture(frames[t][below]) > 0.7 * water, (texture(frames[t][below]), water)
    assert (frames[:, rock] == img[rock]).all()             # the rock stays
    # a bird in a drifting sky: a copy of the sky's texture round it, not along the flow
    sky_plan = region_motion(np.where(rock, 0, SKY).astype(np.uint8), frames=n, photo=img, drift={"sky": (0, 1.0)})
    bird, _ = pass_behind(img, ~rock, sky_plan.holes, field=sky_plan.field, veil=sky_plan.veil)
    inpainted = cv2.inpaint(img, rock.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    assert not np.array_equal(bird[rock], filled[rock])
    assert texture(bird[40:64, 36:60]) > 2 * texture(inpainted[40:64, 36:60]), (texture(bird[40:64, 36:60]),
                                                                                 texture(inpainted[40:64, 36:60]))
    # what it fixes: inpainted alone, the fall draws a smooth patch down below the rock
    monkeypatch.setattr(composite, "clone_texture", lambda filled, *a, **k: filled)
    telea = render(img, ~rock, dataclasses.replace(plan, veil=None), n)
    assert texture(telea[t][below]) < 0.6 * texture(frames[t][below])


def test_flowing_water_passes_behind_a_frozen_island_with_its_texture(monkeypatch):
    """A frozen island in textured flowing water (a rock the mask kept still): what the flow carries
    out from behind it is a copy of the water round it (``composite.clone_texture``: one
    displacement, Poisson-blended), as textured as the water; inpainted alone it was a smooth patch
    that the flow drew out as a pale blob."""
    import dataclasses
    import cv2
    from cinegan_core import composite
    from cinegan_core.regions import FLOWING_WATER
    h, w, n = 160, 240, 24
    rng = np.random.default_rng(5)
    waves = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=3.0, sigmaY=1.2)
    img = np.repeat(np.clip(110 + 45 * waves / waves.std(), 0, 255)[..., None], 3, -1).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    rock = (yy - 80) ** 2 + (xx - 100) ** 2 < 14 ** 2
    img[rock] = (60, 55, 50)
    plan = region_motion(np.where(rock, 0, FLOWING_WATER).astype(np.uint8), frames=n, photo=img)
    assert plan.holes is not None and plan.holes[rock].all()
    field = np.zeros_like(plan.field)
    field[0] = 2.0                                                    # to the right, 2 px a frame
    plan = dataclasses.replace(plan, field=field, ripple=None, cycles=None)

    def texture(a):      # grey levels of fine detail
        g = a[..., 0].astype(np.float32)
        return float((g - cv2.GaussianBlur(g, (0, 0), 3.0))[3:-3, 3:-3].std())

    water = texture(img[20:140, 150:230])
    frames = render(img, ~rock, plan, n)
    assert (frames[:, rock] == img[rock]).all()                       # the rock stays
    t = n // 2                                                        # mid-loop: 24 px carried out of it
    wake = slice(72, 88), slice(116, 140)                             # just downstream of the rock
    assert texture(frames[t][wake]) > 0.8 * water, (texture(frames[t][wake]), water)
    monkeypatch.setattr(composite, "clone_texture", lambda filled, *a, **k: filled)
    smooth = render(img, ~rock, plan, n)
    assert texture(smooth[t][wake]) < 0.8 * water, (texture(smooth[t][wake]), water)   # what it fixes
    assert texture(frames[t][wake]) > 1.3 * texture(smooth[t][wake])


def test_an_islands_copy_comes_from_upstream():
    """The copy that fills an island is taken from upstream of it where one fits: from downstream it would
    travel out beside the texture it was copied from, an echo a fixed distance behind it."""
    import cv2
    from cinegan_core.composite import CLONE_UPSTREAM, island_copies
    h, w = 160, 240
    img = textured(h, w, seed=9)
    yy, xx = np.mgrid[0:h, 0:w]
    rock = (yy - 80) ** 2 + (xx - 120) ** 2 < 14 ** 2
    for vx, vy in ((2.0, 0.0), (-2.0, 0.0), (0.0, 1.5), (1.0, -1.0)):
        field = np.zeros((2, h, w), np.float32)
        field[0], field[1] = vx, vy
        (_, _, d), = island_copies(img, rock, ~rock, field=field)
        cos = -(d[0] * vx + d[1] * vy) / (np.hypot(*d) * np.hypot(vx, vy))
        assert cos >= np.cos(np.radians(CLONE_UPSTREAM)) - 1e-6, ((vx, vy), d)
    (_, _, d), = island_copies(img, rock, ~rock)        # no motion given: any direction
    assert d is not None


# --- the smooth part keeps its contrast through a cross-over (LocalContrast) ----------------

def _streaks(h=128, w=192, seed=7):
    """Texture of 2 px blobs (the smooth band, above the grain), std ~30 grey levels."""
    import cv2
    g = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
    g = 128 + 30 * g / g.std()
    return np.clip(np.repeat(g[..., None], 3, 2), 0, 255).astype(np.uint8)


def _band_amplitude(frame, core):
    import cv2
    g = frame.astype(np.float32).mean(2)
    band = cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 6.0)
    return float(band[core].std())


@pytest.mark.parametrize("speed,lo,hi", [(2.0, 0.9, 1.1),      # sources 80 px apart: unrelated texture
                                         (0.05, 0.95, 1.07)])  # 2 px apart: the same content, nothing boosted
def test_a_cross_over_keeps_the_contrast_of_the_smooth_part(speed, lo, hi):
    """Every point mid-way through one global cross-over (frame n / 2): a plain linear blend of two
    unrelated pieces of texture keeps about 1 / sqrt(2) of its amplitude; the local-contrast blend
    keeps all of it, and boosts nothing where the two sources show the same content."""
    h, w, n = 128, 192, 40
    img, mask = _streaks(h, w), np.ones((h, w), bool)
    field = uniform_motion((w, h), 0.0, speed)
    core = np.zeros((h, w), bool)
    core[16:-16, 16:-16] = True
    kw = dict(stagger=False, distortion=False, fade=1.0)
    kept = render(img, mask, field, n, **kw)
    plain = render(img, mask, field, n, vp_blend=False, **kw)
    ref = _band_amplitude(img, core)
    assert np.array_equal(kept[0], img)
    ratio_kept, ratio_plain = _band_amplitude(kept[n // 2], core) / ref, _band_amplitude(plain[n // 2], core) / ref
    assert lo <= ratio_kept <= hi, (ratio_kept, ratio_plain)
    if speed > 1:
        assert ratio_plain < 0.8, ratio_plain                    # what it mends
    # the local mean is the blend's: the coarse brightness is that of the plain blend
    import cv2
    coarse = [cv2.GaussianBlur(f[n // 2].astype(np.float32).mean(2), (0, 0), 12.0) for f in (kept, plain)]
    assert np.abs(coarse[0] - coarse[1])[core].mean() < 1.0
