"""DatasetGAN per-pixel classifiers (sky / fluid / other) on generator features.

Each classifier is an MLP over the concatenated generator activations of one
pixel (1472 values: the injected 64x64 feature and the eight styled
convolutions after it, all resized to 512x512). Ten of them vote.
"""
from __future__ import annotations

import torch
from torch import nn

OTHER, SKY, FLUID = 0, 1, 2


class PixelClassifier(nn.Module):
    """(P, dim) features -> (P, n_classes) logits. State-dict names ``layers.0 .. layers.6``."""

    def __init__(self, dim: int = 1472, n_classes: int = 3):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 128), nn.ReLU(), nn.BatchNorm1d(128),
            nn.Linear(128, 32), nn.ReLU(), nn.BatchNorm1d(32),
            nn.Linear(32, n_classes))

    def forward(self, x):
        return self.layers(x)


@torch.no_grad()
def vote(classifiers, features: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Majority vote of the classifiers over (P, dim) features -> (P,) int64 labels
    (ties go to the lower class)."""
    n_classes = classifiers[0].layers[-1].out_features
    counts = torch.zeros(features.shape[0], n_classes, dtype=torch.int32, device=features.device)
    for start in range(0, features.shape[0], chunk):
        part = features[start: start + chunk]
        for c in classifiers:
            counts[start: start + chunk].scatter_add_(
                1, c(part).argmax(1, keepdim=True), torch.ones(part.shape[0], 1, dtype=torch.int32,
                                                               device=features.device))
    return counts.argmax(1)
