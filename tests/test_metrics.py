"""Forecast metrics: agreement with the_well, limiting cases, divergence and rollouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workflow_scripts.metrics import (
    autoregressive_rollout,
    field_metrics,
    mean_abs_divergence,
    mse_skill_score,
    nrmse,
    pearson_r,
    rollout_metrics,
    vrmse,
)
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.spectral import gradient, grid

NX, NY = 16, 32


def _pair(*lead: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(*lead, 4, NX, NY, generator=g, dtype=torch.float64)
    # Fields with different offsets and scales, as the physical channels have.
    scale = torch.tensor([1.0, 0.05, 3.0, 0.2], dtype=torch.float64)[:, None, None]
    target = target * scale + torch.tensor([0.5, 0.0, -1.0, 2.0])[:, None, None]
    prediction = target + 0.3 * scale * torch.randn(target.shape, generator=g, dtype=target.dtype)
    return prediction, target


def _well_meta():
    from the_well.data.datasets import WellMetadata

    return WellMetadata(
        dataset_name="shear_flow",
        n_spatial_dims=2,
        spatial_resolution=(NX, NY),
        scalar_names=[],
        constant_scalar_names=["Reynolds", "Schmidt"],
        field_names={0: ["tracer", "pressure"], 1: ["velocity_x", "velocity_y"]},
        constant_field_names={0: [], 1: [], 2: []},
        boundary_condition_types=["PERIODIC", "PERIODIC"],
        n_files=1,
        n_trajectories_per_file=[1],
        n_steps_per_trajectory=[1],
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_vrmse_and_nrmse_match_the_well(dtype: torch.dtype) -> None:
    well = pytest.importorskip("the_well.benchmark.metrics")
    prediction, target = (t.to(dtype) for t in _pair(3, 2))  # (B, T, C, nx, ny)
    meta = _well_meta()
    # the_well wants channels last: (..., nx, ny, C); it returns (..., C).
    channels_last = (prediction.movedim(-3, -1), target.movedim(-3, -1), meta)
    theirs_v = well.VRMSE()(*channels_last)
    theirs_n = well.NRMSE()(*channels_last)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(vrmse(prediction, target), theirs_v, rtol=tol, atol=tol)
    torch.testing.assert_close(nrmse(prediction, target), theirs_n, rtol=tol, atol=tol)
    # Field average as the_well reports it (mean over the channel axis).
    metrics = field_metrics(prediction, target)
    assert metrics["vrmse"] == pytest.approx(float(theirs_v.mean()), rel=tol)
    for c, name in enumerate(FIELD_NAMES):
        assert metrics[f"vrmse_{name}"] == pytest.approx(float(theirs_v[..., c].mean()), rel=tol)


def test_limiting_cases() -> None:
    prediction, target = _pair(5)
    n = NX * NY
    mean_prediction = target.mean(dim=(-2, -1), keepdim=True).expand_as(target)
    # Unbiased variance in the denominator, as in the_well: sqrt((N − 1)/N) ≈ 1, less a little
    # for the eps = 1e-7 added to the variance (visible for the small-variance pressure).
    variance = target.var(dim=(-2, -1))
    expected = ((n - 1) / n * variance / (variance + 1e-7)).sqrt()
    torch.testing.assert_close(vrmse(mean_prediction, target), expected)
    assert (expected - 1).abs().max() < 1e-3
    assert vrmse(target, target).abs().max() == 0
    torch.testing.assert_close(pearson_r(target, target), torch.ones(5, 4).double())
    perfect = field_metrics(target, target)
    assert perfect["vrmse"] == 0 and perfect["nrmse"] == 0
    assert perfect["pearson"] == pytest.approx(1.0)
    assert perfect["divergence"] == perfect["divergence_target"]
    # The target's own variance, not the prediction's: a scaled-down prediction is not rewarded.
    assert float(vrmse(0.1 * target, target).mean()) > 0.5


def test_nrmse_matches_numpy() -> None:
    prediction, target = _pair(2)
    p, t = prediction.numpy(), target.numpy()
    expected = np.sqrt(((p - t) ** 2).mean(axis=(-2, -1)) / ((t**2).mean(axis=(-2, -1)) + 1e-7))
    np.testing.assert_allclose(nrmse(prediction, target).numpy(), expected, rtol=1e-12)


def test_pearson_is_affine_invariant() -> None:
    prediction, target = _pair(3)
    r = pearson_r(prediction, target)
    assert (r > 0.5).all() and (r <= 1).all()
    torch.testing.assert_close(pearson_r(2.5 * prediction - 7.0, target), r)
    torch.testing.assert_close(pearson_r(prediction, 0.1 * target + 3.0), r)
    torch.testing.assert_close(pearson_r(-prediction, target), -r)


def test_mean_abs_divergence() -> None:
    x, y = grid(NX, NY)
    # Divergence-free from a stream function ψ: u = (∂y ψ, −∂x ψ).
    psi = torch.sin(2 * math.pi * x) * torch.cos(math.pi * y) + 0.3 * torch.cos(4 * math.pi * x)
    dpsi_dx, dpsi_dy = gradient(psi)
    assert float(mean_abs_divergence(dpsi_dy, -dpsi_dx)) < 1e-12
    # u = (sin 2πx, 0): ∇·u = 2π cos 2πx, whose mean modulus is 2π · 2/π = 4.
    u = torch.sin(2 * math.pi * x).expand(NX, NY)
    value = mean_abs_divergence(u[None, None], torch.zeros(1, 1, NX, NY, dtype=u.dtype))
    assert value.shape == (1, 1)
    # Exact on the grid (spectral derivative); the 16-point mean of |cos| is close to 2/π.
    discrete = 2 * math.pi * np.abs(np.cos(2 * np.pi * np.arange(NX) / NX)).mean()
    assert float(value) == pytest.approx(discrete, rel=1e-12)
    assert float(value) == pytest.approx(4.0, rel=2e-2)


def test_rollout_closed_form_and_feedback() -> None:
    b, n_in, c = 2, 4, 3
    history = torch.arange(n_in, dtype=torch.float64)[None, :, None, None, None]
    history = history.expand(b, n_in, c, 4, 6).clone() + torch.randn(b, 1, c, 4, 6)

    def last_plus_one(window: torch.Tensor) -> torch.Tensor:
        assert window.shape == (b, n_in * c, 4, 6)
        return window[:, -c:] + 1.0  # time-major: the last frame is the last C channels

    out = autoregressive_rollout(last_plus_one, history, 6)
    assert out.shape == (b, 6, c, 4, 6)
    expected = history[:, -1:] + torch.arange(1, 7, dtype=torch.float64)[None, :, None, None, None]
    torch.testing.assert_close(out, expected)

    out = autoregressive_rollout(lambda w: w[:, -c:], history, 3)
    torch.testing.assert_close(out, history[:, -1:].expand(b, 3, c, 4, 6))

    # Frames leave the window in order: the first frame of the window, shifted by 4 each time.
    out = autoregressive_rollout(lambda w: w[:, :c] + n_in, history, 8)
    torch.testing.assert_close(out[:, :4], history + 4)
    torch.testing.assert_close(out[:, 4:], history + 8)
    assert autoregressive_rollout(last_plus_one, history, 0).shape == (b, 0, c, 4, 6)


def test_rollout_metrics_shapes_and_keys() -> None:
    prediction, target = _pair(2, 5)
    metrics = rollout_metrics(prediction, target)
    expected = {"vrmse", "pearson", "divergence", "divergence_target"}
    expected |= {f"{k}_{name}" for k in ("vrmse", "pearson") for name in FIELD_NAMES}
    assert set(metrics) == expected
    assert all(isinstance(v, list) and len(v) == 5 for v in metrics.values())
    per_step = vrmse(prediction, target).mean(dim=0)
    np.testing.assert_allclose(metrics["vrmse"], per_step.mean(dim=1).numpy())
    np.testing.assert_allclose(metrics["vrmse_pressure"], per_step[:, 1].numpy())
    field = field_metrics(prediction, target)
    assert np.mean(metrics["vrmse"]) == pytest.approx(field["vrmse"])
    assert np.mean(metrics["divergence"]) == pytest.approx(field["divergence"])


def test_mse_skill_score_against_persistence() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(5, 4, 8, 16, generator=generator)
    reference = target + 0.1 * torch.randn(target.shape, generator=generator)
    assert mse_skill_score(target, reference, target)["skill"] == 1.0
    assert mse_skill_score(reference, reference, target)["skill"] == 0.0
    # half the reference's error everywhere: a quarter of its squared error, skill 3/4
    half = target + 0.5 * (reference - target)
    scores = mse_skill_score(half, reference, target)
    for name in FIELD_NAMES:
        assert scores[f"skill_{name}"] == pytest.approx(0.75, abs=1e-6)
    assert mse_skill_score(2 * reference - target, reference, target)["skill"] == pytest.approx(-3)
