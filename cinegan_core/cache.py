"""Disk cache of results, keyed by content hash + settings.

Layout: ``ROOT/<kind>/<key[:2]>/<key><ext>``; ``kind`` separates per-photo work
(``labels``: the automatic mask) from finished renders (``render``). Writes are
atomic (temporary file + rename), concurrent requests for the same key are
serialised by a lock file so the work is done once, and the total size is kept
under ``max_bytes`` by evicting the least recently used files (a hit touches
its file).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not on POSIX: locks are per process only
    fcntl = None

DEFAULT_MAX_BYTES = 2 * 1024 ** 3  # 2 GiB


def default_root() -> str:
    """$CINEGAN_CACHE, else ~/.cache/cinegan."""
    return os.environ.get("CINEGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cinegan")


def make_key(*parts) -> str:
    """sha256 over a JSON encoding of parts (dicts sorted): stable across runs."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    """A bounded, process-safe file cache.

    root:      folder (created on demand).
    max_bytes: size above which least recently used files are removed.
    """

    _thread_locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, root: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = os.path.abspath(root or default_root())
        self.max_bytes = max_bytes
        os.makedirs(os.path.join(self.root, "locks"), exist_ok=True)

    def path(self, kind: str, key: str, ext: str) -> str:
        return os.path.join(self.root, kind, key[:2], key + ext)

    def contains(self, path: str) -> bool:
        """True if path lies inside this cache's folder."""
        return os.path.commonpath([self.root, os.path.abspath(path)]) == self.root

    def get(self, kind: str, key: str, ext: str) -> str | None:
        """Path of a cached file (marked as just used), or None."""
        p = self.path(kind, key, ext)
        try:
            os.utime(p)
        except FileNotFoundError:
            return None
        return p

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive lock on a key, across threads and processes."""
        with self._guard:
            tlock = self._thread_locks.setdefault(key, threading.Lock())
        with tlock:
            if fcntl is None:
                yield
                return
            with open(os.path.join(self.root, "locks", key + ".lock"), "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def put(self, kind: str, key: str, ext: str, write: Callable[[str], None]) -> str:
        """Create the entry by calling write(tmp_path), then rename it into place."""
        p = self.path(kind, key, ext)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=ext, dir=os.path.dirname(p))
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
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

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, bytes, path) of every cached file."""
        out = []
        for folder, _, files in os.walk(self.root):
            if os.path.basename(folder) == "locks":
                continue
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                p = os.path.join(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(p)
                    out.append((st.st_mtime, st.st_size, p))
        return out

    def evict(self, keep: str | None = None) -> int:
        """Remove least recently used files until the total fits; returns bytes freed."""
        entries = sorted(self.entries())
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, p in entries:
            if total - freed <= self.max_bytes:
                break
            if p == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.remove(p)
                freed += size
        return freed
