"""Formats for each channel: aspect crops in the core, MP4 that platforms take, GIFs under a budget."""
import os
import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, RenderSettings, load_photo, prepare, read_video, render, write_video
from cinegan_core import framing
from cinegan_core.pipeline import frame_mask
from conftest import busy_frames, run_cli, textured


# --- the crop box and the output size -----------------------------------------------------

@pytest.mark.parametrize("aspect,ratio", [("1:1", 1.0), ("4:5", 0.8), ("9:16", 9 / 16), ("16:9", 16 / 9)])
def test_crop_box_is_the_largest_box_of_that_shape(aspect, ratio):
    for size in ((800, 533), (533, 800), (1000, 1000), (4000, 300)):
        x0, y0, x1, y1 = framing.crop_box(size, aspect)
        w, h = x1 - x0, y1 - y0
        assert 0 <= x0 and 0 <= y0 and x1 <= size[0] and y1 <= size[1]
        assert w == size[0] or h == size[1]                 # the largest: it touches two sides
        assert abs(w / h - ratio) <= 1.0 / min(w, h) + 1e-9
        assert abs(x0 - (size[0] - x1)) <= 1 and abs(y0 - (size[1] - y1)) <= 1  # centred by default


def test_crop_position_moves_the_box_along_the_long_axis():
    assert framing.crop_box((800, 533), "9:16", 0.0, 0.5) == (0, 0, 300, 533)
    assert framing.crop_box((800, 533), "9:16", 1.0, 0.0) == (500, 0, 800, 533)
    assert framing.crop_box((800, 533), "9:16", 0.2, 0.9) == (100, 0, 400, 533)   # y does not matter here
    assert framing.crop_box((533, 800), "16:9", 0.5, 0.0)[1] == 0
    assert framing.crop_box((800, 533), "original", 0.1, 0.1) == (0, 0, 800, 533)


def test_output_sizes_are_the_channels_exact_and_even_never_enlarged():
    big = (0, 0, 6000, 6000)
    assert framing.output_size(big, "1:1", None) == (1080, 1080)
    assert framing.output_size(big, "4:5", None) == (1080, 1350)
    assert framing.output_size(big, "9:16", None) == (1080, 1920)
    assert framing.output_size(big, "16:9", None) == (1920, 1080)
    assert framing.output_size(big, "9:16", 1024) == (576, 1024)               # the render's longest side
    small = framing.crop_box((800, 533), "9:16")
    w, h = framing.output_size(small, "9:16", None)
    assert (w, h) == (288, 512) and w % 2 == 0 and h % 2 == 0 and w * 16 == h * 9  # not enlarged to 1080x1920
    note = framing.size_note((w, h), "9:16", None)
    assert "288x512" in note and "1080x1920" in note and "not enlarged" in note
    assert framing.size_note((1080, 1920), "9:16", None) is None
    assert framing.size_note((576, 1024), "9:16", 1024) is None                  # as large as asked
    assert framing.output_size((0, 0, 800, 533), "original", 400) == (400, 266)


def test_aspect_names():
    assert [framing.aspect_name(a) for a in ("Original", "story", "9x16", "Square", "16/9", " 4:5 ")] == \
        ["original", "9:16", "9:16", "1:1", "16:9", "4:5"]
    with pytest.raises(CineGANError, match="unknown aspect"):
        framing.aspect_name("3:2")


# --- the crop in the core: photo, mask, arrows and motion files in one frame -------------------------

def gradient_photo(w=300, h=200):
    """Every pixel tells where it is: red = x, green = y."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.dstack([x, y, np.full((h, w), 128.0)]).astype(np.uint8)


def test_photo_is_cropped_before_it_is_scaled():
    img = gradient_photo(300, 200)
    ph = load_photo(img, max_side=None, aspect="1:1", crop=(1.0, 0.5))
    assert ph.size == (200, 200) and ph.frame_box == (100, 0, 300, 200) and ph.cropped
    assert np.array_equal(ph.rgb, img[:, 100:])
    small = load_photo(img, max_side=100, aspect="1:1", crop=(0.0, 0.5))
    assert small.size == (100, 100) and small.scale == 0.5
    assert abs(int(small.rgb[50, 99, 0]) - int(img[100, 199, 0])) <= 3             # the box's right edge
    whole = load_photo(img, max_side=None)
    assert whole.box is None and not whole.cropped and whole.size == (300, 200)


def test_user_mask_and_arrows_are_in_the_whole_photos_frame():
    img = np.vstack([np.full((100, 300, 3), (110, 160, 235), np.uint8), textured(100, 300)])
    mask = np.zeros((200, 300), bool)
    mask[:, 150:] = True                      # the right half of the whole photo moves
    s = RenderSettings(max_side=None, aspect="1:1", crop_x=1.0, frames=20,
                       arrows=["160,20,260,20", "10,10,60,10"])   # the second lies left of the crop
    scene = prepare(img, s, mask=mask)
    assert scene.photo.frame_box == (100, 0, 300, 200)
    assert scene.mask[:, 50:].all() and not scene.mask[:, :50].any()   # x 150 of the photo is x 50 of the crop
    assert any("arrow 2" in n and "crop" in n for n in scene.warnings)
    assert np.isclose(scene.field[0][:, 120][80], 100 / 20, rtol=0.02)     # arrow 1 kept: 100 px over 20 frames
    half = mask.copy()
    half[:, 150:] = False
    half[:, :40] = True                       # painted only outside the crop
    with pytest.raises(CineGANError, match="outside the crop"):
        frame_mask(half, scene.photo)


def test_motion_file_is_cropped_with_the_photo():
    img = textured(200, 300)
    field = np.zeros((2, 100, 150), np.float32)
    field[0, :, 75:] = 1.0                    # the right half of the whole photo moves right, 1 px/frame at 150 wide
    scene = prepare(img, RenderSettings(max_side=None, aspect="1:1", crop_x=1.0), mask=np.ones((200, 300), bool),
                    motion=field)
    # the crop is x 100..300 of the photo: x 150 of the photo is x 50 of the crop; vectors x2 (150 -> 300 px frame)
    assert np.allclose(scene.field[0][:, 60:], 2.0, atol=1e-4) and np.allclose(scene.field[0][:, :45], 0.0)


def test_settings_fields_validate_and_round_trip():
    s = RenderSettings(aspect="Story", crop_x=0.25, gif_max_mb=3, format="gif")
    assert (s.aspect, s.crop, s.gif_max_mb) == ("9:16", (0.25, 0.5), 3.0)
    assert RenderSettings.from_dict(s.to_dict()) == s
    for bad in (dict(aspect="3:2"), dict(crop_x=1.5), dict(crop_y=-0.1), dict(gif_max_mb=0), dict(gif_max_mb="big")):
        with pytest.raises(CineGANError):
            RenderSettings(**bad)
    # what does not change the file does not split the cache
    assert "gif_max_mb" not in RenderSettings().key() and "crop_x" not in RenderSettings().key()
    assert RenderSettings(aspect="1:1", crop_x=0).key() != RenderSettings(aspect="1:1", crop_x=1).key()
    assert RenderSettings(format="gif", gif_max_mb=2).key() != RenderSettings(format="gif", gif_max_mb=3).key()


# --- MP4 that social platforms take ----------------------------------------------------------

def mp4_facts(path) -> dict:
    """Profile, pixel format, colour tags, size and H.264 level of an MP4, read with ffmpeg."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    stream = re.search(r"Video: (\w+) \((\w+)\).*?, (yuv\w+)\(([^)]*)\), (\d+)x(\d+)", probe)
    trace = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path), "-c", "copy", "-bsf:v", "trace_headers",
                            "-f", "null", "-"], capture_output=True, text=True).stderr
    level = re.search(r"level_idc\s+\S+\s+=\s+(\d+)", trace)
    data = open(path, "rb").read()
    return {"codec": stream[1], "profile": stream[2], "pix_fmt": stream[3], "colour": stream[4],
            "size": (int(stream[5]), int(stream[6])), "level": int(level[1]) / 10 if level else None,
            "faststart": 0 <= data.find(b"moov") < data.find(b"mdat")}


def test_story_mp4_is_what_platforms_accept(tmp_path):
    img = np.vstack([np.full((300, 1200, 3), (110, 160, 235), np.uint8), textured(500, 1200)])
    out = tmp_path / "story.mp4"
    info = render(img, out, RenderSettings(aspect="9:16", frames=6, fps=30, max_side=1920, engine="pixel"),
                  mask=np.vstack([np.ones((300, 1200), bool), np.zeros((500, 1200), bool)]), device="cpu")
    facts = mp4_facts(out)
    assert (info["width"], info["height"]) == (450, 800)          # the photo's own pixels: not enlarged
    assert any("not enlarged" in n for n in info["warnings"])
    assert facts == {"codec": "h264", "profile": "High", "pix_fmt": "yuv420p", "colour": "tv, bt709, progressive",
                     "size": (450, 800), "level": facts["level"], "faststart": True}
    assert facts["level"] is not None and facts["level"] <= 4.2


def test_odd_sized_original_is_padded_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    write_video([textured(51, 77)] * 3, out, fps=10)
    assert mp4_facts(out)["size"] == (78, 52)


def test_mp4_colours_come_back(tmp_path):
    """BT.709 in, tagged, and decoded back to the same colours (no BT.601 shift)."""
    out = tmp_path / "red.mp4"
    write_video([np.tile(np.array([200, 40, 30], np.uint8), (64, 64, 1))] * 3, out, fps=10)
    frames, _ = read_video(out)
    assert np.abs(frames[1].astype(int) - (200, 40, 30)).max() <= 3


# --- GIF under a size budget -----------------------------------------------------------

@pytest.fixture(scope="module")
def busy_clip():
    """A loop where everything moves: the hardest case for a GIF budget."""
    return busy_frames(300, 450)


def test_gif_fits_its_budget_and_reports_its_real_size(tmp_path, busy_clip):
    free = write_video(busy_clip, tmp_path / "free.gif", fps=20)
    budget = int(free["bytes"] * 0.4)
    info = write_video(busy_clip, tmp_path / "fit.gif", fps=20, max_bytes=budget)
    size = os.path.getsize(tmp_path / "fit.gif")
    assert size == info["bytes"] <= budget and size > 0.5 * budget      # fits, and not needlessly small
    with Image.open(tmp_path / "fit.gif") as g:
        assert g.size == (info["width"], info["height"]) and g.n_frames == info["frames"] and g.info["loop"] == 0
        assert g.size[0] < free["width"]
    again = write_video(busy_clip, tmp_path / "again.gif", fps=20, max_bytes=budget)
    assert again == info and (tmp_path / "again.gif").read_bytes() == (tmp_path / "fit.gif").read_bytes()
    assert info["attempts"] <= 8
    assert not [n for n in os.listdir(tmp_path) if n not in ("free.gif", "fit.gif", "again.gif")]  # no leftovers


def test_gif_that_cannot_fit_is_a_plain_error(tmp_path, busy_clip):
    with pytest.raises(CineGANError, match="does not fit in a 0.001 MB GIF.*choose MP4"):
        write_video(busy_clip, tmp_path / "tiny.gif", fps=20, max_bytes=1000)
    assert os.listdir(tmp_path) == []


def test_cli_aspect_crop_and_gif_budget(tmp_path):
    photo = tmp_path / "wide.png"
    Image.fromarray(np.vstack([np.full((120, 400, 3), (110, 160, 235), np.uint8), textured(80, 400)])).save(photo)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.vstack([np.full((120, 400), 255, np.uint8), np.zeros((80, 400), np.uint8)])).save(mask)
    out = tmp_path / "story.mp4"
    done = run_cli("render", photo, "-o", out, "--mask", mask, "--aspect", "9:16", "--crop", "0,0.5",
                   "--frames", "4", "--quiet", "--engine", "pixel")
    assert done.returncode == 0, done.stderr
    frames, _ = read_video(out)
    assert frames.shape[1:3] == (192, 108)                         # 9:16 from a 400x200 photo: 112x200 -> 108x192
    gif = tmp_path / "loop.gif"
    done = run_cli("render", photo, "-o", gif, "--mask", mask, "--frames", "6", "--quiet", "--gif-max-mb", "0.2",
                   "--engine", "pixel")
    assert done.returncode == 0, done.stderr
    assert os.path.getsize(gif) <= 200_000 and f"{os.path.getsize(gif) / 1e6:.2f} MB" in done.stderr
    bad = run_cli("render", photo, "-o", out, "--aspect", "3:2")
    assert bad.returncode == 2 and "unknown aspect" in bad.stderr and "Traceback" not in bad.stderr
