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


def test_png_frames_are_lossless_and_replace_stale_ones(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0099.png").write_bytes(b"old")
    (folder / "notes.txt").write_text("keep me")
    assert write_png_frames(clip, folder) == 12
    names = sorted(os.listdir(folder))
    assert names == [f"{i:04d}.png" for i in range(12)] + ["notes.txt"]
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
    with pytest.raises(CineGANError, match=r"\.mp4, \.webm or \.gif"):
        write_video(clip, tmp_path / "loop.avi", fps=24)
