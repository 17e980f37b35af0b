"""Render settings: one typed, validated object for every way of asking for a loop.

The command line, the Python API, the web app, its ``/generate`` endpoint,
campaign batches and the render cache key all describe a render with a
``RenderSettings``. It holds what the user chose, never data (the photo, a
mask or a motion file travel beside it) and never the machine (device,
weights folder).

Every surface names settings with the same flat names (``sky_direction``,
``seconds``, ``format``...) and turns them into a ``RenderSettings`` with one
converter, ``to_settings``: the CLI's options, the API's and the page's
arguments (``from_api``), a batch row's columns and the Python API's keyword
options (``render(p, o, frames=48)``). ``FIELDS`` is the one table of those
names: what each means, where the page's control and the API's argument start,
and how the page shows it. For directions and speeds, None or "auto" means
automatic (chosen from the photo); any other None means "not given" (the
default).

Speeds have a unit chosen by ``speed_units``:

* ``"relative"`` (the app, the API, batches, presets): px per frame per
  1024 px of the photo's long side, so a setting looks the same on any size;
* ``"px"`` (the command line's ``--speed``): px per frame at the render size.

``to_dict`` gives a plain-JSON form (manifests, the service's info) that
``to_settings`` (``RenderSettings.from_dict``) reads back; ``key()`` is what
the cache hashes.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Mapping

from .arrows import coerce_arrows
from .engines import ENGINES
from .errors import CineGANError
from .framing import ASPECTS, aspect_name
from .photo import DEFAULT_MAX_SIDE, check_max_side
from .regions import DEFAULT_DRIFT, FALLING_WATER, FLOWING_WATER, GROUPS, SKY, STILL_WATER, STYLES
from .regions import REACHES as MASK_REACHES

FORMATS = ("mp4", "webm", "gif", "webp", "email")  # email: a GIF for email clients (video.VideoWriter)
SPEED_UNITS = ("relative", "px")
MIN_FRAMES, MAX_FRAMES = 2, 1000
DEFAULT_FRAMES = 60
DEFAULT_FPS = 20.0
MAX_FPS = 120.0
MAX_MOTION_SCALE = 10.0
DEFAULT_GIF_MAX_MB = 8.0           # MB (10^6 bytes): what most channels take for a GIF
DEFAULT_WEBP_MAX_MB = 8.0          # MB: the same ceiling as a GIF's (a WebP is usually far below it)
MIN_GIF_MAX_MB, MAX_GIF_MAX_MB = 0.1, 100.0  # MB, the range of every size limit (GIF, WebP, email)
DEFAULT_EMAIL_WIDTH = 600          # px: the width of an email's content column
DEFAULT_EMAIL_MAX_MB = 1.0         # MB: what email clients and senders take without clipping or warnings
MIN_EMAIL_WIDTH, MAX_EMAIL_WIDTH = 100, 2000
AUTO = "auto"                      # a direction or speed chosen from the photo

# what a painted region (brush or mask file) moves as: "auto" classifies each connected painted
# region from the photo (``automask.kinds``); the others say it for every painted region
PAINTED = {AUTO: None, "clouds": SKY, "water": FLOWING_WATER, "falling water": FALLING_WATER,
           "still": STILL_WATER}
PAINTED_AS = {code: name for name, code in PAINTED.items() if code is not None}   # class code -> choice
PAINTED_ALIASES = {"sky": "clouds", "cloud": "clouds", "flowing water": "water", "flowing_water": "water",
                   "flow": "water", "stream": "water", "river": "water", "falling_water": "falling water",
                   "falling-water": "falling water", "fall": "falling water", "waterfall": "falling water",
                   "still water": "still", "still_water": "still", "calm": "still", "ripple": "still",
                   "lake": "still", "": AUTO, "automatic": AUTO}

# A/B presets: named, fixed multipliers of every speed and arrow (the user's directions stay)
PRESETS = {"calm": 0.5, "natural": 1.0, "lively": 1.8}


def _number(name: str, value, *, lo: float | None = None, hi: float | None = None,
            allow_none: bool = True, lo_open: bool = False) -> float | None:
    """value as a float within [lo, hi] (lo excluded when lo_open), or CineGANError."""
    if value is None:
        if allow_none:
            return None
        raise CineGANError(f"{name} is required")
    if isinstance(value, bool):
        raise CineGANError(f"{name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise CineGANError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise CineGANError(f"{name} must be a finite number, got {value!r}")
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise CineGANError(f"{name} must be {'above' if lo_open else 'at least'} {lo:g}, got {x:g}")
    if hi is not None and x > hi:
        raise CineGANError(f"{name} must be at most {hi:g}, got {x:g}")
    return x


def _automatic(name: str, value, **limits) -> float | None:
    """A direction or speed: None or "auto" = automatic (None), else a number."""
    if isinstance(value, str) and value.strip().lower() in (AUTO, ""):
        return None
    try:
        return _number(name, value, **limits)
    except CineGANError:
        raise CineGANError(f"{name} must be a number or \"auto\", got {value!r}") from None


def _choice(name: str, value, options, aliases: Mapping | None = None) -> str:
    text = " ".join(str(value).strip().lower().split())
    text = (aliases or {}).get(text, text)
    if text not in options:
        raise CineGANError(f"unknown {name} {value!r}; choose one of {', '.join(options)}")
    return text


@dataclass(frozen=True)
class RegionMotion:
    """How one region (sky or water) moves; None = automatic.

    direction: degrees, 0 = rightward, 90 = downward, 180 = leftward, 270 = upward
               (None or "auto": chosen from the photo).
    speed:     px per frame, in the settings' ``speed_units``; 0 freezes the region
               (None or "auto": the region's default, ``regions.DEFAULT_DRIFT``).
    style:     "auto" | "drift" | "flow" | "ripple" (``regions.STYLES``): drift slides the
               region as one coherent sheet (clouds), flow follows the water body's own
               course (streams, rivers, sea), ripple makes calm water shimmer in place
               (no direction); "auto" chooses from the photo (``motion.choose_style``).
    """

    direction: float | None = None
    speed: float | None = None
    style: str = AUTO

    def __post_init__(self):
        d = _automatic("direction", self.direction)
        object.__setattr__(self, "direction", None if d is None else d % 360.0)
        object.__setattr__(self, "speed", _automatic("speed", self.speed, lo=0.0))
        style = AUTO if self.style is None else self.style
        if not isinstance(style, str):
            raise CineGANError(f"style must be a name ({', '.join(STYLES)}), got {style!r}")
        object.__setattr__(self, "style", _choice("style", style, STYLES))

    @classmethod
    def coerce(cls, value) -> "RegionMotion":
        """A RegionMotion from itself, None, a (direction, speed) pair, a (direction, speed,
        style) triple or a dict with any of direction, speed, style."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        names = [f.name for f in dataclasses.fields(cls)]
        if isinstance(value, dict):
            unknown = set(value) - set(names)
            if unknown:
                raise CineGANError(f"unknown region setting(s) {', '.join(sorted(map(str, unknown)))}; "
                                   f"use {', '.join(names)}")
            return cls(**value)
        if isinstance(value, (str, bytes)):
            raise CineGANError(f"a region's motion must be (direction, speed[, style]), got {value!r}")
        try:
            parts = tuple(value)
        except TypeError:
            parts = ()
        if len(parts) not in (2, 3):
            raise CineGANError(f"a region's motion must be (direction, speed[, style]), got {value!r}")
        return cls(*parts)


@dataclass(frozen=True)
class RenderSettings:
    """Everything a user chooses about one loop. Validated on creation (CineGANError).

    frames:       frames in one loop (MIN_FRAMES..MAX_FRAMES); it lasts frames / fps s.
    fps:          playback frames per second (0 < fps <= MAX_FPS).
    engine:       "auto" | "pixel" | "stylegan" | "stylegan-authors" (the authors' own
                  choices: splatting, t/(N-1) weights, no low skip; for comparisons).
    max_side:     longest side of the render, px (None: the photo's own size).
    format:       "mp4" | "webm" | "gif" | "webp" | "email" (a GIF for email clients): the file
                  the app, API and batches deliver (the command line takes it from the
                  output's extension unless --format says email).
    direction, speed: for every moving region (per-region values below win); None or
                  "auto": automatic.
    sky, water:   RegionMotion per region.
    arrows:       Arrow tuple, px of the input photo: content at the start reaches
                  the end over one loop (a region with arrows follows them); also
                  "x0,y0,x1,y1;..." text.
    speed_units:  "relative" (px per frame per 1024 px of the long side) | "px"
                  (px per frame at the render size).
    motion_scale: multiplies every speed and arrow, > 0.
    preset:       a name from PRESETS, which sets motion_scale (giving both, they must agree).
    aspect:       "original" | "1:1" | "4:5" | "9:16" | "16:9" (``framing.ASPECTS``; names such
                  as "story" or "square" are accepted): crop to a channel's shape and size.
    crop_x, crop_y: where the crop box lies, 0..1 per axis (0 = left / top, 0.5 = centred).
    gif_max_mb:   largest GIF, MB (10^6 bytes): size, frame rate and colours are chosen to fit.
    webp_max_mb:  largest animated WebP, MB: quality, size and frame rate are chosen to fit.
    email_width:  px, widest email GIF (never enlarged); email_max_mb: its largest size, MB.
    painted:      what the user's painted regions (brush or mask file) move as: "auto" (each
                  connected painted region is classified from the photo, ``automask.kinds``) |
                  "clouds" | "water" (flows along its course) | "falling water" | "still"
                  (still water: ripples in place) (``PAINTED``; "sky", "waterfall", "still water"...
                  are accepted). Regions the automatic mask found keep their own classes.
    mask_reach:   how much the automatic mask animates: "careful" (what it is sure is sky or
                  water) | "bold" (also what it leans to: finds more sky and water, and moves
                  something solid more often) (``MASK_REACHES``).
    """

    frames: int = DEFAULT_FRAMES
    fps: float = DEFAULT_FPS
    engine: str = "auto"
    max_side: int | None = DEFAULT_MAX_SIDE
    format: str = "mp4"
    direction: float | None = None
    speed: float | None = None
    sky: RegionMotion = field(default_factory=RegionMotion)
    water: RegionMotion = field(default_factory=RegionMotion)
    arrows: tuple = ()
    speed_units: str = "relative"
    motion_scale: float = 1.0
    preset: str | None = None
    aspect: str = "original"
    crop_x: float = 0.5
    crop_y: float = 0.5
    gif_max_mb: float = DEFAULT_GIF_MAX_MB
    webp_max_mb: float = DEFAULT_WEBP_MAX_MB
    email_width: int = DEFAULT_EMAIL_WIDTH
    email_max_mb: float = DEFAULT_EMAIL_MAX_MB
    painted: str = AUTO
    mask_reach: str = MASK_REACHES[0]

    def __post_init__(self):
        set_ = object.__setattr__
        if isinstance(self.frames, bool) or not isinstance(self.frames, int):
            try:
                as_int = int(self.frames)
            except (TypeError, ValueError):
                as_int = None
            if as_int is None or isinstance(self.frames, bool) or as_int != self.frames:
                raise CineGANError(f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, "
                                   f"got {self.frames!r}")
            set_(self, "frames", as_int)
        if not MIN_FRAMES <= self.frames <= MAX_FRAMES:
            raise CineGANError(f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {self.frames}")
        set_(self, "fps", _number("fps", self.fps, lo=0.0, hi=MAX_FPS, allow_none=False, lo_open=True))
        set_(self, "engine", _choice("engine", self.engine, ENGINES))
        set_(self, "format", _choice("format", self.format, FORMATS))
        set_(self, "max_side", check_max_side(self.max_side))
        d = _automatic("direction", self.direction)
        set_(self, "direction", None if d is None else d % 360.0)
        set_(self, "speed", _automatic("speed", self.speed, lo=0.0))
        set_(self, "sky", RegionMotion.coerce(self.sky))
        set_(self, "water", RegionMotion.coerce(self.water))
        set_(self, "arrows", tuple(coerce_arrows(self.arrows)))
        set_(self, "speed_units", _choice("speed_units", self.speed_units, SPEED_UNITS))
        set_(self, "motion_scale", _number("motion_scale", self.motion_scale, lo=0.0, hi=MAX_MOTION_SCALE,
                                           allow_none=False, lo_open=True))
        if self.preset is not None:
            set_(self, "preset", _choice("preset", self.preset, tuple(PRESETS)))
            factor = PRESETS[self.preset]
            if self.motion_scale == 1.0:  # the default: the preset sets it
                set_(self, "motion_scale", factor)
            elif not math.isclose(self.motion_scale, factor):
                raise CineGANError(f"preset {self.preset} means motion_scale {factor:g}, but "
                                   f"motion_scale {self.motion_scale:g} was given; give one of them")
        set_(self, "aspect", aspect_name(self.aspect))
        set_(self, "crop_x", _number("crop_x", self.crop_x, lo=0.0, hi=1.0, allow_none=False))
        set_(self, "crop_y", _number("crop_y", self.crop_y, lo=0.0, hi=1.0, allow_none=False))
        for name in ("gif_max_mb", "webp_max_mb", "email_max_mb"):
            set_(self, name, _number(name, getattr(self, name), lo=MIN_GIF_MAX_MB, hi=MAX_GIF_MAX_MB,
                                     allow_none=False))
        width = _number("email_width", self.email_width, lo=MIN_EMAIL_WIDTH, hi=MAX_EMAIL_WIDTH, allow_none=False)
        if not width.is_integer():
            raise CineGANError(f"email_width must be a whole number of px, got {self.email_width!r}")
        set_(self, "email_width", int(width))
        set_(self, "painted", _choice("painted", AUTO if self.painted is None else self.painted, tuple(PAINTED),
                                      PAINTED_ALIASES))
        set_(self, "mask_reach", _choice("mask_reach", self.mask_reach, MASK_REACHES))

    # -- derived values ----------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Length of one loop in seconds."""
        return self.frames / self.fps

    def region(self, name: str) -> RegionMotion:
        """The effective motion of region "sky" | "water": its own values, else the
        shared direction / speed, else None (automatic)."""
        own = getattr(self, name)
        return RegionMotion(self.direction if own.direction is None else own.direction,
                            self.speed if own.speed is None else own.speed, own.style)

    def budget_bytes(self, fmt: str | None = None) -> int | None:
        """The size limit in bytes of an animated image in `fmt` (default: this format):
        gif_max_mb, webp_max_mb or email_max_mb; None for a video."""
        mb = {"gif": self.gif_max_mb, "webp": self.webp_max_mb, "email": self.email_max_mb}.get(fmt or self.format)
        return None if mb is None else round(mb * 1e6)

    def speed_unit(self, long_side: int) -> float:
        """px per frame at a render whose long side is long_side px, per unit of this
        object's speeds (``motion_scale`` is applied to the finished motion, not here)."""
        return long_side / 1024.0 if self.speed_units == "relative" else 1.0

    # -- building and reporting --------------------------------------------------------
    def replace(self, **changes) -> "RenderSettings":
        """A copy with some fields changed, given by their flat names too (validated
        again). Changing the preset changes the motion scale it set (presets do not stack)."""
        if "preset" in changes and "motion_scale" not in changes and self.preset is not None:
            changes["motion_scale"] = 1.0  # the preset's own scale was set by the old preset
        return to_settings(changes, base=self)

    def with_preset(self, name: str) -> "RenderSettings":
        """These settings under a named preset (see PRESETS): every speed and arrow is
        scaled by the preset's factor (on top of nothing: presets do not stack)."""
        name = _choice("preset", name, tuple(PRESETS))
        return self.replace(preset=name, motion_scale=PRESETS[name])

    @classmethod
    def from_dict(cls, data: Mapping) -> "RenderSettings":
        """From plain JSON data: the form ``to_dict`` writes, or flat names (``to_settings``)."""
        return to_settings(data)

    def to_dict(self) -> dict:
        """Plain JSON data (round-trips through ``from_dict``)."""
        out = dataclasses.asdict(self)
        out["arrows"] = [[a.x0, a.y0, a.x1, a.y1] for a in self.arrows]
        return out

    def key(self) -> dict:
        """What the render cache hashes of the settings: every field that changes the
        frames or the file (the crop position only with a crop, a size limit only for its format)."""
        out = self.to_dict()
        if self.aspect == "original":
            del out["crop_x"], out["crop_y"]
        for f in FIELDS:
            if f.formats and self.format not in f.formats:
                del out[f.name]
        return out

    @property
    def crop(self) -> tuple[float, float]:
        """(crop_x, crop_y)."""
        return self.crop_x, self.crop_y


# --- the flat names: one table for every surface ---------------------------------------------

@dataclass(frozen=True)
class Field:
    """One flat setting: its name on every surface (API argument, batch column, page
    control, keyword option), what it means and how the page shows it.

    name:    the flat name; a RenderSettings field, a region's ``<group>_<part>`` or "seconds".
    help:    plain words: the API page's description of the argument.
    start:   where the page's control and the API's argument start (the API's default);
             None when it is not one of theirs.
    type:    float | int | str, the API's type of the argument (a number given as text is
             read as one for float and int; as a whole number for int).
    control: how the page shows it: "slider" | "number" | "radio" | "dropdown" | "" (none,
             or a control of its own, such as the arrows drawn on the photo).
    label, info: the page's words; lo, hi, step: the control's range; choices: (words, value).
    formats: the formats the setting is about (a size limit), () = every one: it is in the
             cache key, and the page shows it, only for those (``FORMAT_FIELDS``).
    """

    name: str
    help: str
    start: object = None
    type: type = float
    control: str = ""
    label: str = ""
    info: str = ""
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple = ()
    formats: tuple = ()


STYLE_CHOICES = (("Automatic", AUTO), ("Drift: one slow sheet (clouds)", "drift"),
                 ("Flow: along the water's course", "flow"), ("Ripple: shimmer in place (calm water)", "ripple"))
ASPECT_CHOICES = (("Original", "original"), ("Square 1:1", "1:1"), ("Portrait 4:5", "4:5"),
                  ("Story 9:16", "9:16"), ("Wide 16:9", "16:9"))
assert tuple(v for _, v in ASPECT_CHOICES) == ASPECTS
FORMAT_CHOICES = (("MP4", "mp4"), ("WebM", "webm"), ("WebP", "webp"), ("GIF", "gif"), ("Email GIF", "email"))
assert tuple(sorted(v for _, v in FORMAT_CHOICES)) == tuple(sorted(FORMATS))
ENGINE_CHOICES = (("Automatic", "auto"), ("Standard (fast)", "pixel"), ("StyleGAN (best quality)", "stylegan"))
AUTO_DIRECTION_INFO = "empty = automatic; 0 = right, 90 = down, 180 = left, 270 = up"
PAINTED_CHOICES = (("Automatic", AUTO), ("Clouds", "clouds"), ("Water", "water"), ("Falling water", "falling water"),
                   ("Still water", "still"))
assert tuple(v for _, v in PAINTED_CHOICES) == tuple(PAINTED)
MASK_REACH_CHOICES = (("Careful", "careful"), ("Bold", "bold"))
assert tuple(v for _, v in MASK_REACH_CHOICES) == MASK_REACHES

# The /generate endpoint's arguments, in its order (after photo and mask), then the names only
# the command line, batches and the Python API use.
FIELDS = (
    Field("arrows", "optional 'x0,y0,x1,y1;x0,y0,x1,y1' in px of the whole photo: content at the start "
          "reaches the end in one loop.", start="", type=str),
    Field("sky_direction", "degrees, 0 = rightward, 90 = downward; \"auto\" (or empty): chosen from the photo.",
          start=AUTO, control="number", label="Sky direction (°)", info=AUTO_DIRECTION_INFO, lo=0, hi=359, step=1),
    Field("sky_speed", "px per frame per 1024 px of the photo's long side; \"auto\" (or empty): the sky's own "
          f"({DEFAULT_DRIFT['sky'][1]:g}).", start=AUTO, control="number", label="Sky speed",
          info="empty = automatic; 0 = still, 1 = gentle drift", lo=0, hi=4, step=0.1),
    Field("water_direction", "degrees, 0 = rightward, 90 = downward; \"auto\" (or empty): chosen from the photo "
          "(streams flow downhill, falls fall).", start=AUTO, control="number", label="Water direction (°)",
          info=AUTO_DIRECTION_INFO, lo=0, hi=359, step=1),
    Field("water_speed", "px per frame per 1024 px of the photo's long side; \"auto\" (or empty): the water's own "
          f"({DEFAULT_DRIFT['water'][1]:g}; falling water falls several times faster).", start=AUTO, control="number",
          label="Water speed", info="empty = automatic; 0 = still", lo=0, hi=4, step=0.1),
    Field("seconds", "length of the loop.", start=DEFAULT_FRAMES / DEFAULT_FPS, control="slider",
          label="Length (s)", lo=1, hi=10, step=0.5),
    Field("fps", "playback rate.", start=DEFAULT_FPS, control="slider", label="Frames per second",
          lo=10, hi=30, step=1),
    Field("format", "mp4, webm, gif, webp (animated, for an img tag) or email (a GIF for email clients).",
          start="mp4", type=str, control="radio", label="File",
          choices=FORMAT_CHOICES),
    Field("engine", "auto, pixel or stylegan.", start="auto", type=str, control="radio", label="Renderer",
          choices=ENGINE_CHOICES),
    Field("aspect", "original, 1:1, 4:5, 9:16 or 16:9 (also square, portrait, story, wide): crop to a "
          "channel's shape and size.", start="original", type=str, control="radio", label="3. Format for",
          choices=ASPECT_CHOICES),
    Field("crop_x", "where the crop box lies across, 0 = left edge, 0.5 = centred, 1 = right edge.", start=0.5,
          control="slider", label="Crop: left ↔ right", lo=0, hi=1, step=0.01),
    Field("crop_y", "where the crop box lies down, 0 = top edge, 0.5 = centred, 1 = bottom edge.", start=0.5,
          control="slider", label="Crop: top ↕ bottom", lo=0, hi=1, step=0.01),
    Field("gif_max_mb", "largest GIF in MB; size, frame rate and colours are chosen to fit.",
          start=DEFAULT_GIF_MAX_MB, control="number", label="GIF size limit (MB)", lo=MIN_GIF_MAX_MB,
          hi=MAX_GIF_MAX_MB, step=0.5, formats=("gif",)),
    Field("sky_style", "how the sky moves: auto, drift (one coherent sheet, slower near the horizon), flow or "
          "ripple.", start=AUTO, type=str, control="dropdown", label="Sky motion", choices=STYLE_CHOICES),
    Field("water_style", "how the water moves: auto (chosen from the photo), flow (along the water's own course), "
          "ripple (calm water shimmers in place) or drift.", start=AUTO, type=str, control="dropdown",
          label="Water motion", choices=STYLE_CHOICES),
    Field("webp_max_mb", "largest animated WebP in MB; quality, size and frame rate are chosen to fit.",
          start=DEFAULT_WEBP_MAX_MB, control="number", label="WebP size limit (MB)", lo=MIN_GIF_MAX_MB,
          hi=MAX_GIF_MAX_MB, step=0.5, formats=("webp",)),
    Field("email_width", "widest email GIF in px (never enlarged).", start=DEFAULT_EMAIL_WIDTH, type=int,
          control="number", label="Email width (px)", lo=MIN_EMAIL_WIDTH, hi=MAX_EMAIL_WIDTH, step=10,
          formats=("email",)),
    Field("email_max_mb", "largest email GIF in MB; frame rate, colours and then size are chosen to fit.",
          start=DEFAULT_EMAIL_MAX_MB, control="number", label="Email size limit (MB)", lo=MIN_GIF_MAX_MB,
          hi=MAX_GIF_MAX_MB, step=0.1, formats=("email",)),
    Field("painted", "what painted areas (the mask, or brush strokes) move as: auto (each painted region is "
          "recognised from the photo), clouds, water (flows along its course), falling water or still (still "
          "water: ripples in place). Areas the automatic mask found keep their own kind.", start=AUTO, type=str,
          control="radio", label="Painted area moves as", choices=PAINTED_CHOICES),
    Field("mask_reach", "how much the automatic mask animates: careful (only what it is sure is sky or water) or "
          "bold (also what it is unsure of: finds more sky and water, and moves something solid more often).",
          start=MASK_REACHES[0], type=str, control="radio", label="Automatic mask",
          info="bold also moves what it is unsure of; painting starts over", choices=MASK_REACH_CHOICES),
    # not arguments of the API (the page renders at the service's sizes, in relative speeds)
    Field("frames", "frames in one loop (instead of seconds).", type=int),
    Field("direction", "degrees, every moving region; \"auto\": chosen from the photo."),
    Field("speed", "px per frame, every moving region; \"auto\": the default."),
    Field("max_side", "longest side of the render, px.", type=int),
    Field("speed_units", "relative (per 1024 px of the long side) or px (at the render size).", type=str),
    Field("motion_scale", "multiplies every speed and arrow."),
    Field("preset", "calm, natural or lively: scales every speed and arrow.", type=str),
)
FIELD = {f.name: f for f in FIELDS}
FORMAT_FIELDS = {fmt: tuple(f.name for f in FIELDS if fmt in f.formats) for fmt in FORMATS}
API_FIELDS = tuple(f for f in FIELDS if f.start is not None)


def region_names() -> dict[str, tuple[str, str]]:
    """Flat names of the regions' parts: "sky_direction" -> ("sky", "direction")."""
    return {f"{g}_{part.name}": (g, part.name) for g in GROUPS for part in dataclasses.fields(RegionMotion)}


def known_names() -> list[str]:
    """Every flat name ``to_settings`` takes."""
    names = [f.name for f in dataclasses.fields(RenderSettings)]
    return names + [n for n in (*region_names(), "seconds") if n not in names]


def _typed(name: str, value):
    """A number given as text ("24", " 0.5 ") as a number, for the numeric settings;
    anything else is passed on as it is (RenderSettings says what is wrong with it)."""
    f = FIELD.get(name)
    if not isinstance(value, str) or f is None or f.type not in (int, float):
        return value
    try:
        x = float(value)
    except ValueError:
        return value
    return int(x) if x.is_integer() and f.type is int else x


def to_settings(values: Mapping, *, base: RenderSettings | None = None) -> RenderSettings:
    """RenderSettings from flat names: the one converter of every surface (the command
    line, the API and page, batch rows, the Python API's keyword options).

    values: {name: value} with the names of ``known_names()``: RenderSettings fields
            (sky / water as a dict, pair or triple), the regions' parts as
            ``sky_direction``, ``water_speed``, ``sky_style``..., and "seconds" (frames =
            round(seconds * fps)). Numbers may come as text. For directions and speeds,
            None or "auto" means automatic; any other None means not given. Arrows as
            "x0,y0,x1,y1;..." or a list. The order of the names never matters.
    base:   the settings the values change (default: the defaults).
    CineGANError, in the user's own terms, for unknown names or values a person must correct.
    """
    if not isinstance(values, Mapping):
        raise CineGANError(f"settings must be a mapping of names to values, got {type(values).__name__}")
    fields = {f.name for f in dataclasses.fields(RenderSettings)}
    regions = region_names()
    unknown = sorted(str(k) for k in values if k not in fields and k not in regions and k != "seconds")
    if unknown:
        raise CineGANError(f"unknown render setting(s) {', '.join(unknown)}; known: {', '.join(known_names())}")
    data, parts = {}, {}
    for name, value in values.items():
        value = _typed(name, value)
        if name in regions:
            group, part = regions[name]
            parts.setdefault(group, {})[part] = value
        elif value is not None or name in ("direction", "speed", "max_side", "preset"):
            data[name] = value  # None: automatic (direction, speed), no limit (max_side), no preset
    for group, given in parts.items():
        if group in data:
            flat = ", ".join(f"{group}_{p}" for p in given)
            raise CineGANError(f"give the {group}'s motion either as {flat} or as {group}, not both")
        data[group] = given if base is None else dataclasses.replace(getattr(base, group), **given)
    seconds = data.pop("seconds", None)
    if seconds is not None:
        if "frames" in data:
            raise CineGANError("give either frames or seconds, not both")
        fps = _number("fps", data.get("fps", DEFAULT_FPS if base is None else base.fps), lo=0.0, hi=MAX_FPS,
                      allow_none=False, lo_open=True)
        secs = _number("seconds", seconds, lo=0.0, allow_none=False, lo_open=True)
        exact = secs * fps
        if not exact < MAX_FRAMES + 0.5:
            many = f"{exact:.0f}" if math.isfinite(exact) else "too many"
            raise CineGANError(f"a loop of {secs:g} s at {fps:g} fps would have {many} frames, more than the "
                               f"{MAX_FRAMES} a loop may have: make it at most "
                               f"{math.floor(MAX_FRAMES / fps * 10) / 10:g} s long or lower the fps")
        data["frames"] = max(MIN_FRAMES, round(exact))
    if base is None:
        return RenderSettings(**data)
    return dataclasses.replace(base, **data)


def from_api(args: Mapping, *, max_side: int | None = 1024, channel_side: int | None = 1920) -> RenderSettings:
    """RenderSettings from the web API's (and the page's) arguments (``API_FIELDS``).

    args:         any of the API's names, with JSON values (numbers may come as numeric
                  strings; a name not given takes its ``start``, the API's default). Speeds
                  are px per frame per 1024 px of the photo's long side.
    max_side:     px, longest side rendered for the Original aspect.
    channel_side: px, at most, for a channel aspect (1:1, 4:5, 9:16, 16:9).
    CineGANError for unknown names or values a person must correct."""
    if not isinstance(args, Mapping):
        raise CineGANError(f"the API arguments must be a mapping of names to values, got {type(args).__name__}")
    known = [f.name for f in API_FIELDS]
    unknown = sorted(str(k) for k in args if k not in known)
    if unknown:
        raise CineGANError(f"unknown argument(s): {', '.join(unknown)}; known: {', '.join(known)}")
    values = {**api_defaults(), **args}
    aspect = aspect_name("original" if values["aspect"] is None else values["aspect"])
    return to_settings({**values, "max_side": max_side if aspect == "original" else channel_side})


def api_defaults() -> dict:
    """The ``/generate`` endpoint's arguments and their defaults (the page's controls start
    from the same values): ``FIELDS``' starts."""
    return {f.name: f.start for f in API_FIELDS}
