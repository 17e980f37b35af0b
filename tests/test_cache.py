import errno
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cinegan_core import load_photo, prepare
from cinegan_core.cache import Cache, make_key
from conftest import ROOT, textured


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
    real = pipeline.auto_mask
    monkeypatch.setattr(pipeline, "auto_mask", lambda rgb: calls.append(1) or real(rgb))
    a = prepare(photo, speed=1.0, cache=cache)
    b = prepare(photo, speed=2.0, cache=cache)  # only the speed changed: the mask is not recomputed
    assert len(calls) == 1 and np.array_equal(a.labels, b.labels)
    assert abs(np.abs(b.field).max() - 2 * np.abs(a.field).max()) < 1e-3


# --- keys ---------------------------------------------------------------------------------------

def test_make_key_tells_arrays_apart_that_print_alike():
    a = np.zeros(5000, np.float32)
    b = a.copy()
    b[2500] = 1.0                      # str() of both is "[0. 0. 0. ... 0. 0. 0.]"
    assert str(a) == str(b)
    assert make_key("render", a) != make_key("render", b)
    c = np.zeros((2, 3), np.uint8)
    assert make_key(c) != make_key(c.reshape(3, 2)) != make_key(c.astype(np.int8))
    assert make_key(c) == make_key(c.copy())


@pytest.mark.parametrize("value", [object(), {1, 2}, {1: "int key"}, np.array([object()]), lambda: 0])
def test_make_key_refuses_what_it_cannot_encode_faithfully(value):
    with pytest.raises(TypeError):
        make_key("render", value)


def test_make_key_is_stable_across_runs():
    code = ("import numpy as np; from cinegan_core.cache import make_key; "
            "print(make_key('render', 1, 2.5, None, True, {'b': [1, 2], 'a': 'x'}, np.arange(6).reshape(2, 3)))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, PYTHONPATH=ROOT, PYTHONHASHSEED=str(seed))).stdout.strip()
            for seed in (1, 2)}
    assert len(keys) == 1
    assert keys == {make_key("render", 1, 2.5, None, True, {"a": "x", "b": [1, 2]}, np.arange(6).reshape(2, 3))}
    assert make_key("labels", 1, "abc") == make_key("labels", 1, "abc")  # plain data keeps its old key


def test_mask_digest_includes_the_shape():
    from cinegan_core.cache import mask_digest
    wide, tall = np.ones((2, 8), bool), np.ones((4, 4), bool)
    assert np.array_equal(np.packbits(wide), np.packbits(tall))   # the old packbits hash could not tell them apart
    assert mask_digest(wide) != mask_digest(tall)
    assert mask_digest(wide) == mask_digest(wide.astype(np.uint8))  # a mask is a mask, whatever its dtype


# --- a cache that recovers ----------------------------------------------------------------------

def _write(data):
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)
    return write


def _debris(root):
    return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files if ".tmp-" in n]


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


KILLED_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from cinegan_core.cache import Cache
cache = Cache({cache!r})
def write(tmp):
    with open(tmp, "wb") as fh:
        fh.write(b"partial" * 1000)
        fh.flush()
    print("writing", flush=True)
    time.sleep(600)
cache.get_or_create("render", "dead01", ".mp4", write)
"""


def _killed_writer(tmp_path):
    """A worker killed with SIGKILL in the middle of writing entry 'dead01'."""
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER.format(root=ROOT, cache=str(tmp_path))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_killed_writer_leaves_nothing_served_and_its_debris_is_swept(tmp_path):
    _killed_writer(tmp_path)
    cache = Cache(tmp_path)
    assert cache.get("render", "dead01", ".mp4") is None      # no partial file is served
    debris = _debris(tmp_path)
    assert debris                                             # what the killed worker left behind
    for p in debris + [str(tmp_path / "locks" / "dead01.lock")]:
        _age(p, 3600)
    cache.evict()
    assert _debris(tmp_path) == [] and os.listdir(tmp_path / "locks") == []
    calls = []
    path, hit = cache.get_or_create("render", "dead01", ".mp4", lambda tmp: calls.append(1) or _write(b"ok")(tmp))
    assert (hit, calls, open(path, "rb").read()) == (False, [1], b"ok")  # the lock died with the worker


def test_a_live_writers_temporary_is_counted_and_kept(tmp_path):
    cache = Cache(tmp_path, max_bytes=1500)
    cache.put("render", "old1", ".bin", _write(b"x" * 1000))
    _age(cache.path("render", "old1", ".bin"), 100)
    started, release = threading.Event(), threading.Event()

    def slow(tmp):
        open(tmp, "wb").write(b"y" * 1000)
        for p in _debris(tmp_path):
            _age(p, 3600)            # old, but its writer is alive: not debris
        started.set()
        release.wait(10)

    t = threading.Thread(target=cache.put, args=("render", "live", ".bin", slow))
    t.start()
    started.wait(10)
    try:
        cache.evict()
        assert _debris(tmp_path)                                      # the live temporary stays
        assert not os.path.exists(cache.path("render", "old1", ".bin"))  # it counts: 2000 bytes > 1500
    finally:
        release.set()
        t.join()
    assert open(cache.path("render", "live", ".bin"), "rb").read() == b"y" * 1000


def test_a_full_disk_is_a_clear_error_and_keeps_old_entries(tmp_path):
    from cinegan_core import CineGANError
    cache = Cache(tmp_path)
    old = cache.put("render", "keep", ".bin", _write(b"old entry"))

    def disk_full(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half a video")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)

    with pytest.raises(CineGANError, match="no space left"):
        cache.get_or_create("render", "new", ".bin", disk_full)
    assert cache.get("render", "keep", ".bin") == old and open(old, "rb").read() == b"old entry"
    assert cache.get("render", "new", ".bin") is None and _debris(tmp_path) == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "grow"])
def test_a_corrupted_entry_is_never_served_and_is_made_again(tmp_path, damage):
    cache = Cache(tmp_path)
    calls = []

    def write(tmp):
        calls.append(1)
        open(tmp, "wb").write(bytes(range(256)) * 8)

    path, _ = cache.get_or_create("render", "c0ffee", ".mp4", write)
    data = bytearray(open(path, "rb").read())
    if damage == "flip":
        data[1000] ^= 0xFF
    elif damage == "truncate":
        data = data[:100]
    else:
        data += b"junk"
    with open(path, "r+b" if damage == "flip" else "wb") as fh:
        fh.write(data)
    assert cache.get("render", "c0ffee", ".mp4") is None
    path, hit = cache.get_or_create("render", "c0ffee", ".mp4", write)
    assert (hit, len(calls)) == (False, 2) and open(path, "rb").read() == bytes(range(256)) * 8
    assert cache.get_or_create("render", "c0ffee", ".mp4", write) == (path, True)


def test_lock_files_and_thread_locks_do_not_pile_up(tmp_path):
    cache = Cache(tmp_path)
    for i in range(50):
        cache.get_or_create("render", f"k{i:03d}", ".bin", _write(b"x"))
    assert os.listdir(tmp_path / "locks") == []
    assert Cache.active_locks() == 0


def test_hard_links_in_named_are_counted_once(tmp_path):
    cache = Cache(tmp_path, max_bytes=2500)
    a = cache.put("render", "aa", ".mp4", _write(b"a" * 1000))
    _age(a, 200)
    b = cache.put("render", "bb", ".mp4", _write(b"b" * 1000))
    _age(b, 100)
    named = tmp_path / "named" / "aa" / "cinegan-photo.mp4"
    named.parent.mkdir(parents=True)
    os.link(a, named)                                   # how the app names downloads
    cache.evict()                                       # 2000 bytes on disk, under 2500
    assert os.path.exists(a) and os.path.exists(b) and named.exists()


def test_evicting_a_render_removes_its_named_links(tmp_path):
    cache = Cache(tmp_path, max_bytes=1500)
    a = cache.put("render", "aa", ".mp4", _write(b"a" * 1000))
    _age(a, 200)
    named = tmp_path / "named" / "aa" / "cinegan-photo.mp4"
    named.parent.mkdir(parents=True)
    os.link(a, named)
    cache.put("render", "bb", ".mp4", _write(b"b" * 1000))   # over the budget: the older render goes
    assert not os.path.exists(a) and not named.exists() and not named.parent.exists()
    assert os.path.exists(cache.path("render", "bb", ".mp4"))


def test_a_real_full_disk_while_encoding_into_the_cache(tmp_path):
    from diskfull import run_on_small_disk
    disk = tmp_path / "disk"
    disk.mkdir()
    code = (
        "import os, numpy as np\n"
        "from cinegan_core import CineGANError, write_video\n"
        "from cinegan_core.cache import Cache\n"
        f"cache = Cache({str(disk / 'cache')!r})\n"
        "old = cache.put('render', 'old', '.bin', lambda tmp: open(tmp, 'wb').write(b'o' * 1000))\n"
        "rng = np.random.default_rng(0)\n"
        "clip = [rng.integers(0, 255, (256, 256, 3), np.uint8) for _ in range(40)]\n"
        "try:\n"
        "    cache.get_or_create('render', 'new', '.mp4', lambda tmp: write_video(clip, tmp, fps=20))\n"
        "    print('STORED')\n"
        "except CineGANError as e:\n"
        "    print('ERROR', e)\n"
        "print('OLD', cache.get('render', 'old', '.bin') == old and open(old, 'rb').read() == b'o' * 1000)\n"
        "print('NEW', cache.get('render', 'new', '.mp4'))\n"
        "print('TMP', [n for d, ds, fs in os.walk(cache.root) for n in ds + fs if '.tmp-' in n or '.part' in n])\n")
    res = run_on_small_disk(code, str(disk))
    out = res.stdout
    assert "ERROR no space left on the disk of the cache" in out, out + res.stderr
    assert "OLD True" in out and "NEW None" in out and "TMP []" in out, out
