"""The service: what the web app, its API, campaign batches and the Python API share.

* one cache per process (``shared_cache``: ``Cache.from_env``, $CINEGAN_CACHE and
  $CINEGAN_CACHE_GB);
* renders through it (``render_cached``; ``render_formats``: one loop in several
  formats, encoded from one render), thumbnails (``thumbnail``) and A/B variants
  (``variants``: a small batch, zipped as its folder is: every variant in the web kit,
  posters, embed codes, index.html and the batch's manifest);
* the device and the engine a server loads once (``serving_device``, ``preload_engine``).

A render entry is one cache folder: the video ``loop.<ext>``, for an image format
(GIF, WebP, email GIF) an MP4 ``preview.mp4`` (what a browser's player plays),
what a render delivers beside it (``_deliverables``: the poster, the untouched
photo at the video's size) and ``info.json`` (engine, frames, size, notes,
warnings, quality, settings, the poster's size...), with their digests; it is
written aside and renamed into place once, and evicted as a unit (``cache``). Its
key (``render_key``) covers everything the frames and the file depend on: the
photo's pixels at render size, its original size and crop box, the arrows in
render px, the engine's identity, the user's mask and motion file, every setting;
and nothing else. What belongs to one request (the names the files are handed out
under, the embed code that names them, ``cached``, the seconds the call took) is
computed when serving, never stored: the same photo uploaded under two names
downloads under each caller's own name.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from .cache import Cache, default_root, env_max_bytes, make_key, mask_digest
from .delivery import file_names, snippet, write_poster
from .errors import CineGANError
from .framing import arrows_in_frame
from .photo import Photo
from .settings import PRESETS, RenderSettings

INFO = "info.json"
PREVIEW = "preview.mp4"
POSTER = "poster.jpg"
ENTRY_LAYOUT = 2   # what a render entry holds (keyed: entries of another layout are not served)
THUMB_SIDE = 256   # px, the A/B gallery's animated previews
KIT = ("mp4", "webm", "webp", "gif")   # what every A/B variant comes as (a test tool takes any of them)
PLAYABLE = ("mp4", "webm")             # formats a browser's video player plays (others get a preview)


def video_name(settings: RenderSettings) -> str:
    """The video's file name inside a render entry: loop.<ext> (the email GIF is a .gif)."""
    from .video import extension
    return "loop." + extension(settings.format)


@dataclass
class Rendered:
    """One finished loop, handed to one caller (files kept ``cache.OUT_GRACE`` s).

    video:   path of the file in settings.format, named for this caller (``output_name``).
    preview: path of what a browser plays (the video itself, or an MP4 beside an image format).
    poster:  path of the poster JPEG (the untouched photo at the video's size), named as the
             embed code names it (``delivery.file_names``).
    info:    JSON-ready description, the same on a hit as on a miss, plus this
             request's own "file_name", "poster" (file_name, width, height, bytes),
             "snippet" (the embed code, naming this caller's files), "cached" (bool),
             "seconds" (this call) and "key".
    files:   every file of the render entry but its info, handed out: {name in the
             entry: path}, named after the caller's photo (``hand_out_names``).
    """

    video: str
    preview: str
    poster: str
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


def output_stem(photo_name: str | None, settings: RenderSettings) -> str:
    """The stem every file of a loop shares: cinegan-<photo>[-<preset>]."""
    return "-".join(["cinegan", photo_stem(photo_name)] + ([settings.preset] if settings.preset else []))


def output_name(photo_name: str | None, settings: RenderSettings, ext: str | None = None) -> str:
    """The name a user gets for a loop: cinegan-<photo>[-<preset>].<ext> (default: the
    settings' format's file, ``delivery.file_names``: the email GIF is ...-email.gif)."""
    stem = output_stem(photo_name, settings)
    return f"{stem}.{ext}" if ext else file_names(stem)[settings.format]


# --- keys -------------------------------------------------------------------------------------

def render_key(photo: Photo, settings: RenderSettings, engine: dict, mask: np.ndarray | None = None,
               motion: np.ndarray | None = None) -> str:
    """The cache key of a render: everything its frames and file depend on, nothing else.

    photo:    the loaded Photo: its pixels at render size, the photo frame's size and the
              crop box (with the settings' arrows they give the arrows in render px,
              which are keyed too: the same pixels from a larger photo move differently).
    settings: the RenderSettings (``RenderSettings.key``).
    engine:   ``Engine.identity()`` of the engine that will render.
    mask:     the user's (H, W) bool mask at render size, or None (automatic). The automatic
              mask's identity is keyed either way (a painted region the automatic mask found
              keeps its classes, and the parser names the others), so a new parser head or
              its absence renders anew.
    motion:   the user's (2, h, w) float32 motion field, or None.
    """
    arrows = arrows_in_frame(settings.arrows, photo.frame_box)[0] if photo.cropped else settings.arrows
    in_render = [[round(v * photo.scale, 4) for v in (a.x0, a.y0, a.x1, a.y1)] for a in arrows]
    frame = {"pixels": photo.sha256, "original_size": list(photo.original_size), "box": list(photo.frame_box)}
    from .automask import identity as automask_identity
    if mask is None:   # what painted areas move as cannot matter where nothing was painted
        settings = settings.replace(painted=RenderSettings().painted)
    return make_key("render", ENTRY_LAYOUT, engine, frame, in_render, automask_identity(),
                    "auto" if mask is None else mask_digest(mask),
                    None if motion is None else np.ascontiguousarray(motion, dtype=np.float32), settings.key())


@dataclass
class Inputs:
    """What one render starts from (``render_inputs``).

    photo: the Photo at render size; field: the user's (2, h, w) float32 motion, or None;
    engine, message: the Engine picked and what to say about it (None when its identity
    was given); engine_id: its ``identity()``; user_mask: the user's mask in the render
    frame, (H, W) bool, or None (automatic)."""

    photo: Photo
    field: np.ndarray | None
    engine: object
    message: str | None
    engine_id: dict
    user_mask: np.ndarray | None

    def key(self, settings: RenderSettings) -> str:
        """The cache key of these inputs rendered with settings (``render_key``)."""
        return render_key(self.photo, settings, self.engine_id, self.user_mask, self.field)


def render_inputs(photo, settings: RenderSettings, *, mask=None, motion=None, device: str | None = None,
                  weights=None, engine_id: dict | None = None) -> Inputs:
    """What one render starts from, and with ``Inputs.key`` its cache key. The one place
    where inputs become a key (the app, the API and batch jobs all come through here).

    photo:     path, bytes, array or Photo (loaded at settings.max_side, aspect and crop).
    mask:      the user's mask over the whole photo, None = automatic (framed like the photo).
    motion:    a motion file or array, None = from the settings.
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
    return Inputs(ph, field, eng, message, engine_id, user_mask)


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
    return render_formats(photo, settings, (settings.format,), cache=cache, mask=mask, motion=motion, name=name,
                          device=device, weights=weights, progress=progress)[settings.format]


def render_formats(photo, settings: RenderSettings, formats, *, cache: Cache, mask=None, motion=None,
                   name: str | None = None, device: str | None = None, weights=None,
                   progress=None) -> dict[str, Rendered]:
    """One loop in several formats ({format: Rendered}, as ``render_cached`` gives each):
    each format is its own cache entry, keyed as ``render_cached`` keys it (a format made
    earlier, by the app or a batch, is found), and those missing are encoded from one
    render. formats: names from ``settings.FORMATS`` (settings.format is one only if listed);
    the other arguments as for ``render_cached``."""
    t0 = time.perf_counter()
    wanted = {f: settings.replace(format=f) for f in dict.fromkeys(formats)}
    inputs = render_inputs(photo, settings, mask=mask, motion=motion, device=device, weights=weights)
    keys = {f: inputs.key(s) for f, s in wanted.items()}
    entries, hits = {}, {}
    try:
        def look(fmts) -> list[str]:
            for f in fmts:
                found = cache.get("render", keys[f])
                if found is not None:
                    entries[f], hits[f] = found, True
            return [f for f in fmts if f not in entries]

        missing = look(list(wanted))
        if missing:
            with contextlib.ExitStack() as locks:
                for key in sorted({keys[f] for f in missing}):  # one order: no two callers wait on each other
                    locks.enter_context(cache.lock(key))
                missing = look(missing)  # made by someone else while we waited
                if missing:
                    made = _render_entries(cache, {f: (wanted[f], keys[f]) for f in missing}, inputs, mask,
                                           progress)
                    entries.update(made)
                    hits.update(dict.fromkeys(made, False))
        return {f: _serve(cache, entries[f], wanted[f], keys[f], name, hits[f], t0) for f in wanted}
    finally:
        for entry in entries.values():
            entry.close()


def _serve(cache: Cache, entry, settings: RenderSettings, key: str, name: str | None, hit: bool,
           t0: float) -> Rendered:
    """Hand a held render entry to one caller: its files under this caller's names, and the
    description with what belongs to this request (names, embed code, cached, seconds)."""
    with open(entry.path(INFO), encoding="utf-8") as fh:
        info = json.load(fh)
    names = hand_out_names(entry.names, name, settings)
    handed = cache.hand_out(entry, names)
    files = {inside: handed[given] for inside, given in names.items()}
    video, poster = files[video_name(settings)], files[POSTER]
    kinds = file_names(output_stem(name, settings))
    shown = dict(info["poster"], file_name=os.path.basename(poster))
    info = dict(info, file_name=os.path.basename(video), poster=shown, cached=hit,
                snippet=snippet(kinds, shown["width"], shown["height"]),
                seconds=time.perf_counter() - t0, key=key)
    return Rendered(video=video, preview=files.get(PREVIEW, video), poster=poster, info=info, files=files)


def hand_out_names(names: list[str], photo_name: str | None, settings: RenderSettings) -> dict[str, str]:
    """What one caller gets the files of a render entry as: the video as ``output_name``,
    the preview as the same stem in .mp4, the poster as the embed code names it
    (``delivery.file_names``), anything else as <that stem>-<its name>; the description
    (info.json) is not handed out."""
    stem = output_stem(photo_name, settings)
    out = {}
    for n in names:
        if n == video_name(settings):
            out[n] = output_name(photo_name, settings)
        elif n == PREVIEW:
            out[n] = f"{stem}.mp4"
        elif n == POSTER:
            out[n] = file_names(stem)["poster"]
        elif n != INFO:
            out[n] = f"{stem}-{n}"
    return out


def _render_entries(cache: Cache, wanted: dict, inputs: Inputs, mask, progress) -> dict:
    """Render once and store each format as its own entry: {format: held Entry}.

    wanted: {format: (RenderSettings in that format, key)}. The frames are encoded into
    every format at once, in a folder of this render (a preview MP4 beside image formats:
    the MP4 made now, or one made for them), then each entry is filled from it (hard links
    where it can) and renamed into place (``Cache.put``)."""
    from .pipeline import render
    from .video import extension
    first = next(iter(wanted.values()))[0]
    work = tempfile.mkdtemp(prefix="cinegan-render-")
    made = {}
    try:
        targets = {f: os.path.join(work, f"loop-{f}.{extension(f)}") for f in wanted}
        outputs = [(path, f) for f, path in targets.items()]
        preview = targets.get("mp4")
        if preview is None and any(f not in PLAYABLE for f in wanted):
            preview = os.path.join(work, PREVIEW)
            outputs.append((preview, "mp4"))
        res = render(inputs.photo, outputs, first, mask=mask, motion=inputs.field, renderer=inputs.engine,
                     progress=progress, cache=cache)
        delivered, facts = _deliverables(work, inputs.photo)
        base = {k: v for k, v in res.items() if k not in ("videos", "seconds", "settings")}
        base.update(facts, engine_message=inputs.message, render_seconds=res["seconds"])
        for (f, (settings, key)), out in zip(wanted.items(), res["videos"]):
            files = {video_name(settings): targets[f], **delivered}
            if f not in PLAYABLE:
                files[PREVIEW] = preview
            info = dict(base, settings=settings.to_dict(), format=f,
                        output=dict(out, bytes=os.path.getsize(targets[f])))
            made[f] = cache.put("render", key, lambda folder, files=files, info=info: _fill(folder, files, info))
        return made
    except BaseException:
        for entry in made.values():
            entry.close()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _deliverables(folder: str, photo: Photo) -> tuple[dict, dict]:
    """What a render delivers beside its video, written into folder and stored in every
    entry of the render (handed out with the video): ({name in the entry: path}, {what
    info.json says of them}). Now the poster: the untouched photo at the video's size
    (``delivery.write_poster``; info "poster": width, height, bytes)."""
    path = os.path.join(folder, POSTER)
    return {POSTER: path}, {"poster": write_poster(photo.rgb, path)}


def _fill(folder: str, files: dict, info: dict) -> None:
    """An entry's folder: files {name: path} (hard links where they can be made, else
    copies: several entries of one render share them) and info.json."""
    for name, src in files.items():
        try:
            os.link(src, os.path.join(folder, name))
        except OSError:
            shutil.copyfile(src, os.path.join(folder, name))
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

    items:    [(thumbnail GIF path, caption)] in preset order ("A: calm, 3 s, 1.2 MB": the
              size of the chosen format's file).
    zip:      the zip of the variants' batch folder, named after the photo: every variant in
              the chosen format and the web kit (KIT), its poster and embed code, index.html
              (every variant playing side by side) and the batch's manifest.json.
    manifest: that manifest (``batch.manifest``: one job entry per variant and format).
    """

    items: list
    zip: str
    manifest: dict


def variants(photo: str, settings: RenderSettings, *, cache: Cache, mask=None, name: str | None = None,
             device: str | None = None, weights=None, progress=None) -> Variants:
    """The preset variants (calm / natural / lively: ``PRESETS`` scale every speed and
    arrow) of one photo, rendered as a small campaign batch (``batch.run_jobs``: one render
    per variant, encoded in settings.format and every KIT format) through the render cache
    into a folder of this request, which gets what every batch folder gets (posters, embed
    codes, index.html, manifest.json) and is zipped as it is, with an animated thumbnail of
    each variant.

    photo: the photo's path; name: its file name as this caller knows it (outputs,
    manifest and zip are named after it); mask: path or (h, w) bool over the whole photo.
    progress: progress({"stage": "batch", "step": jobs done, "total"})."""
    from .batch import Job, name_outputs, run_jobs
    from .mask import save_mask
    name = name or os.path.basename(photo)
    stem = photo_stem(name)
    work = cache.out_folder()
    given_mask = None
    if mask is not None and not isinstance(mask, (str, os.PathLike)):
        painted, mask, given_mask = np.asarray(mask, bool), os.path.join(work, "painted-mask.png"), "painted"
        save_mask(painted, mask)
    formats = tuple(dict.fromkeys((settings.format, *KIT)))
    jobs = [Job(where=f"variant {chr(65 + i)}", photo=os.path.abspath(photo), mask=mask, label=name,
                name=name, settings=settings.with_preset(p).replace(format=f), variant={"preset": p, "format": f},
                given={"mask": given_mask or (None if mask is None else os.path.basename(mask))})
            for i, p in enumerate(PRESETS) for f in formats]
    name_outputs(jobs)
    out = os.path.join(work, f"cinegan-{stem}-variants")
    report = run_jobs(jobs, out, cache=cache, device=device, weights=weights, progress=progress,
                      title=f"{stem}: A/B variants")
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
    for i, preset in enumerate(PRESETS):
        chosen, mp4 = (next(j for j in manifest["jobs"] if j["variant"] == {"preset": preset, "format": f})
                       for f in (settings.format, "mp4"))
        secs = chosen["frames"] / chosen["settings"]["fps"]
        items.append((thumbnail(cache, mp4["key"], os.path.join(out, mp4["output"])),
                      f"{chr(65 + i)}: {preset}, {secs:g} s, {chosen['bytes'] / 1e6:.1f} MB"))
    return Variants(items=items, zip=zpath, manifest=manifest)


def copy_out(src: str, dst: str) -> None:
    """Copy a handed-out file to a user's folder atomically (no half-written file); a file
    there that already holds these bytes is left as it is (a batch run again rewrites
    nothing that did not change)."""
    import filecmp
    from .video import atomic_output
    with contextlib.suppress(OSError):
        if filecmp.cmp(src, dst, shallow=False):
            return
    with atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)


__all__ = ["INFO", "KIT", "POSTER", "PREVIEW", "Inputs", "Rendered", "THUMB_SIDE", "Variants", "copy_out",
           "hand_out_names", "output_name", "output_stem", "photo_stem", "preload_engine", "render_cached",
           "render_formats", "render_inputs", "render_key", "serving_device", "shared_cache", "thumbnail", "variants",
           "video_name"]
