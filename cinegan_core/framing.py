"""Formats for each channel: the aspect presets, where the crop box lies, the output size.

Coordinates, once for the whole project:

* The **photo frame** is the whole photo as the user knows it (EXIF orientation
  applied, before any scaling), in px. Arrows are given in it, and a user's mask
  (any resolution) covers it: painting and arrows stay attached to the photo's
  content when the crop box moves.
* The **render frame** is what is rendered: the crop box of the photo frame,
  scaled to the output size. ``photo.Photo`` holds the box (``Photo.box``) and the
  scale; ``arrows_in_frame`` and ``mask_in_frame`` bring arrows and masks into it.

An aspect preset crops the largest box of that shape out of the photo; the
crop position (0..1 per axis: 0 = left / top edge, 0.5 = centred, 1 = right /
bottom edge) places it along the axis where the photo is longer than the box.
The output size is the channel's (``CHANNEL_SIZES``), scaled down to the
render's longest side when that is smaller, and never larger than the crop's
own pixels: a photo too small for the channel is not enlarged (a note says so;
platforms scale it up themselves). Channel outputs have an exact aspect and
even sides, as H.264 needs.
"""
from __future__ import annotations

import math

import numpy as np

from .arrows import Arrow
from .errors import CineGANError

ORIGINAL = "original"
RATIOS = {"1:1": (1, 1), "4:5": (4, 5), "9:16": (9, 16), "16:9": (16, 9)}   # width : height
ASPECTS = (ORIGINAL, *RATIOS)
ALIASES = {"square": "1:1", "portrait": "4:5", "story": "9:16", "stories": "9:16", "reel": "9:16",
           "vertical": "9:16", "wide": "16:9", "widescreen": "16:9", "landscape": "16:9", "none": ORIGINAL}
CHANNEL_SIZES = {"1:1": (1080, 1080), "4:5": (1080, 1350), "9:16": (1080, 1920), "16:9": (1920, 1080)}
CHANNEL_NAMES = {"1:1": "square post", "4:5": "portrait post", "9:16": "story / reel", "16:9": "widescreen video"}

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), px of the photo frame, x1 / y1 excluded


def aspect_name(value) -> str:
    """The canonical aspect ("original", "1:1", "4:5", "9:16", "16:9") of a name such
    as "9:16", "Story", "9x16", "Original"; CineGANError for anything else."""
    text = str(value).strip().lower().replace(" ", "").replace("x", ":").replace("/", ":")
    text = ALIASES.get(text, text)
    if text not in ASPECTS:
        raise CineGANError(f"unknown aspect {value!r}; choose one of {', '.join(ASPECTS)} "
                           "(or square, portrait, story, wide)")
    return text


def crop_box(size: tuple[int, int], aspect: str, x: float = 0.5, y: float = 0.5) -> Box:
    """The crop box in the photo frame.

    size:   (width, height) of the photo frame, px.
    aspect: a canonical aspect; "original" gives the whole photo.
    x, y:   position in [0, 1] along each axis (0 = left / top, 1 = right / bottom);
            only the axis where the photo is longer than the box matters.
    """
    w, h = size
    if aspect == ORIGINAL:
        return 0, 0, w, h
    rw, rh = RATIOS[aspect]
    if w * rh > h * rw:               # wider than the box: full height
        bw, bh = max(1, min(w, round(h * rw / rh))), h
    else:                             # taller: full width
        bw, bh = w, max(1, min(h, round(w * rh / rw)))
    x0 = round((w - bw) * min(max(x, 0.0), 1.0))
    y0 = round((h - bh) * min(max(y, 0.0), 1.0))
    return x0, y0, x0 + bw, y0 + bh


def output_size(box: Box, aspect: str, max_side: int | None) -> tuple[int, int]:
    """(width, height) of the render for a crop box.

    "original": the box scaled so its longest side is at most max_side (never enlarged).
    A channel aspect: the channel's size (``CHANNEL_SIZES``), scaled down to max_side,
    and to the box's own pixels (never enlarged); exact aspect, both sides even.
    """
    bw, bh = box[2] - box[0], box[3] - box[1]
    if aspect == ORIGINAL:
        if not max_side or max(bw, bh) <= max_side:
            return bw, bh
        s = max_side / max(bw, bh)
        return max(1, round(bw * s)), max(1, round(bh * s))
    rw, rh = RATIOS[aspect]
    unit = CHANNEL_SIZES[aspect][0] // rw              # 1080x1920 = 120 * (9, 16)
    limits = [unit, bw // rw, bh // rh]
    if max_side:
        limits.append(max_side // max(rw, rh))
    unit = max(2, min(limits) // 2 * 2)                # even multiples: both sides even
    return rw * unit, rh * unit


def size_note(photo_size: tuple[int, int], aspect: str, max_side: int | None) -> str | None:
    """A plain note when the photo has fewer pixels than the channel's size at this
    render size (the loop is then smaller, not enlarged); None otherwise."""
    if aspect == ORIGINAL:
        return None
    full = output_size((0, 0, 10 ** 6, 10 ** 6), aspect, max_side)  # what a large photo would give
    w, h = photo_size
    if w >= full[0]:  # channel sizes keep the exact aspect: the widths tell
        return None
    return (f"format: the photo has {w}x{h} px in the {aspect} crop, less than the {full[0]}x{full[1]} "
            f"of a {CHANNEL_NAMES[aspect]}; the loop is {w}x{h} (not enlarged: the platform scales it up)")


def is_whole(box: Box, size: tuple[int, int]) -> bool:
    """True when the box is the whole photo frame of this size."""
    return tuple(box) == (0, 0, size[0], size[1])


def arrows_in_frame(arrows, box: Box) -> tuple[list, list[str]]:
    """Arrows (photo frame, px) that lie inside the crop box, moved to the box's
    origin (still photo-frame px: multiply by the photo's scale for render px),
    and a note for each arrow left out because it leaves the box."""
    x0, y0, x1, y1 = box
    kept, notes = [], []
    for i, a in enumerate(arrows, 1):
        if all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in ((a.x0, a.y0), (a.x1, a.y1))):
            kept.append(Arrow(a.x0 - x0, a.y0 - y0, a.x1 - x0, a.y1 - y0))
        else:
            notes.append(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) leaves the crop and was ignored; "
                         "move the crop or draw the arrow inside it")
    return kept, notes


def crop_array(a: np.ndarray, box: Box, frame_size: tuple[int, int]) -> np.ndarray:
    """The part of an array covering the whole photo frame (any resolution, axes
    (h, w, ...)) that lies in the box; frame_size = (width, height) of the photo frame."""
    fw, fh = frame_size
    h, w = a.shape[:2]
    x0, y0, x1, y1 = box
    c0, c1 = math.floor(x0 * w / fw), max(math.floor(x0 * w / fw) + 1, math.ceil(x1 * w / fw))
    r0, r1 = math.floor(y0 * h / fh), max(math.floor(y0 * h / fh) + 1, math.ceil(y1 * h / fh))
    return a[r0:r1, c0:c1]
