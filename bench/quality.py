"""Quality table on the reference samples (../shared/data/samples), via cinemetrics.

    python bench/quality.py [--frames 60] [--motion-scale 2.5] [--only NAME,...] [--out bench/out]

For each sample it renders, to lossless PNG frames, with the command line:
  ref    its own mask and motion file (its vectors multiplied by --motion-scale, 1 by default)
                                               -> cinemetrics loop (vs that motion)
  bare   the photo alone (automatic mask, default motion; our field saved as .npy)
                                               -> cinemetrics loop (vs our field, our mask)
  arrow  its own mask and one arrow across the upper sky
                                               -> cinemetrics loop (vs a field of the arrow)
and the automatic mask                         -> cinemetrics mask-iou (vs the reference mask).
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


def table(title, rows, keys):
    print(f"\n{title}")
    print("| sample | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, r in rows:
        print(f"| {name} | " + " | ".join(f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k)) for k in keys) + " |")
    nums = {k: [r[k] for _, r in rows if isinstance(r.get(k), float) and np.isfinite(r[k])] for k in keys}
    print("| mean | " + " | ".join(f"{np.mean(v):.3f}" if v else "" for v in nums.values()) + " |")
    print("| worst | " + " | ".join(f"{min(v) if k not in ('seam_ratio',) else max(v):.3f}" if v else ""
                                   for k, v in nums.items()) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--motion-scale", type=float, default=1.0,
                    help="multiply each sample's own motion by this for the ref experiment (faster motion)")
    ap.add_argument("--only")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "quality"))
    ap.add_argument("--skip", default="", help="comma list of experiments to skip: ref,bare,arrow,mask")
    a = ap.parse_args()
    from cinegan_core import labels_for, load_photo, prepare
    from cinegan_core.mask import save_mask
    from cinegan_core.regions import GROUPS, SKY, in_group
    names = sorted(n for n in os.listdir(SAMPLES) if os.path.isdir(os.path.join(SAMPLES, n)))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    skip = set(a.skip.split(","))
    os.makedirs(a.out, exist_ok=True)
    keys = ["static_psnr", "seam_ratio", "sharpness_mean", "sharpness_min", "direction_cos", "speed_ratio"]
    ref, bare, arrow, ious = [], [], [], []
    for n in names:
        d = os.path.join(SAMPLES, n)
        photo, mask, motion = (os.path.join(d, f"{n}{s}") for s in (".png", "_mask.png", "_motion.npy"))
        out = os.path.join(a.out, n)
        if "mask" not in skip:
            pred = os.path.join(out + "_automask.png")
            cli("mask", photo, "-o", pred)
            ious.append((n, metrics("mask-iou", "--pred", pred, "--truth", mask)))
        if "ref" not in skip:
            if a.motion_scale != 1.0:
                scaled = out + f"_motion_x{a.motion_scale:g}.npy"
                np.save(scaled, np.load(motion, allow_pickle=False) * np.float32(a.motion_scale))
                motion = scaled
            cli("render", photo, "--mask", mask, "--motion", motion, "--frames", a.frames, "--frames-dir", out + "_ref")
            ref.append((n, metrics("loop", "--image", photo, "--mask", mask, "--frames-dir", out + "_ref", "--motion", motion)))
        if "bare" not in skip:
            scene = prepare(photo, frames=a.frames)
            np.save(out + "_bare_motion.npy", scene.field[None])
            save_mask(scene.mask, out + "_bare_mask.png")
            cli("render", photo, "--frames", a.frames, "--frames-dir", out + "_bare")
            # each region on its own: sky and water drift apart, and where they touch
            # cinemetrics would otherwise measure them as one component
            r = {}
            for region in GROUPS:
                inside = in_group(scene.labels, region)
                if inside.mean() < 0.02:
                    continue
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
    if ious:
        table("automatic mask vs reference (cinemetrics mask-iou)", ious, ["iou"])
    if ref:
        table(f"own mask + own motion x {a.motion_scale:g}, {a.frames} frames", ref, keys)
    if bare:
        table(f"bare photo (automatic mask, default motion), {a.frames} frames", bare,
              ["static_psnr", "seam_ratio", "sharpness_mean", "sharpness_min"])
        table("bare photo, drift per region (measured against our default field)", bare,
              [f"{r}_{x}" for r in ("sky", "water") for x in ("deg", "px_per_frame", "direction_cos", "speed_ratio")])
    if arrow:
        table(f"one arrow on the sky (own mask), {a.frames} frames; measured against the arrow", arrow,
              ["seam_ratio", "direction_cos", "speed_ratio", "arrow"])


if __name__ == "__main__":
    main()
