"""Conditional flow matching in low-resolution data space (the "middle physics prior" model).

As in the study, the frames are average-pooled by ``pool``, a vector field v(x_t, t | condition)
transports the pooled last input frame x0 to the pooled next frame x1, and the ODE solution at
t = 1 is upsampled bilinearly back to the full grid. The condition is all input frames (pooled);
the study used the previous frame plus one random earlier frame.

Probability path (Meta's ``flow_matching``: ``AffineProbPath`` with ``CondOTScheduler`` gives
μ_t = t·x1 + (1 − t)·x0 and its derivative μ'_t = x1 − x0), plus the study's Gaussian tube:

    x_t = μ_t + σ_t·ε,   σ_t = sqrt(σ²·t(1 − t) + σ_min²),   ε ~ N(0, I),  σ = 0.01, σ_min = 0.001.

Training target (``velocity_target="conditional"``, the default): the exact conditional
velocity of that path, i.e. the time derivative of x_t at fixed (x0, x1, ε),

    u_t = x1 − x0 + σ'_t·ε,   σ'_t = σ²(1 − 2t) / (2σ_t),

because the regression E[u_t | x_t] then generates exactly the marginal path p_t (the flow-matching
theorem), including its width. ``velocity_target="straight"`` trains on x1 − x0 alone (the
library's ``dx_t``), which ignores the tube's breathing; the difference is O(σ²/σ_min) = 0.05
z-units at most (near t = 0 and 1), comparable to the per-step change of the velocity channels.

Sampling: a fixed-step ``torchdiffeq`` method through ``flow_matching.solver.ODESolver`` on the
grid t_k = k/steps, started deterministically at the pooled last frame (the mean of p_0);
``initial_noise=True`` adds σ_min·ε from a generator seeded with ``seed`` instead. Unlike the
study's code, the configured ``method`` really reaches the solver. ``evaluations_per_forecast``
is steps × the method's stages; it is what inference FLOPs and energy must be multiplied by.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from flow_matching.path import AffineProbPath
from flow_matching.path.path_sample import PathSample
from flow_matching.path.scheduler import CondOTScheduler
from flow_matching.solver import ODESolver
from flow_matching.utils import ModelWrapper, expand_tensor_like
from torch import Tensor, nn

from workflow_scripts.models.registry import ForecastSetting
from workflow_scripts.models.unet import UNet

# Vector-field evaluations per step of torchdiffeq's fixed-grid methods (see their step functions).
# Adaptive methods are refused: their evaluation count, hence inference cost, is data-dependent.
STAGES_PER_STEP = {"euler": 1, "midpoint": 2, "heun2": 2, "heun3": 3, "rk4": 4}

VelocityTarget = Literal["conditional", "straight"]
Upsample = Literal["field", "increment"]


def pool_fields(fields: Tensor, factor: int) -> Tensor:
    """Average-pool (B, C, nx, ny) by ``factor`` per axis (cells tile the periodic grid exactly)."""
    if factor == 1:
        return fields
    nx, ny = fields.shape[-2:]
    if nx % factor or ny % factor:
        raise ValueError(f"grid {nx}×{ny} is not divisible by the pooling factor {factor}")
    return F.avg_pool2d(fields, factor)


def upsample_periodic(fields: Tensor, factor: int) -> Tensor:
    """Bilinear upsampling of cell averages (B, C, mx, my) by ``factor``, wrapping at the edges.

    With ``align_corners=False`` coarse values sit at cell centres, consistent with
    :func:`pool_fields`; padding one coarse cell circularly first makes the edge cells
    interpolate towards their periodic neighbours instead of being clamped.
    """
    if factor == 1:
        return fields
    padded = F.pad(fields, (1, 1, 1, 1), mode="circular")
    fine = F.interpolate(padded, scale_factor=factor, mode="bilinear", align_corners=False)
    return fine[..., factor:-factor, factor:-factor]


class NoisyCondOTPath:
    """The library's CondOT affine path plus the study's Gaussian tube of width σ_t."""

    def __init__(self, sigma: float = 0.01, sigma_min: float = 0.001) -> None:
        if sigma < 0 or sigma_min <= 0:
            raise ValueError("need sigma >= 0 and sigma_min > 0")
        self.sigma = sigma
        self.sigma_min = sigma_min
        self.affine = AffineProbPath(scheduler=CondOTScheduler())

    def noise_std(self, t: Tensor) -> Tensor:
        """σ_t = sqrt(σ²·t(1 − t) + σ_min²)."""
        return torch.sqrt(self.sigma**2 * t * (1 - t) + self.sigma_min**2)

    def noise_std_rate(self, t: Tensor) -> Tensor:
        """dσ_t/dt = σ²(1 − 2t) / (2σ_t)."""
        return self.sigma**2 * (1 - 2 * t) / (2 * self.noise_std(t))

    def sample(
        self,
        x_0: Tensor,
        x_1: Tensor,
        t: Tensor,
        noise: Tensor,
        velocity_target: VelocityTarget = "conditional",
    ) -> PathSample:
        """x_t and the training target ``dx_t`` for times ``t`` (B,) and noise ε like ``x_0``."""
        mean_path = self.affine.sample(x_0=x_0, x_1=x_1, t=t)  # μ_t and μ'_t = x1 − x0
        std = expand_tensor_like(self.noise_std(t), expand_to=x_1)
        x_t = mean_path.x_t + std * noise
        if velocity_target == "conditional":
            rate = expand_tensor_like(self.noise_std_rate(t), expand_to=x_1)
            dx_t = mean_path.dx_t + rate * noise
        elif velocity_target == "straight":
            dx_t = mean_path.dx_t
        else:
            raise ValueError(f"unknown velocity target {velocity_target!r}")
        return PathSample(x_1=x_1, x_0=x_0, t=t, x_t=x_t, dx_t=dx_t)


class _ConditionedVelocity(ModelWrapper):
    """Adapts v(cat[x, condition], t (B,)) to the solver's v(x=, t=scalar, **extras); counts."""

    def __init__(self, vector_field: nn.Module) -> None:
        super().__init__(vector_field)
        self.evaluations = 0

    def forward(self, x: Tensor, t: Tensor, **extras) -> Tensor:
        self.evaluations += 1
        times = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1)
        times = times.expand(x.shape[0]) if times.numel() == 1 else times
        return self.model(torch.cat([x, extras["condition"]], dim=1), times)


class FlowMatchingForecaster(nn.Module):
    """Next-frame forecaster: (B, frames·fields, nx, ny) inputs → (B, fields, nx, ny).

    ``vector_field(state_and_condition, t)`` maps (B, fields + frames·fields, mx, my) and times
    (B,) to a velocity (B, fields, mx, my) on the pooled grid (mx, my) = (nx, ny)/pool, e.g.
    :func:`unet_vector_field`. ``upsample="field"`` (the study) upsamples the sampled frame;
    ``"increment"`` adds the upsampled change x1 − x0 to the full-resolution last frame, which
    keeps the sub-pool detail of the last frame (an option; not in the study).
    """

    def __init__(
        self,
        vector_field: nn.Module,
        *,
        fields: int = 4,
        pool: int = 2,
        steps: int = 10,
        method: str = "euler",
        sigma: float = 0.01,
        sigma_min: float = 0.001,
        velocity_target: VelocityTarget = "conditional",
        upsample: Upsample = "field",
        initial_noise: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if method not in STAGES_PER_STEP:
            raise ValueError(f"method must be one of {sorted(STAGES_PER_STEP)}, got {method!r}")
        if steps < 1 or pool < 1:
            raise ValueError("steps and pool must be >= 1")
        if velocity_target not in ("conditional", "straight"):
            raise ValueError(f"unknown velocity target {velocity_target!r}")
        if upsample not in ("field", "increment"):
            raise ValueError(f"unknown upsample mode {upsample!r}")
        self.vector_field = vector_field
        self.fields = fields
        self.pool = pool
        self.steps = steps
        self.method = method
        self.path = NoisyCondOTPath(sigma, sigma_min)
        self.velocity_target: VelocityTarget = velocity_target
        self.upsample: Upsample = upsample
        self.initial_noise = initial_noise
        self.seed = seed
        self.last_evaluations = 0  # measured vector-field calls of the latest forward()

    @property
    def evaluations_per_forecast(self) -> int:
        """Vector-field evaluations per forecast (one sampled frame): steps × stages per step."""
        return self.steps * STAGES_PER_STEP[self.method]

    def _pooled(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Pooled condition (all input frames) and pooled start x0 (the last input frame)."""
        condition = pool_fields(inputs, self.pool)
        return condition, condition[:, -self.fields :]

    def velocity(self, x: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        """One evaluation v(x, t | condition) on the pooled grid; t of shape (B,)."""
        return self.vector_field(torch.cat([x, condition], dim=1), t)

    def training_loss(
        self, inputs: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Flow-matching MSE between v(x_t, t | condition) and the target velocity (module doc)."""
        condition, x_0 = self._pooled(inputs)
        x_1 = pool_fields(target, self.pool)
        t = torch.rand(x_0.shape[0], generator=generator, dtype=x_0.dtype, device=x_0.device)
        noise = torch.randn(x_0.shape, generator=generator, dtype=x_0.dtype, device=x_0.device)
        sample = self.path.sample(x_0, x_1, t, noise, self.velocity_target)
        return F.mse_loss(self.velocity(sample.x_t, t, condition), sample.dx_t)

    def forward(self, inputs: Tensor) -> Tensor:
        condition, x_0 = self._pooled(inputs)
        start = x_0
        if self.initial_noise:
            # A fresh generator per call: the same inputs give the same forecast.
            generator = torch.Generator(device=x_0.device).manual_seed(self.seed)
            noise = torch.randn(x_0.shape, generator=generator, dtype=x_0.dtype, device=x_0.device)
            start = x_0 + self.path.sigma_min * noise
        velocity_model = _ConditionedVelocity(self.vector_field)
        time_grid = torch.linspace(0.0, 1.0, self.steps + 1, dtype=x_0.dtype, device=x_0.device)
        x_1 = ODESolver(velocity_model=velocity_model).sample(
            x_init=start,
            step_size=None,  # the fixed-grid methods then step exactly on time_grid
            method=self.method,
            time_grid=time_grid,
            enable_grad=torch.is_grad_enabled(),
            condition=condition,
        )
        self.last_evaluations = velocity_model.evaluations
        if self.upsample == "increment":
            return inputs[:, -self.fields :] + upsample_periodic(x_1 - x_0, self.pool)
        return upsample_periodic(x_1, self.pool)


def unet_vector_field(
    frames: int = 4, fields: int = 4, width: int = 16, levels: int = 2, time_channels: int = 1
) -> UNet:
    """The default vector field: a circular-padded U-Net on [x_t, condition] plus time channels."""
    return UNet(
        fields + frames * fields, fields, width=width, levels=levels, time_channels=time_channels
    )


def build_flow_matching_forecaster(
    architecture: dict[str, Any], setting: ForecastSetting
) -> FlowMatchingForecaster:
    return FlowMatchingForecaster(
        unet_vector_field(
            frames=setting.input_frames,
            fields=setting.fields,
            width=architecture["width"],
            levels=architecture["levels"],
        ),
        fields=setting.fields,
        pool=architecture["pool"],
        steps=architecture["ode_steps"],
        method=architecture["method"],
        upsample=architecture["upsample"],
    )
