"""Painted regions move as what they are: classification (automask.kinds), falling water,
the painted choice and automatic directions through the pipeline and the settings."""
import math

import cv2
import numpy as np
import pytest

from cinegan_core import regions
from cinegan_core.automask import kinds
from cinegan_core.errors import CineGANError
from cinegan_core.motion import region_motion
from cinegan_core.settings import RenderSettings, from_api, to_settings


def waterfall_scene(h=160, w=120, seed=0):
    """(rgb (h, w, 3) uint8, falls (h, w) bool): a smooth blue sky over a dark, textured green
    cliff, with a bright white fall of vertical streaks down its middle."""
    rng = np.random.default_rng(seed)
    y = np.arange(h, dtype=np.float32)[:, None, None]
    img = np.zeros((h, w, 3), np.float32)
    img[:] = np.array([90, 150, 230], np.float32) + 0.3 * y          # sky: a gentle gradient
    rock = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2.0)
    cliff = np.stack([40 + 120 * rock, 70 + 140 * rock, 30 + 80 * rock], -1)
    img[30:] = cliff[30:]
    falls = np.zeros((h, w), bool)
    falls[40:150, 48:74] = True
    streaks = rng.random(w).astype(np.float32)                        # one brightness per column
    streaks = np.repeat(cv2.GaussianBlur(streaks[None], (0, 0), 0.7), h, 0)
    wobble = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigmaX=0.7, sigmaY=6.0)
    white = 190 + 70 * streaks + 30 * (wobble - 0.5)
    img[falls] = np.repeat(white[..., None], 3, -1)[falls] * np.array([0.97, 0.99, 1.0])
    return np.clip(img, 0, 255).astype(np.uint8), falls


def labelled_photo(folder: str, name: str, side: int):
    """(rgb (h, w, 3) uint8, labels (h, w) uint8 region codes, no boundary band) of a labelled photo
    of data/scenes, at most `side` px on its long side."""
    import os, sys
    from conftest import ROOT
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import scene_labels
    from PIL import Image
    label = scene_labels.read(os.path.join(ROOT, "data", "scenes", folder, name + ".json"))
    img = Image.open(os.path.join(ROOT, "data", "scenes", folder, label["image"])).convert("RGB")
    img.thumbnail((side, side))
    return np.asarray(img), scene_labels.rasterise(label, img.size, band=0)


def down_angle(field, region):
    """Degrees between the region's median motion and straight down."""
    vx, vy = np.median(field[0][region]), np.median(field[1][region])
    return abs(math.degrees(math.atan2(vx, vy)))


def test_a_painted_waterfall_is_classified_and_falls():
    rgb, falls = waterfall_scene()
    assert kinds.classify(rgb, falls) == regions.FALLING_WATER
    sky = np.zeros_like(falls)
    sky[:25] = True
    assert kinds.classify(rgb, sky) == regions.SKY
    labels = np.where(falls, regions.FALLING_WATER, 0).astype(np.uint8)
    plan = region_motion(labels, frames=24, photo=rgb)
    upper = falls.copy()
    upper[95:] = False
    assert plan.styles == {"falling_water": "fall"}
    assert down_angle(plan.field, upper) < 40
    still_water = region_motion(np.where(falls, regions.WATER, 0).astype(np.uint8), frames=24, photo=rgb)
    fast = np.hypot(*plan.field)[upper].mean() / max(np.hypot(*still_water.field)[upper].mean(), 1e-6)
    assert fast > 2.5 or still_water.ripple is not None        # falls are faster than water flows
    foot = np.zeros_like(falls)
    foot[140:150, 48:74] = True
    assert plan.ripple is not None and plan.ripple.amplitude[foot].mean() > plan.ripple.amplitude[upper].mean()
    assert np.hypot(*plan.field)[foot].mean() < np.hypot(*plan.field)[upper].mean()  # it slows where it lands
    report = plan.report[0]
    assert report["style"] == "fall" and report["auto"] and abs(report["direction"] - 90) < 40


def test_streaks_that_lean_are_followed_but_never_past_40_degrees():
    rgb, falls = waterfall_scene()
    h, w = falls.shape
    labels = np.where(falls, regions.FALLING_WATER, 0).astype(np.uint8)
    for degrees, lo, hi in ((22, 15, 30.5),     # a cascade sliding down a slanted face: followed
                            (70, 0, 40.5)):     # nearly level: never past the limit
        m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
        leaning = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        plan = region_motion(labels, frames=24, photo=leaning)
        assert lo < down_angle(plan.field, falls) <= hi, degrees
    plan = region_motion(labels, frames=24, photo=rgb)
    assert down_angle(plan.field, falls) < 15


def test_level_ledges_across_a_fall_do_not_turn_it_sideways():
    """The level edges of ledges (bright lips every 12 rows, slightly uneven) cross the vertical
    streaks: they say nothing of where the water falls, which stays straight down (they used to
    count as streaks lying flat, whose +-90 deg was clipped to a 30 deg slide)."""
    rgb, falls = waterfall_scene()
    ledged = rgb.astype(np.float32)
    for y in range(46, 146, 12):
        rows = slice(y, y + 2)
        ledged[rows, 48:74] = ledged[rows, 48:74] * 0.3 + 0.7 * np.array([250.0, 252, 255])
        ledged[y + 2:y + 4, 48:74] *= 0.55                    # the shadow under the lip
    ledged = np.clip(ledged, 0, 255).astype(np.uint8)
    labels = np.where(falls, regions.FALLING_WATER, 0).astype(np.uint8)
    plan = region_motion(labels, frames=24, photo=ledged)
    assert down_angle(plan.field, falls) < 10


def test_real_curtains_over_ledges_fall_straight_down():
    """Gooseberry Falls (a training photo): three curtains drop straight down over level rock
    steps. Their streaks, not the steps, set the direction: the labelled falls' mean tilt stays
    small and almost none of them leans to the limit (before: 29.9 deg mean, all of it at the
    30 deg limit)."""
    from cinegan_core.motion import MAX_TILT, streak_tilt
    rgb, labels = labelled_photo("weathersomewhere-r9flow", "gooseberry-falls-three-strands", 768)
    falls = labels == regions.FALLING_WATER
    tilt, mean = streak_tilt(rgb, falls)
    assert abs(mean) < 12, mean                                             # 9.7 deg
    assert (np.abs(np.degrees(tilt[falls])) > MAX_TILT - 1).mean() < 0.02


def test_the_pipeline_classifies_each_painted_region_and_reports_it(tmp_path, monkeypatch):
    from cinegan_core.pipeline import prepare
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")   # the cues decide (the parser has its own test below)
    rgb, falls = waterfall_scene()
    scene = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None), mask=falls)
    assert scene.painted == [{"region": 1, "as": "falling water", "class": "falling_water", "auto": True,
                              "share": round(float(falls.mean()), 4), "by": "cues"}]
    upper = falls.copy()
    upper[95:] = False
    assert down_angle(scene.field, upper) < 40
    motion = {m["region"]: m for m in scene.motion_report}
    assert motion["falling water"]["style"] == "fall" and motion["falling water"]["auto"]
    # the user's choice wins: painted as clouds, it drifts (rightward by default)
    clouds = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None, painted="clouds"), mask=falls)
    assert clouds.painted[0]["as"] == "clouds" and not clouds.painted[0]["auto"]
    assert clouds.styles == {"sky": "drift"} and np.median(clouds.field[0][upper]) > 0
    still = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None, painted="still"), mask=falls)
    assert still.styles == {"still_water": "ripple"} and still.plan.ripple is not None


def test_two_painted_regions_each_get_their_class(monkeypatch):
    from cinegan_core.pipeline import prepare
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")   # the cues decide on this drawn scene
    rgb, falls = waterfall_scene()
    mask = falls.copy()
    mask[:22] = True                                            # the sky, apart from the fall
    scene = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None), mask=mask)
    assert [(p["as"], p["by"]) for p in scene.painted if p["share"] > 0.05] == [("falling water", "cues"),
                                                                                ("clouds", "automatic mask")]
    assert (scene.labels[:22] == regions.SKY).all()           # the sky (found, or classified) stays sky
    assert (scene.labels[falls] == regions.FALLING_WATER).all()
    assert scene.styles == {"sky": "drift", "falling_water": "fall"}


def test_the_painted_choice_holds_where_the_automatic_mask_found_the_region(monkeypatch):
    """A painted sky the automatic mask found: automatic, it keeps the found classes and says so; a
    choice ("still", "falling water") moves it as chosen, as it does a region the mask did not find."""
    from cinegan_core.pipeline import prepare
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")
    rgb, _ = waterfall_scene()
    sky = np.zeros(rgb.shape[:2], bool)
    sky[:22] = True
    found = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None), mask=sky)
    assert found.painted == [{"region": 1, "as": "clouds", "class": "sky", "auto": True,
                              "share": round(float(sky.mean()), 4), "by": "automatic mask"}]
    assert found.styles == {"sky": "drift"}
    assert any("moves as the automatic mask found it (mostly sky)" in n for n in found.notes)
    for choice, code, style in (("still", regions.STILL_WATER, {"still_water": "ripple"}),
                                ("falling water", regions.FALLING_WATER, {"falling_water": "fall"})):
        chosen = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None, painted=choice), mask=sky)
        assert chosen.painted[0]["as"] == choice and chosen.painted[0]["by"] == "choice"
        assert (chosen.labels[sky] == code).all() and chosen.styles == style


def test_parser_probabilities_decide_when_given():
    rgb, falls = waterfall_scene()
    probs = np.zeros((5, 40, 30), np.float32)
    probs[regions.FLOWING_WATER] = 0.7
    probs[regions.SKY] = 0.3
    assert kinds.classify(rgb, falls, probs) == regions.FLOWING_WATER
    assert kinds.from_probs(probs, falls)[1][regions.FLOWING_WATER] == pytest.approx(0.7)
    # a region too thin for the parser's grid is left to the cues: this fall is one or two cells wide
    coarse = np.zeros((5, 10, 8), np.float32)
    coarse[regions.FLOWING_WATER] = 1.0
    assert kinds.resolved(coarse, falls) < kinds.MIN_RESOLVED <= kinds.resolved(probs, falls)
    assert kinds.decide(rgb, falls, coarse) == (regions.FALLING_WATER, "cues")
    assert kinds.decide(rgb, falls, probs) == (regions.FLOWING_WATER, "parser")


def test_a_painted_waterfall_in_a_real_photo_falls_with_the_parser(monkeypatch):
    """A training photo's labelled fall, painted: the parser (or, where the fall is too thin
    for it, the cues) recognises falling water and the field points down."""
    from cinegan_core.automask import parser_status
    if not parser_status()[0]:
        pytest.skip(parser_status()[1])
    from cinegan_core.pipeline import prepare
    rgb, labels = labelled_photo("ubuntucinnamon", "gorge-waterfall-pond", 512)
    falls = labels == regions.FALLING_WATER
    scene = prepare(rgb, RenderSettings(frames=8, engine="pixel", max_side=None), mask=falls)
    # classified as painted, or already found by the automatic mask: either way the fall is falling
    # water; where the automatic mask found the foot with the pool below, the foot keeps the pool's
    # kind (round-4 head: 28 % of this fall, rows 271..311 of 384, where the two falls meet the pool)
    upper = falls & (np.cumsum(falls, axis=0) <= np.maximum(falls.sum(0, keepdims=True) // 2, 1))
    assert (scene.labels[upper] == regions.FALLING_WATER).mean() > 0.75   # 0.82 with the round-4 head
    assert (scene.labels[falls] == regions.FALLING_WATER).mean() > 0.6
    assert down_angle(scene.field, upper) < 40


def test_the_painted_setting_is_one_choice_everywhere():
    assert RenderSettings().painted == "auto"
    assert to_settings({"painted": "Waterfall"}).painted == "falling water"
    assert to_settings({"painted": "still water"}).painted == "still"
    assert to_settings({"painted": None}).painted == "auto" and to_settings({"painted": ""}).painted == "auto"
    assert from_api({"painted": "clouds"}).painted == "clouds"
    assert RenderSettings(painted="water").key() != RenderSettings().key()
    with pytest.raises(CineGANError, match="unknown painted"):
        to_settings({"painted": "lava"})


def test_the_painted_choice_from_the_command_line_and_a_batch_row(tmp_path):
    from cinegan_core.__main__ import build_parser, render_settings
    from cinegan_core.batch import Row, expand_row
    args = build_parser().parse_args(["render", "a.png", "-o", "a.mp4", "--painted", "falling-water"])
    assert render_settings(args).painted == "falling water"
    assert render_settings(build_parser().parse_args(["render", "a.png", "-o", "a.mp4"])).painted == "auto"
    jobs = expand_row(Row({"photo": "a.png", "painted": "clouds|still"}, "x line 2"), str(tmp_path))
    assert [j.settings.painted for j in jobs] == ["clouds", "still"]


def test_directions_and_speeds_are_automatic_unless_numbers_are_given():
    for auto in ("auto", None, "", " AUTO "):
        s = to_settings({"water_direction": auto, "sky_speed": auto})
        assert s.water.direction is None and s.sky.speed is None
    api = from_api({})
    assert (api.sky.direction, api.sky.speed, api.water.direction, api.water.speed) == (None, None, None, None)
    given = from_api({"sky_direction": 90, "water_speed": "0.5"})
    assert given.sky.direction == 90.0 and given.water.speed == 0.5


def diagonal_stream(h=120, w=160):
    """(rgb, stream): a textured band of water running from the top left down to the bottom right."""
    from conftest import textured
    rgb = textured(h, w, seed=4)
    y, x = np.mgrid[0:h, 0:w]
    stream = np.abs((y - 10) - 0.6 * x) < 10
    stream[:8] = False
    stream[:, :16] = stream[:, 136:] = False                  # a channel, not a sheet across the photo
    return rgb, stream


def test_the_api_with_its_defaults_flows_a_stream_downhill():
    """The API's defaults leave the direction automatic: a stream sloping down to the right
    flows down to the right (it flowed uphill, leftward, at 180 deg before)."""
    from cinegan_core.pipeline import prepare
    rgb, stream = diagonal_stream()
    settings = from_api({"seconds": 1, "fps": 8, "water_style": "flow", "engine": "pixel"}, max_side=None)
    scene = prepare(rgb, settings, labels=np.where(stream, regions.FLOWING_WATER, 0).astype(np.uint8))
    vx, vy = np.median(scene.field[0][stream]), np.median(scene.field[1][stream])
    assert vx > 0 and vy > 0
    asked = prepare(rgb, settings.replace(water_direction=200),
                    labels=np.where(stream, regions.FLOWING_WATER, 0).astype(np.uint8))
    assert np.median(asked.field[0][stream]) < 0       # an explicit direction picks the other way
    assert {m["region"]: m["auto"] for m in asked.motion_report} == {"flowing water": False}


def test_explicit_numbers_move_as_before():
    """Explicit directions and speeds: the same field as giving them straight to region_motion."""
    from cinegan_core.pipeline import prepare
    rgb, _ = waterfall_scene()
    labels = np.zeros(rgb.shape[:2], np.uint8)
    labels[:30] = regions.SKY
    settings = to_settings({"sky_direction": 45, "sky_speed": 2, "frames": 8, "engine": "pixel",
                            "max_side": None})
    scene = prepare(rgb, settings, labels=labels)
    unit = max(rgb.shape[:2]) / 1024
    plan = region_motion(labels, frames=8, photo=rgb, drift={"sky": (45.0, 2 * unit), "water": (None, None)})
    assert np.array_equal(scene.field, plan.field)
    assert scene.motion_report[0]["direction"] == pytest.approx(45, abs=0.5)


def test_the_parser_does_not_decide_a_region_it_takes_for_solid():
    """A painted meadow the parser sees as solid: its pick among the moving classes would be
    noise (all near 0), so the region's own cues decide; where it sees water, it decides."""
    rgb = np.full((64, 96, 3), 90, np.uint8)
    region = np.zeros((64, 96), bool)
    region[16:56, 8:88] = True
    probs = np.zeros((5, 16, 24), np.float32)
    probs[regions.CODES.index(regions.SOLID)] = 1.0
    assert kinds.decide(rgb, region, probs)[1] == "cues"
    probs[:] = 0.0
    probs[regions.CODES.index(regions.FLOWING_WATER)] = 1.0
    assert kinds.decide(rgb, region, probs) == (regions.FLOWING_WATER, "parser")


def test_the_parser_decides_a_half_seen_region_where_one_moving_class_clearly_leads():
    """A tall fall shot from below touches the top of the photo, so its cues say sky; the parser
    half takes it for the cliff (0.75 solid) but what it sees moving there is falling water: it
    decides. Where the moving share is split, or near zero, the cues decide."""
    rgb = np.full((64, 96, 3), 200, np.uint8)
    column = np.zeros((64, 96), bool)
    column[:, 40:60] = True
    codes = regions.CODES.index
    probs = np.zeros((5, 16, 24), np.float32)
    probs[codes(regions.SOLID)], probs[codes(regions.FALLING_WATER)], probs[codes(regions.SKY)] = 0.75, 0.24, 0.01
    assert kinds.decide(rgb, column, None)[0] == regions.SKY                   # what this fixes
    assert kinds.decide(rgb, column, probs) == (regions.FALLING_WATER, "parser")
    probs[codes(regions.FALLING_WATER)], probs[codes(regions.SKY)] = 0.13, 0.12  # split: no class leads
    assert kinds.decide(rgb, column, probs)[1] == "cues"
    probs[codes(regions.SOLID)], probs[codes(regions.FALLING_WATER)], probs[codes(regions.SKY)] = 0.95, 0.05, 0.0
    assert kinds.decide(rgb, column, probs)[1] == "cues"                       # too little moving: noise
