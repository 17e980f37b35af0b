"""Screenshots of the web app for docs/, taken in Debian's Chromium with Playwright.

    python scripts/screenshots.py [--out docs] [--size 1280x800] [--photo examples/mountain-clouds.jpg]

Starts app.py on a free loopback port (its own cache in a temporary folder),
then: 01-start.png (a first visit), 02-mask.png (a photo uploaded, a stroke
painted, the story format chosen with its crop box), 03-result.png (after
Generate, the loop playing), 04-variants.png (the A/B variants). Prints where
Generate and the result lie in the viewport, and the seconds each step took.
"""
from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def start_app(tmp: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, CINEGAN_CACHE=os.path.join(tmp, "cache"), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONPATH=ROOT)
    env.setdefault("CINEGAN_MAX_SIDE", "640")       # quick renders on a CPU; the page looks the same
    env.setdefault("CINEGAN_CHANNEL_SIDE", "960")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "app.py"), "--port", str(port)], cwd=tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("app.py did not start")


def where(page, selector: str) -> str:
    box = page.locator(selector).bounding_box()
    return f"{selector}: top {box['y']:.0f}, bottom {box['y'] + box['height']:.0f}"


def photo_rect(page, canvas_box):
    """The photo's box inside the editor's canvas, in page px."""
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=canvas_box))).convert("RGB"))
    diff = np.abs(shot.astype(int) - shot[2, 2]).sum(-1) > 30
    rows, cols = np.flatnonzero(diff.mean(1) > 0.5), np.flatnonzero(diff.mean(0) > 0.5)
    sx, sy = canvas_box["width"] / shot.shape[1], canvas_box["height"] / shot.shape[0]
    return (canvas_box["x"] + cols[0] * sx, canvas_box["y"] + rows[0] * sy, (cols[-1] - cols[0]) * sx,
            (rows[-1] - rows[0]) * sy)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "docs"))
    p.add_argument("--size", default="1280x800", help="viewport WxH")
    p.add_argument("--photo", default=os.path.join(ROOT, "examples", "mountain-clouds.jpg"))
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    os.makedirs(args.out, exist_ok=True)
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(tmp)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_selector("#examples button.gallery-item", timeout=60_000)
                page.wait_for_timeout(1000)
                page.screenshot(path=os.path.join(args.out, "01-start.png"))

                t0 = time.time()
                page.locator("#photo input[type=file]").set_input_files(args.photo)
                page.wait_for_function("/\\d+%/.test(document.querySelector('#upload-note').innerText)",
                                       timeout=120_000)
                page.wait_for_selector("#mask-editor canvas", timeout=30_000)
                page.wait_for_timeout(1500)
                print(f"upload to note: {time.time() - t0:.1f} s;", where(page, "#generate") + ";",
                      where(page, "#result"), f"(viewport {width}x{height}, scrollY "
                      f"{page.evaluate('window.scrollY')})")
                x, y, w, h = photo_rect(page, page.locator("#mask-editor canvas").last.bounding_box())
                page.locator("#mask-editor [aria-label=Brush]").first.click()
                page.mouse.move(x + 0.3 * w, y + 0.82 * h)
                page.mouse.down()
                for i in range(1, 25):
                    page.mouse.move(x + (0.3 + 0.4 * i / 24) * w, y + 0.82 * h)
                page.mouse.up()
                page.wait_for_function("document.querySelector('#upload-note').innerText.includes('painting')",
                                       timeout=60_000)
                page.locator("#aspect label", has_text="Story 9:16").click()
                page.wait_for_selector("#crop-view img", timeout=30_000)
                page.wait_for_timeout(1500)
                page.screenshot(path=os.path.join(args.out, "02-mask.png"))

                t0 = time.time()
                page.locator("#generate").click()
                page.wait_for_function("document.querySelector('#status').innerText.includes('Ready')",
                                       timeout=600_000)
                page.wait_for_function("document.querySelector('#result video').currentTime > 0.5", timeout=60_000)
                print(f"generate: {time.time() - t0:.1f} s;", page.locator("#status").inner_text().replace("\n", " "))
                page.screenshot(path=os.path.join(args.out, "03-result.png"))

                t0 = time.time()
                page.get_by_text("A/B variants: calm, natural, lively").click()
                page.locator("#variants").click()
                page.wait_for_selector("#bundle a", timeout=900_000)
                print(f"variants: {time.time() - t0:.1f} s")
                page.locator("#gallery").scroll_into_view_if_needed()
                page.wait_for_timeout(1500)
                page.screenshot(path=os.path.join(args.out, "04-variants.png"))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    print("wrote", ", ".join(f"{args.out}/0{i}-{n}.png" for i, n in enumerate(("start", "mask", "result",
                                                                                "variants"), 1)))


if __name__ == "__main__":
    main()
