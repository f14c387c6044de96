"""A new experiment for tests/test_extending.py: exponential decay, MLP vs PINN."""

from __future__ import annotations

import json
from typing import Any

from workflow_scripts.experiments.card import ExperimentCard, Figure, PointwiseFamily
from workflow_scripts.figures import pareto_figure


def physics(data: dict[str, Any]) -> Any:
    from workflow_scripts.physics.decay import ExponentialDecay

    return ExponentialDecay(k=data["k"], u0=data["u0"])


def make_dataset(data: dict[str, Any]) -> Any:
    import numpy as np

    from workflow_scripts.data.pointwise import midpoints, pointwise_dataset

    decay = physics(data)
    t_obs = np.linspace(0.0, data["observation_end"], data["n_observations"])
    t_test = np.linspace(0.0, data["t_end"], 50)
    t_validation = midpoints(t_test)
    return pointwise_dataset(
        ("t",),
        observations=(t_obs[:, None], decay.exact(t_obs)),
        conditions=(np.zeros((1, 1)), np.array([decay.u0])),
        collocation=np.linspace(0.0, data["t_end"], 20)[:, None],
        validation=(t_validation[:, None], decay.exact(t_validation)),
        test=(t_test[:, None], decay.exact(t_test)),
        attrs={"experiment": "decay", "settings": json.dumps(data)},
    )


def draw_solution(inputs, outputs, card) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    figure, ax = plt.subplots(figsize=(5, 3))
    for path in inputs.predictions:
        with xr.open_dataset(path, engine="h5netcdf") as run:
            ax.plot(run["test_inputs"][:, 0], run["prediction"], label=path.parent.parent.name)
    ax.set(xlabel="t [s]", ylabel="u", title=card.title)
    ax.legend()
    for output in outputs:
        figure.savefig(output, dpi=150)


CARD = ExperimentCard(
    name="decay",
    title="Exponential decay",
    family=PointwiseFamily(
        coordinates=("t",),
        make_dataset=make_dataset,
        physics=physics,
        prediction_unit=lambda attrs: "u(t) on the test grid",
    ),
    error="test_mse",
    error_label="test MSE",
    tracked_error_label="validation MSE (learning curve)",
    data_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "k": {"type": "number", "exclusiveMinimum": 0, "default": 2.0},
            "u0": {"type": "number", "default": 1.0},
            "t_end": {"type": "number", "exclusiveMinimum": 0, "default": 2.0},
            "observation_end": {"type": "number", "exclusiveMinimum": 0, "default": 0.5},
            "n_observations": {"type": "integer", "minimum": 1, "default": 8},
        },
    },
    figures={
        "pareto": Figure(
            needs=("summary",),
            draw=pareto_figure("train_energy_kwh", "training energy", "training energy"),
            caption="Decay: test MSE against training energy.",
        ),
        "solution": Figure(
            needs=("summary", "predictions"),
            draw=draw_solution,
            caption="Decay: each run's u(t) on the test grid.",
        ),
    },
)
