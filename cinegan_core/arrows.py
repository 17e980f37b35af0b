"""Arrows: the user's way to say where content goes.

An arrow (x0, y0) -> (x1, y1) says that content at its start reaches its end over
one loop. Coordinates are px of the photo frame (the whole photo as the user
knows it, before cropping or scaling; see ``framing``). Text form:
"x0,y0,x1,y1", several separated by ";".

A leaf module: it imports nothing of ours but the error type.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import CineGANError


@dataclass(frozen=True)
class Arrow:
    """Content at (x0, y0) travels to (x1, y1) over one loop; coordinates in px of
    the input photo (before any scaling for rendering)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def parse(cls, text: str) -> "Arrow":
        """'X0,Y0,X1,Y1' -> Arrow (CineGANError if malformed)."""
        parts = str(text).replace(" ", "").split(",")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
            raise CineGANError(f"arrow {text!r} must be four numbers X0,Y0,X1,Y1 (pixels of the photo: "
                               "start point, then end point)")
        return cls(*vals)

    @property
    def length(self) -> float:
        """px of the photo frame."""
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)


def coerce_arrows(arrows) -> list[Arrow]:
    """Arrows from "x0,y0,x1,y1;..." text, or a sequence of Arrow objects, 'X0,Y0,X1,Y1'
    strings, 4-sequences (lists, tuples, 1-D arrays) or dicts with x0..y1. CineGANError
    naming what is wrong (a flat list of numbers is not taken for arrows)."""
    if arrows is None:
        return []
    if isinstance(arrows, str):
        return list(parse_arrows(arrows))
    if isinstance(arrows, Arrow):
        return [arrows]
    try:
        items = list(arrows)
    except TypeError:
        raise CineGANError(f"arrows must be 'x0,y0,x1,y1;...' or a list of arrows, got {arrows!r}") from None
    if items and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in items):
        raise CineGANError(f"arrows must be a list of arrows, each four numbers X0,Y0,X1,Y1; got the numbers "
                           f"{items!r} (one arrow: [[x0, y0, x1, y1]] or 'x0,y0,x1,y1')")
    out = []
    for a in items:
        if isinstance(a, Arrow):
            out.append(a)
        elif isinstance(a, str):
            out.append(Arrow.parse(a))
        elif isinstance(a, dict):
            out.append(Arrow.parse(",".join(str(a.get(k)) for k in ("x0", "y0", "x1", "y1"))))
        elif isinstance(a, (list, tuple)) or (getattr(a, "ndim", None) == 1):
            out.append(Arrow.parse(",".join(map(str, a))))
        else:
            raise CineGANError(f"arrow {a!r} must be X0,Y0,X1,Y1 (four numbers, pixels of the photo)")
    return out


def parse_arrows(text: str) -> tuple[Arrow, ...]:
    """'x0,y0,x1,y1;x0,y0,x1,y1' (photo px) -> Arrows; blank parts are skipped."""
    return tuple(Arrow.parse(part) for part in str(text).split(";") if part.strip())
