"""CineGAN: still landscape photo -> seamless cinemagraph loop.

The public API (see README.md):

    from cinegan_core import render, RenderSettings
    render("photo.jpg", "loop.mp4")                      # automatic sky / water mask and motion
    render("photo.jpg", "loop.gif", frames=48, arrows=["100,80,300,90"])
    render("photo.jpg", "loop.mp4", RenderSettings(fps=24).with_preset("calm"))
"""
from . import weights
from .errors import CineGANError
from .loop import StepCounter
from .mask import load_mask, save_mask
from .automask import AutoMask, auto_labels, auto_mask
from .motion import Arrow, load_motion, region_motion, resize_motion, uniform_motion
from .photo import Photo, load_photo
from .pipeline import Scene, default_device, frames, labels_for, prepare, render
from .settings import DEFAULT_FPS, DEFAULT_FRAMES, ENGINES, FORMATS, PRESETS, RegionMotion, RenderSettings
from .video import PngFrames, VideoWriter, read_video, write_png_frames, write_video
from .batch import batch  # campaign batches (the name is the function; the module is cinegan_core.batch)

__all__ = [
    "weights",
    "CineGANError", "StepCounter", "load_mask", "save_mask", "AutoMask", "auto_labels", "auto_mask", "Arrow", "load_motion",
    "region_motion", "resize_motion", "uniform_motion", "labels_for", "Photo", "load_photo",
    "Scene", "default_device", "frames", "prepare", "render",
    "DEFAULT_FPS", "DEFAULT_FRAMES", "ENGINES", "FORMATS", "PRESETS", "RegionMotion", "RenderSettings",
    "PngFrames", "VideoWriter", "read_video", "write_png_frames", "write_video", "batch",
]
