"""The automatic sky / water mask: one test per failure class of the classical cues
(synthetic scenes built to show it; ``classical_mask``, the mask used without the scene
parser), the example photos, the AutoMask interface, determinism and thread safety.
The fusion with the scene parser is tested in test_fusion.py (synthetic probabilities)."""
import os
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from cinegan_core import CineGANError, auto_labels, load_photo, prepare
from cinegan_core.automask import AutoMask, auto_mask, classical_mask, skyline
from cinegan_core.regions import WATERS, is_water
from conftest import EXAMPLES, run_cli, textured

H, W = 320, 480


# ------------------------------------------------------------------------------------------
# synthetic scenes (float32 RGB until u8)


def sky(h=H, w=W, seed=0, top=(60, 110, 200), bottom=(175, 200, 235)):
    """A blue sky, darker at the top, with a few soft clouds."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    clouds = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 14)
    clouds = np.clip((clouds - clouds.mean()) / (clouds.std() + 1e-6), 0, None)[..., None]
    return np.repeat(img, w, 1) + 18 * clouds


def land(h=H, w=W, seed=1, colour=(70, 100, 45), amount=70):
    """Grass, foliage or rock: a colour with strong fine texture."""
    rng = np.random.default_rng(seed)
    fine = rng.random((h, w, 1)).astype(np.float32) - 0.5
    mid = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2)[..., None] - 0.5
    return np.array(colour, np.float32) + amount * fine + 3 * amount * mid


def ridge_line(w, base, amp, seed, rough=0.01):
    """Row (fraction of the height) of a jagged ridge, per column."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, w)
    smooth = sum(rng.uniform(-1, 1) * np.sin(2 * np.pi * (k + 1) * x + rng.uniform(0, 6)) / (k + 1) for k in range(4))
    jag = np.cumsum(rng.normal(0, rough, w))
    jag -= np.linspace(jag[0], jag[-1], w)
    return base + amp * smooth / 2 + jag


def u8(img):
    return np.clip(img, 0, 255).astype(np.uint8)


def rows():
    return np.arange(H)[:, None]


def moving(mask: AutoMask, where: np.ndarray) -> float:
    """Share of the pixels of `where` that the mask moves."""
    return float((mask.labels[where] > 0).mean())


# ------------------------------------------------------------------------------------------
# failure classes


def test_a_cable_and_a_tube_across_the_sky_stay_still():
    img = sky()
    img[int(0.62 * H):] = land()[int(0.62 * H):]
    out = u8(img)
    cable = np.zeros((H, W), np.uint8)
    tube = np.zeros((H, W), np.uint8)
    cv2.line(cable, (0, int(0.12 * H)), (W - 1, int(0.35 * H)), 1, 2)
    cv2.line(tube, (int(0.1 * W), int(0.6 * H)), (int(0.75 * W), 0), 1, 4)
    out[cable > 0] = (35, 35, 45)
    out[tube > 0] = (235, 235, 230)
    m = classical_mask(out)
    assert moving(m, cable > 0) == 0 and moving(m, tube > 0) == 0
    # the sky on both sides of the cable is still found (it is one sky, cut by nothing solid)
    assert (m.labels[int(0.05 * H):int(0.1 * H), : W // 2] == 1).mean() > 0.8
    assert (m.labels[int(0.45 * H):int(0.55 * H), int(0.6 * W):] == 1).mean() > 0.8
    assert any("kept things in the sky still" in n for n in m.notes)


def test_a_kite_and_a_bird_in_the_sky_stay_still():
    img = sky(seed=3)
    img[int(0.7 * H):] = land(seed=4)[int(0.7 * H):]
    out = u8(img)
    kite = np.zeros((H, W), np.uint8)
    cv2.fillPoly(kite, [np.array([[300, 80], [330, 92], [304, 118]], np.int32)], 1)
    out[kite > 0] = (220, 40, 40)
    cv2.fillPoly(out, [np.array([[304, 95], [330, 92], [304, 118]], np.int32)], (250, 210, 30))
    bird = np.zeros((H, W), np.uint8)
    cv2.ellipse(bird, (140, 60), (7, 3), 0, 0, 360, 1, -1)
    out[bird > 0] = (25, 25, 25)
    m = classical_mask(out)
    assert moving(m, kite > 0) == 0
    assert moving(m, bird > 0) == 0
    assert (m.labels[: int(0.6 * H)] == 1).mean() > 0.8


def lake_scene():
    """Mountains over a calm lake that mirrors them (a darker, slightly blurred, greener copy)."""
    y0 = int(0.55 * H)
    img = sky(seed=5)
    rock = land(seed=6, colour=(95, 95, 90), amount=60)
    forest = land(seed=7, colour=(40, 70, 40), amount=50)
    r = (ridge_line(W, 0.2, 0.25, seed=8, rough=0.006) * H).astype(int)
    mountain = (rows() >= r[None, :]) & (rows() < y0)
    img = np.where(mountain[..., None], np.where((rows() > y0 - 0.12 * H)[..., None], forest, rock), img)
    n = H - y0
    mirror = img[:y0][::-1][:n]
    ripples = np.sin(np.arange(n)[:, None] * 1.7 + np.arange(W)[None, :] * 0.05)[..., None] * 4
    img[y0:] = cv2.GaussianBlur(mirror, (0, 0), 0.8) * 0.8 + np.array([5, 20, 25], np.float32) + ripples
    return u8(img), y0, mountain


def test_a_reflective_lake_under_mountains_is_water_and_the_mountains_stay_still():
    img, y0, mountain = lake_scene()
    m = classical_mask(img)
    assert moving(m, mountain) == 0
    assert (m.labels[y0 + 5:] == 2).mean() > 0.6          # found from the mirror image, not its colour
    assert not (m.labels[y0 + 5:] == 1).any()               # no sky below the waterline
    assert m.confidence["water"] > 0.6


def test_without_its_mirror_image_the_same_lake_is_not_taken_for_water():
    """The lake is found because it mirrors the mountains: break the mirror and it is not."""
    img, y0, _ = lake_scene()
    img[y0:] = img[y0:][:, ::-1][::-1]                      # still lake-coloured, no longer a reflection
    m = classical_mask(img)
    assert (m.labels[y0 + 5:] == 2).mean() < 0.3


def test_a_wet_road_converging_to_the_horizon_is_not_water_or_sky():
    hz = int(0.45 * H)
    img = sky(seed=9, top=(150, 155, 165), bottom=(185, 188, 192))      # overcast: the road has its colour
    img[hz:] = land(seed=10, colour=(80, 105, 50), amount=60)[hz:]
    road = np.zeros((H, W), np.uint8)
    poly = np.array([[int(0.47 * W), hz], [int(0.53 * W), hz], [int(0.85 * W), H - 1], [int(0.15 * W), H - 1]])
    cv2.fillPoly(road, [poly.astype(np.int32)], 1)
    noise = (np.random.default_rng(11).random((H, W, 1)) - 0.5) * 30
    out = u8(np.where(road[..., None] > 0, np.array([150, 155, 162], np.float32) + noise, img))
    cv2.line(out, tuple(poly[0]), tuple(poly[3]), (235, 235, 235), 2)
    cv2.line(out, tuple(poly[1]), tuple(poly[2]), (235, 235, 235), 2)
    for k in range(8):
        y_a, y_b = hz + (H - hz) * (k / 8) ** 1.5, hz + (H - hz) * (k / 8 + 0.05) ** 1.5
        cv2.line(out, (W // 2, int(y_a)), (W // 2, int(y_b)), (240, 240, 240), 1 + k // 3)
    m = classical_mask(out)
    assert moving(m, road > 0) == 0
    assert (m.labels[: int(0.35 * H)] == 1).mean() > 0.8


def test_a_town_under_the_skyline_stays_still():
    base = int(0.75 * H)
    img = sky(seed=12)
    img[base:] = land(seed=13)[base:]
    out = u8(img)
    rng = np.random.default_rng(14)
    town = np.zeros((H, W), bool)
    x = 0
    while x < W:
        bw, top = int(rng.integers(25, 60)), int(base - rng.uniform(0.12, 0.4) * H)
        colour = [int(c) for c in rng.choice([(150, 80, 60), (200, 180, 140), (120, 120, 125), (90, 60, 50)])]
        cv2.rectangle(out, (x, top), (min(W - 1, x + bw - 2), base), colour, -1)
        for wy in range(top + 6, base - 6, 12):                          # rows of windows repeat: not a mirror
            for wx in range(x + 5, x + bw - 8, 10):
                cv2.rectangle(out, (wx, wy), (wx + 4, wy + 6), (40, 40, 50), -1)
        town[top:base, x:min(W, x + bw - 1)] = True
        x += bw
    m = classical_mask(out)
    assert moving(m, town) < 0.01
    assert not (m.labels == 2).any()
    assert (m.labels[: int(0.3 * H)] == 1).mean() > 0.8


def test_a_hazy_ridge_stays_still():
    """A far ridge almost the colour of the sky (aerial perspective), over a dark near one."""
    img = sky(seed=15, top=(120, 150, 200), bottom=(200, 210, 225))
    horizon = np.array([200, 210, 225], np.float32)
    far_line = (ridge_line(W, 0.4, 0.1, seed=20, rough=0.004) * H).astype(int)
    far = rows() >= far_line[None, :]
    img = np.where(far[..., None], 0.6 * horizon + 0.4 * land(seed=30, colour=(60, 75, 70), amount=25), img)
    near = rows() >= (ridge_line(W, 0.72, 0.08, seed=21, rough=0.004) * H).astype(int)[None, :]
    img = np.where(near[..., None], land(seed=31, colour=(40, 55, 45), amount=40), img)
    m = classical_mask(u8(img))
    assert moving(m, far) < 0.005
    assert (m.labels[: int(0.2 * H)] == 1).mean() > 0.8


def bw_tree():
    g = sky(seed=16).mean(-1)
    g[int(0.8 * H):] = land(seed=17).mean(-1)[int(0.8 * H):] * 0.6
    out = np.clip(g, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(18)

    def branch(x, y, angle, length, width, depth):
        if depth == 0 or length < 4:
            return
        x1, y1 = x + length * np.cos(angle), y - length * np.sin(angle)
        cv2.line(out, (int(x), int(y)), (int(x1), int(y1)), 35, max(1, int(width)))
        for da in (-0.5, 0.45):
            branch(x1, y1, angle + da + rng.uniform(-0.15, 0.15), length * 0.72, width * 0.7, depth - 1)

    branch(150, int(0.8 * H), np.pi / 2, 70, 7, 7)
    tree = (out < 60) & (rows() < int(0.8 * H))
    return np.repeat(out[..., None], 3, 2), tree


def test_a_bare_tree_in_a_black_and_white_photo_stays_still():
    img, tree = bw_tree()
    m = classical_mask(img)
    branches = cv2.erode(tree.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0    # all but 1-px twig tips
    assert moving(m, branches) == 0
    assert moving(m, tree) < 0.03
    assert (m.labels[: int(0.15 * H), int(0.6 * W):] == 1).mean() > 0.8           # the sky away from the tree


def test_a_black_and_white_landscape_photo():
    """mountain-clouds in black and white: the rock massif and the meadow stay still."""
    photo = load_photo(os.path.join(EXAMPLES, "mountain-clouds.jpg"), max_side=800)
    grey = np.repeat(np.asarray(Image.fromarray(photo.rgb).convert("L"))[..., None], 3, 2)
    m = classical_mask(grey)
    h, w = m.labels.shape
    massif = np.zeros((h, w), np.uint8)
    poly = [(45.5, 38), (45.5, 30), (48, 26), (57, 23), (65, 25), (75, 26), (85, 24), (95, 19), (100, 17),
            (100, 65), (45.5, 65)]
    cv2.fillPoly(massif, [np.array([(x * w / 100, y * h / 100) for x, y in poly], np.int32)], 1)
    assert moving(m, massif > 0) < 0.001                                         # at most a few edge pixels
    assert (m.labels[int(0.5 * h):] == 0).all()                                   # the meadow and the path
    assert (m.labels[: int(0.1 * h)] == 1).mean() > 0.8


def test_a_stream_under_trees_with_no_sky_is_found_or_reported():
    rng = np.random.default_rng(21)
    img = land(seed=19, colour=(90, 95, 80), amount=90)
    x0 = (0.45 + 0.05 * np.sin(np.linspace(0, 3, H))) * W
    stream = np.abs(np.arange(W)[None, :] - x0[:, None]) < 0.08 * W
    streaks = cv2.GaussianBlur(rng.random((H, W)).astype(np.float32), (0, 0), sigmaX=6, sigmaY=0.8)
    img = np.where(stream[..., None], np.array([150, 165, 170], np.float32) + 300 * (streaks[..., None] - 0.5), img)
    m = classical_mask(u8(img))
    assert not (m.labels == 1).any()                            # a bright strip at the top is not a sky
    assert not (m.labels[~stream] > 0).any()                    # the rocks and the forest stay still
    found = (m.labels[stream] == 2).mean() > 0.3
    assert found or "found no sky or water: paint what should move" in m.notes


def test_a_photo_of_only_sky_has_no_water():
    img = u8(sky(seed=22, top=(30, 70, 160), bottom=(20, 50, 130)))    # darker towards the bottom, like a lake
    m = classical_mask(img)
    assert not (m.labels == 2).any()
    assert (m.labels[: H // 2] == 1).mean() > 0.8


# ------------------------------------------------------------------------------------------
# interface, determinism, threads


def synthetic_landscape(h=240, w=320, seed=0):
    """Blue sky with soft clouds / textured green hills / streaked teal water."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    s = np.array([90, 150, 235]) * (1 - 0.3 * y) + 40 * cv2.GaussianBlur(rng.random((h, w)), (0, 0), 12)[..., None]
    hills = np.array([60, 110, 40]) + 60 * (rng.random((h, w, 1)) - 0.5)
    streaks = cv2.GaussianBlur(rng.random((h, w)), (0, 0), sigmaX=9, sigmaY=1)[..., None]
    water = np.array([40, 120, 130]) + 80 * (streaks - 0.5)
    img = np.where(y < 0.4, s, np.where(y < 0.6, hills, water))
    ridge = (0.4 + 0.05 * np.sin(np.linspace(0, 6, w)))[None, :]
    img = np.where((y[..., 0] >= ridge)[..., None] & (y < 0.6), hills, img)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_auto_mask_reports_labels_confidence_share_and_notes():
    img = synthetic_landscape()
    m = classical_mask(img)
    assert isinstance(m, AutoMask)
    assert m.labels.shape == img.shape[:2] and m.labels.dtype == np.uint8
    assert set(np.unique(m.labels)) <= {0, 1, 2}
    assert np.array_equal(classical_mask(img).labels, m.labels)
    assert np.array_equal(auto_labels(img), auto_mask(img).labels)
    for region, k in (("sky", 1), ("water", 2)):
        assert m.share[region] == pytest.approx((m.labels == k).mean())
        assert 0.0 <= m.confidence[region] <= 1.0
    assert m.confidence["sky"] > 0.6 and m.confidence["water"] > 0.6
    assert all(isinstance(n, str) and n for n in m.notes)
    h = img.shape[0]
    assert (m.labels[: int(0.3 * h)] == 1).mean() > 0.9
    assert (m.labels[int(0.47 * h): int(0.58 * h)] == 0).mean() > 0.8
    assert (m.labels[int(0.7 * h):] == 2).mean() > 0.8


def test_no_sky_or_water_is_reported(monkeypatch):
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")     # the classical mask (noise is no photo for the parser)
    rng = np.random.default_rng(1)
    foliage = np.clip(np.array([50, 100, 30]) + 90 * (rng.random((120, 160, 3)) - 0.5), 0, 255).astype(np.uint8)
    m = classical_mask(foliage)
    assert not m.labels.any()
    assert m.notes[0] == "found no sky or water: paint what should move"   # (then why, if the parser is missing)
    assert m.confidence == {"sky": 0.0, "water": 0.0}
    with pytest.raises(CineGANError, match="no sky or water"):
        prepare(foliage)


def test_the_same_photo_gives_the_same_mask_whatever_the_global_random_state():
    img = lake_scene()[0]
    first = auto_mask(img)
    np.random.seed(1)
    cv2.setRNGSeed(987654)
    cv2.randu(np.zeros((4, 4), np.float32), 0, 1)
    again = auto_mask(img)
    assert np.array_equal(first.labels, again.labels)
    assert first.notes == again.notes and first.confidence == again.confidence


def test_concurrent_calls_from_threads_do_not_disturb_each_other():
    photos = [lake_scene()[0], synthetic_landscape(), bw_tree()[0], u8(sky(seed=2))]
    expected = [auto_mask(p).labels for p in photos]
    results = [[None] * len(photos) for _ in range(3)]

    def work(t):
        for i in ([0, 1, 2, 3] if t % 2 == 0 else [3, 2, 1, 0]):
            results[t][i] = auto_mask(photos[i]).labels

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(3):
        for i in range(len(photos)):
            assert np.array_equal(results[t][i], expected[i])


# ------------------------------------------------------------------------------------------
# example photos, the skyline DP, the command line


@pytest.mark.parametrize("name,sky_top,water_bottom", [
    ("sea-overcast.jpg", True, True),
    ("sunset-skyline.jpg", True, True),
    ("mountain-clouds.jpg", True, False),
    ("storm-clouds.jpg", True, False),
])
def test_example_photos_get_sensible_masks(name, sky_top, water_bottom):
    photo = load_photo(os.path.join(EXAMPLES, name), max_side=640)
    labels = auto_labels(photo.rgb)
    h = labels.shape[0]
    top, bottom = labels[: h // 8], labels[-h // 10:]
    assert ((top == 1).mean() > 0.8) == sky_top
    assert (is_water(bottom).mean() > 0.6) == water_bottom
    if not water_bottom:
        assert (bottom == 0).mean() > 0.9  # meadows and hills stay still


def test_skyline_follows_the_boundary():
    score = np.zeros((50, 40))
    line = (20 + 8 * np.sin(np.linspace(0, 3, 40))).astype(int)
    for x, b in enumerate(line):
        score[:b, x] = 0.9
        score[b:, x] = 0.1
    assert np.abs(skyline(score, 0.2) - line).max() <= 1


def test_mask_command_writes_full_size_png(tmp_path):
    src = os.path.join(EXAMPLES, "sea-overcast.jpg")
    out, regions = tmp_path / "mask.png", tmp_path / "regions.png"
    res = run_cli("mask", src, "-o", out, "--regions", regions)
    assert res.returncode == 0, res.stderr
    m = Image.open(out)
    assert m.size == Image.open(src).size
    values = set(np.unique(np.asarray(m)))
    assert values == {0, 255}
    codes = set(np.unique(np.asarray(Image.open(regions))).tolist())
    assert {0, 1} <= codes <= {0, 1, *WATERS} and codes & set(WATERS)      # the sea's kind is the parser's
    assert "sky" in res.stderr and "water" in res.stderr


def test_the_mask_command_takes_the_bold_reach_and_refuses_an_unknown_one(tmp_path):
    """--mask-reach bold moves more of the overcast sea than the careful default; an unknown reach is one
    line, exit 2, and nothing written."""
    src = os.path.join(EXAMPLES, "sea-overcast.jpg")
    shares = {}
    for reach in ("careful", "bold"):
        res = run_cli("mask", src, "-o", tmp_path / f"{reach}.png", "--mask-reach", reach)
        assert res.returncode == 0, res.stderr
        shares[reach] = (np.asarray(Image.open(tmp_path / f"{reach}.png")) > 0).mean()
    assert shares["bold"] > shares["careful"] + 0.01
    res = run_cli("mask", src, "-o", tmp_path / "daring.png", "--mask-reach", "daring")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "careful" in res.stderr
    assert not (tmp_path / "daring.png").exists()


def test_the_cached_mask_is_kept_per_reach(tmp_path):
    """``pipeline.auto_mask_cached``: the careful and the bold mask of a photo are cached apart, and
    each is read back as it was made."""
    from cinegan_core.cache import Cache
    from cinegan_core.pipeline import auto_mask_cached
    photo = load_photo(os.path.join(EXAMPLES, "sea-overcast.jpg"))
    cache = Cache(str(tmp_path))
    careful, bold = auto_mask_cached(photo, cache), auto_mask_cached(photo, cache, "bold")
    assert (bold.labels > 0).mean() > (careful.labels > 0).mean() + 0.01
    assert not ((careful.labels > 0) & (bold.labels == 0)).any()      # bold moves all that careful moves
    again = auto_mask_cached(photo, cache)
    assert again.scene is None                    # read back from the cache, not made again
    assert np.array_equal(again.labels, careful.labels) and again.notes == careful.notes
    assert np.array_equal(auto_mask_cached(photo, cache, "bold").labels, bold.labels)


def test_the_bold_mask_moves_all_the_careful_one_moves():
    """At the bold thresholds alone the fusion leaves still some of what the careful one moves (here
    ~3500 px of a sunset skyline at 640 px); the bold mask is the union, so nothing careful moves is lost."""
    from cinegan_core.automask import fusion
    from cinegan_core.automask.cues import PhotoViews
    rgb = load_photo(os.path.join(EXAMPLES, "sunset-skyline.jpg"), max_side=640).rgb
    careful = auto_mask(rgb)
    bold = auto_mask(rgb, scene=careful.scene, reach="bold")
    p = PhotoViews(rgb)
    alone, sure = fusion.fuse(p, careful.scene, reach="bold").labels_f, fusion.fuse(p, careful.scene).labels_f
    assert ((sure > 0) & (alone == 0)).sum() > 1000                      # what the union mends
    assert not ((careful.labels > 0) & (bold.labels == 0)).any()
    assert (bold.labels > 0).sum() > (careful.labels > 0).sum()


def test_render_without_mask_uses_the_automatic_one(tmp_path):
    res = run_cli("render", os.path.join(EXAMPLES, "sea-overcast.jpg"), "-o", tmp_path / "x.gif", "--frames", 6,
                  "--max-side", 320, "--quiet")
    assert res.returncode == 0, res.stderr
    assert "mask: automatic" in res.stderr


def test_the_mask_command_says_when_nothing_was_found(tmp_path, monkeypatch):
    monkeypatch.setenv("CINEGAN_SCENE_PARSER", "off")     # the classical mask (noise is no photo for the parser)
    rng = np.random.default_rng(1)
    foliage = np.clip(np.array([50, 100, 30]) + 90 * (rng.random((120, 160, 3)) - 0.5), 0, 255).astype(np.uint8)
    Image.fromarray(foliage).save(tmp_path / "leaves.png")
    res = run_cli("mask", tmp_path / "leaves.png", "-o", tmp_path / "m.png")
    assert res.returncode == 0, res.stderr
    assert "cinegan: warning: found no sky or water: paint what should move" in res.stderr.splitlines()


def test_unsure_parts_reach_the_render_as_warnings(monkeypatch):
    """The automatic mask's notes (what it left frozen) travel to render()'s info as warnings."""
    from cinegan_core import pipeline
    img = textured(64, 96)
    labels = np.zeros((64, 96), np.uint8)
    labels[:20] = 1
    unsure = "left the lower part of the sky frozen: not sure it is sky"
    monkeypatch.setattr(pipeline, "auto_mask", lambda rgb, **_: AutoMask(labels, {"sky": 0.4, "water": 0.0},
                                                                    {"sky": 0.3, "water": 0.0}, [unsure]))
    scene = prepare(img, max_side=None)
    assert scene.warnings == [unsure] and np.array_equal(scene.labels, labels)


def test_label_upsampling_is_the_first_maximum_of_the_resized_class_indicators():
    """_upsample_labels: each class's indicator resized bilinearly, the largest wins and ties go to
    the lower code (SOLID first), as an argmax over their stack; checkerboards make exact ties."""
    from cinegan_core.automask import SOLID, _upsample_labels
    rng = np.random.default_rng(5)
    cases = [rng.integers(0, 5, (h, w)).astype(np.uint8) for h, w in ((7, 9), (40, 23), (64, 64))]
    cases.append(((np.indices((16, 16)).sum(0) % 2) * 3).astype(np.uint8))      # 0/3 checkerboard
    cases.append(np.full((10, 12), 2, np.uint8))                                # one class, SOLID absent
    for labels in cases:
        for size in ((labels.shape[1] * 2, labels.shape[0] * 2), (301, 157), (5, 4)):
            codes = np.array(sorted(set(np.unique(labels).tolist()) | {SOLID}), np.uint8)
            stack = np.stack([cv2.resize((labels == k).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
                              for k in codes])
            assert np.array_equal(_upsample_labels(labels, size), codes[np.argmax(stack, 0)])
