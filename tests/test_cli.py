"""The command line: outputs, help, and every bad input -> exit 2, one line, nothing lost."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from cinegan_core import read_video
from conftest import EXAMPLES, run_cli, sky_mask


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_user_error(res, *words):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and lines[0].startswith("cinegan: error: ")
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


def test_render_mp4_and_frames(tmp_path, photo_files):
    photo, mask = photo_files
    out, frames_dir = tmp_path / "loop.mp4", tmp_path / "frames"
    res = run_cli("render", photo, "-o", out, "--mask", mask, "--frames", 12, "--fps", 12,
                  "--direction", 180, "--speed", 1, "--frames-dir", frames_dir, "--engine", "pixel")
    assert res.returncode == 0, res.stderr
    assert "pixel engine" in res.stderr
    video, meta = read_video(out)
    assert video.shape == (12, 96, 128, 3) and meta["fps"] == 12
    pngs = sorted(os.listdir(frames_dir))
    assert pngs == [".cinegan-frames.json"] + [f"{i:04d}.png" for i in range(12)]
    first = np.asarray(Image.open(frames_dir / "0000.png"))
    assert np.array_equal(first, np.asarray(Image.open(photo).convert("RGB")))


def test_help_explains_units():
    res = run_cli("render", "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for phrase in ["px per frame", "degrees", "0 = rightward", "90 = downward", "frames per second",
                   "--frames-dir", "--max-side", "--engine", "--weights", "white = moves"]:
        assert phrase in text, phrase


@pytest.fixture
def files(tmp_path, photo_files):
    photo, mask = photo_files
    bad = {}
    (tmp_path / "empty.png").write_bytes(b"")
    bad["empty"] = tmp_path / "empty.png"
    (tmp_path / "text.jpg").write_text("hello, not a picture")
    bad["text"] = tmp_path / "text.jpg"
    data = open(photo, "rb").read()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 3])
    bad["truncated"] = tmp_path / "trunc.png"
    Image.new("RGB", (1, 1)).save(tmp_path / "tiny.png")
    bad["tiny"] = tmp_path / "tiny.png"
    Image.new("L", (128, 96), 0).save(tmp_path / "black.png")
    bad["empty_mask"] = tmp_path / "black.png"
    np.save(tmp_path / "shape.npy", np.zeros((3, 8, 8), np.float32))
    bad["motion_shape"] = tmp_path / "shape.npy"
    nan = np.zeros((1, 2, 8, 8), np.float32)
    nan[0, 0, 3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    bad["motion_nan"] = tmp_path / "nan.npy"
    inf = np.zeros((2, 8, 8), np.float32)
    inf[1, 0, 0] = np.inf
    np.save(tmp_path / "inf.npy", inf)
    bad["motion_inf"] = tmp_path / "inf.npy"
    np.save(tmp_path / "pickle.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    bad["motion_pickle"] = tmp_path / "pickle.npy"
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    bad["motion_junk"] = tmp_path / "junk.npy"
    return photo, mask, bad


CASES = [
    ("empty photo", lambda p, m, b: [b["empty"], "--mask", m], ["empty"]),
    ("not an image", lambda p, m, b: [b["text"], "--mask", m], ["not an image"]),
    ("truncated", lambda p, m, b: [b["truncated"], "--mask", m], ["photo"]),
    ("1x1", lambda p, m, b: [b["tiny"], "--mask", m], ["1x1"]),
    ("missing photo", lambda p, m, b: ["nope.png", "--mask", m], ["does not exist"]),
    ("mask not an image", lambda p, m, b: [p, "--mask", b["text"]], ["mask"]),
    ("mask empty", lambda p, m, b: [p, "--mask", b["empty_mask"]], ["mask is empty"]),
    ("motion shape", lambda p, m, b: [p, "--mask", m, "--motion", b["motion_shape"]], ["shape"]),
    ("motion nan", lambda p, m, b: [p, "--mask", m, "--motion", b["motion_nan"]], ["nan"]),
    ("motion inf", lambda p, m, b: [p, "--mask", m, "--motion", b["motion_inf"]], ["infinite"]),
    ("motion pickle", lambda p, m, b: [p, "--mask", m, "--motion", b["motion_pickle"]], ["objects"]),
    ("motion junk", lambda p, m, b: [p, "--mask", m, "--motion", b["motion_junk"]], ["npy"]),
    ("frames 0", lambda p, m, b: [p, "--mask", m, "--frames", 0], ["frames"]),
    ("frames absurd", lambda p, m, b: [p, "--mask", m, "--frames", 10 ** 7], ["frames"]),
    ("frames text", lambda p, m, b: [p, "--mask", m, "--frames", "ten"], ["whole number"]),
    ("fps 0", lambda p, m, b: [p, "--mask", m, "--fps", 0], ["fps"]),
    ("speed absurd", lambda p, m, b: [p, "--mask", m, "--speed", 500], ["too fast"]),
    ("speed negative", lambda p, m, b: [p, "--mask", m, "--speed", -1], ["speed"]),
    ("unknown engine", lambda p, m, b: [p, "--mask", m, "--engine", "magic"], ["engine"]),
]


@pytest.mark.parametrize("name,args,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(tmp_path, files, name, args, words):
    photo, mask, bad = files
    before = {p: digest(p) for p in [photo, mask, *bad.values()]}
    out = tmp_path / "out.mp4"
    res = run_cli("render", *args(photo, mask, bad), "-o", out)
    assert_user_error(res, *words)
    assert not out.exists()
    assert {p: digest(p) for p in before} == before  # inputs untouched
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary leftovers


def test_bad_output_paths(tmp_path, photo_files):
    photo, mask = photo_files
    assert_user_error(run_cli("render", photo, "--mask", mask, "-o", tmp_path / "out.avi"), ".mp4")
    assert_user_error(run_cli("render", photo, "--mask", mask, "-o", tmp_path / "no" / "out.mp4"),
                      "does not exist")
    assert_user_error(run_cli("render", photo, "--mask", mask), "nothing to write")
    assert_user_error(run_cli("render"), "required")
    assert_user_error(run_cli("fly"), "invalid choice")


def test_mask_of_another_size_is_resized(tmp_path, photo_files):
    photo, _ = photo_files
    small = tmp_path / "small_mask.png"
    Image.fromarray(sky_mask(48, 64).astype(np.uint8) * 255).save(small)
    res = run_cli("render", photo, "--mask", small, "--frames", 4, "--frames-dir", tmp_path / "f")
    assert res.returncode == 0, res.stderr
    last = np.asarray(Image.open(tmp_path / "f" / "0003.png"))
    still = np.asarray(Image.open(photo).convert("RGB"))
    assert np.array_equal(last[60:], still[60:])  # bottom half frozen


def test_full_size_render(tmp_path):
    """One render at full size from a real example photo, 1024 px on the long side."""
    photo = os.path.join(EXAMPLES, "mountain-clouds.jpg")
    w, h = Image.open(photo).size
    mh, mw = round(1024 * h / w), 1024
    mask = tmp_path / "mask.png"
    Image.fromarray(sky_mask(mh, mw, 0.35).astype(np.uint8) * 255).save(mask)
    out = tmp_path / "loop.mp4"
    res = run_cli("render", photo, "--mask", mask, "-o", out, "--frames", 48, "--max-side", 1024,
                  "--frames-dir", tmp_path / "frames")
    assert res.returncode == 0, res.stderr
    video, _ = read_video(out)
    assert video.shape == (48, mh, mw, 3)
    frames = [np.asarray(Image.open(tmp_path / "frames" / f"{i:04d}.png")) for i in (0, 24, 47)]
    frozen = ~np.asarray(Image.open(mask).convert("L")).astype(bool)
    assert all(np.array_equal(f[frozen], frames[0][frozen]) for f in frames)
    assert not np.array_equal(frames[1], frames[0])


def test_region_style_flags(tmp_path):
    photo = os.path.join(EXAMPLES, "sea-overcast.jpg")
    res = run_cli("render", photo, "-o", tmp_path / "a.mp4", "--frames", 8, "--max-side", 200,
                  "--water-style", "ripple", "--sky-style", "drift")
    assert res.returncode == 0, res.stderr
    assert "water: ripple" in res.stderr and "sky: drift" in res.stderr
    assert_user_error(run_cli("render", photo, "-o", tmp_path / "b.mp4", "--water-style", "swirl"), "water-style")
    assert not os.path.exists(tmp_path / "b.mp4")


@pytest.mark.parametrize("command", [[], ["render"], ["batch"], ["mask"]])
def test_help_loads_neither_torch_nor_opencv(command):
    """`python -m cinegan_core [COMMAND] --help` answers without importing torch or OpenCV
    (their import took seconds before the help appeared): which modules are loaded is
    checked, not the time."""
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import runpy, sys\n"
            f"sys.argv = ['cinegan_core', *{command!r}, '--help']\n"
            "try:\n    runpy.run_module('cinegan_core', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('LOADED', 'torch' in sys.modules, 'cv2' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED False False"
