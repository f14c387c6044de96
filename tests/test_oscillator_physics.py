"""The oscillator experiment: the exact solution, the residual, the hard constraint, its data
sets and its extrapolation error."""

import numpy as np
import pytest
import torch

from workflow_scripts.config import validate_config
from workflow_scripts.data.pointwise import write_dataset
from workflow_scripts.experiments import experiment_class
from workflow_scripts.experiments.oscillator import (
    make_oscillator_dataset,
    oscillator_from_settings,
)
from workflow_scripts.models.activations import Snake
from workflow_scripts.models.mlp import MLP, ConstrainedOutput
from workflow_scripts.physics.autodiff import derivative
from workflow_scripts.physics.oscillator import DampedOscillator


@pytest.mark.parametrize("params", [dict(), dict(delta=0.0, omega0=5.0, x0=-0.3, v0=2.0)])
def test_exact_solution_satisfies_the_ode(params):
    oscillator = DampedOscillator(**params)
    t = torch.linspace(0, 1, 200, dtype=torch.float64)[:, None].requires_grad_(True)
    residual = oscillator.residual(t, oscillator.exact(t))
    # residual is divided by k, so it is on the scale of x (~1)
    assert residual.abs().max().item() < 1e-10


def test_exact_solution_meets_initial_conditions_and_decays_at_rate_delta():
    oscillator = DampedOscillator(delta=2.0, omega0=20.0, x0=1.0, v0=0.5)
    t = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    x = oscillator.exact(t)
    assert x.item() == pytest.approx(1.0, abs=1e-14)
    assert derivative(x, t, 0).item() == pytest.approx(0.5, abs=1e-12)
    # Envelope: the amplitude over whole periods shrinks by exp(-δ T)
    period = 2 * np.pi / oscillator.omega
    ratio = oscillator.exact(np.array([2 * period]))[0] / oscillator.exact(np.array([period]))[0]
    expected = np.exp(-oscillator.delta * period)
    assert ratio == pytest.approx(expected, rel=1e-9)


def test_residual_detects_a_wrong_solution():
    oscillator = DampedOscillator()
    wrong = DampedOscillator(delta=2.2)
    t = torch.linspace(0, 1, 100, dtype=torch.float64)[:, None].requires_grad_(True)
    assert oscillator.residual(t, wrong.exact(t)).abs().max().item() > 1e-2


def test_overdamped_parameters_are_rejected():
    with pytest.raises(ValueError, match="underdamped"):
        DampedOscillator(delta=25.0, omega0=20.0)


@pytest.mark.parametrize("activation", ["tanh", "snake"])
def test_hard_constraint_holds_exactly_for_random_weights(activation):
    oscillator = DampedOscillator(x0=0.7, v0=-3.0)
    torch.manual_seed(3)
    model = ConstrainedOutput(MLP(1, 1, 16, 3, activation), oscillator.constrain).double()
    t = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    x = model(t)
    assert x.item() == 0.7
    assert derivative(x, t, 0).item() == pytest.approx(-3.0, abs=1e-12)


def test_snake_is_x_plus_sin_squared_over_a():
    snake = Snake(3, frequency=2.0)
    x = torch.linspace(-2, 2, 9)[:, None].expand(9, 3)
    assert torch.allclose(snake(x), x + torch.sin(2 * x) ** 2 / 2)


# -- the data sets: validation beside the test grid, extrapolation scored on its own ---------


def _oscillator_data(default_config: dict, **settings) -> dict:
    return {**validate_config(default_config)["experiments"]["oscillator"]["data"], **settings}


def test_validation_and_test_sets_are_disjoint_over_the_same_window(default_config):
    data = _oscillator_data(default_config)
    dataset = make_oscillator_dataset(data)
    validation = dataset["validation_inputs"].values[:, 0]
    test = dataset["test_inputs"].values[:, 0]
    assert len(validation) == data["n_test"] - 1
    assert not set(validation) & set(test)
    # the same window: each validation point lies between two test points
    assert test.min() < validation.min() and validation.max() < test.max() == data["t_end"]
    exact = oscillator_from_settings(data).exact(validation)
    np.testing.assert_array_equal(dataset["validation_values"], exact)


class _Piecewise(torch.nn.Module):
    """0 beyond ``end`` (the extrapolation), a wild 1000 up to it."""

    def __init__(self, end: float) -> None:
        super().__init__()
        self.end = end

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return torch.where(t > self.end, 0.0, 1000.0).to(t.dtype)


def test_extrapolation_error_scores_only_the_points_beyond_the_observations(
    tmp_path, default_config
):
    """Test grid t = 0, 0.2, ..., 1 with observations up to 0.4: the extrapolation error is
    over t = 0.6, 0.8, 1 alone, whatever the model does up to 0.4."""
    data = _oscillator_data(default_config, n_test=6, t_end=1.0, observation_end=0.4)
    path = tmp_path / "dataset.nc"
    write_dataset(make_oscillator_dataset(data), path)
    experiment = experiment_class("oscillator")(path, torch.device("cpu"), torch.float64)
    np.testing.assert_array_equal(
        experiment.test_is_extrapolation.numpy(), [False, False, False, True, True, True]
    )
    metrics = experiment.efficacy_metrics(_Piecewise(end=0.4))
    x = oscillator_from_settings(data).exact(np.array([0.6, 0.8, 1.0]))
    assert metrics["test_extrap_mse"] == pytest.approx(np.mean(x**2), rel=1e-12)
    assert metrics["test_extrap_rel_l2"] == pytest.approx(1.0, rel=1e-12)  # predicts 0
    assert metrics["test_mse"] > 1e5  # the whole window counts the wild stretch too
