"""CineGAN: still landscape photo -> seamless cinemagraph loop.

The public API (see README.md):

    from cinegan_core import render, RenderSettings
    render("photo.jpg", "loop.mp4")                      # automatic sky / water mask and motion
    render("photo.jpg", "loop.gif", frames=48, arrows=["100,80,300,90"])
    render("photo.jpg", "loop.mp4", RenderSettings(fps=24).with_preset("calm"))

Names that need torch or OpenCV (render, prepare, the motion functions...) are
imported on first use, so ``import cinegan_core`` and ``python -m cinegan_core
--help`` load neither; every name below works as an ordinary attribute.
"""
from __future__ import annotations

import importlib

from .arrows import Arrow
from .batch import batch  # campaign batches (the name is the function; the package is cinegan_core.batch)
from .errors import CineGANError
from .mask import load_mask, save_mask
from .photo import Photo, load_photo
from .settings import DEFAULT_FPS, DEFAULT_FRAMES, ENGINES, FORMATS, PRESETS, RegionMotion, RenderSettings

_LAZY = {  # name -> the module that defines it, imported on first use
    "StepCounter": "loop",
    "AutoMask": "automask", "auto_labels": "automask", "auto_mask": "automask",
    "load_motion": "motion", "region_motion": "motion", "resize_motion": "motion", "uniform_motion": "motion",
    "Scene": "pipeline", "frames": "pipeline", "labels_for": "pipeline", "prepare": "pipeline", "render": "pipeline",
    "default_device": "engines",
    "PngFrames": "video", "VideoWriter": "video", "read_video": "video", "write_png_frames": "video",
    "write_video": "video",
}

__all__ = [
    "weights",
    "CineGANError", "StepCounter", "load_mask", "save_mask", "AutoMask", "auto_labels", "auto_mask", "Arrow", "load_motion",
    "region_motion", "resize_motion", "uniform_motion", "labels_for", "Photo", "load_photo",
    "Scene", "default_device", "frames", "prepare", "render",
    "DEFAULT_FPS", "DEFAULT_FRAMES", "ENGINES", "FORMATS", "PRESETS", "RegionMotion", "RenderSettings",
    "PngFrames", "VideoWriter", "read_video", "write_png_frames", "write_video", "batch",
]


def __getattr__(name: str):
    """A lazily imported public name, or a submodule (``cinegan_core.video``) on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
