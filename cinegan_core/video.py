"""Encoders: MP4 (H.264), WebM (VP9), GIF and lossless PNG frames.

Frames are RGB uint8 ``(H, W, 3)`` arrays, consumed one at a time so a long
loop never has to sit in memory. Every writer goes to a temporary file next to
the target and renames it into place only when complete: a failed render
leaves no half-written output behind.

What the channels take:

* MP4: H.264 High profile, yuv420p (4:2:0, what every player decodes), BT.709
  colour matrix and tags, even width and height, the index (moov) at the start
  (``+faststart``: it plays while downloading).
* GIF: one palette for the whole loop, ordered dithering that is stable between
  frames (frozen pixels stay identical, so they cost almost nothing), looping
  forever, under a size budget (``encode_gif``: size, frame rate and colours are
  chosen by encoding, measuring and adjusting, a bounded number of times).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
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
GIF_SHRINK_FLOOR = 320  # px; a GIF over budget is first made smaller down to this long side,
GIF_MIN_SIDE = 96       # then loses colours and frame rate, and only then shrinks further
GIF_MIN_COLORS = 64
GIF_MIN_FRAMES = 8      # frame dropping stops before the loop has fewer frames than this
GIF_ATTEMPTS = 8        # encodes at most, per GIF
GIF_MARGIN = 0.93       # aim under the budget by this factor (sizes are not exactly proportional)


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


# RGB -> yuv420p with the BT.709 matrix, limited range, tagged as such (ffmpeg's own conversion would use
# BT.601 and leave the file untagged, and players would then guess). The conversion must happen in this
# filter: a later, automatic one would use the default matrix.
TO_BT709 = ("scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv")


def _codec_args(fmt: str, size: tuple[int, int]) -> dict:
    if fmt == "mp4":
        return dict(codec="libx264", pix_fmt_out="yuv420p", quality=None,
                    output_params=["-vf", TO_BT709,
                                   "-crf", "18", "-preset", "medium", "-movflags", "+faststart",
                                   "-profile:v", "high", "-tune", "film"])
    if fmt == "webm":
        return dict(codec="libvpx-vp9", pix_fmt_out="yuv420p", quality=None,
                    output_params=["-vf", TO_BT709, "-crf", "30", "-b:v", "0", "-row-mt", "1", "-deadline", "good",
                                   "-cpu-used", "4"])
    raise ValueError(f"no streaming encoder for {fmt!r} (GIFs go through encode_gif)")


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


def gif_levels(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 rounded to 64 levels per channel before the GIF palette: the
    256-colour palette and its dithering cannot show the difference (mean error
    7.09 vs 7.04 levels on a moving texture), and the palette mapping, which caches
    per distinct colour, runs about 10x faster."""
    return np.minimum((frame.astype(np.uint16) + 2) >> 2 << 2, 255).astype(np.uint8)


def _gif_attempt(spool: str, size: tuple[int, int], fps: float, out: str, side: int, step: int,
                 colors: int) -> tuple[int, tuple[int, int]]:
    """Encode the raw RGB frames in `spool` (frames of `size`, at `fps`) to the GIF
    `out`: long side `side` px, every `step`-th frame, a palette of `colors`.
    Returns (bytes written, (width, height))."""
    w, h = gif_size(*size, max_side=side)
    if (w, h) != tuple(size):  # resized here rather than in ffmpeg, to keep the 64 levels (gif_levels)
        frames = np.memmap(spool, np.uint8, "r").reshape(-1, size[1], size[0], 3)
        spool = out + ".rgb"
        with open(spool, "wb") as fh:
            for frame in frames:
                fh.write(gif_levels(np.asarray(Image.fromarray(frame).resize((w, h), Image.LANCZOS))).tobytes())
        del frames
        size = (w, h)
    chain = [f"framestep={step}"] if step > 1 else []
    chain.append(f"split[a][b];[a]palettegen=stats_mode=full:max_colors={colors}[p];"
                 "[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", f"{fps:.6g}", "-i", spool,
           "-vf", ",".join(chain), "-r", f"{fps / step:.6g}", "-loop", "0", "-f", "gif", out]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if spool == out + ".rgb":
        os.remove(spool)
    if done.returncode != 0:
        raise CineGANError(f"the GIF encoder failed: {done.stderr.strip()[-300:]}")
    return os.path.getsize(out), (w, h)


def _next_gif_try(side: int, step: int, colors: int, ratio: float, frames: int) -> tuple[int, int, int]:
    """The next (side, step, colors) for a GIF `ratio` times too large (< 1).

    In order of what the eye misses least: shrink down to GIF_SHRINK_FLOOR, 128
    colours, shrink a little more (to 80% of the side), halve the frame rate (while
    GIF_MIN_FRAMES remain), GIF_MIN_COLORS colours, then shrink down to GIF_MIN_SIDE.
    Sizes go about with pixels x frames; a halving of the colours saves about 15%."""
    need = ratio

    def shrink(floor: int) -> None:
        nonlocal side, need
        new = max(min(floor, side), math.floor(side * math.sqrt(min(need, 1.0))))
        need *= (side / new) ** 2
        side = new

    shrink(GIF_SHRINK_FLOOR)
    if need < 1 and colors > 128:
        colors, need = 128, need / 0.85
    if need < 1:
        shrink(max(GIF_MIN_SIDE, math.ceil(0.8 * side)))
    if need < 1 and frames // (step * 2) >= GIF_MIN_FRAMES:
        step, need = step * 2, need * 2
    while need < 1 and colors > GIF_MIN_COLORS:
        colors, need = colors // 2, need / 0.85
    if need < 1:
        shrink(GIF_MIN_SIDE)
    return side, step, colors


def encode_gif(spool: str, size: tuple[int, int], fps: float, frames: int, out: str,
               max_bytes: int | None = None, side: int = GIF_MAX_SIDE) -> dict:
    """Encode raw RGB frames to a looping GIF under a size budget.

    spool:  file of `frames` raw rgb24 frames of size = (width, height), playing at fps.
    out:    the GIF to write.
    max_bytes: the budget (None: one encode at `side`). At most GIF_ATTEMPTS encodes:
            each try is sized from the last one's measured bytes (``_next_gif_try``),
            and a try that fits with much room to spare is followed by one a little
            larger. The same frames and budget always give the same file.
            CineGANError when even the smallest try is over the budget.
    Returns {"frames", "width", "height", "fps", "format", "bytes", "colors", "attempts"}.
    """
    step, colors = 1, 256
    side = min(side, max(size))
    tried: dict[tuple[int, int, int], int] = {}
    best = None          # (bytes, (side, step, colors), (w, h), temporary path) of the best fit so far
    over_side = None     # the smallest side found over budget
    work = tempfile.mkdtemp(prefix=".gif-tries-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        while len(tried) < GIF_ATTEMPTS:
            path = os.path.join(work, f"{len(tried)}.gif")
            nbytes, wh = _gif_attempt(spool, size, fps, path, side, step, colors)
            tried[(side, step, colors)] = nbytes
            if max_bytes is None or nbytes <= max_bytes:
                if best is None or (side, -step, colors) > (best[1][0], -best[1][1], best[1][2]):
                    best = (nbytes, (side, step, colors), wh, path)
                if max_bytes is None or nbytes > 0.8 * max_bytes:
                    break
                # room to spare: one try larger, below the side known to be too large
                grow = math.floor(side * math.sqrt(GIF_MARGIN * max_bytes / nbytes))
                grow = min(grow, (over_side or min(GIF_MAX_SIDE, max(size)) + 1) - 1, max(size))
                if grow < 1.08 * side or (grow, step, colors) in tried:
                    break
                side = grow
                continue
            over_side = side if over_side is None else min(over_side, side)
            if best is not None:  # a larger try after a fit did not fit: keep the fit
                break
            nxt = _next_gif_try(side, step, colors, GIF_MARGIN * max_bytes / nbytes, frames)
            if nxt in tried:
                break
            side, step, colors = nxt
        if best is None:
            w, h = wh
            raise CineGANError(f"this loop does not fit in a {max_bytes / 1e6:.3g} MB GIF (the smallest try, {w}x{h} "
                               f"at {fps / step:.3g} fps with {colors} colours, is {nbytes / 1e6:.2f} MB): raise the "
                               "GIF size limit, make the loop shorter, or choose MP4")
        nbytes, (side, step, colors), (w, h), path = best
        os.replace(path, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"frames": len(range(0, frames, step)), "width": w, "height": h, "fps": fps / step, "format": "gif",
            "bytes": nbytes, "colors": colors, "attempts": len(tried)}


def thumbnail_gif(video, out, side: int = 256, fps: float = 10.0, max_bytes: int = 1_000_000) -> dict:
    """A small looping GIF of a video (animated previews, e.g. a gallery of variants):
    at most `side` px, about `fps` frames per second (frames dropped evenly), under
    max_bytes. Returns ``encode_gif``'s info."""
    gen = imageio_ffmpeg.read_frames(os.fspath(video))
    try:
        meta = next(gen)
        (w, h), src_fps = meta["size"], meta["fps"]
        step = max(1, round(src_fps / fps))
        size = gif_size(w, h, side)
        fd, spool = tempfile.mkstemp(prefix="cinegan-thumb-", suffix=".rgb")
        count = 0
        with os.fdopen(fd, "wb") as fh:
            for i, buf in enumerate(gen):
                if i % step == 0:
                    frame = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                    fh.write(gif_levels(np.asarray(Image.fromarray(frame).resize(size, Image.LANCZOS))).tobytes())
                    count += 1
    finally:
        gen.close()
    try:
        return encode_gif(spool, size, src_fps / step, count, out, max_bytes, side=side)
    finally:
        os.remove(spool)


class VideoWriter:
    """Encode frames one at a time to path; a context manager.

    fps: frames per second of playback. The file appears only when the block
    ends without error and the encoder finished cleanly. GIFs are scaled to at most GIF_MAX_SIDE, play at most
    GIF_MAX_FPS (frames are dropped evenly to get there) and, with
    gif_max_bytes, fit that budget (``encode_gif``; their frames wait in a
    temporary raw file until the loop is complete). After the block, `info`
    holds {"frames", "width", "height", "fps", "format"} of the file written
    (GIFs add "bytes", "colors", "attempts").
    """

    def __init__(self, path, fps: float, fmt: str | None = None, *, gif_max_bytes: int | None = None):
        self.path = os.fspath(path)
        self.fmt = fmt or output_format(path)
        self.fps = fps
        self.step = 1
        if self.fmt == "gif":
            while fps / self.step > GIF_MAX_FPS:
                self.step += 1
        self.gif_max_bytes = gif_max_bytes
        self.info = {}
        self._writer = None
        self._spool = None
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
        if self.fmt == "gif":
            self._spool_frame(frame)
            return
        if self._writer is None:
            self.size = (w + w % 2, h + h % 2)
            args = _codec_args(self.fmt, self.size)
            self._writer = _Encoder(self._tmp, self.size, self.fps / self.step, args["codec"],
                                    args["pix_fmt_out"], args["output_params"])
            self.info = {"frames": 0, "width": self.size[0], "height": self.size[1],
                         "fps": self.fps / self.step, "format": self.fmt}
        self._writer.send(even_pad(frame))
        self.info["frames"] += 1

    def _spool_frame(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._spool is None:
            self.size = gif_size(w, h)
            fd, self._spool_path = tempfile.mkstemp(prefix="cinegan-gif-", suffix=".rgb")
            self._spool = os.fdopen(fd, "wb")
            self._spooled = 0
        if (w, h) != self.size:
            frame = np.asarray(Image.fromarray(frame).resize(self.size, Image.LANCZOS))
        self._spool.write(gif_levels(frame).tobytes())
        self._spooled += 1

    def _finish_gif(self) -> None:
        self._spool.close()
        self.info = encode_gif(self._spool_path, self.size, self.fps / self.step, self._spooled, self._tmp,
                               self.gif_max_bytes)

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._writer is not None:
                if exc_type is None:
                    self._writer.close()
                else:
                    self._writer.abort()  # no point finishing a video that will be thrown away
            elif self._spool is not None:
                if exc_type is None:
                    self._finish_gif()
            elif exc_type is None:
                raise CineGANError("no frames to write")
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        finally:
            if self._spool is not None:
                self._spool.close()
                with contextlib.suppress(OSError):
                    os.remove(self._spool_path)
        return self._atomic.__exit__(exc_type, exc, tb)


def write_video(frames: Iterable[np.ndarray], path, fps: float, fmt: str | None = None, *,
                gif_max_bytes: int | None = None) -> dict:
    """Encode all frames to path; returns the VideoWriter's info."""
    with VideoWriter(path, fps, fmt, gif_max_bytes=gif_max_bytes) as out:
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
