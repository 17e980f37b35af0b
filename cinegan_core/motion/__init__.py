"""Motion: how the moving regions move, in px per frame at the render size.

* ``files``:  motion fields from files in the official format (load, check,
  resize, a uniform drift) and the speed limit;
* ``styles``: the motion styles (drift, flow, ripple) and how one is chosen
  for a region from the photo;
* ``falls``:  falling water: fast, down its own streaks, slowing and churning
  (foam) at its foot;
* ``plans``:  a ``MotionPlan`` per labelled photo (``region_motion``): the
  field, the ripple, frozen islands passed behind, edge easing, arrows.

A motion field is a float32 array ``(2, h, w)``: channel 0 = rightward,
channel 1 = downward, in pixels per frame at the array's own resolution.
"""
from __future__ import annotations

from .falls import FALL_FACTOR, MAX_TILT, fall_field, foam_ripple, foot_weight, streak_tilt
from .files import MAX_SPEED_FRACTION, check_motion, check_speed, load_motion, resize_motion, uniform_motion
from .plans import (EASE_FRACTION, HOLE_FRACTION, MotionPlan, arrow_field, as_plan, enclosed_holes,
                    plausible_labels, region_easing, region_motion)
from .styles import (DEFAULT_DRIFT, RIPPLE_AMPLITUDE, Ripple, WaterCues, check_style, choose_style,
                     flow_directions, mirror_score, ripple_basis, ripple_cycles, water_cues)

__all__ = ["FALL_FACTOR", "MAX_TILT", "fall_field", "foam_ripple", "foot_weight", "streak_tilt", "MAX_SPEED_FRACTION", "check_motion", "check_speed", "load_motion", "resize_motion", "uniform_motion",
           "EASE_FRACTION", "HOLE_FRACTION", "MotionPlan", "arrow_field", "as_plan", "enclosed_holes",
           "plausible_labels", "region_easing", "region_motion", "DEFAULT_DRIFT", "RIPPLE_AMPLITUDE", "Ripple",
           "WaterCues", "check_style", "choose_style", "flow_directions", "mirror_score", "ripple_basis",
           "ripple_cycles", "water_cues"]
