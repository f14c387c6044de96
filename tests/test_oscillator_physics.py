"""Physics of the oscillator experiment: the exact solution, the residual, the hard constraint."""

import numpy as np
import pytest
import torch

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
