"""What a marketer posts, in Debian's Chromium (Playwright): the unzipped A/B variants' index.html plays
every variant from file:// with no server, and the embed code pasted into an empty page autoplays muted and
loops. Debian's Chromium may lack H.264: the WebM source must be what plays."""
import importlib
import os
import zipfile

import pytest
from PIL import Image

from conftest import EXAMPLES

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """The page's A/B zip (app.on_variants: calm, natural, lively; 2-second loops), unzipped."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run does it)")
    tmp = tmp_path_factory.mktemp("ab")
    os.environ["CINEGAN_CACHE"] = str(tmp / "cache")
    os.environ["CINEGAN_MAX_SIDE"] = "256"
    os.environ["CINEGAN_CHANNEL_SIDE"] = "256"
    import app
    app = importlib.reload(app)  # its cache and render size from the environment above
    photo = tmp / "sea.jpg"
    img = Image.open(os.path.join(EXAMPLES, "sea-overcast.jpg"))
    img.thumbnail((320, 320))
    img.save(photo, quality=90)
    # sky dir, sky speed, water dir, water speed, seconds, fps, file, renderer, aspect, crop x, crop y, GIF limit
    controls = (0, 1.0, 180, 0.8, 2.0, 10, "mp4", "pixel", "original", 0.5, 0.5, 8.0)
    _, zpath = app.on_variants.__wrapped__(str(photo), None, None, [], *controls, progress=lambda *a, **k: None)
    folder = tmp / "unzipped"
    with zipfile.ZipFile(zpath) as z:
        z.extractall(folder)
    return folder


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        yield page
        browser.close()


LINKS = """() => [...document.querySelectorAll('a[href], source[src], img[src], video[poster]')]
    .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('poster'))"""
TIMES = "() => [...document.querySelectorAll('video')].map(v => v.currentTime)"


def test_ab_page_plays_every_variant_from_the_unzipped_folder(variants, page):
    page.goto((variants / "index.html").as_uri())
    links = page.evaluate(LINKS)
    assert links and all((variants / link).is_file() for link in links), links   # every file it links exists
    names = set(os.listdir(variants))
    assert {n for n in names if n not in ("index.html", "manifest.json")} <= set(links)  # and it links them all
    page.wait_for_function("() => [...document.querySelectorAll('video')].every(v => v.readyState >= 2)",
                           timeout=20_000)
    first = page.evaluate(TIMES)
    page.wait_for_timeout(1500)
    later = page.evaluate(TIMES)
    state = page.evaluate("""() => [...document.querySelectorAll('video')].map(v => ({
        paused: v.paused, muted: v.muted, error: v.error && v.error.code, src: v.currentSrc,
        name: v.dataset.variant}))""")
    assert len(state) == 3
    assert [s["name"] for s in state] == ["cinegan-sea-calm", "cinegan-sea-natural", "cinegan-sea-lively"]
    playing = [s for s, a, b in zip(state, first, later) if not s["paused"] and s["error"] is None and b != a]
    assert len(playing) >= 3, (state, first, later)                                 # each video's time advances
    assert all(s["muted"] and s["src"].endswith(".webm") for s in state)            # VP9 plays without H.264
    text = page.inner_text("body")
    for words in ("calm", "seam", "MB", "kB", "Files for a test tool", "WebP", "GIF", "Poster", "Embed code"):
        assert words in text


def test_pasted_embed_code_autoplays_muted_and_loops(variants, page):
    code = (variants / "cinegan-sea-natural-embed.html").read_text()
    pasted = variants / "pasted.html"
    pasted.write_text(f"<!DOCTYPE html><html><body style='margin:0'>\n{code}</body></html>\n")
    page.set_viewport_size({"width": 800, "height": 800})
    page.goto(pasted.as_uri())
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.2", timeout=20_000)
    video = page.evaluate("""() => { const v = document.querySelector('video'); const r = v.getBoundingClientRect();
        return {muted: v.muted, loop: v.loop, paused: v.paused, autoplay: v.autoplay, src: v.currentSrc,
                duration: v.duration, width: r.width, height: r.height, vw: v.videoWidth, vh: v.videoHeight}; }""")
    assert video["muted"] and video["loop"] and video["autoplay"] and not video["paused"]
    assert video["src"].endswith("cinegan-sea-natural.webm")
    assert abs(video["height"] - 800 * video["vh"] / video["vw"]) <= 1             # the aspect ratio, kept
    # it loops: the time wraps back to the start and playing goes on (never "ended")
    wrapped = page.evaluate("""(duration) => new Promise(done => {
        const v = document.querySelector('video'); let last = v.currentTime; const t0 = performance.now();
        const tick = () => {
            if (v.currentTime < last - 0.5) return done({wrapped: true, ended: v.ended, paused: v.paused});
            last = v.currentTime;
            if (performance.now() - t0 > 4000 * duration + 4000) return done({wrapped: false, ended: v.ended});
            requestAnimationFrame(tick);
        };
        tick();
    })""", video["duration"])
    assert wrapped == {"wrapped": True, "ended": False, "paused": False}
