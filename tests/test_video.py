import os

import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, read_video, write_png_frames, write_video
from conftest import textured


@pytest.fixture(scope="module")
def clip():
    base = textured(37, 51)  # odd sizes on purpose
    return [np.roll(base, i, axis=1) for i in range(12)]


@pytest.mark.parametrize("ext,codec", [("mp4", "h264"), ("webm", "vp9")])
def test_videos_read_back(tmp_path, clip, ext, codec):
    path = tmp_path / f"loop.{ext}"
    info = write_video(clip, path, fps=24)
    frames, meta = read_video(path)
    assert info["frames"] == len(frames) == 12
    assert frames.shape[1:] == (38, 52, 3)  # padded to even sizes, nothing cut
    assert meta["codec"].startswith(codec)
    assert abs(meta["fps"] - 24) < 0.01
    err = np.abs(frames[:, :37, :51].astype(float) - np.stack(clip)).mean()
    assert err < 12  # lossy but faithful


def test_mp4_is_browser_friendly(tmp_path, clip):
    path = tmp_path / "loop.mp4"
    write_video(clip, path, fps=20)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading
    _, meta = read_video(path)
    assert meta["pix_fmt"].startswith("yuv420p")


def test_gif_loops_forever_and_is_scaled(tmp_path):
    big = [np.roll(textured(300, 800), 8 * i, axis=1) for i in range(6)]
    path = tmp_path / "loop.gif"
    info = write_video(big, path, fps=50)
    with Image.open(path) as gif:
        assert gif.info.get("loop") == 0
        assert gif.size == (512, 192)
        assert gif.n_frames == info["frames"] == 3  # 50 fps -> 25 fps, every second frame
        assert gif.info["duration"] == 40


def test_png_frames_are_lossless(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert write_png_frames(clip, folder) == 12
    names = sorted(os.listdir(folder))
    assert names == [".cinegan-frames.json"] + [f"{i:04d}.png" for i in range(12)] + ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"
    for i, frame in enumerate(clip):
        assert np.array_equal(np.asarray(Image.open(folder / f"{i:04d}.png")), frame)


def test_failed_encode_leaves_nothing_behind(tmp_path, clip):
    def broken():
        yield clip[0]
        yield clip[1]
        raise RuntimeError("engine failed")

    path = tmp_path / "loop.mp4"
    path.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        write_video(broken(), path, fps=24)
    assert path.read_bytes() == b"previous result"
    assert os.listdir(tmp_path) == ["loop.mp4"]
    with pytest.raises(RuntimeError):
        write_png_frames(broken(), tmp_path / "frames")
    assert os.listdir(tmp_path) == ["loop.mp4"]


def test_unknown_extension(tmp_path, clip):
    with pytest.raises(CineGANError, match=r"\.mp4, \.webm, \.gif or \.webp"):
        write_video(clip, tmp_path / "loop.avi", fps=24)


# --- --frames-dir never deletes or overwrites a file CineGAN did not write ---------------------

def _snapshot(folder):
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)}


@pytest.mark.parametrize("names", [["20240101.png"], ["1.png"], ["0000.png"], ["0003.PNG", "notes.txt"]])
def test_frames_dir_refuses_to_touch_pngs_it_did_not_write(tmp_path, clip, names):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"the user's own file " + name.encode())
    before = _snapshot(folder)
    with pytest.raises(CineGANError, match="did not write"):
        write_png_frames(clip, folder)
    assert _snapshot(folder) == before            # nothing deleted, nothing overwritten, nothing added
    assert os.listdir(tmp_path) == ["frames"]     # no temporary folder left behind


def test_frames_dir_replaces_only_its_own_earlier_frames(tmp_path, clip):
    folder = tmp_path / "frames"
    assert write_png_frames(clip, folder) == 12
    (folder / "notes.txt").write_text("keep me")
    assert write_png_frames(clip[:5], folder) == 5   # a shorter loop: no stale frames remain
    names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    assert names == [f"{i:04d}.png" for i in range(5)] + ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"
    for i, frame in enumerate(clip[:5]):
        assert np.array_equal(np.asarray(Image.open(folder / f"{i:04d}.png")), frame)


def test_frames_dir_refuses_when_an_earlier_frame_was_edited(tmp_path, clip):
    folder = tmp_path / "frames"
    write_png_frames(clip[:3], folder)
    Image.fromarray(clip[7]).save(folder / "0001.png")  # the user retouched a frame: it is theirs now
    before = _snapshot(folder)
    with pytest.raises(CineGANError, match="0001.png"):
        write_png_frames(clip, folder)
    assert _snapshot(folder) == before


def test_frames_dir_refuses_a_file_added_during_the_render(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()

    def frames():
        yield clip[0]
        (folder / "0001.png").write_bytes(b"appeared meanwhile")
        yield clip[1]

    with pytest.raises(CineGANError, match="did not write"):
        write_png_frames(frames(), folder)
    assert _snapshot(folder) == {"0001.png": b"appeared meanwhile"}


# --- permissions without touching the process-wide umask ---------------------------------------

def test_atomic_output_never_changes_the_umask(tmp_path, monkeypatch):
    from cinegan_core import video

    def no_umask(*args):
        raise AssertionError("os.umask changes process-wide state; other threads may be creating files")

    expected = 0o666 & ~video._umask()
    monkeypatch.setattr(os, "umask", no_umask)
    with video.atomic_output(tmp_path / "x.bin") as tmp:
        open(tmp, "wb").write(b"x")
    assert (os.stat(tmp_path / "x.bin").st_mode & 0o777) == expected


def test_umask_is_read_correctly(tmp_path):
    import subprocess
    import sys
    from conftest import ROOT
    code = "import os; os.umask(0o027); from cinegan_core import video; print(oct(video._umask()))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert res.stdout.strip() == "0o27", res.stderr


# --- a failed encoder never leaves a truncated video ---------------------------------------------

NOISE_CLIP = ("import numpy as np\n"
              "rng = np.random.default_rng(0)\n"
              "clip = [rng.integers(0, 255, (256, 256, 3), np.uint8) for _ in range(40)]\n")


@pytest.mark.parametrize("ext", ["mp4", "webm", "gif"])
def test_a_full_disk_is_a_clear_error_not_a_truncated_video(tmp_path, ext):
    from diskfull import run_on_small_disk
    disk = tmp_path / "disk"
    disk.mkdir()
    code = NOISE_CLIP + (
        "import os\n"
        "from cinegan_core import CineGANError, write_video\n"
        "try:\n"
        f"    write_video(clip, {str(disk / ('loop.' + ext))!r}, fps=20)\n"
        "    print('WROTE', os.path.getsize(" + repr(str(disk / ("loop." + ext))) + "))\n"
        "except CineGANError as e:\n"
        "    print('ERROR', e)\n"
        f"print('LEFT', sorted(os.listdir({str(disk)!r})))\n")
    res = run_on_small_disk(code, str(disk))
    assert "ERROR" in res.stdout and "no space left on device" in res.stdout.lower(), res.stdout + res.stderr
    assert "LEFT []" in res.stdout, res.stdout


def test_an_encoder_stopped_by_a_file_size_limit_raises(tmp_path):
    code = NOISE_CLIP + (
        "import resource, os\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "from cinegan_core import CineGANError, write_video\n"
        "try:\n"
        f"    write_video(clip, {str(tmp_path / 'loop.mp4')!r}, fps=20)\n"
        "    print('WROTE')\n"
        "except (CineGANError, OSError) as e:\n"
        "    print('ERROR', type(e).__name__, e)\n"
        f"print('LEFT', sorted(os.listdir({str(tmp_path)!r})))\n")
    import subprocess
    import sys
    from conftest import ROOT
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert "ERROR" in res.stdout and "WROTE" not in res.stdout, res.stdout + res.stderr
    assert "LEFT []" in res.stdout, res.stdout
