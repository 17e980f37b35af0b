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
from cinegan_core.cache import DIGESTS, Cache, make_key
from conftest import ROOT, textured


def _write(data, name="x.bin"):
    """write(folder) for Cache.put: one file of these bytes."""
    def write(folder):
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
    return write


def _read(entry, name="x.bin"):
    with open(entry.path(name), "rb") as fh:
        return fh.read()


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _age_entry(cache, kind, key, seconds):
    _age(os.path.join(cache.path(kind, key), DIGESTS), seconds)


def test_get_or_create_makes_once_and_hits(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def write(folder):
        calls.append(folder)
        _write(b"result", "a.txt")(folder)
        _write(b"more", "b.txt")(folder)

    key = make_key("render", "photo-hash", {"speed": 1})
    (e1, hit1), (e2, hit2) = cache.get_or_create("render", key, write), cache.get_or_create("render", key, write)
    assert (hit1, hit2) == (False, True) and e1.folder == e2.folder and len(calls) == 1
    assert e1.names == ["a.txt", "b.txt"] and _read(e2, "a.txt") == b"result" and cache.contains(e1.path("b.txt"))
    assert make_key("render", "photo-hash", {"speed": 2}) != key
    with pytest.raises(KeyError):
        e1.path("c.txt")


def test_concurrent_requests_for_one_key_do_the_work_once(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def slow(folder):
        calls.append(1)
        time.sleep(0.3)
        _write(b"x")(folder)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_create("k", "abcd", slow)))
               for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(calls) == 1 and len({e.folder for e, _ in results}) == 1 and sum(h for _, h in results) == 3


def test_failed_write_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def broken(folder):
        _write(b"half")(folder)
        raise RuntimeError("render failed")

    with pytest.raises(RuntimeError):
        cache.get_or_create("render", "ffff", broken)
    assert cache.get("render", "ffff") is None and cache.entries() == [] and _debris(tmp_path) == []


def test_lru_eviction_keeps_the_recently_used_and_evicts_whole_entries(tmp_path):
    cache = Cache(tmp_path, max_bytes=4000)  # three entries of 1000 bytes and their digests, not four
    for i, key in enumerate(["aa01", "bb02", "cc03"]):
        def write(folder):
            _write(b"x" * 600, "video.mp4")(folder)
            _write(b"y" * 400, "info.json")(folder)
        cache.put("render", key, write).close()
        _age_entry(cache, "render", key, 100 - i)
    cache.get("render", "aa01").close()  # a hit: now the most recent
    cache.put("render", "dd04", _write(b"x" * 1000)).close()
    have = {k for k in ("aa01", "bb02", "cc03", "dd04") if cache.get("render", k)}
    assert have == {"aa01", "cc03", "dd04"}
    assert not os.path.exists(cache.path("render", "bb02"))  # the whole folder went, not a part of it


def test_a_held_entry_is_never_evicted(tmp_path):
    """While a caller holds an entry (between finding it and handing it out) no eviction,
    from this process or another, removes it, however small the cache."""
    cache = Cache(tmp_path, max_bytes=1)
    held = cache.put("render", "aa01", _write(b"a" * 1000))
    other = subprocess.run([sys.executable, "-c", EVICT_FROM_ELSEWHERE.format(root=ROOT, cache=str(tmp_path))],
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert _read(held) == b"a" * 1000 and cache.get("render", "bb02") is None  # the other, unheld, went
    held.close()
    cache.evict()
    assert cache.get("render", "aa01") is None


EVICT_FROM_ELSEWHERE = """
import sys
sys.path.insert(0, {root!r})
from cinegan_core.cache import Cache
cache = Cache({cache!r}, max_bytes=1)
cache.put("render", "bb02", lambda folder: open(folder + "/x.bin", "wb").write(b"b" * 1000)).close()
cache.evict()
"""


def test_a_reader_between_the_writers_steps_sees_the_old_entry_or_the_new_one(tmp_path, monkeypatch):
    """A writer replacing an entry (here: a damaged one) while readers look at every step of
    its work: each reader finds the old entry whole, nothing, or the new entry whole, and
    the writer's entry is served afterwards. (The cache used to rename an entry's checksum
    and its file in two steps: a reader in between discarded both, and the writer's own
    lookup then failed with "files vanished".)"""
    import cinegan_core.cache as cache_mod
    cache = Cache(tmp_path)
    cache.put("render", "aa01", _write(b"old" * 100)).close()
    seen = []

    def look():
        found = cache.get("render", "aa01")
        seen.append(None if found is None else _read(found))
        if found is not None:
            found.close()

    writer = threading.current_thread()

    def reader_in_between(name):
        real = getattr(os, name)

        def step(*args, **kwargs):
            if threading.current_thread() is writer:
                t = threading.Thread(target=look)  # another thread, as another request would be
                t.start()
                t.join(30)
            return real(*args, **kwargs)
        monkeypatch.setattr(cache_mod.os, name, step)

    for name in ("rename", "replace", "remove", "open", "utime"):
        reader_in_between(name)
    new = cache.put("render", "aa01", _write(b"new" * 100))
    monkeypatch.undo()
    assert _read(new) == b"new" * 100 and new.folder == cache.path("render", "aa01")
    assert len(seen) >= 3 and set(seen) <= {b"old" * 100, b"new" * 100, None}, seen
    again = cache.get("render", "aa01")
    assert again is not None and _read(again) == b"new" * 100
    assert _debris(tmp_path) == []


def test_the_environment_sizes_the_cache(tmp_path, monkeypatch):
    from cinegan_core import CineGANError
    monkeypatch.setenv("CINEGAN_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("CINEGAN_CACHE_GB", "0.5")
    cache = Cache.from_env()
    assert cache.root == str(tmp_path / "c") and cache.max_bytes == 512 * 1024 ** 2
    for bad in ("lots", "0", "-1", "nan"):
        monkeypatch.setenv("CINEGAN_CACHE_GB", bad)
        with pytest.raises(CineGANError, match="CINEGAN_CACHE_GB"):
            Cache.from_env()


def test_per_photo_labels_are_cached(tmp_path, monkeypatch):
    import cinegan_core.pipeline as pipeline
    cache = Cache(tmp_path)
    photo = load_photo(np.vstack([np.full((40, 96, 3), (110, 160, 235), np.uint8), textured(56, 96)]))
    calls = []
    real = pipeline.auto_mask
    monkeypatch.setattr(pipeline, "auto_mask", lambda rgb, **kw: calls.append(1) or real(rgb, **kw))
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
    # plain data keeps the key it had before arrays could be keyed (json.dumps of the parts)
    assert make_key("labels", 1, "abc") == "7c283aaebfcc1d628bfd4c0a4fda2c2c08eba918a01d01d5086066547c1d3361"


def test_mask_digest_includes_the_shape():
    from cinegan_core.cache import mask_digest
    wide, tall = np.ones((2, 8), bool), np.ones((4, 4), bool)
    assert np.array_equal(np.packbits(wide), np.packbits(tall))   # the old packbits hash could not tell them apart
    assert mask_digest(wide) != mask_digest(tall)
    assert mask_digest(wide) == mask_digest(wide.astype(np.uint8))  # a mask is a mask, whatever its dtype


# --- a cache that recovers ----------------------------------------------------------------------

def _debris(root):
    return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files if ".tmp-" in n]


KILLED_WRITER = """
import os, sys, time
sys.path.insert(0, {root!r})
from cinegan_core.cache import Cache
cache = Cache({cache!r})
def write(folder):
    with open(os.path.join(folder, "loop.mp4"), "wb") as fh:
        fh.write(b"partial" * 1000)
        fh.flush()
    print("writing", flush=True)
    time.sleep(600)
cache.get_or_create("render", "dead01", write)
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
    assert cache.get("render", "dead01") is None              # no partial entry is served
    debris = _debris(tmp_path)
    assert debris                                             # what the killed worker left behind
    for p in debris + [str(tmp_path / "locks" / "dead01.lock")]:
        _age(p, 3600)
    cache.evict()
    assert _debris(tmp_path) == [] and os.listdir(tmp_path / "locks") == []
    calls = []
    entry, hit = cache.get_or_create("render", "dead01", lambda f: calls.append(1) or _write(b"ok")(f))
    assert (hit, calls, _read(entry)) == (False, [1], b"ok")  # the lock died with the worker


def test_a_live_writers_temporary_is_counted_and_kept(tmp_path):
    cache = Cache(tmp_path, max_bytes=1500)
    cache.put("render", "old1", _write(b"x" * 1000)).close()
    _age_entry(cache, "render", "old1", 100)
    started, release = threading.Event(), threading.Event()

    def slow(folder):
        _write(b"y" * 1000)(folder)
        for p in _debris(tmp_path):
            _age(p, 3600)            # old, but its writer is alive: not debris
        started.set()
        release.wait(10)

    t = threading.Thread(target=lambda: cache.put("render", "live", slow).close())
    t.start()
    started.wait(10)
    try:
        cache.evict()
        assert _debris(tmp_path)                              # the live temporary stays
        assert not os.path.exists(cache.path("render", "old1"))  # it counts: 2000 bytes > 1500
    finally:
        release.set()
        t.join()
    assert _read(cache.get("render", "live")) == b"y" * 1000


def test_a_full_disk_is_a_clear_error_and_keeps_old_entries(tmp_path):
    from cinegan_core import CineGANError
    cache = Cache(tmp_path)
    cache.put("render", "keep", _write(b"old entry")).close()

    def disk_full(folder):
        with open(os.path.join(folder, "x.bin"), "wb") as fh:
            fh.write(b"half a video")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), folder)

    with pytest.raises(CineGANError, match="no space left"):
        cache.get_or_create("render", "new", disk_full)
    assert _read(cache.get("render", "keep")) == b"old entry"
    assert cache.get("render", "new") is None and _debris(tmp_path) == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "grow", "delete", "digests"])
def test_a_corrupted_entry_is_never_served_and_is_made_again(tmp_path, damage):
    cache = Cache(tmp_path)
    calls = []

    def write(folder):
        calls.append(1)
        _write(bytes(range(256)) * 8, "loop.mp4")(folder)
        _write(b"{}", "info.json")(folder)

    entry, _ = cache.get_or_create("render", "c0ffee", write)
    entry.close()
    path = entry.path("loop.mp4")
    data = bytearray(open(path, "rb").read())
    if damage == "flip":
        data[1000] ^= 0xFF
    elif damage == "truncate":
        data = data[:100]
    else:
        data += b"junk"
    if damage == "delete":
        os.remove(path)
    elif damage == "digests":
        with open(os.path.join(entry.folder, DIGESTS), "w") as fh:
            fh.write("{broken")
    else:
        with open(path, "r+b" if damage == "flip" else "wb") as fh:
            fh.write(data)
    assert cache.get("render", "c0ffee") is None
    again, hit = cache.get_or_create("render", "c0ffee", write)
    assert (hit, len(calls)) == (False, 2) and _read(again, "loop.mp4") == bytes(range(256)) * 8
    assert cache.get_or_create("render", "c0ffee", write)[1] is True


def test_lock_files_and_thread_locks_do_not_pile_up(tmp_path):
    cache = Cache(tmp_path)
    for i in range(50):
        cache.get_or_create("render", f"k{i:03d}", _write(b"x"))[0].close()
    assert os.listdir(tmp_path / "locks") == []
    assert Cache.active_locks() == 0


def test_hand_outs_are_counted_once_and_outlive_their_entry_for_a_while(tmp_path):
    """A file handed out under a caller's name is a hard link: counted once with its entry;
    when the entry is evicted the hand-out stays (its caller is still serving it) until it is
    OUT_GRACE old."""
    from cinegan_core.cache import OUT_GRACE
    cache = Cache(tmp_path, max_bytes=2500)
    with cache.put("render", "aa", _write(b"a" * 1000, "loop.mp4")) as a:
        named = cache.hand_out(a, {"loop.mp4": "cinegan-holiday.mp4"})["cinegan-holiday.mp4"]
    _age_entry(cache, "render", "aa", 200)
    cache.put("render", "bb", _write(b"b" * 1000)).close()
    cache.evict()                                                  # 2000 bytes on disk, under 2500
    assert os.path.exists(cache.path("render", "aa")) and os.path.basename(named) == "cinegan-holiday.mp4"
    on_disk = {(st.st_ino, st.st_size) for d, _, fs in os.walk(tmp_path) for st in [os.stat(os.path.join(d, f))
                                                                                    for f in fs]}
    cache.max_bytes = sum(size for _, size in on_disk) - 10        # what "aa" alone frees is enough
    cache.evict()                                                  # over: the older entry goes...
    assert not os.path.exists(cache.path("render", "aa")) and cache.get("render", "bb")
    assert open(named, "rb").read() == b"a" * 1000                 # ...but not what its caller was given
    _age(os.path.dirname(named), OUT_GRACE + 1)
    cache.evict()
    assert not os.path.exists(named) and not os.path.exists(os.path.dirname(named))


def test_files_of_an_older_layout_are_swept(tmp_path):
    cache = Cache(tmp_path)
    old = tmp_path / "render" / "ab" / "ab12.mp4"                  # version 1: a file per part, .sum beside
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x" * 100)
    (tmp_path / "render" / "ab" / "ab12.mp4.sum").write_text("{}")
    named = tmp_path / "named" / "ab12" / "cinegan-x.mp4"
    named.parent.mkdir(parents=True)
    os.link(old, named)
    for p in (old, named, tmp_path / "render" / "ab" / "ab12.mp4.sum"):
        _age(p, 3600)
    cache.evict()
    assert not old.exists() and not named.exists()


def test_a_real_full_disk_while_encoding_into_the_cache(tmp_path):
    from diskfull import run_on_small_disk
    disk = tmp_path / "disk"
    disk.mkdir()
    code = (
        "import os, numpy as np\n"
        "from cinegan_core import CineGANError, write_video\n"
        "from cinegan_core.cache import Cache\n"
        f"cache = Cache({str(disk / 'cache')!r})\n"
        "cache.put('render', 'old', lambda f: open(os.path.join(f, 'x.bin'), 'wb').write(b'o' * 1000)).close()\n"
        "rng = np.random.default_rng(0)\n"
        "clip = [rng.integers(0, 255, (256, 256, 3), np.uint8) for _ in range(40)]\n"
        "try:\n"
        "    cache.get_or_create('render', 'new', lambda f: write_video(clip, os.path.join(f, 'loop.mp4'), fps=20))\n"
        "    print('STORED')\n"
        "except CineGANError as e:\n"
        "    print('ERROR', e)\n"
        "old = cache.get('render', 'old')\n"
        "print('OLD', old is not None and open(old.path('x.bin'), 'rb').read() == b'o' * 1000)\n"
        "print('NEW', cache.get('render', 'new'))\n"
        "print('TMP', [n for d, ds, fs in os.walk(cache.root) for n in ds + fs if '.tmp-' in n or '.part' in n])\n")
    res = run_on_small_disk(code, str(disk))
    out = res.stdout
    assert "ERROR no space left on the disk of the cache" in out, out + res.stderr
    assert "OLD True" in out and "NEW None" in out and "TMP []" in out, out
