"""The service: cached renders (complete keys, nothing of one request stored for the next,
nothing lost to eviction), hand-outs under each caller's name, A/B variants."""
import json
import os
import threading
import zipfile

import numpy as np
from PIL import Image

from cinegan_core import RenderSettings, load_photo, read_video
from cinegan_core.cache import Cache
from cinegan_core.service import render_cached, render_formats, variants
from conftest import sky_mask, textured


def sky_photo(h=64, w=64, seed=0):
    """A photo whose top half is a textured sky (the mask given moves it)."""
    return np.vstack([np.clip(textured(h // 2, w, seed).astype(int) // 2 + np.array([90, 130, 180]), 0, 255)
                      .astype(np.uint8), textured(h - h // 2, w, seed + 1)])


SMALL = RenderSettings(frames=6, fps=6, engine="pixel", max_side=None)


def test_render_cached_is_the_same_on_a_hit(tmp_path):
    cache = Cache(str(tmp_path / "cache"))
    img = sky_photo()
    s = SMALL.replace(format="gif")
    first = render_cached(img, s, cache=cache, mask=sky_mask(64, 64), name="My Photo.JPG", device="cpu")
    again = render_cached(img, s, cache=cache, mask=sky_mask(64, 64), name="My Photo.JPG", device="cpu")
    assert first.info["cached"] is False and again.info["cached"] is True
    assert set(first.info) == set(again.info)
    assert {k: v for k, v in again.info.items() if k not in ("cached", "seconds")} == \
        {k: v for k, v in first.info.items() if k not in ("cached", "seconds")}
    assert first.video.endswith(".gif") and first.preview.endswith(".mp4")
    assert os.path.samefile(again.video, first.video)  # the same stored loop, handed out twice
    assert os.path.basename(first.video) == first.info["file_name"] == "cinegan-My-Photo.gif"
    assert first.info["quality"]["frozen_exact"] is True
    assert len(read_video(again.preview)[0]) == 6


def test_the_same_photo_uploaded_under_two_names_downloads_under_each(tmp_path):
    """A user's file name is never stored with the render: the second visitor's upload of
    the same photo downloads under the second visitor's name, and nothing in the cache's
    entries names the first (the cache used to store the first name and serve it to both)."""
    cache = Cache(str(tmp_path / "cache"))
    img = sky_photo()
    first = render_cached(img, SMALL, cache=cache, mask=sky_mask(64, 64), name="holiday-at-home.png")
    second = render_cached(img, SMALL, cache=cache, mask=sky_mask(64, 64), name="beach.png")
    assert second.info["cached"] is True and second.info["key"] == first.info["key"]
    assert second.info["file_name"] == "cinegan-beach.mp4" == os.path.basename(second.video)
    assert os.path.basename(first.video) == "cinegan-holiday-at-home.mp4" and os.path.exists(first.video)
    assert "holiday" not in json.dumps(second.info)
    stored = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "cache" / "render") for f in fs]
    assert stored and not any(b"holiday" in open(p, "rb").read() for p in stored)


def test_a_photo_and_its_half_size_export_with_the_same_arrows_give_two_loops(tmp_path):
    """The same pixels at render size from a 256 px photo and from its 128 px export: arrows
    in each photo's own px are 2x longer in the export's render, so the loops differ and each
    must be its own (the key held the pixels only, so the second was served the first's loop)."""
    cache = Cache(str(tmp_path / "cache"))
    big = sky_photo(192, 256)
    small = np.asarray(Image.fromarray(big).resize((128, 96), Image.LANCZOS))
    s = SMALL.replace(max_side=128, arrows=["40,20,120,20"])
    assert load_photo(big, max_side=128).sha256 == load_photo(small, max_side=128).sha256  # the trap
    mask = sky_mask(96, 128)  # a mask covers the whole photo at any resolution: the same for both
    a = render_cached(big, s, cache=cache, mask=mask)
    b = render_cached(small, s, cache=cache, mask=mask)
    assert b.info["cached"] is False and a.info["key"] != b.info["key"]
    fa, fb = read_video(a.video)[0].astype(int), read_video(b.video)[0].astype(int)
    assert np.abs(fa - fb).mean() > 2
    for src, got in ((big, fa), (small, fb)):
        fresh = render_cached(src, s, cache=Cache(str(tmp_path / f"fresh{src.shape[0]}")), mask=mask)
        assert fresh.info["cached"] is False
        assert np.abs(read_video(fresh.video)[0].astype(int) - got).mean() < 0.5  # each is its own photo's loop


def test_sixteen_concurrent_calls_with_evictions_in_between_all_get_their_loop(tmp_path):
    """16 requests at once (4 photos x 4) in a cache too small to keep anything: every store
    evicts every entry nobody holds. Each request still gets its own complete loop."""
    cache = Cache(str(tmp_path / "cache"), max_bytes=1)
    photos = [sky_photo(48, 64, seed) for seed in range(4)]
    barrier, results, errors = threading.Barrier(16), {}, []

    def call(i):
        barrier.wait()
        try:
            results[i] = render_cached(photos[i % 4], SMALL.replace(frames=4), cache=cache,
                                       mask=sky_mask(48, 64), name=f"p{i}.png")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join(300) for t in threads]
    assert errors == [] and len(results) == 16
    for i, r in results.items():
        frames, _ = read_video(r.video)
        assert len(frames) == 4 and os.path.basename(r.video) == f"cinegan-p{i}.mp4"
    keys = {r.info["key"] for r in results.values()}
    assert len(keys) == 4
    assert sum(not r.info["cached"] for r in results.values()) >= 4


def test_a_render_fits_a_cache_smaller_than_itself(tmp_path):
    """The parts of one render (GIF, its MP4 preview, its description) are one entry, stored
    and evicted together: with a budget smaller than the render the older entries go but this
    render is still served."""
    cache = Cache(str(tmp_path / "cache"), max_bytes=1)
    img = sky_photo()
    for frames in (6, 8):
        out = render_cached(img, SMALL.replace(frames=frames, format="gif"), cache=cache, mask=sky_mask(64, 64))
        assert out.info["cached"] is False and os.path.exists(out.video) and os.path.exists(out.preview)


def test_the_formats_of_one_loop_are_one_render_each_stored_as_render_cached_finds_it(tmp_path, monkeypatch):
    """A loop wanted in several formats (the A/B kit, a batch row's formats): those missing
    are encoded from one render, each stored as its own entry under the key render_cached
    uses (the MP4 the app made earlier is found, and each format is found again alone);
    every entry holds the poster, and the embed code names this caller's files."""
    from cinegan_core import pipeline
    cache = Cache(str(tmp_path / "cache"))
    img, mask = sky_photo(), sky_mask(64, 64)
    made = render_cached(img, SMALL, cache=cache, mask=mask, name="sea.png")
    calls, real = [], pipeline.render
    monkeypatch.setattr(pipeline, "render", lambda photo, outputs, *a, **k: calls.append(outputs) or
                        real(photo, outputs, *a, **k))
    kit = render_formats(img, SMALL, ("mp4", "webm", "webp", "gif", "email"), cache=cache, mask=mask, name="sea.png")
    assert len(calls) == 1 and [f for _, f in calls[0]] == ["webm", "webp", "gif", "email", "mp4"]  # + a preview
    assert kit["mp4"].info["cached"] and kit["mp4"].info["key"] == made.info["key"]
    assert not any(kit[f].info["cached"] for f in ("webm", "webp", "gif", "email"))
    for f, r in kit.items():
        alone = render_cached(img, SMALL.replace(format=f), cache=cache, mask=mask, name="beach.png")
        assert alone.info["cached"] and alone.info["key"] == r.info["key"] and alone.info["format"] == f
        assert os.path.basename(alone.poster) == "cinegan-beach-poster.jpg"
        assert 'poster="cinegan-beach-poster.jpg"' in alone.info["snippet"] and "sea" not in alone.info["snippet"]
    assert len(calls) == 1
    assert [os.path.basename(kit[f].video) for f in kit] == ["cinegan-sea.mp4", "cinegan-sea.webm", "cinegan-sea.webp",
                                                             "cinegan-sea.gif", "cinegan-sea-email.gif"]
    assert kit["webm"].preview == kit["webm"].video                    # a browser plays it; the others get an MP4
    assert all(kit[f].preview.endswith(".mp4") and len(read_video(kit[f].preview)[0]) == 6 for f in kit if f != "webm")
    with Image.open(kit["webp"].video) as w:
        assert w.format == "WEBP" and w.n_frames == 6 and w.info["loop"] == 0
    with Image.open(kit["email"].poster) as p:   # the untouched photo at the video's size
        grey = np.asarray(Image.fromarray(img).convert("L"), float)
        assert p.size == (64, 64) and np.abs(np.asarray(p.convert("L"), float) - grey).mean() < 3
    for words in ('src="cinegan-sea.webm"', 'src="cinegan-sea.mp4"', 'src="cinegan-sea.webp"',
                  'poster="cinegan-sea-poster.jpg"', "aspect-ratio:64/64"):
        assert words in kit["gif"].info["snippet"]
    assert kit["gif"].info["poster"] == dict(kit["mp4"].info["poster"], file_name="cinegan-sea-poster.jpg")


def test_variants_are_a_batch_named_after_each_caller(tmp_path):
    """A/B variants: the presets rendered as a small batch (the batch's manifest format),
    zipped and named after the caller's upload; the same photo under another name gets its
    own names, from the same cached renders."""
    cache = Cache(str(tmp_path / "cache"))
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name in ("holiday.png", "beach.png"):
        Image.fromarray(sky_photo()).save(folder / name)
    s = SMALL.replace(frames=4)
    first = variants(str(folder / "holiday.png"), s, cache=cache, mask=sky_mask(64, 64))
    second = variants(str(folder / "beach.png"), s, cache=cache, mask=sky_mask(64, 64))
    with zipfile.ZipFile(second.zip) as z:
        names = sorted(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        page = z.read("index.html").decode()
    assert os.path.basename(second.zip) == "cinegan-beach-variants.zip"
    presets, kit = ("calm", "natural", "lively"), (".mp4", ".webm", ".webp", ".gif", "-poster.jpg", "-embed.html")
    assert names == sorted([f"cinegan-beach-{p}{k}" for p in presets for k in kit] + ["index.html", "manifest.json"])
    assert set(manifest) >= {"jobs_file", "started", "finished", "summary", "jobs", "delivery"}  # a batch's manifest
    assert [j["variant"] for j in manifest["jobs"]] == [{"preset": p, "format": f} for p in presets
                                                        for f in ("mp4", "webm", "webp", "gif")]
    assert all(j["status"] == "done" and j["cached"] and j["photo"] == "beach.png" for j in manifest["jobs"])
    assert [j["key"] for j in manifest["jobs"]] == [j["key"] for j in first.manifest["jobs"]]
    assert "holiday" not in json.dumps(manifest) + page and str(tmp_path) not in json.dumps(manifest) + page
    assert [label.split(",")[0] for _, label in second.items] == ["A: calm", "B: natural", "C: lively"]
    assert all(p.endswith(".gif") and os.path.exists(p) for p, _ in second.items)
