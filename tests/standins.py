"""Stand-in checkpoints for the stylegan engine, built from the manifests of the
authors' files (tests/manifests: every tensor name and shape, copied from
shared/data/manifests), with random values, saved in the same containers as
the real ones. Also tiny networks for fast end-to-end tests."""
from __future__ import annotations

import argparse
import json
import os

import torch

MANIFESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifests")


def manifest(name: str) -> dict[str, list[int]]:
    with open(os.path.join(MANIFESTS, name)) as fh:
        return json.load(fh)


def random_state(shapes: dict[str, list[int]], seed: int = 0, scale: float = 1.0,
                 lively: bool = False) -> dict[str, torch.Tensor]:
    """Random tensors of the listed shapes, with values that keep a network numerically sane.

    lively: also give biases, noise strengths, norm statistics and norm weights small
    random values (instead of 0 / 1), so that every term of a forward pass matters
    (used by bench/parity.py to compare with the authors' code)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(0)
        elif lively and name.endswith("running_var"):
            out[name] = 1.0 + 0.2 * torch.rand(shape, generator=g)
        elif lively and (name.endswith(("running_mean", "bias")) or "noise.weight" in name):
            out[name] = 0.1 * torch.randn(shape, generator=g)
        elif lively and len(shape) == 1 and not name.endswith("kernel"):  # norm weights, PReLU slopes
            base = 0.25 if "prelu" in name or name.endswith(("conv.2.weight",)) else 1.0
            out[name] = base * (1.0 + 0.1 * torch.randn(shape, generator=g))
        elif name.endswith("running_var"):
            out[name] = torch.ones(shape)
        elif name.endswith(("running_mean", "bias")) or "noise.weight" in name:
            out[name] = torch.zeros(shape)
        elif name.endswith("kernel"):
            k = torch.tensor([1.0, 3.0, 3.0, 1.0])
            out[name] = (k[None] * k[:, None]) / 64 * 4  # make_kernel (sum 1) times factor ** 2
        elif len(shape) <= 1:  # norm weights, PReLU slopes
            out[name] = torch.ones(shape) * (0.25 if "prelu" in name or name.endswith(("conv.2.weight",)) else 1.0)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
            w = torch.randn(shape, generator=g)
            is_stylegan = name.startswith(("style.", "conv", "to_rgb", "input."))
            out[name] = w if is_stylegan else w * (scale / fan_in ** 0.5)
    return out


def write_real_layout(folder: str, *, flows: bool = True, classifiers: int = 10, seed: int = 0) -> dict[str, str]:
    """Write full-size stand-ins in the authors' pretrained_models/ layout. Returns paths."""
    paths = {}

    def save(obj, rel):
        p = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        torch.save(obj, p)
        paths[rel] = p

    g = random_state(manifest("sg2-lhq-1024.g_ema.json"), seed)
    args = argparse.Namespace(size=1024, latent=512, n_mlp=8, channel_multiplier=2, arch="stylegan2")
    save({"g_ema": g, "args": args, "latent_avg": torch.randn(512) * 0.1}, "stylegan2-pytorch/sg2-lhq-1024.pt")
    del g
    save(torch.randn(1, 512) * 0.1, "stylegan2-pytorch/sg2-lhq-1024-mean.pt")
    save(random_state(manifest("fs-encoder-lhq-k9.enc.json"), seed + 1, scale=0.5), "logs/lhq_k9/enc.pth.tar")
    for i in range(classifiers):
        sd = random_state(manifest("datasetgan-pixel-classifier.json"), seed + 10 + i)
        save({"model_state_dict": {f"module.{k}": v for k, v in sd.items()}}, f"datasetgan/best_model_number_{i}.pth")
    if flows:
        for name in ("img2flow_sky", "img2flow_fluid"):
            save(random_state(manifest("img2flow-pix2pixhd-G.json"), seed + 30), f"{name}/latest_net_G.pth")
    return paths


# tiny networks: a 64x64 generator, an encoder with one block per stage, tiny flow nets
TINY_GENERATOR = dict(size=64, style_dim=32, n_mlp=2, narrow=1 / 16)
TINY_ENCODER = dict(n_styles=10, style_dim=32, widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), feature_channels=32)
TINY_FLOW = dict(ngf=4, n_down=2, n_blocks=1)
TINY_INJECT = 16
TINY_CLASSIFIER_DIM = 32 * 7  # seven layers of 32 channels: the 8x8 feature, two convs at 16, 32 and 64


def write_tiny(folder: str, seed: int = 0, classifiers: int = 3, flows: bool = True) -> None:
    """Tiny networks in the real containers (same file names), for fast engine tests."""
    from cinegan_core.models.classifier import PixelClassifier
    from cinegan_core.models.encoder import FeatureStyleEncoder
    from cinegan_core.models.pix2pixhd import GlobalGenerator
    from cinegan_core.models.stylegan2 import Generator
    torch.manual_seed(seed)
    g = Generator(**TINY_GENERATOR)

    def save(obj, rel):
        p = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        torch.save(obj, p)

    save({"g_ema": g.state_dict(), "args": argparse.Namespace(size=64), "latent_avg": g.mean_latent(256)[0]},
         "stylegan2-pytorch/sg2-lhq-1024.pt")
    enc = FeatureStyleEncoder(**TINY_ENCODER).eval()
    with torch.no_grad():  # a unit-scale feature, like the generator's own activations (a trained encoder's)
        _, feature = enc(torch.rand(1, 3, 2 * TINY_INJECT, 2 * TINY_INJECT) * 2 - 1)
        enc.content_layer[5].weight /= feature.std()
    save(enc.state_dict(), "logs/lhq_k9/enc.pth.tar")
    for i in range(classifiers):
        c = PixelClassifier(dim=TINY_CLASSIFIER_DIM)
        save({"model_state_dict": {f"module.{k}": v for k, v in c.state_dict().items()}},
             f"datasetgan/best_model_number_{i}.pth")
    if flows:
        for name in ("img2flow_sky", "img2flow_fluid"):
            save(GlobalGenerator(**TINY_FLOW).state_dict(), f"{name}/latest_net_G.pth")


def tiny_networks(folder: str):
    from cinegan_core.weights import load_networks
    return load_networks(folder, generator_kwargs=TINY_GENERATOR, encoder_kwargs=TINY_ENCODER,
                         classifier_dim=TINY_CLASSIFIER_DIM, flow_kwargs=TINY_FLOW)


def formula_state(shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Deterministic, RNG-free values for a state dict (same on every machine and torch
    version): weights sin(a_j * i + b_j) with per-tensor a_j, b_j; biases, noise
    strengths and norm terms a tenth of that around 0 (norm weights around 1); FIR
    kernels the real [1, 3, 3, 1] ones. For the golden numbers of the tiny generator."""
    out = {}
    for j, (name, shape) in enumerate(sorted(shapes.items())):
        n = int(torch.tensor(shape).prod()) if shape else 1
        wave = torch.sin(torch.arange(n, dtype=torch.float64) * (0.6180339887 + 0.0137 * j) + 0.5 * j)
        if name.endswith("kernel"):
            k = torch.tensor([1.0, 3.0, 3.0, 1.0])
            out[name] = (k[None] * k[:, None]) / 64 * 4  # make_kernel (sum 1) times factor ** 2
            continue
        if name.endswith("bias") or "noise.weight" in name:
            wave = 0.1 * wave
        elif len(shape) == 1:
            wave = 1.0 + 0.1 * wave
        else:
            wave = wave * 1.4142
        out[name] = wave.to(torch.float32).reshape(shape)
    return out


def formula_inputs(n_latent: int, style_dim: int, feature_shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """RNG-free W+ latent (1, n_latent, style_dim) and feature of the given shape."""
    k = torch.arange(n_latent * style_dim, dtype=torch.float64)
    latent = torch.cos(k * 0.7548776662 + 0.3).reshape(1, n_latent, style_dim)
    m = torch.arange(int(torch.tensor(feature_shape).prod()), dtype=torch.float64)
    feature = 1.5 * torch.sin(m * 0.5698402910 + 1.1).reshape(feature_shape)
    return latent.float(), feature.float()
