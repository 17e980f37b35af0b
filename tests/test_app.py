"""The web app, launched on a loopback port and driven through gradio_client."""
import json
import os
import socket
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from cinegan_core import read_video
from conftest import EXAMPLES, textured


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as env:  # this module's app only: the variables go with it
        env.setenv("CINEGAN_CACHE", str(cache))
        env.setenv("CINEGAN_MAX_SIDE", "384")   # small renders keep the suite fast
        env.setenv("CINEGAN_CHANNEL_SIDE", "384")
        import importlib
        import app
        app = importlib.reload(app)  # pick up the environment above
        _, url, _ = app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                                    quiet=True, max_file_size="5mb", allowed_paths=[app.cache.root])
        yield app, url
        app.demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server[1], verbose=False)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    src = Image.open(os.path.join(EXAMPLES, "sea-overcast.jpg"))
    src.thumbnail((400, 400))
    path = tmp_path_factory.mktemp("photos") / "sea.jpg"
    src.save(path, quality=90)
    return str(path)


def test_generate_only_needs_the_photo(client, photo):
    from gradio_client import handle_file
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]
    required = [p["parameter_name"] for p in api["parameters"] if not p["parameter_has_default"]]
    assert required == ["photo"]
    video, info = client.predict(handle_file(photo), seconds=1.5, fps=10, api_name="/generate")
    frames, meta = read_video(video)
    assert len(frames) == 15 and info["frames"] == 15
    assert meta["codec"] == "h264" and frames.shape[1:3] == (256, 384)  # 400x266 scaled to 384x255, padded to even
    assert info["engine"] == "pixel" and info["cached"] is False


def test_repeated_request_is_served_from_the_cache(client, photo):
    from gradio_client import handle_file
    first = client.predict(handle_file(photo), seconds=1.0, fps=12, api_name="/generate")[1]
    again = client.predict(handle_file(photo), seconds=1.0, fps=12, api_name="/generate")[1]
    assert again["cached"] is True and again["key"] == first["key"]
    assert set(again) == set(first) and again["engine"] == first["engine"] == "pixel"
    assert {k: again[k] for k in ("frames", "width", "height", "notes", "output")} == \
        {k: first[k] for k in ("frames", "width", "height", "notes", "output")}
    changed = client.predict(handle_file(photo), seconds=1.0, fps=12, sky_speed=2.0, api_name="/generate")[1]
    assert changed["cached"] is False and changed["key"] != first["key"]


def test_the_bold_mask_reach_on_the_page_and_in_the_api(server, client, photo):
    """The page's "Automatic mask" choice redraws the editor's mask (bold moves more of the overcast
    sea than careful); the API takes it by name, keys it and refuses an unknown one in plain words."""
    from gradio_client import handle_file
    app, _ = server
    shown = {reach: app.on_photo.__wrapped__(photo, "original", 0.5, 0.5, reach) for reach in ("careful", "bold")}
    base = {reach: out[6] for reach, out in shown.items()}
    assert (base["bold"] > 0).mean() > (base["careful"] > 0).mean() + 0.01
    careful = client.predict(handle_file(photo), seconds=1.0, fps=7, api_name="/generate")[1]
    bold = client.predict(handle_file(photo), seconds=1.0, fps=7, mask_reach="bold", api_name="/generate")[1]
    assert bold["key"] != careful["key"] and bold["cached"] is False
    with pytest.raises(Exception, match="unknown mask_reach 'daring'"):
        client.predict(handle_file(photo), mask_reach="daring", api_name="/generate")


def test_formats_arrows_and_mask(client, photo, tmp_path):
    from gradio_client import handle_file
    gif, info = client.predict(handle_file(photo), seconds=1.0, fps=10, format="gif", arrows="50,40,150,40",
                               api_name="/generate")
    with Image.open(gif) as g:
        assert g.format == "GIF" and g.n_frames == 10 and g.info.get("loop") == 0
    w, h = Image.open(photo).size
    mask = np.zeros((h, w), np.uint8)
    mask[: h // 3] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    webm, _ = client.predict(handle_file(photo), mask=handle_file(str(tmp_path / "mask.png")), seconds=1.0, fps=10,
                             format="webm", api_name="/generate")
    frames, meta = read_video(webm)
    assert meta["codec"] == "vp9" and len(frames) == 10


@pytest.mark.parametrize("content,words", [(b"not a picture at all", "not an image"), (b"", "empty")])
def test_broken_upload_is_an_error_not_a_crash(client, photo, tmp_path, content, words):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(content)
    with pytest.raises(AppError, match=words) as err:
        client.predict(handle_file(str(bad)), api_name="/generate")
    assert "Traceback" not in str(err.value) and "holiday.jpg" in str(err.value)
    video, _ = client.predict(handle_file(photo), seconds=1.0, fps=12, api_name="/generate")  # still serving
    assert os.path.exists(video)


def test_bad_settings_are_errors(client, photo):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="four numbers"):
        client.predict(handle_file(photo), arrows="1,2,3", api_name="/generate")
    with pytest.raises(AppError, match="format"):
        client.predict(handle_file(photo), format="avi", api_name="/generate")


def test_two_concurrent_requests_both_succeed(server, photo, tmp_path):
    from gradio_client import Client, handle_file
    other = tmp_path / "other.png"
    Image.fromarray(np.vstack([np.full((60, 160, 3), (120, 170, 240), np.uint8), textured(60, 160)])).save(other)
    results, errors = {}, []

    def call(name, path):
        try:
            results[name] = Client(server[1], verbose=False).predict(handle_file(path), seconds=1.0, fps=10,
                                                                      water_speed=1.7, api_name="/generate")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=call, args=(n, p)) for n, p in (("a", photo), ("b", str(other)))]
    [t.start() for t in threads]
    [t.join(300) for t in threads]
    assert not errors and set(results) == {"a", "b"}
    for video, info in results.values():
        assert len(read_video(video)[0]) == 10


def test_large_uploads_are_refused(client, tmp_path):
    from gradio_client import handle_file
    big = tmp_path / "huge.png"
    Image.fromarray((np.random.default_rng(0).random((1800, 1800, 3)) * 255).astype(np.uint8)).save(big)
    assert os.path.getsize(big) > 5 * 1024 * 1024
    with pytest.raises(Exception, match="(?i)size|large|exceed|413"):
        client.predict(handle_file(str(big)), api_name="/generate")


# the page's controls after the arrows: sky dir, sky speed, water dir, water speed, seconds, fps, file, renderer,
# aspect, crop x, crop y, GIF limit
CONTROLS = (0, 1.0, 180, 0.8, 1.0, 10, "mp4", "auto", "original", 0.5, 0.5, 8.0)


def quiet(*args, **kwargs):
    pass


def gif_frames(path):
    with Image.open(path) as g:
        out = []
        for i in range(g.n_frames):
            g.seek(i)
            out.append(np.asarray(g.convert("RGB")))
    return out


def test_variants_presets_and_manifest(server, photo, tmp_path):
    app, _ = server
    items, zpath = app.on_variants.__wrapped__(photo, None, None, [], *CONTROLS, progress=quiet)
    assert [label.split(",")[0] for _, label in items] == ["A: calm", "B: natural", "C: lively"]
    assert os.path.basename(zpath) == "cinegan-sea-variants.zip"
    with zipfile.ZipFile(zpath) as z:
        manifest = json.loads(z.read("manifest.json"))   # a campaign batch's manifest
        kit = [".mp4", ".webm", ".webp", ".gif", "-poster.jpg", "-embed.html"]   # every variant, as a test tool takes it
        assert sorted(z.namelist()) == sorted([f"cinegan-sea-{p}{k}" for p in ("calm", "natural", "lively") for k in kit]
                                              + ["index.html", "manifest.json"])
        jobs = [m for m in manifest["jobs"] if m["variant"]["format"] == "mp4"]
        assert [m["output"] for m in jobs] == ["cinegan-sea-calm.mp4", "cinegan-sea-natural.mp4",
                                               "cinegan-sea-lively.mp4"]          # stable names to join on
        for m in manifest["jobs"]:   # sizes and durations are those of the files in the zip
            assert m["bytes"] == len(z.read(m["output"]))
        for m in jobs:
            with open(tmp_path / "probe.mp4", "wb") as fh:
                fh.write(z.read(m["output"]))
            frames, meta = read_video(fh.name)
            assert len(frames) == m["frames"] == 10 and m["settings"]["fps"] == 10
            assert m["bytes"] == len(z.read(m["output"])) and (m["width"], m["height"]) == (frames.shape[2], frames.shape[1])
    assert [m["photo"] for m in manifest["jobs"]] == ["sea.jpg"] * 12 and manifest["summary"]["done"] == 12
    assert [m["settings"]["motion_scale"] for m in jobs] == [0.5, 1.0, 1.8]
    assert len({m["key"] for m in manifest["jobs"]}) == 12                      # each format its own cache entry
    for m in manifest["jobs"]:
        q = m["quality"]
        assert q["frozen_exact"] is True and 0.8 < q["seam_ratio"] < 1.25 and 0.3 < q["moving_share"] < 1
    assert app.cache.contains(zpath)
    # the gallery shows animated thumbnails, and they differ (frame 0 of every loop is the photo itself)
    thumbs = [gif_frames(path) for path, _ in items]
    assert all(path.endswith(".gif") for path, _ in items) and all(len(t) >= 5 for t in thumbs)
    assert all(np.abs(t[len(t) // 2].astype(int) - t[0]).mean() > 0.5 for t in thumbs)       # they move
    calm, lively = thumbs[0], thumbs[2]
    assert np.abs(calm[len(calm) // 2].astype(int) - lively[len(lively) // 2]).mean() > 0.5  # and not alike


def test_variants_after_painting_keep_the_strokes_and_arrows(server, photo):
    """Painting, then A/B: three loops (this crashed with AttributeError), each from the painted mask,
    the arrows scaled by the preset rather than dropped."""
    app, _ = server
    editor, _help, _note, small, _arrows, _pending, base, preview, _crop = app.on_photo.__wrapped__(
        photo, "original", 0.5, 0.5)
    value = editor["value"]
    h, w = base.shape
    layer = np.zeros((h, w, 4), np.uint8)
    layer[h - 20:, :, :3] = (255, 79, 216)   # paint the bottom strip to move
    layer[h - 20:, :, 3] = 255
    editor = dict(value, layers=[layer])
    arrows = [(10.0, 10.0, 60.0, 10.0)]
    items, zpath = app.on_variants.__wrapped__(photo, editor, base, arrows, *CONTROLS, progress=quiet)
    assert len(items) == 3 and os.path.basename(zpath) == "cinegan-sea-variants.zip"
    with zipfile.ZipFile(zpath) as z:
        manifest = json.loads(z.read("manifest.json"))["jobs"]
        assert len([n for n in z.namelist() if n.endswith(".mp4")]) == 3
    assert all(m["settings"]["arrows"] == [list(arrows[0])] and m["mask"] == "painted" for m in manifest)
    assert manifest[0]["quality"]["moving_share"] > ((base > 0).mean() + 0.5 * 20 / h) * 0.9


def test_the_same_photo_under_another_name_is_named_after_it(server, client, photo, tmp_path):
    """Two visitors upload the same photo under two names: each download (and each variants zip)
    carries its own visitor's name; the second is served from the cache (the first visitor's
    name was stored with the render and handed to the second)."""
    from gradio_client import handle_file
    app, _ = server
    names = []
    for name in ("holiday-at-home.jpg", "beach.jpg"):
        path = tmp_path / name
        path.write_bytes(open(photo, "rb").read())
        video, info = client.predict(handle_file(str(path)), seconds=1.0, fps=8, api_name="/generate")
        names.append((os.path.basename(video), info["file_name"], info["cached"]))
    assert names == [("cinegan-holiday-at-home.mp4", "cinegan-holiday-at-home.mp4", False),
                     ("cinegan-beach.mp4", "cinegan-beach.mp4", True)]
    controls = list(CONTROLS)
    controls[4:6] = [1.0, 8]  # seconds, fps
    _, zpath = app.on_variants.__wrapped__(str(tmp_path / "beach.jpg"), None, None, [], *controls, progress=quiet)
    with zipfile.ZipFile(zpath) as z:
        assert os.path.basename(zpath) == "cinegan-beach-variants.zip"
        assert all(n.startswith("cinegan-beach-") for n in z.namelist() if n not in ("manifest.json", "index.html"))
        assert not any(b"holiday" in z.read(n) for n in z.namelist())


def test_editor_strokes_change_the_mask(server):
    app, _ = server
    base = np.zeros((40, 60), bool)
    base[:10] = True
    assert app.editor_mask({"background": None, "layers": [], "composite": None}, base) is None
    layer = np.zeros((40, 60, 4), np.uint8)
    layer[20:30, 10:20] = (255, 79, 216, 255)          # the "moves" brush
    layer[0:5, 0:10] = (17, 17, 17, 255)               # the freeze brush over sky
    composite = np.full((40, 60, 4), 255, np.uint8)    # must not be read
    mask = app.editor_mask({"background": None, "layers": [layer], "composite": composite}, base)
    assert mask[20:30, 10:20].all() and not mask[0:5, 0:10].any() and mask[5:10].all()
    assert mask.sum() == base.sum() + 100 - 50


def test_arrows_are_drawn_from_two_clicks_without_reloading_the_photo(server, photo, monkeypatch):
    import gradio as gr
    app, _ = server
    editor, _help, _note, shown, arrows, pending, base, preview, _crop = app.on_photo.__wrapped__(
        photo, "original", 0.5, 0.5)
    assert base.shape == preview["image"].shape[:2] and shown.shape == preview["image"].shape
    monkeypatch.setattr(app, "load", lambda path: pytest.fail("a click must not decode the photo again"))

    def click(x, y):
        return gr.SelectData(None, {"index": [x, y], "value": None, "selected": True})

    img, arrows, pending, text = app.on_click.__wrapped__(preview, arrows, pending, click(10, 20))
    assert pending == (10 * preview["to_photo"], 20 * preview["to_photo"]) and arrows == []
    img, arrows, pending, text = app.on_click.__wrapped__(preview, arrows, pending, click(60, 25))
    assert pending is None and len(arrows) == 1 and "1 arrow" in text
    assert not np.array_equal(img, preview["image"])  # the arrow is drawn
    cleared = app.on_clear(preview)
    assert np.array_equal(cleared[0], preview["image"]) and cleared[1] == []


# --- formats for each channel, through the API ---------------------------------------------------

def test_api_page_names_the_outputs_and_the_new_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]
    assert [r["label"] for r in api["returns"]] == ["video", "info"]
    assert all(r["python_type"]["description"] for r in api["returns"])
    params = {p["parameter_name"]: p for p in api["parameters"]}
    assert {"aspect", "crop_x", "crop_y", "gif_max_mb"} <= set(params)
    assert params["aspect"]["parameter_default"] == "original" and params["gif_max_mb"]["parameter_default"] == 8.0
    assert all(p["label"] == name for name, p in params.items())
    assert "9:16" in params["aspect"]["python_type"]["description"]


def test_story_format_returns_a_9_16_video(client, photo):
    from gradio_client import handle_file
    video, info = client.predict(handle_file(photo), seconds=1.0, fps=10, aspect="9:16", crop_x=0.0,
                                 api_name="/generate")
    frames, meta = read_video(video)
    h, w = frames.shape[1:3]
    assert h * 9 == w * 16 and (w, h) == (info["width"], info["height"]) == (144, 256)  # the photo is 400x266
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert info["settings"]["aspect"] == "9:16" and any("not enlarged" in n for n in info["warnings"])
    # crop_x=0 keeps the left of the photo: frame 0 (the photo itself) matches the photo's left strip
    src = np.asarray(Image.open(photo).convert("RGB").resize((round(400 * 256 / 266), 256), Image.LANCZOS))
    assert np.abs(frames[0][:, :140].astype(int) - src[:, :140]).mean() < 6
    right = client.predict(handle_file(photo), seconds=1.0, fps=10, aspect="story", crop_x=1.0,
                           api_name="/generate")[1]
    assert right["key"] != info["key"] and right["settings"]["crop_x"] == 1.0


def test_gif_within_its_budget_with_its_real_size_reported(server, client, photo):
    from gradio_client import handle_file
    app, _ = server
    gif, info = client.predict(handle_file(photo), seconds=2.0, fps=20, format="gif", gif_max_mb=0.4,
                               api_name="/generate")
    size = os.path.getsize(gif)
    out = info["output"]
    assert size <= 400_000 and out["bytes"] == size
    with Image.open(gif) as g:
        assert (out["width"], out["height"]) == g.size and out["frames"] == g.n_frames and g.info["loop"] == 0
    status = app.status_line(info)
    assert f"{g.size[0]}x{g.size[1]}" in status and f"{size / 1e6:.1f} MB" in status and "limit 0.4 MB" in status
    again = client.predict(handle_file(photo), seconds=2.0, fps=20, format="gif", gif_max_mb=0.4,
                           api_name="/generate")[1]
    assert again["cached"] is True and set(again) == set(info) and again["output"] == out
    assert app.status_line(again).startswith("**Ready (made earlier")
    with pytest.raises(Exception, match="gif_max_mb"):
        client.predict(handle_file(photo), format="gif", gif_max_mb=0, api_name="/generate")


def test_webp_and_email_with_the_embed_code_and_the_poster(server, client, photo):
    """format="webp" and "email" through the API; info holds the embed code and where the poster is."""
    import urllib.request
    from gradio_client import handle_file
    app, url = server
    webp, info = client.predict(handle_file(photo), seconds=1.0, fps=10, format="webp", webp_max_mb=0.3,
                                api_name="/generate")
    with Image.open(webp) as w:
        assert w.format == "WEBP" and w.info["loop"] == 0 and w.n_frames == info["output"]["frames"] == 10
        assert w.size == (info["width"], info["height"]) and os.path.getsize(webp) == info["output"]["bytes"] <= 300_000
    assert os.path.basename(webp) == info["file_name"] == "cinegan-sea.webp"
    snippet = info["snippet"]
    for words in ("autoplay muted loop playsinline", 'poster="cinegan-sea-poster.jpg"', 'src="cinegan-sea.webm"',
                  'src="cinegan-sea.mp4"', 'src="cinegan-sea.webp"', "aspect-ratio:384/256"):
        assert words in snippet
    poster = info["poster"]
    assert poster["file_name"] == "cinegan-sea-poster.jpg" and (poster["width"], poster["height"]) == (384, 256)
    with urllib.request.urlopen(url.rstrip("/") + poster["url"]) as r:
        data = r.read()
    assert len(data) == poster["bytes"] and data[:2] == b"\xff\xd8"                 # the JPEG, served
    assert "quality" in app.status_line(info) and "WebP" in app.status_line(info)
    email, info = client.predict(handle_file(photo), seconds=1.0, fps=10, format="email", email_width=200,
                                 email_max_mb=0.5, api_name="/generate")
    with Image.open(email) as g:
        assert g.format == "GIF" and g.size[0] == 200 and os.path.getsize(email) <= 500_000
    assert os.path.basename(email) == "cinegan-sea-email.gif" and "Email GIF" in app.status_line(info)
    # the page: the embed code and the poster come with the loop
    controls = CONTROLS[:6] + ("webp",) + CONTROLS[7:]
    _, download, _, code, poster_path = app.on_generate.__wrapped__(photo, None, None, [], *controls, progress=quiet)
    assert download.endswith("cinegan-sea.webp") and code == snippet
    assert os.path.basename(poster_path) == "cinegan-sea-poster.jpg"


def test_bad_aspect_is_an_error(client, photo):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="unknown aspect"):
        client.predict(handle_file(photo), aspect="3:2", api_name="/generate")


# --- the page: plain words, warnings, examples ---------------------------------------------------

def visible_texts(demo):
    """Every string of the page a visitor can read: labels, infos, markdown, placeholders, choices."""
    out = []
    for comp in demo.config["components"]:
        props = comp.get("props", {})
        if comp.get("type") == "api":
            continue
        for key in ("label", "info", "placeholder"):
            if isinstance(props.get(key), str):
                out.append(props[key])
        if comp.get("type") in ("markdown", "button") and isinstance(props.get("value"), str):
            out.append(props["value"])
        out += [c[0] for c in props.get("choices") or [] if isinstance(c, (list, tuple))]
    return out


def test_the_page_speaks_plain_words(server):
    app, _ = server
    texts = " ".join(visible_texts(app.demo))
    assert "Generate" in texts and "Story 9:16" in texts
    for word in ("checkpoint", "--", "weights/", ".pt", "pixel engine", "px per frame", "MSDFW", "select the draw"):
        assert word not in texts, word
    engine = next(c for c in app.demo.config["components"] if c.get("props", {}).get("elem_id") == "engine")
    assert engine["props"]["visible"] is False        # no stylegan weights here: no renderer choice


def test_upload_note_warns_when_little_or_nothing_is_found(server, tmp_path):
    app, _ = server
    labels = np.zeros((100, 100), np.uint8)
    assert "Nothing found" in app.upload_note(labels) and "paint what should move" in app.upload_note(labels).lower()
    labels[:3] = 1                                          # 3% sky
    assert "Only a little" in app.upload_note(labels) and "3%" in app.upload_note(labels)
    labels[:40] = 1
    labels[80:] = 2
    plain = app.upload_note(labels)
    assert "60%" in plain and "sky 40%" in plain and "water 20%" in plain and "⚠" not in plain
    assert "Note: the horizon is unsure" in app.upload_note(labels, ["the horizon is unsure"])
    # a photo with nothing to move: the warning comes right after the upload, before Generate
    # (a real forest photo of the training split: noise images are no scenes for the learned parser)
    forest = os.path.join(os.path.dirname(__file__), "..", "data", "scenes", "debian", "forest-path.jpg")
    _, _, note, *_rest, base, _preview, _crop = app.on_photo.__wrapped__(str(forest), "original", 0.5, 0.5)
    assert "Nothing found" in note and not base.any()
    from gradio.exceptions import Error
    with pytest.raises(Error, match="paint what should move"):
        app.on_generate(str(forest), None, base, [], *CONTROLS, progress=quiet)


def test_an_example_fills_the_video_the_download_and_the_status(server):
    app, _ = server
    video, download, status = app.example_render.__wrapped__(app.EXAMPLES[1])
    assert os.path.basename(download) == "cinegan-sea-overcast.mp4" and os.path.exists(video)
    assert status.startswith("**Ready") and "MP4" in status


def test_crop_view_and_sliders_follow_the_format(server, photo):
    app, _ = server
    *_rest, preview, crop = app.on_photo.__wrapped__(photo, "9:16", 0.0, 0.5)
    row, view, x, y = app.on_format(preview, "9:16", 0.0, 0.5)
    assert row["visible"] and x["visible"] and not y["visible"]    # a landscape photo: the box moves across
    h, w = view.shape[:2]
    box_w = round(w * (266 * 9 / 16) / 400)
    assert view[h // 2, box_w // 2].mean() > 1.5 * view[h // 2, w - 5].mean()  # outside the box is dimmed
    assert np.array_equal(crop, view)
    assert not app.on_format(preview, "original", 0.5, 0.5)[0]["visible"]


# --- serving: busy queue, networks loaded once ---------------------------------------------------

def test_a_full_queue_answers_try_again(server, photo, monkeypatch):
    """With one render running and one waiting (max_size=1), a third request is told the queue
    is full, and the others still finish."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError
    app, _ = server
    started, release = threading.Event(), threading.Event()
    real = app.render_files

    def slow(*args, **kwargs):
        started.set()
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(app, "render_files", slow)
    demo = app.build(queue_size=1)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                            allowed_paths=[app.cache.root])
    try:
        client = Client(url, verbose=False)
        first = client.submit(handle_file(photo), seconds=1.0, fps=10, api_name="/generate")
        assert started.wait(60)
        second = client.submit(handle_file(photo), seconds=1.0, fps=10, api_name="/generate")
        deadline = time.time() + 30
        while second.status().code.name != "IN_QUEUE" and time.time() < deadline:
            time.sleep(0.1)
        third = client.submit(handle_file(photo), seconds=1.0, fps=10, api_name="/generate")
        with pytest.raises((AppError, Exception), match="(?i)queue is full.*try again"):
            third.result(timeout=30)
        release.set()
        assert first.result(timeout=120)[1]["frames"] == 10 and second.result(timeout=120)[1]["cached"] is True
    finally:
        release.set()
        demo.close()


def test_networks_are_loaded_once_at_import_when_the_weights_are_present(tmp_path):
    """On a machine with the stylegan weights (here: tiny stand-ins in the real layout and
    file names), importing the app loads the networks once, outside the render function; the
    page offers the renderer choice, and a render uses the networks loaded then."""
    import subprocess
    import sys
    from conftest import ROOT
    code = (
        "import os, sys, numpy as np\n"
        "from PIL import Image\n"
        "sys.path.insert(0, os.path.join(os.environ['ROOT'], 'tests'))\n"
        "import standins\n"
        "import cinegan_core.weights as w\n"
        "standins.write_tiny(os.environ['CINEGAN_WEIGHTS'])\n"
        "real, loads = w.load_networks, []\n"
        "def tiny_load(weights=None, **kw):\n"
        "    loads.append(weights)\n"
        "    return real(weights, generator_kwargs=standins.TINY_GENERATOR, encoder_kwargs=standins.TINY_ENCODER,\n"
        "                classifier_dim=standins.TINY_CLASSIFIER_DIM, flow_kwargs=standins.TINY_FLOW)\n"
        "w.load_networks = tiny_load\n"
        "import cinegan_core.predictors.backbone as bb\n"
        "class TinyBackbone(bb.Backbone):  # the tiny networks' geometry (the real one is derived from 1024 px)\n"
        "    def __init__(self, nets, device='cpu', inject_resolution=None, keep=4):\n"
        "        super().__init__(nets, device, inject_resolution or standins.TINY_INJECT, keep)\n"
        "bb.Backbone = TinyBackbone\n"
        "import app\n"
        "engine = [c for c in app.demo.config['components'] if c.get('props', {}).get('elem_id') == 'engine'][0]\n"
        "print('LOADED', len(loads), app.DEVICE, app.STYLEGAN, engine['props']['visible'])\n"
        "Image.open(os.path.join(os.environ['ROOT'], 'examples', 'sea-overcast.jpg')).resize((96, 64)).save('sea.png')\n"
        "settings = app.page_settings({'seconds': 1, 'fps': 4}).to_dict()\n"
        "_, _, info, _ = app.render_files(os.path.abspath('sea.png'), None, settings)\n"
        "print('RENDERED', info['engine'], info['frames'], len(loads))\n")
    env = dict(os.environ, PYTHONPATH=ROOT, ROOT=ROOT, CINEGAN_CACHE=str(tmp_path / "cache"),
               CINEGAN_WEIGHTS=str(tmp_path / "weights"), CINEGAN_MAX_SIDE="96")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [ln.split() for ln in done.stdout.splitlines() if ln.startswith(("LOADED", "RENDERED"))]
    assert lines == [["LOADED", "1", "cpu", "True", "True"], ["RENDERED", "stylegan", "4", "1"]], done.stdout


def test_the_api_and_the_page_start_from_the_settings_table(server, client):
    """The endpoint's arguments, their defaults and descriptions, and the page's controls all
    come from one table (``settings.FIELDS``)."""
    from cinegan_core.settings import API_FIELDS
    app, _ = server
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]
    params = {p["parameter_name"]: p for p in api["parameters"]}
    assert list(params) == ["photo", "mask"] + [f.name for f in API_FIELDS]
    for f in API_FIELDS:
        assert params[f.name]["parameter_default"] == f.start and f.help == params[f.name]["python_type"]["description"]
    shown = {c["props"].get("label"): c["props"] for c in app.demo.config["components"] if "props" in c}
    for f in API_FIELDS:
        if f.control:  # a number that starts automatic is an empty box
            assert shown[f.label].get("value") == (None if f.start == "auto" and f.control == "number" else f.start), f.name


def test_the_painted_choice_and_automatic_directions_reach_the_service(server, monkeypatch, tmp_path):
    """A stream painted with the brush, the page's controls as they start (directions and
    speeds empty: automatic) and "Painted area moves as: water": the service gets the choice,
    the stream flows downhill (down to the right), and the status says what the area became."""
    from cinegan_core.settings import FIELD
    app, _ = server
    h, w = 150, 200
    img = textured(h, w, seed=4)
    y, x = np.mgrid[0:h, 0:w]
    stream = (np.abs((y - 12) - 0.6 * x) < 12) & (x > 20) & (x < 170) & (y > 8)
    path = tmp_path / "stream.png"
    Image.fromarray(img).save(path)
    layer = np.zeros((h, w, 4), np.uint8)
    layer[stream] = (255, 79, 216, 255)                       # the pink brush
    editor = {"background": img, "layers": [layer], "composite": None}
    shown = {n: (None if FIELD[n].start == "auto" and FIELD[n].control == "number" else FIELD[n].start)
             for n in app.CONTROLS}
    shown.update(seconds=1, fps=8, painted="water")
    got = {}
    real = app.render_files

    def spy(*args, **kwargs):
        got["out"] = real(*args, **kwargs)
        return got["out"]
    monkeypatch.setattr(app, "render_files", spy)
    _, _, status, _, _ = app.on_generate.__wrapped__(str(path), editor, np.zeros((h, w), np.uint8), [],
                                                     *[shown[n] for n in app.CONTROLS],
                                                     progress=lambda *a, **k: None)
    info = got["out"][2]
    assert info["settings"]["painted"] == "water" and info["settings"]["water"]["direction"] is None
    assert [(p["as"], p["auto"]) for p in info["painted"]] == [("water", False)]
    water = [m for m in info["motion"] if m["region"] == "flowing water"][0]
    assert water["auto"] and water["style"] == "flow" and 5 < water["direction"] < 85, water
    assert "moves as **water**" in status


def test_the_status_says_what_each_painted_area_became(server):
    """A painted area the automatic mask found is said to move as found; a classified one as what it
    was recognised as; each line says where to change it."""
    app = server[0]
    lines = app.painted_lines({"painted": [
        {"region": 1, "as": "clouds", "class": "sky", "auto": True, "share": 0.14, "by": "automatic mask"},
        {"region": 2, "as": "falling water", "class": "falling_water", "auto": True, "share": 0.05, "by": "parser"}]})
    assert lines[0].startswith("Painted area 1 (14% of the photo) moves as the automatic mask found it (mostly "
                               "**clouds**")
    assert "moves as **falling water** (recognised from the photo" in lines[1]
    assert all("change it under" in line for line in lines)
