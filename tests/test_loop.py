import numpy as np
import pytest
import torch

from cinegan_core.loop import StepCounter, backward_sources, forward_sources, loop_alpha, trace
from cinegan_core.engines.pixel import PixelEngine
from conftest import sky_mask, textured


@pytest.fixture
def field_and_points():
    g = torch.Generator().manual_seed(0)
    field = torch.randn(1, 2, 20, 30, generator=g) * 0.7
    points = torch.rand(64, 2, generator=g) * torch.tensor([29.0, 19.0])
    return field, points


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 31, 60])
def test_incremental_sources_match_reference_integration(field_and_points, n):
    field, points = field_and_points
    fwd = list(forward_sources(points, field, n))
    bwd = list(backward_sources(points, field, n))
    assert len(fwd) == len(bwd) == n
    for t in range(n):
        assert torch.allclose(fwd[t], trace(points, field, -1.0, t), atol=1e-5)
        assert torch.allclose(bwd[t], trace(points, field, +1.0, n - t), atol=1e-5)


def test_integration_is_linear_in_frames(field_and_points):
    field, points = field_and_points
    counts = {}
    for n in (30, 60, 120, 240):
        c = StepCounter()
        list(forward_sources(points, field, n, c))
        list(backward_sources(points, field, n, c))
        counts[n] = c.steps
        assert c.steps <= 3 * n  # a per-frame re-integration would need n * (n + 1) steps
    assert counts[240] <= 2.1 * counts[120] and counts[120] <= 2.1 * counts[60]


def test_engine_counts_linear_steps():
    img, mask = textured(24, 32), sky_mask(24, 32)
    field = np.zeros((2, 24, 32), np.float32)
    field[0][mask] = 0.8
    for n in (10, 40):
        c = StepCounter()
        list(PixelEngine().frames(img, mask, field, n, counter=c))
        assert n <= c.steps <= 3 * n


def test_loop_alpha():
    for p in (1.0, 2.0, 3.0):
        a = [loop_alpha(t, 10, p) for t in range(11)]
        assert a[0] == 0.0 and a[-1] == 1.0 and abs(a[5] - 0.5) < 1e-12
        assert all(x < y for x, y in zip(a, a[1:]))
    assert loop_alpha(3, 10) == 0.3
