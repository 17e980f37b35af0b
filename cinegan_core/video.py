"""Encoders: MP4 (H.264), WebM (VP9), GIF and lossless PNG frames.

Frames are RGB uint8 ``(H, W, 3)`` arrays, consumed one at a time so a long
loop never has to sit in memory. Every writer goes to a temporary file next to
the target and renames it into place only when complete: a failed render
leaves no half-written output behind.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Iterable, Iterator

import imageio_ffmpeg
import numpy as np
from PIL import Image

from .errors import CineGANError

FORMATS = ("mp4", "webm", "gif")
GIF_MAX_SIDE = 512   # px; GIFs are scaled down to this (they are large and 256-colour anyway)
GIF_MAX_FPS = 25     # GIF delays are whole centiseconds; faster rates play wrongly in browsers


def output_format(path) -> str:
    """'mp4' | 'webm' | 'gif' from a file name; CineGANError for anything else."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise CineGANError(f"cannot write {os.fspath(path)!r}: the output must end in "
                           f".mp4, .webm or .gif (or use --frames-dir for PNG frames)")
    return ext


@contextlib.contextmanager
def atomic_output(path) -> Iterator[str]:
    """Yield a temporary path beside `path` (same extension); rename it onto
    `path` on success, delete it on any failure."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CineGANError(f"cannot write {path!r}: folder {folder!r} does not exist")
    base, ext = os.path.splitext(os.path.basename(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".part{ext}", dir=folder)
    except OSError as e:
        raise _user_error(path, e) from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno in _USER_ERRNOS:
            raise _user_error(path, e) from None
        raise


# what a person can fix about the place they write to: a full disk, a quota, a read-only folder
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS}


def _user_error(path: str, e: OSError) -> CineGANError:
    """A CineGANError for a write that failed because of the disk or its permissions.
    The OSError stays reachable as __context__ (the cache tells a full disk by it)."""
    err = CineGANError(f"cannot write {path!r}: {e.strerror or e}" +
                       ("; free some space or write elsewhere" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""))
    err.__context__ = e
    return err


def _read_umask() -> int | None:
    """The process umask from /proc/self/status (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    # only where /proc is missing: os.umask can only be read by setting it, which races with
    # other threads creating files; at import that is a single moment, not every write
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FALLBACK_UMASK = _read_umask()
if _FALLBACK_UMASK is None:
    _FALLBACK_UMASK = _umask_at_import()


def _umask() -> int:
    """The current umask, read without changing it (process-wide state shared by threads)."""
    mask = _read_umask()
    return _FALLBACK_UMASK if mask is None else mask


def even_pad(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column so both sides are even (yuv420p needs it);
    nothing of the picture is cut away."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _codec_args(fmt: str, size: tuple[int, int]) -> dict:
    if fmt == "mp4":
        return dict(codec="libx264", pix_fmt_out="yuv420p", quality=None,
                    output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart",
                                   "-profile:v", "high", "-tune", "film"])
    if fmt == "webm":
        return dict(codec="libvpx-vp9", pix_fmt_out="yuv420p", quality=None,
                    output_params=["-crf", "30", "-b:v", "0", "-row-mt", "1", "-deadline", "good",
                                   "-cpu-used", "4"])
    # GIF: one palette for the whole loop (no flicker), ordered dithering (stable between frames)
    graph = "split[a][b];[a]palettegen=stats_mode=full:max_colors=256[p];[b][p]paletteuse=dither=bayer:bayer_scale=4"
    return dict(codec="gif", pix_fmt_out="pal8", quality=None,
                output_params=["-vf", graph, "-loop", "0"])


def gif_size(width: int, height: int, max_side: int = GIF_MAX_SIDE) -> tuple[int, int]:
    s = min(1.0, max_side / max(width, height))
    return max(2, round(width * s)), max(2, round(height * s))


class _Encoder:
    """An ffmpeg process fed raw RGB frames on stdin, whose exit status is checked:
    an encoder that failed (a full disk, a file size limit) raises instead of
    leaving a silently truncated video (imageio-ffmpeg ignores the status)."""

    def __init__(self, path: str, size: tuple[int, int], fps: float, codec: str, pix_fmt_out: str,
                 output_params: list[str]):
        w, h = size
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{w}x{h}",
               "-pix_fmt", "rgb24", "-r", f"{fps:.6g}", "-i", "-", "-an", "-vcodec", codec, "-pix_fmt", pix_fmt_out,
               "-v", "error", *output_params, path]
        self._log = tempfile.TemporaryFile()
        self._p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)

    def send(self, frame: np.ndarray) -> None:
        try:
            self._p.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except OSError:  # ffmpeg is gone: say why
            self._p.wait()
            self._raise()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._p.stdin.close()
        if self._p.wait() != 0:
            self._raise()
        self._log.close()

    def abort(self) -> None:
        self._p.kill()
        with contextlib.suppress(OSError):
            self._p.stdin.close()
        self._p.wait()
        self._log.close()

    def _raise(self):
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.close()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {self._p.returncode}"
        for needle, code in (("No space left on device", errno.ENOSPC), ("Disk quota exceeded", errno.EDQUOT),
                             ("File too large", errno.EFBIG), ("Permission denied", errno.EACCES)):
            if needle in text:
                raise OSError(code, os.strerror(code))
        raise OSError(errno.EIO, f"the video encoder failed: {detail}")


class VideoWriter:
    """Encode frames one at a time to path; a context manager.

    fps: frames per second of playback. The file appears only when the block
    ends without error and the encoder finished cleanly. GIFs are scaled to
    GIF_MAX_SIDE and play at most GIF_MAX_FPS (frames are dropped evenly to get
    there). After the block, `info` holds {"frames", "width", "height", "fps", "format"}.
    """

    def __init__(self, path, fps: float, fmt: str | None = None):
        self.path = os.fspath(path)
        self.fmt = fmt or output_format(path)
        self.fps = fps
        self.step = 1
        if self.fmt == "gif":
            while fps / self.step > GIF_MAX_FPS:
                self.step += 1
        self.info = {}
        self._writer = None
        self._seen = 0

    def __enter__(self):
        self._atomic = atomic_output(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def add(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 frame."""
        i, self._seen = self._seen, self._seen + 1
        if i % self.step:
            return
        h, w = frame.shape[:2]
        if self._writer is None:
            self.size = gif_size(w, h) if self.fmt == "gif" else (w + w % 2, h + h % 2)
            args = _codec_args(self.fmt, self.size)
            self._writer = _Encoder(self._tmp, self.size, self.fps / self.step, args["codec"],
                                    args["pix_fmt_out"], args["output_params"])
            self.info = {"frames": 0, "width": self.size[0], "height": self.size[1],
                         "fps": self.fps / self.step, "format": self.fmt}
        if self.fmt == "gif":
            if (w, h) != self.size:
                frame = np.asarray(Image.fromarray(frame).resize(self.size, Image.LANCZOS))
        else:
            frame = even_pad(frame)
        self._writer.send(frame)
        self.info["frames"] += 1

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._writer is not None:
                if exc_type is None:
                    self._writer.close()
                else:
                    self._writer.abort()  # no point finishing a video that will be thrown away
            elif exc_type is None:
                raise CineGANError("no frames to write")
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self._atomic.__exit__(exc_type, exc, tb)


def write_video(frames: Iterable[np.ndarray], path, fps: float, fmt: str | None = None) -> dict:
    """Encode all frames to path; returns the VideoWriter's info."""
    with VideoWriter(path, fps, fmt) as out:
        for frame in frames:
            out.add(frame)
    return out.info


FRAMES_MANIFEST = ".cinegan-frames.json"   # what CineGAN wrote into a --frames-dir folder
_FRAME_NAME = re.compile(r"^[0-9]+\.png$", re.IGNORECASE)  # names a frame-sequence reader takes for frames


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


class PngFrames:
    """Lossless PNG frames 0000.png, 0001.png, ... in a folder; a context manager.

    The folder is never a place where CineGAN deletes or overwrites a file it
    did not write:

    * CineGAN records the frames it writes (name and sha256 of each) in
      ``.cinegan-frames.json`` inside the folder;
    * files not named like a frame (digits + ``.png``, any case) are left alone;
    * frame-named PNGs are replaced only when they are exactly the frames of an
      earlier CineGAN run recorded there (so no stale frames of a longer loop
      remain); any other (a user's ``1.png`` or ``20240101.png``, or an earlier
      frame edited since) is refused with a CineGANError naming it, before
      anything is rendered and again before anything is moved, and the folder
      is left untouched.

    Frames go to a temporary folder beside the target first and move in only
    when the block ends without error.
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        parent = os.path.dirname(os.path.abspath(self.folder))
        if not os.path.isdir(parent):
            raise CineGANError(f"cannot write frames to {self.folder!r}: folder {parent!r} does not exist")
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise CineGANError(f"cannot write frames to {self.folder!r}: it is a file, not a folder")
        self.parent = parent
        self.count = 0
        self._digests: dict[str, str] = {}
        self._ours()  # refuse now, before the render, if the folder holds frames that are not ours

    def _manifest_path(self) -> str:
        return os.path.join(self.folder, FRAMES_MANIFEST)

    def _recorded(self) -> dict[str, list[str]]:
        """name -> accepted sha256s, from the manifest of an earlier run ({} if none)."""
        path = self._manifest_path()
        if not os.path.lexists(path):
            return {}
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            frames = data["frames"] if data.get("format") == "cinegan-frames" else None
            if not isinstance(frames, dict):
                raise ValueError("not a CineGAN frames manifest")
            return {str(k): [str(d) for d in v] for k, v in frames.items() if isinstance(v, list)}
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            raise CineGANError(f"cannot write frames to {self.folder!r}: it holds {FRAMES_MANIFEST}, which CineGAN "
                               "did not write or cannot read; choose an empty or new folder") from None

    def _ours(self) -> dict[str, list[str]]:
        """The frame-named files now in the folder, all verified as CineGAN's own
        (name -> accepted digests); CineGANError naming any that are not."""
        if not os.path.isdir(self.folder):
            return {}
        recorded = self._recorded()
        theirs = []
        for name in sorted(os.listdir(self.folder)):
            if not _FRAME_NAME.match(name):
                continue
            p = os.path.join(self.folder, name)
            ok = name in recorded and not os.path.islink(p) and os.path.isfile(p) and _file_sha256(p) in recorded[name]
            if not ok:
                theirs.append(name)
        if theirs:
            shown = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
            raise CineGANError(f"cannot write frames to {self.folder!r}: it holds {shown}, which CineGAN did not "
                               "write (or which changed since); CineGAN never deletes or overwrites such files: "
                               "move them away or choose an empty or new folder")
        return {name: recorded[name] for name in os.listdir(self.folder) if _FRAME_NAME.match(name)}

    def _write_manifest(self, frames: dict[str, list[str]]) -> None:
        with atomic_output(self._manifest_path()) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"format": "cinegan-frames", "version": 1, "frames": frames}, fh, indent=0, sort_keys=True)

    def __enter__(self):
        self._tmp = tempfile.mkdtemp(prefix=".frames.", dir=self.parent)
        return self

    def add(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 frame."""
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG", compress_level=1)
        name = f"{self.count:04d}.png"
        try:
            with open(os.path.join(self._tmp, name), "wb") as fh:
                fh.write(buf.getvalue())
        except OSError as e:
            if e.errno in _USER_ERRNOS:
                raise _user_error(self.folder, e) from None
            raise
        self._digests[name] = _sha256(buf.getvalue())
        self.count += 1

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._move_in()
        except OSError as e:
            if e.errno in _USER_ERRNOS:
                raise _user_error(self.folder, e) from None
            raise
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return False

    def _move_in(self) -> None:
        """Replace our earlier frames by the new ones. The manifest first lists both
        (either content is accepted per name), so a crash at any point leaves a
        folder the next run recognises as CineGAN's own."""
        old = self._ours()  # again: files may have appeared while rendering
        new = self._digests
        os.makedirs(self.folder, exist_ok=True)
        self._write_manifest({n: old.get(n, []) + ([new[n]] if n in new else []) for n in {*old, *new}})
        for name in old:
            if name not in new:
                os.remove(os.path.join(self.folder, name))
        for name in sorted(new):
            os.replace(os.path.join(self._tmp, name), os.path.join(self.folder, name))
        self._write_manifest({n: [d] for n, d in new.items()})


def write_png_frames(frames: Iterable[np.ndarray], folder) -> int:
    """Write all frames as PNGs into folder; returns how many."""
    with PngFrames(folder) as out:
        for frame in frames:
            out.add(frame)
    return out.count


def read_video(path) -> tuple[np.ndarray, dict]:
    """Decode a video back to frames (N, H, W, 3) uint8 and its metadata (tests, tools)."""
    gen = imageio_ffmpeg.read_frames(os.fspath(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    return np.stack(frames), meta
