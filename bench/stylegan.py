"""Benchmark of the stylegan engine at the real size (prints figures; not a timed test).

    python bench/stylegan.py [--json] [--frames 24] [--size 1024] [--device cpu] [--authors]

Random weights in the real architecture (config-f generator at 1024, the
feature-style encoder): the cost is the same as with trained ones. Prints
  forward_seconds      one full generator forward (W+ -> 1024x1024 image),
  frame_seconds        per loop frame of the engine (cached trunk, incremental
                       integration; the per-photo inversion is excluded and
                       reported as prepare_seconds),
  frame_over_forward   their ratio (the authors' per-frame cost is most of a forward),
  max_abs_diff         largest difference between cached frames and the
                       straightforward per-frame recomputation (three frames;
                       not with --authors, whose reference is bench/parity.py),
  peak_memory_mb       max RSS of this process.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _common import best_seconds, report  # noqa: E402  (bench/ is on sys.path when run as a script)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--authors", action="store_true", help="time the authors' variant (StyleGANEngine(authors=True))")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from cinegan_core.engines.stylegan import StyleGANEngine
    from cinegan_core.models.encoder import FeatureStyleEncoder
    from cinegan_core.models.stylegan2 import Generator
    from cinegan_core.weights import Networks

    torch.manual_seed(0)
    g = Generator(a.size).eval().to(a.device)
    enc = FeatureStyleEncoder(n_styles=g.n_latent).eval().to(a.device)  # 18 styles at 1024
    nets = Networks(generator=g, mean_latent=g.mean_latent(1000), encoder=enc)
    engine = StyleGANEngine(nets, device=a.device, authors=a.authors)

    rng = np.random.default_rng(0)
    photo = (rng.random((a.size, a.size, 3)) * 255).astype(np.uint8)
    mask = np.zeros((a.size, a.size), bool)
    mask[: a.size * 6 // 10] = True
    field = np.zeros((2, a.size, a.size), np.float32)
    field[0][mask], field[1][mask] = 1.2, 0.2

    latent = nets.mean_latent[:, None].repeat(1, g.n_latent, 1)
    with torch.no_grad():
        forward = best_seconds(lambda: g.synthesis(latent), 3)

    t = time.perf_counter()
    engine.prepare_photo(photo)
    prepare = time.perf_counter() - t
    t = time.perf_counter()
    frames = [f.cpu() for f in engine.canvas_frames(photo, mask, field, a.frames)]
    per_frame = (time.perf_counter() - t) / a.frames
    diff = None
    if not a.authors:
        diff = 0.0
        for k in (0, a.frames // 2, a.frames - 1):
            ref = engine.reference_canvas(photo, mask, field, a.frames, k).cpu()
            diff = max(diff, float((ref - frames[k]).abs().max()))
    res = {"size": a.size, "frames": a.frames, "device": a.device, "variant": "authors" if a.authors else "default",
           "forward_seconds": round(forward, 3),
           "prepare_seconds": round(prepare, 3), "frame_seconds": round(per_frame, 3),
           "frame_over_forward": round(per_frame / forward, 3), "max_abs_diff": diff,
           "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    report(res, a.json)


if __name__ == "__main__":
    main()
