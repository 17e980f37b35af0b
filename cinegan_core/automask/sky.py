"""Finding the sky, precision first.

1. A per-pixel sky score at the work size: smooth at the *fine* scale (sky has
   no texture; rock, trees and buildings do, even when hazy), bright, high in
   the frame, coloured like the top of the photo rather than its bottom, and
   (in colour photos) a plausible sky colour.
2. A skyline: per column, the row above which everything is sky, chosen for all
   columns jointly by dynamic programming (each column agrees with the score,
   neighbouring columns move the boundary little).
3. The photo's own sky and ground colours (histograms learned from step 2)
   sharpen the score, and the skyline is found again.
4. Ridges in haze: above the skyline, a long, crisp edge with a darker band
   below it that does not look like the sky above it is a ridge; the skyline
   moves up to it (aerial perspective: farther is paler, and the sky is the
   palest of all).
5. What is above the skyline is sky only where nothing vetoes it, at the fine
   size:
   * thin straight things (cables, masts, wires, poles): a ridge filter on
     the fine image and a Hough transform keep long line segments;
   * small things that stand out from the sky around them (birds, kites):
     the photo minus its median over a window, where the colour is not one of
     the sky's own;
   * things rising from the ground (spires, branches, lamp posts, roofs):
     non-sky pixels connected to the ground;
   * places crowded with the above (sky seen through foliage);
   * parts not connected to the top of the photo.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .cues import (ColourModel, PhotoViews, box, components, crisp_edges, dilate, erode, fill_holes, gradient,
                   guided_filter, keep_touching, posterior, ramp)

JUMP_COST = 0.6        # DP cost per row of skyline change between neighbouring columns
MIN_SKY = 0.015        # share of the photo below which a sky is not worth animating


def skyline(score: np.ndarray, jump_cost: float = JUMP_COST) -> np.ndarray:
    """Per column x, the row b(x) (0..h) such that rows < b(x) are sky.

    Minimises, jointly over columns, the disagreement with `score` (h, w) in
    [0, 1] (sky above pays 1 - score, the rest pays score) plus jump_cost per
    row of change between neighbouring columns (dynamic programming; the
    min-convolution with jump_cost * |db| is an L1 distance transform)."""
    h, w = score.shape
    s = score.astype(np.float64)
    above = np.vstack([np.zeros((1, w)), np.cumsum(1 - s, 0)])          # rows < b as sky
    below = np.vstack([np.cumsum(s[::-1], 0)[::-1], np.zeros((1, w))])  # rows >= b as not sky
    return _chain_dp(above + below, jump_cost)


def _chain_dp(unary: np.ndarray, jump_cost: float) -> np.ndarray:
    """argmin over paths b(x) of sum_x unary[b(x), x] + jump_cost * |b(x) - b(x-1)|."""
    n, w = unary.shape
    ramp_ = jump_cost * np.arange(n, dtype=np.float64)
    accs = np.empty((n, w))
    acc = unary[:, 0]
    accs[:, 0] = acc
    for x in range(1, w):
        fwd = np.minimum.accumulate(acc - ramp_) + ramp_
        bwd = (np.minimum.accumulate((acc + ramp_)[::-1]) - ramp_[::-1])[::-1]
        acc = np.minimum(fwd, bwd) + unary[:, x]
        accs[:, x] = acc
    b = np.empty(w, np.int32)
    b[-1] = int(np.argmin(acc))
    rows = np.arange(n)
    for x in range(w - 1, 0, -1):
        b[x - 1] = int(np.argmin(accs[:, x - 1] + jump_cost * np.abs(rows - b[x])))
    return b


@dataclass
class SkyResult:
    """The sky found in a photo."""
    mask_f: np.ndarray              # (hf, wf) bool: sky at the fine size
    line: np.ndarray                # (w,) int: skyline rows at the work size (rows above are sky candidates)
    score: np.ndarray               # (h, w) float32: sky score at the work size, in [0, 1]
    confidence: float               # in [0, 1]
    dropped: dict = field(default_factory=dict)   # reason -> share of the photo left frozen for it
    blocked_f: np.ndarray | None = None           # (hf, wf) bool: sky candidates left frozen (not water either)
    terrain: np.ndarray | None = None             # (h, w) bool: hills found under a hazy ridge (not water either)


def _texture_llr(p: PhotoViews) -> np.ndarray:
    """Evidence from fine texture (log-odds, sky vs not): smooth is sky-like, soft texture
    (clouds, haze) says little, dense crisp texture (rock, foliage, walls) is not sky."""
    t = p.texture
    return (1.0 - 1.5 * ramp(t, 0.25, 1.2) - 2.5 * ramp(t, 1.2, 3.5)).astype(np.float32)


def generic_score(p: PhotoViews) -> np.ndarray:
    """How sky-like each work pixel looks before anything is learned from the photo,
    (h, w) in [0, 1]: a sum of log-odds from texture, position, brightness and,
    in colour photos, colour, through a logistic function."""
    lo, hi = np.percentile(p.L, [2, 98])
    bright = ramp(p.L, lo, max(hi, lo + 1))
    # the sky is rarely much darker than the brightest part of the top of the photo (silhouettes are)
    ref = float(np.percentile(p.L[: max(2, p.h // 4)], 75))
    dark = 1 - ramp(p.L, 0.2 * ref, 0.45 * ref)
    llr = _texture_llr(p) + 2.0 * (0.45 - p.y) + 1.2 * (bright - 0.5) - 2.0 * dark
    if p.colourful:
        green = vegetation(p)
        blue = ramp(-p.b, 2, 25) * ramp(p.L, 20, 45)
        neutral = ramp(p.L, 45, 85) * (1 - ramp(p.chroma, 6, 25))
        warm = bright * ramp(p.a + p.b, 15, 45)
        earth = ramp(p.b, 8, 25) * (1 - ramp(p.L, 50, 75)) * (1 - warm)
        llr = llr + 1.0 * np.maximum.reduce([blue, neutral, warm]) - 2.5 * green - 1.0 * earth
    return (1.0 / (1.0 + np.exp(-llr))).astype(np.float32)


def vegetation(p: PhotoViews) -> np.ndarray:
    return ramp(-p.a, 3, 12) * ramp(p.b, 2, 15)


def learned_score(p: PhotoViews, s0: np.ndarray, line: np.ndarray):
    """The score sharpened with the photo's own sky and ground colours, learned from
    confident pixels above and below a first skyline. Returns (score, sky model,
    ground model); the models are None where too few pixels were confident."""
    margin = max(2, p.h // 40)
    sure_sky = (p.rows < (line[None, :] - margin)) & (s0 > 0.7)
    sure_ground = (p.rows >= (line[None, :] + margin)) & (s0 < 0.3)
    if sure_sky.sum() < 30 or sure_ground.sum() < 30:
        return s0, (ColourModel(p.lab[sure_sky]) if sure_sky.sum() >= 30 else None), None
    sky_m, ground_m = ColourModel(p.lab[sure_sky]), ColourModel(p.lab[sure_ground])
    pc = posterior(sky_m, ground_m, p.lab)
    llr0 = np.log(np.clip(s0, 1e-4, 1 - 1e-4) / np.clip(1 - s0, 1e-4, 1))
    # below the first skyline, colour may confirm the ground but hardly promote it to sky
    # (a wet road or a grey wall has the sky's colour)
    high = np.where(p.rows < line[None, :], 2.0, 0.3)
    llr = llr0 + np.clip(np.log(pc / (1 - pc + 1e-6) + 1e-6), -2.0, high)
    return (1.0 / (1.0 + np.exp(-llr))).astype(np.float32), sky_m, ground_m


def crisp_ridges(p: PhotoViews) -> np.ndarray:
    """Sharp boundaries with a darker or more colourful side below (ridges, roofs, tree
    lines, a sea's horizon) at the work size, (h, w) in [0, 1]. Sharp: the fine
    gradient is well above the coarse one, which soft cloud edges are not. Each work
    pixel takes the strongest fine edge in it."""
    g = p.g_fine
    sharp = ramp(g / (p.g_coarse + 0.3), 1.2, 2.2)
    # darker below (ridges, tree lines); brighter below counts too when very sharp (snow, roofs)
    down = -p.gy_f / (g + 1e-3)
    e = g * sharp * np.maximum(ramp(down, 0.3, 0.7), ramp(-down, 0.3, 0.7) * ramp(g / (p.g_coarse + 0.3), 1.8, 2.6))
    if p.colourful:
        chroma = np.hypot(p.lab_f[..., 1], p.lab_f[..., 2])
        cx, cy = gradient(chroma, 0.7)
        gc = np.hypot(cx, cy)
        kx, ky = gradient(chroma, 2.5)
        sharp_c = ramp(gc / (np.hypot(kx, ky) + 0.3), 1.2, 2.2)
        e = np.maximum(e, gc * sharp_c * ramp(cy / (gc + 1e-3), 0.3, 0.7))   # more colourful below
    k = max(2, round(p.hf / p.h) + 1)
    e = cv2.dilate(e, np.ones((k, k), np.uint8))
    return ramp(cv2.resize(e, (p.w, p.h), interpolation=cv2.INTER_AREA), 0.4, 2.5)


def _ridge_path(gain: np.ndarray, jump_cost: float, switch_cost: float) -> np.ndarray:
    """The path r(x) maximising sum gain[r(x), x] - jump_cost * |dr|, where a column may
    also have no ridge (r = -1; switching between the two costs switch_cost)."""
    n, w = gain.shape
    cost = -gain.astype(np.float64)
    ramp_ = jump_cost * np.arange(n, dtype=np.float64)
    acc, none = cost[:, 0].copy(), 0.0
    from_none = np.zeros((n, w), bool)
    none_from = np.full(w, -1, np.int32)
    accs = np.empty((n, w))
    accs[:, 0] = acc
    nones = np.empty(w)
    nones[0] = none
    for x in range(1, w):
        fwd = np.minimum.accumulate(acc - ramp_) + ramp_
        bwd = (np.minimum.accumulate((acc + ramp_)[::-1]) - ramp_[::-1])[::-1]
        dt = np.minimum(fwd, bwd)
        enter = none + switch_cost
        from_none[:, x] = enter < dt
        best_r = int(np.argmin(acc))
        leave = acc[best_r] + switch_cost
        new_none = min(none, leave)
        none_from[x] = best_r if leave < none else -1
        acc = np.minimum(dt, enter) + cost[:, x]
        none = new_none
        accs[:, x] = acc
        nones[x] = none
    path = np.full(w, -1, np.int32)
    rows = np.arange(n)
    state = -1 if none <= acc.min() else int(np.argmin(acc))
    for x in range(w - 1, -1, -1):
        path[x] = state
        if x == 0:
            break
        if state == -1:
            state = none_from[x]
        elif from_none[state, x]:
            state = -1
        else:
            state = int(np.argmin(accs[:, x - 1] + jump_cost * np.abs(rows - state)))
    return path


def ridge_in_haze(p: PhotoViews, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move the skyline up over a hazy ridge (see `_ridge_once`). Returns the new (w,) line
    and the (h, w) bool band between the two lines: terrain, neither sky nor water."""
    moved = _ridge_once(p, line)
    # the hill itself lies just under its ridge; farther down the band may hold a lake or the sea
    depth = np.minimum(line, moved + max(2, p.h // 10))
    terrain = (p.rows >= moved[None, :]) & (p.rows < depth[None, :])
    return moved, terrain


def _ridge_once(p: PhotoViews, line: np.ndarray) -> np.ndarray:
    """Move the skyline up to a long, crisp ridge above it where the band between
    the ridge and the skyline is darker than the sky over the ridge and not
    coloured like the sky (aerial perspective). Returns the new (w,) line."""
    e = crisp_ridges(p)
    band = int(0.4 * p.h)
    lo = np.maximum(0, line - band)
    valid = (p.rows >= lo[None, :]) & (p.rows < (line[None, :] - 2))
    height = ramp((line[None, :] - p.rows) / max(1, band), 0, 1)    # prefer the highest of similar edges
    gain = np.where(valid, e - 0.25 + 0.15 * height, -1.0)
    path = _ridge_path(gain, jump_cost=0.12, switch_cost=2.0)
    out = line.copy()
    accepted = []
    x = 0
    while x < p.w:
        if path[x] < 0:
            x += 1
            continue
        x1 = x
        while x1 < p.w and path[x1] >= 0:
            x1 += 1
        r = path[x:x1]
        if _accept_ridge(p, r, line[x:x1], e, x):
            out[x:x1] = np.minimum(out[x:x1], r)
            accepted.append((x, x1))
        x = x1
    # a ridge fading for a short stretch between two accepted parts goes on behind the haze
    for (a0, a1), (b0, b1) in zip(accepted, accepted[1:]):
        if b0 - a1 < 0.15 * p.w:
            bridge = np.linspace(out[a1 - 1], out[b0], b0 - a1 + 2)[1:-1].astype(out.dtype)
            out[a1:b0] = np.minimum(out[a1:b0], bridge)
    return out


def _accept_ridge(p: PhotoViews, r: np.ndarray, line: np.ndarray, e: np.ndarray, x0: int) -> bool:
    n = len(r)
    xs = np.arange(x0, x0 + n)
    strength = float(e[r, xs].mean())
    # long enough (a short one must be very crisp: a far headland), with sky over it
    if n < (0.05 if strength > 0.7 else 0.08) * p.w or np.median(r) < 0.08 * p.h or strength < 0.4:
        return False
    d = max(2, p.h // 60)

    def strip(img, r0, r1):
        return np.array([img[max(0, a):max(max(0, a) + 1, b), x].mean() if a < b else np.nan
                         for a, b, x in zip(r0, r1, xs)])
    above_L, below_L = strip(p.L, r - 3 * d, r - d), strip(p.L, r + d, np.minimum(line, r + 4 * d))
    above_c, below_c = strip(p.chroma, r - 3 * d, r - d), strip(p.chroma, r + d, np.minimum(line, r + 4 * d))
    ok = np.isfinite(below_L)
    if ok.mean() < 0.7:
        return False
    darker = ((np.abs(below_L[ok] - above_L[ok]) > 2.0) | (below_c[ok] > above_c[ok] + 3.0)).mean()
    band = np.zeros((p.h, p.w), bool)
    sky = np.zeros((p.h, p.w), bool)
    for ri, li, x in zip(r, line, xs):
        band[ri + d:li, x] = True
        sky[:max(0, ri - d), x] = True
    if band.sum() < 10 or sky.sum() < 10:
        return False
    # is the band explained by the colours of the sky over the ridge, or does it have its own?
    sky_like = float(posterior(ColourModel(p.lab[sky]), ColourModel(p.lab[band]), p.lab[band]).mean())
    # or coloured like it (snow, pale rock under white clouds) but with far more texture than the sky over it
    textured = float(np.median(p.texture[band])) > max(0.45, 2.0 * float(np.median(p.texture[sky])))
    as_rough = float(np.median(p.texture[band])) >= 0.8 * float(np.median(p.texture[sky]))
    return darker > 0.7 and ((sky_like < 0.35 and as_rough) or textured)


def _straight_lines(thin: np.ndarray, unit: float) -> np.ndarray:
    """Long straight segments in a boolean map of thin structures (probabilistic
    Hough transform), drawn back as a boolean map."""
    out = np.zeros(thin.shape, np.uint8)
    if thin.sum() < 20:
        return out > 0
    segs = cv2.HoughLinesP(thin.astype(np.uint8) * 255, 1, np.pi / 180, threshold=max(20, round(60 * unit)),
                           minLineLength=max(20, round(90 * unit)), maxLineGap=max(2, round(4 * unit)))
    if segs is not None:
        for x0, y0, x1, y1 in np.asarray(segs).reshape(-1, 4):
            cv2.line(out, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=max(2, round(3 * unit)))
    return out > 0


def _rising(evidence: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """Non-sky evidence that rises without a gap from the ground (spires, masts, poles,
    trunks and branches): grown row by row upwards, one pixel sideways per row."""
    h, w = evidence.shape
    out = np.zeros_like(evidence)
    prev = ground[-1].copy()
    for yy in range(h - 1, -1, -1):
        support = prev | ground[yy]
        support = support.copy()
        support[1:] |= support[:-1].copy()
        support[:-1] |= support[1:].copy()
        out[yy] = evidence[yy] & support
        prev = out[yy] | ground[yy]
    return out


def _wide_at_the_top(sky: np.ndarray, w: int) -> np.ndarray:
    """Keep sky components that open onto the top of the photo over a fifth of its width
    or are large: a narrow bright strip reaching the top edge (a stream, a gap between
    trunks) is not a sky."""
    n, lab, stats = components(sky)
    if n <= 1:
        return sky
    top_rows = lab[: max(1, sky.shape[0] // 50)]
    width = np.array([np.any(top_rows == i, axis=0).sum() for i in range(n)])
    keep = (width >= 0.2 * w) | (stats[:, cv2.CC_STAT_AREA] >= 0.1 * sky.size)
    keep[0] = False
    return keep[lab]


def _cut_off(rest: np.ndarray, vetoed: np.ndarray) -> np.ndarray:
    """The parts of `rest` that the vetoed things shut off from the sky above them (sky seen
    between the cables of a bridge): components whose upper edge lies, over most of its
    length, right under vetoed pixels."""
    n, lab, _ = components(rest)
    if n <= 1:
        return np.zeros_like(rest)
    reach = max(2, rest.shape[0] // 200)
    seen_above = np.zeros_like(vetoed)                    # a vetoed pixel just above (within `reach` rows)
    for k in range(1, reach + 1):
        seen_above[k:] |= vetoed[:-k]
    upper = rest & ~np.vstack([np.zeros((1, rest.shape[1]), bool), rest[:-1]])
    edge = np.bincount(lab[upper], minlength=n)
    covered = np.bincount(lab[upper & seen_above], minlength=n)
    keep = covered > 0.5 * np.maximum(edge, 1)
    keep[0] = False
    return keep[lab]


def refine(p: PhotoViews, line: np.ndarray, score: np.ndarray, sky_m, ground_m) -> tuple[np.ndarray, dict]:
    """The sky at the fine size: the area above the skyline, snapped to the photo's
    edges, minus everything that is not sky (see the module docstring).
    Returns ((hf, wf) bool, {reason: fine-pixel mask of what was vetoed for it})."""
    u = p.unit
    cand_w = (p.rows < line[None, :]) & (score > 0.25)
    if not cand_w.any():
        return np.zeros((p.hf, p.wf), bool), {}
    snapped = guided_filter(p.L_f / 100.0, p.to_fine(cand_w.astype(np.float32)), max(2, round(4 * u)), 1e-3)
    cand = snapped > 0.5
    dL, dist = p.standout()
    noise = float(np.median(dist[cand])) if cand.any() else 1.0
    thin = (dist > max(4.0, 4 * noise)) & dilate(cand, round(3 * u))
    if sky_m is not None and ground_m is not None:
        sky_colour = posterior(sky_m, ground_m, p.lab_f)
    else:
        sky_colour = np.ones((p.hf, p.wf), np.float32)
    if sky_m is not None:
        # a colour the sky never shows (a red kite) is unlike it, even when the ground lacks it too
        like = sky_m.likelihood(p.lab_f)
        sky_colour = np.where(like < 0.02 * float(np.median(like[cand])), 0.0, sky_colour)
    vetoes = {}
    lines = _straight_lines(thin, u)
    vetoes["lines"] = (lines | dilate(thin & dilate(lines, round(4 * u)), max(1, round(2 * u)))) & cand
    # small things unlike the sky around them: darker than it, or coloured unlike any sky pixel
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dilate(thin, 1).astype(np.uint8), connectivity=8)
    blob = np.zeros(n, bool)
    if n > 1:
        area = np.maximum(1, stats[:, 4])
        darker = np.bincount(lab.ravel(), weights=(dL < -12).ravel(), minlength=n) / area
        unlike = np.bincount(lab.ravel(), weights=(sky_colour < 0.3).ravel(), minlength=n) / area
        crisp = np.bincount(lab.ravel(), weights=crisp_edges(p).ravel(), minlength=n) / area
        # darker than the sky or coloured unlike it, with crisp edges; or very crisp (a black-and-white kite)
        blob = (stats[:, 4] <= 0.02 * p.hf * p.wf) & ((((darker > 0.3) | (unlike > 0.4)) & (crisp > 0.15))
                                                      | (crisp > 0.4))
        blob[0] = False
    # a thing wider than the median window stands out by its outline only: fill the outline
    things = dilate(fill_holes(dilate(blob[lab], round(2 * u)), int(0.02 * p.hf * p.wf)), max(2, round(2 * u)))
    vetoes["small things"] = things & cand
    evidence = thin | (p.texture_f > 2.5)
    below_line = p.to_fine((p.rows >= line[None, :]).astype(np.float32)) > 0.5
    vetoes["things rising from the ground"] = dilate(_rising(evidence & cand, below_line), round(2 * u)) & cand
    any_veto = np.logical_or.reduce(list(vetoes.values()))
    crowded = box(any_veto.astype(np.float32), round(31 * u)) > 0.25
    vetoes["crowded"] = crowded & cand & ~any_veto
    top = np.zeros_like(cand)
    top[0] = True
    # connected to the top of the photo across thin things (sky below a cable is still sky)
    solid = vetoes["things rising from the ground"] | crowded
    across = (cand | dilate(lines | things, round(3 * u))) & ~solid
    sky = _wide_at_the_top(keep_touching(erode(across, max(1, round(u))), top), p.wf) & cand & ~any_veto & ~crowded
    # sky-like parts cut off by the vetoes (sky seen between cables, branches, towers) are left
    # frozen, and nothing else may claim them (they are not water)
    vetoes["cut off"] = _cut_off(cand & ~sky & ~any_veto & ~crowded, any_veto | crowded)
    return sky, vetoes


def _no_narrow_plunges(line: np.ndarray, h: int) -> np.ndarray:
    """Where the skyline plunges deep in a few columns only (down a road that has the sky's
    colour, between two towers), hold it near the level of the columns around: the sky
    seldom reaches far down through a narrow gap, and freezing such a gap costs little."""
    w = len(line)
    k = max(3, int(0.25 * w) | 1)
    padded = np.pad(line.astype(np.float32), k // 2, mode="edge")
    level = np.percentile(np.lib.stride_tricks.sliding_window_view(padded, k), 30, axis=1)
    held = np.minimum(line, (level + 0.05 * h).astype(line.dtype))
    return np.where(line > 0.6 * h, held, line)       # only plunges into the lower part of the frame


def find_sky(p: PhotoViews, floor: np.ndarray | None = None, reflected: np.ndarray | None = None) -> SkyResult:
    """The sky of a photo (see the module docstring). `floor` (w,), optional: per work
    column, a row the sky may not reach (a waterline found from reflections);
    `reflected` (h, w) bool, optional: things whose mirror image was found in water
    (islands, shores, buildings on the waterline), which are not sky."""
    s0 = generic_score(p)
    line0 = skyline(s0)
    s1, sky_m, ground_m = learned_score(p, s0, line0)
    line = _no_narrow_plunges(skyline(s1), p.h)
    if floor is not None:
        line = np.minimum(line, floor)
    line, terrain = ridge_in_haze(p, line)
    mask_f, vetoes = refine(p, line, s1, sky_m, ground_m)
    if reflected is not None and reflected.any() and floor is not None:
        # things standing on the waterline (islands, shores, buildings); reflected clouds are sky
        axis = int(floor.min())
        near = np.zeros_like(reflected)
        near[max(0, axis - max(2, p.h // 25)):axis] = True
        standing = keep_touching(dilate(reflected, 1), near) & reflected
        mirrored = dilate(p.to_fine(standing.astype(np.float32)) > 0.3, round(3 * p.unit)) & mask_f
        vetoes["reflected things"] = mirrored
        top = np.zeros_like(mask_f)
        top[0] = True
        mask_f = keep_touching(mask_f & ~mirrored, top)
    area = float(p.hf * p.wf)
    if mask_f.sum() < MIN_SKY * area:          # a few specks of sky through foliage: nothing to animate
        vetoes["too small"] = mask_f
        mask_f = np.zeros_like(mask_f)
    dropped = {k: float(v.sum()) / area for k, v in vetoes.items() if v.any()}
    things = [vetoes[k] for k in ("lines", "small things", "cut off", "reflected things") if k in vetoes]
    blocked = np.logical_or.reduce(things) if things else np.zeros_like(mask_f)   # not water either
    conf = float(p.to_fine(s1)[mask_f].mean()) if mask_f.any() else 0.0
    return SkyResult(mask_f=mask_f, line=line, score=s1, confidence=conf, dropped=dropped, blocked_f=blocked,
                     terrain=terrain)
