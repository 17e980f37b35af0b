"""User-facing safety through the command line and the API: one clear line, exit 2,
nothing written, nothing of the user's lost."""
import os

import numpy as np
import pytest
from PIL import Image

import cinegan_core as core
from conftest import run_cli
from test_cli import assert_user_error


@pytest.mark.parametrize("side", [-5, 0, 8])
def test_cli_max_side_out_of_range(tmp_path, photo_files, side):
    photo, mask = photo_files
    out = tmp_path / "loop.mp4"
    res = run_cli("render", photo, "--mask", mask, "-o", out, "--max-side", side, "--engine", "pixel", "--quiet")
    assert_user_error(res, "max side", "64 to 8192")
    assert not out.exists()


def test_api_max_side_out_of_range(tmp_path, photo_files):
    photo, mask = photo_files
    with pytest.raises(core.CineGANError, match="max side"):
        core.render(photo, tmp_path / "loop.mp4", mask=mask, max_side=-5, engine="pixel")
    assert os.listdir(tmp_path) == ["photo.png", "mask.png"]


def test_cli_frames_dir_keeps_the_users_pngs(tmp_path, photo_files):
    photo, mask = photo_files
    folder = tmp_path / "frames"
    folder.mkdir()
    mine = {"20240101.png": b"holiday", "1.png": b"first"}
    for name, data in mine.items():
        (folder / name).write_bytes(data)
    res = run_cli("render", photo, "--mask", mask, "--frames", 4, "--frames-dir", folder, "--engine", "pixel",
                  "--quiet")
    assert_user_error(res, "20240101.png", "did not write")
    assert {n: (folder / n).read_bytes() for n in os.listdir(folder)} == mine
    # a new folder next to them works, and a second render there replaces its own frames
    res = run_cli("render", photo, "--mask", mask, "--frames", 4, "--frames-dir", tmp_path / "new", "--engine",
                  "pixel", "--quiet")
    assert res.returncode == 0, res.stderr
    res = run_cli("render", photo, "--mask", mask, "--frames", 3, "--frames-dir", tmp_path / "new", "--engine",
                  "pixel", "--quiet")
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(tmp_path / "new")) == [".cinegan-frames.json", "0000.png", "0001.png", "0002.png"]
    assert np.asarray(Image.open(tmp_path / "new" / "0000.png")).shape == (96, 128, 3)
