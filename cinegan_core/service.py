"""Cached renders: what the web app, its API and campaign batches share.

``render_cached`` renders one loop (or finds it in the cache) and returns its
files and a description that is the same whether it was rendered now or
earlier (plus ``cached``). The cache key is built from what was actually used:
the photo's pixels at render size, the user's mask with its shape, a motion
file's values, every render setting, and the identity of the engine that was
picked (name, rendering version and, with weights, their files), so a pixel
render is never served for a stylegan request or the other way round.

A cache entry is ``render/<key>`` with the video in the chosen format, an MP4
preview beside a GIF (browsers play it; the GIF is what is downloaded), and a
JSON description written last: an entry without its description is not served.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .cache import Cache, make_key, mask_digest
from .errors import CineGANError
from .motion import check_motion, load_motion
from .photo import Photo
from .engines import pick_engine
from .pipeline import Progress, frame_mask, load_settings_photo, render
from .settings import RenderSettings


@dataclass
class Rendered:
    """One finished loop in the cache.

    video:   path of the file in settings.format.
    preview: path of what a browser plays (the video itself, or an MP4 beside a GIF).
    info:    JSON-ready description, the same on a hit as on a miss, plus
             "cached" (bool), "seconds" (this call) and "key".
    """

    video: str
    preview: str
    info: dict


def photo_stem(name: str | None) -> str:
    """A file-name-safe stem of a photo's name ("My Photo (1).JPG" -> "My-Photo-1"), or "loop"."""
    stem = os.path.splitext(os.path.basename(str(name or "")))[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")
    return stem[:40] or "loop"


def output_name(photo_name: str | None, settings: RenderSettings, ext: str | None = None) -> str:
    """The name a user gets for a loop: cinegan-<photo>[-<preset>].<ext>."""
    parts = ["cinegan", photo_stem(photo_name)]
    if settings.preset:
        parts.append(settings.preset)
    return "-".join(parts) + "." + (ext or settings.format)


def render_key(photo: Photo, settings: RenderSettings, engine: dict, mask: np.ndarray | None = None,
               motion: np.ndarray | None = None) -> str:
    """The cache key of a render.

    photo:    the loaded Photo (its pixels at render size are hashed).
    settings: the RenderSettings.
    engine:   ``Engine.identity()`` of the engine that will render.
    mask:     the user's (H, W) bool mask at render size, or None (automatic).
    motion:   the user's (2, h, w) float32 motion field, or None.
    """
    return make_key("render", engine, photo.sha256, None if mask is None else mask_digest(mask),
                    None if motion is None else np.ascontiguousarray(motion, dtype=np.float32), settings.key())


def _lookup(cache: Cache, key: str, settings: RenderSettings) -> tuple[dict, str, str] | None:
    """(stored info, video path, preview path) of a complete entry, or None."""
    meta = cache.get("render", key, ".json")
    if meta is None:
        return None
    try:
        with open(meta, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return None
    video = cache.get("render", key, "." + settings.format)
    preview = video if settings.format != "gif" else cache.get("render", key, ".preview.mp4")
    if video is None or preview is None:
        return None
    return info, video, preview


def render_inputs(photo, settings: RenderSettings, *, mask=None, motion=None, device: str | None = None,
                  weights=None, engine_id: str | None = None):
    """What one render starts from, and its cache key: (Photo, field, engine, engine
    message, key). The one place where inputs become a key (the app, the API and batch
    jobs all come through here).

    photo:     path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:      the user's mask over the whole photo, None = automatic (framed like the photo).
    motion:    a motion file or array, None = from the settings; field: (2, h, w) float32 or None.
    engine_id: ``Engine.identity()`` already known for settings.engine (then no engine
               is picked and engine, message are None)."""
    ph = photo if isinstance(photo, Photo) else load_settings_photo(photo, settings)
    user_mask = None if mask is None else frame_mask(mask, ph)  # in the render frame, for the key
    field = None
    if motion is not None:
        field = check_motion(motion) if isinstance(motion, np.ndarray) else load_motion(motion)
    eng = message = None
    if engine_id is None:
        eng, message = pick_engine(settings.engine, device, weights)
        engine_id = eng.identity()
    return ph, field, eng, message, render_key(ph, settings, engine_id, user_mask, field)


def render_cached(photo, settings: RenderSettings, *, cache: Cache, mask=None, motion=None,
                  name: str | None = None, device: str | None = None, weights=None,
                  progress: Progress | None = None) -> Rendered:
    """Render one loop in settings.format, or return it from the cache.

    photo:  path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:   the user's mask over the whole photo (path, image or (h, w) bool at any size),
            None = automatic.
    motion: a motion file or (1, 2, h, w) | (2, h, w) array, None = from the settings.
    name:   the photo's file name as the user knows it (for output names and messages).
    Concurrent identical requests render once (the others wait for it).
    """
    t0 = time.perf_counter()
    ph, field, eng, message, key = render_inputs(photo, settings, mask=mask, motion=motion, device=device,
                                                 weights=weights)
    found = _lookup(cache, key, settings)
    if found is None:
        with cache.lock(key):
            found = _lookup(cache, key, settings)  # rendered by someone else while we waited
            if found is None:
                _render_entry(cache, key, ph, settings, eng, message, mask, field, name, progress)
                found = _lookup(cache, key, settings)
                if found is None:
                    raise CineGANError("the render finished but its files vanished from the cache "
                                       "(is the cache folder too small or being cleaned?); try again")
                hit = False
            else:
                hit = True
    else:
        hit = True
    info, video, preview = found
    info = dict(info, cached=hit, seconds=time.perf_counter() - t0, key=key)
    return Rendered(video=video, preview=preview, info=info)


def _render_entry(cache: Cache, key: str, photo: Photo, settings: RenderSettings, eng, message: str,
                  mask, field, name, progress) -> None:
    """Render into a temporary folder, then move the files into the cache, the
    description last (it marks the entry complete)."""
    work = tempfile.mkdtemp(prefix="cinegan-render-")
    try:
        video = os.path.join(work, "loop." + settings.format)
        targets = [video]
        if settings.format == "gif":
            targets.append(os.path.join(work, "preview.mp4"))
        res = render(photo, targets, settings, mask=mask, motion=field, renderer=eng, progress=progress,
                     cache=cache)
        out = res["videos"][0]
        out["bytes"] = os.path.getsize(video)
        info = {k: v for k, v in res.items() if k != "videos"}
        info.update(engine_message=message, render_seconds=res["seconds"], format=settings.format,
                    output=out, file_name=output_name(name, settings))
        parts = [cache.put("render", key, "." + settings.format, lambda tmp: shutil.move(video, tmp), evict=False)]
        if settings.format == "gif":
            parts.append(cache.put("render", key, ".preview.mp4", lambda tmp: shutil.move(targets[1], tmp),
                                   evict=False))
        blob = json.dumps(info, indent=1, default=_json_default)
        parts.append(cache.put("render", key, ".json", lambda tmp: _write_text(tmp, blob), evict=False))
        cache.evict(keep=parts)  # once, never removing a part of this entry
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _json_default(obj):
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(f"not JSON data: {type(obj).__name__}")


def download_link(cache: Cache, rendered: Rendered) -> str:
    """The loop's video under the name a user should download it as
    (``service.output_name``), as a link inside the cache."""
    return cache.link("render", rendered.info["key"], "." + rendered.info["format"], rendered.info["file_name"])
