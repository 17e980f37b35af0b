"""RenderSettings (one typed object for CLI, API, app, batch and cache key) and cached renders."""

import numpy as np
import pytest

from cinegan_core import CineGANError, RenderSettings, prepare
from cinegan_core.service import output_name, photo_stem, render_key
from cinegan_core.settings import from_api, to_settings
from conftest import sky_mask, textured


def test_defaults_and_validation():
    s = RenderSettings()
    assert (s.frames, s.fps, s.engine, s.format, s.motion_scale) == (60, 20.0, "auto", "mp4", 1.0)
    assert s.mask_reach == "careful" and RenderSettings(mask_reach=" Bold ").mask_reach == "bold"
    with pytest.raises(CineGANError, match="unknown mask_reach 'daring'; choose one of careful, bold"):
        RenderSettings(mask_reach="daring")
    for bad in (dict(frames=1), dict(frames=1001), dict(frames=2.5), dict(frames="ten"), dict(frames=True),
                dict(fps=0), dict(fps=float("nan")), dict(engine="magic"), dict(format="avi"),
                dict(speed=-1), dict(sky=(0, -2)), dict(motion_scale=0), dict(arrows=["1,2,3"]),
                dict(preset="wild"), dict(max_side=10.5), dict(speed_units="mm")):
        with pytest.raises(CineGANError):
            RenderSettings(**bad)
    assert RenderSettings(frames=np.int64(12), fps="24").frames == 12
    assert RenderSettings(direction=-90).direction == 270.0


def test_dict_round_trip_and_seconds():
    s = RenderSettings(frames=30, sky=(10, 2.0), arrows=["1,2,30,4"], format="GIF").with_preset("calm")
    again = RenderSettings.from_dict(s.to_dict())
    assert again == s and again.format == "gif" and again.motion_scale == 0.5
    t = RenderSettings.from_dict({"seconds": 1.5, "fps": 10, "arrows": "1,2,3,4; 5,6,7,8"})
    assert t.frames == 15 and len(t.arrows) == 2
    with pytest.raises(CineGANError, match="unknown render setting"):
        RenderSettings.from_dict({"speeed": 2})
    with pytest.raises(CineGANError, match="unknown render setting"):
        RenderSettings().replace(speeed=2)
    with pytest.raises(CineGANError, match="either frames or seconds"):
        RenderSettings.from_dict({"seconds": 2, "frames": 3})


def test_preset_scales_speeds_and_arrows_together():
    img = textured(64, 96)
    mask = np.ones((64, 96), bool)
    plain = prepare(img, mask=mask, arrows=["10,10,40,10"], frames=20, max_side=None)
    lively = prepare(img, RenderSettings(arrows=["10,10,40,10"], frames=20, max_side=None).with_preset("lively"),
                     mask=mask)
    assert np.allclose(lively.field, 1.8 * plain.field, atol=1e-5)
    assert abs(float(plain.field[0].max()) - 30 / 20) < 1e-3  # the arrow: 30 px over 20 frames


def test_speed_units():
    img = textured(64, 128)
    mask = sky_mask(64, 128)
    px = prepare(img, RenderSettings(direction=0, speed=2.0, speed_units="px", max_side=None, painted="clouds"), mask=mask)
    rel = prepare(img, RenderSettings(direction=0, speed=2.0, max_side=None, painted="clouds"), mask=mask)
    # the region's speed before it eases to zero at its edge (over a band that grows with the speed)
    assert np.isclose(px.motion_report[0]["speed"], 2.0, rtol=0.02)                # at the render size
    assert np.isclose(rel.motion_report[0]["speed"], 2.0 * 128 / 1024, rtol=0.02)  # per 1024 px of long side
    top = px.field[0][:8].mean() / rel.field[0][:8].mean()                       # and the field itself
    assert np.isclose(top, 1024 / 128, rtol=0.05)


def test_cache_key_uses_the_engines_identity_the_mask_shape_and_every_setting(tmp_path, monkeypatch):
    """The engines' own identities: pixel, stylegan over two sets of (stand-in) weights, and
    the authors' variant over each, give five keys."""
    import standins
    from cinegan_core import load_photo
    from cinegan_core.engines.pixel import PixelEngine
    from cinegan_core.engines.stylegan import StyleGANEngine
    photo = load_photo(textured(40, 40))
    s = RenderSettings()
    identities = [PixelEngine().identity()]
    for seed in (0, 1):
        standins.write_tiny(str(tmp_path / f"w{seed}"), seed=seed, classifiers=1, flows=False)
        nets = standins.tiny_networks(str(tmp_path / f"w{seed}"))
        identities += [StyleGANEngine(nets).identity(), StyleGANEngine(nets, authors=True).identity()]
    assert len({render_key(photo, s, i) for i in identities}) == 5
    pixel = identities[0]
    base = render_key(photo, s, pixel)
    assert render_key(photo, s.replace(fps=21), pixel) != base
    flat = np.zeros(40 * 40, bool)
    flat[:100] = True
    assert render_key(photo, s, pixel, flat.reshape(40, 40)) != render_key(photo, s, pixel, flat.reshape(20, 80))
    # what painted areas move as is keyed where something was painted, and only there
    painted = flat.reshape(40, 40)
    keyed_painted = render_key(photo, s, pixel, painted)
    assert render_key(photo, s.replace(painted="water"), pixel, painted) != keyed_painted
    assert render_key(photo, s.replace(painted="water"), pixel) == base
    # the automatic mask's reach is keyed, with and without a painted mask (painted regions it found keep them)
    assert render_key(photo, s.replace(mask_reach="bold"), pixel) != base
    assert render_key(photo, s.replace(mask_reach="bold"), pixel, painted) != keyed_painted
    # the automatic mask's identity is keyed with and without a painted mask (a painted region the
    # automatic mask found keeps its classes): switching the parser off renders anew either way
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")
    assert render_key(photo, s, pixel) != base
    assert render_key(photo, s, pixel, painted) != keyed_painted


def test_names():
    assert photo_stem("/tmp/x/My Photo (1).JPG") == "My-Photo-1"
    assert photo_stem(None) == "loop"
    assert output_name("a b.png", RenderSettings(format="webm").with_preset("lively")) == "cinegan-a-b-lively.webm"


def test_a_preset_sets_the_motion_scale_however_it_is_given():
    assert RenderSettings(preset="lively").motion_scale == 1.8
    assert RenderSettings.from_dict({"preset": "calm"}).motion_scale == 0.5
    assert RenderSettings(preset="calm", motion_scale=0.5) == RenderSettings().with_preset("calm")
    with pytest.raises(CineGANError, match="give one of them"):
        RenderSettings(preset="calm", motion_scale=2.0)


def test_the_api_arguments_parse_in_the_core():
    s = from_api({"seconds": "1.5", "fps": 10, "arrows": "1,2,3,4", "format": "GIF", "aspect": "story",
                  "gif_max_mb": None}, max_side=384, channel_side=640)
    assert (s.frames, s.format, s.aspect, s.max_side, len(s.arrows)) == (15, "gif", "9:16", 640, 1)
    assert from_api({}, max_side=384).max_side == 384 and from_api({}).sky.speed is None
    for bad in ({"fps": "fast"}, {"format": 3}, {"arrows": 5}, {"arrows": [1.0, 2.0]},  # [float]: a fuzzing find
                {"colour": "red"}, {"sky_speed": [1, 2]},
                {"crop_x": 2}, {"aspect": None, "engine": True}):
        with pytest.raises(CineGANError):
            from_api(bad)
    with pytest.raises(CineGANError):
        from_api(["not", "a", "dict"])


def test_region_styles_travel_from_the_api_to_the_key():
    s = from_api({"sky_style": "drift", "water_style": "ripple"})
    assert (s.sky.style, s.water.style) == ("drift", "ripple") and s.region("water").style == "ripple"
    assert from_api({}).water.style == "auto" and s.key() != from_api({}).key()
    assert RenderSettings.from_dict(s.to_dict()) == s
    for bad in ({"water_style": "swirl"}, {"sky_style": 3}):
        with pytest.raises(CineGANError):
            from_api(bad)


# --- one converter from flat names -----------------------------------------------------------

def test_a_preset_is_replaced_by_another():
    """(This raised: calm's motion scale 0.5 stayed and disagreed with lively's 1.8.)"""
    calm = RenderSettings(preset="calm")
    assert calm.replace(preset="lively") == RenderSettings(preset="lively")
    assert calm.replace(preset=None) == RenderSettings()
    assert calm.with_preset("lively") == RenderSettings(preset="lively")
    assert RenderSettings(motion_scale=2.0).replace(fps=10).motion_scale == 2.0
    with pytest.raises(CineGANError, match="give one of them"):
        RenderSettings(motion_scale=2.0).replace(preset="calm")


def test_arrows_as_one_text_are_arrows_everywhere():
    """"x0,y0,x1,y1" is one arrow on every surface (it was read as four arrows: "arrow '1'")."""
    one = RenderSettings(arrows=["1,2,3,4"])
    assert RenderSettings(arrows="1,2,3,4") == to_settings({"arrows": "1,2,3,4"}) == one
    assert from_api({"arrows": "1,2,3,4"}).arrows == one.arrows
    with pytest.raises(CineGANError) as err:
        RenderSettings(arrows="1,2,3")
    assert "'1,2,3'" in str(err.value) and "arrow '1'" not in str(err.value)
    with pytest.raises(CineGANError, match="list of arrows"):
        RenderSettings(arrows=[1, 2, 3, 4])


def test_a_loop_too_long_is_said_in_the_terms_the_user_gave():
    """seconds and fps were turned into frames first, and the error spoke of frames."""
    for parse in (to_settings, from_api):
        with pytest.raises(CineGANError) as err:
            parse({"seconds": 10, "fps": 120})
        text = str(err.value)
        assert "10 s" in text and "120 fps" in text and "8.3 s" in text and not text.startswith("frames")
    assert to_settings({"seconds": 8.3, "fps": 120}).frames == 996


def test_the_order_of_the_names_never_decides():
    """A region as one value and as its parts: refused whichever comes first (the batch
    silently dropped the parts given first, and raised when they came second)."""
    for values in ({"sky_direction": 90, "sky": {"speed": 2}}, {"sky": {"speed": 2}, "sky_direction": 90},
                   {"sky_direction": 90, "sky": [0, 2]}, {"sky": [0, 2], "sky_direction": 90}):
        with pytest.raises(CineGANError, match="either as sky_direction or as sky"):
            to_settings(values)
    both = [("sky_speed", "2"), ("sky_direction", "90"), ("fps", "10"), ("seconds", "1")]
    assert to_settings(dict(both)) == to_settings(dict(reversed(both)))


def test_none_or_auto_is_automatic_for_directions_and_speeds():
    s = to_settings({"sky_direction": "auto", "water_speed": None, "direction": "AUTO", "speed": None})
    assert (s.sky.direction, s.water.speed, s.direction, s.speed) == (None, None, None, None)
    assert RenderSettings(sky=("auto", "auto")) == RenderSettings()
    explicit = to_settings({"sky_direction": "90", "water_speed": 0.5, "frames": "24"})
    assert (explicit.sky.direction, explicit.water.speed, explicit.frames) == (90.0, 0.5, 24)
    assert from_api({"water_direction": None}).water.direction is None          # asked for: automatic
    assert from_api({}).water.direction is None and from_api({}).sky.speed is None  # the API's defaults: automatic
    assert from_api({"water_direction": "", "sky_speed": "auto"}) == from_api({})
    with pytest.raises(CineGANError, match="number or \"auto\""):
        to_settings({"sky_speed": "fast"})


def test_every_surface_uses_the_one_converter(tmp_path):
    """The command line, the API, a batch row, the Python API's options and from_dict give
    the same settings for the same flat values."""
    from cinegan_core.__main__ import build_parser, render_settings
    from cinegan_core.batch import Row, expand_row
    from cinegan_core.pipeline import resolve_settings
    flat = {"frames": 24, "fps": 12.0, "sky_direction": 90.0, "water_speed": 0.5, "water_style": "ripple",
            "arrows": "1,2,30,4", "aspect": "1:1", "crop_x": 0.25, "max_side": 512}
    expected = to_settings(flat)
    assert resolve_settings(None, flat) == RenderSettings.from_dict(flat) == expected
    row = expand_row(Row({"photo": "a.png", **{k: str(v) for k, v in flat.items()}}, "x line 2"), str(tmp_path))
    assert row[0].settings == expected
    args = build_parser().parse_args(["render", "a.png", "--frames", "24", "--fps", "12", "--sky-direction", "90",
                                      "--water-speed", "0.5", "--water-style", "ripple", "--arrow", "1,2,30,4",
                                      "--aspect", "1:1", "--crop", "0.25,0.5", "--max-side", "512"])
    assert render_settings(args) == expected.replace(speed_units="px")
    api = from_api({k: v for k, v in flat.items() if k not in ("frames", "max_side")} | {"seconds": 2},
                   channel_side=512)
    assert api == expected  # the API's defaults are automatic, as everywhere
