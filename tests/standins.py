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


def random_state(shapes: dict[str, list[int]], seed: int = 0, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Random tensors of the listed shapes, with values that keep a network numerically sane."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            out[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            out[name] = torch.ones(shape)
        elif name.endswith(("running_mean", "bias")) or "noise.weight" in name:
            out[name] = torch.zeros(shape)
        elif name.endswith("kernel"):
            k = torch.tensor([1.0, 3.0, 3.0, 1.0])
            out[name] = (k[None] * k[:, None]) / 16 * 4
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
    enc = FeatureStyleEncoder(**TINY_ENCODER)
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
