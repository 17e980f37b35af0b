"""Renderers: the middle box of the pipeline. Each turns (photo, mask, motion)
into the frames of a loop behind one interface (``base.Engine``); the soft edge,
frozen islands and the paste over the photo are shared (``composite``).

* ``pixel``: warps the photo itself; needs no weights (the default).
* ``stylegan``: multi-scale deep feature warping over StyleGAN2 (the paper's
  method); ``stylegan_authors``: the authors' own variant, for comparison.

``pick_engine`` turns the user's choice ("auto" | "pixel" | "stylegan" |
"stylegan-authors") into an engine. Importing this package loads no torch.
"""
from __future__ import annotations

import os

from ..errors import CineGANError
from .base import RENDER_VERSION, Engine

__all__ = ["ENGINES", "Engine", "RENDER_VERSION", "default_device", "pick_engine", "stylegan_engine"]

ENGINES = ("auto", "pixel", "stylegan", "stylegan-authors")


def default_device() -> str:
    """"cuda" when a GPU is usable, else "cpu"."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def stylegan_engine(weights=None, device: str = "cpu", authors: bool = False) -> Engine:
    """The stylegan engine over the checkpoints found for `weights` (networks loaded
    once per process, see ``predictors.backbone.loaded``); authors=True renders the
    way the authors' released code does (for comparisons; weights/README.md)."""
    from ..predictors import loaded
    from .stylegan import StyleGANEngine
    return StyleGANEngine(loaded(weights, device), authors=authors)


def pick_engine(engine: str, device: str | None = None, weights=None) -> tuple[Engine, str]:
    """The engine for a name; returns (engine, message). `auto` is the stylegan
    engine when its checkpoints load, else the pixel engine."""
    if engine not in ENGINES:
        raise CineGANError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    from .. import weights as weights_mod
    from .pixel import PixelEngine
    device = device or default_device()
    if weights and not os.path.isdir(weights):
        raise CineGANError(f"weights folder {weights!r} does not exist (see {weights_mod.README})")
    if engine == "stylegan":
        return stylegan_engine(weights, device), "stylegan engine (MSDFW)"
    if engine == "stylegan-authors":
        return stylegan_engine(weights, device, authors=True), "stylegan engine, the authors' variant"
    if engine == "auto":
        absent = weights_mod.missing(weights)
        if not absent:
            try:
                return stylegan_engine(weights, device), "stylegan engine (MSDFW), its weights were found"
            except CineGANError as e:
                return PixelEngine(device=device), f"pixel engine (stylegan unavailable: {e})"
        return PixelEngine(device=device), "pixel engine (no weights needed; stylegan weights not found)"
    return PixelEngine(device=device), "pixel engine (no weights needed)"
