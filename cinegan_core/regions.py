"""The scene classes: what every pixel of a landscape is, once for the whole project.

A label map is an (H, W) uint8 array of these codes:

    code  name            what                                          style
    0     solid           everything that must stay still               -
    1     sky             sky, clouds, haze in the sky                  drift
    2     still_water     lake, pond, calm sea, reflections             ripple
    3     flowing_water   river, stream, rapids, surf, sea with waves   flow
    4     falling_water   waterfall, cascade                            fall

Code 2 was plain "water" before the classes were split: the automatic mask still
gives 2 to all the water it finds. Code that asks "is this water" uses
``is_water`` (codes 2, 3 and 4), never ``labels == 2``.

The render settings address two groups of classes (``GROUPS``): "sky" and
"water" (``RenderSettings.sky`` / ``.water``): a group's direction, speed and
style apply to every class in it.

A leaf module: it imports nothing of ours, so anything may import it.
"""
from __future__ import annotations

import numpy as np

SOLID, SKY, STILL_WATER, FLOWING_WATER, FALLING_WATER = 0, 1, 2, 3, 4
CODES = (SOLID, SKY, STILL_WATER, FLOWING_WATER, FALLING_WATER)
NAMES = {SOLID: "solid", SKY: "sky", STILL_WATER: "still_water", FLOWING_WATER: "flowing_water",
         FALLING_WATER: "falling_water"}
LABELS = {SOLID: "still", SKY: "sky", STILL_WATER: "water", FLOWING_WATER: "flowing water",
          FALLING_WATER: "falling water"}                                    # words a user reads
CLASS_STYLES = {SKY: "drift", STILL_WATER: "ripple", FLOWING_WATER: "flow", FALLING_WATER: "fall"}

MOVING = (SKY, STILL_WATER, FLOWING_WATER, FALLING_WATER)
WATERS = (STILL_WATER, FLOWING_WATER, FALLING_WATER)
WATER = STILL_WATER   # the code given to water whose kind is not known (the automatic mask's "water")

# the groups the settings address, and the code each is labelled with when a mask is painted
GROUPS = {"sky": (SKY,), "water": WATERS}
GROUP_CODES = {"sky": SKY, "water": WATER}
# the motion styles a user can ask of a group ("auto": chosen from the photo)
STYLES = ("auto", "drift", "flow", "ripple")
# how much the automatic mask animates (``automask.fusion.thresholds``): "careful" (the default) only what it is
# sure is sky or water; "bold" that and what it leans to (finds more, and moves something solid more often)
CAREFUL, BOLD = REACHES = ("careful", "bold")
# a group's automatic drift: (direction in degrees, speed in px per frame per 1024 px of the long side)
DEFAULT_DRIFT = {
    "sky": (0.0, 1.0),      # clouds drift right
    "water": (180.0, 0.8),  # used when water is asked to drift; flow follows the water body, ripple has no direction
}


def is_water(labels) -> np.ndarray:
    """(H, W) bool: pixels of any water class (still, flowing or falling). labels: uint8 codes."""
    return np.isin(labels, WATERS)


def is_moving(labels) -> np.ndarray:
    """(H, W) bool: pixels of every class but solid. labels: uint8 codes."""
    return np.asarray(labels) != SOLID


def in_group(labels, group: str) -> np.ndarray:
    """(H, W) bool: pixels of a settings group ("sky" | "water", ``GROUPS``)."""
    return np.isin(labels, GROUPS[group])


def group_of(code: int) -> str | None:
    """The settings group ("sky" | "water") of a class code, None for solid."""
    for name, codes in GROUPS.items():
        if code in codes:
            return name
    return None


def to_groups(labels) -> np.ndarray:
    """(H, W) uint8: labels with every class replaced by its group's code (``GROUP_CODES``):
    water of any kind becomes WATER, sky stays SKY, solid stays SOLID."""
    labels = np.asarray(labels)
    if not np.isin(labels, (FLOWING_WATER, FALLING_WATER)).any():
        return labels
    return np.where(is_water(labels), WATER, labels).astype(np.uint8)


def shares(labels) -> dict:
    """{"sky": s, "water": s}: fraction of the pixels in each settings group."""
    return {name: float(in_group(labels, name).mean()) for name in GROUPS}
