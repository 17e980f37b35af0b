"""Web and email deliveries of a 2-second loop at 1024 px: WebP against GIF under one budget, the email GIF.

    python bench/delivery.py [PHOTO ...] [--seconds 2] [--fps 20] [--side 1024] [--budget-mb 8]

For each photo (default: the four examples) one render (pixel engine) is encoded
at once to a GIF and an animated WebP under the same size budget (the default
8 MB of both) and to the email GIF (600 px wide, 1 MB by default), and the
poster is written. Prints per photo: the GIF's and the WebP's size and their
ratio (done when WebP <= 0.5 x GIF), whether each is within its budget, what
Pillow decodes from the WebP (frames against the loop's, loop count, frame 0
against the poster: mean difference in grey levels, done when < 3), and the
email GIF's width, size and first frame against the poster. Encode times are
those of one busy machine: compare them within a run only.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cinegan_core import RenderSettings, render  # noqa: E402
from cinegan_core.delivery import write_poster  # noqa: E402
from cinegan_core.pipeline import load_settings_photo  # noqa: E402

EXAMPLES = ["sunset-skyline.jpg", "sea-overcast.jpg", "storm-clouds.jpg", "mountain-clouds.jpg"]


def grey(path_or_img, size=None) -> np.ndarray:
    """A picture (file or PIL image, its current frame) as grey levels (h, w) float, at size if given."""
    img = Image.open(path_or_img) if isinstance(path_or_img, str) else path_or_img
    img = img.convert("RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.LANCZOS)
    return np.asarray(img.convert("L"), np.float64)


def frame0_vs_poster(path: str, poster: str) -> tuple[int, int, float, tuple[int, int]]:
    """(frames, loop count, mean |grey(frame 0) - grey(poster)|, size) of an animated file;
    the poster is brought to the animation's size (cropped by the even padding first)."""
    with Image.open(path) as anim, Image.open(poster) as p:
        w, h = anim.size
        pw, ph = p.size
        if abs(pw - w) <= 1 and abs(ph - h) <= 1:   # the even padding of the poster
            p = p.crop((0, 0, w, h))
        diff = float(np.abs(grey(anim) - grey(p, (w, h))).mean())
        return anim.n_frames, anim.info.get("loop"), diff, (w, h)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="*", default=[os.path.join(ROOT, "examples", n) for n in EXAMPLES])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--fps", type=float, default=20.0)
    ap.add_argument("--side", type=int, default=1024, help="longest side of the render, px")
    ap.add_argument("--budget-mb", type=float, default=8.0, help="the GIF's and the WebP's size limit, MB")
    args = ap.parse_args(argv)
    settings = RenderSettings.from_dict({"seconds": args.seconds, "fps": args.fps, "max_side": args.side,
                                         "engine": "pixel", "gif_max_mb": args.budget_mb,
                                         "webp_max_mb": args.budget_mb})
    budget = round(args.budget_mb * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        for photo in args.photos:
            name = os.path.splitext(os.path.basename(photo))[0]
            gif, webp, email, poster = (os.path.join(tmp, f"{name}{s}") for s in
                                        (".gif", ".webp", "-email.gif", "-poster.jpg"))
            t0 = time.perf_counter()
            info = render(photo, [gif, webp, (email, "email")], settings)
            seconds = time.perf_counter() - t0
            write_poster(load_settings_photo(photo, settings).rgb, poster)
            g, wp, em = info["videos"]
            n, loop, diff, size = frame0_vs_poster(webp, poster)
            en, eloop, ediff, esize = frame0_vs_poster(email, poster)
            print(f"{name}: loop {info['width']}x{info['height']}, {info['frames']} frames at {info['fps']:g} fps "
                  f"(render + 3 encodes {seconds:.1f} s)")
            print(f"  GIF  {g['width']}x{g['height']} {g['colors']} colours {g['fps']:g} fps: {g['bytes']:>9,} bytes "
                  f"(budget {budget:,}: {'within' if g['bytes'] <= budget else 'OVER'})")
            print(f"  WebP {wp['width']}x{wp['height']} quality {wp['quality']} (first frame {wp['first_quality']}) "
                  f"{wp['fps']:g} fps: {wp['bytes']:>9,} bytes (budget {budget:,}: "
                  f"{'within' if wp['bytes'] <= budget else 'OVER'}); WebP / GIF = {wp['bytes'] / g['bytes']:.3f}")
            print(f"  WebP decoded by Pillow: {n} frames (loop has {info['frames']}), loop = {loop}, "
                  f"frame 0 vs poster: {diff:.2f} grey levels at {size[0]}x{size[1]}")
            print(f"  email GIF {esize[0]}x{esize[1]} {em['colors']} colours {em['fps']:g} fps: {em['bytes']:,} bytes "
                  f"(<= 600 px wide: {esize[0] <= 600}, <= 1 MB: {em['bytes'] <= 1_000_000}); {en} frames, "
                  f"loop = {eloop}, frame 0 vs poster: {ediff:.2f} grey levels")
            print(f"  poster {os.path.getsize(poster):,} bytes")


if __name__ == "__main__":
    main()
