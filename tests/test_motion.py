"""Motion without files: per-region styles (drift, flow, ripple), easing, arrows."""
import cv2
import numpy as np
import pytest

from cinegan_core import CineGANError, region_motion, render, read_video
from cinegan_core.motion import MotionPlan, choose_style, flow_directions, plausible_labels
from cinegan_core.motion.styles import CHANNEL_ELONGATION, STRAIGHT_COURSE, _coming_closer, _course, _shape_axis
from conftest import measure_shift, textured


def two_regions(h=120, w=160):
    labels = np.zeros((h, w), np.uint8)
    labels[:50] = 1    # sky
    labels[70:] = 2    # water
    return labels


def coherence(f, region):
    v = f[:, region]
    return np.hypot(*v.mean(1)) / np.hypot(*v).mean()


def test_default_sky_drift_is_coherent_and_eased():
    labels = two_regions()
    plan = region_motion(labels, frames=60)
    field, sky = plan.field, labels == 1
    assert isinstance(plan, MotionPlan) and plan.styles["sky"] == "drift"
    assert (field[:, labels == 0] == 0).all()
    assert coherence(field, sky) > 0.99 and field[0][sky].mean() > 0
    assert 0.05 < np.hypot(*field[:, sky].mean(1)) < 0.5              # ~1 px/frame per 1024 px, here 160 px
    assert np.abs(field[:, 49]).max() < 0.02                          # eased to 0 at the mask edge
    assert np.abs(field[:, 0, 20:-20] - field[:, 5, 20:-20]).max() < 0.05  # but not at the image border
    assert any("default" in n for n in plan.notes)


def test_region_overrides_and_global_direction():
    labels = two_regions()
    plan = region_motion(labels, frames=60, styles={"water": "drift"}, drift={"sky": (90, 2.0), "water": (None, 1.0)})
    field = plan.field
    core = np.zeros_like(labels, bool)
    core[10:40, 10:-10] = True
    assert np.allclose(field[0][core], 0, atol=1e-5) and np.isclose(field[1][core].mean(), 2.0, rtol=0.15)
    assert field[0][labels == 2].mean() < 0  # water drifts in its default direction at the new speed
    assert plan.styles == {"sky": "drift", "water": "drift"}


def test_unknown_style_is_a_user_error():
    with pytest.raises(CineGANError, match="water style"):
        region_motion(two_regions(), frames=40, styles={"water": "swirl"})


def test_one_arrow_gives_a_uniform_drift_over_its_region():
    labels = two_regions()
    plan = region_motion(labels, frames=40, arrows=["20,10,60,30"])
    field, notes = plan.field, plan.notes
    core = np.zeros_like(labels, bool)
    core[10:30, 10:-10] = True       # clear of the band where the motion eases to zero at the edge (row 50)
    assert np.allclose(field[0][core], 1.0, atol=1e-4) and np.allclose(field[1][core], 0.5, atol=1e-4)
    assert plan.styles["sky"] == "arrows" and plan.styles["water"] != "arrows"  # water is not steered by a sky arrow
    assert not [n for n in notes if "ignored" in n]


def test_two_arrows_blend_smoothly():
    labels = np.ones((100, 200), np.uint8)
    field = region_motion(labels, frames=50, arrows=[(10, 50, 60, 50), (140, 50, 140, 100)]).field
    row = field[:, 50, 35:141]  # from the first arrow's midpoint to the second's column
    # near each arrow its own velocity dominates; between them the field turns gradually
    assert field[0, 50, 35] > 0.6 and field[1, 50, 35] < 0.4
    assert field[1, 75, 140] > 0.6 and field[0, 75, 140] < 0.4
    assert np.abs(np.diff(row, axis=1)).max() < 0.05
    assert np.all(np.diff(row[0]) <= 1e-6) and np.all(np.diff(row[1]) >= -1e-6)


def test_arrows_outside_the_mask_are_reported():
    labels = two_regions()
    plan = region_motion(labels, frames=40, arrows=[(20, 55, 60, 65)])  # in the frozen band
    assert any("arrow 1" in n and "ignored" in n for n in plan.notes)
    assert np.allclose(plan.field, region_motion(labels, frames=40).field)


def test_arrows_in_photo_pixels_are_scaled_to_the_render():
    labels = two_regions()
    field = region_motion(labels, frames=40, arrows=["40,20,120,20"], arrow_scale=0.5).field
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


# --- styles chosen from the photo ---------------------------------------------------------

def mirror_lake(h=160, w=240, seed=0):
    """Textured scenery above a calm lake that mirrors it, and its labels."""
    rng = np.random.default_rng(seed)
    top = h // 2
    scene = textured(top, w, seed=seed).astype(np.float32)
    water = scene[::-1] * 0.8 + rng.normal(0, 2, scene.shape)
    img = np.clip(np.vstack([scene, water]), 0, 255).astype(np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[:top // 3] = 1
    labels[top:] = 2
    return img, labels


def test_mirror_like_water_ripples_and_the_ripple_loops_in_place():
    img, labels = mirror_lake()
    style, why = choose_style("water", img, labels == 2)
    assert style == "ripple", why
    plan = region_motion(labels, frames=48, photo=img)
    water = labels == 2
    assert plan.styles["water"] == "ripple" and plan.ripple is not None
    assert (plan.field[:, water] == 0).all()                          # rippling water does not slide
    amp = plan.ripple.amplitude
    assert (amp[~water] == 0).all() and amp[water].max() > 0.3
    assert amp[-10:].mean() > amp[labels.shape[0] // 2 + 3].mean()   # livelier near the camera
    assert len(set(plan.ripple.cycles.tolist())) == len(plan.ripple.cycles)


def test_an_automatic_ripple_tells_how_to_make_a_river_run():
    """Calm water ripples by default; a calm river is often taken for it, so the note says how to make it
    flow, and only when the ripple was the automatic choice."""
    img, labels = mirror_lake()
    auto = region_motion(labels, frames=24, photo=img).notes
    assert any("ripple" in n and n.endswith("a river? set the water motion to flow") for n in auto), auto
    asked = region_motion(labels, frames=24, photo=img, styles={"water": "ripple"}).notes
    assert any("ripple" in n for n in asked) and not any("a river?" in n for n in asked), asked
    flowing = region_motion(labels, frames=24, photo=img, styles={"water": "flow"}).notes
    assert not any("a river?" in n for n in flowing), flowing


def test_textured_open_water_slides_along_its_crests():
    h, w = 160, 240
    rng = np.random.default_rng(3)
    crests = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigmaX=8, sigmaY=1.2)
    img = np.full((h, w, 3), 60, np.float32)
    img[h // 2:] = (np.array([30, 90, 120]) + 2500 * (crests[h // 2:, :, None] - 0.5))
    img = np.clip(img, 0, 255).astype(np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[h // 2:] = 2
    style, why = choose_style("water", img, labels == 2)
    assert style == "flow", why
    field = region_motion(labels, frames=60, photo=img).field
    v = field[:, labels == 2].mean(1)
    assert v[0] < 0 and abs(v[1]) < 0.2 * abs(v[0])                   # along the crests, leftward by default
    col = -field[0][h // 2 + 10:h - 10, w // 2]
    assert col[-1] > col[0]                                           # faster near the camera
    right = region_motion(labels, frames=60, photo=img, drift={"water": (0, None)}).field
    assert right[0][labels == 2].mean() > 0                           # the user picks the way
    tilted = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h * 3 / 4), 15, 1.0), (w, h),
                            borderMode=cv2.BORDER_REFLECT)
    d, how = flow_directions(labels == 2, tilted)
    angle = np.degrees(np.arctan2(d[1, 0, 0], d[0, 0, 0])) % 360
    assert "crests" in how and 155 < angle < 175, (angle, how)        # crests tilted by 15 deg (165)


def test_a_stream_flows_along_its_own_axis_downhill():
    """A diagonal channel: the flow follows the channel, with a downward component,
    whatever the user's default direction; it is never a fixed constant."""
    h, w = 200, 200
    labels = np.zeros((h, w), np.uint8)
    for x0, sign in ((40, 1), (160, -1)):
        lab = np.zeros((h, w), np.uint8)
        cv2.line(lab, (x0, 0), (x0 + sign * 120, h - 1), 2, thickness=22)
        d, how = flow_directions(lab == 2)
        axis = np.array([sign * 120, h - 1], np.float32)
        axis /= np.linalg.norm(axis)
        inside = lab == 2
        cos = d[0][inside] * axis[0] + d[1][inside] * axis[1]
        assert cos.mean() > 0.95 and "downhill" in how
    labels[:30] = 1
    cv2.line(labels, (40, 40), (160, h - 1), 2, thickness=22)
    img = textured(h, w, seed=4)
    assert choose_style("water", img, labels == 2)[0] == "flow"
    plan = region_motion(labels, frames=60, photo=img)
    v = plan.field[:, labels == 2].mean(1)
    assert plan.styles["water"] == "flow" and v[1] > 0 and v[0] > 0


def test_a_cove_slides_one_way_instead_of_following_its_curved_shore():
    """Water that is neither a channel nor spanning the photo (a cove whose shore curves
    round it, beside a cliff) slides one way, along the level, as open water does; its
    shore is not a course (following it bent the surf into curved streaks). A body as
    squat but with straight banks (a wide river) still flows along them, downhill."""
    h, w = 240, 320
    yy, xx = np.mgrid[:h, :w]
    cove = ((xx - w) ** 2 + (yy - h) ** 2 < (0.75 * h) ** 2) & (yy > 0.35 * h)   # a quarter disc, bottom right
    d, how = flow_directions(cove)
    angles = np.degrees(np.arctan2(d[1][cove], d[0][cove]))
    assert np.ptp(angles) < 1.0 and abs(abs(angles.mean()) - 180) < 20, how
    h, w = 240, 480
    yy, xx = np.mgrid[:h, :w]
    river = np.abs((xx - 0.3 * w) * 0.8 - (yy - 0.5 * h) * 0.6) < 60                   # a broad straight band
    d, how = flow_directions(river)
    axis = np.array([0.6, 0.8])
    assert "downhill" in how and (d[0][river] * axis[0] + d[1][river] * axis[1]).mean() > 0.95, how


def test_a_stream_coming_toward_the_camera_flows_down_to_it():
    """A squat, bending stream seen coming toward the camera (it enters at the bottom edge and
    its banks converge away from it, in perspective) is a channel, not open water: it flows
    along its course, downhill, toward the bottom edge. Upside down (a bay widening away from
    the camera) the same shape stays open water and slides level."""
    h, w = 240, 320
    t = np.linspace(0, 1, 30)
    cx, cy = 115 + 105 * t + 40 * np.sin(np.pi * t), 70 + (h - 1 - 70) * t   # bends on its way down
    half = 12 + 68 * t                                                     # narrow far away
    outline = np.concatenate([np.stack([cx - half, cy], 1), np.stack([cx + half, cy], 1)[::-1]])
    stream = np.zeros((h, w), np.uint8)
    cv2.fillPoly(stream, [outline.astype(np.int32)], 1)
    stream = stream > 0
    elongation, _ = _shape_axis(stream)
    _, _, straight = _course(stream, _shape_axis(stream)[1], None)
    assert elongation < CHANNEL_ELONGATION and straight < STRAIGHT_COURSE  # neither rule of its shape holds
    d, how = flow_directions(stream)
    v = d[:, stream].mean(1)
    assert "downhill" in how and v[1] > 0.5 and v[0] > 0, (how, v)
    bay = stream[::-1]
    d, how = flow_directions(bay)
    assert "downhill" not in how and abs(d[1][bay].mean()) < 0.2, how
    pieces = stream & ((np.arange(w)[None, :] // 40) % 2 == 0)        # the same outline cut in far-apart strips
    assert not _coming_closer(pieces, _shape_axis(pieces)[1])           # parts of a larger water, not one stream
    assert _coming_closer(stream, _shape_axis(stream)[1])


def test_surf_seen_from_above_slides_along_its_crests_whatever_their_slope():
    """Water that reaches the top of the photo is seen from above: its surf lines may run
    any way, and it slides along them (here they run down the photo). Below a horizon the
    same steep streaks would be glitter or reflections: that water slides level."""
    h, w = 240, 320
    rng = np.random.default_rng(5)
    streaks = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigmaX=1.2, sigmaY=10)
    img = np.clip(np.array([30, 90, 120]) + 2500 * (streaks[..., None] - 0.5), 0, 255).astype(np.uint8)
    for top, steep in ((0, True), (h // 3, False)):
        water = np.zeros((h, w), bool)
        water[top:] = True
        d, how = flow_directions(water, img)
        v = d[:, water].mean(1)
        assert (abs(v[1]) > 0.9) == steep and ("crests" in how) == steep, how


def test_explicit_styles_override_the_automatic_choice():
    img, labels = mirror_lake()
    plan = region_motion(labels, frames=40, photo=img, styles={"water": "flow", "sky": "ripple"})
    assert plan.styles == {"sky": "ripple", "water": "flow"}
    assert np.hypot(*plan.field[:, labels == 2]).mean() > 0.05
    assert (plan.field[:, labels == 1] == 0).all() and plan.ripple.amplitude[labels == 1].max() > 0


def test_one_sky_moves_as_one():
    """'Water' above the sky's middle (a mislabelled part of the sky) drifts with the sky,
    and two parts of the sky on either side of a tree drift the same way."""
    h, w = 120, 160
    labels = np.zeros((h, w), np.uint8)
    labels[:60] = 1
    labels[:40, 100:] = 2            # mislabelled: part of the sky
    labels[:, 70:80] = 0             # a tree splits the sky
    labels[90:] = 2                  # real water below
    fixed = plausible_labels(labels)
    assert (fixed[:40, 100:] == 1).all() and (fixed[90:] == 2).all()
    plan = region_motion(labels, frames=40, photo=textured(h, w))
    f = plan.field
    left, right = f[:, 10:30, 10:60].reshape(2, -1).mean(1), f[:, 10:30, 110:150].reshape(2, -1).mean(1)
    assert left @ right / (np.linalg.norm(left) * np.linalg.norm(right)) > 0.99


def test_small_frozen_islands_are_passed_behind_big_or_grounded_ones_are_not():
    from cinegan_core.motion import enclosed_holes
    h, w = 100, 160
    labels = np.zeros((h, w), np.uint8)
    labels[:60] = 1                                  # sky over frozen ground
    labels[20:26, 50:56] = 0                         # a bird in the sky
    labels[0:5, 100:108] = 0                         # a speck at the top border
    labels[0:6, 0:6] = 0                             # a speck in the corner
    labels[40:60, 120:126] = 0                       # a mast standing on the ground
    labels[5:55, 10:40] = 0                          # something big (a fifth of the sky)
    holes = enclosed_holes(labels, labels == 1, max_fraction=0.02)
    assert holes[20:26, 50:56].all() and holes[0:5, 100:108].all() and holes[0:6, 0:6].all()
    assert not holes[40:60, 120:126].any() and not holes[5:55, 10:40].any() and not holes[60:].any()


def test_an_island_that_no_copy_of_the_photo_can_fill_is_an_occluder():
    """An island is passed behind when a nearby copy of the photo's texture can fill it
    (``composite.clone_texture``); one in a strip of water too narrow to hold a copy of it would
    be a smooth inpainted patch carried into the waves, so it stays an occluder, like any frozen
    edge. Without the photo nothing is checked."""
    from cinegan_core.regions import FLOWING_WATER
    h, w = 200, 300
    photo = textured(h, w, seed=4)
    labels = np.zeros((h, w), np.uint8)
    labels[80:130, 20:160] = FLOWING_WATER           # a stream
    labels[95:115, 40:64] = 0                        # a rock in it: copies 1.2-2.2 x its size away fit
    labels[80:130, 180:252] = FLOWING_WATER          # a pool beside it
    labels[87:123, 200:232] = 0                      # a boulder that fills most of the pool: none does
    plan = region_motion(labels, frames=24, photo=photo)
    assert plan.holes[95:115, 40:64].all()
    assert not plan.holes[87:123, 200:232].any()
    blind = region_motion(labels, frames=24)
    assert blind.holes[95:115, 40:64].all() and blind.holes[87:123, 200:232].all()


def test_every_water_class_moves_as_water():
    """Flowing (3) and falling (4) water are water wherever code asks "is this water":
    the water group's style and speed apply to them, as to still water (2)."""
    from cinegan_core import regions
    labels = two_regions()
    assert regions.is_water(np.array([0, 1, 2, 3, 4])).tolist() == [False, False, True, True, True]
    still = region_motion(labels, frames=40, styles={"water": "drift"}, drift={"water": (0, 1.0)})
    for code in (regions.FLOWING_WATER, regions.FALLING_WATER):
        other = np.where(labels == regions.STILL_WATER, code, labels).astype(np.uint8)
        plan = region_motion(other, frames=40, styles={"water": "drift"}, drift={"water": (0, 1.0)})
        assert still.styles == {"sky": "drift", "water": "drift"}
        assert plan.styles == {"sky": "drift", regions.NAMES[code]: "drift"}  # each class says what it got
        assert np.array_equal(plan.field, still.field)


def test_a_short_fast_fall_loops_several_times_and_keeps_falling():
    """A fall 50 px tall falling 4 px a frame would travel 192 px in a 48-frame loop: both
    sources would leave it and it would stand still mid-loop (or smear). It loops several
    times instead (MotionPlan.cycles, said in the notes and the report), and keeps moving in
    every frame; a wide sky drifting slowly loops once."""
    import dataclasses
    from cinegan_core import regions
    from cinegan_core.engines.pixel import PixelEngine
    h, w, n = 120, 120, 48
    img = textured(h, w, seed=5)
    labels = np.zeros((h, w), np.uint8)
    labels[:20] = regions.SKY
    labels[40:90, 30:90] = regions.FALLING_WATER
    plan = region_motion(labels, frames=n, photo=img, drift={"water": (None, 1.0)})
    fall = next(r for r in plan.report if r["class"] == "falling_water")
    sky = next(r for r in plan.report if r["class"] == "sky")
    assert fall["cycles"] == 4 and sky["cycles"] == 1
    assert any("loops 4 times per loop" in note for note in plan.notes)
    assert (plan.cycles[labels == regions.FALLING_WATER] == 4).all() and (plan.cycles[:20] == 1).all()

    def steps(p):  # mean change per frame inside the fall, over the whole loop (wrap included)
        fr = np.stack(list(PixelEngine().frames(img, labels > 0, p, n))).astype(np.float32)
        inner = fr[:, 45:85, 35:85]
        return np.abs(inner - np.roll(inner, 1, axis=0)).mean(axis=(1, 2, 3))

    cycled, once = steps(plan), steps(dataclasses.replace(plan, cycles=None))
    assert cycled.min() > 0.7 * np.median(cycled)          # moving in every frame
    assert once.min() < 0.1 * np.median(once)              # looped once, it stalls mid-loop


def test_a_fast_region_eases_over_a_wider_band_and_keeps_its_detail_at_the_edge(monkeypatch):
    """Sky drifting 1.5 px a frame over a 48-frame loop travels 72 px; eased to zero over the
    narrow default band (2 % of the short side, 4.8 px), the shear across it draws the
    texture along the edge into streaks. It eases over travel / EASE_SHEAR = 48 px instead
    (the region is thick enough), and the texture next to the edge keeps its detail."""
    from cinegan_core.engines.pixel import PixelEngine
    from cinegan_core.motion import plans
    h, w, n = 240, 200, 48
    img = textured(h, w, seed=7)
    labels = np.zeros((h, w), np.uint8)
    labels[:200] = 1

    def edge_detail(plan):  # x-gradient next to the edge, at mid-loop frames, relative to the photo
        frames = list(PixelEngine().frames(img, labels > 0, plan, n))
        grad = [np.abs(cv2.Sobel(f.astype(np.float32).mean(2), cv2.CV_32F, 1, 0))[194:200, 10:-10].mean()
                for f in frames]
        return min(grad[t] / grad[0] for t in (12, 18, 24, 30, 36))

    plan = region_motion(labels, frames=n, photo=img, drift={"sky": (0, 1.5)})
    col = plan.field[0][:, 100]
    assert col[150] > 0.95 * col[140] and col[176] < 0.75 * col[150]   # eases from ~48 px above the edge
    wide = edge_detail(plan)
    monkeypatch.setattr(plans, "EASE_SHEAR", 1e9)                      # the narrow band only
    narrow = edge_detail(region_motion(labels, frames=n, photo=img, drift={"sky": (0, 1.5)}))
    assert wide > 0.85 and narrow < 0.75, (wide, narrow)
