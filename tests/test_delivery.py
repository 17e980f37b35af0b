"""Ready to post: animated WebP and the email GIF (one budget search with the GIF), the poster,
the embed code and the A/B page."""
import html.parser
import json
import os

import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, RenderSettings, render, write_video
from cinegan_core.delivery import ab_page, file_names, snippet, variant, write_poster
from cinegan_core.pipeline import load_settings_photo
from cinegan_core.video import EMAIL_LADDER, GIF_LADDER, WEBP_LADDER, _next_try
from conftest import EXAMPLES, busy_frames, run_cli, textured


def grey(img: Image.Image, size=None) -> np.ndarray:
    img = img.convert("RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.LANCZOS)
    return np.asarray(img.convert("L"), np.float64)


def poster_grey(path, size) -> np.ndarray:
    """The poster in grey levels at `size` (its even padding cropped first)."""
    with Image.open(path) as p:
        return grey(p.crop((0, 0, *size)))


# --- a 2-second loop at 1024 px: WebP against GIF under one budget, and the email GIF ---------------

@pytest.fixture(scope="module")
def web_loop(tmp_path_factory):
    """A 2-second loop at 1024 px of an example photo (pixel engine), encoded in one render to a
    GIF and a WebP under the same (default) budget and to the email GIF (defaults), and its poster."""
    tmp = tmp_path_factory.mktemp("web")
    settings = RenderSettings.from_dict({"seconds": 2, "fps": 20, "max_side": 1024, "engine": "pixel"})
    photo = os.path.join(EXAMPLES, "sunset-skyline.jpg")
    files = {k: str(tmp / n) for k, n in (("gif", "loop.gif"), ("webp", "loop.webp"), ("email", "email.gif"),
                                          ("poster", "poster.jpg"))}
    info = render(photo, [files["gif"], files["webp"], (files["email"], "email")], settings)
    write_poster(load_settings_photo(photo, settings).rgb, files["poster"])
    return settings, info, files


def test_webp_is_at_most_half_the_gif_within_its_budget_and_starts_on_the_poster(web_loop):
    settings, info, files = web_loop
    assert (info["width"], info["height"]) == (1024, 768) and info["frames"] == 40
    gif, webp = info["videos"][:2]
    size = {k: os.path.getsize(files[k]) for k in ("gif", "webp")}
    assert size["gif"] == gif["bytes"] and size["webp"] == webp["bytes"]          # the real sizes are reported
    assert settings.gif_max_mb == settings.webp_max_mb                              # the same budget
    assert size["webp"] <= settings.budget_bytes("webp") and size["gif"] <= settings.budget_bytes("gif")
    assert size["webp"] <= 0.5 * size["gif"], size
    with Image.open(files["webp"]) as anim:
        assert anim.format == "WEBP" and anim.size == (1024, 768)                  # the loop's own size, kept
        assert anim.n_frames == 40 and anim.info["loop"] == 0
        durations, first = [], grey(anim)
        for i in range(anim.n_frames):
            anim.seek(i)
            pixels = grey(anim)   # decoding the frame also reads its duration
            durations.append(anim.info["duration"])
            if i == 20:
                middle = pixels
    assert set(durations) == {50}                                                  # 20 fps
    poster = poster_grey(files["poster"], (1024, 768))
    assert np.abs(first - poster).mean() < 3
    assert np.abs(middle - poster).mean() > np.abs(first - poster).mean() + 0.5    # the check tells frames apart


def test_email_gif_is_600_px_wide_and_under_1_mb_by_default(web_loop):
    settings, info, files = web_loop
    assert (settings.email_width, settings.email_max_mb) == (600, 1.0)
    email = info["videos"][2]
    with Image.open(files["email"]) as g:
        assert g.format == "GIF" and g.size[0] <= 600 and g.info["loop"] == 0
        assert g.size == (email["width"], email["height"]) and g.n_frames == email["frames"]
        first = grey(g)
    poster = grey(Image.fromarray(poster_grey(files["poster"], (1024, 768)).astype(np.uint8)), first.shape[::-1])
    assert np.abs(first - poster).mean() < 4                                      # the poster, in a GIF's palette
    assert os.path.getsize(files["email"]) == email["bytes"] <= 1_000_000


def test_email_gif_starts_on_the_poster_at_its_width_and_budget(tmp_path):
    poster = textured(120, 200, seed=5)
    clip = [np.roll(poster, 6 + 3 * i, axis=1) for i in range(16)]     # frame 0 is not the poster here
    out = tmp_path / "email.gif"
    info = write_video(clip, out, fps=20, fmt="email", width=100, poster=poster)
    with Image.open(out) as g:
        assert g.size == (100, 60) == (info["width"], info["height"]) and g.n_frames == 16
        first = grey(g)
    small = lambda a: grey(Image.fromarray(a), (100, 60))  # noqa: E731
    assert np.abs(first - small(poster)).mean() < 0.5 * np.abs(first - small(clip[0])).mean()
    wide = write_video(clip, tmp_path / "wide.gif", fps=20, fmt="email", width=600)  # never enlarged
    assert (wide["width"], wide["height"]) == (200, 120)
    budget = int(os.path.getsize(out) * 0.6)
    fit = write_video(clip, tmp_path / "fit.gif", fps=20, fmt="email", width=100, poster=poster, max_bytes=budget)
    assert os.path.getsize(tmp_path / "fit.gif") == fit["bytes"] <= budget
    with pytest.raises(CineGANError, match="the file must end in .gif"):
        write_video(clip, tmp_path / "email.webp", fps=20, fmt="email")


# --- the budget search both formats share --------------------------------------------------------

@pytest.fixture(scope="module")
def busy_clip():
    """A loop where everything moves: the hardest case for a budget."""
    return busy_frames(240, 360)


def test_webp_fits_its_budget_the_same_way_every_time(tmp_path, busy_clip):
    free = write_video(busy_clip, tmp_path / "free.webp", fps=20)
    assert (free["first_quality"], free["quality"]) == WEBP_LADDER.levels[0] and free["attempts"] == 1
    budget = int(free["bytes"] * 0.4)
    info = write_video(busy_clip, tmp_path / "fit.webp", fps=20, max_bytes=budget)
    size = os.path.getsize(tmp_path / "fit.webp")
    assert size == info["bytes"] <= budget and size > 0.5 * budget      # fits, and not needlessly small
    assert info["attempts"] <= WEBP_LADDER.attempts
    with Image.open(tmp_path / "fit.webp") as w:
        assert w.size == (info["width"], info["height"]) and w.n_frames == info["frames"] and w.info["loop"] == 0
    again = write_video(busy_clip, tmp_path / "again.webp", fps=20, max_bytes=budget)
    assert again == info and (tmp_path / "again.webp").read_bytes() == (tmp_path / "fit.webp").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["again.webp", "fit.webp", "free.webp"]   # no tries left behind
    with pytest.raises(CineGANError, match=r"does not fit in a 0.001 MB WebP.*raise the WebP size limit"):
        write_video(busy_clip, tmp_path / "tiny.webp", fps=20, max_bytes=1000)
    assert not (tmp_path / "tiny.webp").exists()


def test_webp_plays_at_most_50_fps(tmp_path):
    clip = [textured(40, 60, seed=i) for i in range(12)]
    info = write_video(clip, tmp_path / "fast.webp", fps=100)
    with Image.open(tmp_path / "fast.webp") as w:
        w.seek(1)
        w.load()   # Pillow reads a WebP frame's duration when it decodes it
        assert w.n_frames == info["frames"] == 6 and w.info["duration"] == 20 and info["fps"] == 50


def test_each_format_gives_up_what_its_use_misses_least():
    # 30% too large: the GIF gets smaller, the WebP keeps its size and loses quality,
    # the email GIF keeps its width and drops every second frame
    side, step, level = _next_try(GIF_LADDER, 512, 1, 0, 0.7, 40)
    assert side < 512 and (step, level) == (1, 0)
    side, step, level = _next_try(WEBP_LADDER, 1024, 1, 0, 0.7, 40)
    assert side == 1024 and step == 1 and level > 0
    assert _next_try(EMAIL_LADDER, 600, 1, 0, 0.7, 40) == (600, 2, 0)
    # far too large: everything goes (each try walks the ladder once)
    side, step, level = _next_try(WEBP_LADDER, 1024, 1, 0, 0.01, 40)
    assert side < 300 and step == 2 and level == len(WEBP_LADDER.levels) - 1


# --- poster, embed code, A/B page --------------------------------------------------------------------

def test_poster_is_the_untouched_photo_at_the_videos_size(tmp_path):
    photo = textured(75, 101, seed=2)     # odd sides: the video pads them to even
    info = write_poster(photo, tmp_path / "p.jpg")
    with Image.open(tmp_path / "p.jpg") as p:
        assert p.format == "JPEG" and p.size == (102, 76) == (info["width"], info["height"])
        pixels = grey(p.crop((0, 0, 101, 75)))
    assert np.abs(pixels - grey(Image.fromarray(photo))).mean() < 3          # the photo, JPEG-compressed
    other = np.roll(photo, 7, axis=1)
    assert np.abs(pixels - grey(Image.fromarray(other))).mean() > 10        # (the check tells photos apart)


class Tags(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag):
        return [a for t, a in self.tags if t == tag]


def test_snippet_plays_muted_inline_looping_with_a_poster_and_keeps_the_aspect_ratio():
    names = file_names('sea "calm"')
    code = snippet(names, 1024, 768, alt="Clouds over the sea")
    tags = Tags(code)
    (video,) = tags.all("video")
    assert {"autoplay", "muted", "loop", "playsinline"} <= set(video) and video["preload"] == "auto"
    assert video["poster"] == 'sea "calm"-poster.jpg' and (video["width"], video["height"]) == ("1024", "768")
    assert "aspect-ratio:1024/768" in video["style"] and "width:100%" in video["style"]
    assert [(s["src"], s["type"]) for s in tags.all("source")] == [('sea "calm".webm', "video/webm"),
                                                                   ('sea "calm".mp4', "video/mp4")]
    (img,) = tags.all("img")
    assert img["src"] == 'sea "calm".webp' and img["alt"] == "Clouds over the sea"
    assert "aspect-ratio:1024/768" in img["style"]
    no_webp = {k: v for k, v in names.items() if k != "webp"}
    assert Tags(snippet(no_webp, 10, 20)).all("img")[0]["src"] == 'sea "calm".gif'
    only_image = Tags(snippet({"webp": "a.webp"}, 10, 20))
    assert [t for t, _ in only_image.tags] == ["img"]


def test_ab_page_lists_what_is_there_with_relative_links(tmp_path):
    variants = []
    for preset in ("calm", "natural", "lively"):
        names = file_names(f"cinegan-sea-{preset}")
        for kind in ("mp4", "webm", "poster", "snippet"):
            (tmp_path / names[kind]).write_bytes(b"x" * 1234)
        variants.append(variant(f"cinegan-sea-{preset}", tmp_path, names, label=preset, width=64, height=48,
                                frames=40, fps=20.0, settings={"preset": preset, "motion_scale": 0.5},
                                quality={"seam_ratio": 1.01, "frozen_exact": True, "moving_share": 0.4}))
    page = ab_page(variants, "sea: A/B variants")
    tags = Tags(page)
    linked = {a["href"] for a in tags.all("a")} | {a["src"] for a in tags.all("source")} | \
             {a["poster"] for a in tags.all("video")}
    assert linked == {n for n in os.listdir(tmp_path)}                      # every file, nothing missing
    assert len(tags.all("video")) == 3 and not tags.all("img")
    for v in variants:
        assert set(v["files"]) == {"mp4", "webm", "poster", "snippet"}     # no WebP, no GIF: not listed
        assert v["files"]["mp4"]["bytes"] == 1234
    data = page.split('id="cinegan-variants">')[1].split("</script>")[0]
    assert [v["name"] for v in json.loads(data)] == ["cinegan-sea-calm", "cinegan-sea-natural", "cinegan-sea-lively"]
    assert "seam 1.01" in page and "still pixels exact" in page and "1 kB" in page and "calm (motion x0.5)" in page
    assert "WebP" not in page and "Email GIF" not in page                  # no column for what no variant has


# --- settings --------------------------------------------------------------------------------------

def test_webp_and_email_settings():
    s = RenderSettings()
    assert (s.webp_max_mb, s.email_width, s.email_max_mb) == (8.0, 600, 1.0)
    assert s.budget_bytes() is None and s.budget_bytes("webp") == 8_000_000 and s.budget_bytes("email") == 1_000_000
    keys = {f: set(RenderSettings(format=f).key()) for f in ("mp4", "gif", "webp", "email")}
    assert not keys["mp4"] & {"gif_max_mb", "webp_max_mb", "email_width", "email_max_mb"}
    assert "webp_max_mb" in keys["webp"] and "gif_max_mb" not in keys["webp"]
    assert {"email_width", "email_max_mb"} <= keys["email"] and "gif_max_mb" not in keys["email"]
    assert RenderSettings(format="webp", webp_max_mb=2).key() != RenderSettings(format="webp", webp_max_mb=3).key()
    assert RenderSettings.from_dict({"email_width": "480"}).email_width == 480
    for bad, words in ((dict(email_width=600.5), "whole number"), (dict(email_width=20), "at least 100"),
                       (dict(webp_max_mb=0), "webp_max_mb"), (dict(format="avif"), "unknown format")):
        with pytest.raises(CineGANError, match=words):
            RenderSettings(**bad)


# --- the command line ------------------------------------------------------------------------------

def test_cli_writes_webp_and_the_email_gif(tmp_path, photo_files):
    photo, mask = photo_files
    webp = tmp_path / "loop.webp"
    done = run_cli("render", photo, "-o", webp, "--mask", mask, "--frames", "6", "--quiet", "--engine", "pixel",
                   "--webp-max-mb", "0.5")
    assert done.returncode == 0, done.stderr
    with Image.open(webp) as w:
        assert w.format == "WEBP" and w.n_frames == 6 and w.info["loop"] == 0 and w.size == (128, 96)
    assert f"the WebP is 128x96 at 20 fps, quality 75, {os.path.getsize(webp) / 1e6:.2f} MB" in done.stderr
    email = tmp_path / "news.gif"
    done = run_cli("render", photo, "-o", email, "--format", "email", "--email-width", "100", "--mask", mask,
                   "--frames", "6", "--quiet", "--engine", "pixel")
    assert done.returncode == 0, done.stderr
    with Image.open(email) as g:
        assert g.size == (100, 75) and g.n_frames == 6
    assert "the email GIF is 100x75" in done.stderr
    bad = run_cli("render", photo, "-o", tmp_path / "x.mp4", "--format", "email")
    assert bad.returncode == 2 and "--format email writes a .gif file" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.mp4").exists()
