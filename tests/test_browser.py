"""The page in Debian's Chromium, driven by Playwright: upload, paint, generate, play."""
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from PIL import Image

from conftest import EXAMPLES, ROOT

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run does it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path_factory.mktemp("browser")
    env = dict(os.environ, CINEGAN_CACHE=str(tmp / "cache"), CINEGAN_MAX_SIDE="384",
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
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app_url, wait_until="domcontentloaded")
        page.wait_for_selector("#photo input[type=file]", state="attached", timeout=60_000)
        yield page
        browser.close()


def coverage(page) -> int:
    return int(re.search(r"(\d+)%", page.locator("#coverage").inner_text()).group(1))


def test_upload_paint_generate_play(page, tmp_path):
    photo = tmp_path / "mountain.jpg"
    img = Image.open(os.path.join(EXAMPLES, "mountain-clouds.jpg"))
    img.thumbnail((480, 480))
    img.save(photo, quality=90)
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("/\\d+%/.test(document.querySelector('#coverage').innerText)", timeout=60_000)
    before = coverage(page)
    assert 10 < before < 60  # sky found, the meadow is not

    # paint a thick stroke across the (frozen) meadow with the "moves" brush
    canvas = page.locator("#mask-editor canvas").last
    box = canvas.bounding_box()
    page.locator("#mask-editor [aria-label=Brush]").first.click()
    y = box["y"] + box["height"] * 0.8
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    for i in range(1, 31):
        page.mouse.move(box["x"] + box["width"] * (0.25 + i * 0.015), y)
    page.mouse.up()
    page.wait_for_function(f"!document.querySelector('#coverage').innerText.includes('{before}%')", timeout=30_000)
    assert coverage(page) > before

    page.locator("#generate").click()
    page.wait_for_selector("#result video", timeout=180_000)
    page.wait_for_function("document.querySelector('#result video').currentTime > 0.2", timeout=30_000)
    state = page.evaluate("(() => { const v = document.querySelector('#result video');"
                          " return {paused: v.paused, loop: v.loop, w: v.videoWidth, d: v.duration}; })()")
    assert not state["paused"] and state["loop"] and state["w"] == 384 and state["d"] > 2
    assert "pixel engine" in page.locator("#status").inner_text()
    page.screenshot(path=str(tmp_path / "result.png"))
