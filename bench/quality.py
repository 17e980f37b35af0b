"""Quality table on the reference samples (../shared/data/samples), via cinemetrics.

    python bench/quality.py [--frames 60] [--motion-scale 2.5] [--only NAME,...] [--out bench/out]
                            [--exact] [--gradient-only] [--skip ref,bare,arrow,mask,gradient]

For each sample it renders, to lossless PNG frames, with the command line:
  ref    its own mask and motion file (its vectors multiplied by --motion-scale, 1 by default)
                                               -> cinemetrics loop (vs that motion)
  bare   the photo alone (automatic mask, default motion; our field saved as .npy)
                                               -> cinemetrics loop (vs our field, our mask;
                                                  drift per moving class that has a field)
  arrow  its own mask and one arrow across the upper sky
                                               -> cinemetrics loop (vs a field of the arrow)
and the automatic mask                         -> cinemetrics mask-iou (vs the reference mask).

--exact adds, to the ref table, the figures cinemetrics gives a loop whose frame N/8 (the
frame its speed is measured on) is the photo carried exactly along the field (no loop:
Euler integration in 0.1-frame steps, bicubic resampling): the ceiling of speed_ratio and
direction_cos for that sample, since the metric compares the measured drift of the textured
content with the mean of the field (a non-uniform field moves its textured parts at another
speed than its mean) and its sub-pixel refinement is biased towards whole pixels; and the
same with only the detail carried, the smooth base held (``detail.py``: the rule the engines
follow; a static base pulls the measured drift towards zero). speed_of_ceiling = speed_ratio
/ exact_detail_speed_ratio: how much of what exact advection can show the loop shows.

The gradient test (issue 18; ``gradient``): a synthetic 768 px smooth gradient sky with fine
texture, drifting past a frozen tower, rendered in-process by the pixel engine with and
without rebasing (``composite.Rebase``), and with a glow hugging the tower (a halo narrower
than the base's window) with and without the base's edge hold (``detail.edge_hold``). Per frame, the low-frequency brightness (grey,
Gaussian sigma 12 px) minus the photo's: the worst frame's mean |change| over the moving
region and over the moving pixels within 24 px of the tower (bars: <= 0.6 and <= 0.8 grey
levels), whether every frozen pixel is bit-exact, and the seam ratio (cinemetrics).
The islands test (``islands``): on each sample's automatic mask, the frozen islands inside a
moving region that are passed behind and what the engine samples there (``composite.pass_behind``):
a nearby copy of the texture round them against the Telea inpainting alone, as the fine detail
(grey minus its 2 px Gaussian blur, std) inside the island over that of the open pixels round it
(1.0: as textured as the water or sky round it; a smooth patch is near 0), and the islands no copy
fits, which stay occluders.
Prints one table per experiment. Output goes to --out (not in git).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SHARED = os.path.join(ROOT, "..", "shared")
SAMPLES = os.path.join(SHARED, "data", "samples")
METRICS = os.path.join(SHARED, "tools", "cinemetrics.py")
GRAY = np.array([0.299, 0.587, 0.114], np.float32)   # cinemetrics' grey


def cinemetrics_module():
    sys.path.insert(0, os.path.dirname(METRICS))
    import cinemetrics
    return cinemetrics


def exact_ceiling(photo_path, mask_path, motion_path, n):
    """cinemetrics' direction_cos and speed_ratio for exact advection (see --exact):
    frame n // 8 is the photo carried along the field; the others are the photo. Also the
    speed_ratio when only the detail is carried and the smooth base stays (``detail.py``)."""
    import cv2
    import torch
    from PIL import Image
    from cinegan_core.loop import PADDING, sample, trace
    cm = cinemetrics_module()
    photo = np.asarray(Image.open(photo_path).convert("RGB"), np.float32)
    mask = np.asarray(Image.open(mask_path).convert("L")) > 127
    flow = np.load(motion_path)
    flow = flow[0] if flow.ndim == 4 else flow
    H, W = mask.shape
    f = cv2.resize(np.moveaxis(flow, 0, -1), (W, H), interpolation=cv2.INTER_LINEAR)
    f = np.moveaxis(f, -1, 0) * np.array([W / flow.shape[2], H / flow.shape[1]], np.float32)[:, None, None] * mask
    ys, xs = np.mgrid[0:H, 0:W]
    start = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32))
    k = max(1, n // 8)
    src = trace(start, torch.from_numpy(np.ascontiguousarray(f, np.float32))[None] * 0.1, -1.0, 10 * k)
    from cinegan_core.detail import smooth_base
    out = {}
    for label, base in (("exact", np.zeros_like(photo)), ("exact_detail", smooth_base(photo, mask))):
        img = torch.from_numpy(photo - base).permute(2, 0, 1)[None]
        moved = (sample(img, src, "bicubic", PADDING).t().reshape(H, W, 3).numpy() + base).clip(0, 255).round()
        frames = [photo] * n
        frames[k] = np.where(mask[..., None], moved, photo).astype(np.float32)
        res = cm.loop_metrics(photo_path, mask_path, frames, motion_path)
        out[f"{label}_direction_cos"], out[f"{label}_speed_ratio"] = res.get("direction_cos"), res.get("speed_ratio")
    return out


def gradient_scene(size: int = 768, seed: int = 0, gradient: bool = True, halo: float = 0.0):
    """A smooth gradient sky with fine texture behind a frozen tower, over frozen ground.

    Returns photo (H, W, 3) uint8 (H = 2/3 size, W = size), mask (H, W) bool (True = sky,
    moves), tower (H, W) bool (the frozen object inside the sky). gradient=False: the same
    texture on a flat sky (what the moving texture alone changes at low frequency). halo: grey
    levels of a glow hugging the tower (decaying as exp(-distance / 10 px), a sharpening or
    haze halo narrower than the base's window)."""
    import cv2
    W, H = size, size * 2 // 3
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    u, v = xx / W, yy / H
    # a dusk sky: darker blue at the zenith, a warm glow low on the right, a vignette
    sky = np.stack([70 + 120 * v + 25 * u, 90 + 90 * v + 10 * u, 150 + 60 * v - 20 * u], -1)
    sky += 35 * np.exp(-(((u - 0.75) / 0.25) ** 2 + ((v - 0.7) / 0.3) ** 2))[..., None] * np.array([1.0, 0.7, 0.3])
    sky *= (1.0 - 0.25 * ((u - 0.5) ** 2 + (v - 0.5) ** 2))[..., None]
    if not gradient:
        sky = np.broadcast_to(sky[mask_rows(H)].mean((0, 1)), sky.shape).copy()
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.0)
    texture *= 4.0 / texture.std()                                       # fine: std 4 grey levels, ~2 px grain
    sky += texture[..., None]
    ground = (yy > 0.78 * H)
    tower = (np.abs(xx - 0.42 * W) < 0.035 * W) & (yy > 0.25 * H)        # a tower rising into the sky
    tower |= ((xx - 0.42 * W) ** 2 + (yy - 0.25 * H) ** 2) < (0.06 * W) ** 2   # with a round top (foliage)
    tower &= ~ground
    photo = sky.copy()
    photo[ground] = np.array([60, 70, 40], np.float32) + 10 * texture[ground][:, None]
    photo[tower] = np.array([35, 45, 30], np.float32) + 8 * texture[tower][:, None]
    mask = ~(ground | tower)
    if halo:
        d = cv2.distanceTransform((~tower).astype(np.uint8), cv2.DIST_L2, 5)
        photo += (halo * np.exp(-d / 10.0) * mask)[..., None]
    return np.clip(photo, 0, 255).round().astype(np.uint8), mask, tower


def mask_rows(H: int) -> slice:
    return slice(0, int(0.78 * H))


def gradient_test(frames: int, rebase: bool = True, speed: float = 1.5, out_dir: str | None = None,
                  gradient: bool = True, halo: float = 0.0, hold: bool = True) -> dict:
    """The gradient test of issue 18 (see the module docstring) for the pixel engine; halo: the
    scene's glow round the tower (``gradient_scene``); hold=False: without the base's edge hold
    (``detail.edge_hold``), for comparison."""
    import cv2
    from PIL import Image
    from cinegan_core.engines.pixel import PixelEngine
    cm = cinemetrics_module()
    photo, mask, tower = gradient_scene(gradient=gradient, halo=halo)
    field = np.zeros((2, *mask.shape), np.float32)
    field[0][mask] = speed                                                # drift right, px per frame
    near_tower = mask & (cv2.distanceTransform((~tower).astype(np.uint8), cv2.DIST_L2, 5) <= 24)
    lf0 = cv2.GaussianBlur(photo.astype(np.float32) @ GRAY, (0, 0), 12)
    worst_region = worst_near = 0.0
    exact = True
    rendered = []
    for fr in PixelEngine(rebase=rebase, edge_hold=hold).frames(photo, mask, field, frames):
        d = np.abs(cv2.GaussianBlur(fr.astype(np.float32) @ GRAY, (0, 0), 12) - lf0)
        worst_region = max(worst_region, float(d[mask].mean()))
        worst_near = max(worst_near, float(d[near_tower].mean()))
        exact &= bool((fr[~mask] == photo[~mask]).all())
        rendered.append(fr.astype(np.float32))
    folder = out_dir or os.path.join(ROOT, "bench", "out", "quality")
    os.makedirs(folder, exist_ok=True)
    photo_path, mask_path = os.path.join(folder, "gradient.png"), os.path.join(folder, "gradient_mask.png")
    Image.fromarray(photo).save(photo_path)
    Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    m = cm.loop_metrics(photo_path, mask_path, rendered)
    return {"lf_change_region": worst_region, "lf_change_beside_object": worst_near, "frozen_bit_exact": exact,
            "seam_ratio": m["seam_ratio"], "sharpness_min": m["sharpness_min"]}


def island_fills(photo_path: str) -> dict:
    """The islands test: the frozen islands the automatic mask leaves inside a moving region
    (``motion.enclosed_holes``, at least ``composite.CLONE_MIN_AREA`` px), how many a nearby copy
    fills (``composite.clone_texture``) and how many stay occluders (``composite.uncopyable``), and
    per island the fine detail (grey, minus its Gaussian blur of 2 px: std) of what the engine
    samples there over that of the open pixels within 6 px round it: the copy's and the Telea
    inpainting's (what was passed behind before). Median over the islands and share under 0.5."""
    import cv2
    from cinegan_core import prepare
    from cinegan_core.composite import CLONE_MIN_AREA, pass_behind
    from cinegan_core.motion.plans import passed_islands, plausible_labels
    from cinegan_core.regions import FALLING_WATER, is_moving
    scene = prepare(photo_path)
    rgb = scene.photo.rgb
    labels = plausible_labels(scene.labels)
    holes, occluders = passed_islands(labels, rgb)       # as the motion plan decides them
    islands = np.zeros(labels.shape, bool)
    for k, h in holes.items():
        if k != FALLING_WATER:
            islands |= h
    open_ = is_moving(labels) & ~islands & ~occluders
    n, lab, stats, _ = cv2.connectedComponentsWithStats(islands.astype(np.uint8), connectivity=8)
    big = [k for k in range(1, n) if stats[k, 4] >= CLONE_MIN_AREA]
    blocked = cv2.connectedComponents(occluders.astype(np.uint8), connectivity=8)[0] - 1
    out = {"islands": len(big) + blocked, "occluders": blocked}
    if not big:
        return out
    copy, _ = pass_behind(rgb, scene.mask, islands, field=scene.field)
    telea = cv2.inpaint(rgb, islands.astype(np.uint8), 3, cv2.INPAINT_TELEA)

    def fine(a):
        g = a.astype(np.float32) @ GRAY
        return g - cv2.GaussianBlur(g, (0, 0), 2.0)

    f_copy, f_telea, f_photo = fine(copy), fine(telea), fine(rgb)
    ratios = []
    for k in big:
        one = (lab == k).astype(np.uint8)
        ys, xs = np.nonzero(one)
        ring = cv2.dilate(one, np.ones((13, 13), np.uint8)).astype(bool) & open_
        ref = float(f_photo[ring].std()) if ring.sum() >= 20 else 0.0
        if ref > 0.5:
            ratios.append((float(f_telea[ys, xs].std()) / ref, float(f_copy[ys, xs].std()) / ref))
    if ratios:
        r = np.array(ratios)
        out.update({"detail_telea": float(np.median(r[:, 0])), "detail_copy": float(np.median(r[:, 1])),
                    "under_half_telea": float(np.mean(r[:, 0] < 0.5)), "under_half_copy": float(np.mean(r[:, 1] < 0.5))})
    return out


def cli(*args):
    """Run the command line; a --frames-dir is this bench's own output, emptied first."""
    if "--frames-dir" in args:
        shutil.rmtree(str(args[list(args).index("--frames-dir") + 1]), ignore_errors=True)
    res = subprocess.run([sys.executable, "-m", "cinegan_core", *map(str, args), *([] if args[0] == "mask" else ["--quiet"])],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    if res.returncode:
        raise SystemExit(res.stderr)
    return res.stderr


def metrics(*args):
    res = subprocess.run([sys.executable, METRICS, *map(str, args), "--json"], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


WORST_IS_MOST = ("seam_ratio", "lf_change_region", "lf_change_beside_object", "under_half_telea", "under_half_copy")


def table(title, rows, keys):
    print(f"\n{title}")
    print("| sample | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, r in rows:
        print(f"| {name} | " + " | ".join(f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k)) for k in keys) + " |")
    nums = {k: [r[k] for _, r in rows if isinstance(r.get(k), float) and np.isfinite(r[k])] for k in keys}
    print("| mean | " + " | ".join(f"{np.mean(v):.3f}" if v else "" for v in nums.values()) + " |")
    print("| worst | " + " | ".join(f"{max(v) if k in WORST_IS_MOST else min(v):.3f}" if v else ""
                                   for k, v in nums.items()) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--motion-scale", type=float, default=1.0,
                    help="multiply each sample's own motion by this for the ref experiment (faster motion)")
    ap.add_argument("--only")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "quality"))
    ap.add_argument("--skip", default="", help="comma list of experiments to skip: ref,bare,arrow,mask,islands,gradient")
    ap.add_argument("--exact", action="store_true", help="add the exact-advection ceiling to the ref table")
    ap.add_argument("--gradient-only", action="store_true", help="run only the gradient test")
    a = ap.parse_args()
    if a.gradient_only:
        a.skip = "ref,bare,arrow,mask,islands"
    from cinegan_core import labels_for, load_photo, prepare
    from cinegan_core.mask import save_mask
    from cinegan_core.regions import MOVING, NAMES, SKY
    names = sorted(n for n in os.listdir(SAMPLES) if os.path.isdir(os.path.join(SAMPLES, n)))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    skip = set(a.skip.split(","))
    os.makedirs(a.out, exist_ok=True)
    keys = ["static_psnr", "seam_ratio", "sharpness_mean", "sharpness_min", "direction_cos", "speed_ratio"]
    ref, bare, arrow, ious, isles = [], [], [], [], []
    for n in names:
        d = os.path.join(SAMPLES, n)
        photo, mask, motion = (os.path.join(d, f"{n}{s}") for s in (".png", "_mask.png", "_motion.npy"))
        out = os.path.join(a.out, n)
        if "mask" not in skip:
            pred = os.path.join(out + "_automask.png")
            cli("mask", photo, "-o", pred)
            ious.append((n, metrics("mask-iou", "--pred", pred, "--truth", mask)))
        if "islands" not in skip:
            isles.append((n, island_fills(photo)))
        if "ref" not in skip:
            if a.motion_scale != 1.0:
                scaled = out + f"_motion_x{a.motion_scale:g}.npy"
                np.save(scaled, np.load(motion, allow_pickle=False) * np.float32(a.motion_scale))
                motion = scaled
            cli("render", photo, "--mask", mask, "--motion", motion, "--frames", a.frames, "--frames-dir", out + "_ref")
            r = metrics("loop", "--image", photo, "--mask", mask, "--frames-dir", out + "_ref", "--motion", motion)
            if a.exact:
                r.update(exact_ceiling(photo, mask, motion, a.frames))
                r["speed_of_ceiling"] = r["speed_ratio"] / r["exact_detail_speed_ratio"]
            ref.append((n, r))
        if "bare" not in skip:
            scene = prepare(photo, frames=a.frames)
            np.save(out + "_bare_motion.npy", scene.field[None])
            save_mask(scene.mask, out + "_bare_mask.png")
            cli("render", photo, "--frames", a.frames, "--frames-dir", out + "_bare")
            # each class on its own: sky, still and flowing water move apart (a group's mean field
            # would average opposite directions, or a ripple's zero field, into a speed nobody asked
            # for), and where they touch cinemetrics would otherwise measure them as one component;
            # a rippling class has no field to measure against and is left out
            r = {}
            speed = np.hypot(*scene.field)
            for code in MOVING:
                inside = scene.labels == code
                if inside.mean() < 0.02 or speed[inside].mean() < 1e-3:
                    continue
                region = NAMES[code]
                save_mask(inside, out + f"_bare_{region}.png")
                m = metrics("loop", "--image", photo, "--mask", out + f"_bare_{region}.png",
                            "--frames-dir", out + "_bare", "--motion", out + "_bare_motion.npy")
                r.update({f"{region}_{x}": m.get(x) for x in ("direction_cos", "speed_ratio")})
                v = scene.field[:, inside].mean(1)
                r[f"{region}_px_per_frame"] = float(np.hypot(*v))
                r[f"{region}_deg"] = float(np.degrees(np.arctan2(v[1], v[0])) % 360)
            r.update(metrics("loop", "--image", photo, "--mask", out + "_bare_mask.png", "--frames-dir", out + "_bare"))
            bare.append((n, r))
        if "arrow" not in skip:
            ph = load_photo(photo)
            labels = labels_for(ph, mask)[0]
            rows = np.flatnonzero((labels == SKY).mean(1) > 0.6)
            if len(rows) == 0:
                continue
            y = int(rows[len(rows) // 3])
            x0, x1 = int(0.3 * ph.size[0]), int(0.3 * ph.size[0] + a.frames * 1.2)
            field = np.zeros((2, *labels.shape), np.float32)
            field[0] = (x1 - x0) / a.frames
            np.save(out + "_arrow_motion.npy", (field * (labels == SKY))[None])
            save_mask(labels == SKY, out + "_arrow_mask.png")
            cli("render", photo, "--mask", mask, "--arrow", f"{x0},{y},{x1},{y}", "--frames", a.frames,
                "--frames-dir", out + "_arrow")
            r = metrics("loop", "--image", photo, "--mask", out + "_arrow_mask.png", "--frames-dir", out + "_arrow",
                        "--motion", out + "_arrow_motion.npy")
            r["arrow"] = f"{x0},{y},{x1},{y}"
            arrow.append((n, r))
    grads = []
    if "gradient" not in skip:
        for label, kw in (("detail moves (rebase)", {}), ("whole photo moves", dict(rebase=False)),
                          ("flat sky, same texture (floor)", dict(gradient=False)),
                          ("halo of 20 round the tower", dict(halo=20.0)),
                          ("halo, without the edge hold", dict(halo=20.0, hold=False))):
            grads.append((label, gradient_test(a.frames, out_dir=a.out, **kw)))
    if ious:
        table("automatic mask vs reference (cinemetrics mask-iou)", ious, ["iou"])
    if ref:
        table(f"own mask + own motion x {a.motion_scale:g}, {a.frames} frames", ref,
              keys + (["exact_speed_ratio", "exact_detail_speed_ratio", "speed_of_ceiling"] if a.exact else []))
    if bare:
        table(f"bare photo (automatic mask, default motion), {a.frames} frames", bare,
              ["static_psnr", "seam_ratio", "sharpness_mean", "sharpness_min"])
        for code in MOVING:
            region = NAMES[code]
            if any(f"{region}_deg" in r for _, r in bare):
                table(f"bare photo, {region.replace('_', ' ')} (measured against our default field)", bare,
                      [f"{region}_{x}" for x in ("deg", "px_per_frame", "direction_cos", "speed_ratio")])
    if arrow:
        table(f"one arrow on the sky (own mask), {a.frames} frames; measured against the arrow", arrow,
              ["seam_ratio", "direction_cos", "speed_ratio", "arrow"])
    if isles:
        table("frozen islands passed behind (automatic mask): fine detail of what is sampled there over its "
              "ring's, median; share of islands under 0.5", isles,
              ["islands", "occluders", "detail_telea", "detail_copy", "under_half_telea", "under_half_copy"])
    if grads:
        table(f"gradient sky drifting past a frozen tower (768 px, 1.5 px/frame, {a.frames} frames, pixel engine); "
              "bars: lf_change_region <= 0.6, lf_change_beside_object <= 0.8, bit-exact, seam 0.9..1.1", grads,
              ["lf_change_region", "lf_change_beside_object", "frozen_bit_exact", "seam_ratio", "sharpness_min"])


if __name__ == "__main__":
    main()
