"""Motion plans: how every moving region of a labelled photo moves, with no motion file.

``region_motion`` turns a label map (``regions`` codes) and the user's settings
(per group: direction, speed, style; arrows) into a ``MotionPlan``: a stationary
field for drifting and flowing regions, eased to zero at each region's edge
(``region_easing``) and continued behind small frozen islands
(``enclosed_holes``), the ripple of calm water, how many cycles each region loops
(a fast region that is short along its motion loops several times: ``loop.cycle_count``),
and notes saying what was chosen. The engines render a plan through ``loop.LoopPolicy``.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import cv2
import numpy as np

from ..arrows import Arrow, coerce_arrows
from ..composite import uncopyable
from ..errors import CineGANError
from ..loop import cycle_count
from ..regions import (CLASS_STYLES, FALLING_WATER, GROUP_CODES, GROUPS, LABELS, MOVING, NAMES, SKY, SOLID, WATER,
                       group_of, is_moving)
from .falls import FALL_FACTOR, FOAM_AMPLITUDE, fall_field, foam_ripple
from .files import check_speed_value, uniform_motion
from .styles import (DEFAULT_DRIFT, RIPPLE_AMPLITUDE, RIPPLE_WAVES, Ripple, check_style, choose_style,
                     flow_directions, perspective, ripple_basis, ripple_cycles)

RIVER_HINT = "; a river? set the water motion to flow"  # said after an automatic ripple: calm rivers are
                      # often taken for still water (the parser's labels call some still, some flowing)
EASE_FRACTION = 0.02  # motion eases to zero over this fraction of the short side inside each region
EASE_SHEAR = 1.5      # at most: how far content travels in one cycle per px of the band over which the motion
                      # eases to zero at a region's edge (beyond it the shear across the band draws the content
                      # along the edge into streaks; a faster region eases over a wider band where it can)


@dataclass
class MotionPlan:
    """How every moving region moves: what the engines render through ``loop.LoopPolicy``.

    field:  (2, H, W) float32, px per frame: the stationary motion of drifting and flowing
            regions (zero outside the mask and in rippling regions; it continues through
            ``holes``).
    ripple: the periodic displacement of rippling regions, or None.
    holes:  (H, W) bool, small frozen islands inside a moving region (``enclosed_holes``):
            still in the output, but what moves passes behind them (an engine samples
            them filled, ``composite.pass_behind``, and does not treat them as occluders), or
            None. With the photo given, an island that no nearby copy of it can fill
            (``composite.uncopyable``) is left out: it stays an occluder.
    styles: region name -> the style it got: "drift" | "flow" | "ripple", or "arrows",
            "learned", "file" when the user's arrows, a learned predictor or a motion file set it.
    notes:  what was decided on the user's behalf, for messages.
    report: per moving class, what it got (``region_motion``'s ``_report``: style, direction
            degrees, speed px per frame, whether automatic, cycles), for info["motion"].
    cycles: (H, W) uint8, whole cycles per loop of every point (``loop.cycle_count``: a fast
            region that is short along its motion loops several times), or None: one everywhere.
    veil:   (H, W) bool, the regions that fall (style "fall"): water over rock that shows through
            it, which stays (``composite.Rebase``, ``detail.behind_veil``), or None: none falls.
    """

    field: np.ndarray
    ripple: Ripple | None = None
    styles: dict = dc_field(default_factory=dict)
    notes: list = dc_field(default_factory=list)
    holes: np.ndarray | None = None
    report: list = dc_field(default_factory=list)
    cycles: np.ndarray | None = None
    veil: np.ndarray | None = None


def as_plan(motion) -> MotionPlan:
    """A MotionPlan from a plan or a bare (2, H, W) field (which then only drifts/flows)."""
    return motion if isinstance(motion, MotionPlan) else MotionPlan(np.asarray(motion, np.float32))


HOLE_FRACTION = 0.02  # frozen islands inside a region up to this fraction of the photo: things in front of it


def enclosed_holes(labels: np.ndarray, region: np.ndarray, max_fraction: float = HOLE_FRACTION) -> np.ndarray:
    """(H, W) bool: frozen islands inside `region` (a bird, a kite, a lamp, a speck the
    mask left still, also where it touches the image border), i.e. components of frozen
    pixels (label 0) of at most max_fraction of the photo whose surroundings inside the
    image are the region (at least 90 % of the ring around them). Things in front of the
    sky or the water: what lies behind them keeps moving."""
    H, W = labels.shape
    frozen = (labels == SOLID).astype(np.uint8)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(frozen, connectivity=8)
    out = np.zeros((H, W), bool)
    ring_kernel = np.ones((3, 3), np.uint8)
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if area > max_fraction * H * W:
            continue
        y0, y1, x0, x1 = max(y - 1, 0), min(y + h + 1, H), max(x - 1, 0), min(x + w + 1, W)
        part = comp[y0:y1, x0:x1] == k
        ring = cv2.dilate(part.astype(np.uint8), ring_kernel).astype(bool) & ~part
        if ring.any() and region[y0:y1, x0:x1][ring].mean() >= 0.9:
            out[y0:y1, x0:x1] |= part
    return out


def passed_islands(labels: np.ndarray, photo: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """The frozen islands each moving class passes behind, and those left occluders.

    labels: (H, W) uint8 ``regions`` codes (as ``region_motion`` reads them, ``plausible_labels``).
    photo:  (H, W, 3) uint8 or None.
    Returns ({code: (H, W) bool} for every class present, ``enclosed_holes``, and (H, W) bool): with
    the photo, an island no nearby copy of it can fill (``composite.uncopyable``) is taken out of the
    first and returned in the second, an occluder like any frozen edge; a fall's islands always pass
    (its rocks take the water above them, ``composite.fill_upstream``). Without the photo none is."""
    holes = {k: enclosed_holes(labels, labels == k) for k in MOVING if (labels == k).any()}
    bad = np.zeros(labels.shape, bool)
    if photo is not None and any(h.any() for k, h in holes.items() if k != FALLING_WATER):
        every = np.logical_or.reduce(list(holes.values()))
        islands = every & ~holes[FALLING_WATER] if FALLING_WATER in holes else every
        bad = uncopyable(photo, islands, is_moving(labels) & ~every)
        holes = {k: h & ~bad for k, h in holes.items()}
    return holes, bad


def region_easing(labels: np.ndarray, ease_px: float, holes: dict | None = None,
                  wide: dict | None = None) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 outside the moving regions and at every region's
    edge (also where sky meets water), rising smoothly to 1 ease_px inside. wide: label ->
    px, a wider band a fast region asks for (``EASE_SHEAR``), used where the region is
    thick enough to hold it (at most a third of its half-width); elsewhere the narrow band
    keeps the shear in a thin seam rather than spreading streaks over a wide one. Small frozen
    islands inside a region (``enclosed_holes``; holes: label -> those already found) are
    not edges: the clouds or the water pass behind them at full speed instead of slowing
    down and piling up around them."""
    out = np.zeros(labels.shape, np.float32)
    for k in np.unique(labels):
        if k == SOLID:
            continue
        region = labels == k
        through = region | (holes[k] if holes and k in holes else enclosed_holes(labels, region))
        d = cv2.distanceTransform(through.astype(np.uint8), cv2.DIST_L2, 5) if not through.all() \
            else np.full(region.shape, 1e6, np.float32)
        # a thin region (a narrow fall, a stream seen from afar) eases over at most a third of
        # its half-width, so that its middle moves at full speed
        thick = float(d[region].max()) if region.any() else 0.0
        px = (wide or {}).get(k, ease_px)
        px = px if px <= thick / 3.0 else ease_px
        u = np.clip((d - 0.5) / max(min(px, thick / 3.0), 1.5), 0, 1)  # the outermost pixels barely move
        out[through] = (u * u * (3 - 2 * u))[through]  # smoothstep
    return out


def plausible_labels(labels: np.ndarray, fixed: np.ndarray | None = None) -> np.ndarray:
    """Labels for motion: a part of water of unknown kind (code ``WATER``, outside `fixed`)
    that touches the top of the photo or lies higher than the middle of the sky is taken
    as sky, so one sky moves as one. Flowing and falling water, and regions whose class was
    decided (fixed: (H, W) bool, classified painted regions), keep their class. (H, W) uint8."""
    water = labels == WATER
    if fixed is not None:
        water &= ~fixed
    if not water.any():
        return labels
    sky_rows = np.nonzero(labels == SKY)[0]
    sky_mid = float(np.median(sky_rows)) if len(sky_rows) else None
    n, comp, stats, cent = cv2.connectedComponentsWithStats(water.astype(np.uint8), connectivity=8)
    out = labels.copy()
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_TOP] == 0 or (sky_mid is not None and cent[k][1] < sky_mid):
            out[comp == k] = SKY
    return out


LENGTH_SIDE = 256     # px of the long side at which a region's length along its motion is measured
LENGTH_POINTS = 4096  # at most this many of its pixels (evenly spread) are measured


def length_along(region: np.ndarray, field: np.ndarray) -> float:
    """A region's typical length along its motion, px: the median, over its pixels, of the
    straight run through each one along the region's mean direction of motion that stays in
    the region (the image border is open: a run continues beyond it, up to the long side).
    region: (H, W) bool; field: (2, H, W) px per frame. 0.0 for an empty or still region."""
    H, W = region.shape
    if not region.any():
        return 0.0
    vx, vy = float(field[0][region].mean()), float(field[1][region].mean())
    norm = float(np.hypot(vx, vy))
    if norm < 1e-9:
        return 0.0
    s = min(1.0, LENGTH_SIDE / max(H, W))
    h, w = max(2, round(H * s)), max(2, round(W * s))
    small = cv2.resize(region.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    ys, xs = np.nonzero(small)
    if not len(xs):
        return 0.0
    every = -(-len(xs) // LENGTH_POINTS)              # a median needs no more points than this
    ys, xs = ys[::every], xs[::every]
    d = np.array([vx, vy]) / norm
    reach = max(h, w)
    run = np.ones(len(xs), np.float32)
    for sign in (1.0, -1.0):
        live = np.arange(len(xs))                     # the runs still going
        for step in range(1, reach + 1):
            qx = np.rint(xs[live] + sign * step * d[0]).astype(np.int64)
            qy = np.rint(ys[live] + sign * step * d[1]).astype(np.int64)
            outside = (qx < 0) | (qx >= w) | (qy < 0) | (qy >= h)
            run[live[outside]] += reach - step + 1    # beyond the (open) border a run goes on to the end
            live = live[~outside & small[np.clip(qy, 0, h - 1), np.clip(qx, 0, w - 1)]]
            if not len(live):
                break
            run[live] += 1
    return float(np.median(run)) / s


def arrow_field(arrows: list[Arrow], size: tuple[int, int], frames: int, scale: float) -> np.ndarray:
    """Dense (2, H, W) field from arrows (already in render px after `scale`):
    inverse-distance weighting of each arrow's velocity (length / frames along it)
    from its midpoint; one arrow gives a uniform drift."""
    W, H = size
    vel = np.array([[(a.x1 - a.x0) * scale / frames, (a.y1 - a.y0) * scale / frames] for a in arrows], np.float32)
    if len(arrows) == 1:
        return np.broadcast_to(vel[0][:, None, None], (2, H, W)).astype(np.float32)
    mids = np.array([[(a.x0 + a.x1) * scale / 2, (a.y0 + a.y1) * scale / 2] for a in arrows], np.float32)
    # interpolate on a coarse grid (the field is smooth), then resize
    step = max(1, max(W, H) // 256)
    gx = np.arange(0, W, step, dtype=np.float32)
    gy = np.arange(0, H, step, dtype=np.float32)
    d2 = (gx[None, None, :] - mids[:, 0, None, None]) ** 2 + (gy[None, :, None] - mids[:, 1, None, None]) ** 2
    soft = (0.05 * max(W, H)) ** 2  # keeps weights finite and the blend smooth at the arrows
    wts = 1.0 / (d2 + soft)
    wts /= wts.sum(0, keepdims=True)
    coarse = np.einsum("nyx,nc->cyx", wts, vel)
    return np.moveaxis(cv2.resize(np.moveaxis(coarse, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR), -1, 0)


def region_motion(labels: np.ndarray, *, frames: int, photo: np.ndarray | None = None, styles: dict | None = None,
                  drift: dict | None = None, arrows=None, arrow_scale: float = 1.0,
                  patterns: dict | None = None, scale: float = 1.0, fixed: np.ndarray | None = None) -> MotionPlan:
    """The motion plan of a labelled mask, without any motion file.

    labels: (H, W) uint8 ``regions`` codes. Every class moves in its own style
            (``regions.CLASS_STYLES``) with its settings group's direction and speed: sky
            drifts; still water ripples; flowing water flows along its course, downhill;
            falling water falls (``falls``: ``FALL_FACTOR`` x the water's speed, along its
            streaks, churning at its foot). Code 2 outside `fixed` is water of unknown kind:
            its style is chosen from the photo (``choose_style``).
    frames: frames in the loop (arrows span one loop; ripples make whole periods in it).
    photo:  (H, W, 3) uint8, the photo at this size: the automatic styles are read from it.
    styles: {"sky" | "water": "auto" | "drift" | "flow" | "ripple"}; missing or None = "auto"
            (each class's own style, above); a group's explicit style applies to every class in it.
    drift:  {"sky": (direction_deg, speed_px_per_frame), "water": ...}; None in either place
            is automatic (speeds in DEFAULT_DRIFT are per 1024 px of the long side and are
            scaled to this size; directions: drift in DEFAULT_DRIFT's, flow downhill along the
            water, falls down their streaks). drift uses the direction; flow and fall use it only
            to pick which way along the water; ripple ignores it, and its amplitude is
            RIPPLE_AMPLITUDE x speed px.
    arrows: Arrow list in input-photo px; arrow_scale converts them to render px.
            Each arrow steers the region its start (else its end) lies in; a region with
            arrows follows them whatever its style.
    patterns: {"sky" | "water": (2, H, W)} learned motion patterns (any scale): a sky or
            water-of-unknown-kind region with one, no direction and style "auto" follows it,
            at its speed.
    scale:  multiplies every speed, arrow and ripple amplitude at once (presets).
    fixed:  (H, W) bool: pixels whose class was decided (classified or chosen painted regions):
            still water there ripples, and is never taken for sky (``plausible_labels``).
    Returns a MotionPlan: the field (px per frame, eased to zero at region edges, zero
    outside and in rippling regions), the ripple, the style of each region, notes, and
    ``report``: what each class got (style, direction, speed, whether automatic).
    """
    patterns = patterns or {}
    styles = {name: check_style(name, (styles or {}).get(name)) for name in GROUPS}
    labels = plausible_labels(np.asarray(labels, np.uint8), fixed)
    H, W = labels.shape
    drift = drift or {}
    notes: list[str] = []
    per_region = _arrows_by_region(labels, coerce_arrows(arrows), arrow_scale, notes)

    present = [k for k in MOVING if (labels == k).any()]
    holes, _ = passed_islands(labels, photo)
    field = np.zeros((2, H, W), np.float32)
    ripple_basis_sum, foam, chosen, report = None, [], {}, []
    unit = max(H, W) / 1024.0
    cycles = np.ones((H, W), np.uint8)
    veil = np.zeros((H, W), bool)

    base_ease = EASE_FRACTION * min(H, W)
    ease_px = {}  # label -> px of the band over which a fast region's motion would ease to zero

    def loops(code: int, area: np.ndarray, f: np.ndarray) -> int:
        """Cycles per loop of a region moving by f (``loop.cycle_count``), written into `cycles`;
        its easing band is widened so that one cycle's travel shears it at most EASE_SHEAR."""
        speed = float(np.hypot(f[0], f[1])[area].mean())
        k = cycle_count(length_along(area, f), speed, frames)
        cycles[area] = k
        ease_px[code] = max(ease_px.get(code, base_ease), speed * frames / k / EASE_SHEAR)  # px
        return k

    units = []  # (code, region, decided): water of unknown kind apart from still water the user's regions decided
    for k in present:
        region = labels == k
        if k == WATER and fixed is not None and (region & fixed).any():
            units += [(k, r, d) for r, d in ((region & fixed, True), (region & ~fixed, False)) if r.any()]
        else:
            units.append((k, region, False))
    for k, region, decided in units:
        name = group_of(k)
        what_name = "still water" if decided else LABELS[k]
        # styles: "sky", "water" (of unknown kind), "still_water" (decided), "flowing_water", "falling_water"
        key = NAMES[k] if decided or k not in GROUP_CODES.values() else name
        through = region | holes[k]  # the motion continues behind small frozen islands
        direction, speed = drift.get(name, (None, None))
        auto_dir, default_speed = direction is None, speed is None
        if default_speed:
            speed = DEFAULT_DRIFT[name][1] * unit
        speed *= scale
        style = styles[name]
        if k in per_region:
            chosen[key] = "arrows"
            f = scale * arrow_field(per_region[k], (W, H), frames, arrow_scale)
            field[:, region] = f[:, region]
            n_loops = loops(k, region, f)
            notes.append(f"{what_name}: follows your arrows{_looping(n_loops)}")
            report.append(_report(k, "arrows", f, region, False, False, decided=decided, cycles=n_loops))
            continue
        pattern = patterns.get(name)
        if pattern is not None and auto_dir and style == "auto" and k in (SKY, WATER) and not decided:
            mean = float(np.hypot(pattern[0], pattern[1])[region].mean())
            if mean > 0:
                chosen[key] = "learned"
                f = pattern * (speed / mean)
                field[:, region] = f[:, region]
                n_loops = loops(k, region, f)
                notes.append(f"{what_name}: learned motion, {speed:.2f} px/frame{_looping(n_loops)}")
                report.append(_report(k, "learned", f, region, True, default_speed, decided=decided,
                                      cycles=n_loops))
                continue
        how = "asked"
        if style == "auto":
            if k == WATER and not decided:
                style, how = choose_style(name, photo, region)
            else:
                style, how = CLASS_STYLES[k], ("clouds drift" if k == SKY else f"{LABELS[k]} {CLASS_STYLES[k]}s")
        chosen[key] = style
        shown = speed
        if style == "drift":
            if direction is None:
                direction = DEFAULT_DRIFT[name][0]
            f = uniform_motion((W, H), direction, speed) * perspective(through, name)
            field[:, through] = f[:, through]
            what = f"drift at {direction:g} deg"
        elif style == "flow":
            d, along = flow_directions(region, photo, direction)
            f = d * (speed * perspective(through, name))
            field[:, through] = f[:, through]
            what = f"flow {along}"
        elif style == "fall":
            shown = FALL_FACTOR * speed
            f, _, along = fall_field(through, photo, shown, direction)
            field[:, through] = f[:, through]
            foam.append(foam_ripple(region, FOAM_AMPLITUDE * speed, frames))
            veil |= through
            what = along
        else:
            f = None
            basis = ripple_basis(region, RIPPLE_AMPLITUDE * speed)
            ripple_basis_sum = basis if ripple_basis_sum is None else ripple_basis_sum + basis
            what = f"ripple of {RIPPLE_AMPLITUDE * speed:.1f} px"
        check_speed_value(shown, (W, H))
        n_loops = 1 if f is None else loops(k, through, f)
        automatic = how != "asked"
        notes.append(f"{what_name}: {what}, {shown:.2f} px/frame{' (default speed)' if default_speed else ''}"
                     f"{f' (automatic: {how})' if automatic else ''}{_looping(n_loops)}"
                     f"{RIVER_HINT if automatic and style == 'ripple' else ''}")
        report.append(_report(k, style, f, region, auto_dir, default_speed, shown, decided, n_loops))
    ease = region_easing(labels, base_ease, holes, wide=ease_px)
    parts = []
    if ripple_basis_sum is not None:
        dirs = np.array([wave[4] for wave in RIPPLE_WAVES], np.float32)
        parts.append((ripple_basis_sum, dirs / np.linalg.norm(dirs, axis=1, keepdims=True), ripple_cycles(frames)))
    parts += foam
    ripple = None
    if parts:
        basis = np.concatenate([p[0] for p in parts]) * ease[None, None]
        ripple = Ripple(np.ascontiguousarray(basis, dtype=np.float32), np.concatenate([p[1] for p in parts]),
                        np.concatenate([p[2] for p in parts]))
    passed = np.zeros((H, W), bool)
    for h in holes.values():
        passed |= h
    return MotionPlan(field * ease, ripple, chosen, notes, passed if passed.any() else None, report,
                      cycles if (cycles > 1).any() else None, veil if veil.any() else None)


def _looping(cycles: int) -> str:
    """Words for a note: how often a region loops when it loops more than once."""
    return "" if cycles <= 1 else f", loops {cycles} times per loop (short for its speed)"


def _report(code: int, style: str, f: np.ndarray | None, region: np.ndarray, auto_dir: bool, auto_speed: bool,
            speed: float | None = None, decided: bool = False, cycles: int = 1) -> dict:
    """What one class of region got, for info["motion"]: {"region" (its words), "class",
    "style", "direction" (degrees of its mean motion, None for a ripple), "speed" (px per
    frame at the render size: the mean over the region, or the ripple's asked speed),
    "auto" (the direction was chosen automatically), "speed_auto", "share" (of the photo),
    "cycles" (whole cycles it loops per loop: more than 1 for a fast region short along its motion)}."""
    direction = None
    if f is not None:
        vx, vy = float(f[0][region].mean()), float(f[1][region].mean())
        if np.hypot(vx, vy) > 1e-6:
            direction = round(float(np.degrees(np.arctan2(vy, vx))) % 360.0, 1)
        speed = float(np.hypot(f[0], f[1])[region].mean())
    return {"region": LABELS[code] if code != WATER else "still water" if decided else "water", "class": NAMES[code],
            "style": style,
            "direction": direction, "speed": None if speed is None else round(float(speed), 3),
            "auto": bool(auto_dir), "speed_auto": bool(auto_speed), "share": round(float(region.mean()), 4),
            "cycles": int(cycles)}


def _arrows_by_region(labels: np.ndarray, arrows: list[Arrow], scale: float, notes: list[str]) -> dict:
    """Arrows grouped by the label their start (else their end) lies in; arrows outside
    every moving region are reported in notes. CineGANError for arrows outside the photo
    or without length."""
    H, W = labels.shape
    per_region: dict[int, list[Arrow]] = {}
    for i, a in enumerate(arrows, 1):
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            if not (0 <= x * scale < W + 0.5 and 0 <= y * scale < H + 0.5):
                raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) reaches outside the photo "
                                   f"({W / scale:.0f}x{H / scale:.0f} px)")
        if a.length * scale < 0.5:
            raise CineGANError(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) has no length; "
                               "drag from where content starts to where it should go")
        label = 0
        for x, y in ((a.x0, a.y0), (a.x1, a.y1)):
            xi = min(W - 1, int(x * scale))
            yi = min(H - 1, int(y * scale))
            if labels[yi, xi]:
                label = int(labels[yi, xi])
                break
        if not label:
            notes.append(f"arrow {i} ({a.x0:g},{a.y0:g} -> {a.x1:g},{a.y1:g}) lies outside the moving areas "
                         "and was ignored; paint the area into the mask to move it")
            continue
        per_region.setdefault(label, []).append(a)
    return per_region
