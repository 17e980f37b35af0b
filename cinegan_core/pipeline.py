"""The whole job: photo -> mask -> motion -> engine -> composite -> file.

``prepare`` does the per-photo work (load, mask, motion field at render size),
``frames`` runs an engine over it, ``render`` writes the files. All user errors
are raised as CineGANError.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field as dc_field
from typing import Callable, Iterator

import numpy as np

from .errors import CineGANError
from .loop import StepCounter
from .mask import load_mask
from .motion import check_motion, check_speed, load_motion, resize_motion, uniform_motion
from .photo import DEFAULT_MAX_SIDE, Photo, load_photo

Progress = Callable[[dict], None]
ENGINES = ("auto", "pixel", "stylegan")
MIN_FRAMES, MAX_FRAMES = 2, 1000
DEFAULT_FRAMES = 60
DEFAULT_FPS = 20.0


@dataclass
class Scene:
    """What an engine needs, at render size.

    photo: the loaded Photo (rgb (H, W, 3) uint8).
    mask:  (H, W) bool, True = moves.
    field: (2, H, W) float32 motion, px per frame at render size, zero outside the mask.
    notes: what was decided on the user's behalf, for messages.
    """

    photo: Photo
    mask: np.ndarray
    field: np.ndarray
    notes: list[str] = dc_field(default_factory=list)


def default_device() -> str:
    """"cuda" when a GPU is usable, else "cpu"."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_frames(frames: int, fps: float) -> None:
    if not isinstance(frames, (int, np.integer)) or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise CineGANError(f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {frames}")
    if not (0 < fps <= 120):
        raise CineGANError(f"fps must be above 0 and at most 120, got {fps}")


def default_speed(size: tuple[int, int]) -> float:
    """px per frame for a drift nobody specified: about 1 px per frame per 1024 px of image."""
    return max(size) / 1024.0


def prepare(photo, *, mask=None, motion=None, direction: float | None = None, speed: float | None = None,
            max_side: int | None = DEFAULT_MAX_SIDE) -> Scene:
    """Load the photo and build its mask and motion field.

    photo:     path, bytes, PIL image, (H, W, 3) uint8 array or a loaded Photo.
    mask:      path / image / (H, W) bool array, white = moves; resized to the photo.
    motion:    .npy path or array (1, 2, h, w) | (2, h, w), px per frame at its own size;
               rescaled to the render size.
    direction: degrees, 0 = rightward, 90 = downward (a uniform drift; overrides the
               motion's direction where both are given).
    speed:     px per frame at render size (with a motion file: its largest vector).
    """
    ph = photo if isinstance(photo, Photo) else load_photo(photo, max_side=max_side)
    notes: list[str] = []
    if mask is None:
        raise CineGANError("a mask is needed: pass --mask MASK.png (white = moves)")
    m = load_mask(mask, ph.size)
    if motion is not None:
        raw = load_motion(motion) if not isinstance(motion, np.ndarray) else check_motion(motion)
        fld = resize_motion(raw, ph.size)
        if speed is not None:
            fastest = float(np.hypot(fld[0], fld[1])[m].max()) if m.any() else 0.0
            if fastest > 0:
                fld *= speed / fastest
        if direction is not None:
            fld = uniform_motion(ph.size, direction, float(np.hypot(fld[0], fld[1])[m].mean()))
    else:
        if speed is None:
            speed = default_speed(ph.size)
            notes.append(f"speed {speed:.2f} px/frame (default)")
        fld = uniform_motion(ph.size, 0.0 if direction is None else direction, speed)
    if speed is not None and speed < 0:
        raise CineGANError(f"speed must be 0 or more px per frame, got {speed}")
    fld = fld * m
    check_speed(fld)
    return Scene(photo=ph, mask=m, field=fld.astype(np.float32), notes=notes)


def pick_engine(engine: str, device: str | None = None, weights=None):
    """The engine object for a name; returns (engine, message)."""
    if engine not in ENGINES:
        raise CineGANError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    from .engines.pixel import PixelEngine
    device = device or default_device()
    if engine == "stylegan":
        raise CineGANError("the stylegan engine is not available yet; use --engine pixel")
    return PixelEngine(device=device), "pixel engine (no weights needed)"


def frames(scene: Scene, n: int = DEFAULT_FRAMES, *, engine: str = "auto", device: str | None = None,
           weights=None, progress: Progress | None = None,
           counter: StepCounter | None = None) -> Iterator[np.ndarray]:
    """Yield the n frames (H, W, 3) uint8 of the loop. progress(dict(stage, step, total))."""
    check_frames(n, 1.0)
    eng, _ = pick_engine(engine, device, weights)
    return eng.frames(scene.photo.rgb, scene.mask, scene.field, n, progress=progress, counter=counter)


def render(photo, output=None, *, frames_dir=None, mask=None, motion=None, direction=None, speed=None,
           n_frames: int = DEFAULT_FRAMES, fps: float = DEFAULT_FPS, engine: str = "auto",
           device: str | None = None, weights=None, max_side: int | None = DEFAULT_MAX_SIDE,
           progress: Progress | None = None) -> dict:
    """Render a cinemagraph to `output` (.mp4 | .webm | .gif) and/or PNG frames in `frames_dir`.

    Returns {"engine", "seconds", "frames", "width", "height", "notes", ...}.
    Outputs appear only when complete (no half-written files on failure).
    """
    from .video import PngFrames, VideoWriter, output_format
    if output is None and frames_dir is None:
        raise CineGANError("nothing to write: give an output file (-o OUT.mp4) or --frames-dir")
    check_frames(n_frames, fps)
    if output is not None:
        output_format(output)
    t0 = time.perf_counter()
    scene = prepare(photo, mask=mask, motion=motion, direction=direction, speed=speed, max_side=max_side)
    eng, message = pick_engine(engine, device, weights)
    sinks = []
    if output is not None:
        sinks.append(VideoWriter(output, fps))
    if frames_dir is not None:
        sinks.append(PngFrames(frames_dir))
    import contextlib
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(s) for s in sinks]
        for frame in eng.frames(scene.photo.rgb, scene.mask, scene.field, n_frames, progress=progress):
            for s in opened:
                s.add(frame)
    h, w = scene.photo.rgb.shape[:2]
    info = {"engine": eng.name, "engine_message": message, "seconds": time.perf_counter() - t0,
            "frames": n_frames, "width": w, "height": h, "fps": fps, "notes": scene.notes}
    if output is not None:
        info["video"] = sinks[0].info
    return info
