"""RenderSettings (one typed object for CLI, API, app, batch and cache key) and cached renders."""
import os

import numpy as np
import pytest

from cinegan_core import CineGANError, RenderSettings, prepare
from cinegan_core.cache import Cache
from cinegan_core.service import output_name, photo_stem, render_cached, render_key
from conftest import sky_mask, textured


def test_defaults_and_validation():
    s = RenderSettings()
    assert (s.frames, s.fps, s.engine, s.format, s.motion_scale) == (60, 20.0, "auto", "mp4", 1.0)
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
    px = prepare(img, RenderSettings(direction=0, speed=2.0, speed_units="px", max_side=None), mask=mask)
    rel = prepare(img, RenderSettings(direction=0, speed=2.0, max_side=None), mask=mask)
    assert np.isclose(px.field[0][mask].mean(), 2.0, rtol=0.05)       # at the render size
    assert np.isclose(rel.field[0][mask].mean(), 2.0 * 128 / 1024, rtol=0.05)  # per 1024 px of long side


def test_cache_key_uses_engine_mask_shape_and_every_setting():
    from cinegan_core import load_photo
    photo = load_photo(textured(40, 40))
    s = RenderSettings()
    pixel = {"engine": "pixel", "version": 2}
    base = render_key(photo, s, pixel)
    assert render_key(photo, s, pixel) == base
    assert render_key(photo, s, {"engine": "stylegan", "version": 2, "weights": [["g", "/w", 1, 2]]}) != base
    assert render_key(photo, s.replace(fps=21), pixel) != base
    flat = np.zeros(40 * 40, bool)
    flat[:100] = True
    assert render_key(photo, s, pixel, flat.reshape(40, 40)) != render_key(photo, s, pixel, flat.reshape(20, 80))


def test_render_cached_is_the_same_on_a_hit(tmp_path):
    cache = Cache(str(tmp_path / "cache"))
    img = np.vstack([np.full((30, 64, 3), (110, 160, 235), np.uint8), textured(34, 64)])
    s = RenderSettings(frames=6, fps=6, format="gif", engine="pixel", max_side=None)
    first = render_cached(img, s, cache=cache, mask=sky_mask(64, 64), name="My Photo.JPG", device="cpu")
    again = render_cached(img, s, cache=cache, mask=sky_mask(64, 64), name="My Photo.JPG", device="cpu")
    assert first.info["cached"] is False and again.info["cached"] is True
    assert set(first.info) == set(again.info)
    assert {k: v for k, v in again.info.items() if k not in ("cached", "seconds")} == \
        {k: v for k, v in first.info.items() if k not in ("cached", "seconds")}
    assert first.video.endswith(".gif") and first.preview.endswith(".mp4") and again.video == first.video
    assert first.info["file_name"] == "cinegan-My-Photo.gif"
    assert first.info["quality"]["frozen_exact"] is True


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
    from cinegan_core.settings import from_api
    s = from_api({"seconds": "1.5", "fps": 10, "arrows": "1,2,3,4", "format": "GIF", "aspect": "story",
                  "gif_max_mb": None}, max_side=384, channel_side=640)
    assert (s.frames, s.format, s.aspect, s.max_side, len(s.arrows)) == (15, "gif", "9:16", 640, 1)
    assert from_api({}, max_side=384).max_side == 384 and from_api({}).sky.speed == 1.0
    for bad in ({"fps": "fast"}, {"format": 3}, {"arrows": 5}, {"arrows": [1.0, 2.0]},  # [float]: a fuzzing find
                {"colour": "red"}, {"sky_speed": [1, 2]},
                {"crop_x": 2}, {"aspect": None, "engine": True}):
        with pytest.raises(CineGANError):
            from_api(bad)
    with pytest.raises(CineGANError):
        from_api(["not", "a", "dict"])


def test_region_styles_travel_from_the_api_to_the_key():
    from cinegan_core.settings import from_api
    s = from_api({"sky_style": "drift", "water_style": "ripple"})
    assert (s.sky.style, s.water.style) == ("drift", "ripple") and s.region("water").style == "ripple"
    assert from_api({}).water.style == "auto" and s.key() != from_api({}).key()
    assert RenderSettings.from_dict(s.to_dict()) == s
    for bad in ({"water_style": "swirl"}, {"sky_style": 3}):
        with pytest.raises(CineGANError):
            from_api(bad)


def test_a_render_fits_a_cache_smaller_than_itself(tmp_path):
    """The parts of one render (GIF, its MP4 preview, its description) are stored and then
    evicted for size once, together: with a budget smaller than the render, the older
    entries go but this render is still served (storing each part used to evict the parts
    before it, and the render 'vanished')."""
    cache = Cache(str(tmp_path / "cache"), max_bytes=1)
    img = np.vstack([np.full((30, 64, 3), (110, 160, 235), np.uint8), textured(34, 64)])
    for frames in (6, 8):
        s = RenderSettings(frames=frames, fps=6, format="gif", engine="pixel", max_side=None)
        out = render_cached(img, s, cache=cache, mask=sky_mask(64, 64), device="cpu")
        assert out.info["cached"] is False and os.path.exists(out.video) and os.path.exists(out.preview)
