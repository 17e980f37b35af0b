"""The automatic mask, measured: every figure of issue 17's "Done when" in one run.

    python bench/masks.py [--samples DIR] [--scenes DIR] [--split heldout|train] [--side PX]
                          [--out DIR] [--pictures N | --pictures NAME ...] [--only NAME ...]
                          [--standin] [--no-classical] [--annotated [--photos DIR] [--debian-root DIR]]
                          [--heads DIR ...] [--flip on|off] [--bold]

Prints:

* reference samples (DIR/NAME/NAME.png + NAME_mask.png, white = moves): IoU of the
  moving area (as ``cinemetrics.py mask-iou``: the reference at its own size, the
  mask resized to it nearest-neighbour) and the false-move rate (the share of the
  reference's frozen pixels that the mask moves); mean and worst;
* labelled scene photos of one split of data/scenes (default: the held-out split,
  never used for tuning): per photo, the must-freeze area that moves (the labels'
  solid pixels, the ignore areas and the band around class boundaries left out),
  the share of the labelled moving area (sky and every kind of water) that moves,
  for photos with flowing or falling water the share of those pixels that move
  ("found" when >= 50 %) and the share given the right kind (code 3 / 4); then the
  totals: photos over 1 % must-freeze moving, the moving area found (pooled over all
  photos, and the mean per photo), the water photos found;
* the mask step's time per photo at SIDE px long side (every photo is brought to it,
  Lanczos): the automatic mask (the parser when available, plus the classical cues)
  beside the classical mask alone, wall seconds, mean and worst.

Every figure is printed for the classical mask alone too (``--no-classical`` skips it), and with
``--bold`` for the bold reach (``mask_reach=bold``, ``fusion.thresholds``) beside the careful default.
``--out DIR`` writes full-resolution overlay PNGs (sky blue, still water green,
flowing water cyan, falling water magenta, must-freeze pixels that move yellow,
labelled moving pixels left still red) for N photos, or the named ones, plus
every photo where the must-freeze target fails; do not commit them.

``--standin`` (development only, train split only): instead of the parser, class
probabilities made from each photo's own labels, coarse, blurred and noised, so
that the fusion runs end to end before a parser is trained. The held-out labels
are never used for anything but scoring.

``--heads DIR`` (development only, train split only): the cross-validation heads of
``scripts/train_scene_parser.py --folds K --out DIR``: each photo is parsed by the head
of the fold that held it back (DIR/folds.json; DIR/foldI/scene_head.safetensors, checked
against the sha256 in its card) and fused as usual, so the figures are out-of-fold.
Photos no fold held back are skipped. The product path and its digest pin are untouched.
``--heads DIR1 DIR2 ...``: several such runs (other seeds, other backbones): the heads that held a
photo back are averaged as the members of one ensemble, as ``MEMBERS`` averages the shipped head's
(``parser.SceneHeads``), so a two-member head's out-of-fold figures come from two one-member runs.
Runs may deal the photos to folds differently (each photo is parsed by the heads that held it back).
``--flip on|off`` overrides the parser's flip averaging (``parser.FLIP_TTA``).
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
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
SHARED = os.path.join(ROOT, "..", "shared", "data")
COLOURS = {1: (40, 120, 255), 2: (0, 200, 90), 3: (0, 230, 230), 4: (255, 0, 200)}
FREEZE_BAR, FOUND_BAR, WATER_FOUND = 0.01, 0.85, 0.5
EDGE_BAND = 0.015  # solid pixels this close to labelled moving ones (share of the long side) count as its edge


def standin(label: dict, size, seed: int) -> np.ndarray:
    """(5, h, w) float32 class probabilities made from a photo's labels (train split only):
    rasterised at stride 4 of a 512 px working size, blurred by ~1.5 cells, noised."""
    import scene_labels
    if label.get("split", "train") != "train":
        raise SystemExit("--standin uses labels as the parser's output: train split only")
    W, H = size
    s = 512 / max(W, H)
    w, h = max(1, round(W * s / 4)), max(1, round(H * s / 4))
    lab = scene_labels.rasterise(label, (w, h), band=0)
    onehot = np.stack([(lab == k).astype(np.float32) for k in range(5)])
    onehot[:, lab == scene_labels.IGNORE] = np.array([0.6, 0.1, 0.1, 0.1, 0.1], np.float32)[:, None]
    rng = np.random.default_rng(seed)
    blurred = np.stack([cv2.GaussianBlur(c, (0, 0), 1.5) for c in onehot])
    logits = 4.0 * blurred + rng.normal(0, 0.6, blurred.shape).astype(np.float32)
    e = np.exp(logits - logits.max(0))
    return (e / e.sum(0)).astype(np.float32)


def resize_long(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if abs(s - 1) < 1e-9:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))


def load_heads(folders: list[str]) -> tuple[dict, dict]:
    """({photo name: key}, {key: head}) of one cross-validation run's folder, or of several runs
    (other seeds, other backbones), whose heads that held a photo back become the members of one
    ``SceneHeads`` for it. Runs may deal the photos to folds differently: a photo's key is the
    tuple of its fold in each run, so every member it is parsed with held it back; photos some
    run did not hold back are skipped."""
    from cinegan_core.automask import parser
    runs = []
    for folder in folders:
        with open(os.path.join(folder, "folds.json"), encoding="utf-8") as f:
            folds = json.load(f)["photos"]
        members = {}
        for k in sorted(set(folds.values())):
            d = os.path.join(folder, f"fold{k}")
            with open(os.path.join(d, "scene_head.json"), encoding="utf-8") as f:
                digest = json.load(f)["sha256"]
            head = parser.load_head(os.path.join(d, "scene_head.safetensors"), sha256=digest)
            members[k] = list(head.members)
        runs.append((folds, members))
    names = set.intersection(*(set(folds) for folds, _ in runs))
    keys = {name: tuple(folds[name] for folds, _ in runs) for name in names}
    heads = {}
    for key in set(keys.values()):
        m = [h for (_, members), k in zip(runs, key) for h in members[k]]
        heads[key] = m[0] if len(m) == 1 else parser.SceneHeads(m).eval()
    return keys, heads


def run(rgb, mode: str, probs=None, head=None):
    """(AutoMask, wall s). mode: "auto" (parser when available; with head, that head),
    "bold" (the same at the bold reach), "classical", "standin"."""
    from cinegan_core.automask import auto_mask
    t = time.perf_counter()
    reach = "bold" if mode == "bold" else "careful"
    if mode in ("auto", "bold") and head is not None:
        from cinegan_core.automask import parser
        res = auto_mask(rgb, scene=parser.parse_scene(rgb, head=head), reach=reach)
    elif mode == "classical":
        res = auto_mask(rgb, use_parser=False)
    elif mode == "standin":
        res = auto_mask(rgb, scene=probs)
    else:
        res = auto_mask(rgb, reach=reach)
    return res, time.perf_counter() - t


def overlay(rgb, labels, truth=None) -> np.ndarray:
    """The photo tinted by class; with truth (IGNORE = 255): must-freeze pixels that move
    yellow, labelled moving pixels left still red."""
    out = rgb.astype(np.float32)
    for k, colour in COLOURS.items():
        sel = labels == k
        out[sel] = out[sel] * 0.55 + np.array(colour) * 0.45
    if truth is not None:
        out[(truth == 0) & (labels > 0)] = (255, 230, 0)
        miss = (truth >= 1) & (truth <= 4) & (labels == 0)
        out[miss] = out[miss] * 0.4 + np.array((255, 0, 0)) * 0.6
    return np.clip(out, 0, 255).astype(np.uint8)


def pct(x) -> str:
    return "    -  " if x is None else f"{100 * x:6.1f}%"


def samples(folder, modes, only):
    rows = []
    for d in sorted(glob.glob(os.path.join(folder, "*", ""))):
        name = os.path.basename(os.path.dirname(d))
        if only and name not in only:
            continue
        rgb = np.asarray(Image.open(os.path.join(d, name + ".png")).convert("RGB"))
        truth = Image.open(os.path.join(d, name + "_mask.png")).convert("L")
        ref = np.asarray(truth) > 127
        row = {"name": name}
        for mode in modes:
            res, wall = run(rgb, mode)
            m = Image.fromarray((res.labels > 0).astype(np.uint8) * 255)
            moving = np.asarray(m.resize(truth.size, Image.NEAREST) if m.size != truth.size else m) > 127
            row[mode] = dict(iou=(moving & ref).sum() / max(1, (moving | ref).sum()),
                             fm=(moving & ~ref).sum() / max(1, (~ref).sum()), wall=wall, notes=res.notes)
        rows.append(row)
    return rows


def scenes(folder, split, side, modes, only, out, pictures, folds=None, heads=None):
    import scene_labels
    items = []
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.json"), recursive=True)):
        label = json.load(open(path))
        if "regions" not in label or label.get("split", "train") != split:
            continue
        name = os.path.relpath(path, folder)[:-5]
        if only and os.path.basename(name) not in only and name not in only:
            continue
        if folds is not None and name not in folds:
            continue
        items.append((name, path, label))
    rows = []
    for i, (name, path, label) in enumerate(items):
        img = scene_labels.load_image(os.path.join(os.path.dirname(path), label["image"]))
        rgb = resize_long(np.asarray(img), side)
        H, W = rgb.shape[:2]
        truth = scene_labels.rasterise(label, (W, H))
        solid = truth == 0
        move = (truth >= 1) & (truth <= 4)
        fast = (truth == 3) | (truth == 4)
        away = cv2.distanceTransform((~move).astype(np.uint8), cv2.DIST_L2, 5) > EDGE_BAND * max(H, W)
        row = {"name": name, "size": (W, H), "tags": label.get("tags", [])}
        for mode in modes:
            probs = standin(label, (W, H), i) if mode == "standin" else None
            head = heads[folds[name]] if heads is not None and mode == "auto" else None
            res, wall = run(rgb, mode, probs, head)
            lab = res.labels
            mv = lab > 0
            row[mode] = dict(
                freeze=(solid & mv).sum() / solid.sum() if solid.any() else None,
                far=(solid & mv & away).sum() / solid.sum() if solid.any() else None,
                found=(move & mv).sum() / move.sum() if move.any() else None,
                n_move=int(move.sum()), n_found=int((move & mv).sum()),
                fast=(fast & mv).sum() / fast.sum() if fast.sum() > 0.002 * H * W else None,
                kind=((truth == lab) & fast).sum() / fast.sum() if fast.sum() > 0.002 * H * W else None,
                wall=wall, notes=res.notes, labels=lab)
        if pictures is True:
            want = True
        elif isinstance(pictures, int):
            want = pictures > 0 and i % max(1, len(items) // pictures) == 0
        else:
            want = name in pictures or os.path.basename(name) in pictures
        first = row[modes[0]]
        if out and (want or (first["freeze"] or 0) > FREEZE_BAR):
            os.makedirs(out, exist_ok=True)
            pic = overlay(rgb, first["labels"], truth)
            Image.fromarray(pic).save(os.path.join(out, name.replace("/", "__") + ".png"))
        for mode in modes:
            row[mode].pop("labels")
        rows.append(row)
        print(f"  [{i + 1}/{len(items)}] {name}", file=sys.stderr, flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default=os.path.join(SHARED, "samples"))
    ap.add_argument("--scenes", default=os.path.join(ROOT, "data", "scenes"))
    ap.add_argument("--split", default="heldout", choices=("heldout", "train"))
    ap.add_argument("--side", type=int, default=2048, help="long side the scene photos are brought to, px")
    ap.add_argument("--out", default=None, help="folder for overlay PNGs (not committed)")
    ap.add_argument("--pictures", nargs="*", default=["6"], help="how many photos get a PNG, their names, or all")
    ap.add_argument("--only", nargs="*", default=None, help="names to run (sample folders or scene names)")
    ap.add_argument("--standin", action="store_true", help="labels as the parser (train split, development)")
    ap.add_argument("--no-classical", action="store_true", help="skip the classical-only comparison")
    ap.add_argument("--no-samples", action="store_true")
    ap.add_argument("--no-scenes", action="store_true")
    ap.add_argument("--heads", nargs="+", default=None, metavar="DIR",
                    help="cross-validation heads (train split): out-of-fold figures; several runs (seeds) with "
                         "the same folds are averaged as an ensemble's members")
    ap.add_argument("--flip", choices=("on", "off"), default=None, help="the parser's flip averaging")
    ap.add_argument("--bold", action="store_true", help="also the bold reach (mask_reach=bold) beside the careful one")
    a = ap.parse_args()
    if a.heads and (a.split != "train" or a.standin):
        raise SystemExit("--heads: cross-validation heads are for the train split (and not with --standin)")
    only = set(a.only or [])
    pictures = (True if a.pictures == ["all"] else int(a.pictures[0])
                if len(a.pictures) == 1 and a.pictures[0].isdigit() else set(a.pictures))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from cinegan_core.automask import identity, parser, parser_status
    if a.flip:
        parser.FLIP_TTA = a.flip == "on"
    folds, heads = load_heads(a.heads) if a.heads else (None, None)
    ok, reason = parser_status()
    main_mode = "standin" if a.standin else "auto"
    print(f"automatic mask: {identity()}" + ("" if ok or a.standin else f" ({reason})")
          + ("; STAND-IN probabilities from the photos' own labels" if a.standin else "")
          + (f"; OUT-OF-FOLD heads of {' + '.join(a.heads)} ({len(heads)} fold combinations)" if heads else "")
          + f"; flip averaging {'on' if parser.FLIP_TTA else 'off'}"
          + f"; further views at {', '.join(f'{v} px' for v in parser.EXTRA_SIDES) or 'none'}")
    modes = [main_mode] + (["bold"] if a.bold and not a.standin else []) + ([] if a.no_classical else ["classical"])
    warm = np.zeros((256, 384, 3), np.uint8)          # load the networks before anything is timed
    warm[:128] = (120, 160, 220)
    for m in modes:
        run(warm, m, np.full((5, 32, 48), 0.2, np.float32))

    if not a.no_samples and not a.standin and os.path.isdir(a.samples):
        rows = samples(a.samples, modes, only)
        if rows:
            print("\nreference samples        " + "".join(f"{m + ' IoU':>15s} {'false-move':>11s}" for m in modes)
                  + "   notes")
            for r in rows:
                print(f"  {r['name']:22s} " + "".join(f"{r[m]['iou']:15.3f} {pct(r[m]['fm']):>11s}" for m in modes)
                      + "   " + " | ".join(r[modes[0]]["notes"]))
            for m in modes:
                iou, fm = [r[m]["iou"] for r in rows], [r[m]["fm"] for r in rows]
                print(f"  {m:10s} IoU mean {np.mean(iou):.3f} worst {min(iou):.3f} (bars 0.92 / 0.85); "
                      f"false-move mean {100 * np.mean(fm):.2f}% worst {100 * max(fm):.2f}% (bars 1.5% / 5%)")

    if not a.no_scenes:
        rows = scenes(a.scenes, a.split, a.side, modes, only, a.out, pictures, folds, heads)
        if rows:
            print(f"\n{a.split} scene photos at {a.side} px long side: must-freeze moving, labelled moving found, "
                  "flowing/falling water moving and of the right kind, wall s")
            print(f"  {'photo':58s}" + "".join(f" | {m[:5]:>5s} freeze  found  water   kind  wall" for m in modes))
            for r in rows:
                print(f"  {r['name'][:58]:58s}" + "".join(
                    f" | {pct(r[m]['freeze'])} {pct(r[m]['found'])} {pct(r[m]['fast'])} {pct(r[m]['kind'])}"
                    f" {r[m]['wall']:5.2f}" for m in modes))
            for m in modes:
                fz = [(r[m]["freeze"], r["name"]) for r in rows if r[m]["freeze"] is not None]
                over = [n for f, n in fz if f > FREEZE_BAR]
                pooled = sum(r[m]["n_found"] for r in rows) / max(1, sum(r[m]["n_move"] for r in rows))
                per = [r[m]["found"] for r in rows if r[m]["found"] is not None]
                water = [(r[m]["fast"], r["name"]) for r in rows if r[m]["fast"] is not None]
                missed = [n for f, n in water if f < WATER_FOUND]
                kinds = [r[m]["kind"] for r in rows if r[m]["kind"] is not None]
                walls = [r[m]["wall"] for r in rows]
                print(f"  {m}: must-freeze moving mean {100 * np.mean([f for f, _ in fz]):.2f}% worst "
                      f"{100 * max(f for f, _ in fz):.2f}%; photos over 1%: {len(over)} of {len(fz)} {over}")
                far = [(r[m]["far"], r["name"]) for r in rows if r[m]["far"] is not None]
                print(f"  {m}: of it, {100 * sum(f for f, _ in far) / max(sum(f for f, _ in fz), 1e-12):.0f}% lies farther than "
                      f"{EDGE_BAND:.1%} of the long side from labelled moving pixels (whole regions taken for sky or "
                      f"water, not edges); photos over 1% counting only those: "
                      f"{sum(f > FREEZE_BAR for f, _ in far)} {[n for f, n in far if f > FREEZE_BAR]}")
                print(f"  {m}: moving area found {100 * pooled:.1f}% pooled, {100 * np.mean(per):.1f}% mean per photo, "
                      f"worst {100 * min(per):.1f}% (bar 85%)")
                if water:
                    print(f"  {m}: flowing/falling water found (>= 50% of it moves) on {len(water) - len(missed)} of "
                          f"{len(water)} photos; missed: {missed}; right kind {100 * np.mean(kinds):.1f}% mean")
                print(f"  {m}: mask step at {a.side} px: mean {np.mean(walls):.2f} s, worst {max(walls):.2f} s "
                      f"(bar 1.5 s)")
            if a.out:
                print(f"wrote overlays to {a.out}/")


if __name__ == "__main__":
    main()
