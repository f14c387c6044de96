"""Experiment 1: extrapolating a damped harmonic oscillator from early observations.

x'' + 2δx' + ω0²x = 0 with observations in [0, observation_end] and a test grid over the whole
window [0, t_end]: its error on t > observation_end (``test_extrap_mse``) measures extrapolation,
the whole-window one (``test_mse``) mixes it with the interpolation of the observed stretch. The
network and its physics hooks are the PINN family's (``families/pointwise.py``); the ODE is
``physics/oscillator.py``.
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
)
from workflow_scripts.figures import learning_curves_figure, pareto_figure


def oscillator_from_settings(data: dict[str, Any]) -> Any:
    from workflow_scripts.physics.oscillator import DampedOscillator

    return DampedOscillator(
        delta=data["delta"], omega0=data["omega0"], x0=data["x0"], v0=data["v0"]
    )


def make_oscillator_dataset(data: dict[str, Any]) -> Any:
    """Observations in [0, observation_end]; collocation, validation and test points over
    [0, t_end], the validation grid halfway between the test grid's points."""
    import numpy as np

    from workflow_scripts.data.pointwise import midpoints, pointwise_dataset

    oscillator = oscillator_from_settings(data)
    rng = np.random.default_rng(data["seed"])
    t_obs = np.linspace(0.0, data["observation_end"], data["n_observations"])
    x_obs = oscillator.exact(t_obs) + data["observation_noise"] * rng.standard_normal(t_obs.size)
    t_test = np.linspace(0.0, data["t_end"], data["n_test"])
    t_validation = midpoints(t_test)
    return pointwise_dataset(
        ("t",),
        observations=(t_obs[:, None], x_obs),
        conditions=(np.zeros((1, 1)), np.array([oscillator.x0])),
        collocation=np.linspace(0.0, data["t_end"], data["n_collocation"])[:, None],
        validation=(t_validation[:, None], oscillator.exact(t_validation)),
        test=(t_test[:, None], oscillator.exact(t_test)),
        attrs={"experiment": "oscillator", "settings": json.dumps(data)},
        test_is_extrapolation=t_test > data["observation_end"],
    )


def check_oscillator(block: dict[str, Any], config: dict[str, Any]) -> None:
    data = block["data"]
    if data["delta"] >= data["omega0"]:
        raise ConfigError(
            "experiments.oscillator.data.delta must be below omega0 (underdamped), "
            f"got delta={data['delta']}, omega0={data['omega0']}"
        )
    if data["observation_end"] > data["t_end"]:
        raise ConfigError("experiments.oscillator.data.observation_end must not exceed t_end")


def draw_predictions(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
    from workflow_scripts.figures.pointwise import plot_oscillator_predictions

    plot_oscillator_predictions(
        inputs.dataset, inputs.predictions, inputs.table(), outputs, title=card.title
    )


def _number(minimum: float | None = None, exclusive: bool = False, **schema: Any) -> dict:
    bound = {} if minimum is None else {"exclusiveMinimum" if exclusive else "minimum": minimum}
    return {"type": "number", **bound, **schema}


DATA_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "delta": _number(0, default=2.0, description="δ = μ/(2m), 1/s"),
        "omega0": _number(0, exclusive=True, default=20.0, description="ω0 = sqrt(k/m), rad/s"),
        "x0": _number(default=1.0),
        "v0": _number(default=0.0),
        "t_end": _number(0, exclusive=True, default=1.0),
        "observation_end": _number(0, exclusive=True, default=0.4),
        "n_observations": {"$ref": "#/$defs/positive_int", "default": 10},
        "observation_noise": _number(0, default=0.0),
        "n_collocation": {"$ref": "#/$defs/positive_int", "default": 30},
        "n_test": {
            "type": "integer",
            "minimum": 2,
            "default": 500,
            "description": "test grid points over [0, t_end]; the validation grid is the "
            "n_test − 1 points halfway between them",
        },
        "seed": {"$ref": "#/$defs/non_negative_int", "default": 1234},
    },
}

CARD = ExperimentCard(
    name="oscillator",
    title="Damped oscillator",
    family=PointwiseFamily(
        coordinates=("t",),
        make_dataset=make_oscillator_dataset,
        physics=oscillator_from_settings,
        prediction_unit=lambda attrs: "the trajectory x(t) on the whole test grid",
    ),
    error="test_mse",
    error_label="test MSE (whole window: interpolation and extrapolation)",
    tracked_error_label="validation MSE (learning curve, whole window)",
    data_schema=DATA_SCHEMA,
    checks=(check_oscillator,),
    figures={
        "pareto": Figure(
            needs=("summary",),
            draw=pareto_figure("train_energy_kwh", "training energy", "training energy"),
            caption="Damped oscillator: test MSE over the whole window (the observed stretch "
            "and the extrapolation beyond it) against training energy. Small points are seeds, "
            "large markers variant medians; the dashed line is the Pareto front of the medians. "
            "Colours: physics prior none / weak / strong.",
        ),
        "predictions": Figure(
            needs=("summary", "predictions", "dataset"),
            draw=draw_predictions,
            caption="Damped oscillator: the exact solution, the observations (shaded window) "
            "and each variant's prediction (a line per seed). Everything right of the shaded "
            "window is extrapolation.",
        ),
        "learning_curves": Figure(
            needs=("summary", "histories"),
            draw=learning_curves_figure(),
            caption="Damped oscillator: validation MSE (a grid halfway between the test "
            "points) against cumulative training energy, a line per seed, coloured by the "
            "strength of the physics prior.",
        ),
    },
)
