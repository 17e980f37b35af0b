"""Command line: ``python -m cinegan_core render|mask|batch ...`` (see --help).

Exit status 0 on success, 2 on a user error (one line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import os
import sys

# torch's OpenMP threads wait passively: spinning ones made a parse take 1.5-5 s instead of 0.2 s
# when another process shared the cores (bench/scene_parser.py). Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import CineGANError
from .framing import ASPECTS, CHANNEL_SIZES
from .regions import GROUPS, STYLES, shares
from .settings import ENGINES, FORMATS, MASK_REACHES, PAINTED, RenderSettings

PROG = "cinegan"
DEFAULTS = RenderSettings()  # the options start from the settings' own defaults
# the render options that are settings under their own flat names (``settings.to_settings``)
SETTING_OPTIONS = ("frames", "fps", "engine", "max_side", "direction", "speed", "aspect", "gif_max_mb",
                   "webp_max_mb", "email_width", "email_max_mb", "painted", "mask_reach",
                   *(f"{g}_{part}" for g in GROUPS for part in ("direction", "speed", "style")))


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage on several lines)
        command = self.prog.split()[-1] + " " if self.prog != PROG else ""
        raise CineGANError(f"{message} (see: python -m cinegan_core {command}--help)")


def _positive_int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _number_or_auto(text):
    """A number, or "auto" (chosen from the photo)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or auto: {text!r}") from None


def _crop_position(text):
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not X,Y (two numbers from 0 to 1): {text!r}") from None
    return x, y


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="CineGAN: turn a landscape photo into a seamless cinemagraph loop.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("render", help="render a loop to MP4, WebM, GIF, animated WebP, an email GIF or PNG frames",
                       description="Render a cinemagraph: the masked areas (sky, water) drift in a "
                                   "seamless loop, everything else stays exactly still.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("input", help="the photo (PNG, JPEG, WebP, TIFF, ...; any size, EXIF orientation applied)")
    r.add_argument("-o", "--output", help="output video: .mp4 (H.264 High, yuv420p, faststart), .webm (VP9), "
                                        ".gif (looping, at most 512 px, under --gif-max-mb) or .webp (animated, "
                                        "looping, under --webp-max-mb)")
    r.add_argument("--format", choices=FORMATS,
                   help="what to write (default: the output's extension); email: a GIF for email clients, "
                        "--email-width px wide at most, under --email-max-mb, the poster (the photo) as its first "
                        "frame, written to -o OUT.gif")
    r.add_argument("--mask", help="mask image, white = moves (resized to the photo if its size differs); "
                                  "default: sky and water are found automatically")
    r.add_argument("--painted", default=DEFAULTS.painted, metavar="|".join(PAINTED).replace(" ", "-"),
                   help="what the painted areas of --mask move as: auto recognises each connected area from the "
                        "photo (falling water falls, streams flow downhill, sky drifts, calm water ripples); "
                        "clouds, water, falling-water or still (still water) say it for all of them")
    _add_reach(r)
    r.add_argument("--motion", help="motion field .npy, shape (1,2,h,w) or (2,h,w): channel 0 rightward, "
                                    "1 downward, in px per frame at the array's own size (rescaled to the render)")
    r.add_argument("--direction", type=_number_or_auto, help="drift direction in degrees: 0 = rightward, "
                   "90 = downward, 180 = leftward, 270 = upward (default: chosen from the photo)")
    r.add_argument("--speed", type=_number_or_auto, help="drift speed in px per frame at the render size "
                   "(with --motion: the speed of its fastest vector; default: each region's own)")
    for region in GROUPS:
        r.add_argument(f"--{region}-direction", type=_number_or_auto, metavar="DEG",
                       help=f"drift direction of the {region} only, degrees (overrides --direction)")
        r.add_argument(f"--{region}-speed", type=_number_or_auto, metavar="PX",
                       help=f"drift speed of the {region} only, px per frame at the render size (overrides --speed)")
        r.add_argument(f"--{region}-style", choices=STYLES, default=getattr(DEFAULTS, region).style,
                       help=f"how the {region} moves: drift (one coherent sheet), flow (along the water's own "
                            "course), ripple (shimmers in place, no direction); auto chooses from the photo")
    r.add_argument("--arrow", action="append", metavar="X0,Y0,X1,Y1", default=[],
                   help="repeatable: content at X0,Y0 travels to X1,Y1 over one loop (px of the input photo), "
                        "so the arrow's length sets the speed (length / frames px per frame); several arrows "
                        "blend into one smooth field per region; a region without arrows keeps its drift")
    r.add_argument("--frames", type=_positive_int, default=DEFAULTS.frames,
                   help="frames in one loop (2 to 1000); the loop lasts frames / fps seconds")
    r.add_argument("--fps", type=float, default=DEFAULTS.fps, help="playback frames per second")
    r.add_argument("--engine", choices=ENGINES, default=DEFAULTS.engine,
                   help="renderer: pixel (no weights), stylegan (needs checkpoints), auto (stylegan if its weights are found), "
                        "stylegan-authors (the authors' own choices, for comparisons; see weights/README.md)")
    r.add_argument("--weights", help="folder with the stylegan checkpoints (default: $CINEGAN_WEIGHTS, then weights/)")
    r.add_argument("--frames-dir", help="also (or instead) write the loop as lossless PNGs 0000.png, 0001.png, ... here")
    r.add_argument("--max-side", type=_positive_int, default=DEFAULTS.max_side,
                   help="longest side of the render in px; larger photos are scaled down")
    sizes = ", ".join(f"{a} {w}x{h}" for a, (w, h) in CHANNEL_SIZES.items())
    r.add_argument("--aspect", default=DEFAULTS.aspect, metavar="|".join(ASPECTS),
                   help=f"crop to a channel's shape and size ({sizes}; also: square, portrait, story, wide), "
                        "scaled down to --max-side and never enlarged; --mask, --motion and --arrow stay "
                        "in the whole photo's coordinates")
    r.add_argument("--crop", type=_crop_position, default=DEFAULTS.crop, metavar="X,Y",
                   help="where the crop box lies, 0..1 per axis: 0,0 = top left, 0.5,0.5 = centred, 1,1 = bottom right")
    r.add_argument("--gif-max-mb", type=float, default=DEFAULTS.gif_max_mb, metavar="MB",
                   help="largest GIF in MB (10^6 bytes): its size, frame rate and colours are chosen to fit")
    r.add_argument("--webp-max-mb", type=float, default=DEFAULTS.webp_max_mb, metavar="MB",
                   help="largest animated WebP in MB: its quality, size and frame rate are chosen to fit")
    r.add_argument("--email-width", type=_positive_int, default=DEFAULTS.email_width, metavar="PX",
                   help="widest email GIF in px (--format email; never enlarged)")
    r.add_argument("--email-max-mb", type=float, default=DEFAULTS.email_max_mb, metavar="MB",
                   help="largest email GIF in MB (--format email): frame rate, colours and then size are chosen to fit")
    r.add_argument("--device", help="torch device, e.g. cpu or cuda (default: cuda if available, else cpu)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    m = sub.add_parser("mask", help="find the sky and water of a photo and write the mask",
                       description="Write the automatic mask of a photo: white = moves (sky and water), "
                                   "black = frozen, at the photo's own size (EXIF orientation applied).")
    m.add_argument("input", help="the photo")
    m.add_argument("-o", "--output", required=True, help="mask PNG to write")
    m.add_argument("--regions", metavar="PNG", help="also write the regions: 0 frozen, 1 sky, 2 water (grey levels)")
    _add_reach(m)
    _add_batch_parser(sub)
    return p


def _add_reach(parser) -> None:
    parser.add_argument("--mask-reach", dest="mask_reach", choices=MASK_REACHES, default=DEFAULTS.mask_reach,
                        help="how much the automatic mask animates: careful (only what it is sure is sky or water) "
                             "or bold (also what it is unsure of: finds more, moves something solid more often)")


def _add_batch_parser(sub) -> None:
    b = sub.add_parser("batch", help="render a campaign: many photos x variants from a CSV or JSON jobs file",
                       description="Render every job of a jobs file (one row per photo; columns: photo, mask, "
                                   "motion, name and any render setting such as preset, format, frames or "
                                   "seconds, fps, max_side, engine, sky_direction, water_speed; values such as "
                                   "presets=calm|natural|lively or frames=24|48 expand a row into one job per "
                                   "combination) "
                                   "into OUT with a manifest.json. A second run skips the jobs already done "
                                   "with the same settings. Exit 0 when all jobs succeed, 2 when some failed.")
    b.add_argument("jobs", help="jobs file, .csv or .json; photo paths are relative to it")
    b.add_argument("--out", required=True, help="output folder (created): the videos and manifest.json")
    b.add_argument("--workers", type=_positive_int, metavar="N",
                   help="processes on this machine (default 1); with --ray local or auto: the CPUs of "
                        "the local Ray it starts (default: all)")
    b.add_argument("--ray", metavar="ADDRESS|auto|local",
                   help="run the jobs as Ray tasks: local starts a local Ray, auto joins this machine's "
                        "cluster or starts one, ADDRESS (host:port) joins that cluster (needs the Ray extra: "
                        "pip install -r requirements-ray.txt)")
    b.add_argument("--ray-gpus", type=float, default=0.0, metavar="G",
                   help="GPUs (or a fraction of one) each Ray task asks for")
    b.add_argument("--weights", help="folder with the stylegan checkpoints (default: $CINEGAN_WEIGHTS, then weights/)")
    b.add_argument("--device", help="torch device, e.g. cpu or cuda (default: cuda if available, else cpu)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")


def _progress_bar(quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm
    bar = None

    def progress(info: dict):
        nonlocal bar
        if bar is None or bar.desc != info["stage"]:
            if bar is not None:
                bar.close()
            bar = tqdm(total=info["total"], desc=info["stage"], unit="step", file=sys.stderr,
                       leave=False, dynamic_ncols=True)
        bar.update(info["step"] - bar.n)

    return progress, lambda: bar is not None and bar.close()


def render_settings(args):
    """The render command's settings: its options by their flat names (``settings.to_settings``),
    speeds in px per frame at the render size; the format is --format's, else the output's."""
    from .settings import to_settings
    from .video import extension, output_format
    fmt = args.format
    if args.output and fmt and output_format(args.output) != extension(fmt):
        raise CineGANError(f"--format {fmt} writes a .{extension(fmt)} file, not {args.output!r}")
    flat = {name: getattr(args, name) for name in SETTING_OPTIONS}
    return to_settings(dict(flat, arrows=args.arrow, crop_x=args.crop[0], crop_y=args.crop[1], speed_units="px",
                            format=fmt or (output_format(args.output) if args.output else DEFAULTS.format)))


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "render":
        from .pipeline import render
        settings = render_settings(args)
        progress, close = _progress_bar(args.quiet)
        try:
            info = render(args.input, args.output, settings, frames_dir=args.frames_dir, mask=args.mask,
                          motion=args.motion, device=args.device, weights=args.weights, progress=progress)
        finally:
            close()
        for note in info["notes"]:
            print(f"{PROG}: {note}", file=sys.stderr)
        for warning in info["warnings"]:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        where = " and ".join(x for x in (args.output, args.frames_dir and f"{args.frames_dir}/") if x)
        print(f"{PROG}: wrote {where}: {info['frames']} frames, {info['width']}x{info['height']}, "
              f"{info['engine_message']}, {info['seconds']:.1f} s", file=sys.stderr)
        for v in info["videos"]:
            if v["format"] == "gif":
                what = "email GIF" if settings.format == "email" else "GIF"
                print(f"{PROG}: the {what} is {v['width']}x{v['height']} at {v['fps']:g} fps with {v['colors']} "
                      f"colours, {v['bytes'] / 1e6:.2f} MB", file=sys.stderr)
            elif v["format"] == "webp":
                print(f"{PROG}: the WebP is {v['width']}x{v['height']} at {v['fps']:g} fps, quality {v['quality']}, "
                      f"{v['bytes'] / 1e6:.2f} MB", file=sys.stderr)
    elif args.command == "batch":
        return _run_batch(args)
    elif args.command == "mask":
        import time
        from PIL import Image
        from .automask import auto_mask
        from .mask import save_mask
        from .photo import load_photo
        from .video import atomic_output
        if not args.output.lower().endswith(".png"):
            raise CineGANError(f"cannot write {args.output!r}: masks are written as .png")
        t0 = time.perf_counter()
        photo = load_photo(args.input, max_side=None)
        found = auto_mask(photo.rgb, reach=args.mask_reach)
        labels = found.labels
        save_mask(labels > 0, args.output)
        if args.regions:
            with atomic_output(args.regions) as tmp:
                Image.fromarray(labels).save(tmp, format="PNG")
        share = shares(labels)
        print(f"{PROG}: wrote {args.output}: sky {share['sky']:.0%}, water {share['water']:.0%} "
              f"of {photo.size[0]}x{photo.size[1]}, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for note in found.notes:
            print(f"{PROG}: warning: {note}", file=sys.stderr)
    return 0


def _run_batch(args) -> int:
    from .batch import batch
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        def progress(info: dict):
            nonlocal bar
            if bar is None:
                bar = tqdm(total=info["total"], desc=info["stage"], unit="job", file=sys.stderr,
                           dynamic_ncols=True)
            bar.update(info["step"] - bar.n)
    try:
        report = batch(args.jobs, args.out, workers=args.workers, ray=args.ray, device=args.device,
                       weights=args.weights, progress=None if args.quiet else progress, ray_gpus=args.ray_gpus)
    finally:
        if bar is not None:
            bar.close()
    for job in report.failed:
        what = job["row"] + (f" ({job['output']})" if job.get("output") else "")
        print(f"{PROG}: failed: {what}: {job['error'] or job['status']}", file=sys.stderr)
    print(f"{PROG}: batch: {report.summary()}", file=sys.stderr)
    return report.exit_code


def main(argv=None) -> int:
    try:
        return run(argv)
    except CineGANError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
