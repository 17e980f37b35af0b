"""Disk cache of results, keyed by content hash + settings.

Layout::

    ROOT/<kind>/<key[:2]>/<key><ext>        an entry (``kind``: ``labels`` per photo,
    ROOT/<kind>/<key[:2]>/<key><ext>.sum    ``render`` finished loops, ...) and its
                                            size + sha256 (JSON)
    ROOT/<kind>/<key[:2]>/.tmp-XXXX/        a writer's private folder while it works
    ROOT/named/<key>/<name>                 hard links to entries under friendly names
    ROOT/locks/<key>.lock                   exists only while a key is being made

What it guarantees:

* Never a partial file: a writer works in its own ``.tmp-*`` folder and renames
  the finished file into place (the ``.sum`` first, then the entry).
* Never a corrupted file: a hit is served only when its size and sha256 match
  its ``.sum``; otherwise the entry is removed and made again. Hashing is cheap
  next to serving (the entries are a few MB: about 2 ms per MB here), and it
  catches every kind of damage, not only truncation.
* A killed writer: its lock dies with it (flock); its ``.tmp-*`` folder is found
  by the next eviction (nobody holds its flock any more) and removed once older
  than TMP_GRACE. Until then it is counted in the size, like live ones.
* A full disk: a clear CineGANError; the partial file is removed and the old
  entries are untouched.
* Concurrent requests for one key do the work once (a per-key lock across
  threads and processes); the locks exist only while in use, so neither lock
  files nor thread locks pile up.
* The total size stays under ``max_bytes``: least recently used entries go
  first (a hit touches its file). Hard links count once, and evicting an entry
  removes its links in ``named/``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from typing import Callable, Iterable, Iterator

import numpy as np

from .errors import CineGANError

try:
    import fcntl
except ImportError:  # not on POSIX: locks are per process only, temporaries are swept by age
    fcntl = None

DEFAULT_MAX_BYTES = 2 * 1024 ** 3  # 2 GiB
TMP_GRACE = 60.0                   # s; a writer's folder nobody holds is debris once this old
TMP_MAX_AGE = 6 * 3600.0           # s; temporaries without a lock to ask (other platforms, old versions)
SUM = ".sum"                       # sidecar of an entry: {"size": bytes, "sha256": hex}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def default_root() -> str:
    """$CINEGAN_CACHE, else ~/.cache/cinegan."""
    return os.environ.get("CINEGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cinegan")


# --- keys ---------------------------------------------------------------------------------------

def array_digest(a: np.ndarray) -> str:
    """sha256 (hex) of an array's dtype, shape and bytes (C order). TypeError for
    object arrays, whose bytes are pointers."""
    a = np.asarray(a)
    if a.dtype.hasobject:
        raise TypeError("cannot hash an array of Python objects")
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def mask_digest(mask: np.ndarray) -> str:
    """sha256 of a mask (H, W) as booleans (True = moves) with its shape: masks of
    the same pixels but another shape, or another dtype of the same values, are
    told apart / alike respectively."""
    return array_digest(np.asarray(mask).astype(bool, copy=False))


def _canonical(obj):
    """obj as plain JSON data, each type tagged where it could be confused."""
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.ndarray):
        return {"\0ndarray": array_digest(obj)}
    if isinstance(obj, np.generic):
        if obj.dtype.hasobject:
            raise TypeError("make_key cannot encode a NumPy object scalar")
        return _canonical(obj.item())
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"\0bytes": hashlib.sha256(bytes(obj)).hexdigest()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(x) for x in obj]
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str) or k.startswith("\0"):
                raise TypeError(f"make_key needs str dict keys, got {k!r}")
        return {k: _canonical(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return {"\0dataclass": type(obj).__qualname__, "fields": _canonical(fields)}
    raise TypeError(f"make_key cannot encode a {type(obj).__name__}: pass plain data (str, numbers, None, "
                    "lists, dicts with str keys, dataclasses) or NumPy arrays")


def make_key(*parts) -> str:
    """sha256 (hex) of parts, stable across runs and machines.

    parts: str, int, float, bool, None, lists/tuples, dicts with str keys (order
    does not matter), dataclasses, bytes and NumPy arrays (encoded by dtype,
    shape and a sha256 of their bytes). Anything else is a programming error:
    TypeError (a stringified object could collide with another)."""
    blob = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


# --- locks --------------------------------------------------------------------------------------

class _KeyLocks:
    """Thread locks per name that exist only while someone uses them."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # name -> [lock, users]

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[name]

    def __len__(self) -> int:
        return len(self._locks)


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """Exclusive flock on path, which is removed when released. A waiter that
    wakes on a file removed meanwhile (or replaced) opens the current one again,
    so two holders can never be told apart by path only."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
        except BaseException:
            os.close(fd)
            raise
        if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding it: a waiter then sees it is stale
        os.close(fd)


def _try_hold(path: str) -> int | None:
    """An fd holding the flock of a writer's folder or a lock file, or None when
    someone else holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def _sha256_file(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _tree_bytes(folder: str) -> int:
    total = 0
    for d, _, files in os.walk(folder):
        for n in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(d, n)).st_size
    return total


@dataclasses.dataclass
class _Group:
    """One stored file: all its hard links in the cache and their sidecars."""
    last_use: float
    size: int
    paths: list


class Cache:
    """A bounded, process-safe file cache.

    root:      folder (created on demand).
    max_bytes: size above which least recently used entries are removed.
    """

    _locks = _KeyLocks()

    def __init__(self, root: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = os.path.abspath(root or default_root())
        self.max_bytes = max_bytes
        os.makedirs(os.path.join(self.root, "locks"), exist_ok=True)

    @classmethod
    def active_locks(cls) -> int:
        """How many per-key thread locks exist now (in use or waited for)."""
        return len(cls._locks)

    def path(self, kind: str, key: str, ext: str) -> str:
        """Where the entry (kind, key, ext) lives. kind and key: letters, digits, _ . -"""
        for what, value in (("kind", kind), ("key", key)):
            if not _NAME.match(value) or ".tmp-" in value:  # ".tmp-" marks writers' temporaries
                raise ValueError(f"cache {what} {value!r} must be letters, digits, '_', '.' or '-'")
        return os.path.join(self.root, kind, key[:2], key + ext)

    def contains(self, path: str) -> bool:
        """True if path lies inside this cache's folder."""
        return os.path.commonpath([self.root, os.path.abspath(path)]) == self.root

    # --- reading --------------------------------------------------------------------------------

    def get(self, kind: str, key: str, ext: str) -> str | None:
        """Path of a cached file (marked as just used), or None. A file whose size
        or sha256 does not match its record is removed, never returned."""
        p = self.path(kind, key, ext)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            return None
        if not self._intact(p, st):
            self._discard(p, st)
            return None
        with contextlib.suppress(FileNotFoundError):
            os.utime(p)
        return p

    def _intact(self, p: str, st: os.stat_result) -> bool:
        try:
            with open(p + SUM, encoding="utf-8") as fh:
                record = json.load(fh)
            return record["size"] == st.st_size and record["sha256"] == _sha256_file(p)
        except (OSError, ValueError, KeyError, TypeError):
            return False  # no record (a writer of an older version, or damage): not trusted

    def _discard(self, p: str, st: os.stat_result) -> None:
        """Remove entry p and its record, unless it was replaced since st."""
        try:
            now = os.stat(p)
        except FileNotFoundError:
            return
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            for q in (p, p + SUM):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(q)

    # --- writing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive lock on a key, across threads and processes."""
        self.path("locks", key, "")  # validates the key
        lock_file = os.path.join(self.root, "locks", key + ".lock")
        with self._locks.hold(lock_file):
            if fcntl is None:
                yield
                return
            with _file_lock(lock_file):
                yield

    def put(self, kind: str, key: str, ext: str, write: Callable[[str], None], evict: bool = True) -> str:
        """Create the entry by calling write(tmp_path), then rename it into place.

        write gets a path ending in ext inside a private folder (it may create
        other files beside it). CineGANError if the disk is full (nothing
        partial is left, other entries are untouched). evict=False leaves the
        size limit to the caller (the parts of one entry, then one ``evict``
        that keeps them all)."""
        p = self.path(kind, key, ext)
        folder = os.path.dirname(p)
        work = fd = None
        try:
            os.makedirs(folder, exist_ok=True)
            work = tempfile.mkdtemp(prefix=".tmp-", dir=folder)
            if fcntl is not None:
                fd = os.open(work, os.O_RDONLY)
                fcntl.flock(fd, fcntl.LOCK_EX)  # "a writer is alive here", released by the kernel if it dies
            tmp = os.path.join(work, key + ext)
            write(tmp)
            record = {"size": os.path.getsize(tmp), "sha256": _sha256_file(tmp)}
            with open(tmp + SUM, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp + SUM, p + SUM)  # the record first: an entry never shows without one
            os.replace(tmp, p)
        except BaseException as e:
            if _disk_full(e) or _disk_full(e.__context__):
                raise CineGANError(f"no space left on the disk of the cache {self.root}: free some space, "
                                   "or set CINEGAN_CACHE to a folder on a larger disk or lower "
                                   "CINEGAN_CACHE_GB") from None
            raise
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            if fd is not None:
                os.close(fd)
        if evict:
            self.evict(keep=p)
        return p

    def get_or_create(self, kind: str, key: str, ext: str, write: Callable[[str], None]) -> tuple[str, bool]:
        """(path, hit): the cached file, made once by write(tmp_path) if missing."""
        hit = self.get(kind, key, ext)
        if hit:
            return hit, True
        with self.lock(key):
            hit = self.get(kind, key, ext)  # made by someone else while we waited
            if hit:
                return hit, True
            return self.put(kind, key, ext, write), False

    def link(self, kind: str, key: str, ext: str, name: str) -> str:
        """A hard link to the entry (kind, key, ext) under a friendly file name, in
        ``named/<key>/<name>`` (for downloads). It is counted once and goes away
        with the entry. Returns the link's path, or the entry's own path where
        links cannot be made."""
        path = self.path(kind, key, ext)
        if not name or name.startswith(".") or "/" in name or os.sep in name or "\0" in name:
            raise ValueError(f"{name!r} is not a plain file name")
        target = os.path.join(self.root, "named", key, name)
        try:
            if os.path.samefile(path, target):
                return target
        except OSError:
            pass
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = os.path.join(os.path.dirname(target), f".tmp-{os.getpid()}-{threading.get_ident()}")
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            os.link(path, tmp)
            os.replace(tmp, target)  # a stale link to an earlier entry is replaced
        except OSError:
            return path
        return target

    # --- size -----------------------------------------------------------------------------------

    def _scan(self) -> tuple[list[_Group], list[tuple[str, bool | str]], int]:
        """(entries grouped by inode, [(temporary, True for a folder | False | "lock")],
        bytes of temporaries)."""
        groups: dict[tuple[int, int], _Group] = {}
        temps, temp_bytes = [], 0
        locks = os.path.join(self.root, "locks")
        with contextlib.suppress(OSError):
            temps += [(os.path.join(locks, n), "lock") for n in os.listdir(locks)]
        for folder, dirs, files in os.walk(self.root):
            if folder == self.root and "locks" in dirs:
                dirs.remove("locks")
            for d in [d for d in dirs if ".tmp-" in d]:
                dirs.remove(d)
                temps.append((os.path.join(folder, d), True))
                temp_bytes += _tree_bytes(os.path.join(folder, d))
            for name in files:
                p = os.path.join(folder, name)
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue
                if ".tmp-" in name:
                    temps.append((p, False))
                    temp_bytes += st.st_size
                    continue
                if name.endswith(SUM):
                    if not os.path.lexists(p[: -len(SUM)]) and time.time() - st.st_mtime > TMP_GRACE:
                        temps.append((p, False))  # the record of an entry that is gone
                    continue
                g = groups.setdefault((st.st_dev, st.st_ino), _Group(st.st_mtime, st.st_size, []))
                g.paths.append(p)
                if os.path.exists(p + SUM):
                    with contextlib.suppress(OSError):
                        g.size += os.path.getsize(p + SUM)
        return list(groups.values()), temps, temp_bytes

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, bytes, path) of every cached file, hard links counted once
        (path: one of its names, the entry's own where it still has one)."""
        out = []
        for g in self._scan()[0]:
            paths = sorted(g.paths, key=lambda q: (os.path.basename(os.path.dirname(os.path.dirname(q))) == "named", q))
            out.append((g.last_use, g.size, paths[0]))
        return out

    def _sweep(self, temps: list[tuple[str, bool | str]]) -> int:
        freed, now = 0, time.time()
        for p, is_folder in temps:
            try:
                age = now - os.lstat(p).st_mtime
            except FileNotFoundError:
                continue
            if is_folder == "lock":  # left by a killed process; removed under its own flock
                if fcntl is not None and age > TMP_GRACE and (fd := _try_hold(p)) is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(p)
                    os.close(fd)
                continue
            if not is_folder or fcntl is None:
                if age > (TMP_MAX_AGE if not p.endswith(SUM) else TMP_GRACE):
                    with contextlib.suppress(OSError):
                        size = os.lstat(p).st_size
                        shutil.rmtree(p) if is_folder else os.remove(p)
                        freed += size
                continue
            if age <= TMP_GRACE:
                continue  # just made; its writer may not hold it yet
            fd = _try_hold(p)
            if fd is None:
                continue  # a writer is alive in there
            try:
                size = _tree_bytes(p)
                shutil.rmtree(p, ignore_errors=True)
                freed += size
            finally:
                os.close(fd)
        return freed

    def evict(self, keep: str | Iterable[str] | None = None) -> int:
        """Sweep dead temporaries, then remove least recently used entries (with
        their named links) until the total fits; returns bytes freed. Live
        temporaries count in the total but are never removed, nor are the
        entries holding the paths in keep."""
        keep = {keep} if isinstance(keep, str) else set(keep or ())
        groups, temps, temp_bytes = self._scan()
        freed = self._sweep(temps)
        total = sum(g.size for g in groups) + temp_bytes - freed
        for g in sorted(groups, key=lambda g: g.last_use):
            if total <= self.max_bytes:
                break
            if keep.intersection(g.paths):
                continue
            for p in g.paths:
                for q in (p, p + SUM):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(q)
                if os.path.basename(os.path.dirname(os.path.dirname(p))) == "named":
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.dirname(p))  # named/<key>/ once empty
            total -= g.size
            freed += g.size
        return freed
