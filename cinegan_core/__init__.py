"""CineGAN: still landscape photo -> seamless cinemagraph loop.

The public API (see README.md):

    from cinegan_core import render, prepare, frames
    render("photo.jpg", "loop.mp4")                      # automatic sky / water mask and motion
    render("photo.jpg", "loop.gif", arrows=["100,80,300,90"], n_frames=48)
"""
from . import weights
from .errors import CineGANError
from .loop import StepCounter
from .mask import load_mask, save_mask
from .automask import auto_labels
from .motion import Arrow, load_motion, region_motion, resize_motion, uniform_motion
from .photo import Photo, load_photo
from .pipeline import (DEFAULT_FPS, DEFAULT_FRAMES, ENGINES, Scene, default_device, frames, labels_for,
                       prepare, render)
from .video import PngFrames, VideoWriter, read_video, write_png_frames, write_video

__all__ = [
    "weights",
    "CineGANError", "StepCounter", "load_mask", "save_mask", "auto_labels", "Arrow", "load_motion",
    "region_motion", "resize_motion", "uniform_motion", "labels_for", "Photo", "load_photo", "DEFAULT_FPS", "DEFAULT_FRAMES", "ENGINES", "Scene",
    "default_device", "frames", "prepare", "render", "PngFrames", "VideoWriter", "read_video",
    "write_png_frames", "write_video",
]
