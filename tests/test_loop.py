"""Integration and the loop policy (cinegan_core/loop.py)."""
import numpy as np
import pytest
import torch

from cinegan_core.loop import (LoopPolicy, StepCounter, backward_sources, cycle_bounds, cycle_count,
                               distortion_weight, euler_step, field_derivatives, forward_sources, trace,
                               validity_map)
from cinegan_core.engines.pixel import PixelEngine
from cinegan_core.motion import Ripple, ripple_cycles
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


def test_jacobian_is_carried_exactly_for_a_linear_field():
    """v(p) = A p: after k Euler steps the Jacobian of the trace is (I + sign A)^k."""
    h, w = 40, 50
    A = torch.tensor([[0.02, -0.01], [0.015, -0.03]])
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    field = torch.einsum("ij,jyx->iyx", A, torch.stack([xs, ys]))[None]
    state = torch.tensor([[20.0, 18.0, 1, 0, 0, 1], [31.0, 22.0, 1, 0, 0, 1]])
    grad = field_derivatives(field)
    for sign in (1.0, -1.0):
        s = state
        for _ in range(6):
            s = euler_step(s, grad, sign)
        expect = torch.linalg.matrix_power(torch.eye(2) + sign * A, 6)
        assert torch.allclose(s[:, 2:].reshape(-1, 2, 2), expect.expand(2, 2, 2), atol=1e-5)
        assert torch.allclose(s[:, :2], trace(state[:, :2], field, sign, 6), atol=1e-4)


def test_distortion_weight_prefers_the_less_magnified_source():
    def state(j):
        return torch.tensor([[0.0, 0.0, *j]])
    same = distortion_weight(state([1.0, 0.0, 0.0, 1.0]))
    stretched = distortion_weight(state([0.7, 0.0, 0.0, 1.0]))   # content magnified 1.4x along x
    squeezed = distortion_weight(state([1.4, 0.0, 0.0, 1.0]))
    sheared = distortion_weight(state([1.0, 0.5, 0.0, 1.0]))
    assert same.item() == pytest.approx(1.0)
    assert stretched.item() < squeezed.item() < 1.0 and sheared.item() < 1.0


def test_validity_is_open_at_the_image_border_and_closed_at_mask_edges():
    mask = sky_mask(40, 60)
    v = validity_map(mask)
    assert (v[0] == 1).all() and (v[:15, 0] == 1).all() and (v[:15, -1] == 1).all()  # borders: open
    assert (v[~mask] == 0).all() and v[19].max() < 0.5 and v[15].min() == 1             # mask edge: ramp


def _uniform(h, w, vx, vy=0.0):
    field = torch.zeros(1, 2, h, w)
    field[0, 0], field[0, 1] = vx, vy
    return field


def _grid(h, w):
    ys, xs = np.mgrid[0:h, 0:w]
    return torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32))


def _smooth_scene(seed, px, h=30, w=44):
    """(field (1, 2, h, w) smooth random motion of about `px` px a frame, valid (1, 1, h, w) of a
    mask with a frozen notch at the bottom, start (K, 2) its moving pixels)."""
    g = torch.Generator().manual_seed(seed)
    field = torch.nn.functional.avg_pool2d(torch.randn(1, 2, h, w, generator=g), 9, 1, 4) * px
    mask = np.ones((h, w), bool)
    mask[18:, 10:20] = False
    valid = torch.from_numpy(validity_map(mask))[None, None]
    return field, valid, _grid(h, w)[torch.from_numpy(mask.ravel())]


@pytest.mark.parametrize("n", [5, 24])
def test_policy_frames_match_the_straightforward_computation(n):
    field, valid, start = _smooth_scene(seed=1, px=3.0)
    policy = LoopPolicy(n, coarse_side=16)
    frames = list(policy.frames(start, field, valid))
    assert len(frames) == n
    for t in sorted({0, 1, n // 2, n - 1}):
        ref = LoopPolicy(n, coarse_side=16).frame(t, start, field, valid)
        for a in ("fwd", "bwd", "w_fwd", "w_bwd", "w_still"):
            assert torch.allclose(getattr(frames[t], a), getattr(ref, a), atol=1e-4), (t, a)
    first = frames[0]
    assert torch.equal(first.fwd, start) and (first.w_bwd == 0).all()
    total = first.w_fwd + first.w_bwd + first.w_still
    assert torch.allclose(total, torch.ones_like(total))


def test_still_photo_shows_only_where_no_source_is_usable():
    """The still photo is a fallback, not a constant share under the moving content (a static
    share held the measured drift back): none where a source is fully valid; the weights
    still sum to 1."""
    h, w, n = 30, 44, 20
    mask = np.ones((h, w), bool)
    mask[:, 30:] = False                       # a frozen wall downstream, the rest moves right
    valid = torch.from_numpy(validity_map(mask))[None, None]
    start = _grid(h, w)[torch.from_numpy(mask.ravel())]
    field = _uniform(h, w, 1.0, 0.0) * torch.from_numpy(mask)[None, None]
    for lf in LoopPolicy(n, coarse_side=16).frames(start, field, valid):
        total = lf.w_fwd + lf.w_bwd + lf.w_still
        assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
        free = (start[:, 0] >= 10) & (start[:, 0] <= 20)   # both sources inside the moving area or open border
        if lf.t in (0, n // 2):
            assert lf.w_still[free].max() < 1e-4, lf.t


def test_coarse_work_of_the_policy_is_linear_in_frames():
    h, w = 30, 44
    start, field = _grid(h, w), _uniform(h, w, 0.7, 0.2)
    valid = torch.ones(1, 1, h, w)
    steps = {}
    for n in (20, 80):
        policy = LoopPolicy(n, coarse_side=16)
        list(policy.frames(start, field, valid))
        steps[n] = policy.coarse_counter.steps
    assert steps[80] <= 4.2 * steps[20] and steps[80] <= 5 * 80


def test_staggered_cross_over_keeps_few_points_mid_fade():
    """With one global cross-fade the whole region is double exposed mid-loop; staggered,
    only a small share of the points is mid-fade in any frame, and every point still
    goes from the forward source alone (t = 0) to the backward source (t near n)."""
    h, w, n = 64, 96, 48
    start, field = _grid(h, w), _uniform(h, w, 1.5)
    valid = torch.ones(1, 1, h, w)

    def mixed(policy):
        return [((lf.w_bwd > 0.15) & (lf.w_fwd > 0.15)).float().mean().item()
                for lf in policy.frames(start, field, valid)]

    staggered = mixed(LoopPolicy(n, distortion=False))
    everyone = mixed(LoopPolicy(n, stagger=False, distortion=False))
    assert max(everyone) > 0.95
    assert max(staggered) < 0.45 and np.mean(staggered) < 0.2
    last = list(LoopPolicy(n).frames(start, field, valid))[-1]
    assert last.w_bwd.min() > 0.9


def test_phase_is_nearly_constant_along_the_flow():
    """A uniform rightward drift: the cross-over time varies across the flow (rows), much
    less along it (columns), so content keeps its phase as it travels."""
    h, w, n = 64, 128, 60
    policy = LoopPolicy(n, coarse_side=128)
    coarse, _ = policy._coarse(_uniform(h, w, 2.0))
    phase = policy.phase_map(coarse)[0, 0].numpy()
    along = np.abs(np.diff(phase, axis=1)).mean()
    across = np.abs(np.diff(phase, axis=0)).mean()
    assert across > 3 * along
    assert phase.min() >= policy.fade / 2 - 1e-6 and phase.max() <= 1 - policy.fade / 2 + 1e-6


def test_ripple_offset_is_zero_at_the_start_and_periodic():
    h, w, n = 20, 30, 40
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 2, h, w)).astype(np.float32)
    ripple = Ripple(basis, np.array([[0.3, 0.95], [-0.3, 0.95], [0.0, 1.0]], np.float32), ripple_cycles(n))
    start = _grid(h, w)
    policy = LoopPolicy(n)
    parts = policy._ripple_parts(ripple, start)
    assert policy.ripple_offset(parts, 0).abs().max() == 0
    assert policy.ripple_offset(parts, n).abs().max() < 1e-4
    assert torch.allclose(policy.ripple_offset(parts, 7), policy.ripple_offset(parts, 7 + n), atol=1e-4)
    assert min(policy.ripple_offset(parts, t).abs().max().item() for t in range(1, n)) > 0.05  # never all at rest
    frames = list(policy.frames(start, torch.zeros(1, 2, h, w), torch.ones(1, 1, h, w), ripple=ripple))
    assert all(torch.equal(f.fwd, f.bwd) for f in frames)  # a ripple needs no cross-fade
    assert torch.allclose(frames[5].fwd - start, policy.ripple_offset(parts, 5), atol=1e-5)


def test_cycle_bounds_and_count():
    assert cycle_bounds(60, 1) == [0, 60] and cycle_bounds(60, 5) == [0, 12, 24, 36, 48, 60]
    assert cycle_bounds(47, 3) == [0, 16, 31, 47]                      # a prime loop still closes at n
    assert cycle_count(length=1000.0, speed=1.0, n=60) == 1            # a wide sky: one cycle
    # a fall 100 px tall at 3 px a frame travels 180 px in 60 frames: 5 cycles of 36 px (<= 0.4 x 100)
    assert cycle_count(length=100.0, speed=3.0, n=60) == 5
    assert cycle_count(length=10.0, speed=9.0, n=60) == 60 // 12       # never cycles shorter than 12 frames
    assert cycle_count(length=0.0, speed=3.0, n=60) == 1 and cycle_count(100.0, 0.0, 60) == 1


@pytest.mark.parametrize("n", [24, 25])
def test_cycles_loop_a_region_several_times_and_match_the_straightforward_computation(n):
    """Points with k cycles restart from the photo at every cycle's start, are traced only
    within their cycle, and frames() matches frame(); the other points loop once."""
    h, w = 30, 44
    field, valid, start = _smooth_scene(seed=2, px=2.0, h=h, w=w)
    cycles = torch.ones(1, 1, h, w)
    cycles[..., :, 22:] = 3
    fast = start[:, 0] >= 22
    bounds = cycle_bounds(n, 3)
    frames = list(LoopPolicy(n, coarse_side=16).frames(start, field, valid, cycles=cycles))
    assert len(frames) == n
    for t in sorted({0, 1, bounds[1] - 1, bounds[1], bounds[1] + 3, n // 2, n - 1}):
        ref = LoopPolicy(n, coarse_side=16).frame(t, start, field, valid, cycles=cycles)
        for a in ("fwd", "bwd", "w_fwd", "w_bwd", "w_still"):
            assert torch.allclose(getattr(frames[t], a), getattr(ref, a), atol=1e-4), (t, a)
        total = frames[t].w_fwd + frames[t].w_bwd + frames[t].w_still
        assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    for b in bounds[:-1]:                      # every cycle of the fast points starts on the photo
        lf = frames[b]
        assert torch.equal(lf.fwd[fast], start[fast]) and (lf.w_bwd[fast] == 0).all()
    # within a cycle the forward source has travelled at most that cycle's frames
    lf = frames[bounds[1] + 3]
    speed = float(field.abs().max())
    assert float((lf.fwd[fast] - start[fast]).norm(dim=1).max()) <= 3 * speed * 2 ** 0.5 + 1e-4
    assert float((lf.fwd[~fast] - start[~fast]).norm(dim=1).max()) > 3 * speed * 2 ** 0.5  # slow points: whole loop
    plain = list(LoopPolicy(n, coarse_side=16).frames(start, field, valid))
    same = list(LoopPolicy(n, coarse_side=16).frames(start, field, valid, cycles=torch.ones(1, 1, h, w)))
    for a, b in zip(plain, same):              # one cycle everywhere is the plain loop, bit for bit
        assert torch.equal(a.fwd, b.fwd) and torch.equal(a.w_fwd, b.w_fwd) and torch.equal(a.w_bwd, b.w_bwd)
