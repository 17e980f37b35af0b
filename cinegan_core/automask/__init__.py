"""Automatic sky and water mask, precision first: a learned scene parser fused with classical cues.

What the mask marks as moving must really be sky or water: a marketer forgives
a lake that stays still (they can paint it), not a moving mountain. So every
region is found from positive evidence, every doubtful part is left frozen, and
the result says so in plain words.

    auto_mask(rgb) -> AutoMask(labels, confidence, share, notes)
    auto_labels(rgb) -> labels           (the same labels, for existing callers)

Labels are ``regions`` codes: 0 solid (frozen), 1 sky, 2 still water, 3 flowing
water, 4 falling water. With the scene parser (``parser``, a small head trained
here on a backbone a package ships) the parser decides what moves and of which
kind, and the classical cues below refine its coarse probabilities (edges, thin
things in the sky, reflections): ``fusion``. Without it (``parser.available()``
False: the backbone package is missing) the classical mask alone is used, which
only tells sky from water (2 for all water), and a note says why. The classical mask:

* ``cues``: the photo at a fine size (long side 1024 px: thin things,
  crisp edges, texture, the final boundary) and a work size (384 px: regions);
* ``sky``: a skyline by dynamic programming over a sky score, ridges
  in haze, then vetoes for everything solid above the skyline (cables and
  masts by a Hough transform, birds and kites, spires and branches rising from
  the ground, sky seen through foliage);
* ``water``: water from positive evidence only: a mirror reflection
  of what lies above the waterline, or a surface that reflects the sky's
  colours, or waves; roads, decks, sand and gravel have none of these;
* the two are made consistent (no sky below a waterline, one connected sky,
  water below the sky), margins keep boundary pixels frozen, and the labels
  are brought to the photo's size.

Deterministic: no random numbers and no process-wide state, so the same photo
gives the same mask and concurrent calls from threads do not disturb each
other.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..regions import CAREFUL, SKY, SOLID, WATER, is_moving, shares
from .cues import PhotoViews, dilate
from .fusion import fuse, photo_cues
from .sky import find_sky, skyline
from .water import find_water, refine_water, surface_water

__all__ = ["AutoMask", "auto_labels", "auto_mask", "classical_mask", "fused_mask", "identity", "parse", "parser_status",
           "skyline"]

SURE = 0.6          # confidence below which a region is reported as unsure
# compute the parser-free cues (``fusion.photo_cues``) in a second thread while the parser runs: the
# same mask, sooner (bench/masks.py prints the mask step's time)
CONCURRENT_CUES = True
# share of the photo in still water the parser leans to and takes for a fall (``fusion.Fused.unsure["falls"]``)
# above which the notes say a possible waterfall was left still (a thin fall is small). Out of fold (stop 44,
# pair a, 299 photos): the note is given on 13 photos, 9 of them with running water (3 of the 14 whose running
# water the mask left still), 4 without (fog over a field, an aerial coast town, a cumulus sky, a fence at
# sunset); the generic "possible water" note needs 1 %
UNSURE_FALL = 0.003
# what the notes about unsure areas add under the careful reach: the other way to move them
BOLDER = ", or make the automatic mask bold"
VERSION = 21        # bump when the same photo and parser give a different mask (cache keys)


@dataclass
class AutoMask:
    """The automatic mask of one photo.

    labels:     (H, W) uint8 region codes: 0 frozen, 1 sky, 2 still, 3 flowing, 4 falling water
                (the classical mask alone gives 2 to all water).
    confidence: {"sky": c, "water": c}, c in [0, 1]: how sure the mask is that
                what it labelled is that region (0 where the region is absent).
    share:      {"sky": s, "water": s}: fraction of the photo's pixels with that label.
    notes:      short plain-English lines for the user (what was left frozen
                and why, or that nothing was found), in the order to show them.
    scene:      the parser's SceneProbs the mask was fused from, or None (the classical mask,
                or a mask read back from the cache): lets a caller that needs the probabilities
                again (a painted region's kind) reuse them instead of parsing twice.
    """
    labels: np.ndarray
    confidence: dict = field(default_factory=dict)
    share: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    scene: object = None

    @property
    def moving(self) -> np.ndarray:
        """(H, W) bool: True where the mask moves."""
        return is_moving(self.labels)


def parser_status() -> tuple[bool, str]:
    """(available, reason): whether the learned scene parser can run here, and if not, why
    (the reason is a short phrase for the user, e.g. the package that is missing).
    The environment variable CINEGAN_SCENE_PARSER=off switches the parser off."""
    if os.environ.get("CINEGAN_SCENE_PARSER", "").strip().lower() in ("off", "0", "no", "false"):
        return False, "the scene parser is switched off (CINEGAN_SCENE_PARSER=off)"
    try:
        from . import parser
    except ImportError as e:          # the parser module or a package it needs is missing
        missing = getattr(e, "name", None) or ""
        if missing and not missing.startswith("cinegan_core"):
            return False, f"the scene parser needs the package {missing.split('.')[0]!r}, which is not installed"
        return False, "the scene parser is not part of this installation"
    try:
        return parser.available()
    except Exception as e:            # a damaged head or backbone must not break the mask
        return False, f"the scene parser failed to load ({e})"


def parse(rgb: np.ndarray, device=None):
    """(SceneProbs or None, reason): the parser's probabilities of a photo, or None with why
    (``parser_status``; a parser that fails on this photo must not stop a render)."""
    ok, reason = parser_status()
    if not ok:
        return None, reason
    return _run_parser(rgb, device)


def _run_parser(rgb: np.ndarray, device=None):
    """``parse`` once the parser is known to be available."""
    from . import parser
    try:
        return parser.parse_scene(rgb, device=device), ""
    except Exception as e:            # noqa: BLE001 - the classical cues take over
        return None, f"the scene parser failed on this photo ({e})"


def identity() -> str:
    """What the automatic mask's output depends on besides the photo (for cache keys):
    "classical-<VERSION>", or "parser-<VERSION>:<head digest>" when the parser is used."""
    ok, _ = parser_status()
    if not ok:
        return f"classical-{VERSION}"
    from . import parser
    return f"parser-{VERSION}:{getattr(parser, 'HEAD_SHA256', '')}"


def auto_mask(rgb: np.ndarray, scene=None, use_parser: bool = True, device=None, reach: str = CAREFUL) -> AutoMask:
    """Find sky and water in a landscape photo, precision first.

    rgb:        (H, W, 3) uint8.
    scene:      optional SceneProbs (or its (5, h, w) float32 ``probs``) already computed for
                this photo; None: the parser runs here when it is available.
    use_parser: False: the classical mask alone (no parser, no note about it).
    device:     torch device for the parser (None: its default).
    reach:      "careful" (what the parser is sure of) or "bold" (also what it leans to: finds more,
                moves something solid more often; ``fusion.thresholds``). The classical mask has one reach.
    Returns an AutoMask (labels (H, W) uint8 region codes 0 solid / 1 sky / 2 still /
    3 flowing / 4 falling water, per-group confidence and share in [0, 1], notes).
    """
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    views = None
    if scene is None and use_parser:
        ok, reason = parser_status()
        if ok and CONCURRENT_CUES:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cinegan-cues") as pool:
                pending = pool.submit(_views_and_cues, rgb)
                scene, reason = _run_parser(rgb, device)
                views = pending.result()
        elif ok:
            scene, reason = _run_parser(rgb, device)
        if scene is None:
            am = classical_mask(rgb)
            am.notes.append(f"{reason}: the mask comes from simple cues only; check what moves")
            return am
    if scene is None:
        return classical_mask(rgb)
    am = fused_mask(rgb, scene, views, reach)
    am.scene = scene
    return am


def _views_and_cues(rgb: np.ndarray):
    p = PhotoViews(rgb)
    return p, photo_cues(p)


def fused_mask(rgb: np.ndarray, scene, views=None, reach: str = CAREFUL) -> AutoMask:
    """The parser's probabilities fused with the classical cues (``fusion``).

    rgb:   (H, W, 3) uint8; scene: SceneProbs or (5, h, w) float32 probabilities.
    views: (PhotoViews, PhotoCues) of this photo if already computed (None: computed here).
    reach: "careful" | "bold" (``auto_mask``). The bold mask moves all the careful one moves, as it
           moves it, and what the fusion at the bold thresholds adds (alone, those thresholds leave still
           some of what the careful rules move: a lone piece of sky the careful rules grow whole)."""
    H, W = rgb.shape[:2]
    p, cues = views if views is not None else (PhotoViews(rgb), None)
    if reach != CAREFUL and cues is None:
        cues = photo_cues(p)            # the two fusions below read the same cues: found once
    f = fuse(p, scene, cues, reach)
    labels_f = f.labels_f
    if reach != CAREFUL:
        careful = fuse(p, scene, cues, CAREFUL).labels_f
        labels_f = np.where(careful > 0, careful, labels_f)
    labels = _upsample_labels(labels_f, (W, H)) if (p.hf, p.wf) != (H, W) else labels_f
    share = shares(labels)
    confidence = {k: (v if share[k] else 0.0) for k, v in f.confidence.items()}
    dropped = {k: v for k, v in f.dropped.items() if k != "too small" or v > 0.005}   # specks are not news
    notes = _notes(share, confidence, dropped, [])
    bolder = BOLDER if reach == CAREFUL else ""
    if f.unsure["falls"] > UNSURE_FALL:
        notes.append("left a possible waterfall frozen: not sure it is falling water; paint it if it should fall"
                     + bolder)
    elif f.unsure["water"] > 0.01:
        notes.append("left a possible water area frozen: not sure it is water; paint it if it should move" + bolder)
    if f.unsure["sky"] > 0.02:
        notes.append("left part of what may be sky frozen: not sure it is sky; paint it if it should move" + bolder)
    if "things in the water" in f.dropped and f.dropped["things in the water"] > 0.002:
        notes.append("kept things standing in the water still (posts, reeds, masts...)")
    return AutoMask(labels=labels, confidence=confidence, share=share, notes=notes)


def classical_mask(rgb: np.ndarray) -> AutoMask:
    """The classical mask alone (no weights): labels 0 frozen / 1 sky / 2 water."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    H, W = rgb.shape[:2]
    p = PhotoViews(rgb)
    mirror = find_water(p)
    sky = find_sky(p, floor=mirror.waterline, reflected=mirror.reflected)
    blocked = p.to_work(sky.blocked_f.astype(np.float32)) > 0.3 if sky.blocked_f is not None else mirror.mask_w
    surface, surface_conf, water_notes = surface_water(p, sky.mask_f, sky.line, mirror.mask_w | blocked,
                                                       mirror.waterline, terrain=sky.terrain)
    if mirror.reflected is not None:
        surface &= ~mirror.reflected
    water_f = refine_water(p, mirror.mask_w | surface, sky.mask_f)
    sky_f = sky.mask_f
    if water_f.any() and sky_f.any():
        # where sky and water meet (a sea's horizon) they move in different directions: keep a band still
        band = max(1, round(2 * p.unit))
        meet = dilate(sky_f, band) & dilate(water_f, band)
        sky_f, water_f = sky_f & ~meet, water_f & ~meet
    water_conf = max(mirror.confidence if mirror.mask_w.any() else 0.0, surface_conf)
    labels_f = np.zeros((p.hf, p.wf), np.uint8)
    labels_f[sky_f] = SKY
    labels_f[water_f] = WATER
    labels = _upsample_labels(labels_f, (W, H)) if (p.hf, p.wf) != (H, W) else labels_f
    share = shares(labels)
    confidence = {"sky": sky.confidence if share["sky"] else 0.0,
                  "water": water_conf if share["water"] else 0.0}
    notes = _notes(share, confidence, sky.dropped, water_notes)
    return AutoMask(labels=labels, confidence=confidence, share=share, notes=notes)


def auto_labels(rgb: np.ndarray) -> np.ndarray:
    """Label sky and water in a landscape photo.

    rgb: (H, W, 3) uint8. Returns (H, W) uint8 region codes (``auto_mask``).
    """
    return auto_mask(rgb).labels


def _notes(share: dict, confidence: dict, sky_dropped: dict, water_notes: list) -> list:
    notes = []
    if not share["sky"] and not share["water"]:
        return ["found no sky or water: paint what should move"]
    if share["sky"] and confidence["sky"] < SURE:
        notes.append("the sky is uncertain: check that only sky is marked")
    if sky_dropped.get("too small", 0) > 0:
        notes.append("left a few specks of sky still: too small to animate")
    if sky_dropped.get("lines", 0) > 0.002 or sky_dropped.get("crowded", 0) > 0.02:
        notes.append("kept things in the sky still (cables, poles, branches...)")
    notes.extend(water_notes)
    if share["water"] and confidence["water"] < SURE:
        notes.append("the water is uncertain: check that only water is marked")
    return notes


def _upsample_labels(labels: np.ndarray, size) -> np.ndarray:
    """Smooth upsampling of a small label map: each class's indicator is resized
    bilinearly and the largest wins (no blocky staircase edges)."""
    W, H = size
    codes = sorted(set(np.unique(labels).tolist()) | {SOLID})
    # a running maximum over the classes, in code order (a later class wins only when strictly
    # larger: the first maximum, as an argmax over the stack, without the (classes, H, W) stack)
    out = np.full((H, W), codes[0], np.uint8)
    best = cv2.resize((labels == codes[0]).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    for k in codes[1:]:
        share = cv2.resize((labels == k).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        wins = share > best
        out[wins] = k
        np.maximum(best, share, out=best)
    return out
