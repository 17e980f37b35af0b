"""The stylegan engine: networks vs the authors' checkpoint layouts, loading,
and MSDFW end to end on tiny models (no real weights exist here)."""
import argparse
import itertools
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import standins
from cinegan_core import CineGANError, prepare
from cinegan_core.engines.stylegan import StyleGANEngine, identity_warp, place
from cinegan_core.loop import StepCounter
from cinegan_core.models.classifier import PixelClassifier
from cinegan_core.models.encoder import FeatureStyleEncoder
from cinegan_core.models.pix2pixhd import GlobalGenerator
from cinegan_core.models.stylegan2 import Generator
from cinegan_core.predictors import Predictors
from cinegan_core.weights import load_networks
from conftest import EXAMPLES, SHARED, measure_shift, run_cli, textured


@pytest.mark.parametrize("make,name", [
    (lambda: Generator(1024), "sg2-lhq-1024.g_ema.json"),
    (lambda: FeatureStyleEncoder(), "fs-encoder-lhq-k9.enc.json"),
    (lambda: PixelClassifier(), "datasetgan-pixel-classifier.json"),
    (lambda: GlobalGenerator(), "img2flow-pix2pixhd-G.json"),
])
def test_networks_have_exactly_the_manifest_tensors(make, name):
    with torch.device("meta"):
        net = make()
    own = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert own == standins.manifest(name)


# -- full-size stand-ins in the authors' layout ------------------------------------------

@pytest.fixture(scope="module")
def real_layout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained_models")
    standins.write_real_layout(str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)  # 2 GB of random tensors: do not keep them between runs


def test_full_size_standins_load_through_the_real_loader(real_layout):
    nets = load_networks(str(real_layout))
    assert nets.generator.size == 1024 and nets.mean_latent.shape == (1, 512)
    assert len(nets.classifiers) == 10 and nets.flow_sky is not None and nets.flow_fluid is not None
    assert set(nets.sources) >= {"generator", "encoder", "flow_sky", "flow_fluid", "classifier_9"}


def test_full_size_render_from_standins(real_layout, tmp_path):
    """The command line at full size (1024 canvas) on CPU: frame count, aspect ratio, frozen pixels."""
    src = Image.open(os.path.join(EXAMPLES, "sea-overcast.jpg"))
    src.save(tmp_path / "photo.png")
    w, h = src.size
    mask = np.zeros((h, w), np.uint8)
    mask[: h // 3] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    res = run_cli("render", tmp_path / "photo.png", "--engine", "stylegan", "--weights", real_layout,
                  "--mask", tmp_path / "mask.png", "--frames", 4, "--frames-dir", tmp_path / "frames", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "stylegan engine" in res.stderr and "motion: learned" in res.stderr
    frames = [np.asarray(Image.open(tmp_path / "frames" / f"{i:04d}.png")) for i in range(4)]
    photo = np.asarray(Image.open(tmp_path / "photo.png").convert("RGB"))
    assert sorted(os.listdir(tmp_path / "frames")) == [".cinegan-frames.json"] + [f"{i:04d}.png" for i in range(4)]
    assert frames[0].shape == photo.shape
    frozen = mask == 0
    assert all(np.array_equal(f[frozen], photo[frozen]) for f in frames)


def _save(obj, path):
    torch.save(obj, path)
    return path


def test_checkpoint_problems_are_named(tmp_path):
    standins.write_tiny(str(tmp_path), flows=False, classifiers=0)
    kw = dict(generator_kwargs=standins.TINY_GENERATOR, encoder_kwargs=standins.TINY_ENCODER)
    enc = tmp_path / "logs/lhq_k9/enc.pth.tar"
    good = torch.load(enc)
    bad = dict(good)
    bad.pop("styles.3.weight")
    _save(bad, enc)
    with pytest.raises(CineGANError, match=r"missing 1 tensor.*styles\.3\.weight"):
        load_networks(str(tmp_path), **kw)
    bad = dict(good)
    bad["conv.0.weight"] = torch.zeros(8, 3, 5, 5)
    _save(bad, enc)
    with pytest.raises(CineGANError, match=r"wrong shape: conv\.0\.weight"):
        load_networks(str(tmp_path), **kw)
    bad = dict(good)
    bad["extra.weight"] = torch.zeros(1)
    _save(bad, enc)
    with pytest.raises(CineGANError, match="unexpected"):
        load_networks(str(tmp_path), **kw)
    os.remove(enc)
    with pytest.raises(CineGANError, match=r"logs/lhq_k9/enc\.pth\.tar.*weights/README\.md"):
        load_networks(str(tmp_path), **kw)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/cinegan-pwned",))


def test_pickles_with_code_are_refused(tmp_path):
    standins.write_tiny(str(tmp_path), flows=False, classifiers=0)
    gpath = tmp_path / "stylegan2-pytorch/sg2-lhq-1024.pt"
    with open(gpath, "rb") as fh:
        ckpt = torch.load(fh, weights_only=False)
    ckpt["evil"] = Evil()
    with open(gpath, "wb") as fh:
        pickle.dump(ckpt, fh)  # a plain pickle with a callable inside
    with pytest.raises(CineGANError, match="cannot load checkpoint"):
        standins.tiny_networks(str(tmp_path))
    assert not os.path.exists("/tmp/cinegan-pwned")


def test_generator_checkpoint_with_namespace_is_accepted(tmp_path):
    standins.write_tiny(str(tmp_path), flows=False, classifiers=0)
    ckpt = torch.load(tmp_path / "stylegan2-pytorch/sg2-lhq-1024.pt", weights_only=False)
    assert isinstance(ckpt["args"], argparse.Namespace)
    nets = standins.tiny_networks(str(tmp_path))
    assert torch.allclose(nets.mean_latent[0], ckpt["latent_avg"])


# -- the engine on tiny networks ---------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    standins.write_tiny(str(folder))
    nets = standins.tiny_networks(str(folder))
    return StyleGANEngine(nets, inject_resolution=standins.TINY_INJECT, grid=64)


@pytest.fixture(scope="module")
def scene():
    h, w = 48, 80
    photo = textured(h, w, seed=4)
    mask = np.zeros((h, w), bool)
    mask[:20] = True
    field = np.zeros((2, h, w), np.float32)
    field[0][mask], field[1][mask] = 0.9, 0.2
    return photo, mask, field


def test_cached_trunk_matches_per_frame_recomputation(tiny, scene):
    n = 10
    frames = list(tiny.canvas_frames(*scene, n))
    for t in (0, 3, 7, 9):
        assert (tiny.reference_canvas(*scene, n, t) - frames[t]).abs().max() < 1e-4


def test_cycles_of_a_plan_reach_the_stylegan_engine(tiny, scene):
    """A plan whose right half loops 3 times: the incremental loop matches the reference, every
    cycle of that half starts on the photo's canvas, and the cycles change the frames."""
    from cinegan_core.motion import MotionPlan
    photo, mask, field = scene
    n = 12
    cycles = np.ones(mask.shape, np.uint8)
    cycles[:, 40:] = 3
    plan = MotionPlan(field, cycles=cycles)
    frames = list(tiny.canvas_frames(photo, mask, plan, n))
    for t in (0, 2, 4, 5, 9):
        assert (tiny.reference_canvas(photo, mask, plan, n, t) - frames[t]).abs().max() < 1e-4
    once = list(tiny.canvas_frames(photo, mask, field, n))
    assert (frames[4] - frames[0]).abs().max() > 1e-3             # the rest keeps moving at a cycle start
    assert (frames[6] - once[6]).abs().max() > 1e-3


def _random_inversion(engine, seed=0):
    """A W+ latent and feature of the engine's shapes (not from a photo)."""
    g = torch.Generator().manual_seed(seed)
    gen = engine.g
    latent = engine.nets.mean_latent[:, None] + 0.7 * torch.randn(1, gen.n_latent, gen.style_dim, generator=g)
    feature = torch.randn(1, gen.channels[engine.inject // 2], engine.inject // 2, engine.inject // 2, generator=g)
    return latent, feature


def test_compose_without_motion_is_the_generator_run_normally(tiny):
    """The cached trunk, recombined with no warp, is the generator's own forward pass from
    the same latent and feature (Generator.synthesis, which shares no code with the trunk)."""
    latent, feature = _random_inversion(tiny)
    trunk = tiny.trunk(latent, feature)
    expected = tiny.g.synthesis(latent, feature, inject_resolution=tiny.inject)
    with torch.no_grad():
        assert (tiny.compose(trunk, identity_warp) - expected).abs().max() < 1e-5
        assert (tiny.backbone.reconstruction(trunk) - expected).abs().max() < 1e-5
        # and the low-resolution skip matters: without it the image is another one
        no_skip = tiny.compose(trunk, lambda x: torch.zeros_like(x) if x is trunk.skip_low else x)
    assert (no_skip - expected).abs().max() > 1e-2


# The tiny generator of bench/parity.py --golden, computed ONCE by the authors' own
# classes (StyleCineGAN models/stylegan2/model.py Generator.forward, and the encoder's
# pixel2style2pixel Generator with features_in at index 3) on CPU with the harness's
# shims: output[:, :, ::5, ::5] of a 16 px generator, 8 channels, style_dim 8.
GOLDEN_FROM_LATENT = [
    -0.082667, 0.057315, 0.005188, 0.005775, 0.04651, -0.187897, 0.072097, -0.044679, 0.104809, 0.041842,
    -0.05477, 0.019308, 0.084476, 0.174773, 0.053801, 0.000141, 0.012359, -0.021569, 0.044175, -0.005808,
    -0.105525, 0.11573, -0.058731, -0.016541, -0.078632, -0.076874, 0.077103, -0.026215, -0.115123, -0.179474,
    -0.137587, -0.054283, -0.031515, -0.040237, -0.111881, -0.087593, 0.122149, 0.041112, 0.133918, 0.069312,
    0.017581, 0.174167, -0.027637, 0.000343, 0.048954, 0.143872, 0.17334, 0.009169]
GOLDEN_FROM_FEATURE = [
    -0.08056, -0.118842, -0.003194, 0.009939, 0.045895, -0.24384, -0.164931, -0.063892, 0.099068, -0.02382,
    -0.303604, -0.001718, -0.040185, 0.210664, 0.047303, -0.072961, 0.034243, 0.086723, 0.009446, -0.019375,
    -0.112232, 0.178985, 0.094325, -0.019048, -0.100549, -0.01095, 0.254972, -0.039054, -0.033598, -0.203512,
    -0.122393, 0.018616, -0.061174, -0.000418, -0.059775, -0.074677, 0.131208, 0.017418, 0.17825, 0.091682,
    0.050916, 0.156831, -0.002739, 0.037532, 0.070976, 0.138245, 0.160709, -0.009509]


def test_generator_reproduces_the_authors_numbers():
    g = Generator(16, style_dim=8, n_mlp=2, narrow=1 / 64).eval()
    g.load_state_dict(standins.formula_state({k: list(v.shape) for k, v in g.state_dict().items()}))
    latent, feature = standins.formula_inputs(g.n_latent, 8, (1, 8, 8, 8))
    with torch.no_grad():
        from_latent = g.synthesis(latent)[:, :, ::5, ::5].flatten()
        from_feature = g.synthesis(latent, feature, inject_resolution=16)[:, :, ::5, ::5].flatten()
    assert torch.allclose(from_latent, torch.tensor(GOLDEN_FROM_LATENT), atol=1e-5, rtol=0)
    assert torch.allclose(from_feature, torch.tensor(GOLDEN_FROM_FEATURE), atol=1e-5, rtol=0)


def _sample_scene(name: str, size: int, speed: float, transpose: bool = False):
    """An official reference sample's mask and motion (.npy) at size x size, the motion
    times the mask scaled to a mean speed of `speed` px per frame, over a textured photo
    (detail to measure the drift on; the sample photos' skies are too smooth at the tiny
    model's 64 px). transpose swaps the axes (the motion then runs vertically). Also
    returns the measuring box: the band the mask covers entirely, less a margin."""
    from cinegan_core.motion import load_motion, resize_motion
    folder = os.path.join(SHARED, "data", "samples", name)
    assert os.path.isdir(folder), f"reference sample {folder} not found: put ../shared next to the repository " \
                                  "or set CINEGAN_SHARED"
    photo = textured(size, size, seed=11)
    mask = np.asarray(Image.open(os.path.join(folder, f"{name}_mask.png")).convert("L").resize((size, size))) > 127
    field = resize_motion(load_motion(os.path.join(folder, f"{name}_motion.npy")), (size, size)) * mask
    field *= speed / np.hypot(field[0], field[1])[mask].mean()
    if transpose:
        photo, mask = np.ascontiguousarray(photo.transpose(1, 0, 2)), np.ascontiguousarray(mask.T)
        field = np.ascontiguousarray(np.stack([field[1].T, field[0].T]))
    full = mask.all(0) if transpose else mask.all(1)
    runs = np.split(np.arange(size), np.flatnonzero(np.diff(full.astype(int))) + 1)
    run = max((r for r in runs if full[r[0]]), key=len)  # the longest band the mask covers entirely
    m = size // 16
    box = np.zeros_like(mask)
    if transpose:
        box[m:-m, run[0] + m:run[-1] + 1 - m] = True
    else:
        box[run[0] + m:run[-1] + 1 - m, m:-m] = True
    return photo, mask, field.astype(np.float32), box


@pytest.mark.parametrize("authors", [False, True], ids=["ours", "authors"])
@pytest.mark.parametrize("transpose", [False, True], ids=["horizontal", "vertical"])
def test_content_drifts_along_an_official_motion_sample(tiny, authors, transpose):
    """Early frames carry the content along the motion, at its speed: direction and speed
    measured on the frames (phase correlation), not read from the engine's code."""
    photo, mask, field, box = _sample_scene("0003835", 128, speed=1.5, transpose=transpose)
    engine = StyleGANEngine(tiny.backbone, grid=64, authors=authors)
    k, n = 4, 24
    frames = list(itertools.islice(engine.frames(photo, mask, field, n), k + 1))
    expected = np.array([field[0][box].mean(), field[1][box].mean()]) * k
    got = np.array(measure_shift(frames[0], frames[k], box))
    cos = float(expected @ got) / (np.hypot(*expected) * max(np.hypot(*got), 1e-9))
    assert cos > 0.95, (expected, got)
    assert 0.7 < np.hypot(*got) / np.hypot(*expected) < 1.3, (expected, got)


def test_authors_variant_frame_zero_is_their_generator_without_the_low_skip(tiny):
    """The authors' loop at t = 0 is an identity warp (splat, pad and crop included), and
    their injection block's RGB layer gets no skip from below; their frame N-1 repeats frame 0."""
    from cinegan_core.engines import stylegan_authors
    latent, feature = _random_inversion(tiny, seed=3)
    trunk = tiny.trunk(latent, feature)
    g, i = tiny.g, tiny.g.first_index(tiny.inject)
    with torch.no_grad():
        x = g.layer(i + 1)(g.layer(i)(feature, latent[:, i], g.noise(i)), latent[:, i + 1], g.noise(i + 1))
        skip = g.to_rgb(tiny.inject)(x, latent[:, i + 2])
        for r in tiny.scales[1:]:
            x, skip = g.block(x, latent, r, skip)
        s = tiny.size // 2
        flow = torch.zeros(1, 2, s, s)
        flow[0, 0, : s // 2], flow[0, 1, : s // 2] = 1.3, -0.4
        frames = list(stylegan_authors.canvas_frames(tiny.backbone, trunk, flow, 5))
    assert (frames[0] - skip).abs().max() < 1e-5
    assert (frames[-1] - frames[0]).abs().max() < 1e-5
    assert (frames[2] - frames[0]).abs().max() > 1e-2


def test_authors_variant_renders_through_the_engine(tiny, scene):
    photo, mask, field = scene
    engine = StyleGANEngine(tiny.backbone, grid=64, authors=True)
    frames = list(engine.frames(photo, mask, field, 6))
    assert len(frames) == 6 and all(np.array_equal(f[~mask], photo[~mask]) for f in frames)
    assert np.array_equal(frames[0], frames[-1])  # their stall, reproduced
    assert not np.array_equal(frames[1][mask], frames[2][mask])


def test_loop_closes(tiny, scene):
    """Frame n (were it rendered) equals frame 0: the wrap is seamless by construction."""
    n = 10
    first = next(iter(tiny.canvas_frames(*scene, n)))
    assert (tiny.reference_canvas(*scene, n, n) - first).abs().max() < 1e-5
    frames = list(tiny.canvas_frames(*scene, n))
    steps = [(frames[i + 1] - frames[i]).abs().mean() for i in range(n - 1)]
    wrap = (frames[0] - frames[-1]).abs().mean()
    assert 0.5 < wrap / np.mean([float(s) for s in steps]) < 2.0


def test_integration_is_linear(tiny, scene):
    for n in (8, 32):
        c = StepCounter()
        list(tiny.canvas_frames(*scene, n, counter=c))
        assert n <= c.steps <= 3 * n


def test_frames_keep_frozen_pixels_and_size(tiny, scene):
    photo, mask, field = scene
    frames = list(tiny.frames(photo, mask, field, 6))
    assert len(frames) == 6 and all(f.shape == photo.shape and f.dtype == np.uint8 for f in frames)
    assert all(np.array_equal(f[~mask], photo[~mask]) for f in frames)
    assert not np.array_equal(frames[2][mask], frames[3][mask])


@pytest.mark.parametrize("shape", [(40, 90), (90, 40), (64, 64)])
def test_any_aspect_ratio_is_placed_without_cropping(shape):
    h, w = shape
    photo = textured(h, w, seed=1)
    canvas, where = place(photo, 64)
    assert canvas.shape == (64, 64, 3)
    assert max(where.w, where.h) == 64 and abs(where.w / where.h - w / h) < 0.1
    inner = canvas[where.y0:where.y0 + where.h, where.x0:where.x0 + where.w]
    assert np.abs(inner.astype(float) - np.asarray(Image.fromarray(photo).resize((where.w, where.h))).astype(float)
                  ).mean() < 12


def test_learned_mask_and_motion_are_used_and_the_user_still_wins(tiny, scene):
    photo, mask, _ = scene
    predictors = tiny.predictors()
    learned = prepare(photo, engine=tiny, frames=12)
    assert any("mask: learned" in n for n in learned.notes) and any("motion: learned" in n for n in learned.notes)
    labels = predictors.labels(photo)
    assert np.array_equal(learned.labels, labels)
    user = prepare(photo, mask=mask, engine=tiny, frames=12)
    assert np.array_equal(user.mask, mask)  # the user's mask wins over the classifiers
    steered = prepare(photo, mask=np.ones_like(mask), engine=tiny, frames=12, arrows=["10,10,40,10"])
    interior = steered.field[:, 10:-10, 10:-10]
    assert np.allclose(interior[0], 30 / 12, atol=1e-3) and np.allclose(interior[1], 0, atol=1e-3)


# -- the shared backbone and its caches ------------------------------------------------------

def test_bounded_cache_computes_once_under_concurrent_requests_and_stays_bounded():
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from cinegan_core.predictors import BoundedCache
    cache, calls, gate = BoundedCache(keep=2), [], threading.Event()

    def make(key):
        def compute():
            calls.append(key)
            gate.wait(10)
            return key.upper()
        return compute

    with ThreadPoolExecutor(6) as pool:
        waiting = [pool.submit(cache.get, "a", make("a")) for _ in range(6)]
        gate.set()
        assert [f.result() for f in waiting] == ["A"] * 6
    assert calls == ["a"]
    cache.get("b", make("b"))
    cache.get("c", make("c"))
    assert len(cache) == 2
    cache.get("a", make("a"))  # evicted (least recently used), so computed again
    assert calls == ["a", "b", "c", "a"]

    def broken():
        raise RuntimeError("out of memory")
    with pytest.raises(RuntimeError):
        cache.get("d", broken)
    assert cache.get("d", make("d")) == "D"  # a failure is not cached; the next request computes


def test_networks_are_loaded_once_for_concurrent_requests(tiny, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor
    import cinegan_core.weights
    from cinegan_core.predictors import backbone
    loads = []

    def fake_load(weights):
        loads.append(weights)
        return tiny.nets
    monkeypatch.setattr(cinegan_core.weights, "load_networks", fake_load)
    monkeypatch.setattr(backbone, "_LOADED", backbone.BoundedCache(keep=1))
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: backbone.loaded("/nowhere/weights", "cpu"), range(4)))
    assert len(loads) == 1 and all(b is got[0] for b in got)


def test_renderer_and_predictors_share_one_inversion_per_photo(tiny, scene):
    photo = scene[0]
    predictors = Predictors(tiny.backbone)
    predictors.labels(photo)
    trunk, _, key = tiny.backbone.prepare(photo)
    assert tiny.prepare_photo(photo)[0] is trunk and tiny.prepare_photo(photo.copy())[2] == key


def test_the_authors_variant_is_an_engine_of_its_own_in_cache_keys(tiny):
    from cinegan_core.engines.stylegan import StyleGANEngine
    from cinegan_core.settings import RenderSettings
    authors = StyleGANEngine(tiny.backbone, authors=True)
    assert authors.name == "stylegan-authors" and tiny.name == "stylegan"
    assert authors.identity() != tiny.identity()
    assert authors.identity()["weights"] == tiny.identity()["weights"]
    assert RenderSettings(engine="stylegan-authors").engine == "stylegan-authors"


# -- the engine interface ----------------------------------------------------------------------

def test_prepare_then_frames_uses_the_same_mask_and_motion_as_render(tiny, tmp_path, monkeypatch):
    """prepare() + frames() with the stylegan engine renders what render() renders: both use
    the learned mask and motion the engine brings (prepare used the automatic mask before,
    while render used the learned one)."""
    import cinegan_core.engines as engines
    from cinegan_core import frames, render
    monkeypatch.setattr(engines, "stylegan_engine", lambda *a, **k: tiny)  # "stylegan" = the tiny networks
    photo = np.asarray(Image.open(os.path.join(EXAMPLES, "sea-overcast.jpg")).convert("RGB").resize((96, 64)))
    prepared = prepare(photo, engine="stylegan", frames=6, max_side=None)
    assert any("mask: learned" in n for n in prepared.notes), prepared.notes
    assert np.array_equal(prepared.labels, tiny.predictors().labels(photo))
    ours = np.stack(list(frames(prepared, 6, engine="stylegan")))
    info = render(photo, frames_dir=tmp_path / "frames", engine="stylegan", frames=6, max_side=None)
    assert info["notes"] == prepared.notes
    rendered = np.stack([np.asarray(Image.open(tmp_path / "frames" / f"{i:04d}.png")) for i in range(6)])
    assert np.array_equal(ours, rendered)
    with pytest.raises(CineGANError, match="prepared for the stylegan engine"):
        frames(prepared, 6, engine="pixel")  # its mask came from the stylegan engine's classifiers


def test_stylegan_engine_passes_behind_small_frozen_islands(tiny, monkeypatch):
    """A small frozen island in the sky (a bird) stays the photo's bytes, and the engine
    inverts the photo with the island inpainted and lets the motion pass through it
    (``composite.pass_behind``, shared with the pixel engine)."""
    from cinegan_core import region_motion
    h, w, n = 48, 80, 4
    photo = textured(h, w, seed=6)
    photo[16:21, 30:35] = (255, 0, 0)                          # a red bird
    labels = np.zeros((h, w), np.uint8)
    labels[:30] = 1
    labels[16:21, 30:35] = 0
    plan = region_motion(labels, frames=n, photo=photo, styles={"sky": "drift"}, drift={"sky": (0, 1.0)})
    assert plan.holes is not None and plan.holes[16:21, 30:35].all()
    inverted, grids = [], []
    real_prepare, real_grid = tiny.prepare_photo, tiny._grid_setup
    monkeypatch.setattr(tiny, "prepare_photo", lambda p: inverted.append(p.copy()) or real_prepare(p))
    monkeypatch.setattr(tiny, "_grid_setup", lambda m, *a: grids.append(m.copy()) or real_grid(m, *a))
    mask = labels > 0
    out = list(tiny.frames(photo, mask, plan, n))
    assert all(np.array_equal(f[~mask], photo[~mask]) for f in out)        # the bird and the land stay
    bird = inverted[0][16:21, 30:35].astype(int)
    assert (np.abs(bird - (255, 0, 0)).sum(-1) > 150).all()                 # not red: inpainted from the sky
    assert np.array_equal(inverted[0][~plan.holes], photo[~plan.holes])
    assert np.array_equal(grids[0], mask | plan.holes)                     # the motion passes through it


def test_both_engines_rebase_over_what_they_render(tiny, monkeypatch):
    """Beside a frozen island passed behind, both engines fit the base, the veil and the edge hold
    over the same region: the inpainted photo over the mask and its islands (``Rebase.for_loop``),
    the values they return at the mask's pixels."""
    from cinegan_core import region_motion
    from cinegan_core.composite import Rebase, pass_behind
    from cinegan_core.engines.pixel import PixelEngine
    h, w, n = 48, 80, 3
    photo = textured(h, w, seed=7)
    photo[16:21, 30:35] = (255, 0, 0)
    labels = np.zeros((h, w), np.uint8)
    labels[:30] = 1
    labels[16:21, 30:35] = 0
    plan = region_motion(labels, frames=n, photo=photo, styles={"sky": "drift"}, drift={"sky": (0, 1.0)})
    mask = labels > 0
    source, passable = pass_behind(photo, mask, plan.holes, field=plan.field, veil=plan.veil)
    built = []
    real = Rebase.__init__

    def spy(self, image, region, **kw):
        built.append((np.array(image, copy=True), region.copy(), kw["index"].copy()))
        real(self, image, region, **kw)
    monkeypatch.setattr(Rebase, "__init__", spy)
    list(tiny.frames(photo, mask, plan, n))
    list(PixelEngine().frames(photo, mask, plan, n))
    assert len(built) == 2
    for image, region, index in built:
        assert np.array_equal(region, passable) and not np.array_equal(region, mask)
        assert np.array_equal(image, source) and not np.array_equal(image, photo)
        assert np.array_equal(index, np.flatnonzero(mask))


def test_engines_say_what_they_bring(tiny):
    """The engine interface: identity for cache keys, predictors (learned mask and motion
    over the stylegan backbone; none for the pixel engine)."""
    from cinegan_core.engines.base import RENDER_VERSION, Engine
    from cinegan_core.engines.pixel import PixelEngine
    pixel = PixelEngine()
    assert isinstance(pixel, Engine) and isinstance(tiny, Engine)
    assert pixel.identity() == {"engine": "pixel", "version": RENDER_VERSION} and pixel.predictors() is None
    assert tiny.identity() == {"engine": "stylegan", "version": RENDER_VERSION, "weights": tiny.nets.fingerprint}
    assert tiny.predictors() is tiny.predictors() and tiny.predictors().backbone is tiny.backbone
