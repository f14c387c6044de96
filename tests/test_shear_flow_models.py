"""Shear-flow forecasters (U-Net, FNO, divergence-free FNO, flow matching) and physics penalty."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workflow_scripts.measurement import count_flops, count_parameters
from workflow_scripts.models.flow_matching import (
    STAGES_PER_STEP,
    FlowMatchingForecaster,
    NoisyCondOTPath,
    pool_fields,
    unet_vector_field,
    upsample_periodic,
)
from workflow_scripts.models.fno import DivergenceFreeOutput, FNOForecaster
from workflow_scripts.models.increment import IncrementOutput
from workflow_scripts.models.unet import PeriodicConv2d, UNet, periodic_pad
from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.shear_flow import initial_condition, simulate
from workflow_scripts.physics.shear_flow_penalty import shear_flow_penalty, tracer_diffusivity
from workflow_scripts.physics.spectral import divergence, gradient

# The Well's shear_flow statistics (train split), in FIELD_NAMES order.
MEAN = torch.tensor([2.3845e-3, -1.23e-9, 2.3845e-3, -1.73e-7])
STD = torch.tensor([3.5828e-1, 8.2052e-2, 4.0194e-1, 1.0421e-1])
RESOLUTIONS = [(16, 32), (32, 64)]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "unet":
        return UNet(16, 4)
    if name == "fno":
        return FNOForecaster(16, 4)
    if name == "fno_divfree":
        return DivergenceFreeOutput(FNOForecaster(16, 4), mean=MEAN, std=STD)
    if name == "flow_matching":
        return FlowMatchingForecaster(unet_vector_field())
    raise KeyError(name)


MODEL_NAMES = ["unet", "fno", "fno_divfree", "flow_matching"]


def smooth_fields(nx: int, ny: int, channels: int = 16, batch: int = 2, seed: int = 1) -> Tensor:
    """A band-limited periodic field (|kx|, ky ≤ 2) sampled exactly on an nx × ny grid."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.arange(nx)[:, None] / nx
    y = torch.arange(ny)[None, :] * (2.0 / ny) - 1.0
    out = torch.zeros(batch, channels, nx, ny)
    for kx in range(-2, 3):
        for ky in range(3):
            amplitude = torch.randn(batch, channels, 1, 1, generator=generator)
            phase = 2 * math.pi * torch.rand(batch, channels, 1, 1, generator=generator)
            out += amplitude * torch.cos(2 * math.pi * kx * x + math.pi * ky * y + phase)
    return out / 3


def physical_velocity(output: Tensor) -> tuple[Tensor, Tensor]:
    ix, iy = FIELD_NAMES.index("velocity_x"), FIELD_NAMES.index("velocity_y")
    return output[:, ix] * STD[ix] + MEAN[ix], output[:, iy] * STD[iy] + MEAN[iy]


def relative_divergence(output: Tensor) -> float:
    """rms(∇·u) / rms(∂x u_x, ∂y u_y) of the de-normalised velocity: ≈ 1 for unrelated fields."""
    velocity_x, velocity_y = physical_velocity(output)
    scale = gradient(velocity_x)[0].square().mean() + gradient(velocity_y)[1].square().mean()
    return float((divergence(velocity_x, velocity_y).square().mean() / scale).sqrt())


# ---------------------------------------------------------------------------------------------
# All models
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_map_four_frames_to_one_at_two_resolutions(name: str) -> None:
    model = _build(name)
    for nx, ny in RESOLUTIONS:  # the same weights at both resolutions
        with torch.no_grad():
            output = model(torch.randn(3, 16, nx, ny))
        assert output.shape == (3, 4, nx, ny)
        assert torch.isfinite(output).all()


def test_parameter_counts_are_comparable() -> None:
    counts = {name: count_parameters(_build(name)) for name in MODEL_NAMES}
    print("parameter counts (complex weights count twice):", counts)
    assert max(counts.values()) <= 2 * min(counts.values())


# ---------------------------------------------------------------------------------------------
# U-Net
# ---------------------------------------------------------------------------------------------


def test_unet_is_periodic() -> None:
    """Circular padding: shifting the input by a multiple of 2**levels shifts the output."""
    model = UNet(16, 4).eval()
    inputs = torch.randn(1, 16, 16, 32)
    with torch.no_grad():
        shifted = model(torch.roll(inputs, shifts=(4, -8), dims=(2, 3)))
        expected = torch.roll(model(inputs), shifts=(4, -8), dims=(2, 3))
    torch.testing.assert_close(shifted, expected, atol=1e-5, rtol=1e-5)


def test_unet_increment_starts_at_persistence_and_time_conditioning() -> None:
    inputs = torch.randn(2, 16, 16, 32)
    increment = IncrementOutput(UNet(16, 4), torch.full((4,), 0.1))
    torch.testing.assert_close(increment(inputs), inputs[:, 12:16])

    timed = UNet(16, 4, time_channels=3)
    t = torch.tensor([0.1, 0.9])
    assert timed(inputs, t).shape == (2, 4, 16, 32)
    assert not torch.allclose(timed(inputs, t), timed(inputs, 1 - t))
    with pytest.raises(ValueError):
        timed(inputs)
    with pytest.raises(ValueError):
        UNet(16, 4, levels=3)(torch.randn(1, 16, 12, 32))


# ---------------------------------------------------------------------------------------------
# FNO
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fno", "fno_divfree"])
def test_fno_is_resolution_independent(name: str) -> None:
    """The same weights give the same function: a smooth field sampled on nested grids."""
    model = _build(name)
    with torch.no_grad():
        outputs = {n: model(smooth_fields(n, 2 * n)) for n in (16, 32, 64)}
    for fine, coarse in ((32, 16), (64, 32)):
        step = fine // coarse
        restricted = outputs[fine][..., ::step, ::step]  # x_j = j/n: coarse points are shared
        error = (restricted - outputs[coarse]).norm() / outputs[coarse].norm()
        assert error < 1e-3, (fine, coarse, float(error))


def test_divergence_free_fno_has_zero_physical_divergence() -> None:
    plain = _build("fno")
    wrapped = DivergenceFreeOutput(plain, mean=MEAN, std=STD)
    inputs = torch.randn(2, 16, 32, 64, requires_grad=True)
    raw, projected = plain(inputs), wrapped(inputs)
    assert relative_divergence(raw.detach()) > 0.1
    assert relative_divergence(projected.detach()) < 1e-5
    # Tracer and pressure pass through; the velocity changes.
    torch.testing.assert_close(projected[:, :2], raw[:, :2])
    assert not torch.allclose(projected[:, 2:], raw[:, 2:])
    projected.square().mean().backward()  # differentiable end to end
    assert inputs.grad is not None and torch.isfinite(inputs.grad).all()
    # Statistics given for the velocity channels only mean the same thing.
    velocity_only = DivergenceFreeOutput(plain, mean=MEAN[2:], std=STD[2:])
    torch.testing.assert_close(velocity_only(inputs), projected)


# ---------------------------------------------------------------------------------------------
# Physics penalty
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def solver_step() -> dict[str, Tensor]:
    """Frames 1–5 of two low-Re trajectories (32×64), z-scored: 4 inputs and the next frame."""
    initial = [initial_condition(32, 64, 2, 2, 1.0), initial_condition(32, 64, 2, 3, 2.0)]
    stacked = {key: torch.stack([ic[key] for ic in initial]) for key in initial[0]}
    reynolds, schmidt = torch.tensor([1e4, 1e4]), torch.tensor([1.0, 0.1])
    out = simulate(stacked, reynolds, schmidt, n_snapshots=6, progress=False)
    frames = torch.stack([out[name] for name in FIELD_NAMES], dim=2).float()  # (B, T, 4, x, y)
    z_scored = (frames - MEAN[:, None, None]) / STD[:, None, None]
    return {
        "inputs": z_scored[:, 1:5].reshape(2, 16, 32, 64),
        "target": z_scored[:, 5],
        "diffusivity": tracer_diffusivity(reynolds, schmidt).float(),
    }


def _penalty(step: dict[str, Tensor], prediction: Tensor, **kwargs) -> dict[str, float]:
    kwargs.setdefault("diffusivity", step["diffusivity"])
    terms = shear_flow_penalty(step["inputs"], prediction, mean=MEAN, std=STD, **kwargs)
    assert set(terms) == {"divergence", "tracer"}
    return {key: float(value) for key, value in terms.items()}


def test_penalty_vanishes_on_solver_output_and_not_on_noise(solver_step) -> None:
    on_solution = _penalty(solver_step, solver_step["target"])
    on_noise = _penalty(solver_step, torch.randn_like(solver_step["target"]))
    print("penalty on the solution:", on_solution, "on noise:", on_noise)
    assert on_solution["divergence"] < 1e-8
    assert on_solution["tracer"] < 0.05 * on_noise["tracer"]
    # Normalised terms of unrelated fields are O(1): weights of O(0.1–1) balance a z-scored MSE.
    assert 0.2 < on_noise["divergence"] < 2 and 0.5 < on_noise["tracer"] < 20
    # Persistence (s_{n+1} = s_n) does not satisfy the tracer equation either.
    on_persistence = _penalty(solver_step, solver_step["inputs"][:, 12:16])
    assert on_persistence["tracer"] > 20 * on_solution["tracer"]
    # The pointwise (aliased) product leaves a larger floor on the exact solution.
    assert (
        _penalty(solver_step, solver_step["target"], dealias=False)["tracer"]
        >= (on_solution["tracer"])
    )


def test_penalty_uses_each_samples_diffusivity(solver_step) -> None:
    right = _penalty(solver_step, solver_step["target"])["tracer"]
    swapped_diffusivity = solver_step["diffusivity"].flip(0)
    swapped = _penalty(solver_step, solver_step["target"], diffusivity=swapped_diffusivity)[
        "tracer"
    ]
    assert swapped > 10 * right


def test_penalty_raw_units_and_gradient(solver_step) -> None:
    prediction = torch.randn_like(solver_step["target"], requires_grad=True)
    raw = shear_flow_penalty(
        solver_step["inputs"],
        prediction,
        mean=MEAN,
        std=STD,
        diffusivity=solver_step["diffusivity"],
        normalise=False,
    )
    assert raw["divergence"] > 1.0 and raw["tracer"] > 1.0  # noise: steep physical gradients
    (raw["divergence"] + raw["tracer"]).backward()
    assert prediction.grad is not None and torch.isfinite(prediction.grad).all()


# ---------------------------------------------------------------------------------------------
# Flow matching
# ---------------------------------------------------------------------------------------------


class CountingField(nn.Module):
    """Counts calls of a vector field, independently of the forecaster's own bookkeeping."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        self.calls += 1
        return self.inner(x, t)


def test_path_endpoints_and_conditional_velocity() -> None:
    path = NoisyCondOTPath(sigma=0.01, sigma_min=0.001)
    x0, x1, noise = torch.randn(3, 4, 4, 8, 16, dtype=torch.float64).unbind(0)
    for t_value, endpoint in ((0.0, x0), (1.0, x1)):
        t = torch.full((4,), t_value, dtype=torch.float64)
        sample = path.sample(x0, x1, t, noise)
        torch.testing.assert_close(sample.x_t, endpoint + 0.001 * noise)
        assert (sample.x_t - endpoint).abs().max() < 0.01  # within a few σ_min
    # The "conditional" target is d x_t / dt at fixed (x0, x1, ε): check by central differences.
    t = torch.tensor([0.05, 0.3, 0.5, 0.9], dtype=torch.float64)
    h = 1e-6
    forward, backward = path.sample(x0, x1, t + h, noise), path.sample(x0, x1, t - h, noise)
    finite_difference = (forward.x_t - backward.x_t) / (2 * h)
    torch.testing.assert_close(path.sample(x0, x1, t, noise).dx_t, finite_difference)
    straight = path.sample(x0, x1, t, noise, velocity_target="straight").dx_t
    torch.testing.assert_close(straight, x1 - x0)


def test_one_euler_step_is_the_closed_form() -> None:
    torch.manual_seed(0)
    model = FlowMatchingForecaster(unet_vector_field(), steps=1, method="euler", pool=2)
    inputs = torch.randn(2, 16, 16, 32)
    with torch.no_grad():
        condition = pool_fields(inputs, 2)
        x0 = condition[:, 12:16]
        closed_form = x0 + model.velocity(x0, torch.zeros(2), condition)
        expected = upsample_periodic(closed_form, 2)
        torch.testing.assert_close(model(inputs), expected)


@pytest.mark.parametrize("method", sorted(STAGES_PER_STEP))
def test_evaluations_per_forecast_counts_every_network_call(method: str) -> None:
    counter = CountingField(unet_vector_field())
    model = FlowMatchingForecaster(counter, steps=3, method=method)
    with torch.no_grad():
        model(torch.randn(1, 16, 16, 32))
    assert counter.calls == model.evaluations_per_forecast == model.last_evaluations
    assert model.evaluations_per_forecast == 3 * STAGES_PER_STEP[method]
    assert FlowMatchingForecaster(counter).evaluations_per_forecast == 10  # default: Euler, 10


def test_flow_matching_flops_count_every_network_evaluation() -> None:
    inputs = torch.randn(1, 16, 16, 32)

    def flops(steps: int) -> int:
        model = FlowMatchingForecaster(unet_vector_field(), steps=steps)
        with torch.no_grad():
            return count_flops(lambda: model(inputs))

    one_evaluation = flops(2) - flops(1)
    assert one_evaluation > 0
    assert flops(10) - flops(5) == 5 * one_evaluation


def test_solver_method_reaches_the_sampler() -> None:
    torch.manual_seed(0)
    field = unet_vector_field()
    inputs = torch.randn(2, 16, 16, 32)
    with torch.no_grad():
        euler = FlowMatchingForecaster(field, steps=2, method="euler")(inputs)
        midpoint = FlowMatchingForecaster(field, steps=2, method="midpoint")(inputs)
        more_steps = FlowMatchingForecaster(field, steps=4, method="euler")(inputs)
    assert (euler - midpoint).abs().max() > 1e-4
    assert (euler - more_steps).abs().max() > 1e-4
    with pytest.raises(ValueError):
        FlowMatchingForecaster(field, method="dopri5")


def test_flow_matching_training_loss_and_reproducible_sampling() -> None:
    torch.manual_seed(0)
    model = FlowMatchingForecaster(unet_vector_field(), initial_noise=True, seed=3)
    inputs, target = torch.randn(2, 16, 16, 32), torch.randn(2, 4, 16, 32)
    losses = [
        model.training_loss(inputs, target, generator=torch.Generator().manual_seed(5))
        for _ in range(2)
    ]
    assert losses[0].ndim == 0 and torch.isfinite(losses[0])
    torch.testing.assert_close(losses[0], losses[1])
    losses[0].backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), model(inputs))


def test_periodic_upsampling() -> None:
    coarse = torch.randn(1, 2, 8, 16)
    fine = upsample_periodic(coarse, 2)
    assert fine.shape == (1, 2, 16, 32)
    # Shifting the coarse field by one cell shifts the fine one by two points, wrap included.
    torch.testing.assert_close(
        upsample_periodic(torch.roll(coarse, 1, dims=2), 2), torch.roll(fine, 2, dims=2)
    )
    torch.testing.assert_close(pool_fields(upsample_periodic(coarse, 2), 2).mean(), coarse.mean())
    smooth = smooth_fields(32, 64, channels=2)
    error = (upsample_periodic(pool_fields(smooth, 2), 2) - smooth).norm() / smooth.norm()
    assert error < 0.1


def test_periodic_convolution_equals_torch_circular_padding_with_gradients():
    generator = torch.Generator().manual_seed(0)
    fields = torch.randn(2, 3, 8, 12, generator=generator, requires_grad=True)
    reference = torch.nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular", bias=False)
    periodic = PeriodicConv2d(3, 5, 3, bias=False)
    periodic.load_state_dict(reference.state_dict())
    expected = reference(fields)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), fields)
    output = periodic(fields)
    (grad,) = torch.autograd.grad(output.square().sum(), fields)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(grad, expected_grad)
    assert torch.equal(periodic_pad(fields, 2), F.pad(fields, (2, 2, 2, 2), mode="circular"))


def test_fno_stays_float32_under_bf16_autocast():
    """FFTs have no CUDA bf16 kernels, so the FNO opts out of the bf16 switch (checked on CPU)."""
    model = FNOForecaster(16, 4, modes=(8, 16), width=8)
    inputs = torch.randn(2, 16, 16, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(inputs)
    assert output.dtype == torch.float32
    torch.testing.assert_close(output, model(inputs))
