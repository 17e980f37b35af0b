"""Disk cache: one folder per entry, keyed by everything its content depends on.

Layout::

    ROOT/<kind>/<key[:2]>/<key>/            an entry (``kind``: ``labels`` per photo, ``render``
    ROOT/<kind>/<key[:2]>/<key>/digests.json  finished loops, ``thumb``...): its files, and the
                                            size + sha256 of each (DIGESTS)
    ROOT/<kind>/<key[:2]>/.tmp-XXXX/        a writer's folder while it works, or an entry
                                            on its way out
    ROOT/out/<token>/<name>                 hard links handed to one caller under the names
                                            it asked for (downloads), kept OUT_GRACE s
    ROOT/locks/<key>.lock                   exists only while a key is being made

What it guarantees:

* An entry appears whole or not at all: a writer fills its own ``.tmp-*``
  folder, records the digests there, and renames the folder into place once.
  A reader never sees a part of an entry, whatever step the writer is at.
* Never a corrupted file: an entry is served only when every file's size and
  sha256 match its DIGESTS; otherwise it is removed and made again. Hashing is
  cheap next to serving (the entries are a few MB: about 2 ms per MB here).
* An entry in use is never evicted: ``get``/``put`` return an ``Entry`` that
  holds it (a shared flock on its DIGESTS) until closed; eviction takes an
  exclusive flock first and passes over held entries. What a caller hands on
  (``hand_out``: hard links under the names that request wants) stays for
  OUT_GRACE s after it was made, however small the cache.
* Evicted as a unit: least recently used entries go first, a whole folder at a
  time, until the total (hard links counted once) fits ``max_bytes``.
* A killed writer: its lock dies with it (flock); its ``.tmp-*`` folder is found
  by the next eviction (nobody holds its flock any more) and removed once older
  than TMP_GRACE. Until then it is counted in the size, like live ones.
* A full disk: a clear CineGANError; nothing partial is left and the old
  entries are untouched.
* Concurrent requests for one key do the work once (a per-key lock across
  threads and processes, re-entrant within a thread); the locks exist only
  while in use, so neither lock files nor thread locks pile up.
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
import uuid
from typing import Callable, Iterator

import numpy as np

from .errors import CineGANError

try:
    import fcntl
except ImportError:  # not on POSIX: locks are per process only, temporaries are swept by age
    fcntl = None

DEFAULT_GB = 2.0                   # default size limit, GiB ($CINEGAN_CACHE_GB)
DEFAULT_MAX_BYTES = int(DEFAULT_GB * 1024 ** 3)
TMP_GRACE = 60.0                   # s; a writer's folder nobody holds is debris once this old
TMP_MAX_AGE = 6 * 3600.0           # s; temporaries without a lock to ask (other platforms)
OUT_GRACE = 900.0                  # s; hand-outs are kept this long (their caller serves or copies them)
DIGESTS = "digests.json"           # in each entry: {file name: {"size": bytes, "sha256": hex}}
OUT = "out"                        # ROOT/out/<token>/: hand-outs
LOCKS = "locks"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def default_root() -> str:
    """$CINEGAN_CACHE, else ~/.cache/cinegan."""
    return os.environ.get("CINEGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cinegan")


def env_max_bytes() -> int:
    """$CINEGAN_CACHE_GB (GiB, default DEFAULT_GB) in bytes; CineGANError when it is not a
    number above 0."""
    text = os.environ.get("CINEGAN_CACHE_GB", "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        gb = float(text)
    except ValueError:
        gb = float("nan")
    if not gb > 0 or gb == float("inf"):
        raise CineGANError(f"CINEGAN_CACHE_GB must be a number of GB above 0 (such as 2 or 0.5), got {text!r}")
    return max(1, int(gb * 1024 ** 3))


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
    """Thread locks per name that exist only while someone uses them; ``held`` names
    the ones the current thread holds (so that a holder may ask again)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # name -> [lock, users]
        self._local = threading.local()

    @property
    def held(self) -> set:
        if not hasattr(self._local, "names"):
            self._local.names = set()
        return self._local.names

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
    """An fd holding the exclusive flock of path (a writer's folder, a lock file, an
    entry's DIGESTS), or None when someone else holds it (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _disk_full(e: BaseException | None) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def _sha256_file(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _plain_name(name: str) -> bool:
    """A file name an entry may hold (no folders, nothing hidden, not the DIGESTS)."""
    return bool(name) and name != DIGESTS and not name.startswith(".") and "/" not in name \
        and os.sep not in name and "\0" not in name


def _hold(folder: str) -> tuple[int, dict | None] | None:
    """(fd holding a shared flock on the entry's DIGESTS, its record or None when
    unreadable), or None when there is no entry in folder. A DIGESTS moved away
    while we waited for its flock (an eviction) is not the entry any more."""
    p = os.path.join(folder, DIGESTS)
    for _ in range(3):
        try:
            fd = os.open(p, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)  # an evictor holds it exclusively only while moving it away
            try:
                same = os.stat(p).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                with open(fd, encoding="utf-8", closefd=False) as fh:
                    fh.seek(0)
                    try:
                        record = json.load(fh)
                    except ValueError:
                        record = None
                return fd, record
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return None


def _intact(folder: str, record) -> bool:
    """Every file of the record is in folder with its size and sha256."""
    try:
        if not isinstance(record, dict) or not record:
            return False
        for name, want in record.items():
            p = os.path.join(folder, name)
            if not _plain_name(name) or os.path.getsize(p) != want["size"] or _sha256_file(p) != want["sha256"]:
                return False
        return True
    except (OSError, KeyError, TypeError):
        return False


class Entry:
    """A complete cache entry, held: no eviction removes it until ``close`` (or the
    end of a ``with`` block). Its files are read in place (``path``) or handed on
    (``Cache.hand_out``).

    folder: the entry's folder; names: its files (sorted).
    """

    def __init__(self, folder: str, record: dict, fd: int | None):
        self.folder = folder
        self.names = sorted(record)
        self._fd = fd

    def path(self, name: str) -> str:
        """The path of one of its files (KeyError for a name it does not hold)."""
        if name not in self.names:
            raise KeyError(f"the cache entry {self.folder} holds no {name!r}")
        return os.path.join(self.folder, name)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> "Entry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):  # also at interpreter shutdown
            self.close()


@dataclasses.dataclass
class _Unit:
    """What eviction weighs: an entry or a hand-out folder, its files' (dev, ino, size,
    links) and when it was last used."""
    folder: str
    last_use: float
    files: list


def _files(folder: str) -> list[tuple[int, int, int, int]]:
    out = []
    for d, _, names in os.walk(folder):
        for n in names:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(d, n))
                out.append((st.st_dev, st.st_ino, st.st_size, st.st_nlink))
    return out


def _check_name(what: str, value: str) -> None:
    """ValueError unless value is letters, digits, _ . - (and not a writer's ".tmp-" name)."""
    if not isinstance(value, str) or not _NAME.match(value) or ".tmp-" in value:
        raise ValueError(f"cache {what} {value!r} must be letters, digits, '_', '.' or '-'")


def _listdir(folder: str) -> list[str]:
    """The names in a folder, none when it went meanwhile."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _age(path: str, now: float) -> float | None:
    try:
        return now - os.lstat(path).st_mtime
    except OSError:
        return None


class Cache:
    """A bounded, process-safe cache of entries (folders of files).

    root:      folder (created on demand).
    max_bytes: size above which least recently used entries are removed.
    """

    _locks = _KeyLocks()

    def __init__(self, root: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = os.path.abspath(os.fspath(root or default_root()))
        self.max_bytes = max_bytes
        os.makedirs(os.path.join(self.root, LOCKS), exist_ok=True)

    @classmethod
    def from_env(cls, root: str | None = None) -> "Cache":
        """The cache the environment asks for: root (default $CINEGAN_CACHE, else
        ~/.cache/cinegan) at most $CINEGAN_CACHE_GB GiB (default 2). The app, the API,
        batches and the command line all take theirs from here."""
        return cls(root or default_root(), max_bytes=env_max_bytes())

    @classmethod
    def active_locks(cls) -> int:
        """How many per-key thread locks exist now (in use or waited for)."""
        return len(cls._locks)

    def path(self, kind: str, key: str) -> str:
        """The folder of the entry (kind, key). kind and key: letters, digits, _ . -"""
        _check_name("kind", kind)
        _check_name("key", key)
        if kind in (OUT, LOCKS):
            raise ValueError(f"cache kind {kind!r} is reserved")
        return os.path.join(self.root, kind, key[:2], key)

    def contains(self, path: str) -> bool:
        """True if path lies inside this cache's folder."""
        return os.path.commonpath([self.root, os.path.abspath(path)]) == self.root

    # --- reading --------------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Entry | None:
        """The entry (kind, key), held and marked as just used, or None. An entry whose
        files do not match their digests is removed, never returned."""
        folder = self.path(kind, key)
        held = _hold(folder)
        if held is None:
            return None
        fd, record = held
        if not _intact(folder, record):
            ino = os.fstat(fd).st_ino
            os.close(fd)
            self._discard(key, folder, ino)
            return None
        with contextlib.suppress(OSError):
            os.utime(os.path.join(folder, DIGESTS))  # the last use, for eviction
        return Entry(folder, record, fd)

    def _discard(self, key: str, folder: str, ino: int) -> None:
        """Remove a damaged entry, unless it was replaced meanwhile."""
        with self.lock(key):
            try:
                if os.stat(os.path.join(folder, DIGESTS)).st_ino != ino:
                    return
            except OSError:
                return
            self._remove(folder)

    @staticmethod
    def _remove(folder: str) -> None:
        """Move a folder out of the way (one rename: readers see it or nothing), then delete it."""
        aside = os.path.join(os.path.dirname(folder), f".tmp-gone-{uuid.uuid4().hex[:12]}")
        try:
            os.rename(folder, aside)
        except FileNotFoundError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    # --- writing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive lock on a key, across threads and processes; a thread holding it may
        take it again."""
        _check_name("key", key)
        lock_file = os.path.join(self.root, LOCKS, key + ".lock")
        held = self._locks.held
        if lock_file in held:
            yield
            return
        with self._locks.hold(lock_file):
            with _file_lock(lock_file) if fcntl is not None else contextlib.nullcontext():
                held.add(lock_file)
                try:
                    yield
                finally:
                    held.discard(lock_file)

    def put(self, kind: str, key: str, write: Callable[[str], None], evict: bool = True) -> Entry:
        """Make the entry (kind, key) by calling write(folder), then rename it into place
        whole (replacing a damaged one of that key), held.

        write gets a private, empty folder and fills it with plain files (no sub-folders,
        no names starting with "."). CineGANError if the disk is full (nothing partial is
        left, other entries are untouched). evict: then bring the cache within max_bytes
        (never removing this entry while it is held)."""
        folder = self.path(kind, key)
        parent = os.path.dirname(folder)
        with self.lock(key):
            work = marker = pin = None
            try:
                os.makedirs(parent, exist_ok=True)
                work = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
                if fcntl is not None:
                    marker = os.open(work, os.O_RDONLY)
                    fcntl.flock(marker, fcntl.LOCK_EX)  # "a writer is alive here", released by the kernel if it dies
                write(work)
                record = {}
                for name in sorted(os.listdir(work)):
                    p = os.path.join(work, name)
                    if not _plain_name(name) or os.path.islink(p) or not os.path.isfile(p):
                        raise ValueError(f"a cache entry holds plain files, not {name!r}")
                    record[name] = {"size": os.path.getsize(p), "sha256": _sha256_file(p)}
                if not record:
                    raise ValueError("a cache entry needs at least one file")
                with open(os.path.join(work, DIGESTS), "w", encoding="utf-8") as fh:
                    json.dump(record, fh)
                pin = os.open(os.path.join(work, DIGESTS), os.O_RDONLY)
                if fcntl is not None:
                    fcntl.flock(pin, fcntl.LOCK_SH)
                try:
                    os.rename(work, folder)  # the one step that makes it visible
                except OSError as e:
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    self._remove(folder)  # a damaged or unfinished entry of this key (we hold its lock)
                    os.rename(work, folder)
                work = None
            except BaseException as e:
                if pin is not None:
                    os.close(pin)
                if _disk_full(e) or _disk_full(e.__context__):
                    raise CineGANError(f"no space left on the disk of the cache {self.root}: free some space, "
                                       "or set CINEGAN_CACHE to a folder on a larger disk or lower "
                                       "CINEGAN_CACHE_GB") from None
                raise
            finally:
                if work is not None:
                    shutil.rmtree(work, ignore_errors=True)
                if marker is not None:
                    os.close(marker)
        entry = Entry(folder, record, pin)
        if evict:
            self.evict()
        return entry

    def get_or_create(self, kind: str, key: str, write: Callable[[str], None]) -> tuple[Entry, bool]:
        """(entry, hit): the entry, held, made once by write(folder) if missing
        (concurrent callers wait for the one making it)."""
        found = self.get(kind, key)
        if found:
            return found, True
        with self.lock(key):
            found = self.get(kind, key)  # made by someone else while we waited
            if found:
                return found, True
            return self.put(kind, key, write), False

    # --- handing out ----------------------------------------------------------------------------

    _outs_swept = 0.0  # when this process last removed old hand-outs (evictions do it too)

    def out_folder(self) -> str:
        """A new, empty folder for what one caller is handed (``ROOT/out/<token>/``), kept
        OUT_GRACE s after it was made, then removed (by eviction, or here now and then:
        a cache that only serves hits stores nothing, so it never evicts)."""
        base = os.path.join(self.root, OUT)
        os.makedirs(base, exist_ok=True)
        now = time.time()
        if now - Cache._outs_swept > OUT_GRACE / 10:
            Cache._outs_swept = now
            self._sweep(self._outs(with_files=False), [])
        return tempfile.mkdtemp(prefix="h-", dir=base)

    def _outs(self, with_files: bool = True) -> list[_Unit]:
        """The hand-out folders (with their files' inodes when with_files)."""
        outs = []
        for n in _listdir(os.path.join(self.root, OUT)):
            p = os.path.join(self.root, OUT, n)
            with contextlib.suppress(OSError):
                outs.append(_Unit(p, os.lstat(p).st_mtime, _files(p) if with_files else []))
        return outs

    def hand_out(self, entry: Entry, names: dict[str, str], folder: str | None = None) -> dict[str, str]:
        """Files of a held entry under the names one caller wants (downloads): hard links
        (copies where links cannot be made) in ``folder`` (default a new ``out_folder``).

        names: {file of the entry: plain file name to give it}.
        Returns {given name: path}. They stay OUT_GRACE s, even when the entry goes."""
        folder = folder or self.out_folder()
        out = {}
        for src, name in names.items():
            if not _plain_name(name):
                raise ValueError(f"{name!r} is not a plain file name")
            target = os.path.join(folder, name)
            if name not in out:
                try:
                    os.link(entry.path(src), target)
                except FileExistsError:
                    os.remove(target)
                    os.link(entry.path(src), target)
                except OSError:
                    shutil.copyfile(entry.path(src), target)
            out[name] = target
        return out

    # --- size -----------------------------------------------------------------------------------

    def _scan(self) -> tuple[list[_Unit], list[_Unit], list[tuple[str, str]]]:
        """(entries, hand-out folders, [(temporary or debris, what)]): what is one of
        "writer" (a .tmp-* folder or file), "lock", "debris" (anything else that is no entry)."""
        entries, outs = [], self._outs()
        temps = [(os.path.join(self.root, LOCKS, n), "lock") for n in _listdir(os.path.join(self.root, LOCKS))]
        kinds = [k for k in _listdir(self.root) if k not in (OUT, LOCKS)]
        for kind in kinds:
            kdir = os.path.join(self.root, kind)
            if not os.path.isdir(kdir) or os.path.islink(kdir):
                temps.append((kdir, "debris"))
                continue
            for shard in _listdir(kdir):
                sdir = os.path.join(kdir, shard)
                if not os.path.isdir(sdir) or os.path.islink(sdir):
                    temps.append((sdir, "writer" if ".tmp-" in shard else "debris"))
                    continue
                for name in _listdir(sdir):
                    p = os.path.join(sdir, name)
                    if ".tmp-" in name:
                        temps.append((p, "writer"))
                        continue
                    try:
                        last = os.lstat(os.path.join(p, DIGESTS)).st_mtime
                    except OSError:  # a file of an older layout, or a folder without digests
                        temps.append((p, "debris"))
                        continue
                    entries.append(_Unit(p, last, _files(p)))
        return entries, outs, temps

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, bytes, folder) of every entry."""
        return [(u.last_use, sum(f[2] for f in u.files), u.folder) for u in self._scan()[0]]

    def _sweep(self, outs: list[_Unit], temps: list[tuple[str, str]]) -> None:
        now = time.time()
        for u in outs:
            if (_age(u.folder, now) or 0) > OUT_GRACE:
                shutil.rmtree(u.folder, ignore_errors=True)
        for p, what in temps:
            age = _age(p, now)
            if age is None or age <= TMP_GRACE:
                continue  # just made: its writer may not hold it yet
            if what == "lock":  # left by a killed process; removed under its own flock
                if fcntl is not None and (fd := _try_hold(p)) is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(p)
                    os.close(fd)
                continue
            if what == "writer" and os.path.isdir(p) and fcntl is not None:
                fd = _try_hold(p)
                if fd is None:
                    continue  # a writer is alive in there
                try:
                    shutil.rmtree(p, ignore_errors=True)
                finally:
                    os.close(fd)
                continue
            if what == "writer" and fcntl is None and age <= TMP_MAX_AGE:
                continue
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)

    def evict(self) -> int:
        """Sweep dead temporaries, debris and hand-outs older than OUT_GRACE, then remove
        least recently used entries, whole, until the total fits; returns the bytes freed.
        Held entries (in use), live temporaries and recent hand-outs count in the total but
        are never removed."""
        self._sweep(*self._scan()[1:])
        entries, outs, temps = self._scan()
        inodes: dict[tuple[int, int], int] = {}
        for u in entries + outs:
            for dev, ino, size, _ in u.files:
                inodes[(dev, ino)] = size
        for p, what in temps:
            files = _files(p) if os.path.isdir(p) else []
            inodes.update({(dev, ino): size for dev, ino, size, _ in files})
        total, freed = sum(inodes.values()), 0
        now = time.time()
        for u in sorted(entries, key=lambda u: u.last_use):
            if total <= self.max_bytes:
                break
            fd = _try_hold(os.path.join(u.folder, DIGESTS))
            if fd is None or (fcntl is None and now - u.last_use < TMP_GRACE):
                if fd is not None:
                    os.close(fd)
                continue  # in use
            try:
                self._remove(u.folder)
            finally:
                os.close(fd)
            gone = sum(size for _, _, size, links in u.files if links <= 1)  # bytes also linked elsewhere stay
            total -= gone
            freed += gone
        return freed
