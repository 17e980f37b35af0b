import io

import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, load_photo


def _save(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    img.paste((10, 10, 200), (0, 0, 10, 20))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    photo = load_photo(_save(img, "JPEG", exif=exif, quality=95))
    assert photo.size == (20, 40)
    assert photo.original_size == (20, 40)
    top = photo.rgb[:8].reshape(-1, 3).mean(0)
    assert top[2] > 150 and top[0] < 80  # the blue side is now on top


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "LA", "RGBA", "I;16", "1"])
def test_modes_become_rgb(mode):
    base = Image.new("RGB", (32, 24), (120, 60, 30))
    img = base.convert(mode) if mode not in ("I;16",) else Image.new("I;16", (32, 24), 32768)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    photo = load_photo(_save(img, fmt))
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (24, 32, 3)
    if mode == "I;16":
        assert abs(int(photo.rgb[0, 0, 0]) - 128) <= 1  # scaled from 16 bits, not clipped to 255


def test_transparency_is_composited_over_white():
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    photo = load_photo(_save(img))
    assert (photo.rgb == 255).all()


def test_large_photos_are_scaled_down_keeping_aspect():
    photo = load_photo(Image.new("RGB", (300, 100)), max_side=150)
    assert photo.size == (150, 50)
    assert photo.original_size == (300, 100)
    assert load_photo(Image.new("RGB", (300, 100)), max_side=None).size == (300, 100)


def test_pixel_limit_refuses_before_decoding():
    bomb = _save(Image.new("1", (12000, 9000)))  # 108 megapixels, a few kB of PNG
    with pytest.raises(CineGANError, match="megapixels"):
        load_photo(bomb)
    with pytest.raises(CineGANError, match="megapixels"):
        load_photo(Image.new("RGB", (400, 300)), max_pixels=100_000)


def test_hash_depends_on_pixels():
    a = load_photo(Image.new("RGB", (20, 20), (1, 2, 3)))
    b = load_photo(Image.new("RGB", (20, 20), (1, 2, 3)))
    c = load_photo(Image.new("RGB", (20, 20), (1, 2, 4)))
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"this is not an image", "not an image"),
    (_save(Image.new("RGB", (64, 64)), "JPEG")[:200], "truncated|damaged|not an image"),
    (_save(Image.new("RGB", (1, 1))), "at least"),
])
def test_bad_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(CineGANError, match=match):
        load_photo(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CineGANError, match="does not exist"):
        load_photo(tmp_path / "nope.png")
    with pytest.raises(CineGANError, match="folder"):
        load_photo(tmp_path)


@pytest.mark.parametrize("bad", [-5, 0, 8, 63, 8193, 10 ** 9, 1.5, float("nan"), float("inf"), "512", True])
def test_max_side_out_of_range_is_refused(bad):
    with pytest.raises(CineGANError, match=r"max side .* 64 to 8192"):
        load_photo(Image.new("RGB", (300, 100)), max_side=bad)


@pytest.mark.parametrize("ok,size", [(64, (64, 21)), (8192, (300, 100)), (np.int64(150), (150, 50)),
                                     (150.0, (150, 50)), (None, (300, 100))])
def test_max_side_in_range(ok, size):
    assert load_photo(Image.new("RGB", (300, 100)), max_side=ok).size == size


def test_a_render_too_thin_at_max_side_is_refused():
    with pytest.raises(CineGANError, match="only 64x6 px"):
        load_photo(Image.new("RGB", (2000, 200)), max_side=64)


def test_a_pillow_image_of_an_unconvertible_mode_is_a_clean_error():
    with pytest.raises(CineGANError, match="'La'"):
        load_photo(Image.new("La", (32, 24)))
