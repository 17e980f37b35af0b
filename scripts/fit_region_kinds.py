"""Fit the classifier that names a painted region from its cues (``automask.kinds``):
a multinomial logistic regression over standardised region features, on the TRAIN
split of data/scenes only (a label json with "split": "heldout" is never read past
its split), with the feature set, the augmentation and the L2 strength chosen by
K-fold cross-validation grouped by photo. Writes cinegan_core/data/region_kinds.json.

Samples. Every labelled region of a train photo (a connected area of one moving class,
at least 0.2 % of the photo, the photo at a long side of 384 px: as bench/kinds.py
counts them) is an *original* sample. Two augmentations add samples a user may paint
(candidates, kept only if cross-validation prefers them):

* parts: the upper and the lower half (rows) of each original region, where at least
  0.2 % of the photo: a user paints part of a fall or of a sky;
* crops: the photo cut just below the top of each water region (5 % of its height down;
  a fall also 35 % and 65 % down, for more of the rare falls; the crop keeps the full
  width and everything below, read at twice the size and brought to 384 px), and every
  labelled region of the crop: water that touches the top of the photo, a framing the
  originals seldom show (a waterfall filling the frame was named sky by the hand-set rule).

Cross-validation: the train photos are dealt into K folds (sorted by the rarest moving
class they hold, then by name, dealt round-robin: every fold gets falls). Each fold's
model is fitted on the other folds' samples (augmented ones included where the
candidate uses them) and scored on the fold's *original* regions and on its crops' water regions that touch the top (a
framing users paint, e.g. a waterfall filling the frame, that the originals seldom show;
weighted AUG_WEIGHT). The candidate with the lowest class-weighted cross-entropy on them
(the fit's own objective, smoother than a count of right answers with 17 falls) is
refitted on all train samples and written. Accuracy, balanced accuracy and the
confusion are reported on the original regions alone.

The fit: softmax regression, features standardised on the fitting samples, classes
weighted n / (4 n_class) (the rare falls count as much as the skies), augmented samples
weighted AUG_WEIGHT, L2 on the weights (not the bias) of strength l2 on the weighted mean
cross-entropy, solved by Newton's method with a backtracking line search (float64,
deterministic: no random numbers).

    python scripts/fit_region_kinds.py [--folds 5] [-o cinegan_core/data/region_kinds.json]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import cv2
import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import scene_labels

from cinegan_core import regions
from cinegan_core.automask import kinds

SCENES = os.path.join(ROOT, "data", "scenes")
OUT = os.path.join(ROOT, "cinegan_core", "data", "region_kinds.json")
SIDE = 384            # px, long side the photos are read at (as bench/kinds.py)
MIN_REGION = 0.002    # share of the photo a labelled region needs (as bench/kinds.py)
FALL_CUTS = (0.05, 0.35, 0.65)   # crops cut a fall this far down its height (other water: 5 %)
AUG_WEIGHT = 0.5      # weight of an augmented sample against an original one
L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
CLASSES = regions.MOVING                    # sky, still, flowing, falling: the model's class order
BASE = ("top", "centre", "bottom", "width", "log_elongation", "axis", "brightness", "blue", "saturation",
        "log_texture", "coherence", "streak", "vstreak", "relbright")      # the hand-set rule's cues
FEATURE_SETS = {"hand-rule cues": BASE, "all cues": tuple(kinds.FEATURES)}  # all: + coarse texture, context
AUGMENTS = {"none": (), "parts": ("part",), "crops": ("crop",), "parts+crops": ("part", "crop")}


def load(path: str, side: int) -> np.ndarray:
    """(h, w, 3) uint8: the photo, EXIF applied, long side brought to `side` (LANCZOS)."""
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    img.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(img)


def train_labels() -> list[tuple[str, dict]]:
    """(json path, label) of every train photo, sorted by path; held-out ones are skipped unread past the split."""
    out = []
    for path in sorted(glob.glob(os.path.join(SCENES, "*", "*.json"))):
        js = scene_labels.read(path)
        if js.get("split") == "train":
            out.append((path, js))
    return out


def components(lab: np.ndarray):
    """(class code, (h, w) bool) for every connected area of one moving class >= MIN_REGION of `lab`."""
    h, w = lab.shape
    for code in CLASSES:
        n, comp, st, _ = cv2.connectedComponentsWithStats((lab == code).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            if st[k, cv2.CC_STAT_AREA] >= MIN_REGION * h * w:
                yield code, comp == k


def halves(region: np.ndarray):
    """The upper and the lower half (by rows) of a region, each (h, w) bool."""
    rows = np.flatnonzero(region.any(1))
    mid = (rows[0] + rows[-1] + 1) // 2
    up, low = region.copy(), region.copy()
    up[mid:] = False
    low[:mid] = False
    return up, low


def regions_of(path: str, js: dict, kinds_wanted=("orig", "part", "crop")):
    """The regions of one labelled photo: (kind "orig" | "part" | "crop", class code, rgb (h, w, 3)
    uint8 of the photo or crop it lies in, region (h, w) bool, whether it touches the top row)."""
    photo = os.path.join(os.path.dirname(path), js["image"])
    rgb = load(photo, SIDE)
    h, w = rgb.shape[:2]
    lab = scene_labels.rasterise(js, (w, h), band=0)
    found = list(components(lab))
    for code, r in found:
        if "orig" in kinds_wanted:
            yield "orig", code, rgb, r, bool(r[0].any())
        if "part" in kinds_wanted:
            for part in halves(r):
                if part.sum() >= MIN_REGION * h * w:
                    yield "part", code, rgb, part, bool(part[0].any())
    if "crop" not in kinds_wanted:
        return
    tops = set()
    for code, r in found:
        if code in regions.WATERS:
            rows = np.flatnonzero(r.any(1))
            tops |= {int(rows[0] + f * np.ptp(rows)) for f in (FALL_CUTS if code == regions.FALLING_WATER else (0.05,))}
    tops = sorted(tops)
    big = load(photo, 2 * SIDE)
    H, W = big.shape[:2]
    lab_big = scene_labels.rasterise(js, (W, H), band=0)
    done = []
    for t in tops:
        if t < 0.1 * h or any(abs(t - d) < 0.05 * h for d in done):  # at the top already, or a crop like one made
            continue
        done.append(t)
        T = round(t * H / h)
        crop, clab = big[T:], lab_big[T:]
        s = min(1.0, SIDE / max(crop.shape[:2]))
        size = (max(8, round(crop.shape[1] * s)), max(8, round(crop.shape[0] * s)))
        crop = np.asarray(Image.fromarray(crop).resize(size, Image.LANCZOS))
        clab = cv2.resize(clab, size, interpolation=cv2.INTER_NEAREST)
        for code, r in components(clab):
            yield "crop", code, crop, r, bool(r[0].any())


def samples(path: str, js: dict) -> list[dict]:
    """The samples of one train photo (``regions_of``): dicts with code, kind, touches and the
    cues' features x (all of ``kinds.FEATURES``, in that order)."""
    out = []
    for kind, code, rgb, r, touches in regions_of(path, js):
        c = kinds.region_cues(rgb, r)
        out.append({"code": int(code), "kind": kind, "touches": touches,
                    "x": [kinds.FEATURES[n](c) for n in kinds.FEATURES]})
    return out


# ---------------------------------------------------------------- the fit

def fit(X: np.ndarray, y: np.ndarray, s: np.ndarray, l2: float, iters: int = 100):
    """Weighted softmax regression: X (N, F) float64 standardised, y (N,) class index 0..K-1,
    s (N,) sample weights. Minimises sum_i s_i CE_i / sum_i s_i + l2 / 2 |W|^2 (+ 1e-8 / 2 |b|^2
    to fix the softmax's free offset). Returns (W (K, F), b (K,))."""
    N, F = X.shape
    K = len(CLASSES)
    Xb = np.hstack([X, np.ones((N, 1))])
    Y = np.eye(K)[y]
    sw = s / s.sum()
    reg = np.full(F + 1, float(l2))
    reg[F] = 1e-8
    theta = np.zeros((K, F + 1))

    def loss(th):
        z = Xb @ th.T
        z -= z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -(sw * (Y * logp).sum(1)).sum() + 0.5 * (reg * th ** 2).sum(), np.exp(logp)

    cur, P = loss(theta)
    for _ in range(iters):
        g = ((P - Y) * sw[:, None]).T @ Xb + reg * theta                       # (K, F+1)
        A = np.einsum("ik,kl->ikl", P, np.eye(K)) - np.einsum("ik,il->ikl", P, P)   # (N, K, K)
        H = np.einsum("i,ikl,ia,ib->kalb", sw, A, Xb, Xb, optimize=True).reshape(K * (F + 1), K * (F + 1))
        H += np.diag(np.tile(reg, K))
        step = np.linalg.solve(H, g.ravel()).reshape(K, F + 1)
        t = 1.0
        while True:
            new, Pn = loss(theta - t * step)
            if new <= cur - 1e-4 * t * float((g * step).sum()) or t < 1e-6:
                break
            t *= 0.5
        theta, done = theta - t * step, cur - new < 1e-12
        cur, P = new, Pn
        if done:
            break
    return theta[:, :F], theta[:, F]


def class_weights(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(K,) n / (K n_class) over the (weighted) samples; a class absent gets 1."""
    K = len(CLASSES)
    n = np.array([s[y == k].sum() for k in range(K)])
    return np.where(n > 0, s.sum() / (K * np.maximum(n, 1e-12)), 1.0)


def train_model(X, y, s, l2):
    """(mean, scale, W, b) fitted on samples X (N, F) raw features, y (N,), s (N,) sample weights."""
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-9] = 1.0
    cw = class_weights(y, s)
    W, b = fit((X - mean) / scale, y, s * cw[y], l2)
    return mean, scale, W, b


def probabilities(model, X):
    """(N, K) class probabilities of samples X (N, F) raw features."""
    mean, scale, W, b = model
    z = ((X - mean) / scale) @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def predict(model, X):
    return np.argmax(probabilities(model, X), 1)


def weighted_log_loss(y, P, s=None) -> float:
    """Mean cross-entropy of probabilities P (N, K) for classes y (N,), samples weighted s (N,)
    (default 1) times their class's weight n / (K n_class) (n counted with s)."""
    s = np.ones(len(y)) if s is None else s
    w = s * class_weights(y, s)[y]
    ce = -np.log(np.maximum(P[np.arange(len(y)), y], 1e-12))
    return float((w * ce).sum() / w.sum())


def folds_of(photos: list[str], labels: dict, k: int) -> dict:
    """photo -> fold 0..k-1: sorted by the rarest moving class it holds (falls first), then name, dealt round-robin."""
    rank = {code: i for i, code in enumerate(reversed(CLASSES))}       # falling 0, flowing 1, still 2, sky 3
    key = {p: min([rank[c] for c in labels[p]] or [len(CLASSES)]) for p in photos}
    order = sorted(photos, key=lambda p: (key[p], p))
    return {p: i % k for i, p in enumerate(order)}


def confusion(y, pred) -> list[list[int]]:
    K = len(CLASSES)
    m = np.zeros((K, K), int)
    np.add.at(m, (y, pred), 1)
    return m.tolist()


def figures(y, pred) -> dict:
    m = np.array(confusion(y, pred))
    recall = [float(m[k, k] / m[k].sum()) if m[k].sum() else None for k in range(len(CLASSES))]
    return {"n": len(y), "right": int(np.trace(m)), "accuracy": round(float(np.trace(m) / max(len(y), 1)), 4),
            "balanced": round(float(np.mean([r for r in recall if r is not None])), 4),
            "recall": {regions.NAMES[c]: (round(r, 4) if r is not None else None) for c, r in zip(CLASSES, recall)},
            "confusion": m.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("-o", "--out", default=OUT)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rows, photo_of = [], []
    labels = {}
    for path, js in train_labels():
        name = os.path.relpath(path, SCENES)
        got = samples(path, js)
        rows += got
        photo_of += [name] * len(got)
        labels[name] = sorted({r["code"] for r in got if r["kind"] == "orig"})
    names = list(kinds.FEATURES)
    Xall = np.array([r["x"] for r in rows], np.float64)
    y = np.array([CLASSES.index(r["code"]) for r in rows])
    kind = np.array([r["kind"] for r in rows])
    touches = np.array([r["touches"] for r in rows]) & np.isin(y, [CLASSES.index(c) for c in regions.WATERS]) \
        & (kind == "crop")
    photos = sorted(labels)
    fold_of = folds_of(photos, labels, a.folds)
    fold = np.array([fold_of[p] for p in photo_of])
    orig = kind == "orig"
    print(f"{len(photos)} train photos, {orig.sum()} regions, {len(rows)} samples with augmentations "
          f"({time.perf_counter() - t0:.0f} s)")
    for k in ("orig", "part", "crop"):
        print(f"  {k:5s}: " + ", ".join(f"{regions.NAMES[c]} {int(((kind == k) & (y == i)).sum())}"
                                        for i, c in enumerate(CLASSES)))

    candidates = []
    for fs, feats in FEATURE_SETS.items():
        cols = [names.index(n) for n in feats]
        X = Xall[:, cols]
        for aug, kinds_used in AUGMENTS.items():
            use = orig | np.isin(kind, kinds_used)
            s = np.where(orig, 1.0, AUG_WEIGHT)
            for l2 in L2_GRID:
                P = np.zeros((len(y), len(CLASSES)))
                for f in range(a.folds):
                    fit_on = use & (fold != f)
                    model = train_model(X[fit_on], y[fit_on], s[fit_on], l2)
                    held = fold == f
                    P[held] = probabilities(model, X[held])
                pred = P.argmax(1)
                cv = figures(y[orig], pred[orig])
                cv["log_loss"] = round(weighted_log_loss(y[orig], P[orig]), 4)
                judged = orig | touches
                weight = np.where(orig, 1.0, AUG_WEIGHT)[judged]
                cv["score"] = round(weighted_log_loss(y[judged], P[judged], weight), 4)
                cv["top_touching_water_crops"] = figures(y[touches], pred[touches])
                candidates.append({"features": fs, "augment": aug, "l2": l2, "cv": cv})
                recall = " ".join(f"{v:.0%}" for v in cv["recall"].values())
                print(f"  {fs:15s} {aug:12s} l2 {l2:<6g} cv score {cv['score']:.3f} log-loss {cv['log_loss']:.3f} "
                      f"acc {cv['accuracy']:.1%} balanced {cv['balanced']:.1%}  recall {recall}"
                      f"  | top-touching water crops {cv['top_touching_water_crops']['accuracy']:.0%}")
    best = min(candidates, key=lambda c: (c["cv"]["score"], -c["l2"]))
    feats = FEATURE_SETS[best["features"]]
    cols = [names.index(n) for n in feats]
    use = orig | np.isin(kind, AUGMENTS[best["augment"]])
    s = np.where(orig, 1.0, AUG_WEIGHT)
    mean, scale, W, b = model = train_model(Xall[use][:, cols], y[use], s[use], best["l2"])
    resub = figures(y[orig], predict(model, Xall[orig][:, cols]))
    card = {
        "what": "multinomial logistic regression naming a painted region (sky / still / flowing / falling water) "
                "from its cues (cinegan_core.automask.kinds.FEATURES), fitted by scripts/fit_region_kinds.py",
        "features": list(feats),
        "classes": [regions.NAMES[c] for c in CLASSES],
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "weights": [[round(float(v), 6) for v in row] for row in W],
        "bias": [round(float(v), 6) for v in b],
        "fit": {"l2": best["l2"], "augment": best["augment"], "augmented_weight": AUG_WEIGHT,
                "class_weights": "n / (4 n_class) over the fitting samples", "side_px": SIDE,
                "min_region": MIN_REGION},
        "training": {"split": "train only (held-out photos never read past their split)",
                     "photos": len(photos), "photos_with_class": {regions.NAMES[c]: sum(c in v for v in labels.values())
                                                                   for c in CLASSES},
                     "samples": {k: {regions.NAMES[c]: int(((kind == k) & (y == i) & use).sum())
                                     for i, c in enumerate(CLASSES)} for k in ("orig", "part", "crop")},
                     "resubstitution": {k: resub[k] for k in ("accuracy", "balanced", "recall")}},
        "cv": {"folds": a.folds, "grouped_by": "photo", "scored_on": "original regions of the held fold",
               "chosen_by": "lowest class-weighted cross-entropy on the held folds' original regions and their "
                            f"top-touching water crops (weighted {AUG_WEIGHT})",
               "chosen": best["cv"],
               "candidates": [{k: (v if k != "cv" else {m: v[m] for m in ("score", "log_loss", "accuracy", "balanced",
                                                                           "recall")}) for k, v in c.items()}
                              for c in candidates]},
    }
    kinds.parse_model(card)   # it loads as the app will load it
    with open(a.out, "w", encoding="utf-8") as fh:
        json.dump(card, fh, indent=1)
        fh.write("\n")
    print(f"chosen: {best['features']}, augment {best['augment']}, l2 {best['l2']}: "
          f"cv score {best['cv']['score']:.3f}, log-loss {best['cv']['log_loss']:.3f}, accuracy "
          f"{best['cv']['accuracy']:.1%}, balanced {best['cv']['balanced']:.1%}; wrote {os.path.relpath(a.out, ROOT)} "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
