"""The whole job: photo -> mask -> motion -> engine -> composite -> file.

``prepare`` does the per-photo work (load, mask, motion field at render size)
for one engine (``engines.base.Engine``: the learned mask and motion it brings
are used wherever the user gave none), ``frames`` runs that engine over it,
``render`` does both and writes the files: ``prepare`` + ``frames`` and
``render`` give the same loop. What the user chose travels as one
``settings.RenderSettings``. All user errors are raised as CineGANError.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field as dc_field
from typing import Callable, Iterator

import cv2
import numpy as np

from . import framing
from .automask import AutoMask, auto_mask, parse
from .detail import featureless_warnings
from .engines import Engine, pick_engine
from .errors import CineGANError
from .loop import StepCounter
from .mask import load_mask
from .motion import (MotionPlan, check_motion, check_speed, load_motion, region_motion, resize_motion,
                     uniform_motion)
from .photo import Photo, load_photo
from .quality import LoopProbe
from .regions import CAREFUL, GROUPS, group_of, in_group, is_moving, shares
from .settings import DEFAULT_FRAMES, RenderSettings, to_settings

Progress = Callable[[dict], None]


@dataclass
class Scene:
    """What an engine needs, at render size.

    photo:  the loaded Photo (rgb (H, W, 3) uint8).
    labels: (H, W) uint8 scene classes (``regions`` codes), 0 = solid.
    field:  (2, H, W) float32 motion, px per frame at render size, zero outside the mask.
    notes:  what was decided on the user's behalf, for messages.
    warnings: what the user should know and may want to act on (parts of the photo the
            automatic mask left frozen because it was unsure, ignored arrows, a loop
            smaller than the channel's size).
    plan:   the motion plan (the style of each region, the ripple of calm water) when the
            motion was built from the regions; None with a motion file (the field is all).
    engine: the engine it was prepared for (its predictors gave the mask and motion the
            user did not give); ``frames`` renders with it.
    painted: what each painted region moves as (``Regions.painted``); [] without a mask.
    """

    photo: Photo
    labels: np.ndarray
    field: np.ndarray
    notes: list[str] = dc_field(default_factory=list)
    warnings: list[str] = dc_field(default_factory=list)
    plan: MotionPlan | None = None
    engine: Engine | None = None
    painted: list = dc_field(default_factory=list)

    @property
    def motion(self) -> MotionPlan:
        """What the engines render: the plan, or a plan of the field alone."""
        return self.plan if self.plan is not None else MotionPlan(self.field)

    @property
    def styles(self) -> dict:
        """Region name ("sky", "water" of unknown kind, "still_water", "flowing_water",
        "falling_water") -> the style it got ("drift" | "flow" | "ripple" | "fall" | "arrows" |
        "learned"), or "file" for every moving group when a motion file set the motion."""
        if self.plan is not None:
            return dict(self.plan.styles)
        present = {group_of(int(k)) for k in np.unique(self.labels)}
        return {g: "file" for g in GROUPS if g in present}

    @property
    def motion_report(self) -> list:
        """Per moving class, what its motion is (``MotionPlan.report``: region, style, direction
        degrees, speed px per frame at the render size, auto); [] with a motion file."""
        return list(self.plan.report) if self.plan is not None else []

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True = moves."""
        return is_moving(self.labels)


def auto_mask_cached(photo: Photo, cache=None, reach: str = CAREFUL) -> AutoMask:
    """The automatic mask of a photo (labels (H, W) uint8, per-region confidence and
    share, plain-words notes), kept in `cache` (a cache.Cache) per photo hash and reach
    ("careful" | "bold", ``automask.auto_mask``) so that changing only the motion or the
    loop does not redo it."""
    if cache is None:
        return auto_mask(photo.rgb, reach=reach)
    from .automask import identity
    from .cache import make_key
    key = make_key("labels", 4, identity(), photo.sha256, reach)

    fresh = []   # the mask made now (its parser probabilities are not stored, but reused by the caller)

    def write(folder):
        am = auto_mask(photo.rgb, reach=reach)
        fresh.append(am)
        meta = json.dumps({"confidence": am.confidence, "share": am.share, "notes": am.notes})
        with open(os.path.join(folder, "labels.npz"), "wb") as fh:
            np.savez(fh, labels=am.labels, meta=np.array(meta))

    entry, _ = cache.get_or_create("labels", key, write)
    try:
        with entry, np.load(entry.path("labels.npz"), allow_pickle=False) as z:
            labels, meta = z["labels"], json.loads(str(z["meta"]))
        if labels.shape == photo.rgb.shape[:2]:
            return AutoMask(labels=labels, confidence=meta["confidence"], share=meta["share"], notes=meta["notes"],
                            scene=fresh[0].scene if fresh else None)
    except (OSError, ValueError, KeyError):
        pass
    # an entry of another shape or damaged: the mask made now, else compute it again
    return fresh[0] if fresh else auto_mask(photo.rgb, reach=reach)


def frame_mask(mask, photo: Photo) -> np.ndarray:
    """The user's mask in the render frame: (H, W) bool at photo.size.

    mask: path, image or array covering the whole photo frame (any resolution,
          white / True = moves); the photo's crop box is cut out of it
          (``framing``), so painting stays on the content when the crop moves.
    CineGANError when it is empty, or empty inside the crop."""
    if not photo.cropped:
        return load_mask(mask, photo.size)
    x0, y0, x1, y1 = photo.frame_box
    s = photo.scale
    full = load_mask(mask, (max(1, round(photo.original_size[0] * s)), max(1, round(photo.original_size[1] * s))))
    m = framing.crop_array(full, (x0, y0, x1, y1), photo.original_size)
    if m.shape != photo.rgb.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), photo.size, interpolation=cv2.INTER_NEAREST).astype(bool)
    if not m.any():
        raise CineGANError("the painted area lies outside the crop: move the crop, or paint inside it")
    return np.ascontiguousarray(m)


def frame_motion(field: np.ndarray, photo: Photo) -> np.ndarray:
    """A (2, h, w) motion field covering the whole photo frame, brought to the render
    frame: the crop box cut out, resampled to photo.size, vectors rescaled (px per
    frame at render size)."""
    if photo.cropped:
        field = np.ascontiguousarray(np.moveaxis(framing.crop_array(np.moveaxis(field, 0, -1), photo.frame_box,
                                                                    photo.original_size), -1, 0))
    return resize_motion(field, photo.size)


@dataclass
class Regions:
    """What moves in a photo and what each part is (``regions_for``).

    labels:   (H, W) uint8 scene classes (``regions`` codes), 0 = solid.
    notes, warnings: for the user (as in ``Scene``).
    fixed:    (H, W) bool, the painted regions whose class was decided (classified or
              chosen with ``painted``), or None: their still water ripples, and they are
              never taken for sky (``motion.plausible_labels``).
    painted:  one entry per painted region (largest first): {"region": 1, 2..., "as": the
              ``settings.PAINTED`` choice it moves as ("clouds", "water", "falling water",
              "still"), "class": its ``regions.NAMES`` name, "auto": True when it was
              classified from the photo (False: the user's choice), "share": of the photo,
              "by": "parser" | "cues" | "choice" | "automatic mask" (a region the automatic
              mask found keeps its classes: "as" and "class" then name the most of it)}.
    """

    labels: np.ndarray
    notes: list
    warnings: list
    fixed: np.ndarray | None = None
    painted: list = dc_field(default_factory=list)


FOUND_SHARE = 0.5   # a painted region at least this much covered by the automatic mask keeps its classes


def regions_for(photo: Photo, mask=None, cache=None, painted: str = "auto", reach: str = CAREFUL) -> Regions:
    """The regions of a photo, with notes and warnings for the user.

    mask=None: the automatic sky / water mask (its warnings say what it left frozen because
    it was unsure). With the user's mask (whole photo frame, see ``frame_mask``: what
    moves is always the user's), each connected painted region (``automask.kinds.
    painted_regions``) that the automatic mask mostly found (FOUND_SHARE) keeps the
    automatic classes (what it added beyond them is classified on its own when large,
    else takes the class next to it); every other painted region moves as one class, the
    class ``kinds.classify`` reads from the photo (with the learned scene parser's
    probabilities when it is available). With ``painted`` a choice ("clouds" | "water" |
    "falling water" | "still", ``settings.PAINTED``), every painted region moves as it.
    Every painted region is reported (``Regions.painted``). reach: the automatic mask's,
    "careful" | "bold" (``settings.MASK_REACHES``)."""
    from .automask import kinds
    from .regions import LABELS, MOVING, NAMES, WATER
    from .settings import PAINTED, PAINTED_AS
    auto = auto_mask_cached(photo, cache, reach)
    if mask is None:
        if not auto.labels.any():
            raise CineGANError("found no sky or water to animate in this photo; paint the areas that "
                               "should move (a mask, white = moves)")
        notes = [f"mask: automatic, sky {auto.share['sky']:.0%}, water {auto.share['water']:.0%} of the photo"]
        return Regions(auto.labels, notes, list(auto.notes))
    m = frame_mask(mask, photo)
    found = np.isin(auto.labels, MOVING)
    choice = PAINTED[painted]
    labels = np.zeros(m.shape, np.uint8)
    to_classify, kept = [], []
    for part in kinds.painted_regions(m):
        covered = part & found
        if choice is not None or covered.sum() < FOUND_SHARE * part.sum():
            to_classify.append(part)     # the user's choice holds for every painted region
            continue
        kept.append(part)
        labels[covered] = auto.labels[covered]
        rest = part & ~found
        if rest.any():
            big = [r for r in kinds.painted_regions(rest) if r.sum() >= kinds.MIN_REGION * m.size]
            for r in big:
                to_classify.append(r)
                rest &= ~r
            if rest.any():  # slivers along what was found: the class next to them
                near = kinds.nearest_fill(np.where(covered, auto.labels, 0).astype(np.uint8), covered)
                labels[rest] = near[rest]
    probs = None
    if to_classify and choice is None:   # the probabilities the automatic mask was fused from, else parse now
        probs = auto.scene if auto.scene is not None else parse(photo.rgb)[0]
    fixed = np.zeros(m.shape, bool) if to_classify else None
    entries = []
    for r in to_classify:
        code, by = (choice, "choice") if choice is not None else kinds.decide(photo.rgb, r, probs)
        labels[r] = code
        fixed |= r
        entries.append((r, code, by))
    for part in kept:                    # as the automatic mask found it (its classes, mostly this one)
        own = part if fixed is None else part & ~fixed
        codes = labels[own]
        entries.append((own, int(np.bincount(codes[codes != 0]).argmax()), "automatic mask"))
    report, notes = [], []
    for i, (r, code, by) in enumerate(sorted(entries, key=lambda e: -int(e[0].sum())), 1):
        as_found = by == "automatic mask"
        report.append({"region": i, "as": "water" if as_found and code == WATER else PAINTED_AS[code],
                       "class": NAMES[code], "auto": choice is None, "share": round(float(r.mean()), 4), "by": by})
        how = (f"the automatic mask found it (mostly {LABELS[code]})" if as_found else
               f"{report[-1]['as']}{' (recognised from the photo)' if choice is None else ' (as chosen)'}")
        notes.append(f"painted region {i} ({report[-1]['share']:.0%} of the photo) moves as {how}")
    return Regions(labels, notes, [], fixed, report)


def labels_for(photo: Photo, mask=None, cache=None) -> tuple[np.ndarray, list[str], list[str]]:
    """Region labels (H, W) uint8 for a photo, with notes and warnings for the user
    (``regions_for``: the automatic mask, or the user's mask with each painted region
    classified)."""
    r = regions_for(photo, mask, cache)
    return r.labels, r.notes, r.warnings


def resolve_settings(settings: RenderSettings | None = None, options: dict | None = None) -> RenderSettings:
    """The settings of a call: a RenderSettings, or keyword options with the flat names
    of every surface (``render(p, o, frames=48, sky_direction=90)``, ``settings.to_settings``),
    not both. CineGANError for unknown names."""
    options = options or {}
    if settings is not None and options:
        raise CineGANError(f"give either settings or options ({', '.join(sorted(options))}), not both")
    if settings is None:
        return to_settings(options)
    if not isinstance(settings, RenderSettings):
        raise TypeError(f"settings must be a RenderSettings, got {type(settings).__name__}")
    return settings


def prepare(photo, settings: RenderSettings | None = None, *, mask=None, motion=None,
            labels: np.ndarray | None = None, cache=None, engine: Engine | str | None = None,
            device: str | None = None, weights=None, **options) -> Scene:
    """Load the photo and build its regions and motion field.

    photo:    path, bytes, PIL image, (H, W, 3) uint8 array or a loaded Photo.
    settings: a RenderSettings (or its fields as keyword options): loop length,
              render size, directions, speeds, arrows, motion scale.
    mask:     path / image / (h, w) bool array over the whole photo, white = moves; cropped
              like the photo and resized to it. None: sky and water are found automatically.
    motion:   .npy path or array (1, 2, h, w) | (2, h, w) over the whole photo, px per frame
              at its own size; cropped and rescaled to the render. None: per-region drifts
              and arrows (arrows: px of the whole photo; those leaving a crop are ignored).
              With a motion file, ``speed`` is the speed of its fastest vector and
              ``direction`` replaces its directions by one uniform drift; the regions'
              styles (drift / flow / ripple, ``motion.region_motion``) apply only without one.
    labels:   precomputed (H, W) uint8 regions at render size (skips the mask step).
    cache:    a cache.Cache for the per-photo work (the automatic mask).
    engine:   the engine that will render: an Engine, or a name (default settings.engine)
              picked with device and weights (``engines.pick_engine``). The learned mask and
              motion it brings (``Engine.predictors``) are used for the mask and motion the
              user did not give, as ``render`` does; the Scene keeps it for ``frames``.
    """
    settings = resolve_settings(settings, options)
    if not isinstance(engine, Engine):
        engine = pick_engine(settings.engine if engine is None else engine, device, weights)[0]
    predictors = engine.predictors()
    ph = photo if isinstance(photo, Photo) else load_settings_photo(photo, settings)
    unit = settings.speed_unit(max(ph.size))
    notes, warnings = [], []
    arrows = settings.arrows
    if ph.cropped:
        arrows, more = framing.arrows_in_frame(arrows, ph.frame_box)
        warnings += more
    size_note = framing.size_note(ph.size, settings.aspect, settings.max_side)
    if size_note:
        warnings.append(size_note)
    if labels is None and mask is None and predictors is not None:
        labels = predictors.labels(ph.rgb)
        if labels is not None:
            if not labels.any():
                raise CineGANError("the learned mask found no sky or water in this photo; paint the areas "
                                   "that should move (a mask, white = moves)")
            share = shares(labels)
            notes.append(f"mask: learned (DatasetGAN), sky {share['sky']:.0%}, water {share['water']:.0%}")
    fixed, painted = None, []
    if labels is None:
        found = regions_for(ph, mask, cache, settings.painted, settings.mask_reach)
        labels, fixed, painted = found.labels, found.fixed, found.painted
        notes += found.notes
        warnings += found.warnings
    m = is_moving(labels)
    if motion is not None:
        raw = load_motion(motion) if not isinstance(motion, np.ndarray) else check_motion(motion)
        fld = frame_motion(raw, ph)
        if settings.speed is not None:
            fastest = float(np.hypot(fld[0], fld[1])[m].max())
            if fastest > 0:
                fld *= settings.speed * unit / fastest
        if settings.direction is not None:
            fld = uniform_motion(ph.size, settings.direction, float(np.hypot(fld[0], fld[1])[m].mean()))
        fld = fld * m * settings.motion_scale  # presets: every speed at once
        if arrows:
            warnings.append("arrows are ignored when a motion file is given")
        asked = [n for n in GROUPS if settings.region(n).style != "auto"]
        if asked:
            warnings.append(f"the {' and '.join(asked)} style{'s are' if len(asked) > 1 else ' is'} ignored "
                            "when a motion file is given")
        plan = None
    else:
        drift = {}
        for name in GROUPS:
            r = settings.region(name)
            drift[name] = (r.direction, None if r.speed is None else r.speed * unit)
        patterns = predictors.motion(ph.rgb) if predictors is not None else {}
        if patterns:
            notes.append(f"motion: learned (pix2pixHD) for {', '.join(sorted(patterns))}")
        styles = {name: settings.region(name).style for name in GROUPS}
        plan = region_motion(labels, frames=settings.frames, photo=ph.rgb, styles=styles, drift=drift,
                             arrows=arrows, arrow_scale=ph.scale, patterns=patterns, scale=settings.motion_scale,
                             fixed=fixed)
        fld = plan.field
        for note in plan.notes:  # region_motion's notes: the style of each region, arrows it ignored
            (warnings if "ignored" in note else notes).append(note)
    check_speed(fld)
    # a region with almost no detail shows little motion (its smooth base stays put): say so
    warnings += featureless_warnings(ph.rgb, {name: in_group(labels, name) for name in GROUPS})
    return Scene(photo=ph, labels=labels, field=fld.astype(np.float32), notes=notes, warnings=warnings, plan=plan,
                 engine=engine, painted=painted)


def load_settings_photo(photo, settings: RenderSettings) -> Photo:
    """The photo loaded as the settings ask: render size, aspect and crop position."""
    return load_photo(photo, max_side=settings.max_side, aspect=settings.aspect, crop=settings.crop)


def frames(scene: Scene, n: int = DEFAULT_FRAMES, *, engine: Engine | str | None = None, device: str | None = None,
           weights=None, progress: Progress | None = None,
           counter: StepCounter | None = None) -> Iterator[np.ndarray]:
    """Yield the n frames (H, W, 3) uint8 of the loop. progress(dict(stage, step, total)).

    engine: None renders with the scene's engine (the one ``prepare`` used); an Engine or a
            name (picked with device and weights) must be that same engine (same identity),
            since its predictors chose the scene's mask and motion: CineGANError otherwise."""
    RenderSettings(frames=n)  # validates n
    eng = scene.engine
    if engine is not None or eng is None:
        asked = engine if isinstance(engine, Engine) else pick_engine(engine or "auto", device, weights)[0]
        if eng is not None and asked.identity() != eng.identity():
            raise CineGANError(f"this scene was prepared for the {eng.name} engine, whose mask and motion it "
                               f"holds; prepare it with engine={asked.name!r} to render with that engine")
        eng = asked
    return eng.frames(scene.photo.rgb, scene.mask, scene.motion, n, progress=progress, counter=counter)


def render(photo, output=None, settings: RenderSettings | None = None, *, frames_dir=None, mask=None,
           motion=None, device: str | None = None, weights=None, progress: Progress | None = None,
           cache=None, renderer=None, **options) -> dict:
    """Render a cinemagraph to `output` (.mp4 | .webm | .gif | .webp, or a list of such
    paths or of (path, format) pairs, all encoded from one render) and/or PNG frames in
    `frames_dir`. A path's format is its extension's, or settings.format when that is
    written with this extension (the "email" GIF: 600 px wide, the poster as its first frame).

    settings: a RenderSettings, or its fields as keyword options
              (``render(p, "loop.gif", frames=48, arrows=["100,80,300,90"])``).
    mask, motion: the user's mask and motion file (see ``prepare``).
    device:   torch device (default: cuda if available, else cpu); weights: folder.
    progress: progress({"stage", "step", "total"}) during the render.
    cache:    a cache.Cache for per-photo work (the automatic mask).
    renderer: an Engine already picked (``engines.pick_engine``), overriding settings.engine.

    Returns {"engine", "engine_message", "seconds", "frames", "width", "height",
    "fps", "notes", "warnings", "styles", "painted", "motion", "videos", "settings", "quality"} (styles:
    region name -> the motion style it got, ``Scene.styles``; painted: what each painted region
    moves as, ``Regions.painted``; motion: what each moving class got, style, direction degrees,
    speed px per frame, whether automatic, ``Scene.motion_report``; quality: ``quality.LoopProbe``
    figures: seam_ratio, frozen_exact, moving_share). Outputs appear only when complete (no
    half-written files on failure).
    """
    from .video import PngFrames, VideoWriter, extension, output_format
    settings = resolve_settings(settings, options)
    outputs = [] if output is None else [output] if isinstance(output, (str, os.PathLike)) else list(output)
    if not outputs and frames_dir is None:
        raise CineGANError("nothing to write: give an output file (-o OUT.mp4) or --frames-dir")
    targets = []
    for out in outputs:
        path, fmt = (out, None) if isinstance(out, (str, os.PathLike)) else out
        ext = output_format(path)
        targets.append((path, fmt or (settings.format if extension(settings.format) == ext else ext)))
    t0 = time.perf_counter()
    if renderer is None:
        eng, message = pick_engine(settings.engine, device, weights)
    else:
        eng, message = renderer, f"{renderer.name} engine"
    scene = prepare(photo, settings, mask=mask, motion=motion, cache=cache, engine=eng)
    sinks = [VideoWriter(path, settings.fps, fmt, max_bytes=settings.budget_bytes(fmt), width=settings.email_width,
                         poster=scene.photo.rgb) for path, fmt in targets]
    if frames_dir is not None:
        sinks.append(PngFrames(frames_dir))
    probe = LoopProbe(scene.photo.rgb, scene.mask)
    sinks.append(probe)
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(s) for s in sinks]
        for frame in eng.frames(scene.photo.rgb, scene.mask, scene.motion, settings.frames, progress=progress):
            for s in opened:
                s.add(frame)
    h, w = scene.photo.rgb.shape[:2]
    return {"engine": eng.name, "engine_message": message, "seconds": time.perf_counter() - t0,
            "frames": settings.frames, "width": w, "height": h, "fps": settings.fps, "notes": scene.notes,
            "warnings": scene.warnings, "styles": scene.styles, "painted": scene.painted,
            "motion": scene.motion_report,
            "videos": [s.info for s in sinks if isinstance(s, VideoWriter)], "settings": settings.to_dict(),
            "quality": probe.info}
