"""Parity with the StyleCineGAN authors' own code (CPU, float32): our networks and
MSDFW against theirs, with the same stand-in weights.

    python bench/parity.py --official DIR [--json] [--size 256|512|1024] [--frames 6]
    python bench/parity.py --official DIR --golden      (the numbers stored in tests/test_stylegan.py)

DIR is a checkout of github.com/jeolpyeoni/StyleCineGAN, fetched by whoever runs
this (it is never part of this project). Their model classes are imported
unchanged, on CPU, with shims installed here for what needs CUDA or is not
installed:
  * their compiled ops (``torch.utils.cpp_extension.load``) are replaced by the
    plain PyTorch paths: their own ``upfirdn2d_native`` and bias + leaky ReLU * scale;
  * their cupy softmax-splatting kernel is replaced by ``TorchSoftsplat`` below, a
    torch transcription of ``kernel_Softsplat_updateOutput``;
  * ``.cuda()`` is the identity and factories asked for device "cuda" get "cpu";
  * torchvision, lpips, the face-parsing net and mediapy (imported by the encoder's
    trainer and the image utilities, unused on these paths) are empty stand-ins;
    the encoder's ArcFace backbone file is a randomly initialised IResNet-50.
The same stand-in weights (random values in the exact official layouts,
tests/standins.py, "lively": non-zero biases, noise strengths, norm statistics)
are written in the authors' file layout and loaded by their loaders and by ours.

Differences printed (max abs, float32), each expected <= 1e-4:
  generator_latent         their Generator.forward vs our synthesis, from a W+ latent
  generator_feature9       their encoder-side generator (pixel2style2pixel, features_in
                           at index 9) vs our synthesis with the feature injected
  encoder_latent/feature   their Trainer.test (downscale, encoder, + their mean latent)
                           vs our inversion
  flow_net                 their pix2pixHD GlobalGenerator vs ours
  classifier_logits        their pixel_classifier vs ours (10 classifiers)
  classifier_features      their make_sg2_features_fs vs our feature stack (1024 only:
                           their code hard-codes 1472 channels)
  warp_blend_feature[t]    their warp_blend_feature vs our authors=True path, per frame
Departures (ours on purpose) are listed with the difference both ways: our
default against their code, and our reproduction of their choice against it.

--size picks the generator size (1024 is the real network; 256 keeps everything
but the generator's top blocks at full width and runs in about a minute on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
SAMPLES = os.path.join(os.path.dirname(ROOT), "shared", "data", "samples")
TOLERANCE = 1e-4


# -- shims ---------------------------------------------------------------------------------

class FakeExtension:
    """Stands in for the authors' compiled ops with their plain PyTorch paths."""

    def upfirdn2d(self, x, kernel, up_x, up_y, down_x, down_y, pad_x0, pad_x1, pad_y0, pad_y1):
        module = sys.modules["models.stylegan2.op.upfirdn2d"]
        module.F = F  # their reference path uses F without importing it (it never runs on their GPUs)
        return module.upfirdn2d_native(x, kernel, up_x, up_y, down_x, down_y, pad_x0, pad_x1, pad_y0, pad_y1)

    def fused_bias_act(self, x, bias, refer, act, grad, alpha, scale):
        if act != 3 or grad != 0:
            raise NotImplementedError("only the forward leaky ReLU is used here")
        if bias.numel():
            x = x + bias.view(1, -1, *[1] * (x.ndim - 2))
        return F.leaky_relu(x, alpha) * scale


class TorchSoftsplat:
    """``kernel_Softsplat_updateOutput`` in torch: every input pixel (x, y) of every
    channel adds input * bilinear weight to the (up to) four output pixels around
    (x + flow_x, y + flow_y) that lie inside the output (same size as the input)."""

    @staticmethod
    def apply(inp: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        n, c, h, w = inp.shape
        out = inp.new_zeros(n, h * w, c)  # pixel-major, so one index per pixel serves every channel
        gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
        for b in range(n):
            ox, oy = gx + flow[b, 0], gy + flow[b, 1]                     # dblOutputX, dblOutputY
            nwx, nwy = torch.floor(ox), torch.floor(oy)
            values = inp[b].reshape(c, -1).T
            for cx, cy, weight in ((nwx, nwy, (nwx + 1 - ox) * (nwy + 1 - oy)),      # northwest
                                   (nwx + 1, nwy, (ox - nwx) * (nwy + 1 - oy)),      # northeast
                                   (nwx, nwy + 1, (nwx + 1 - ox) * (oy - nwy)),      # southwest
                                   (nwx + 1, nwy + 1, (ox - nwx) * (oy - nwy))):     # southeast
                ok = ((cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)).flatten()
                target = (cy.flatten()[ok] * w + cx.flatten()[ok]).long()
                out[b].index_add_(0, target, values[ok] * weight.flatten()[ok][:, None])
        return out.permute(0, 2, 1).reshape(n, c, h, w).contiguous()


def _module(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class _Inert(torch.nn.Module):
    """Any network the encoder's trainer builds but these comparisons never run."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def load_state_dict(self, *args, **kwargs):
        return None


def install_shims() -> None:
    """Everything the authors' code needs to import and run on CPU here."""
    import torch.utils.cpp_extension as cpp
    cpp.load = lambda *args, **kwargs: FakeExtension()
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self

    def on_cpu(fn):
        def wrapped(*args, **kwargs):
            if str(kwargs.get("device", "")).startswith("cuda"):
                kwargs["device"] = "cpu"
            return fn(*args, **kwargs)
        return wrapped

    for name in ("linspace", "zeros", "ones", "randn", "empty", "arange", "full", "tensor"):
        setattr(torch, name, on_cpu(getattr(torch, name)))
    load = torch.load
    torch.load = lambda *args, **kwargs: load(*args, **{"weights_only": False, **kwargs})  # their torch's default
    _module("cupy", memoize=lambda **kwargs: (lambda fn: fn), cuda=types.SimpleNamespace())
    tv = _module("torchvision")
    for sub in ("transforms", "utils", "models"):
        setattr(tv, sub, _module(f"torchvision.{sub}"))
    _module("lpips", LPIPS=_Inert)
    _module("face_parsing", __path__=[])
    _module("face_parsing.model", BiSeNet=_Inert)
    _module("mediapy")


class Official:
    """The authors' modules, imported from a checkout with the shims installed."""

    def __init__(self, path: str):
        path = os.path.abspath(path)
        for rel in ("models/stylegan2/model.py", "utils/cinemagraph_utils.py",
                    "external_modules/feature_style_encoder/trainer.py"):
            if not os.path.isfile(os.path.join(path, rel)):
                sys.exit(f"{path} does not look like a StyleCineGAN checkout (no {rel})")
        self.path = path
        install_shims()
        fse = os.path.join(path, "external_modules", "feature_style_encoder")
        sys.path[:0] = [path, fse]
        import models.stylegan2.model as sg2
        import utils.softmax_splatting as softsplat
        softsplat._FunctionSoftsplat = TorchSoftsplat
        from models.img2flow import networks as flow_networks
        from models.DatasetGAN.classifier import pixel_classifier
        from utils import ip_utils, model_utils
        from arcface.iresnet import iresnet50
        import trainer
        from pixel2style2pixel.models.stylegan2 import model as p2s
        self.sg2, self.flow_networks, self.pixel_classifier = sg2, flow_networks, pixel_classifier
        self.ip_utils, self.model_utils, self.iresnet50, self.trainer, self.p2s = \
            ip_utils, model_utils, iresnet50, trainer, p2s


# -- stand-in weights in the authors' layout -------------------------------------------------

def write_standins(folder: str, size: int, official: Official, seed: int = 0) -> dict:
    """Stand-in checkpoints (authors' layout) for a `size` generator; returns the
    mean latents written: {"latent_avg": (512,), "mean_file": (1, 512)}."""
    import standins
    from cinegan_core.models.encoder import FeatureStyleEncoder
    from cinegan_core.models.stylegan2 import Generator

    def save(obj, rel):
        p = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        torch.save(obj, p)

    with torch.device("meta"):
        g_shapes = {k: list(v.shape) for k, v in Generator(size).state_dict().items()}
        n_latent = Generator(size).n_latent
        e_shapes = {k: list(v.shape) for k, v in FeatureStyleEncoder(n_styles=n_latent).state_dict().items()}
    gen = torch.Generator().manual_seed(seed + 100)
    means = {"latent_avg": 0.3 * torch.randn(512, generator=gen), "mean_file": 0.3 * torch.randn(1, 512, generator=gen)}
    save({"g_ema": standins.random_state(g_shapes, seed, lively=True), "latent_avg": means["latent_avg"],
          "args": argparse.Namespace(size=size, latent=512, n_mlp=8, channel_multiplier=2)},
         "stylegan2-pytorch/sg2-lhq-1024.pt")
    save(means["mean_file"], "stylegan2-pytorch/sg2-lhq-1024-mean.pt")
    save(standins.random_state(e_shapes, seed + 1, scale=0.5, lively=True), "logs/lhq_k9/enc.pth.tar")
    for i in range(10):
        sd = standins.random_state(standins.manifest("datasetgan-pixel-classifier.json"), seed + 10 + i, lively=True)
        save({"model_state_dict": {f"module.{k}": v for k, v in sd.items()}}, f"datasetgan/best_model_number_{i}.pth")
    save(standins.random_state(standins.manifest("img2flow-pix2pixhd-G.json"), seed + 30, lively=True),
         "img2flow_sky/latest_net_G.pth")
    save(official.iresnet50().state_dict(), "backbone.pth")   # the encoder's ArcFace start (overwritten)
    save({}, "79999_iter.pth")                                 # face parsing (inert here)
    return means


# -- the comparisons -------------------------------------------------------------------------

def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.float() - b.float()).abs().max())


def test_photo(size: int) -> np.ndarray:
    """A real landscape (the first reference sample), square, size x size uint8."""
    import cv2
    name = sorted(d for d in os.listdir(SAMPLES) if os.path.isdir(os.path.join(SAMPLES, d)))[0]
    img = cv2.cvtColor(cv2.imread(os.path.join(SAMPLES, name, f"{name}.png")), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), name


def sample_flow(name: str, half: int, gain: float) -> torch.Tensor:
    """The sample's motion (1, 2, 512, 512) times its mask, at half x half, px per frame there."""
    import cv2
    from cinegan_core.engines.stylegan_authors import resize_flow
    flow = torch.from_numpy(np.load(os.path.join(SAMPLES, name, f"{name}_motion.npy")).astype(np.float32))
    mask = cv2.imread(os.path.join(SAMPLES, name, f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
    mask = cv2.resize(mask, (flow.shape[-1], flow.shape[-2]), interpolation=cv2.INTER_AREA) / 255.0
    return resize_flow(flow * torch.from_numpy(mask.astype(np.float32)), half) * gain


def their_trainer(official: Official, folder: str, size: int):
    """The authors' encoder exactly as main.py loads it (utils/model_utils.load_fs_encoder),
    on CPU, its generator built at `size`."""
    opts, config = official.model_utils.set_encoder_args(official.path, folder, 9)
    config = dict(config, device="cpu")
    if size != 1024:
        config.update(resolution=size, enc_resolution=min(256, size))
        official.trainer.Trainer.init_stylegan = lambda self, cfg: official.p2s.Generator(size, 512, 8)
    t = official.trainer.Trainer(config, opts)
    t.initialize(opts.stylegan_model_path, opts.arcface_model_path, opts.parsing_model_path, opts.w_mean_path)
    t.load_model(opts.log_path)
    t.enc.eval()
    t.StyleGAN.eval()
    return t


@torch.no_grad()
def run(official: Official, size: int, frames: int, gain: float) -> dict:
    from cinegan_core.engines.stylegan import StyleGANEngine, identity_warp
    from cinegan_core.engines import stylegan_authors
    from cinegan_core.predictors.backbone import Backbone, Placement, to_tensor
    from cinegan_core.predictors.mask import MaskPredictor
    from cinegan_core.weights import load_networks

    folder = tempfile.mkdtemp(prefix="cinegan-parity-")
    res = {"size": size, "frames": frames, "device": "cpu", "dtype": "float32", "tolerance": TOLERANCE,
           "differences": {}, "scale": {}, "departures": [], "skipped": []}
    diffs, scale = res["differences"], res["scale"]
    try:
        means = write_standins(folder, size, official)
        n_latent = 2 * int(math.log2(size)) - 2
        nets = load_networks(folder, generator_kwargs={"size": size}, encoder_kwargs={"n_styles": n_latent})
        bb = Backbone(nets, "cpu", inject_resolution=128)  # method index 9, whatever the generator size
        ours_g = nets.generator
        theirs_g = official.sg2.Generator(size, 512, 8)
        theirs_g.load_state_dict(torch.load(os.path.join(folder, "stylegan2-pytorch/sg2-lhq-1024.pt"))["g_ema"])
        theirs_g.eval()
        gen = torch.Generator().manual_seed(7)

        # generator from a latent
        w = nets.mean_latent[:, None] + 0.7 * torch.randn(1, n_latent, 512, generator=gen)
        theirs, _ = theirs_g([w], input_is_latent=True, randomize_noise=False)
        ours = ours_g.synthesis(w)
        diffs["generator_latent"], scale["generator_latent"] = maxdiff(ours, theirs), float(theirs.abs().max())

        # the encoder (their Trainer: downscale, fs_encoder_v2, + their mean latent)
        photo, sample = test_photo(size)
        canvas = to_tensor(photo, "cpu")
        trainer = their_trainer(official, folder, size)
        _, _, w_theirs, f_theirs = trainer.test(img=canvas, return_latent=True)
        w_ours, f_ours = bb.invert(canvas)
        diffs["encoder_latent"], scale["encoder_latent"] = maxdiff(w_ours, w_theirs), float(w_theirs.abs().max())
        diffs["encoder_feature"], scale["encoder_feature"] = maxdiff(f_ours, f_theirs), float(f_theirs.abs().max())
        with_avg = w_ours - nets.mean_latent[:, None] + means["latent_avg"].reshape(1, 1, -1)
        res["departures"].append({
            "name": "mean latent", "ours_default_vs_theirs": diffs["encoder_latent"],
            "generator_latent_avg_vs_theirs": maxdiff(with_avg, w_theirs),
            "what": "the encoder adds sg2-lhq-1024-mean.pt (their Trainer.initialize); the generator's latent_avg "
                    "would differ by this much (kept only as a fallback when the mean file is absent)"})

        # generator from a feature at index 9: their encoder-side generator (features_in) keeps the skip
        feature = torch.randn(f_ours.shape, generator=gen)
        feats_in = [None] * 9 + [feature] + [None] * (n_latent - 10)
        theirs, _ = trainer.StyleGAN([w], input_is_latent=True, randomize_noise=False, features_in=feats_in)
        ours = ours_g.synthesis(w, feature, inject_resolution=bb.inject)
        diffs["generator_feature9"], scale["generator_feature9"] = maxdiff(ours, theirs), float(theirs.abs().max())
        del trainer

        # pix2pixHD motion predictor
        fnet = official.flow_networks.define_G(3, 2, 64, "global", 4, 9, 1, 3, "instance", gpu_ids=[])
        fnet.load_state_dict(torch.load(os.path.join(folder, "img2flow_sky/latest_net_G.pth")))
        fnet.eval()
        x = F.interpolate(canvas, size=(size // 2, size // 2), mode="area")
        theirs, ours = fnet(x), nets.flow_sky(x)
        diffs["flow_net"], scale["flow_net"] = maxdiff(ours, theirs), float(theirs.abs().max())
        del fnet

        # DatasetGAN classifiers (their loader: DataParallel, strict=False, 'module.' keys)
        theirs_c = []
        for i in range(10):
            c = torch.nn.DataParallel(official.pixel_classifier(numpy_class=3, dim=1472))
            c.load_state_dict(torch.load(os.path.join(folder, f"datasetgan/best_model_number_{i}.pth"))["model_state_dict"],
                              strict=False)
            theirs_c.append(c.eval())
        trunk = bb.trunk(w_ours, f_ours)
        if size == 1024:
            sg2dp = torch.nn.DataParallel(theirs_g)
            theirs_f = official.ip_utils.make_sg2_features_fs(sg2dp, w_ours, f_ours)
            layers = MaskPredictor(bb).layers(trunk)
            d = 0.0
            for y0 in range(0, 512, 64):
                d = max(d, maxdiff(MaskPredictor.pixel_features(layers, 512, y0, y0 + 64),
                                   theirs_f[y0 * 512:(y0 + 64) * 512]))
            diffs["classifier_features"], scale["classifier_features"] = d, float(theirs_f.abs().max())
            rows = theirs_f[::8].contiguous()
            del theirs_f
        else:
            res["skipped"].append("classifier_features: their make_sg2_features_fs hard-codes the 1024 "
                                  "generator's 1472 channels (run with --size 1024)")
            rows = torch.randn(32768, 1472, generator=gen)
        lt = torch.stack([c(rows) for c in theirs_c])
        lo = torch.stack([c(rows) for c in nets.classifiers])
        diffs["classifier_logits"], scale["classifier_logits"] = maxdiff(lo, lt), float(lt.abs().max())
        from cinegan_core.models.classifier import vote
        theirs_vote = torch.from_numpy(_mode_smallest(lt.argmax(2).numpy()))
        res["classifier_vote_mismatches"] = int((vote(nets.classifiers, rows) != theirs_vote).sum())

        # MSDFW: their warp_blend_feature vs our authors=True path, frame by frame
        half = size // 2
        flow = sample_flow(sample, half, gain)
        authors = StyleGANEngine(bb, authors=True)
        ours_frames = list(stylegan_authors.canvas_frames(bb, trunk, flow, frames))
        theirs_frames = []
        for t in range(frames):
            img, _ = theirs_g.warp_blend_feature(styles=[w_ours], feature=f_ours, idx=t, n_frames=frames, flow=flow,
                                                 mode="full", recon_feature_idx=9, warp_feature_idx=9,
                                                 input_is_latent=True, return_latents=True, randomize_noise=False)
            theirs_frames.append(img)
            diffs[f"warp_blend_feature[{t}]"] = maxdiff(ours_frames[t], img)
        scale["warp_blend_feature"] = max(float(f.abs().max()) for f in theirs_frames)
        assert authors.authors

        # our default on the same latent, feature and flow (no colour residual: theirs has none)
        field = F.interpolate(flow, size=(size, size), mode="bilinear", align_corners=False)[0].numpy() * 2.0
        moving = np.hypot(field[0], field[1]) > 0
        default = StyleGANEngine(bb)
        ours_default = list(default._our_canvas_frames(trunk, Placement(0, 0, size, size), moving, field, frames, None))
        recon = default.compose(trunk, identity_warp)
        res["departures"] += [
            {"name": "low-resolution RGB skip at the injection block",
             "ours_default_vs_theirs": maxdiff(recon, theirs_frames[0]),
             "ours_authors_vs_theirs": diffs["warp_blend_feature[0]"],
             "what": "frame 0 (no motion yet): we keep the generator's own RGB skip from below the injected block, "
                     "as the encoder's training forward does (pixel2style2pixel Generator with features_in); their "
                     "warp_blend_feature passes skip=None there"},
            {"name": "gather warp vs forward joint splatting with reflect padding; t/N vs t/(N-1); N-t vs N-1-t",
             "ours_default_vs_theirs": max(maxdiff(a, b) for a, b in zip(ours_default, theirs_frames)),
             "ours_authors_vs_theirs": max(diffs[f"warp_blend_feature[{t}]"] for t in range(frames)),
             "motion_only_ours_default_vs_theirs": max(maxdiff(a - ours_default[0], b - theirs_frames[0])
                                                       for a, b in zip(ours_default, theirs_frames)),
             "what": "all frames (motion_only: each frame minus its frame 0, which removes the static skip "
                     "difference); our default also has validity weights and a sharpened cross-over"},
            {"name": "loop stall",
             "theirs_last_vs_first": maxdiff(theirs_frames[-1], theirs_frames[0]),
             "ours_authors_last_vs_first": maxdiff(ours_frames[-1], ours_frames[0]),
             "ours_default_last_vs_first": maxdiff(ours_default[-1], ours_default[0]),
             "what": "their alpha = t/(N-1) with N-1-t backward steps makes frame N-1 equal frame 0, so every wrap "
                     "shows one frame twice; ours (t/N, N-t) reaches frame 0 only at the (unrendered) frame N"},
            {"name": "colour residual", "ours_default_vs_theirs": None, "ours_authors_vs_theirs": None,
             "what": "ours warps a low-pass (photo - reconstruction) with the frame; theirs has no counterpart "
                     "(authors=True leaves it out)"},
            {"name": "placement", "ours_default_vs_theirs": None, "ours_authors_vs_theirs": None,
             "what": "theirs crops the photo to a centred square; ours mirrors it onto the square canvas (both "
                     "engines' variants), so nothing of the photo is lost"},
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    res["max_difference"] = max(diffs.values())
    res["all_within_tolerance"] = res["max_difference"] <= TOLERANCE
    return res


def _mode_smallest(labels: np.ndarray) -> np.ndarray:
    """scipy.stats.mode over axis 0 as their predict_mask uses it: the most frequent
    label, ties to the smallest. labels (K, P) int -> (P,)."""
    counts = np.stack([(labels == c).sum(0) for c in range(int(labels.max()) + 1)])
    return counts.argmax(0)


# -- the golden numbers of tests/test_stylegan.py -----------------------------------------------

@torch.no_grad()
def golden(official: Official) -> dict:
    """The tiny generator of tests/test_stylegan.py (standins.formula_state values, no
    random numbers) run by the authors' classes: their Generator at 16 px with 8
    channels (narrowed through their own channels table), from a latent and from a
    feature injected at 16 (index 3) by their encoder-side generator."""
    import standins
    g_cls, p_cls = official.sg2.Generator, official.p2s.Generator

    def narrow(cls):
        class Narrow(cls):
            channels = property(lambda self: self.__dict__["_ch"],
                                lambda self, v: self.__dict__.__setitem__("_ch", {k: max(1, c // 64) for k, c in v.items()}))
        return Narrow

    theirs = narrow(g_cls)(16, 8, 2).eval()
    enc_side = narrow(p_cls)(16, 8, 2).eval()
    shapes = {k: list(v.shape) for k, v in theirs.state_dict().items()}
    state = standins.formula_state(shapes)
    theirs.load_state_dict(state)
    enc_side.load_state_dict(state)
    latent, feature = standins.formula_inputs(theirs.n_latent, 8, (1, 8, 8, 8))
    img, _ = theirs([latent], input_is_latent=True, randomize_noise=False)
    feats = [None] * 3 + [feature] + [None] * (theirs.n_latent - 4)
    img_f, _ = enc_side([latent], input_is_latent=True, randomize_noise=False, features_in=feats)
    pick = (slice(None), slice(None), slice(None, None, 5), slice(None, None, 5))
    return {"from_latent": [round(v, 6) for v in img[pick].flatten().tolist()],
            "from_feature": [round(v, 6) for v in img_f[pick].flatten().tolist()]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", required=True, help="checkout of github.com/jeolpyeoni/StyleCineGAN")
    ap.add_argument("--size", type=int, default=256, choices=(256, 512, 1024), help="generator size (1024 = real)")
    ap.add_argument("--frames", type=int, default=6, help="loop length for the warp comparison")
    ap.add_argument("--gain", type=float, default=2.0, help="factor on the sample motion (px per frame at size/2)")
    ap.add_argument("--golden", action="store_true", help="print the tiny generator's golden numbers and exit")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    official = Official(a.official)
    if a.golden:
        print(json.dumps(golden(official)))
        return
    res = run(official, a.size, a.frames, a.gain)
    if a.json:
        print(json.dumps(res))
        return
    for k, v in res.items():
        if isinstance(v, dict):
            print(f"{k}:")
            for kk, vv in v.items():
                print(f"  {kk:28s} {vv}")
        elif isinstance(v, list):
            print(f"{k}:")
            for item in v:
                print(f"  - {item}")
        else:
            print(f"{k:30s} {v}")


if __name__ == "__main__":
    main()
