"""Cached renders: what the web app, its API and campaign batches share.

``render_cached`` renders one loop (or finds it in the cache) and returns its
files and a description that is the same whether it was rendered now or
earlier (plus ``cached``). The cache key is built from what was actually used:
the photo's pixels at render size, the user's mask with its shape, a motion
file's values, every render setting, and the identity of the engine that was
picked (name, rendering version and, with weights, their files), so a pixel
render is never served for a stylegan request or the other way round.

A cache entry is ``render/<key>`` with the video in the chosen format (and any
more formats asked for, encoded from the same frames: the web kit of the A/B
variants), an MP4 preview beside a GIF or WebP (the page's player plays it; the
image is what is downloaded), the poster (``delivery.write_poster``) and a JSON
description written last, holding the embed code (``delivery.snippet``): an
entry without its description is not served.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .cache import Cache, make_key, mask_digest
from .delivery import file_names, snippet, write_poster
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
    preview: path of what a browser plays (the video itself, or an MP4 beside a GIF or WebP).
    info:    JSON-ready description, the same on a hit as on a miss, plus
             "cached" (bool), "seconds" (this call) and "key"; "poster" (file_name, width,
             height, bytes) and "snippet" (the embed code, naming the files ``delivery.file_names``).
    poster:  path of the poster JPEG (the untouched photo at the video's size).
    files:   format -> path of every file encoded from this render (video among them).
    """

    video: str
    preview: str
    info: dict
    poster: str = ""
    files: dict = dataclasses.field(default_factory=dict)


def photo_stem(name: str | None) -> str:
    """A file-name-safe stem of a photo's name ("My Photo (1).JPG" -> "My-Photo-1"), or "loop"."""
    stem = os.path.splitext(os.path.basename(str(name or "")))[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")
    return stem[:40] or "loop"


def output_stem(photo_name: str | None, settings: RenderSettings) -> str:
    """The stem of a loop's files: cinegan-<photo>[-<preset>]."""
    return "-".join(["cinegan", photo_stem(photo_name)] + ([settings.preset] if settings.preset else []))


def output_name(photo_name: str | None, settings: RenderSettings, ext: str | None = None) -> str:
    """The name a user gets for a loop: cinegan-<photo>[-<preset>].<ext> (default: the
    settings' format's file, ``delivery.file_names``: the email GIF is ...-email.gif)."""
    stem = output_stem(photo_name, settings)
    return f"{stem}.{ext}" if ext else file_names(stem)[settings.format]


def _formats(settings: RenderSettings, more=()) -> tuple[str, ...]:
    """settings.format, then the other formats asked for, once each."""
    return tuple(dict.fromkeys((settings.format, *more)))


def _preview_ext(formats: tuple[str, ...]) -> str:
    """The entry file a browser's video player plays: the first MP4 or WebM, else an MP4 made for it."""
    return next(("." + f for f in formats if f in ("mp4", "webm")), ".preview.mp4")


def render_key(photo: Photo, settings: RenderSettings, engine: dict, mask: np.ndarray | None = None,
               motion: np.ndarray | None = None, formats=()) -> str:
    """The cache key of a render.

    photo:    the loaded Photo (its pixels at render size are hashed).
    settings: the RenderSettings.
    engine:   ``Engine.identity()`` of the engine that will render.
    mask:     the user's (H, W) bool mask at render size, or None (automatic).
    motion:   the user's (2, h, w) float32 motion field, or None.
    formats:  more formats encoded from the same frames (each with its own file settings).
    """
    more = [settings.replace(format=f).key() for f in _formats(settings, formats)[1:]]
    return make_key("render", engine, photo.sha256, None if mask is None else mask_digest(mask),
                    None if motion is None else np.ascontiguousarray(motion, dtype=np.float32), settings.key(),
                    *([more] if more else []))


def _lookup(cache: Cache, key: str, formats: tuple[str, ...]) -> tuple[dict, dict, str, str] | None:
    """(stored info, format -> path, preview path, poster path) of a complete entry, or None."""
    meta = cache.get("render", key, ".json")
    if meta is None:
        return None
    try:
        with open(meta, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return None
    files = {f: cache.get("render", key, "." + f) for f in formats}
    preview = cache.get("render", key, _preview_ext(formats))
    poster = cache.get("render", key, ".poster.jpg")
    if None in files.values() or preview is None or poster is None:
        return None
    return info, files, preview, poster


def render_inputs(photo, settings: RenderSettings, *, mask=None, motion=None, device: str | None = None,
                  weights=None, engine_id: str | None = None, formats=()):
    """What one render starts from, and its cache key: (Photo, field, engine, engine
    message, key). The one place where inputs become a key (the app, the API and batch
    jobs all come through here).

    photo:     path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:      the user's mask over the whole photo, None = automatic (framed like the photo).
    motion:    a motion file or array, None = from the settings; field: (2, h, w) float32 or None.
    engine_id: ``Engine.identity()`` already known for settings.engine (then no engine
               is picked and engine, message are None).
    formats:   more formats to encode from the same frames (``render_key``)."""
    ph = photo if isinstance(photo, Photo) else load_settings_photo(photo, settings)
    user_mask = None if mask is None else frame_mask(mask, ph)  # in the render frame, for the key
    field = None
    if motion is not None:
        field = check_motion(motion) if isinstance(motion, np.ndarray) else load_motion(motion)
    eng = message = None
    if engine_id is None:
        eng, message = pick_engine(settings.engine, device, weights)
        engine_id = eng.identity()
    return ph, field, eng, message, render_key(ph, settings, engine_id, user_mask, field, formats)


def render_cached(photo, settings: RenderSettings, *, cache: Cache, mask=None, motion=None,
                  name: str | None = None, device: str | None = None, weights=None,
                  progress: Progress | None = None, formats=()) -> Rendered:
    """Render one loop in settings.format, or return it from the cache.

    photo:  path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:   the user's mask over the whole photo (path, image or (h, w) bool at any size),
            None = automatic.
    motion: a motion file or (1, 2, h, w) | (2, h, w) array, None = from the settings.
    name:   the photo's file name as the user knows it (for output names and messages).
    formats: more formats to encode from the same frames (e.g. the web kit: "webm", "webp", "gif").
    Concurrent identical requests render once (the others wait for it).
    """
    t0 = time.perf_counter()
    fmts = _formats(settings, formats)
    ph, field, eng, message, key = render_inputs(photo, settings, mask=mask, motion=motion, device=device,
                                                 weights=weights, formats=fmts)
    found = _lookup(cache, key, fmts)
    if found is None:
        with cache.lock(key):
            found = _lookup(cache, key, fmts)  # rendered by someone else while we waited
            if found is None:
                _render_entry(cache, key, ph, settings, eng, message, mask, field, name, progress, fmts)
                found = _lookup(cache, key, fmts)
                if found is None:
                    raise CineGANError("the render finished but its files vanished from the cache "
                                       "(is the cache folder too small or being cleaned?); try again")
                hit = False
            else:
                hit = True
    else:
        hit = True
    info, files, preview, poster = found
    info = dict(info, cached=hit, seconds=time.perf_counter() - t0, key=key)
    return Rendered(video=files[settings.format], preview=preview, info=info, poster=poster, files=files)


def _render_entry(cache: Cache, key: str, photo: Photo, settings: RenderSettings, eng, message: str,
                  mask, field, name, progress, formats: tuple[str, ...]) -> None:
    """Render into a temporary folder, then move the files into the cache, the
    description last (it marks the entry complete)."""
    from .video import extension
    work = tempfile.mkdtemp(prefix="cinegan-render-")
    try:
        files = {"." + f: (os.path.join(work, f"loop-{f}.{extension(f)}"), f) for f in formats}
        if _preview_ext(formats) not in files:
            files[".preview.mp4"] = (os.path.join(work, "preview.mp4"), "mp4")
        res = render(photo, list(files.values()), settings, mask=mask, motion=field, renderer=eng,
                     progress=progress, cache=cache)
        outs = dict(zip(formats, res["videos"]))
        for f, out in outs.items():
            out["bytes"] = os.path.getsize(files["." + f][0])
        files[".poster.jpg"] = (os.path.join(work, "poster.jpg"), None)
        poster = write_poster(photo.rgb, files[".poster.jpg"][0])
        names = file_names(output_stem(name, settings))
        info = {k: v for k, v in res.items() if k != "videos"}
        info.update(engine_message=message, render_seconds=res["seconds"], format=settings.format,
                    output=outs[settings.format], file_name=names[settings.format],
                    poster=dict(poster, file_name=names["poster"]),
                    snippet=snippet(names, poster["width"], poster["height"]))
        if len(formats) > 1:
            info["outputs"] = {f: dict(out, file_name=names[f]) for f, out in outs.items()}
        parts = [cache.put("render", key, ext, lambda tmp, src=src: shutil.move(src, tmp), evict=False)
                 for ext, (src, _) in files.items()]
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


def download_link(cache: Cache, rendered: Rendered, fmt: str | None = None) -> str:
    """The loop's file in `fmt` (default: the one asked for) under the name a user should
    download it as (``service.output_name``), as a link inside the cache."""
    fmt = fmt or rendered.info["format"]
    name = rendered.info["file_name"] if fmt == rendered.info["format"] else rendered.info["outputs"][fmt]["file_name"]
    return cache.link("render", rendered.info["key"], "." + fmt, name)


def poster_link(cache: Cache, rendered: Rendered) -> str:
    """The loop's poster under the name the embed code gives it, as a link inside the cache."""
    return cache.link("render", rendered.info["key"], ".poster.jpg", rendered.info["poster"]["file_name"])
