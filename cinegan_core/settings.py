"""Render settings: one typed, validated object for every way of asking for a loop.

The command line, the Python API, the web app, its ``/generate`` endpoint,
campaign batches and the render cache key all describe a render with a
``RenderSettings``. It holds what the user chose, never data (the photo, a
mask or a motion file travel beside it) and never the machine (device,
weights folder).

Speeds have a unit chosen by ``speed_units``:

* ``"relative"`` (the app, the API, batches, presets): px per frame per
  1024 px of the photo's long side, so a setting looks the same on any size;
* ``"px"`` (the command line's ``--speed``): px per frame at the render size.

``RenderSettings.from_dict`` / ``to_dict`` give a plain-JSON form (API
arguments, batch rows, manifests); ``key()`` is what the cache hashes.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .errors import CineGANError
from .framing import aspect_name
from .arrows import coerce_arrows, parse_arrows
from .engines import ENGINES
from .photo import DEFAULT_MAX_SIDE, check_max_side
from .regions import STYLES

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


def _choice(name: str, value, options) -> str:
    text = str(value).strip().lower()
    if text not in options:
        raise CineGANError(f"unknown {name} {value!r}; choose one of {', '.join(options)}")
    return text


@dataclass(frozen=True)
class RegionMotion:
    """How one region (sky or water) moves; None = automatic / default.

    direction: degrees, 0 = rightward, 90 = downward, 180 = leftward, 270 = upward.
    speed:     px per frame, in the settings' ``speed_units``; 0 freezes the region.
    style:     "auto" | "drift" | "flow" | "ripple" (``regions.STYLES``): drift slides the
               region as one coherent sheet (clouds), flow follows the water body's own
               course (streams, rivers, sea), ripple makes calm water shimmer in place
               (no direction); "auto" chooses from the photo (``motion.choose_style``).
    """

    direction: float | None = None
    speed: float | None = None
    style: str = "auto"

    def __post_init__(self):
        d = _number("direction", self.direction)
        object.__setattr__(self, "direction", None if d is None else d % 360.0)
        object.__setattr__(self, "speed", _number("speed", self.speed, lo=0.0))
        style = "auto" if self.style is None else self.style
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
        if isinstance(value, dict):
            unknown = set(value) - {"direction", "speed", "style"}
            if unknown:
                raise CineGANError(f"unknown region setting(s) {', '.join(sorted(map(str, unknown)))}; "
                                   "use direction, speed, style")
            return cls(value.get("direction"), value.get("speed"), value.get("style"))
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
    direction, speed: for every moving region (per-region values below win).
    sky, water:   RegionMotion per region.
    arrows:       Arrow tuple, px of the input photo: content at the start reaches
                  the end over one loop (a region with arrows follows them).
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
        d = _number("direction", self.direction)
        set_(self, "direction", None if d is None else d % 360.0)
        set_(self, "speed", _number("speed", self.speed, lo=0.0))
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
        """A copy with some fields changed (validated again)."""
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as e:
            raise CineGANError(f"unknown render setting: {e}") from None

    def with_preset(self, name: str) -> "RenderSettings":
        """These settings under a named preset (see PRESETS): every speed and arrow is
        scaled by the preset's factor (on top of nothing: presets do not stack)."""
        name = _choice("preset", name, tuple(PRESETS))
        return self.replace(preset=name, motion_scale=PRESETS[name])

    @classmethod
    def from_dict(cls, data: dict) -> "RenderSettings":
        """From plain JSON data (the form ``to_dict`` writes). Unknown keys are refused;
        "seconds" may stand in for "frames" (frames = round(seconds * fps));
        arrows may be a list or a "x0,y0,x1,y1;..." string."""
        data = dict(data)
        names = {f.name for f in dataclasses.fields(cls)}
        seconds = data.pop("seconds", None)
        unknown = sorted(set(data) - names)
        if unknown:
            raise CineGANError(f"unknown render setting(s): {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(names | {'seconds'}))}")
        if seconds is not None:
            if "frames" in data:
                raise CineGANError("give either frames or seconds, not both")
            fps = _number("fps", data.get("fps", DEFAULT_FPS), lo=0.0, hi=MAX_FPS, allow_none=False, lo_open=True)
            secs = _number("seconds", seconds, lo=0.0, hi=MAX_FRAMES, allow_none=False, lo_open=True)
            data["frames"] = max(MIN_FRAMES, int(round(secs * fps)))
        if isinstance(data.get("arrows"), str):
            data["arrows"] = parse_arrows(data["arrows"])
        return cls(**data)

    def to_dict(self) -> dict:
        """Plain JSON data (round-trips through ``from_dict``)."""
        out = dataclasses.asdict(self)
        out["arrows"] = [[a.x0, a.y0, a.x1, a.y1] for a in self.arrows]
        return out

    def key(self) -> dict:
        """What the render cache hashes: every field that changes the frames or the file
        (the crop position only with a crop, a size limit only for its format)."""
        out = self.to_dict()
        if self.aspect == "original":
            del out["crop_x"], out["crop_y"]
        for fmt, names in _FORMAT_FIELDS.items():
            if self.format != fmt:
                for name in names:
                    del out[name]
        return out

    @property
    def crop(self) -> tuple[float, float]:
        """(crop_x, crop_y)."""
        return self.crop_x, self.crop_y


_FORMAT_FIELDS = {"gif": ("gif_max_mb",), "webp": ("webp_max_mb",), "email": ("email_width", "email_max_mb")}


# --- the web API's flat arguments ------------------------------------------------------------

def api_defaults() -> dict:
    """The ``/generate`` endpoint's optional arguments and their defaults (the page's
    controls start from the same values)."""
    from .motion import DEFAULT_DRIFT
    return {"arrows": "", "sky_direction": DEFAULT_DRIFT["sky"][0], "sky_speed": DEFAULT_DRIFT["sky"][1],
            "water_direction": DEFAULT_DRIFT["water"][0], "water_speed": DEFAULT_DRIFT["water"][1],
            "sky_style": "auto", "water_style": "auto",
            "seconds": 3.0, "fps": DEFAULT_FPS, "format": "mp4", "engine": "auto", "aspect": "original",
            "crop_x": 0.5, "crop_y": 0.5, "gif_max_mb": DEFAULT_GIF_MAX_MB, "webp_max_mb": DEFAULT_WEBP_MAX_MB,
            "email_width": DEFAULT_EMAIL_WIDTH, "email_max_mb": DEFAULT_EMAIL_MAX_MB}


def from_api(args: dict, *, max_side: int | None = 1024, channel_side: int | None = 1920) -> RenderSettings:
    """RenderSettings from the web API's (and the page's) flat arguments.

    args:         any of ``api_defaults()``'s names, with JSON values (numbers may come
                  as numeric strings; None takes the default, as a cleared number box
                  does; arrows as "x0,y0,x1,y1;..." or a list). Speeds are px per frame
                  per 1024 px of the photo's long side; sky_style / water_style are
                  "auto" | "drift" | "flow" | "ripple" (``RegionMotion.style``).
    max_side:     px, longest side rendered for the Original aspect.
    channel_side: px, at most, for a channel aspect (1:1, 4:5, 9:16, 16:9).
    CineGANError for unknown names or values a person must correct."""
    if not isinstance(args, dict):
        raise CineGANError(f"the API arguments must be a mapping of names to values, got {type(args).__name__}")
    defaults = api_defaults()
    unknown = sorted(str(k) for k in args if k not in defaults)
    if unknown:
        raise CineGANError(f"unknown argument(s): {', '.join(unknown)}; known: {', '.join(defaults)}")
    a = {k: defaults[k] if args.get(k) is None else args[k] for k in defaults}
    arrows = a["arrows"]
    if isinstance(arrows, str):
        arrows = parse_arrows(arrows)
    elif not isinstance(arrows, (list, tuple)):
        raise CineGANError(f"arrows must be 'x0,y0,x1,y1;...' or a list of such, got {arrows!r}")
    for name in ("format", "engine", "aspect", "sky_style", "water_style"):
        if not isinstance(a[name], str):
            raise CineGANError(f"{name} must be a name, got {a[name]!r}")
    aspect = aspect_name(a["aspect"])
    return RenderSettings.from_dict({
        "sky": [a["sky_direction"], a["sky_speed"], a["sky_style"]],
        "water": [a["water_direction"], a["water_speed"], a["water_style"]],
        "seconds": a["seconds"], "fps": a["fps"], "format": a["format"], "engine": a["engine"],
        "arrows": list(arrows), "aspect": aspect, "crop_x": a["crop_x"], "crop_y": a["crop_y"],
        "gif_max_mb": a["gif_max_mb"], "webp_max_mb": a["webp_max_mb"], "email_width": a["email_width"],
        "email_max_mb": a["email_max_mb"], "max_side": max_side if aspect == "original" else channel_side})
