"""Move the detail, not the gradient (cinegan_core/detail.py, composite.Rebase) and the
featureless warning; small images, seconds on a CPU."""
import cv2
import numpy as np
import pytest
import torch

from cinegan_core.composite import Rebase, carried_hold
from cinegan_core.detail import EDGE_REACH, detail_level, edge_hold, featureless_warnings, smooth_base
from cinegan_core.engines.pixel import PixelEngine
from conftest import textured

GRAY = np.array([0.299, 0.587, 0.114], np.float32)


def gradient_sky(h, w):
    """(h, w, 3) float32: a smooth sky, darker at the top, with a glow low on the right."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w, yy / h
    sky = np.stack([60 + 140 * v + 30 * u, 80 + 100 * v, 160 + 60 * v - 25 * u], -1)
    return sky + 40 * np.exp(-(((u - 0.7) / 0.3) ** 2 + ((v - 0.6) / 0.3) ** 2))[..., None]


def gradient_scene(h=96, w=144, texture=4.0, gradient=True, seed=0):
    """A gradient sky with fine texture, a frozen post rising into it, frozen ground.
    Returns photo (h, w, 3) uint8, mask (True = sky, moves), post (h, w) bool."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = gradient_sky(h, w)
    if not gradient:
        sky[:] = sky.reshape(-1, 3).mean(0)
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.0)
    sky += (texture / tex.std() * tex)[..., None]
    ground = yy > 0.8 * h
    post = (np.abs(xx - 0.4 * w) < 5) & (yy > 0.3 * h) & ~ground
    photo = sky.copy()
    photo[ground | post] = (40, 50, 30)
    return np.clip(photo, 0, 255).round().astype(np.uint8), ~(ground | post), post


def lf_change(frames, photo, sigma):
    lf0 = cv2.GaussianBlur(photo.astype(np.float32) @ GRAY, (0, 0), sigma)
    return [np.abs(cv2.GaussianBlur(f.astype(np.float32) @ GRAY, (0, 0), sigma) - lf0) for f in frames]


def test_base_reproduces_a_linear_gradient_up_to_the_mask_edge_and_ignores_frozen_pixels():
    h, w = 80, 120
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    plane = np.stack([90 + 0.4 * xx - 0.3 * yy, 40 + 0.6 * yy, 200 - 0.2 * xx], -1)
    mask = np.ones((h, w), bool)
    mask[40:, 50:70] = False
    mask[70:] = False
    img = plane.copy()
    img[~mask] = 255.0                    # frozen pixels far off the gradient must not bleed in
    base = smooth_base(img, mask)
    assert np.abs(base - plane)[mask].max() < 0.01
    # a broad glow is mostly base: what is left of it (the detail, which would move) is small
    glow = 40 * np.exp(-((yy - 30) / 40) ** 2)
    detail = (plane + glow[..., None] - smooth_base(plane + glow[..., None], mask))[mask]
    assert np.abs(detail).mean() < 0.25 * np.abs(glow[mask] - glow[mask].mean()).mean()


def test_rebase_split_and_recombination_keep_frozen_pixels_bit_exact():
    photo, mask, _ = gradient_scene()
    rb = Rebase(photo, mask)
    img = torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None]
    detail = rb.split(img)
    assert torch.allclose(detail + rb.base_image, img, atol=1e-3)          # base + detail = photo
    # re-basing the photo's own values gives them back
    values = img.view(3, -1)[:, rb.index]
    assert torch.allclose(rb(values), values, atol=1e-2)
    # an engine whose output slid a smooth gradient (no detail) gets it put back in place
    smooth = gradient_sky(*mask.shape)
    sky = np.zeros(mask.shape, bool)
    sky[: int(0.8 * mask.shape[0])] = True
    sm = torch.from_numpy(smooth.astype(np.float32)).permute(2, 0, 1)[None]
    rs = Rebase(smooth, sky)
    cols = (torch.arange(smooth.shape[1]) - 10).clamp_min(0)
    values = sm.view(3, -1)[:, rs.index]
    slid = sm[..., cols].reshape(3, -1)[:, rs.index]
    before, after = (slid - values).abs().mean(), (rs(slid) - values).abs().mean()
    assert float(before) > 2.0 and float(after) < 0.2 * float(before), (before, after)
    # and the engine's frames: frozen pixels are the photo's bytes, frame 0 is the photo
    field = np.zeros((2, *mask.shape), np.float32)
    field[0][mask] = 1.5
    frames = list(PixelEngine().frames(photo, mask, field, 24))
    assert np.array_equal(frames[0], photo)
    for f in frames:
        assert np.array_equal(f[~mask], photo[~mask])


def test_the_gradient_barely_moves_while_the_detail_does():
    """A small version of the issue-18 bar (bench/quality.py, gradient test): the low-frequency
    brightness of a gradient sky drifting past a frozen post hardly changes, beside the post
    too, while the whole-photo warp of the same scene slides it; the detail still moves."""
    photo, mask, post = gradient_scene()
    field = np.zeros((2, *mask.shape), np.float32)
    field[0][mask] = 1.5
    n = 24
    near = mask & (cv2.distanceTransform((~post).astype(np.uint8), cv2.DIST_L2, 5) <= 6)
    kept = list(PixelEngine().frames(photo, mask, field, n))
    slid = list(PixelEngine(rebase=False).frames(photo, mask, field, n))
    d_kept, d_slid = lf_change(kept, photo, 4), lf_change(slid, photo, 4)
    worst_kept = max(float(d[mask].mean()) for d in d_kept)
    worst_slid = max(float(d[mask].mean()) for d in d_slid)
    assert worst_kept < 0.5 * worst_slid, (worst_kept, worst_slid)
    assert max(float(d[near].mean()) for d in d_kept) < 0.5 * max(float(d[near].mean()) for d in d_slid)
    # the detail moved: mid-loop the sky differs from the photo by about the texture's size
    mid = kept[n // 4].astype(np.float32) @ GRAY - photo.astype(np.float32) @ GRAY
    assert np.abs(mid[mask]).mean() > 2.0


def test_edge_hold_fades_from_a_frozen_edge_and_covers_what_lies_behind_it():
    h, w = 120, 300
    moving = np.ones((h, w), bool)
    moving[40:80, 100:170] = False                      # a frozen block inside the region
    carried = np.ones((h, w), bool)
    carried[:, 240:] = False                            # the right part ripples in place: nothing held
    hold = edge_hold(moving, carried)
    reach = EDGE_REACH * w
    assert hold[60, 99] > 0.9 and hold[60, 170] > 0.9   # at the block's edges
    assert hold[60, 170 + int(reach) + 1] == 0.0 and hold[5, 5] == 0.0   # beyond the reach; the border is no edge
    assert (np.diff(hold[60, 170:170 + int(reach) + 1]) <= 1e-6).all()  # fading away from the edge
    assert hold[60, 101] == 1.0 and hold[60, 168] == 1.0  # what lies behind the block within the reach
    assert hold[60, 135] == 0.0                         # (sampled filled from its edge), not beyond it
    assert (hold[:, 240:] == 0.0).all()
    # a motion that only ripples holds nothing; a falling veil neither
    field = np.zeros((2, h, w), np.float32)
    assert carried_hold(moving, field, None) is None
    field[1][moving] = 1.0
    assert carried_hold(moving, field, moving) is None
    assert carried_hold(moving, field, None) is not None


def test_a_halo_hugging_a_frozen_post_stays_with_it_while_the_sky_drifts():
    """A bright halo round a frozen post (sharpening, haze lit beside it) is narrower than the base's
    window: without the edge hold it slides off with the sky and a pale wedge travels away from the
    post; with it, the low-frequency brightness beside the post barely changes, and frozen pixels
    stay the photo's bytes."""
    h, w = 192, 288
    photo, mask, post = gradient_scene(h, w)
    d = cv2.distanceTransform((~post).astype(np.uint8), cv2.DIST_L2, 5)
    photo = np.clip(photo + (24.0 * np.exp(-d / 4.0) * mask)[..., None], 0, 255).round().astype(np.uint8)
    field = np.zeros((2, h, w), np.float32)
    field[0][mask] = 1.5
    near = mask & (d <= 8)
    n = 24

    def worst_near(frames):
        return max(float(c[near].mean()) for c in lf_change(frames, photo, 3))

    held = list(PixelEngine().frames(photo, mask, field, n))
    assert np.array_equal(held[0], photo)
    for f in held:
        assert np.array_equal(f[~mask], photo[~mask])
    slid = list(PixelEngine(edge_hold=False).frames(photo, mask, field, n))
    assert worst_near(held) < 0.4 * worst_near(slid), (worst_near(held), worst_near(slid))


def test_loop_stays_seamless_with_the_detail_moving():
    photo, mask, _ = gradient_scene(seed=2)
    field = np.zeros((2, *mask.shape), np.float32)
    field[0][mask] = 1.2
    out = np.stack(list(PixelEngine().frames(photo, mask, field, 30))).astype(np.float32)
    core = mask & (cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5) > 4)
    steps = [np.abs(out[i + 1][core] - out[i][core]).mean() for i in range(len(out) - 1)]
    wrap = np.abs(out[0][core] - out[-1][core]).mean()
    assert 0.7 < wrap / np.mean(steps[:2] + steps[-2:]) < 1.3   # no jump, no stall


def test_featureless_warning_on_a_flat_sky_only():
    flat, mask, _ = gradient_scene(texture=0.4, seed=1)        # a smooth gradient, a little noise
    rich = textured(96, 144, seed=4)
    assert detail_level(flat, mask) < 1.5 < detail_level(rich, mask)
    assert featureless_warnings(flat, {"sky": mask}) == ["the sky is nearly featureless: little will appear to move"]
    assert featureless_warnings(rich, {"sky": mask}) == []
    assert featureless_warnings(flat, {"water": mask}) == [
        "the water is nearly featureless: little will appear to move"]
    tiny = np.zeros_like(mask)
    tiny[:2, :2] = True
    assert featureless_warnings(flat, {"sky": tiny}) == []              # too small to judge


def test_featureless_warning_reaches_the_render_warnings(tmp_path):
    from PIL import Image
    from cinegan_core import prepare
    flat, mask, _ = gradient_scene(texture=0.4, seed=1)
    Image.fromarray(flat).save(tmp_path / "flat.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    scene = prepare(str(tmp_path / "flat.png"), mask=str(tmp_path / "mask.png"), engine="pixel", frames=12)
    assert any("nearly featureless" in w for w in scene.warnings)
    rich = textured(96, 144, seed=4)
    Image.fromarray(rich).save(tmp_path / "rich.png")
    scene = prepare(str(tmp_path / "rich.png"), mask=str(tmp_path / "mask.png"), engine="pixel", frames=12)
    assert not any("featureless" in w for w in scene.warnings)


@pytest.mark.parametrize("shape", [(40, 64), (64, 40)])
def test_base_is_smooth_and_defined_for_any_aspect(shape):
    rng = np.random.default_rng(0)
    img = rng.random((*shape, 3)).astype(np.float32) * 255
    mask = np.zeros(shape, bool)
    mask[: shape[0] // 2] = True
    base = smooth_base(img, mask)
    assert base.shape == img.shape and np.isfinite(base).all()
    # noise has no gradient to keep: the base is near the region's mean, far smoother than the image
    assert base[mask].std() < 0.25 * img[mask].std()


def test_stylegan_engine_keeps_the_photo_base_through_the_shared_rebase(tmp_path):
    """The stylegan engine follows the same rule from the same place (composite.Rebase): the
    smooth base of every frame over the moving region is the photo's, frozen pixels exact."""
    import standins
    from cinegan_core.detail import BaseFit
    from cinegan_core.engines.stylegan import StyleGANEngine
    standins.write_tiny(str(tmp_path), classifiers=0, flows=False)
    nets = standins.tiny_networks(str(tmp_path))
    photo, mask, _ = gradient_scene(48, 80)
    field = np.zeros((2, *mask.shape), np.float32)
    field[0][mask] = 1.5
    fit = BaseFit(mask)

    def base_gap(frames):
        ref = fit(torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None])[0]
        gaps = []
        for f in frames:
            b = fit(torch.from_numpy(f.astype(np.float32)).permute(2, 0, 1)[None])[0]
            gaps.append(float((b - ref).abs().permute(1, 2, 0)[torch.from_numpy(mask)].mean()))
        return max(gaps)

    kw = dict(inject_resolution=standins.TINY_INJECT, grid=64)
    kept = list(StyleGANEngine(nets, **kw).frames(photo, mask, field, 6))
    free = list(StyleGANEngine(nets, rebase=False, **kw).frames(photo, mask, field, 6))
    assert all(np.array_equal(f[~mask], photo[~mask]) for f in kept)
    # (the tiny random generator's output is wild: clamping to 0..255 and the soft edge leave a little)
    assert base_gap(kept) < 0.5 * base_gap(free), (base_gap(kept), base_gap(free))


def veil_scene(h=96, w=96, seed=0):
    """Thin strands of white water falling over dark textured rock. Returns photo (h, w, 3)
    uint8, fall (h, w) bool (the falling water; the rest is frozen rock), strands (h, w) bool."""
    rng = np.random.default_rng(seed)
    rock = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
    rock = 55 + 25 * rock / rock.std()
    # strands 2 px wide every 7 px, broken into dashes along their length so that falling shows
    dashes = cv2.GaussianBlur(rng.standard_normal((h, w // 7 + 1)).astype(np.float32), (0, 0), sigmaX=0.1, sigmaY=3.0) > 0
    xx = np.arange(w)
    strands = ((xx % 7) < 2)[None, :] & dashes[:, xx // 7]
    fall = np.zeros((h, w), bool)
    fall[8:88, 16:80] = True
    photo = np.repeat(rock[..., None], 3, -1)
    photo[strands & fall] = (225, 232, 240)
    return np.clip(photo, 0, 255).round().astype(np.uint8), fall, strands & fall


def test_rock_seen_through_falling_water_stays_while_the_water_falls():
    """Over falling water (MotionPlan.veil) what lies behind the strands stays: the rock between
    them keeps its texture mid-loop, where moving the whole detail streams it down; the strands
    still fall as fast; frame 0 is the photo and frozen pixels are its bytes."""
    import dataclasses
    from cinegan_core import region_motion, regions
    photo, fall, strands = veil_scene()
    labels = np.where(fall, regions.FALLING_WATER, 0).astype(np.uint8)
    plan = region_motion(labels, frames=24, photo=photo, drift={"water": (None, 0.5)})
    assert plan.veil is not None and plan.veil[fall].all()
    field = np.zeros_like(plan.field)
    field[1][fall] = 2.0                                   # straight down, 2 px a frame
    veiled = dataclasses.replace(plan, field=field, ripple=None, cycles=None)
    n = 24
    kept = list(PixelEngine().frames(photo, fall, veiled, n))
    whole = list(PixelEngine().frames(photo, fall, dataclasses.replace(veiled, veil=None), n))
    for frames in (kept, whole):
        assert np.array_equal(frames[0], photo)
        assert all(np.array_equal(f[~fall], photo[~fall]) for f in frames)
    core = fall & (cv2.distanceTransform(fall.astype(np.uint8), cv2.DIST_L2, 5) > 6)
    rock = core & (cv2.distanceTransform((~strands).astype(np.uint8), cv2.DIST_L2, 5) > 2)
    gray = lambda f: f.astype(np.float32) @ GRAY                                    # noqa: E731
    t = n // 4
    # where the photo shows rock, mid-loop: the rock (or a strand passing over it), not other rock
    rock_kept = np.abs(gray(kept[t]) - gray(photo))[rock & (gray(kept[t]) < 120)].mean()
    rock_whole = np.abs(gray(whole[t]) - gray(photo))[rock & (gray(whole[t]) < 120)].mean()
    assert rock_kept < 0.4 * rock_whole, (rock_kept, rock_whole)
    # the water falls as much either way: the strands' pixels change as they pass
    water = lambda fr: np.abs(gray(fr[t]) - gray(photo))[strands & core].mean()     # noqa: E731
    assert water(kept) > 0.7 * water(whole) and water(kept) > 40, (water(kept), water(whole))


def test_rebase_with_a_veil_gives_the_photo_back_for_any_engine():
    """Re-basing the photo's own values over falling water gives them back, read from the values
    alone or from a whole output frame (the stylegan engine's way)."""
    photo, fall, _ = veil_scene(seed=3)
    rb = Rebase(photo, fall, veil=fall)
    img = torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None]
    assert torch.allclose(rb.split(img) + rb.base_image, img, atol=1e-3)
    values = img.view(3, -1)[:, rb.index]
    assert torch.allclose(rb(values, img), values, atol=1e-2)
    # the veil's base keeps the rock: over the fall, the base is far closer to the photo's dark
    # pixels than the smooth fit alone
    plain = Rebase(photo, fall)
    dark = torch.from_numpy(fall & (photo[..., 0] < 120))
    gap = lambda r: (r.base_image - img)[0].abs().mean(0)[dark].mean()             # noqa: E731
    assert float(gap(rb)) < 0.5 * float(gap(plain))


def test_stylegan_engine_keeps_the_rock_behind_falling_water_through_the_shared_rebase(tmp_path):
    """The stylegan engine re-bases each frame with the veil too (what lies behind the water is
    read from its whole output frame): the rock between the strands stays closer to the photo's
    than without the veil; frozen pixels are the photo's bytes."""
    import dataclasses
    import standins
    from cinegan_core.engines.stylegan import StyleGANEngine
    from cinegan_core.motion import MotionPlan
    standins.write_tiny(str(tmp_path), classifiers=0, flows=False)
    nets = standins.tiny_networks(str(tmp_path))
    photo, fall, strands = veil_scene(64, 64, seed=4)
    field = np.zeros((2, *fall.shape), np.float32)
    field[1][fall] = 1.5
    plan = MotionPlan(field, veil=fall)
    kw = dict(inject_resolution=standins.TINY_INJECT, grid=64)
    kept = list(StyleGANEngine(nets, **kw).frames(photo, fall, plan, 4))
    whole = list(StyleGANEngine(nets, **kw).frames(photo, fall, dataclasses.replace(plan, veil=None), 4))
    assert all(np.array_equal(f[~fall], photo[~fall]) for f in kept)
    rock = fall & ~strands & (cv2.distanceTransform(fall.astype(np.uint8), cv2.DIST_L2, 5) > 4)
    gap = lambda frames: max(float(np.abs(f.astype(np.float32) - photo)[rock].mean()) for f in frames)  # noqa: E731
    assert gap(kept) < 0.7 * gap(whole), (gap(kept), gap(whole))


def test_the_edge_hold_keeps_a_glow_round_a_post_but_not_a_band_that_runs_along_the_motion():
    """Beside frozen things the base holds what differs from the rest of the flow line (``AlongFlow``):
    a glow hugging a post, not a bright band along a jagged skyline that the sky drifts along (held,
    its unheld share came out of the building tops as a smudge)."""
    h, w = 160, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tops = 110 - np.repeat(np.random.default_rng(3).uniform(0, 30, w // 20 + 1), 20)[:w]
    post = (np.abs(xx - 200) < 6) & (yy > 30)
    mask = ~((yy > tops[None, :]) | post)
    band = 30.0 * np.exp(-np.abs(yy - 95) / 6.0)                       # along the motion, narrower than the base
    d_post = cv2.distanceTransform((~post).astype(np.uint8), cv2.DIST_L2, 5)
    glow = 25.0 * np.exp(-d_post / 4.0)
    photo = np.repeat((120.0 + band + glow)[..., None], 3, -1) * mask[..., None]
    field = np.zeros((2, h, w), np.float32)
    field[0][mask] = 1.0                                                 # the sky drifts right
    hold = edge_hold(mask, mask)

    def held(along):
        kept = Rebase(photo, mask, hold=hold, along=along).base_image
        plain = Rebase(photo, mask).base_image
        return (kept - plain)[0].mean(0).numpy()

    new, old = held(field), held(None)
    on_band = mask & (np.abs(yy - 95) < 4) & (np.abs(xx - 200) > 40) & (hold > 0.3)
    beside_post = mask & (d_post <= 3) & (yy < 60)
    assert np.abs(old[on_band]).mean() > 5.0                            # what the hold used to keep
    assert np.abs(new[on_band]).mean() < 0.25 * np.abs(old[on_band]).mean(), np.abs(new[on_band]).mean()
    assert new[beside_post].mean() > 0.6 * old[beside_post].mean() > 5.0, (new[beside_post].mean(),
                                                                           old[beside_post].mean())
