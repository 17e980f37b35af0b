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
* Email GIF: a GIF at most ``width`` px wide (600 is what email layouts use) whose
  first frame is the poster (clients that show only the first frame show the photo).
* WebP: animated, lossy, looping forever, what every current browser shows in an
  ``<img>`` at a fraction of a GIF's size; under a size budget by the same search as
  the GIF's (``fit_budget``: quality, size and frame rate).
"""
from __future__ import annotations

import contextlib
import dataclasses
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
from dataclasses import dataclass
from typing import Iterable, Iterator

import imageio_ffmpeg
import numpy as np
from PIL import Image

from .errors import CineGANError

FORMATS = ("mp4", "webm", "gif", "webp")   # what a file's extension says
EMAIL = "email"      # a delivery format of its own: a GIF for email clients (``VideoWriter``)
GIF_MAX_SIDE = 512   # px; GIFs are scaled down to this (they are large and 256-colour anyway)
GIF_MAX_FPS = 25     # GIF delays are whole centiseconds; faster rates play wrongly in browsers
GIF_SHRINK_FLOOR = 320  # px; a GIF over budget is first made smaller down to this long side,
GIF_MIN_SIDE = 96       # then loses colours and frame rate, and only then shrinks further
GIF_MIN_COLORS = 64
GIF_MIN_FRAMES = 8      # frame dropping stops before the loop has fewer frames than this
WEBP_MAX_FPS = 50       # WebP delays under 20 ms are slowed down by some browsers
WEBP_MIN_SIDE = 96
WEBP_METHOD = 4         # libwebp's effort, 0..6: 6 saves about 2% at 15x the time


def output_format(path) -> str:
    """'mp4' | 'webm' | 'gif' | 'webp' from a file name; CineGANError for anything else."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise CineGANError(f"cannot write {os.fspath(path)!r}: the output must end in "
                           f".mp4, .webm, .gif or .webp (or use --frames-dir for PNG frames)")
    return ext


def extension(fmt: str) -> str:
    """The file extension of a delivery format (the email GIF is a .gif)."""
    return "gif" if fmt == EMAIL else fmt


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


def scaled_size(width: int, height: int, max_side: int = GIF_MAX_SIDE) -> tuple[int, int]:
    """(width, height) scaled down (never up) so the long side is at most max_side px."""
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


# --- animated images under a size budget: one search for GIF and WebP ---------------------------

@dataclass(frozen=True)
class Ladder:
    """How an animated image format gives up quality to fit a size budget (``fit_budget``).

    format:   "gif" | "webp"; name: as messages say it.
    levels:   quality levels, best first (GIF: palette colours; WebP: (quality of the
              first frame, quality of the others), libwebp's 0..100).
    fields:   the names ``fit_budget``'s info gives a level's value(s).
    words:    a level in plain words ("{level} colours").
    saving:   a file one level down is about this fraction of the size.
    steps:    what to give up, in order, while a try is too large: ("shrink", px) the long
              side down to px at most (a number < 1: that fraction of the side, not under
              min_side); ("level", i) quality down to level i at most; ("frames", n) half the
              frame rate, while min_frames frames remain and (n > 0) every n-th frame at most is kept.
    min_side: px, the smallest long side tried.
    attempts: encodes at most; margin: aim under the budget by this factor (sizes are
              not exactly proportional to pixels x frames).
    """

    format: str
    name: str
    levels: tuple
    fields: tuple
    words: str
    saving: float
    steps: tuple
    min_side: int
    min_frames: int = 8
    attempts: int = 8
    margin: float = 0.93


# GIF: smaller down to 320 px first, then 128 colours, a little smaller, half the frame rate,
# 64 colours, and only then smaller still (a halving of the colours saves about 15%)
GIF_LADDER = Ladder("gif", "GIF", levels=(256, 128, GIF_MIN_COLORS), fields=("colors",), words="{level} colours",
                    saving=0.85, steps=(("shrink", GIF_SHRINK_FLOOR), ("level", 1), ("shrink", 0.8), ("frames", 0),
                                        ("level", 2), ("shrink", GIF_MIN_SIDE)),
                    min_side=GIF_MIN_SIDE, min_frames=GIF_MIN_FRAMES)
# the email GIF keeps its width (the email's column) longest: half the frame rate first, then
# 128 colours, a little smaller, the frame rate again, 64 colours, smaller still
EMAIL_LADDER = dataclasses.replace(GIF_LADDER, name="email GIF",
                                   steps=(("frames", 2), ("level", 1), ("shrink", 0.8), ("frames", 0), ("level", 2),
                                          ("shrink", GIF_MIN_SIDE)))
# WebP keeps its size longest (it is what a page shows large): quality first, then a little
# smaller, half the frame rate, the lowest qualities, and only then smaller still. The first
# frame is the whole picture and everything that stays still keeps its pixels for the whole
# loop, so it gets a higher quality than the frames after it, which carry only what moves.
WEBP_LADDER = Ladder("webp", "WebP", levels=((85, 75), (80, 65), (75, 55), (70, 45), (65, 35)),
                     fields=("first_quality", "quality"), words="quality {level[1]} ({level[0]} for the first frame)",
                     saving=0.78, steps=(("level", 2), ("shrink", 0.8), ("frames", 0), ("level", 4),
                                        ("shrink", WEBP_MIN_SIDE)), min_side=WEBP_MIN_SIDE)


def _next_try(ladder: Ladder, side: int, step: int, level: int, ratio: float, frames: int) -> tuple[int, int, int]:
    """The next (side, step, level) for a file `ratio` times too large (< 1), following
    ladder.steps. Sizes go about with pixels x frames, and a level down saves ladder.saving."""
    need = ratio

    def shrink(floor: int) -> None:
        nonlocal side, need
        new = max(min(floor, side), math.floor(side * math.sqrt(min(need, 1.0))))
        need *= (side / new) ** 2
        side = new

    for kind, arg in ladder.steps:
        if need >= 1:
            break
        if kind == "shrink":
            shrink(arg if arg >= 1 else max(ladder.min_side, math.ceil(arg * side)))
        elif kind == "level":
            while need < 1 and level < min(arg, len(ladder.levels) - 1):
                level, need = level + 1, need / ladder.saving
        elif kind == "frames" and frames // (step * 2) >= ladder.min_frames and (not arg or step * 2 <= arg):
            step, need = step * 2, need * 2
    return side, step, level


def fit_budget(encode, ladder: Ladder, side: int, fps: float, frames: int, out: str,
               max_bytes: int | None = None) -> dict:
    """Encode an animated image under a size budget: encode, measure, adjust.

    encode:    encode(path, side, step, level) -> (bytes written, (width, height)): the loop
               with its long side at `side` px, every `step`-th frame, quality ladder.levels[level].
    side:      px, the long side of the first try and the largest tried.
    fps, frames: the loop's frame rate and frame count (before any frame dropping).
    out:       the file to write (the best try is renamed onto it).
    max_bytes: the budget (None: one encode at `side`). At most ladder.attempts encodes:
               each try is sized from the last one's measured bytes (``_next_try``), and a
               try that fits with much room to spare is followed by one a little larger.
               The same frames and budget always give the same file.
               CineGANError when even the smallest try is over the budget.
    Returns {"frames", "width", "height", "fps", "format", "bytes", "attempts"} and the
    level's ladder.fields (GIF "colors"; WebP "first_quality", "quality").
    """
    step, level = 1, 0
    top = side
    tried: dict[tuple[int, int, int], int] = {}
    best = None          # (bytes, (side, step, level), (w, h), temporary path) of the best fit so far
    over_side = None     # the smallest side found over budget
    work = tempfile.mkdtemp(prefix=f".{ladder.format}-tries-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        while len(tried) < ladder.attempts:
            path = os.path.join(work, f"{len(tried)}.{ladder.format}")
            nbytes, wh = encode(path, side, step, level)
            tried[(side, step, level)] = nbytes
            if max_bytes is None or nbytes <= max_bytes:
                if best is None or (side, -step, -level) > (best[1][0], -best[1][1], -best[1][2]):
                    best = (nbytes, (side, step, level), wh, path)
                if max_bytes is None or nbytes > 0.8 * max_bytes:
                    break
                # room to spare: one try larger, below the side known to be too large
                grow = math.floor(side * math.sqrt(ladder.margin * max_bytes / nbytes))
                grow = min(grow, (over_side or top + 1) - 1)
                if grow < 1.08 * side or (grow, step, level) in tried:
                    break
                side = grow
                continue
            over_side = side if over_side is None else min(over_side, side)
            if best is not None:  # a larger try after a fit did not fit: keep the fit
                break
            nxt = _next_try(ladder, side, step, level, ladder.margin * max_bytes / nbytes, frames)
            if nxt in tried:
                break
            side, step, level = nxt
        if best is None:
            w, h = wh
            words = ladder.words.format(level=ladder.levels[level])
            raise CineGANError(f"this loop does not fit in a {max_bytes / 1e6:.3g} MB {ladder.name} (the smallest "
                               f"try, {w}x{h} at {fps / step:.3g} fps with {words}, is {nbytes / 1e6:.2f} MB): "
                               f"raise the {ladder.name} size limit, make the loop shorter, or choose MP4")
        nbytes, (side, step, level), (w, h), path = best
        os.replace(path, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    value = ladder.levels[level]
    return {"frames": len(range(0, frames, step)), "width": w, "height": h, "fps": fps / step,
            "format": ladder.format, "bytes": nbytes, **dict(zip(ladder.fields, value if isinstance(value, tuple)
                                                                  else (value,))), "attempts": len(tried)}


def _spooled(spool: str, size: tuple[int, int]) -> np.ndarray:
    """The raw rgb24 frames of `size` = (width, height) in the file `spool`, (N, H, W, 3) uint8 (mapped)."""
    return np.memmap(spool, np.uint8, "r").reshape(-1, size[1], size[0], 3)


def _gif_attempt(spool: str, size: tuple[int, int], fps: float, out: str, side: int, step: int,
                 colors: int) -> tuple[int, tuple[int, int]]:
    """Encode the raw RGB frames in `spool` (frames of `size`, at `fps`) to the GIF
    `out`: long side `side` px, every `step`-th frame, a palette of `colors`.
    Returns (bytes written, (width, height))."""
    w, h = scaled_size(*size, max_side=side)
    if (w, h) != tuple(size):  # resized here rather than in ffmpeg, to keep the 64 levels (gif_levels)
        frames = _spooled(spool, size)
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


def encode_gif(spool: str, size: tuple[int, int], fps: float, frames: int, out: str,
               max_bytes: int | None = None, side: int = GIF_MAX_SIDE, ladder: Ladder = GIF_LADDER) -> dict:
    """Encode raw RGB frames to a looping GIF under a size budget (``fit_budget`` with
    `ladder`: GIF_LADDER, or EMAIL_LADDER, which keeps the size longest).

    spool:  file of `frames` raw rgb24 frames of size = (width, height), playing at fps.
    out:    the GIF to write; max_bytes: the budget (None: one encode); side: px, the
            longest side tried. Returns ``fit_budget``'s info ("colors": the palette's size).
    """
    return fit_budget(lambda path, s, step, level: _gif_attempt(spool, size, fps, path, s, step,
                                                                ladder.levels[level]),
                      ladder, min(side, max(size)), fps, frames, out, max_bytes)


def _webp_attempt(spool: str, size: tuple[int, int], fps: float, frames: int, out: str, side: int, step: int,
                  qualities: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    """Encode the raw RGB frames in `spool` (`frames` frames of `size`, at `fps`) to the
    animated WebP `out`, looping forever: long side `side` px, every `step`-th frame,
    lossy at qualities = (first frame, the others). Returns (bytes written, (width, height)).

    libwebp's animation encoder (through Pillow's binding of it, the one
    ``Image.save(save_all=True)`` uses, here frame by frame so that the first frame can
    have its own quality and no more than one frame is in memory) stores each frame after
    the first as the rectangle that changed, with unchanged pixels inside it left
    transparent: what stays still is coded once."""
    from PIL import _webp
    w, h = scaled_size(*size, max_side=side)
    first, rest = qualities
    # canvas background 0 (never seen: every frame is opaque), loop 0 = forever, no size
    # minimisation, kmin = kmax = 0 (key frames only where the encoder needs one), lossy only
    enc = _webp.WebPAnimEncoder((w, h), 0, 0, False, 0, 0, False, False)
    ms = 1000.0 * step / fps
    clip = _spooled(spool, size)
    n = 0
    for i in range(0, frames, step):
        img = Image.fromarray(np.asarray(clip[i]))
        if (w, h) != tuple(size):
            img = img.resize((w, h), Image.LANCZOS)
        enc.add(img.getim(), round(n * ms), False, first if n == 0 else rest, 100, WEBP_METHOD)
        n += 1
    del clip
    enc.add(None, round(n * ms), False, rest, 100, 0)  # the end time: the last frame's duration
    data = enc.assemble("", "", "")
    if not data:
        raise CineGANError("the WebP encoder failed")
    with open(out, "wb") as fh:
        fh.write(data)
    return len(data), (w, h)


def encode_webp(spool: str, size: tuple[int, int], fps: float, frames: int, out: str,
                max_bytes: int | None = None, side: int | None = None) -> dict:
    """Encode raw RGB frames to an animated WebP looping forever, under a size budget
    (``fit_budget`` with WEBP_LADDER: quality, size and frame rate).

    spool:  file of `frames` raw rgb24 frames of size = (width, height), playing at fps.
    out:    the WebP to write; max_bytes: the budget (None: one encode at the best
            quality); side: px, the longest side tried (None: the frames' own).
    Returns ``fit_budget``'s info ("first_quality", "quality": libwebp's 0..100).
    """
    return fit_budget(lambda path, s, step, level: _webp_attempt(spool, size, fps, frames, path, s, step,
                                                                 WEBP_LADDER.levels[level]),
                      WEBP_LADDER, min(side or max(size), max(size)), fps, frames, out, max_bytes)


def thumbnail_gif(video, out, side: int = 256, fps: float = 10.0, max_bytes: int = 1_000_000) -> dict:
    """A small looping GIF of a video (animated previews, e.g. a gallery of variants):
    at most `side` px, about `fps` frames per second (frames dropped evenly), under
    max_bytes. Returns ``encode_gif``'s info."""
    gen = imageio_ffmpeg.read_frames(os.fspath(video))
    try:
        meta = next(gen)
        (w, h), src_fps = meta["size"], meta["fps"]
        step = max(1, round(src_fps / fps))
        size = scaled_size(w, h, side)
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


IMAGE_FORMATS = ("gif", "webp", EMAIL)   # spooled, then encoded under a size budget
_MAX_FPS = {"gif": GIF_MAX_FPS, EMAIL: GIF_MAX_FPS, "webp": WEBP_MAX_FPS}


class VideoWriter:
    """Encode frames one at a time to path; a context manager.

    fps:       frames per second of playback.
    fmt:       "mp4" | "webm" | "gif" | "webp" (None: from the extension), or "email": a GIF
               at most `width` px wide (never enlarged; None: the frames' width) whose first
               frame is `poster` ((H, W, 3) uint8 at the frames' size; None: the loop's own).
    max_bytes: the budget of a GIF, WebP or email GIF: size, frame rate and quality are
               chosen to fit (``fit_budget``); None: no budget.

    The file appears only when the block ends without error and the encoder finished
    cleanly. GIFs are scaled to at most GIF_MAX_SIDE and play at most GIF_MAX_FPS, WebPs
    at most WEBP_MAX_FPS (frames are dropped evenly to get there); their frames wait in a
    temporary raw file until the loop is complete. After the block, `info` holds {"frames",
    "width", "height", "fps", "format"} of the file written (GIF and WebP add "bytes",
    "attempts" and their quality: "colors", or "first_quality" and "quality").
    """

    def __init__(self, path, fps: float, fmt: str | None = None, *, max_bytes: int | None = None,
                 width: int | None = None, poster: np.ndarray | None = None):
        self.path = os.fspath(path)
        self.fmt = fmt or output_format(path)
        if output_format(self.path) != extension(self.fmt):
            raise CineGANError(f"cannot write {self.path!r} as {self.fmt}: the file must end in .{extension(self.fmt)}")
        self.fps = fps
        self.step = 1
        while fps / self.step > _MAX_FPS.get(self.fmt, math.inf):
            self.step += 1
        self.max_bytes = max_bytes
        self.width = width
        self.poster = poster
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
        if self.fmt in IMAGE_FORMATS:
            self._spool_frame(self.poster if i == 0 and self.fmt == EMAIL and self.poster is not None else frame)
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

    def _spool_size(self, w: int, h: int) -> tuple[int, int]:
        if self.fmt == "gif":
            return scaled_size(w, h)
        if self.fmt == EMAIL and self.width and w > self.width:
            return self.width, max(2, round(h * self.width / w))
        return w, h

    def _spool_frame(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._spool is None:
            self.size = self._spool_size(w, h)
            fd, self._spool_path = tempfile.mkstemp(prefix=f"cinegan-{self.fmt}-", suffix=".rgb")
            self._spool = os.fdopen(fd, "wb")
            self._spooled = 0
        if (w, h) != self.size:
            frame = np.asarray(Image.fromarray(frame).resize(self.size, Image.LANCZOS))
        self._spool.write((frame if self.fmt == "webp" else gif_levels(frame)).tobytes())
        self._spooled += 1

    def _finish_image(self) -> None:
        self._spool.close()
        args = (self._spool_path, self.size, self.fps / self.step, self._spooled, self._tmp, self.max_bytes)
        if self.fmt == "webp":
            self.info = encode_webp(*args)
        else:
            self.info = encode_gif(*args, side=max(self.size), ladder=EMAIL_LADDER if self.fmt == EMAIL else GIF_LADDER)

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._writer is not None:
                if exc_type is None:
                    self._writer.close()
                else:
                    self._writer.abort()  # no point finishing a video that will be thrown away
            elif self._spool is not None:
                if exc_type is None:
                    self._finish_image()
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
                max_bytes: int | None = None, width: int | None = None, poster: np.ndarray | None = None) -> dict:
    """Encode all frames to path (see ``VideoWriter`` for the arguments); returns its info."""
    with VideoWriter(path, fps, fmt, max_bytes=max_bytes, width=width, poster=poster) as out:
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
