"""The service: what the web app, its API, campaign batches and the Python API share.

* one cache per process (``shared_cache``: ``Cache.from_env``, $CINEGAN_CACHE and
  $CINEGAN_CACHE_GB);
* renders through it (``render_cached``), thumbnails (``thumbnail``) and A/B
  variants (``variants``: a small batch, zipped with the batch's manifest);
* the device and the engine a server loads once (``serving_device``, ``preload_engine``).

A render entry is one cache folder: the video ``loop.<format>``, for a GIF an MP4
``preview.mp4`` (what a browser plays), and ``info.json`` (engine, frames, size,
notes, warnings, quality, settings...), with their digests; it is written aside
and renamed into place once, and evicted as a unit (``cache``). Its key
(``render_key``) covers everything the frames depend on: the photo's pixels at
render size, its original size and crop box, the arrows in render px, the
engine's identity, the user's mask and motion file, every setting; and nothing
else. What belongs to one request (the name a download carries, ``cached``, the
seconds the call took) is computed when serving, never stored: the same photo
uploaded under two names downloads under each caller's own name.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from .cache import Cache, default_root, env_max_bytes, make_key, mask_digest
from .errors import CineGANError
from .framing import arrows_in_frame
from .photo import Photo
from .settings import PRESETS, RenderSettings

INFO = "info.json"
PREVIEW = "preview.mp4"
THUMB_SIDE = 256  # px, the A/B gallery's animated previews


def video_name(settings: RenderSettings) -> str:
    """The video's file name inside a render entry."""
    return "loop." + settings.format


@dataclass
class Rendered:
    """One finished loop, handed to one caller (files kept ``cache.OUT_GRACE`` s).

    video:   path of the file in settings.format, named for this caller (``output_name``).
    preview: path of what a browser plays (the video itself, or an MP4 beside a GIF).
    info:    JSON-ready description, the same on a hit as on a miss, plus this
             request's own "file_name", "cached" (bool), "seconds" (this call) and "key".
    files:   every file of the render entry but its info, handed out: {name in the
             entry: path}, named after the caller's photo (``hand_out_names``).
    """

    video: str
    preview: str
    info: dict
    files: dict


# --- the one cache, the device and the engine of a server -------------------------------------

_CACHES: dict = {}
_CACHES_LOCK = threading.Lock()


def shared_cache(root: str | None = None) -> Cache:
    """This process's cache in root (default $CINEGAN_CACHE, else ~/.cache/cinegan), at most
    $CINEGAN_CACHE_GB GiB (``Cache.from_env``): made once per folder and size."""
    root = os.path.abspath(root or default_root())
    key = (root, env_max_bytes())
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = Cache(root, max_bytes=key[1])
        return _CACHES[key]


def serving_device(zero_gpu: bool = False) -> str:
    """"cuda" on a GPU (on ZeroGPU Spaces CUDA is attached per call, so zero_gpu=True
    says "cuda" before it is visible), else "cpu"."""
    from .engines import default_device
    return "cuda" if zero_gpu else default_device()


def preload_engine(device: str, weights=None):
    """Load the stylegan networks now, once per process, when their weights are present
    (a server does this at start, so no request pays for the load; the core keeps them,
    ``engines.stylegan_engine``). Returns the Engine, or None when the weights are absent
    or do not load (said on stderr: the operator's problem, not a visitor's)."""
    from . import weights as weights_mod
    from .engines import stylegan_engine
    if weights_mod.missing(weights):
        return None
    try:
        return stylegan_engine(weights, device)
    except CineGANError as e:
        print(f"cinegan: stylegan weights found but not loaded ({e}); using the pixel engine", file=sys.stderr)
        return None


# --- names ------------------------------------------------------------------------------------

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


# --- keys -------------------------------------------------------------------------------------

def render_key(photo: Photo, settings: RenderSettings, engine: dict, mask: np.ndarray | None = None,
               motion: np.ndarray | None = None) -> str:
    """The cache key of a render: everything its frames and file depend on, nothing else.

    photo:    the loaded Photo: its pixels at render size, the photo frame's size and the
              crop box (with the settings' arrows they give the arrows in render px,
              which are keyed too: the same pixels from a larger photo move differently).
    settings: the RenderSettings (``RenderSettings.key``).
    engine:   ``Engine.identity()`` of the engine that will render.
    mask:     the user's (H, W) bool mask at render size, or None (automatic).
    motion:   the user's (2, h, w) float32 motion field, or None.
    """
    arrows = arrows_in_frame(settings.arrows, photo.frame_box)[0] if photo.cropped else settings.arrows
    in_render = [[round(v * photo.scale, 4) for v in (a.x0, a.y0, a.x1, a.y1)] for a in arrows]
    frame = {"pixels": photo.sha256, "original_size": list(photo.original_size), "box": list(photo.frame_box)}
    return make_key("render", engine, frame, in_render, None if mask is None else mask_digest(mask),
                    None if motion is None else np.ascontiguousarray(motion, dtype=np.float32), settings.key())


def render_inputs(photo, settings: RenderSettings, *, mask=None, motion=None, device: str | None = None,
                  weights=None, engine_id: dict | None = None):
    """What one render starts from, and its cache key: (Photo, field, engine, engine
    message, key). The one place where inputs become a key (the app, the API and batch
    jobs all come through here).

    photo:     path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:      the user's mask over the whole photo, None = automatic (framed like the photo).
    motion:    a motion file or array, None = from the settings; field: (2, h, w) float32 or None.
    engine_id: ``Engine.identity()`` already known for settings.engine (then no engine
               is picked and engine, message are None)."""
    from .engines import pick_engine
    from .motion import check_motion, load_motion
    from .pipeline import frame_mask, load_settings_photo
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


# --- renders ----------------------------------------------------------------------------------

def render_cached(photo, settings: RenderSettings, *, cache: Cache, mask=None, motion=None,
                  name: str | None = None, device: str | None = None, weights=None,
                  progress=None) -> Rendered:
    """Render one loop in settings.format, or find it in the cache; hand it to this caller.

    photo:  path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:   the user's mask over the whole photo (path, image or (h, w) bool at any size),
            None = automatic.
    motion: a motion file or (1, 2, h, w) | (2, h, w) array, None = from the settings.
    name:   the photo's file name as this caller knows it: the download's name
            (``output_name``); never stored with the render.
    progress: progress({"stage", "step", "total"}) while rendering.
    Concurrent identical requests render once (the others wait for it).
    """
    t0 = time.perf_counter()
    ph, field, eng, message, key = render_inputs(photo, settings, mask=mask, motion=motion, device=device,
                                                 weights=weights)

    def make(folder: str) -> None:
        _render_into(folder, ph, settings, eng, message, mask, field, progress, cache)

    entry, hit = cache.get_or_create("render", key, make)
    with entry:
        with open(entry.path(INFO), encoding="utf-8") as fh:
            info = json.load(fh)
        names = hand_out_names(entry.names, name, settings)
        handed = cache.hand_out(entry, names)
    files = {inside: handed[given] for inside, given in names.items()}
    video = files[video_name(settings)]
    info = dict(info, file_name=os.path.basename(video), cached=hit, seconds=time.perf_counter() - t0, key=key)
    return Rendered(video=video, preview=files.get(PREVIEW, video), info=info, files=files)


def hand_out_names(names: list[str], photo_name: str | None, settings: RenderSettings) -> dict[str, str]:
    """What one caller gets the files of a render entry as: the video as ``output_name``,
    the preview as the same name in .mp4, anything else as <that stem>-<its name>; the
    description (info.json) is not handed out."""
    stem = output_name(photo_name, settings, "x")[:-2]
    out = {}
    for n in names:
        if n == video_name(settings):
            out[n] = output_name(photo_name, settings)
        elif n == PREVIEW:
            out[n] = f"{stem}.mp4"
        elif n != INFO:
            out[n] = f"{stem}-{n}"
    return out


def _render_into(folder: str, photo: Photo, settings: RenderSettings, eng, message: str, mask, field,
                 progress, cache: Cache) -> None:
    """Render into an entry's folder: the video, a preview beside a GIF, and info.json
    (what else a render delivers is written here too, beside them, and handed out with them)."""
    from .pipeline import render
    video = os.path.join(folder, video_name(settings))
    targets = [video] + ([os.path.join(folder, PREVIEW)] if settings.format == "gif" else [])
    res = render(photo, targets, settings, mask=mask, motion=field, renderer=eng, progress=progress, cache=cache)
    out = dict(res["videos"][0], bytes=os.path.getsize(video))
    info = {k: v for k, v in res.items() if k != "videos"}
    info.update(engine_message=message, render_seconds=res["seconds"], format=settings.format, output=out)
    del info["seconds"]
    with open(os.path.join(folder, INFO), "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=1, default=_json_default)


def _json_default(obj):
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(f"not JSON data: {type(obj).__name__}")


def thumbnail(cache: Cache, key: str, video: str, side: int = THUMB_SIDE) -> str:
    """A small animated GIF of a loop (a gallery's thumbnail), kept in the cache beside
    its render and handed out. key: the render's key; video: its file (any format)."""
    from .video import thumbnail_gif
    entry, _ = cache.get_or_create("thumb", make_key("thumb", key, side),
                                   lambda folder: thumbnail_gif(video, os.path.join(folder, "thumb.gif"), side=side))
    with entry:
        return cache.hand_out(entry, {"thumb.gif": "thumb.gif"})["thumb.gif"]


# --- A/B variants -----------------------------------------------------------------------------

@dataclass
class Variants:
    """The A/B variants of one photo.

    items:    [(thumbnail GIF path, caption)] in preset order ("A: calm, 3 s, 1.2 MB").
    zip:      the zip of every variant and the batch's manifest.json, named after the photo.
    manifest: that manifest (``batch.manifest``: one job entry per variant).
    """

    items: list
    zip: str
    manifest: dict


def variants(photo: str, settings: RenderSettings, *, cache: Cache, mask=None, name: str | None = None,
             device: str | None = None, weights=None, progress=None) -> Variants:
    """The preset variants (calm / natural / lively: ``PRESETS`` scale every speed and
    arrow) of one photo, rendered as a small campaign batch through the render cache into
    a folder of this request, zipped with the batch's manifest.json (same format as any
    batch), with an animated thumbnail of each.

    photo: the photo's path; name: its file name as this caller knows it (outputs,
    manifest and zip are named after it); mask: path or (h, w) bool over the whole photo.
    progress: progress({"stage": "batch", "step": variants done, "total"})."""
    from .batch import Job, name_outputs, run_jobs
    from .mask import save_mask
    name = name or os.path.basename(photo)
    stem = photo_stem(name)
    work = cache.out_folder()
    given_mask = None
    if mask is not None and not isinstance(mask, (str, os.PathLike)):
        painted, mask, given_mask = np.asarray(mask, bool), os.path.join(work, "painted-mask.png"), "painted"
        save_mask(painted, mask)
    jobs = [Job(where=f"variant {chr(65 + i)}", photo=os.path.abspath(photo), mask=mask, label=name,
                name=name, settings=settings.with_preset(p), variant={"preset": p},
                given={"mask": given_mask or (None if mask is None else os.path.basename(mask))})
            for i, p in enumerate(PRESETS)]
    name_outputs(jobs)
    out = os.path.join(work, f"cinegan-{stem}-variants")
    report = run_jobs(jobs, out, cache=cache, device=device, weights=weights, progress=progress)
    if report.failed:
        raise CineGANError(report.failed[0]["error"] or "a variant failed")
    with open(report.manifest, encoding="utf-8") as fh:
        manifest = json.load(fh)
    zpath = os.path.join(work, f"cinegan-{stem}-variants.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(os.listdir(out)):
            if not f.startswith(".") and os.path.isfile(os.path.join(out, f)):
                z.write(os.path.join(out, f), f)
    items = []
    for i, job in enumerate(manifest["jobs"]):
        secs = job["frames"] / job["settings"]["fps"]
        items.append((thumbnail(cache, job["key"], os.path.join(out, job["output"])),
                      f"{chr(65 + i)}: {job['variant']['preset']}, {secs:g} s, {job['bytes'] / 1e6:.1f} MB"))
    return Variants(items=items, zip=zpath, manifest=manifest)


def copy_out(src: str, dst: str) -> None:
    """Copy a handed-out file to a user's folder atomically (no half-written file)."""
    from .video import atomic_output
    with atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)


__all__ = ["INFO", "PREVIEW", "Rendered", "THUMB_SIDE", "Variants", "copy_out", "hand_out_names", "output_name",
           "photo_stem", "preload_engine", "render_cached", "render_inputs", "render_key", "serving_device",
           "shared_cache", "thumbnail", "variants", "video_name"]
