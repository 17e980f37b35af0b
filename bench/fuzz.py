"""Fuzz the loaders: any exception other than a clean CineGANError is a finding.

    python bench/fuzz.py                           # every target, 60 s each
    python bench/fuzz.py --target photo --seconds 600
    python bench/fuzz.py --target all --seconds 20 --out /tmp/fuzz --json

Targets (what a user can hand CineGAN):

    photo   cinegan_core.load_photo(bytes, max_side=64)   (64: so scaling and JPEG draft run too)
    mask    cinegan_core.load_mask(bytes, (64, 48))
    motion  cinegan_core.load_motion(file object)          (.npy; .npz and pickles must be refused)
    api     the app's /generate argument parsing: runs once the core has one (see API_PARSER)

Each target runs in a child process under atheris (libFuzzer, coverage-guided
over cinegan_core, Pillow and NumPy's .npy reader), seeded with valid files of
every kind the loader accepts (written to OUT/<target>/seeds/). Inputs that
reach new code are kept in OUT/<target>/corpus/ and reused by later runs.

A finding is an exception other than CineGANError (each distinct one, by type
and innermost frame, is saved as OUT/<target>/finding-N.bin with its traceback
in finding-N.txt; only this run's are counted), an input that takes over --input-timeout seconds, or one
that needs more than --rss-mb of memory (libFuzzer's timeout-* / oom-* files).
After a timeout or an out-of-memory stop the target is restarted for the rest
of its time. Prints, per target: inputs tried, seconds, inputs per second and
findings; exit status 1 when there is any finding. OUT defaults to bench/out/fuzz.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
TARGETS = ("photo", "mask", "motion", "api")
MASK_SIZE = (64, 48)  # (width, height) of the photo a fuzzed mask is fitted to

# The hook for the API's argument parsing: a function f(dict of /generate arguments)
# that returns the parsed settings or raises CineGANError. Found by name in
# cinegan_core.settings (the first of these that exists); until the core has one the
# "api" target reports "not available" and is skipped.
API_PARSER = ("cinegan_core.settings", ("parse_api_args", "from_api", "parse_generate"))


# --- seeds: valid files of every kind each loader accepts ------------------------------------------

def _photo_seeds() -> dict[str, bytes]:
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8))
    big = Image.fromarray(np.repeat(np.repeat(rng.integers(0, 255, (12, 16, 3), np.uint8), 12, 0), 12, 1))

    def save(img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kw)
        return buf.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    out = {
        "rgb.png": save(rgb, "PNG"),
        "rgba.png": save(rgb.convert("RGBA"), "PNG"),
        "palette-transparent.png": save(rgb.convert("P"), "PNG", transparency=0),
        "gray16.png": save(Image.fromarray((rng.integers(0, 65535, (30, 40))).astype(np.uint16)), "PNG"),
        "bilevel.png": save(rgb.convert("1"), "PNG"),
        "la.png": save(rgb.convert("LA"), "PNG"),
        "exif-rotated.jpg": save(rgb, "JPEG", exif=exif, quality=90),
        "cmyk.jpg": save(rgb.convert("CMYK"), "JPEG"),
        "progressive.jpg": save(rgb, "JPEG", progressive=True),
        "large.jpg": save(big, "JPEG", quality=80),            # > 2x max_side: decoded with draft
        "large.png": save(big, "PNG"),                         # > max_side: scaled down
        "lossy.webp": save(rgb, "WEBP", quality=60),
        "lossless-alpha.webp": save(rgb.convert("RGBA"), "WEBP", lossless=True),
        "gray16.tif": save(Image.fromarray((rng.integers(0, 65535, (30, 40))).astype(np.uint16)), "TIFF"),
        "float.tif": save(Image.fromarray(rng.random((30, 40)).astype(np.float32)), "TIFF"),
        "rgb.tif": save(rgb, "TIFF", compression="tiff_deflate"),
        "anim.gif": save(rgb.convert("P"), "GIF", save_all=True, append_images=[rgb.rotate(90).convert("P")]),
        "rgb.bmp": save(rgb, "BMP"),
        "rgb.ppm": save(rgb, "PPM"),
    }
    return out


def _mask_seeds() -> dict[str, bytes]:
    import numpy as np
    from PIL import Image
    m = np.zeros((48, 64), np.uint8)
    m[:20] = 255
    img = Image.fromarray(m)

    def save(im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, format=fmt, **kw)
        return buf.getvalue()

    rgba = Image.merge("RGBA", [img, img, img, Image.fromarray(np.where(np.arange(64) < 40, 255, 0)
                                                                .astype(np.uint8)[None].repeat(48, 0))])
    return {
        "mask.png": save(img, "PNG"),
        "mask-1bit.png": save(img.convert("1"), "PNG"),
        "mask-rgba.png": save(rgba, "PNG"),
        "mask-palette.png": save(img.convert("P"), "PNG", transparency=0),
        "mask-small.png": save(img.resize((16, 12)), "PNG"),
        "mask.jpg": save(img, "JPEG"),
        "mask.webp": save(img, "WEBP", lossless=True),
        "mask.tif": save(img, "TIFF"),
    }


def _motion_seeds() -> dict[str, bytes]:
    import numpy as np
    rng = np.random.default_rng(0)
    f = (rng.standard_normal((1, 2, 12, 16)) * 2).astype(np.float32)

    def npy(a, **kw):
        buf = io.BytesIO()
        np.save(buf, a, **kw)
        return buf.getvalue()

    v2 = io.BytesIO()
    np.lib.format.write_array(v2, f[0], version=(2, 0))
    npz = io.BytesIO()
    np.savez(npz, motion=f)
    return {
        "official.npy": npy(f),
        "plain-f64.npy": npy(f[0].astype(np.float64)),
        "int16.npy": npy((f[0] * 10).astype(np.int16)),
        "fortran.npy": npy(np.asfortranarray(f[0])),
        "big-endian.npy": npy(f[0].astype(">f4")),
        "half.npy": npy(f[0].astype(np.float16)),
        "version2.npy": v2.getvalue(),
        "archive.npz": npz.getvalue(),
        "objects.npy": npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
    }


SEEDS = {"photo": _photo_seeds, "mask": _mask_seeds, "motion": _motion_seeds}


def _api_parser():
    import importlib
    module, names = API_PARSER
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return next((getattr(mod, n) for n in names if callable(getattr(mod, n, None))), None)


# --- the child: one target under atheris ---------------------------------------------------------

def _target_function(name: str):
    """(function bytes -> None) for a target; imported inside atheris' instrumentation."""
    from cinegan_core import load_mask, load_motion, load_photo
    if name == "photo":
        return lambda data: load_photo(data, max_side=64)
    if name == "mask":
        return lambda data: load_mask(data, MASK_SIZE)
    if name == "motion":
        return lambda data: load_motion(io.BytesIO(data))
    parse = _api_parser()

    def api(data: bytes):
        import atheris
        from cinegan_core.settings import api_defaults
        fdp = atheris.FuzzedDataProvider(data)

        def value():  # any JSON value a client could send
            kind = fdp.ConsumeIntInRange(0, 6)
            if kind == 0:
                return fdp.ConsumeFloat()
            if kind == 1:
                return fdp.ConsumeInt(4)
            if kind == 2:
                return fdp.ConsumeUnicodeNoSurrogates(24)
            if kind == 3:
                return None
            if kind == 4:
                return fdp.ConsumeBool()
            if kind == 5:
                return [fdp.ConsumeFloat() for _ in range(fdp.ConsumeIntInRange(0, 5))]
            return str(fdp.ConsumeFloat())

        names = list(api_defaults()) + ["frames", "photo"]
        args = {names[fdp.ConsumeIntInRange(0, len(names) - 1)]: value() for _ in range(fdp.ConsumeIntInRange(0, 12))}
        parse(args)
    return api


def _signature(tb) -> str:
    frames = traceback.extract_tb(tb)
    last = frames[-1] if frames else None
    return f"{os.path.basename(last.filename)}:{last.lineno}" if last else "?"


def child(target: str, out: str, seconds: int, seed: int, input_timeout: int, rss_mb: int) -> None:
    import atheris
    with atheris.instrument_imports(include=["cinegan_core", "PIL", "numpy.lib.format", "numpy.lib._format_impl",
                                             "numpy.lib._npyio_impl"]):
        import PIL.Image
        PIL.Image.init()  # import every format plugin now, so they are instrumented too
        import numpy.lib.format  # noqa: F401
        from cinegan_core import CineGANError
        fn = _target_function(target)
    folder = os.path.join(out, target)
    findings_path = os.path.join(folder, "findings.json")  # this run's (the parent starts it empty)
    findings: dict[str, dict] = json.load(open(findings_path)) if os.path.exists(findings_path) else {}

    def one_input(data: bytes) -> None:
        try:
            fn(data)
        except CineGANError:
            pass
        except Exception as e:  # a finding: keep the input, go on fuzzing
            sig = f"{type(e).__name__} at {_signature(e.__traceback__)}"
            if sig in findings:
                findings[sig]["count"] += 1
                return
            n = len(glob.glob(os.path.join(folder, "finding-*.bin"))) + 1  # earlier runs' files are kept
            base = os.path.join(folder, f"finding-{n}")
            with open(base + ".bin", "wb") as fh:
                fh.write(data)
            with open(base + ".txt", "w") as fh:
                fh.write("".join(traceback.format_exception(e)))
            findings[sig] = {"count": 1, "input": base + ".bin", "error": f"{type(e).__name__}: {e}"[:300]}
            with open(findings_path, "w") as fh:
                json.dump(findings, fh, indent=1)
            print(f"FINDING {sig}: {type(e).__name__}: {str(e)[:200]} (input {base}.bin)", file=sys.stderr,
                  flush=True)

    corpus = os.path.join(folder, "corpus")
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", f"-seed={seed}", f"-timeout={input_timeout}",
                   f"-rss_limit_mb={rss_mb}", f"-malloc_limit_mb={rss_mb}", f"-artifact_prefix={folder}/",
                   "-print_final_stats=1", "-max_len=65536", corpus, os.path.join(folder, "seeds")], one_input)
    atheris.Fuzz()


# --- the parent: runs the children, adds up -------------------------------------------------------

def run_target(target: str, out: str, seconds: int, seed: int, input_timeout: int, rss_mb: int,
               quiet: bool) -> dict:
    folder = os.path.join(out, target)
    os.makedirs(os.path.join(folder, "corpus"), exist_ok=True)
    os.makedirs(os.path.join(folder, "seeds"), exist_ok=True)
    if target == "api":  # seeds are random bytes: the data provider builds the arguments from them
        if _api_parser() is None:
            return {"target": target, "available": False,
                    "note": f"no parse function in {API_PARSER[0]} yet ({', '.join(API_PARSER[1])})"}
    else:
        for name, data in SEEDS[target]().items():
            with open(os.path.join(folder, "seeds", name), "wb") as fh:
                fh.write(data)
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(folder, "findings.json"))  # findings of earlier runs stay as finding-N files
    before = set(glob.glob(os.path.join(folder, "timeout-*")) + glob.glob(os.path.join(folder, "oom-*")))
    inputs, t0, runs = 0, time.monotonic(), 0
    while (left := seconds - (time.monotonic() - t0)) > 2:
        runs += 1
        log = os.path.join(folder, f"libfuzzer-{runs}.log")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", target, "--out", out, "--seconds",
               str(int(left)), "--seed", str(seed + runs), "--input-timeout", str(input_timeout),
               "--rss-mb", str(rss_mb)]
        with open(log, "w") as fh:
            subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, timeout=left + 600,
                           env=dict(os.environ, PYTHONPATH=ROOT))
        text = open(log, errors="replace").read()
        done = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
        if done:
            inputs += int(done[-1])
        else:  # stopped by a timeout or out of memory: the last status line says how far it got
            progress = re.findall(r"#(\d+)\s", text)
            inputs += int(progress[-1]) if progress else 0
        if not quiet:
            for line in text.splitlines():
                if line.startswith(("FINDING", "==", "ALARM")) or "ERROR: libFuzzer" in line:
                    print(f"[{target}] {line}", file=sys.stderr)
    elapsed = time.monotonic() - t0
    findings_path = os.path.join(folder, "findings.json")
    found = json.load(open(findings_path)) if os.path.exists(findings_path) else {}
    stops = sorted(set(glob.glob(os.path.join(folder, "timeout-*")) + glob.glob(os.path.join(folder, "oom-*")))
                   - before)
    listed = [{"kind": "exception", "what": k, **v} for k, v in found.items()]
    listed += [{"kind": os.path.basename(p).split("-")[0], "input": p} for p in stops]
    return {"target": target, "available": True, "inputs": inputs, "seconds": round(elapsed, 1),
            "inputs_per_s": round(inputs / max(elapsed, 1e-9), 1), "restarts": runs - 1,
            "findings": len(listed), "details": listed}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="all", choices=("all",) + TARGETS)
    p.add_argument("--seconds", type=int, default=60, help="per target")
    p.add_argument("--out", default=os.path.join(HERE, "out", "fuzz"), help="seeds, corpus and findings")
    p.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    p.add_argument("--input-timeout", type=int, default=30, help="seconds one input may take")
    p.add_argument("--rss-mb", type=int, default=4096, help="memory one input may use")
    p.add_argument("--json", action="store_true", help="one JSON line per target")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    out = os.path.abspath(a.out)
    if a.child:
        child(a.child, out, a.seconds, a.seed, a.input_timeout, a.rss_mb)
        return 0
    targets = TARGETS if a.target == "all" else (a.target,)
    total = 0
    for t in targets:
        res = run_target(t, out, a.seconds, a.seed, a.input_timeout, a.rss_mb, a.quiet)
        total += res.get("findings", 0)
        if a.json:
            print(json.dumps(res), flush=True)
        elif not res["available"]:
            print(f"{t:7s} not available: {res['note']}", flush=True)
        else:
            print(f"{t:7s} inputs {res['inputs']:>9d}  seconds {res['seconds']:>7.1f}  "
                  f"inputs/s {res['inputs_per_s']:>8.1f}  restarts {res['restarts']}  findings {res['findings']}",
                  flush=True)
            for f in res["details"]:
                print(f"    {f['kind']}: {f.get('what', '')} {f.get('error', '')} input {f['input']}", flush=True)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
