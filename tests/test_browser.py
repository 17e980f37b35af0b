"""The page in Debian's Chromium, driven by Playwright, at a first screen of 1280x800:
upload, paint, generate, play; examples; channel formats."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from cinegan_core import read_video
from conftest import EXAMPLES, ROOT

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run does it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path_factory.mktemp("browser")
    env = dict(os.environ, CINEGAN_CACHE=str(tmp / "cache"), CINEGAN_MAX_SIDE="384", CINEGAN_CHANNEL_SIDE="384",
               GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "app.py")], cwd=tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("app.py exited: " + proc.stdout.read())
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(app_url, wait_until="domcontentloaded")
        page.wait_for_selector("#photo input[type=file]", state="attached", timeout=60_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def mountain(tmp_path_factory):
    photo = tmp_path_factory.mktemp("photos") / "mountain.jpg"
    img = Image.open(os.path.join(EXAMPLES, "mountain-clouds.jpg"))
    img.thumbnail((480, 480))
    img.save(photo, quality=90)
    return photo


def moving_share(page) -> int:
    return int(re.search(r"(\d+)%", page.locator("#upload-note").inner_text()).group(1))


def upload(page, photo) -> int:
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("/\\d+%/.test(document.querySelector('#upload-note').innerText)", timeout=60_000)
    page.wait_for_selector("#mask-editor canvas", timeout=30_000)
    return moving_share(page)


def in_first_screen(page, selector: str, part: float = 1.0, settle: float = 5.0) -> bool:
    """The element's top `part` of its height lies inside the viewport, without scrolling, once the
    layout has settled: checked again every 0.2 s for up to `settle` s (right after an upload the
    editor and the note are still being laid out, and a first check can catch them mid-way)."""
    deadline = time.time() + settle
    while True:
        box = page.locator(selector).bounding_box()
        if page.evaluate("window.scrollY") == 0 and box is not None and box["y"] >= 0 and \
                box["y"] + part * box["height"] <= VIEWPORT["height"]:
            return True
        if time.time() > deadline:
            return False
        page.wait_for_timeout(200)


def photo_rect(page, canvas_box, photo_size):
    """Where the photo is drawn inside the editor's canvas (page px): the box of the canvas
    pixels that differ from its empty background, checked against the photo's aspect."""
    shot = np.asarray(Image.open(__import__("io").BytesIO(page.screenshot(clip=canvas_box))).convert("RGB"))
    diff = np.abs(shot.astype(int) - shot[2, 2]).sum(-1) > 30
    rows, cols = np.flatnonzero(diff.mean(1) > 0.5), np.flatnonzero(diff.mean(0) > 0.5)
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    assert abs((x1 - x0) / (y1 - y0) - photo_size[0] / photo_size[1]) < 0.03
    sx, sy = canvas_box["width"] / shot.shape[1], canvas_box["height"] / shot.shape[0]
    return canvas_box["x"] + x0 * sx, canvas_box["y"] + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy


def fetch_video(page, tmp_path):
    src = page.evaluate("document.querySelector('#result video').src")
    path = tmp_path / "result.mp4"
    with urllib.request.urlopen(src) as r:
        path.write_bytes(r.read())
    return read_video(path)[0]


def test_first_screen_paint_generate_and_the_stroke_moves(page, mountain, tmp_path):
    before = upload(page, mountain)
    assert 10 < before < 60                        # sky found, the meadow is not
    # everything a first visit needs is on the first screen at 1280x800, without scrolling
    assert in_first_screen(page, "#generate") and in_first_screen(page, "#result", part=0.25)
    assert in_first_screen(page, "#mask-editor") and in_first_screen(page, "#upload-note")
    assert page.locator("#editor-help").is_visible() and "What moves" in page.locator("#editor-help").inner_text()
    assert "select the draw tool" not in page.locator("body").inner_text()

    # paint a thick stroke across the (frozen) meadow with the "moves" brush
    canvas = page.locator("#mask-editor canvas").last
    size = Image.open(mountain).size
    px, py, pw, ph = photo_rect(page, canvas.bounding_box(), size)
    page.locator("#mask-editor [aria-label=Brush]").first.click()
    u0, u1, rows = 0.25, 0.7, (0.80,)   # one stroke, in fractions of the photo
    for v in rows:
        page.mouse.move(px + pw * u0, py + ph * v)
        page.mouse.down()
        for i in range(1, 31):
            page.mouse.move(px + pw * (u0 + (u1 - u0) * i / 30), py + ph * v)
        page.mouse.up()
    page.wait_for_function(f"!document.querySelector('#upload-note').innerText.includes('{before}%')",
                           timeout=30_000)
    assert moving_share(page) > before

    page.locator("#generate").click()
    page.wait_for_selector("#result video", timeout=180_000)
    page.wait_for_function("document.querySelector('#result video').currentTime > 0.2", timeout=30_000)
    state = page.evaluate("(() => { const v = document.querySelector('#result video');"
                          " return {paused: v.paused, loop: v.loop, w: v.videoWidth, d: v.duration}; })()")
    assert not state["paused"] and state["loop"] and state["w"] == 384 and state["d"] > 2
    assert in_first_screen(page, "#result", part=0.25)
    status = page.locator("#status").inner_text()
    assert "Ready in" in status and "384x" in status and "MP4" in status
    assert os.path.basename(page.locator("#download a").first.get_attribute("download") or "") == \
        "cinegan-mountain.mp4"

    # the painted stroke moves in the result; the meadow beside it stays still
    frames = fetch_video(page, tmp_path).astype(np.float32)
    h, w = frames.shape[1:3]
    r0, r1 = round(h * 0.77), round(h * 0.83)
    under = frames[:, r0:r1, round(w * 0.32):round(w * 0.63)]
    beside = frames[:, r0:r1, round(w * 0.80):round(w * 0.95)]
    change = lambda a: float(np.abs(a[len(a) // 2] - a[0]).mean())  # noqa: E731
    print(f"mean change, frame 0 -> middle frame: under the stroke {change(under):.2f}, beside it "
          f"{change(beside):.2f} levels")
    assert change(under) > 4.0 and change(beside) < 1.5, (change(under), change(beside))
    page.screenshot(path=str(tmp_path / "result.png"))


def test_the_bold_automatic_mask_redraws_the_mask_and_moves_more(page, tmp_path):
    """After an upload the "Automatic mask" choice is there; Bold redraws the editor's mask with more
    of the overcast sea moving (the note's share goes up); Careful brings the first share back."""
    photo = tmp_path / "sea.jpg"
    img = Image.open(os.path.join(EXAMPLES, "sea-overcast.jpg"))
    img.thumbnail((480, 480))
    img.save(photo, quality=90)
    careful = upload(page, photo)
    reach = page.locator("#mask-reach")
    assert reach.is_visible() and "Automatic mask" in reach.inner_text()
    reach.get_by_label("Bold").check()
    page.wait_for_function(f"!document.querySelector('#upload-note').innerText.includes('{careful}%')",
                           timeout=60_000)
    assert moving_share(page) > careful
    reach.get_by_label("Careful").check()
    page.wait_for_function(f"document.querySelector('#upload-note').innerText.includes('{careful}%')",
                           timeout=60_000)


def test_an_example_fills_the_result_the_download_and_the_status(page):
    page.locator("#examples button.gallery-item").nth(1).click()   # sea-overcast.jpg
    page.wait_for_selector("#result video", timeout=180_000)
    page.wait_for_function("document.querySelector('#status').innerText.includes('Ready')", timeout=60_000)
    assert page.locator("#download a").first.get_attribute("download") == "cinegan-sea-overcast.mp4"
    page.wait_for_function("/\\d+%/.test(document.querySelector('#upload-note').innerText)", timeout=60_000)
    assert page.locator("#mask-editor canvas").count() > 0     # and the photo went into the editor


def test_story_format_shows_the_crop_and_renders_9_16(page, mountain, tmp_path):
    upload(page, mountain)
    page.locator("#aspect label", has_text="Story 9:16").click()
    page.wait_for_selector("#crop-view img", timeout=30_000)
    assert page.locator("#crop-x").is_visible() and not page.locator("#crop-y").is_visible()
    assert in_first_screen(page, "#generate") and in_first_screen(page, "#result", part=0.25)
    page.locator("#generate").click()
    page.wait_for_function("document.querySelector('#status').innerText.includes('Ready')", timeout=180_000)
    frames = fetch_video(page, tmp_path)
    h, w = frames.shape[1:3]
    assert h * 9 == w * 16
    assert f"{w}x{h}" in page.locator("#status").inner_text()
