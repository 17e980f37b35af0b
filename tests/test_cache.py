import os
import threading
import time

import numpy as np

from cinegan_core import load_photo, prepare
from cinegan_core.cache import Cache, make_key
from conftest import textured


def test_get_or_create_makes_once_and_hits(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def write(tmp):
        calls.append(tmp)
        with open(tmp, "w") as fh:
            fh.write("result")

    key = make_key("render", "photo-hash", {"speed": 1})
    p1, hit1 = cache.get_or_create("render", key, ".txt", write)
    p2, hit2 = cache.get_or_create("render", key, ".txt", write)
    assert (hit1, hit2) == (False, True) and p1 == p2 and len(calls) == 1
    assert open(p1).read() == "result" and cache.contains(p1)
    assert make_key("render", "photo-hash", {"speed": 2}) != key


def test_concurrent_requests_for_one_key_do_the_work_once(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def slow(tmp):
        calls.append(1)
        time.sleep(0.3)
        open(tmp, "w").write("x")

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_create("k", "abcd", ".txt", slow)))
               for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(calls) == 1 and len({p for p, _ in results}) == 1 and sum(h for _, h in results) == 3


def test_failed_write_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def broken(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("render failed")

    try:
        cache.get_or_create("render", "ffff", ".mp4", broken)
    except RuntimeError:
        pass
    assert cache.get("render", "ffff", ".mp4") is None
    assert [e for e in cache.entries()] == []


def test_lru_eviction_keeps_the_recently_used(tmp_path):
    cache = Cache(tmp_path, max_bytes=3500)
    for i, key in enumerate(["aa01", "bb02", "cc03"]):
        cache.put("render", key, ".bin", lambda tmp: open(tmp, "wb").write(b"x" * 1000))
        t = time.time() - 100 + i
        os.utime(cache.path("render", key, ".bin"), (t, t))
    assert cache.get("render", "aa01", ".bin")  # touched: now the most recent
    cache.put("render", "dd04", ".bin", lambda tmp: open(tmp, "wb").write(b"x" * 1000))
    have = {k for k in ("aa01", "bb02", "cc03", "dd04") if os.path.exists(cache.path("render", k, ".bin"))}
    assert have == {"aa01", "cc03", "dd04"}


def test_per_photo_labels_are_cached(tmp_path, monkeypatch):
    import cinegan_core.pipeline as pipeline
    cache = Cache(tmp_path)
    photo = load_photo(np.vstack([np.full((40, 96, 3), (110, 160, 235), np.uint8), textured(56, 96)]))
    calls = []
    real = pipeline.auto_labels
    monkeypatch.setattr(pipeline, "auto_labels", lambda rgb: calls.append(1) or real(rgb))
    a = prepare(photo, speed=1.0, cache=cache)
    b = prepare(photo, speed=2.0, cache=cache)  # only the speed changed: the mask is not recomputed
    assert len(calls) == 1 and np.array_equal(a.labels, b.labels)
    assert abs(np.abs(b.field).max() - 2 * np.abs(a.field).max()) < 1e-3
