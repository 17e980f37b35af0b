"""The whole job: photo -> mask -> motion -> engine -> composite -> file.

``prepare`` does the per-photo work (load, mask, motion field at render size),
``frames`` runs an engine over it, ``render`` writes the files. All user errors
are raised as CineGANError.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field as dc_field
from typing import Callable, Iterator

import numpy as np

from .errors import CineGANError
from .loop import StepCounter
from .automask import auto_labels
from .mask import SKY, WATER, load_mask
from .motion import check_motion, check_speed, load_motion, region_motion, resize_motion, uniform_motion
from .photo import DEFAULT_MAX_SIDE, Photo, load_photo

Progress = Callable[[dict], None]
ENGINES = ("auto", "pixel", "stylegan")
MIN_FRAMES, MAX_FRAMES = 2, 1000
DEFAULT_FRAMES = 60
DEFAULT_FPS = 20.0


@dataclass
class Scene:
    """What an engine needs, at render size.

    photo:  the loaded Photo (rgb (H, W, 3) uint8).
    labels: (H, W) uint8 regions, 0 frozen, 1 sky, 2 water.
    field:  (2, H, W) float32 motion, px per frame at render size, zero outside the mask.
    notes:  what was decided on the user's behalf, for messages.
    """

    photo: Photo
    labels: np.ndarray
    field: np.ndarray
    notes: list[str] = dc_field(default_factory=list)

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True = moves."""
        return self.labels > 0


def default_device() -> str:
    """"cuda" when a GPU is usable, else "cpu"."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_frames(frames: int, fps: float) -> None:
    if not isinstance(frames, (int, np.integer)) or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise CineGANError(f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {frames}")
    if not (0 < fps <= 120):
        raise CineGANError(f"fps must be above 0 and at most 120, got {fps}")


def auto_labels_cached(photo: Photo, cache=None) -> np.ndarray:
    """The automatic labels (H, W) uint8 of a photo, kept in `cache` (a cache.Cache)
    per photo hash so that changing only the motion or the loop does not redo them."""
    if cache is None:
        return auto_labels(photo.rgb)
    from .cache import make_key
    key = make_key("labels", 1, photo.sha256)
    path, _ = cache.get_or_create("labels", key, ".npy", lambda tmp: np.save(tmp, auto_labels(photo.rgb)))
    labels = np.load(path, allow_pickle=False)
    if labels.shape != photo.rgb.shape[:2]:  # a damaged entry: recompute
        labels = auto_labels(photo.rgb)
    return labels


def labels_for(photo: Photo, mask=None, cache=None) -> tuple[np.ndarray, list[str]]:
    """Region labels (H, W) uint8 for a photo: the automatic sky / water mask, or the
    user's mask with each of its pixels labelled water where the automatic mask
    sees water and sky elsewhere (the user's mask always wins on what moves)."""
    auto = auto_labels_cached(photo, cache)
    if mask is None:
        if not auto.any():
            raise CineGANError("found no sky or water to animate in this photo; paint the areas that "
                               "should move (a mask, white = moves)")
        sky, water = (auto == SKY).mean(), (auto == WATER).mean()
        return auto, [f"mask: automatic, sky {sky:.0%}, water {water:.0%} of the photo"]
    m = load_mask(mask, photo.size)
    return np.where(m, np.where(auto == WATER, WATER, SKY), 0).astype(np.uint8), []


def prepare(photo, *, mask=None, motion=None, direction: float | None = None, speed: float | None = None,
            sky: tuple | None = None, water: tuple | None = None, arrows=None,
            n_frames: int = DEFAULT_FRAMES, max_side: int | None = DEFAULT_MAX_SIDE,
            labels: np.ndarray | None = None, cache=None, predictors=None) -> Scene:
    """Load the photo and build its regions and motion field.

    photo:     path, bytes, PIL image, (H, W, 3) uint8 array or a loaded Photo.
    mask:      path / image / (H, W) bool array, white = moves; resized to the photo.
               None: sky and water are found automatically.
    motion:    .npy path or array (1, 2, h, w) | (2, h, w), px per frame at its own size;
               rescaled to the render size. None: per-region drifts and arrows.
    direction: degrees, 0 = rightward, 90 = downward, for every moving region.
    speed:     px per frame at render size, for every moving region (with a motion
               file: the speed of its fastest vector).
    sky, water: (direction, speed) for one region, overriding the two above;
               either may be None.
    arrows:    [Arrow | "X0,Y0,X1,Y1" | (x0, y0, x1, y1)] in px of the input photo:
               content at the start reaches the end over one loop of n_frames.
    labels:    precomputed (H, W) uint8 regions at render size (skips the mask step).
    cache:     a cache.Cache for the per-photo work (the automatic mask).
    predictors: learned mask and motion (``predictors.Predictors``): used for the
               mask and motion the user did not give.
    """
    ph = photo if isinstance(photo, Photo) else load_photo(photo, max_side=max_side)
    check_frames(n_frames, 1.0)
    for name, value in (("speed", speed), ("sky speed", (sky or (None, None))[1]),
                        ("water speed", (water or (None, None))[1])):
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise CineGANError(f"{name} must be 0 or more px per frame, got {value}")
    notes = []
    if labels is None and mask is None and predictors is not None:
        labels = predictors.labels(ph.rgb)
        if labels is not None:
            if not labels.any():
                raise CineGANError("the learned mask found no sky or water in this photo; paint the areas "
                                   "that should move (a mask, white = moves)")
            notes.append(f"mask: learned (DatasetGAN), sky {(labels == SKY).mean():.0%}, "
                         f"water {(labels == WATER).mean():.0%}")
    if labels is None:
        labels, notes = labels_for(ph, mask, cache)
    m = labels > 0
    if motion is not None:
        raw = load_motion(motion) if not isinstance(motion, np.ndarray) else check_motion(motion)
        fld = resize_motion(raw, ph.size)
        if speed is not None:
            fastest = float(np.hypot(fld[0], fld[1])[m].max())
            if fastest > 0:
                fld *= speed / fastest
        if direction is not None:
            fld = uniform_motion(ph.size, direction, float(np.hypot(fld[0], fld[1])[m].mean()))
        fld = fld * m
        if arrows:
            notes.append("arrows are ignored when a motion file is given")
    else:
        drift = {}
        for name, override in (("sky", sky), ("water", water)):
            d, s = override if override is not None else (None, None)
            drift[name] = (direction if d is None else d, speed if s is None else s)
        patterns = predictors.motion(ph.rgb) if predictors is not None else {}
        if patterns:
            notes.append(f"motion: learned (pix2pixHD) for {', '.join(sorted(patterns))}")
        fld, more = region_motion(labels, frames=n_frames, drift=drift, arrows=arrows, arrow_scale=ph.scale,
                                  patterns=patterns)
        notes += more
    check_speed(fld)
    return Scene(photo=ph, labels=labels, field=fld.astype(np.float32), notes=notes)


def stylegan_engine(weights=None, device: str = "cpu"):
    """The stylegan engine over the checkpoints found for `weights` (networks loaded
    once per process, see ``predictors.backbone.loaded``)."""
    from .engines.stylegan import StyleGANEngine
    from .predictors import loaded
    return StyleGANEngine(loaded(weights, device))


def pick_engine(engine: str, device: str | None = None, weights=None):
    """The engine object for a name; returns (engine, message). `auto` is the
    stylegan engine when its checkpoints are found, else the pixel engine."""
    if engine not in ENGINES:
        raise CineGANError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    from .engines.pixel import PixelEngine
    from . import weights as weights_mod
    device = device or default_device()
    if weights and not os.path.isdir(weights):
        raise CineGANError(f"weights folder {weights!r} does not exist (see {weights_mod.README})")
    if engine == "stylegan":
        return stylegan_engine(weights, device), "stylegan engine (MSDFW)"
    if engine == "auto":
        absent = weights_mod.missing(weights)
        if not absent:
            try:
                return stylegan_engine(weights, device), "stylegan engine (MSDFW), its weights were found"
            except CineGANError as e:
                return PixelEngine(device=device), f"pixel engine (stylegan unavailable: {e})"
        return PixelEngine(device=device), "pixel engine (no weights needed; stylegan weights not found)"
    return PixelEngine(device=device), "pixel engine (no weights needed)"


def frames(scene: Scene, n: int = DEFAULT_FRAMES, *, engine: str = "auto", device: str | None = None,
           weights=None, progress: Progress | None = None,
           counter: StepCounter | None = None) -> Iterator[np.ndarray]:
    """Yield the n frames (H, W, 3) uint8 of the loop. progress(dict(stage, step, total))."""
    check_frames(n, 1.0)
    eng, _ = pick_engine(engine, device, weights)
    return eng.frames(scene.photo.rgb, scene.mask, scene.field, n, progress=progress, counter=counter)


def render(photo, output=None, *, frames_dir=None, mask=None, motion=None, direction=None, speed=None,
           sky=None, water=None, arrows=None, n_frames: int = DEFAULT_FRAMES,
           fps: float = DEFAULT_FPS, engine: str = "auto",
           device: str | None = None, weights=None, max_side: int | None = DEFAULT_MAX_SIDE,
           progress: Progress | None = None, cache=None) -> dict:
    """Render a cinemagraph to `output` (.mp4 | .webm | .gif, or a list of such paths,
    all encoded from one render) and/or PNG frames in `frames_dir`.

    Returns {"engine", "engine_message", "seconds", "frames", "width", "height",
    "fps", "notes", "videos"}. Outputs appear only when complete (no
    half-written files on failure).
    """
    from .video import PngFrames, VideoWriter, output_format
    outputs = [] if output is None else [output] if isinstance(output, (str, os.PathLike)) else list(output)
    if not outputs and frames_dir is None:
        raise CineGANError("nothing to write: give an output file (-o OUT.mp4) or --frames-dir")
    check_frames(n_frames, fps)
    for out in outputs:
        output_format(out)
    t0 = time.perf_counter()
    eng, message = pick_engine(engine, device, weights)
    predictors = None
    if eng.name == "stylegan":
        from .predictors import Predictors
        predictors = Predictors(eng.backbone)
    scene = prepare(photo, mask=mask, motion=motion, direction=direction, speed=speed, sky=sky, water=water,
                    arrows=arrows, n_frames=n_frames, max_side=max_side, cache=cache, predictors=predictors)
    sinks = [VideoWriter(out, fps) for out in outputs]
    if frames_dir is not None:
        sinks.append(PngFrames(frames_dir))
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(s) for s in sinks]
        for frame in eng.frames(scene.photo.rgb, scene.mask, scene.field, n_frames, progress=progress):
            for s in opened:
                s.add(frame)
    h, w = scene.photo.rgb.shape[:2]
    return {"engine": eng.name, "engine_message": message, "seconds": time.perf_counter() - t0,
            "frames": n_frames, "width": w, "height": h, "fps": fps, "notes": scene.notes,
            "videos": [s.info for s in sinks if isinstance(s, VideoWriter)]}
