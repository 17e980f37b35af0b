"""The stylegan engine: networks vs the authors' checkpoint layouts, loading,
and MSDFW end to end on tiny models (no real weights exist here)."""
import argparse
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import standins
from cinegan_core import CineGANError, prepare
from cinegan_core.engines.stylegan import StyleGANEngine, place
from cinegan_core.loop import StepCounter
from cinegan_core.models.classifier import PixelClassifier
from cinegan_core.models.encoder import FeatureStyleEncoder
from cinegan_core.models.pix2pixhd import GlobalGenerator
from cinegan_core.models.stylegan2 import Generator
from cinegan_core.weights import load_networks
from conftest import EXAMPLES, run_cli, textured


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
    learned = prepare(photo, engine=tiny, frames=12)
    assert any("mask: learned" in n for n in learned.notes) and any("motion: learned" in n for n in learned.notes)
    labels = tiny.predict_labels(photo)
    assert np.array_equal(learned.labels, labels)
    user = prepare(photo, mask=mask, engine=tiny, frames=12)
    assert np.array_equal(user.mask, mask)  # the user's mask wins over the classifiers
    steered = prepare(photo, mask=np.ones_like(mask), engine=tiny, frames=12, arrows=["10,10,40,10"])
    interior = steered.field[:, 10:-10, 10:-10]
    assert np.allclose(interior[0], 30 / 12, atol=1e-3) and np.allclose(interior[1], 0, atol=1e-3)
