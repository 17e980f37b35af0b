"""The web app, launched on a loopback port and driven through gradio_client."""
import json
import os
import socket
import threading
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
    os.environ["CINEGAN_CACHE"] = str(cache)
    os.environ["CINEGAN_MAX_SIDE"] = "384"   # small renders keep the suite fast
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


def test_variants_presets_and_manifest(server, photo):
    app, _ = server
    settings = (0, 1.0, 180, 0.8, 1.0, 10, "MP4", "auto")
    items, zpath = app.on_variants.__wrapped__(photo, None, None, [], *settings, progress=lambda *a, **k: None)
    assert [label for _, label in items] == ["A: calm", "B: natural", "C: lively"]
    assert os.path.basename(zpath) == "cinegan-sea-variants.zip"
    with zipfile.ZipFile(zpath) as z:
        manifest = json.loads(z.read("manifest.json"))
        assert sorted(z.namelist()) == ["cinegan-sea-calm.mp4", "cinegan-sea-lively.mp4", "cinegan-sea-natural.mp4",
                                        "manifest.json"]
    assert [m["settings"]["motion_scale"] for m in manifest] == [0.5, 1.0, 1.8]
    assert all(m["quality"]["frozen_exact"] for m in manifest)
    assert app.cache.contains(os.path.realpath(zpath)) or app.cache.contains(zpath)


def test_variants_after_painting_keep_the_strokes_and_arrows(server, photo):
    """Painting, then A/B: three loops (this crashed with AttributeError), each from the painted mask,
    the arrows scaled by the preset rather than dropped."""
    app, _ = server
    value, small, *_rest, base, preview = app.on_photo.__wrapped__(photo)
    h, w = base.shape
    layer = np.zeros((h, w, 4), np.uint8)
    layer[h - 20:, :, :3] = (255, 79, 216)   # paint the bottom strip to move
    layer[h - 20:, :, 3] = 255
    editor = dict(value, layers=[layer])
    arrows = [(10.0, 10.0, 60.0, 10.0)]
    settings = (0, 1.0, 180, 0.8, 1.0, 10, "MP4", "auto")
    items, zpath = app.on_variants.__wrapped__(photo, editor, base, arrows, *settings, progress=lambda *a, **k: None)
    assert len(items) == 3
    with zipfile.ZipFile(zpath) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert all(m["settings"]["arrows"] == [list(arrows[0])] for m in manifest)
    assert manifest[0]["quality"]["moving_share"] > (base.mean() + 0.5 * 20 / h) * 0.9


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
    editor, shown, arrows, pending, _, base, preview = app.on_photo.__wrapped__(photo)
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
