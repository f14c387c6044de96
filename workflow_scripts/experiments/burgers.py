"""Experiment 2: the viscous Burgers equation u_t + u u_x = nu u_xx on [-1, 1] x [0, 1].

u(x, 0) = -sin(pi x), u(+-1, t) = 0. The exact reference comes from the Cole-Hopf transform
(:mod:`workflow_scripts.physics.burgers`); the default nu = 0.01/pi forms a near-shock at x = 0.
The variants differ only in their loss terms (see :mod:`workflow_scripts.families.pointwise`):
interior observations (data), initial/boundary points (conditions), the PDE residual at
collocation points (physics), or the conditions built into the output (hard constraints).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workflow_scripts.errors import ConfigError
from workflow_scripts.experiments.card import (
    ExperimentCard,
    Figure,
    FigureInputs,
    PointwiseFamily,
    enabled_models,
)
from workflow_scripts.figures import learning_curves_figure, pareto_figure

X_MIN, X_MAX, T_MAX = -1.0, 1.0, 1.0


def make_burgers_dataset(data: dict[str, Any]) -> Any:
    """Seeded point sets in float64; the test set is the whole reference grid, t-major.

    - observations: ``n_observations`` interior points, uniform in the domain, exact values;
    - conditions: ``n_initial`` points on t = 0 (u = -sin(pi x)) and ``n_boundary`` on
      x = +-1 (u = 0), alternating sides;
    - collocation: ``n_collocation`` points, uniform in the domain;
    - validation: the (test_nt − 1, test_nx − 1) grid halfway between the test grid's rows and
      columns, so no validation point shares an x or a t with a test point;
    - test: the (test_nt, test_nx) grid of ``reference_grid``, flattened row by row, so a
      prediction reshapes to attrs ``test_grid_shape`` = [nt, nx].
    """
    import numpy as np

    from workflow_scripts.data.pointwise import midpoints, pointwise_dataset
    from workflow_scripts.physics.burgers import exact_solution, initial_condition, reference_grid

    nu = data["nu"]
    # One independent stream per point set: changing one count leaves the other sets as they are.
    streams = np.random.SeedSequence(data["seed"]).spawn(4)
    rng_observations, rng_initial, rng_boundary, rng_collocation = map(
        np.random.default_rng, streams
    )

    def uniform_points(rng: Any, count: int) -> Any:
        """(count, 2) points (x, t), drawn point by point (more points extend the set)."""
        return rng.uniform((X_MIN, 0.0), (X_MAX, T_MAX), size=(count, 2))

    observations = uniform_points(rng_observations, data["n_observations"])
    observed = exact_solution(observations[:, 0], observations[:, 1], nu)

    x_initial = rng_initial.uniform(X_MIN, X_MAX, data["n_initial"])
    initial = np.stack([x_initial, np.zeros_like(x_initial)], axis=1)
    sides = np.where(np.arange(data["n_boundary"]) % 2 == 0, X_MIN, X_MAX)
    boundary = np.stack([sides, rng_boundary.uniform(0.0, T_MAX, data["n_boundary"])], axis=1)
    conditions = np.concatenate([initial, boundary])
    condition_values = np.concatenate([initial_condition(x_initial), np.zeros(len(boundary))])

    collocation = uniform_points(rng_collocation, data["n_collocation"])

    def grid_points(x: Any, t: Any) -> Any:
        """(len(t)·len(x), 2) points (x, t) of the grid, t-major."""
        x_grid, t_grid = np.meshgrid(x, t)  # (nt, nx) each
        return np.stack([x_grid.ravel(), t_grid.ravel()], axis=1)

    x, t, u = reference_grid(nx=data["test_nx"], nt=data["test_nt"], nu=nu)
    validation = grid_points(midpoints(x), midpoints(t))

    return pointwise_dataset(
        ("x", "t"),
        observations=(observations, observed),
        conditions=(conditions, condition_values),
        collocation=collocation,
        validation=(validation, exact_solution(validation[:, 0], validation[:, 1], nu)),
        test=(grid_points(x, t), u.ravel()),
        attrs={
            "experiment": "burgers",
            "settings": json.dumps(data),
            "test_grid_shape": json.dumps([len(t), len(x)]),
            "test_grid_dims": json.dumps(["t", "x"]),
        },
    )


def burgers_physics(data: dict[str, Any]) -> Any:
    from workflow_scripts.physics.burgers import ViscousBurgers

    return ViscousBurgers(nu=float(data["nu"]))


def prediction_unit(attrs: dict[str, Any]) -> str:
    nt, nx = json.loads(attrs["test_grid_shape"])
    return f"the solution u(x, t) on the whole {nx} × {nt} (x × t) test grid"


def check_points(block: dict[str, Any], config: dict[str, Any]) -> None:
    """A positive loss weight needs points to evaluate its term on (else its MSE is NaN)."""
    data = block["data"]
    for model, variant in enabled_models(block).items():
        key = f"experiments.burgers.models.{model}"
        weights = variant.get("loss_weights", {})
        if weights.get("data", 0) > 0 and data["n_observations"] == 0:
            raise ConfigError(
                f"{key}.loss_weights.data is positive but experiments.burgers.data."
                "n_observations is 0: set observations or drop the data term"
            )
        if weights.get("conditions", 0) > 0 and data["n_initial"] + data["n_boundary"] == 0:
            raise ConfigError(
                f"{key}.loss_weights.conditions is positive but experiments.burgers.data."
                "n_initial and n_boundary are both 0: set condition points or drop the "
                "conditions term"
            )


def _drawing(name: str) -> Any:
    """A figure of figures/pointwise.py: f(dataset, predictions, table, outputs)."""

    def draw(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
        from workflow_scripts.figures import pointwise

        getattr(pointwise, name)(inputs.dataset, inputs.predictions, inputs.table(), outputs)

    return draw


def _count(minimum: int, default: int, description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "default": default, "description": description}


DATA_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "nu": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 0.0031830988618379067,
            "description": "viscosity ν; 0.01/π is the classic benchmark (a near-shock at x = 0),"
            " the study used 0.025. Below 0.01/π the reference quadrature warns that it is "
            "under-resolved",
        },
        "n_observations": _count(0, 200, "interior (x, t) points with exact values (data)"),
        "n_initial": _count(0, 100, "points on t = 0 with u = −sin(πx) (conditions)"),
        "n_boundary": _count(0, 100, "points on x = ±1 (alternating sides) with u = 0"),
        "n_collocation": _count(1, 2000, "residual points, uniform in the domain (physics)"),
        "test_nx": _count(
            2,
            256,
            "x points of the test grid, x = linspace(−1, 1, test_nx); the validation grid "
            "takes the test_nx − 1 halfway between them",
        ),
        "test_nt": _count(
            2,
            100,
            "t points of the test grid, t = linspace(0, 1, test_nt); the validation grid "
            "takes the test_nt − 1 halfway between them",
        ),
        "seed": _count(0, 1234, "seed of the point sampling (the same data for every run)"),
    },
}

CARD = ExperimentCard(
    name="burgers",
    title="Viscous Burgers",
    description="Viscous Burgers u_t + u u_x = ν u_xx on x ∈ [−1, 1], t ∈ [0, 1], "
    "u(x, 0) = −sin(πx), u(±1, t) = 0, against the exact Cole–Hopf solution on the whole "
    "reference grid.",
    family=PointwiseFamily(
        coordinates=("x", "t"),
        make_dataset=make_burgers_dataset,
        physics=burgers_physics,
        prediction_unit=prediction_unit,
    ),
    error="test_mse",
    error_label="test MSE (whole x–t reference grid)",
    tracked_error_label="validation MSE (learning curve, half-offset grid)",
    data_schema=DATA_SCHEMA,
    checks=(check_points,),
    figures={
        "solution": Figure(
            needs=("summary", "predictions", "dataset"),
            draw=_drawing("plot_burgers_solution"),
            caption="Viscous Burgers, u_t + u u_x = ν u_xx with u(x, 0) = −sin(πx) and "
            "u(±1, t) = 0: x–t maps of the exact Cole–Hopf solution and of each variant's "
            "prediction on the whole test grid (top row, one shared colour scale), and each "
            "variant's absolute error (bottom row, one shared logarithmic scale; the panel title "
            "gives its relative L2 error). One training seed per variant, the first configured. "
            "The bottom-left panel shows where the labelled training points lie: interior "
            "observations (used by mlp and pinn_data) and initial/boundary points (used by pinn "
            "and pinn_data; pinn_hard meets these conditions by construction). Errors "
            "concentrate at the steep front that forms at x = 0.",
        ),
        "slices": Figure(
            needs=("summary", "predictions", "dataset"),
            draw=_drawing("plot_burgers_slices"),
            caption="Viscous Burgers: u(x) at t ≈ 0.25, 0.5 and 0.75 (the nearest rows of the "
            "test grid, whose times the panel titles give), the exact solution (thick grey) "
            "against each variant's prediction for its first configured seed. Colours: physics "
            "prior none / weak / strong. The front at x = 0 steepens with time, and that is "
            "where the variants differ most.",
        ),
        "pareto": Figure(
            needs=("summary",),
            draw=pareto_figure("train_energy_kwh", "training energy", "training energy"),
            caption="Viscous Burgers: test MSE over the whole x–t reference grid against "
            "training energy, at the same optimiser budget (Adam then L-BFGS steps) for every "
            "variant. Small points are seeds, large markers variant medians; the dashed line is "
            "the Pareto front of the medians. Colours: physics prior none / weak / strong. A "
            "physics residual costs several forward passes per point, so the physics-informed "
            "variants sit to the right of the data-only mlp.",
        ),
        "learning_curves": Figure(
            needs=("summary", "histories"),
            draw=learning_curves_figure(),
            caption="Viscous Burgers: validation MSE (the exact solution on the grid halfway "
            "between the test grid's points) against cumulative training energy, a line per "
            "seed, coloured by the strength of the physics prior. Points are logged every "
            "``log_every`` Adam steps, then after each block of L-BFGS iterations.",
        ),
    },
)
