"""The learned scene parser: the shipped head's digest, the output contract, a real sky,
the training script on synthetic data, and the fallback without the backbone package."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from cinegan_core import CineGANError
from cinegan_core.automask import parser
from cinegan_core.models import efficientnet
from cinegan_core.weights import sha256_file
from conftest import ROOT, textured

needs_backbone = pytest.mark.skipif(
    efficientnet.package_file(parser.BACKBONE) is None,
    reason=f"backbone package ({efficientnet.install_hint(parser.BACKBONE)}) is not installed")
VARIANTS = [pytest.param(name, marks=pytest.mark.skipif(efficientnet.package_file(name) is None,
                                                        reason=f"{efficientnet.install_hint(name)} not done"))
            for name in efficientnet.VARIANTS]

SCENES = os.path.join(ROOT, "data", "scenes")
# a held-out photo with a large clear sky (the parser never trained on it)
SKY_PHOTO = os.path.join(SCENES, "budgie", "lake-sherburne")


def test_shipped_head_matches_pinned_digest_and_card():
    from cinegan_core.weights import sha256_file
    assert os.path.isfile(parser.HEAD_PATH), "the head ships in the repository"
    assert sha256_file(parser.HEAD_PATH) == parser.HEAD_SHA256
    card = parser.card()
    assert card["sha256"] == parser.HEAD_SHA256
    assert card["classes"] == ["solid", "sky", "still_water", "flowing_water", "falling_water"]
    assert card["working_long_side"] == parser.WORK_SIDE
    assert os.path.getsize(parser.HEAD_PATH) < 4.5e6      # "a few MB at most" (four members, int8 / float16)


def test_the_default_training_reads_what_the_shipped_head_was_trained_on(monkeypatch):
    """`train_scene_parser.py` with no --data trains the shipped head again: the photos and folders its card
    names, the waiting folders (``WAITING``: round 22's two folders since stop 62, round 23's four since
    stop 63) left out, each of which still exists under that name."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "scripts"))
    import train_scene_parser as script
    folders = script.default_data()
    present = set(os.listdir(script.DATA_ROOT))
    assert set(script.WAITING) <= present
    assert not {os.path.basename(os.path.dirname(d)) for d in folders} & set(script.WAITING)
    photos = script.labelled_photos(folders)
    training = parser.card()["training"]
    assert len(photos) == training["photos"]
    assert sorted({os.path.dirname(name) for _, _, name in photos}) == training["data"]
    assert training["settings"]["head"] == script.HEAD
    assert training["settings"]["members"] == script.MEMBERS == parser.card()["members"]
    assert training["member_seeds"] == script.member_seeds(training["seed"], script.MEMBERS) == [17, 1017, 27, 1027]
    assert parser.card()["stored"] == parser.STORED


def test_head_with_a_flipped_byte_is_refused(tmp_path):
    bad = tmp_path / "scene_head.safetensors"
    shutil.copyfile(parser.HEAD_PATH, bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(CineGANError, match="damaged or not the shipped file"):
        parser.load_head(str(bad))
    assert isinstance(parser.load_head(), (parser.SceneHead, parser.SceneHeads))   # the shipped file itself loads


@needs_backbone
def test_parse_scene_shapes_dtypes_and_softmax():
    rgb = textured(90, 150)
    sp = parser.parse_scene(rgb)
    h, w = parser.work_size(90, 150)
    assert (h, w) == (307, 512)
    assert sp.probs.shape == (5, -(-h // 4), -(-w // 4))
    assert sp.probs.dtype == np.float32
    assert sp.size == (90, 150)
    np.testing.assert_allclose(sp.probs.sum(0), 1.0, atol=1e-5)
    up = sp.up()
    assert up.shape == (5, 90, 150) and up.dtype == np.float32
    np.testing.assert_allclose(up.sum(0), 1.0, atol=1e-4)
    assert sp.up((20, 30)).shape == (5, 20, 30)
    # any size and channel count a photo may have
    assert parser.parse_scene(np.zeros((3, 700, 4), np.uint8)).size == (3, 700)
    assert parser.parse_scene(np.full((40, 40), 200, np.uint8)).probs.shape[0] == 5


@needs_backbone
def test_flip_averaging_is_the_mean_of_the_photo_and_its_mirror(monkeypatch):
    """The mirror view runs in one batch with the photo's: the result is still the mean of the two
    parsed apart, the mirror's probabilities mirrored back (an asymmetric photo, so order matters)."""
    monkeypatch.setattr(parser, "EXTRA_SIDES", ())
    rgb = textured(96, 160)
    rgb[:, :40] = (230, 60, 20)
    both = parser.parse_scene(rgb, flip=True).probs
    alone = parser.parse_scene(rgb, flip=False).probs
    mirror = parser.parse_scene(np.ascontiguousarray(rgb[:, ::-1]), flip=False).probs[:, :, ::-1]
    assert np.abs(alone - mirror).max() > 1e-3                       # the two views do differ
    np.testing.assert_allclose(both, 0.5 * (alone + mirror), atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_folded_backbone_gives_the_plain_networks_features_and_classes(variant):
    plain = efficientnet.load(variant)
    folded = efficientnet.fold_batchnorm(plain)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())     # the original is untouched
    x = torch.from_numpy(textured(96, 128).astype(np.float32)).permute(2, 0, 1)[None]
    x = efficientnet.EfficientNetLite.normalise(x)
    with torch.no_grad():
        a, b = plain.features(x), folded.features(x)
        for s in (4, 8, 16, 32):
            scale = float(a[s].abs().max())
            assert float((a[s] - b[s]).abs().max()) < 1e-5 * max(scale, 1.0)
        np.testing.assert_allclose(folded(x).numpy(), plain(x).numpy(), atol=1e-3)
        # the feature extractor (no classifier: what the parser folds) gives the same features too
        extractor = efficientnet.fold_batchnorm(efficientnet.load(variant, classifier=False))
        c = extractor.features(x)
        for s in (4, 8, 16, 32):
            assert float((a[s] - c[s]).abs().max()) < 1e-5 * max(float(a[s].abs().max()), 1.0)


@needs_backbone
def test_real_photo_sky_is_mostly_sky():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import scene_labels
    label = scene_labels.read(SKY_PHOTO + ".json")
    assert label["split"] == "heldout"
    rgb = np.asarray(scene_labels.load_image(SKY_PHOTO + ".jpg", side=1024))
    labels = parser.parse_scene(rgb).labels()
    truth = scene_labels.rasterise(label, (rgb.shape[1], rgb.shape[0]))
    sky = truth == 1
    assert sky.mean() > 0.2
    assert (labels[sky] == 1).mean() > 0.85
    solid = truth == 0
    assert (labels[solid] != 0).mean() < 0.10


@needs_backbone
def test_training_script_runs_on_synthetic_data(tmp_path):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")

    def run(out):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_scene_parser.py"), "--quick",
                            "--steps", "3", "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        return r

    out = tmp_path / "head"
    r = run(out)
    card = json.loads((out / "scene_head.json").read_text())
    assert card["classes"][4] == "falling_water"
    assert f'HEAD_SHA256 = "{card["sha256"]}"' in r.stdout
    head = parser.load_head(str(out / "scene_head.safetensors"), sha256=card["sha256"])
    assert sum(p.numel() for p in head.parameters()) == card["parameters"]
    with pytest.raises(CineGANError):   # another head's digest is refused
        parser.load_head(str(out / "scene_head.safetensors"))
    again = tmp_path / "again"
    run(again)                          # deterministic: the same head, byte for byte
    assert (again / "scene_head.safetensors").read_bytes() == (out / "scene_head.safetensors").read_bytes()


@needs_backbone
def test_an_ensemble_head_averages_its_members_probabilities(tmp_path):
    """MEMBERS=2: one file with two heads (keys members.I.NAME) that loads as SceneHeads, whose
    probabilities are the mean of its members' (each member loadable as a head of its own). The
    members trained at once in two processes (--workers 2) make the same file, byte for byte, as
    trained one after the other (--workers 1)."""
    from safetensors.torch import load_file, save_file

    def train(out, workers):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_scene_parser.py"), "--quick",
                            "--steps", "3", "--set", "MEMBERS=2", "--workers", str(workers), "--out", str(out)],
                           capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"), timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = tmp_path / "pair"
    assert "2 members (seeds 17, 1017), 2 at a time" in train(out, 2)
    assert "2 at a time" not in train(tmp_path / "one-by-one", 1)
    assert (tmp_path / "one-by-one" / "scene_head.safetensors").read_bytes() == \
        (out / "scene_head.safetensors").read_bytes()
    card = json.loads((out / "scene_head.json").read_text())
    assert card["members"] == 2
    pair = parser.load_head(str(out / "scene_head.safetensors"), sha256=card["sha256"])
    assert isinstance(pair, parser.SceneHeads) and len(pair.members) == 2
    singles = []
    for i, member in enumerate(parser.member_states(load_file(str(out / "scene_head.safetensors")))):
        path = tmp_path / f"member{i}.safetensors"
        save_file(member, str(path))
        singles.append(parser.load_head(str(path), sha256=sha256_file(str(path))))
    assert len(singles) == 2
    assert not torch.equal(singles[0].classify.weight, singles[1].classify.weight)   # two seeds
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    got = parser.parse_scene(rgb, head=pair).probs
    mean = 0.5 * (parser.parse_scene(rgb, head=singles[0]).probs + parser.parse_scene(rgb, head=singles[1]).probs)
    assert np.abs(got - mean).max() < 1e-5
    assert np.abs(got.sum(0) - 1).max() < 1e-5


def test_lite_variants_scale_the_base_network_as_published():
    """Lite2 = Lite0's stages with channels x1.1 (rounded to multiples of 8) and repeats x1.2 (rounded up),
    the first and last stage's repeats and the stem and head not scaled: the shapes of its package's file."""
    lite0, lite2 = efficientnet.VARIANTS["lite0"], efficientnet.VARIANTS["lite2"]
    assert lite0.stages == efficientnet.BASE_STAGES
    assert [s[3] for s in lite2.stages] == [16, 24, 48, 88, 120, 208, 352]
    assert [s[4] for s in lite2.stages] == [1, 3, 3, 4, 4, 5, 1]
    assert lite0.tap_channels == {4: 24, 8: 40, 16: 112, 32: 320}
    assert lite2.tap_channels == {4: 24, 8: 48, 16: 120, 32: 352}
    assert lite0.taps == {4: 2, 8: 4, 16: 10, 32: 15} and lite2.taps == {4: 3, 8: 6, 16: 14, 32: 20}
    net = efficientnet.EfficientNetLite("lite2")
    assert len(net._blocks) == 21
    with torch.no_grad():
        f = net.eval().features(torch.zeros(1, 3, 64, 96))
    assert {s: tuple(v.shape) for s, v in f.items()} == {4: (1, 24, 16, 24), 8: (1, 48, 8, 12),
                                                         16: (1, 120, 4, 6), 32: (1, 352, 2, 3)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_head_reads_the_backbone_its_file_was_trained_on(tmp_path, variant):
    """A head's file says which backbone it reads by its input shapes; parse_scene runs that backbone."""
    from safetensors.torch import save_file
    torch.manual_seed(0)
    head = parser.SceneHead(backbone=variant)
    path = tmp_path / "head.safetensors"
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path))
    loaded = parser.load_head(str(path), sha256=sha256_file(str(path)))
    assert loaded.backbone == variant
    probs = parser.parse_scene(textured(60, 80), head=loaded).probs
    assert probs.shape == (5, 96, 128)      # stride 4 of the working size, 384 x 512
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


@needs_backbone
def test_the_training_script_fine_tunes_a_top_block(tmp_path):
    """HEAD top (round 17, as shipped): every member gets its own copy of the backbone's last block,
    started from the ImageNet weights and trained, stored as ``parser.pack`` says (its two 1 x 1 convolutions int8
    with their scales, the rest float16), and the head trained is the head the file gives back."""
    from safetensors.torch import load_file
    out = tmp_path / "head"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_scene_parser.py"), "--quick", "--steps",
                        "3", "--out", str(out), "--set", "HEAD.top=True"], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"), timeout=300)
    assert r.returncode == 0, r.stderr
    card = json.loads((out / "scene_head.json").read_text())
    assert "but for its last block" in card["what"]
    state = load_file(str(out / "scene_head.safetensors"))
    tops = {k: v.dtype for k, v in state.items() if ".top." in k}
    assert {k: d for k, d in tops.items() if d != torch.float16} == {
        f"members.{i}.top.{name}{suffix}": dtype for i in range(card["members"])
        for name in ("_expand_conv.weight", "_project_conv.weight")
        for suffix, dtype in (("", torch.int8), (".scale", torch.float32))}
    head = parser.load_head(str(out / "scene_head.safetensors"), sha256=card["sha256"])
    folded = efficientnet.fold_batchnorm(efficientnet.load(parser.BACKBONE, classifier=False))
    start = folded._blocks[folded.variant.taps[32]].state_dict()
    for member in head.members:
        moved = max(float((member.top.state_dict()[k] - v).abs().max()) for k, v in start.items())
        assert 0 < moved < 0.1        # trained, a little (3 steps at TOP_LR of the decoder's rate)
    np.testing.assert_allclose(parser.parse_scene(textured(50, 70), head=head).probs.sum(0), 1.0, atol=1e-5)
    # on whole feature maps too (CROP 0: no window, no margin)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_scene_parser.py"), "--quick", "--steps",
                        "2", "--out", str(tmp_path / "whole"), "--set", "CROP=0"], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"), timeout=300)
    assert r.returncode == 0, r.stderr


def test_a_head_is_stored_int8_and_float16_and_read_back_as_float32(tmp_path):
    """``parser.pack``: the top block's 1 x 1 convolutions int8 per output channel (within half a step of
    their channel's largest weight / 127), the feature statistics float32 exactly, the rest float16;
    ``unpack`` gives float32 back, and rounding a head to what is stored is done once and for all."""
    torch.manual_seed(3)
    head = parser.SceneHead(top=True)
    with torch.no_grad():
        head.mean_8.normal_(); head.std_8.uniform_(0.5, 2.0)
        head.top._project_conv.weight.mul_(torch.linspace(0.01, 3.0, 352)[:, None, None, None])   # channel scales
    state = {k: v.clone() for k, v in head.state_dict().items()}
    packed = parser.pack(state)
    dtypes = {k: v.dtype for k, v in packed.items()}
    assert dtypes["top._expand_conv.weight"] == dtypes["top._project_conv.weight"] == torch.int8
    assert dtypes["top._project_conv.weight.scale"] == torch.float32 and dtypes["mean_8"] == torch.float32
    assert dtypes["mix8.0.weight"] == dtypes["top._depthwise_conv.weight"] == dtypes["lat4.bias"] == torch.float16
    back = parser.unpack(packed)
    assert set(back) == set(state) and all(v.dtype == torch.float32 for v in back.values())
    assert torch.equal(back["mean_8"], state["mean_8"]) and torch.equal(back["std_8"], state["std_8"])
    w, q = state["top._project_conv.weight"], back["top._project_conv.weight"]
    step = w.abs().amax((1, 2, 3), keepdim=True) / 127
    assert bool(((q - w).abs() <= 0.5 * step + 1e-7).all()) and float((q - w).abs().max()) > 0
    assert float((back["mix8.0.weight"] - state["mix8.0.weight"]).abs().max()) < 1e-3
    parser.round_to_stored(head)
    again = parser.pack(head.state_dict())
    assert all(torch.equal(again[k], packed[k]) for k in packed)       # rounding twice changes nothing
    with pytest.raises(ValueError, match="scale"):
        parser.unpack({k: v for k, v in packed.items() if not k.endswith(".scale")})
    with pytest.raises(ValueError, match="shape"):
        parser.unpack({**packed, "top._expand_conv.weight.scale": torch.ones(3)})
    from safetensors.torch import save_file
    bad = tmp_path / "no_scales.safetensors"        # a file without its scales: one clear error, no traceback
    save_file({k: v for k, v in packed.items() if not k.endswith(".scale")}, str(bad))
    with pytest.raises(CineGANError, match="cannot load the scene parser's head"):
        parser.load_head(str(bad), sha256=sha256_file(str(bad)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_top_block_started_from_imagenet_gives_the_backbones_stride_32_features(tmp_path, variant):
    """A head's top block (its own copy of the backbone's last block) started from the ImageNet weights
    computes the backbone's stride-32 features from PRE_TOP, which the backbone gives without running its
    own last block; such a head round-trips through a file (its top in float16) and parses alike."""
    from safetensors.torch import save_file
    from cinegan_core.models.efficientnet import PRE_TOP
    folded = efficientnet.fold_batchnorm(efficientnet.load(variant, classifier=False))
    x = efficientnet.EfficientNetLite.normalise(torch.from_numpy(textured(96, 160).astype(np.float32))
                                                .permute(2, 0, 1)[None])
    last = folded._blocks[folded.variant.taps[32]].state_dict()
    with torch.no_grad():
        full = folded.features(x, (4, 8, 16, 32, PRE_TOP))
        lean = folded.features(x, (4, 8, 16, PRE_TOP))
        assert set(lean) == {4, 8, 16, PRE_TOP} and torch.equal(lean[PRE_TOP], full[PRE_TOP])
        top = efficientnet.top_block(variant)
        top.load_state_dict(last)
        assert full[PRE_TOP].shape[1] == folded.variant.top_shape[0]
        assert float((top(full[PRE_TOP]) - full[32]).abs().max()) < 1e-5 * max(float(full[32].abs().max()), 1.0)
    torch.manual_seed(0)
    plain = parser.SceneHead(backbone=variant)
    topped = parser.SceneHead(backbone=variant, top=True)
    topped.load_state_dict({**plain.state_dict(), **{f"top.{k}": v for k, v in last.items()}})
    path = tmp_path / "head.safetensors"
    save_file({k: v.contiguous().to(torch.float16 if k.startswith("top.") else torch.float32)
               for k, v in topped.state_dict().items()}, str(path))
    loaded = parser.load_head(str(path), sha256=sha256_file(str(path)))
    assert loaded.top is not None and parser._strides(loaded) == (4, 8, 16, PRE_TOP)
    rgb = textured(60, 100)
    a = parser.parse_scene(rgb, head=plain).probs
    b = parser.parse_scene(rgb, head=loaded).probs
    np.testing.assert_allclose(b.sum(0), 1.0, atol=1e-5)
    assert np.abs(a - b).max() < 2e-3        # the top's weights rounded to float16: nearly the same
    assert parser._strides(parser.SceneHeads([plain, loaded])) == (4, 8, 16, 32, PRE_TOP)


@pytest.mark.skipif(any(efficientnet.package_file(v) is None for v in ("lite0", "lite2")),
                    reason="needs both backbone packages (requirements-dev.txt)")
def test_an_ensemble_over_two_backbones_averages_its_members(tmp_path):
    """A file whose members read different backbones loads as one SceneHeads; parse_scene runs
    each backbone once per view and weighs every member alike (here 2 : 1)."""
    from safetensors.torch import save_file
    torch.manual_seed(1)
    members = [parser.SceneHead(backbone="lite2"), parser.SceneHead(backbone="lite0"),
               parser.SceneHead(backbone="lite0")]
    path = tmp_path / "mixed.safetensors"
    save_file({f"members.{i}.{k}": v.contiguous() for i, m in enumerate(members)
               for k, v in m.state_dict().items()}, str(path))
    mixed = parser.load_head(str(path), sha256=sha256_file(str(path)))
    assert isinstance(mixed, parser.SceneHeads) and mixed.backbones == ("lite2", "lite0")
    assert mixed.backbone is None
    with pytest.raises(ValueError, match="backbone by backbone"):
        mixed({})
    rgb = textured(60, 80)
    got = parser.parse_scene(rgb, head=mixed).probs
    alone = [parser.parse_scene(rgb, head=m.eval()).probs for m in members]
    np.testing.assert_allclose(got, sum(alone) / 3, atol=1e-5)
    np.testing.assert_allclose(got.sum(0), 1.0, atol=1e-5)


@pytest.mark.skipif(any(efficientnet.package_file(v) is None for v in ("lite0", "lite2")),
                    reason="needs both backbone packages (requirements-dev.txt)")
def test_the_training_script_trains_members_on_each_backbone(tmp_path):
    """BACKBONES=(lite2, lite0), MEMBERS=1: one file with a member on each, whose card names both."""
    out = tmp_path / "mixed"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "train_scene_parser.py"), "--quick",
                        "--steps", "2", "--set", "BACKBONES=('lite2','lite0')", "MEMBERS=1", "--out", str(out)],
                       capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"), timeout=300)
    assert r.returncode == 0, r.stderr
    card = json.loads((out / "scene_head.json").read_text())
    assert card["members"] == 2 and card["backbone"] == ["lite2", "lite0"]
    head = parser.load_head(str(out / "scene_head.safetensors"), sha256=card["sha256"])
    assert head.backbones == ("lite2", "lite0")
    assert parser.parse_scene(textured(40, 60), head=head).probs.shape[0] == 5


def test_out_of_fold_runs_dealt_differently_parse_each_photo_with_the_heads_that_held_it_back(tmp_path):
    """bench/masks.py --heads: runs (seeds, backbones) may deal the photos to folds differently; a photo
    is parsed by the members of its fold in every run, and photos a run did not hold back are skipped."""
    import importlib.util
    from safetensors.torch import save_file
    spec = importlib.util.spec_from_file_location("masks_bench", os.path.join(ROOT, "bench", "masks.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    def run(name, folds):
        for k in sorted(set(folds.values())):
            d = tmp_path / name / f"fold{k}"
            d.mkdir(parents=True)
            torch.manual_seed(len(name) * 10 + k)
            save_file({n: v.contiguous() for n, v in parser.SceneHead(width=8, fine=4, mid=8).state_dict().items()},
                      str(d / "scene_head.safetensors"))
            (d / "scene_head.json").write_text(json.dumps({"sha256": sha256_file(str(d / "scene_head.safetensors"))}))
        (tmp_path / name / "folds.json").write_text(json.dumps({"folds": 2, "photos": folds}))
        return str(tmp_path / name)

    a = run("a", {"p": 0, "q": 1, "r": 0})
    b = run("bb", {"p": 1, "q": 1, "s": 0})
    keys, heads = bench.load_heads([a, b])
    assert keys == {"p": (0, 1), "q": (1, 1)}
    assert set(heads) == {(0, 1), (1, 1)}
    pair = heads[(0, 1)]
    assert isinstance(pair, parser.SceneHeads) and len(pair.members) == 2
    one_a = parser.load_head(os.path.join(a, "fold0", "scene_head.safetensors"),
                             sha256=sha256_file(os.path.join(a, "fold0", "scene_head.safetensors")))
    assert torch.equal(pair.members[0].classify.weight, one_a.classify.weight)
    assert not torch.equal(pair.members[0].classify.weight, heads[(1, 1)].members[0].classify.weight)


def test_unavailable_without_the_backbone_package(monkeypatch):
    monkeypatch.setitem(sys.modules, efficientnet.VARIANTS[parser.BACKBONE].module, None)   # import fails
    monkeypatch.setattr(parser, "_BACKBONES", {})
    ok, why = parser.available()
    assert ok is False
    assert efficientnet.VARIANTS[parser.BACKBONE].package in why
    with pytest.raises(CineGANError, match="not installed"):
        parser.parse_scene(np.zeros((32, 32, 3), np.uint8))


@needs_backbone
def test_unavailable_with_a_damaged_head(monkeypatch, tmp_path):
    bad = tmp_path / "scene_head.safetensors"
    bad.write_bytes(b"not a head")
    monkeypatch.setattr(parser, "HEAD_PATH", str(bad))
    monkeypatch.setattr(parser, "_HEADS", {})
    ok, why = parser.available()
    assert ok is False and "damaged" in why


def test_cross_validation_keeps_always_train_photos_out_of_the_scored_folds(monkeypatch):
    """--always-train: new photos train every fold and are never scored, and the other
    photos' folds are those a run without them deals (so the figures compare); --fold-apart deals them
    folds of their own, and --score-apart scores them with those folds without training on them."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "scripts"))
    import train_scene_parser as tsp
    photos = [(f"{n}.jpg", {}, n) for n in ("old/a", "old/b", "new-r7/c", "old/d", "new-r7/e", "old/f")]
    dealt = []

    def folds_of(ps, k):
        dealt.append([p[2] for p in ps])
        return [i % k for i in range(len(ps))]
    trained, scored = [], []
    monkeypatch.setattr(tsp, "folds_of", folds_of)
    monkeypatch.setattr(tsp, "MEMBERS", 1)             # one stand-in head per fold
    monkeypatch.setattr(tsp, "train", lambda items, *a, **kw: trained.append({photos[it["photo"]][2] for it in items}))
    monkeypatch.setattr(tsp, "evaluate", lambda head, items, flip: (
        scored.append({photos[it["photo"]][2] for it in items}) or (np.eye(5, dtype=np.int64), [])))
    monkeypatch.setattr(tsp, "figures", lambda conf, rows: {
        "acc": 1.0, "iou": [1.0] * 5, "false_move": 0.0, "fm_mean": 0.0, "fm_over_1": 0, "n_photos": 0,
        "recall": 1.0, "running_found": 0, "running_photos": 0})
    items = [{"photo": i, "aug": a} for i in range(len(photos)) for a in ("base", "flip")]
    tsp.cross_validate(photos, items, 2, 1, 1, 1e-3, 0, None, lambda m: None, always_train=("new-r7/",))
    assert dealt == [["old/a", "old/b", "old/d", "old/f"]]
    assert all({"new-r7/c", "new-r7/e"} <= t for t in trained)
    assert set().union(*scored) == {"old/a", "old/b", "old/d", "old/f"}
    # a learning curve: each fold trains on half of its photos, drawn per fold, the scored folds unchanged
    trained.clear()
    scored.clear()
    tsp.cross_validate(photos, items, 2, 1, 1, 1e-3, 0, None, lambda m: None, always_train=("new-r7/",),
                       train_share=0.5)
    assert [len(t) for t in trained] == [2, 2]
    assert set().union(*scored) == {"old/a", "old/b", "old/d", "old/f"}
    assert all(not (t & s) for t, s in zip(trained, scored[::2]))    # (scored twice per fold: flip off, on)
    # --fold-apart: new photos are scored too, dealt to folds among themselves; the old keep their folds
    dealt.clear()
    old_folds = tsp.fold_assignment(photos, 2, always_train=("new-r7/",))
    both = tsp.fold_assignment(photos, 2, fold_apart=("new-r7/",))
    assert dealt[-2:] == [["old/a", "old/b", "old/d", "old/f"], ["new-r7/c", "new-r7/e"]]
    assert [f for f, (_, _, n) in zip(both, photos) if n.startswith("old/")] == [f for f in old_folds if f >= 0]
    assert sorted(f for f, (_, _, n) in zip(both, photos) if n.startswith("new-r7/")) == [0, 1]
    # --score-apart: the run without the new photos, scoring them with the folds --fold-apart deals them
    assert tsp.fold_assignment(photos, 2, score_apart=("new-r7/",)) == both
    trained.clear()
    scored.clear()
    tsp.cross_validate(photos, items, 2, 1, 1, 1e-3, 0, None, lambda m: None, score_apart=("new-r7/",))
    assert trained == [{"old/b", "old/f"}, {"old/a", "old/d"}]
    assert set().union(*scored) == {n for _, _, n in photos}


def test_a_crop_wholly_ignored_costs_nothing_and_logs_a_number(monkeypatch):
    """A training crop inside ignore areas (255 everywhere) has nothing to learn: its loss is
    0, not NaN (the cross-entropy alone is 0 / 0 there), and it moves no weight."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "scripts"))
    import train_scene_parser as tsp
    torch.manual_seed(0)
    head = parser.SceneHead(**tsp.HEAD)
    feats = {s: torch.randn(1, c, 8, 8) for s, c in efficientnet.VARIANTS[head.backbone].tap_channels.items()}
    lab = torch.full((32, 32), tsp.IGNORE, dtype=torch.uint8)
    loss = tsp.loss_of(head, feats, lab, (0.0, 1.0), torch.ones(5))
    assert torch.isfinite(loss) and float(loss.detach()) == 0.0
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in head.parameters())


def test_band_grow_widens_the_unscored_band_and_only_the_loss_sees_it(monkeypatch):
    """``BAND_GROW`` grows every unscored (255) area by its pixels before the loss (a boundary band widens by
    that much on each side, rows beyond it keep their class), and the loss then ignores those pixels: a head
    that says "sky" everywhere loses less once the solid rows next to the band are unscored, exactly as much
    as on labels drawn with the wider band."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "scripts"))
    import train_scene_parser as tsp
    lab = torch.zeros(1, 12, 12, dtype=torch.long)
    lab[:, :6] = 1                                   # sky over solid
    lab[:, 5:7] = tsp.IGNORE                         # the labels' own band: rows 5 and 6
    assert torch.equal(tsp.grow_unscored(lab, 0), lab)
    grown = tsp.grow_unscored(lab, 2)
    assert ((grown == tsp.IGNORE).any(2)[0]).nonzero().flatten().tolist() == [3, 4, 5, 6, 7, 8]
    assert (grown[:, :3] == 1).all() and (grown[:, 9:] == 0).all()
    # the loss: a head whose logits say "sky" everywhere is wrong on rows 7-11 (solid); grown by 2, rows 7-8 drop
    head = parser.SceneHead(**tsp.HEAD)
    feats = {s: torch.zeros(1, c, 3, 3) for s, c in efficientnet.VARIANTS[head.backbone].tap_channels.items()}
    sky = torch.full((1, 5, 3, 3), -5.0)
    sky[:, 1] = 5.0
    monkeypatch.setattr(head, "forward", lambda *a, **k: sky)
    weights = torch.ones(5)
    monkeypatch.setattr(tsp, "BAND_GROW", 0)
    plain = float(tsp.loss_of(head, feats, lab[0].to(torch.uint8), (0.0, 1.0), weights))
    monkeypatch.setattr(tsp, "BAND_GROW", 2)
    wider = float(tsp.loss_of(head, feats, lab[0].to(torch.uint8), (0.0, 1.0), weights))
    assert wider != plain
    monkeypatch.setattr(tsp, "BAND_GROW", 0)         # the same as labels drawn with the wider band
    assert wider == float(tsp.loss_of(head, feats, grown[0].to(torch.uint8), (0.0, 1.0), weights))


def test_a_crop_trains_the_context_vector_on_the_whole_photo(monkeypatch):
    """Training on a window of the feature maps, a head's photo-level context vector reads the
    whole photo's stride-32 features (as at inference), not the window's: changing the photo
    outside the window changes the loss of a head with context, and not of one without."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "scripts"))
    import train_scene_parser as tsp
    from cinegan_core.models.efficientnet import PRE_TOP
    torch.manual_seed(0)
    variant = efficientnet.VARIANTS[parser.BACKBONE]
    n = 8                                   # stride-32 cells a side
    feats = {s: torch.randn(c, n * 32 // s, n * 32 // s) for s, c in variant.tap_channels.items()}
    feats[PRE_TOP] = torch.randn(variant.top_shape[0], n, n)
    item = {"feats": feats, "labels": torch.randint(0, 5, (n * 32, n * 32), dtype=torch.uint8)}
    crop, lab, rows = tsp.crop_of(item, 4, np.random.default_rng(0))
    assert torch.equal(crop["whole_pre"][0], feats[PRE_TOP][None])
    whole, (y0, x0) = crop["whole_pre"]
    pre, (oy, ox) = crop[PRE_TOP]
    near = (slice(None), slice(None), slice(max(0, y0 - 1), y0 + 5), slice(max(0, x0 - 1), x0 + 5))
    assert torch.equal(pre, whole[near])                     # the window with its margin
    top = parser.SceneHead(**{**tsp.HEAD, "top": True}).top
    with torch.no_grad():                                    # the window's features, cut from the whole photo's
        np.testing.assert_allclose(top(whole)[:, :, y0:y0 + 4, x0:x0 + 4], top(pre)[:, :, oy:oy + 4, ox:ox + 4],
                                   atol=1e-5)
    around = whole + 3.0
    around[near] = whole[near]
    elsewhere = dict(crop, whole_pre=(around, (y0, x0)))     # another photo around the same window
    for context in (True, False):
        head = parser.SceneHead(**{**tsp.HEAD, "context": context, "top": True}).eval()
        a = tsp.loss_of(head, crop, lab, rows, torch.ones(5))
        b = tsp.loss_of(head, elsewhere, lab, rows, torch.ones(5))
        assert torch.isfinite(a) and (float(a) != float(b)) == context
