"""Finding water, precision first: only from positive evidence.

1. A mirror. Calm water reflects what lies above the waterline: below a
   horizontal axis, the photo repeats the photo above it, upside down. The
   axis is searched over all rows by matching the gradient field below it with
   the mirrored field above it (local normalised cross-correlation of both the
   horizontal and the vertical gradient, the vertical one with its sign
   flipped). Only two-dimensional structure counts: vertical lines (tree
   trunks, walls) are mirror-symmetric about every row and horizontal stripes
   (planks, lanes, furrows) match many rows, so both gradient components must
   match, the match must peak at one axis, and the field above must not repeat
   itself (rows of windows do). The water is grown from the matched pixels
   through pixels whose colour is a (darker) copy of their mirror image, which
   takes in the reflected sky; no sky is allowed below the axis, and what is
   mirrored on the waterline (islands, shores) is not sky either.
2. A surface (seas, rivers, water seen from above, rippled lakes), below the
   sky: a region is water when it shows waves (fine texture streaked
   horizontally) in a water or sky colour, or is a large smooth water-coloured
   surface at the foot of the frame; and when it lies at the frame's side or
   bottom, meets the sky (if at all) along a straight level horizon, has a
   roughly level far shore, is not a dark silhouette, has no long straight or
   aligned lines (roads, planks, motion blur) nor upright edges (walls,
   windows), is not a tilted band (a roof), does not merely continue the sky,
   and does not lie wholly above a larger water region (one water level).
   Its extent is then settled by colour (the water's confident core against
   the land), with enclosed choppy patches and bays at the frame's edge taken in.

Where the evidence is not enough, the region stays frozen and a note says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .cues import (ColourModel, PhotoViews, box, components, dilate, disk, drop_small, erode, fill_holes,
                   gradient, guided_filter, keep_touching, posterior, ramp)


@dataclass
class WaterResult:
    """Water found in a photo."""
    mask_w: np.ndarray                   # (h, w) bool: water at the work size
    waterline: np.ndarray | None         # (w,) int work rows: the sky may not reach below (None: no mirror)
    confidence: float                    # in [0, 1]
    notes: list = field(default_factory=list)
    mirror_axis: float | None = None     # work row of the mirror axis, when one was found
    reflected: np.ndarray | None = None  # (h, w) bool: things above the waterline seen mirrored in the water


# ---------------------------------------------------------------------------------------------
# 1. mirrors


def _local_ncc(A: np.ndarray, B: np.ndarray, k: int):
    """Local normalised cross-correlation of A and B over k x k windows, and the
    geometric mean of their local variances (how much structure there is)."""
    mA, mB = box(A, k), box(B, k)
    cov = box(A * B, k) - mA * mB
    vA = np.maximum(box(A * A, k) - mA * mA, 0)
    vB = np.maximum(box(B * B, k) - mB * mB, 0)
    return cov / np.sqrt(np.maximum(vA * vB, 1e-6)), np.sqrt(vA * vB)


def mirror_match(gx: np.ndarray, gy: np.ndarray, axis: int, k: int, threshold: float):
    """Pixels below the mirror axis (between rows `axis` and `axis` + 1) whose gradient
    field matches the mirrored field above. Returns (matched, structured), both
    (D, w) bool for rows axis+1 .. axis+D, D = min(axis + 1, h - 1 - axis)."""
    h = gx.shape[0]
    D = min(axis + 1, h - 1 - axis)
    bx, ax = gx[axis + 1:axis + 1 + D], gx[axis::-1][:D]
    by, ay = gy[axis + 1:axis + 1 + D], -gy[axis::-1][:D]
    nx, ex = _local_ncc(bx, ax, k)
    ny, ey = _local_ncc(by, ay, k)
    structured = (ex > threshold ** 2) & (ey > threshold ** 2)
    return (nx > 0.4) & (ny > 0.4) & structured, structured


def _periodic(gx: np.ndarray, gy: np.ndarray, axis: int, threshold: float) -> int:
    """How well the field above a candidate axis matches itself shifted up or down by a few
    rows (the most pixels matched over the shifts tried). Rows of windows, fences or
    planks repeat, so they also match their mirror image; a landscape does not repeat."""
    D = min(axis + 1, gx.shape[0] - 1 - axis)
    best = 0
    for shift in range(3, max(4, D // 2)):
        n = D - shift
        if n < 6:
            break
        a0, a1 = axis + 1 - D, axis + 1 - shift
        nx, ex = _local_ncc(gx[a0:a1], gx[a0 + shift:a1 + shift], 5)
        ny, ey = _local_ncc(gy[a0:a1], gy[a0 + shift:a1 + shift], 5)
        m = (nx > 0.4) & (ny > 0.4) & (ex > threshold ** 2) & (ey > threshold ** 2)
        best = max(best, int(m.sum()))
    return best


def find_mirror(p: PhotoViews):
    """The row of a mirror axis (water reflecting what is above it) at the work size,
    and the strength of the evidence in [0, 1]; (None, 0) when there is none."""
    gx, gy = gradient(p.L, 1.0)
    h2, w2 = p.h // 2, p.w // 2
    gx2 = cv2.resize(gx, (w2, h2), interpolation=cv2.INTER_AREA)
    gy2 = cv2.resize(gy, (w2, h2), interpolation=cv2.INTER_AREA)
    thr = max(0.25, 0.5 * float(np.median(np.hypot(gx2, gy2))))
    matched, structured = {}, {}
    for a in range(int(0.12 * h2), int(0.92 * h2)):
        if min(a + 1, h2 - 1 - a) < 6:
            continue
        m, s = mirror_match(gx2, gy2, a, 5, thr)
        matched[a], structured[a] = int(m[3:].sum()), int(s[3:].sum())   # rows next to the axis match trivially
    if not matched:
        return None, 0.0
    a = max(matched, key=matched.get)
    # a reflection matches at one axis only; subtract what neighbouring axes match too
    specific = matched[a] - float(np.median([matched.get(a + d, 0) for d in (-6, -5, -4, 4, 5, 6)]))
    strength = specific / max(1, structured[a])
    if specific < 0.003 * h2 * w2 or strength < 0.1 or _periodic(gx2, gy2, a, thr) > 0.5 * matched[a]:
        return None, 0.0
    return 2 * a + 1, float(min(1.0, strength / 0.3))


def axis_match(p: PhotoViews, axis: int) -> np.ndarray:
    """(D, w) bool: pixels within D rows below a mirror axis that match their mirror image
    above it (``mirror_match`` on the work-size gradient)."""
    gx, gy = gradient(p.L, 1.0)
    thr = max(0.25, 0.5 * float(np.median(np.hypot(gx, gy))))
    return mirror_match(gx, gy, axis, 7, thr)[0]


def reflected_things(p: PhotoViews, axis: int, m: np.ndarray) -> np.ndarray:
    """Things above a mirror axis whose mirror image was matched below it (m: ``axis_match``),
    (h, w) bool at the work size: structured, so solid (islands, shores, buildings), not sky."""
    out = np.zeros((p.h, p.w), bool)
    D = m.shape[0]
    out[axis - D + 1:axis + 1] = m[::-1]
    return drop_small(out, 4)


def mirror_water(p: PhotoViews, axis: int, m: np.ndarray) -> np.ndarray:
    """Water below a mirror axis at the work size, (h, w) bool: grown from the pixels
    that match their mirror image (m: ``axis_match``) through pixels coloured like a darker
    copy of their mirror image, minus textured things that are not mirrored (piers, reeds)."""
    D = m.shape[0]
    matched = np.zeros((p.h, p.w), bool)
    matched[axis + 1:axis + 1 + D] = m
    src = np.clip(2 * axis + 1 - np.arange(p.h), 0, p.h - 1)
    mirrored = p.lab[src]
    dL = p.L - mirrored[..., 0]
    dab = np.hypot(p.a - mirrored[..., 1], p.b - mirrored[..., 2])
    consistent = (dL < 6) & (dL > -45) & (dab < 10 + 0.15 * np.abs(dL))
    consistent &= p.L > 0.15 * float(np.percentile(p.L, 95))    # dark on dark proves nothing (a quay wall in shade)
    below = p.rows > axis
    within = (2 * axis + 1 - p.rows) >= 0
    textured = (p.texture > 1.2) & ~dilate(matched, 1)
    region = below & ((within & consistent) | matched) & ~textured
    region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    water = keep_touching(region, dilate(matched, 1))
    return drop_small(water, int(0.01 * p.h * p.w))


# ---------------------------------------------------------------------------------------------
# 2. surfaces


def vertical_streaks(p: PhotoViews) -> np.ndarray:
    """How much the fine texture is vertical streaks (the strands of falling water), at the fine
    size, (hf, wf) in [0, 1]: the structure tensor's coherence (one orientation) times how much
    its gradients lie across, not along (0: isotropic, horizontal streaks or flat)."""
    k = max(5, round(9 * p.unit) | 1)
    jxx, jyy, jxy = box(p.gx_f ** 2, k), box(p.gy_f ** 2, k), box(p.gx_f * p.gy_f, k)
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / (jxx + jyy + 1e-3)
    return coherence * np.clip((jxx - jyy) / (jxx + jyy + 1e-3), 0, 1)


def horizontal_streaks(p: PhotoViews) -> np.ndarray:
    """How much the fine texture is made of horizontal streaks (waves seen at a grazing
    angle), at the work size, (h, w) in [-1, 1]: +1 all gradients vertical,
    0 isotropic (gravel, foliage), -1 vertical streaks."""
    k = max(5, round(15 * p.unit) | 1)
    jxx, jyy = box(p.gx_f ** 2, k), box(p.gy_f ** 2, k)
    return p.to_work((jyy - jxx) / (jyy + jxx + 0.05))


def long_lines(p: PhotoViews, region_f: np.ndarray) -> np.ndarray:
    """Long straight lines inside a fine region (road edges and markings, planks, rails),
    as a (hf, wf) bool map with a margin around each line."""
    _, dist = p.standout()
    thin = (dist > max(4.0, 3 * float(np.median(dist[region_f])) if region_f.any() else 4.0)) & region_f
    out = np.zeros((p.hf, p.wf), np.uint8)
    if thin.sum() < 20:
        return out > 0
    # long, straight and slanting: road edges, planks and rails seen in perspective (wave crests
    # are neither straight over such lengths nor slanting; level lines are judged by `aligned`)
    segs = cv2.HoughLinesP(thin.astype(np.uint8) * 255, 1, np.pi / 180, threshold=max(30, round(80 * p.unit)),
                           minLineLength=max(40, round(200 * p.unit)), maxLineGap=max(3, round(6 * p.unit)))
    if segs is not None:
        for x0, y0, x1, y1 in np.asarray(segs).reshape(-1, 4):
            if abs(int(y1) - int(y0)) > 0.18 * abs(int(x1) - int(x0)):
                cv2.line(out, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=max(3, round(16 * p.unit)))
    return out > 0


def aligned(p: PhotoViews) -> np.ndarray:
    """Coherence of the fine gradient orientation over windows of ~6 % of the long side,
    at the work size, in [0, 1]: near 1 where everything is aligned over that distance
    (lane markings, planks, motion blur), lower for waves, whose crests bend."""
    k = max(5, round(61 * p.unit) | 1)
    jxx, jyy, jxy = box(p.gx_f ** 2, k), box(p.gy_f ** 2, k), box(p.gx_f * p.gy_f, k)
    return p.to_work(np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / (jxx + jyy + 0.05))


def surface_evidence(p: PhotoViews, sky_w: np.ndarray, below: np.ndarray) -> dict:
    """Per work pixel evidence for a water surface, each (h, w) in [0, 1] (see the module
    docstring): waves (horizontal streaks of visible texture), water colour (blue, cyan,
    teal), sky colour (what water reflects), and land (vegetation, sand, soil, wood)."""
    streaks = horizontal_streaks(p)
    t = p.texture
    waves = ramp(streaks, 0.2, 0.4) * (1 - ramp(streaks, 0.8, 0.95)) * ramp(t, 0.15, 0.3) * (1 - ramp(t, 2.5, 4.0))
    water_colour = np.zeros((p.h, p.w), np.float32)
    # dense texture without a horizontal grain: gravel, grass, foliage, rock
    land = ramp(t, 0.8, 2.0) * (1 - ramp(streaks, 0.15, 0.35))
    if p.colourful:
        blue = ramp(-p.b, 3, 12)
        teal = ramp(-p.a, 3, 10) * (1 - ramp(p.b, 3, 10))
        water_colour = np.maximum(blue, teal) * ramp(p.chroma, 3, 8)
        vegetation = ramp(-p.a, 3, 12) * ramp(p.b, 6, 18)
        earth = ramp(p.b, 10, 25) * ramp(p.a, -2, 4)
        land = np.maximum.reduce([land, vegetation, earth])
    reflect = np.zeros((p.h, p.w), np.float32)
    ground = below & ~sky_w
    sky_L = float(np.median(p.L[sky_w])) if sky_w.sum() > 30 else float(np.percentile(p.L, 90))
    if sky_w.sum() > 30 and ground.sum() > 30:
        post = posterior(ColourModel(p.lab[sky_w], 0.6), ColourModel(p.lab[ground], 0.6), p.lab)
        reflect = ramp(post, 0.55, 0.85)
    # water reflects the sky: it is rarely much darker than a third of it (dark land in shade is)
    lit = ramp(p.L, 0.22 * sky_L, 0.35 * sky_L)
    water_colour, reflect = water_colour * lit, reflect * lit
    return {"waves": waves, "water colour": water_colour, "sky colour": reflect, "land": land, "lit": lit,
            "streaks": streaks}


def _horizon_ok(region: np.ndarray, sky: np.ndarray) -> bool:
    """Where a water region meets the sky directly, it meets it along a horizon: a
    straight and level line (a roof or a slope under the sky is not water)."""
    h, w = region.shape
    cols = np.flatnonzero(region.any(0))
    if len(cols) == 0:
        return False
    top = np.argmax(region[:, cols], 0)
    above = np.maximum(top - max(4, h // 30), 0)
    touch = np.array([sky[a:t, x].any() for a, t, x in zip(above, top, cols)])
    if touch.sum() < 0.3 * len(cols):
        return True
    xs, ys = cols[touch].astype(np.float64), top[touch].astype(np.float64)
    slope, icpt = np.polyfit(xs, ys, 1)
    straight = float(np.mean(np.abs(ys - (slope * xs + icpt)) < 0.015 * h))
    return abs(slope) * w < 0.08 * h and straight > 0.7


def _one_level(regions: list) -> list:
    """Of (area, mask, confidence) water regions, drop those lying wholly above a larger one
    in the same columns (a snowfield or a pale slope above a lake): one photo's water
    surfaces lie at one level, seen from the side."""
    regions = sorted(regions, key=lambda t: -t[0])
    kept = []
    for area, r, c in regions:
        cols = r.any(0)
        bottom = r.shape[0] - 1 - np.argmax(r[::-1], 0)
        above_larger = False
        for _, big, _ in kept:
            both = cols & big.any(0)
            if both.sum() > 0.3 * cols.sum():
                top_big = np.argmax(big, 0)
                above_larger = bool(np.median(bottom[both] < top_big[both]) > 0.5)
                if above_larger:
                    break
        if not above_larger:
            kept.append((area, r, c))
    return kept


def _continues_the_sky(p: PhotoViews, region: np.ndarray, sky: np.ndarray) -> bool:
    """A smooth region that meets the sky along much of its top without any edge is more
    of the sky (a deep-blue lower sky), not water: water shows waves, or a horizon."""
    cols = np.flatnonzero(region.any(0))
    top = np.argmax(region[:, cols], 0)
    d = max(2, p.h // 60)
    pairs = [(p.lab[t + 1:t + 1 + d, x].mean(0), p.lab[max(0, t - 1 - d):max(1, t - 1), x].mean(0))
             for t, x in zip(top, cols) if t > d + 1 and sky[t - 1 - d:t, x].any()]
    if len(pairs) < 0.3 * len(cols):
        return False
    jump = np.median([np.linalg.norm(b - a) for b, a in pairs])
    return jump < 4.0 and float(np.median(p.texture[region])) < 0.5


def _slanted_band(region: np.ndarray) -> bool:
    """A long band tilted by more than ~15 degrees (a roof, a slope, a road seen from the
    side): a water surface seen from the side lies level."""
    m = cv2.moments(region.astype(np.uint8), binaryImage=True)
    if m["m00"] == 0:
        return False
    mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
    common = np.sqrt(max(0.0, ((mu20 - mu02) / 2) ** 2 + mu11 ** 2))
    l1, l2 = (mu20 + mu02) / 2 + common, (mu20 + mu02) / 2 - common
    angle = 0.5 * np.degrees(np.arctan2(2 * mu11, mu20 - mu02))
    return l1 > 9 * max(l2, 1e-6) and 15 < abs(angle) < 165


def _shore_level(region: np.ndarray) -> bool:
    """Whether the far edge of a water region (its upper boundary, where it meets the far
    shore) runs roughly level, as a water surface seen from the side does; an object's
    outline (a stone table, a roof, a boulder) does not."""
    h, w = region.shape
    cols = np.flatnonzero(region.any(0))
    if len(cols) < 0.1 * w:
        return False
    top = np.argmax(region[:, cols], 0)
    inner = top > 0                                    # where the region reaches the frame's top edge, it says nothing
    if inner.sum() < 0.3 * len(cols):
        return True
    xs, ys = cols[inner].astype(np.float64), top[inner].astype(np.float64)
    slope, icpt = np.polyfit(xs, ys, 1)
    return abs(slope) * w < 0.15 * h and float(np.mean(np.abs(ys - (slope * xs + icpt)) < 0.04 * h)) > 0.6


def surface_water(p: PhotoViews, sky_f: np.ndarray, line: np.ndarray, exclude_w: np.ndarray,
                  waterline: np.ndarray | None = None, terrain: np.ndarray | None = None):
    """Water surfaces below the skyline (see the module docstring), at the work size:
    (mask (h, w) bool, confidence, notes). A region is water when it lies at the
    frame's side or bottom, is not a dark silhouette, has no long straight lines, and
    either shows waves in a water or sky colour, or is a large, smooth, clearly
    water-coloured surface with a level upper edge."""
    sky_w = p.to_work(sky_f.astype(np.float32)) > 0.5
    # below the sky: under the lowest sky pixel of each column (or anywhere in a column without sky)
    lowest = np.where(sky_w.any(0), p.h - 1 - np.argmax(sky_w[::-1], 0), -1)
    below = (p.rows > lowest[None, :]) & ~exclude_w
    if waterline is not None:                 # a mirror showed where the water surface begins
        below &= p.rows >= waterline[None, :]
    if below.sum() < 0.01 * p.h * p.w:
        return np.zeros((p.h, p.w), bool), 0.0, []
    ev = surface_evidence(p, sky_w, below)
    colour = np.maximum(ev["water colour"], ev["sky colour"])
    if not p.colourful:
        colour = np.maximum(colour, 0.5 * ev["waves"])
    score = np.clip(0.5 * ev["waves"] + 0.5 * colour + 0.3 * ev["water colour"] - ev["land"], 0, 1)
    score = cv2.GaussianBlur(score, (0, 0), 1.5)
    cand = below & (score > 0.35)
    # open wide enough to part regions joined by a thin strip (a far headland and the sea)
    cand = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN, disk(2)) > 0
    lines_w = p.to_work(long_lines(p, p.to_fine(cand.astype(np.float32)) > 0.5).astype(np.float32)) > 0.3
    align = aligned(p)
    # upright edges (walls, windows, posts) are not on a water surface: waves run level
    upright = p.to_work(((np.abs(p.gx_f) > 2 * np.abs(p.gy_f)) & (np.abs(p.gx_f) > 3.0)).astype(np.float32))
    n, lab, stats = components(cand)
    water = np.zeros((p.h, p.w), bool)
    confs, notes, accepted = [], [], []
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        if area < 0.01 * p.h * p.w:
            continue
        r = lab == i
        at_edge = r[-1].any() or r[:, 0].any() or r[:, -1].any()
        dark = float(np.median(p.L[r])) < 0.25 * float(np.median(p.L[sky_w])) if sky_w.any() else False
        lined = (float(lines_w[r].mean()) > 0.1 or float(align[r].mean()) > 0.84
                 or float(upright[r].mean()) > 0.06)
        waves = float(ev["waves"][r].mean())
        wcol = float(ev["water colour"][r].mean())
        scol = float(ev["sky colour"][r].mean())
        level = _horizon_ok(r, sky_w | exclude_w) and _shore_level(r)
        smooth = float(np.median(p.texture[r])) < 1.0
        bottom = float(r[-1].mean())
        colour = max(wcol, scol)
        if p.colourful:
            by_waves = (waves > 0.35 and colour > 0.4 and max(waves, colour) > 0.6) or (
                area > 0.02 * p.h * p.w and (waves > 0.8 or (waves > 0.5 and bottom > 0.3)))
        else:   # black and white: waves alone must say it, on a broad level surface at the foot of the frame
            by_waves = waves > 0.5 and bottom > 0.3 and area > 0.02 * p.h * p.w and float(align[r].mean()) < 0.8
        # a large smooth water-coloured surface, lying at the foot of the frame (hazy blue hills do not)
        by_colour = (wcol > 0.5 and smooth and area > 0.05 * p.h * p.w
                     and (bottom > 0.3 or (r[:, 0].any() and r[:, -1].any())))
        level = level or (area > 0.1 * p.h * p.w and bottom > 0.25)   # a broad body of water at the foot of the frame
        more_sky = _continues_the_sky(p, r, sky_w)
        if more_sky:
            if area > 0.03 * p.h * p.w:
                notes.append("left the lower part of the sky frozen: not sure it is sky")
            continue
        if at_edge and level and not dark and not lined and not _slanted_band(r) and (by_waves or by_colour):
            accepted.append((area, r, 0.55 + 0.45 * min(1.0, max(waves, wcol, scol))))
        elif area > 0.05 * p.h * p.w and float(score[r].mean()) > 0.6 and not dark and not lined:
            notes.append("left a possible water area frozen: not sure it is water; paint it if it should move")
    for area, r, c in _one_level(accepted):
        water |= r
        confs.append((c, area))
    if water.any():
        water = _settle(p, water, score, ev, below)
    if terrain is not None and water.any():
        # a hill found under a hazy ridge is land, however sea-coloured its haze: the part of it
        # that is not coloured like the water's lower, confident part goes
        water &= ~(terrain & ~_like_water_below(p, water, terrain))
    conf = float(sum(c * a for c, a in confs) / sum(a for _, a in confs)) if confs else 0.0
    return water, conf, sorted(set(notes))


def _like_water_below(p: PhotoViews, water: np.ndarray, band: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels coloured more like the water just under `band` (the next tenth of
    the height, same columns) than like everything else: a far sea under its horizon
    continues the sea below it; a hazy headland does not."""
    bottom = np.where(band.any(0), band.shape[0] - 1 - np.argmax(band[::-1], 0), -1)
    under = water & (p.rows > bottom[None, :]) & (p.rows <= bottom[None, :] + max(3, p.h // 10)) & band.any(0)[None, :]
    rest = ~water
    if under.sum() < 30 or rest.sum() < 30:
        return np.zeros((p.h, p.w), bool)
    return posterior(ColourModel(p.lab[under]), ColourModel(p.lab[rest]), p.lab) > 0.7


def _settle(p: PhotoViews, water: np.ndarray, score: np.ndarray, ev: dict, below: np.ndarray) -> np.ndarray:
    """Settle the extent of accepted water regions by colour: learn the water's colours
    from its confident core and the land's from confident land, then drop pixels that
    are land-coloured and look like land (wooded or sandy patches merged into the
    region), and take in neighbouring pixels coloured like the water (shaded water,
    choppy patches, enclosed cloud shadows)."""
    core = water & (score > np.quantile(score[water], 0.5))
    land_px = below & ~water & (ev["land"] > 0.6)
    if core.sum() < 30 or land_px.sum() < 30:
        return water & (ev["lit"] > 0.5)
    water_like = posterior(ColourModel(p.lab[core]), ColourModel(p.lab[land_px]), p.lab)
    # much rougher than the water: land (waves near the camera are rougher, so allow more low in the frame)
    rough = p.texture > 1.7 * float(np.median(p.texture[core])) * (1 + 2 * ramp(p.y, 0.6, 1.0))
    water = water & (ev["lit"] > 0.5) & ~((water_like < 0.5) & (ev["land"] > 0.25)) & ~rough
    water = cv2.morphologyEx(water.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    # grow only under the water already found in the column: a water surface is not above land
    # that lies on it (a far headland coloured like the sea stays)
    top = np.where(water.any(0), np.argmax(water, 0), p.h)
    grow = below & (water_like > 0.7) & (ev["lit"] > 0.1) & (ev["land"] < 0.5) & (p.rows >= top[None, :] - 2)
    water = keep_touching(water | grow, water)
    # patches enclosed by the water, or by the water and the frame's sides and bottom, coloured like
    # the water or rippled (choppy water near the camera, cloud shadows), are water too
    allowed = (water_like > 0.5) | (ev["waves"] > 0.3)
    water = fill_holes(water, int(0.1 * p.h * p.w), allowed=allowed, allowed_share=0.7)
    framed = np.pad(water, ((0, 1), (1, 1)), constant_values=True)
    framed = fill_holes(framed, int(0.05 * p.h * p.w), allowed=np.pad(allowed, ((0, 1), (1, 1))), allowed_share=0.7)
    return framed[:-1, 1:-1]


def find_water(p: PhotoViews) -> WaterResult:
    """Water from a mirror (see the module docstring); surfaces are added by
    `surface_water` once the sky is known."""
    axis, strength = find_mirror(p)
    empty = np.zeros((p.h, p.w), bool)
    if axis is None:
        return WaterResult(mask_w=empty, waterline=None, confidence=0.0)
    m = axis_match(p, axis)
    water = mirror_water(p, axis, m)
    if not water.any():
        return WaterResult(mask_w=empty, waterline=None, confidence=0.0)
    # the far shore's waterline is level: no sky can be seen below it, in any column
    waterline = np.full(p.w, axis + 1, np.int32)
    return WaterResult(mask_w=water, waterline=waterline, confidence=0.6 + 0.4 * strength, mirror_axis=axis,
                       reflected=reflected_things(p, axis, m))


def refine_water(p: PhotoViews, water_w: np.ndarray, sky_f: np.ndarray) -> np.ndarray:
    """Water at the fine size: snapped to the photo's edges, minus thin upright things
    standing in it (reeds, posts, masts, people), with a frozen margin at its edge."""
    u = p.unit
    if not water_w.any():
        return np.zeros((p.hf, p.wf), bool)
    snapped = guided_filter(p.L_f / 100.0, p.to_fine(water_w.astype(np.float32)), max(2, round(4 * u)), 1e-3)
    water = (snapped > 0.5) & ~dilate(sky_f, max(1, round(u)))
    _, dist = p.standout(15)
    noise = float(np.median(dist[water])) if water.any() else 1.0
    upright = (dist > max(4.0, 4 * noise)) & (np.abs(p.gx_f) > 1.5 * np.abs(p.gy_f))
    length = max(3, round(9 * u))
    upright = cv2.morphologyEx(upright.astype(np.uint8), cv2.MORPH_OPEN, np.ones((length, 1), np.uint8)) > 0
    water &= ~dilate(upright, round(3 * u))
    return erode(water, max(2, round(2 * u)))
