"""The Burgers experiment on the shared spine: its data, its physics hooks, its config, its DAG."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from conftest import tiny_config
from workflow_helpers import assert_experiment_outputs, only, snakemake

from workflow_scripts.config import ConfigError, validate_config, variant_spec
from workflow_scripts.data.pointwise import write_dataset
from workflow_scripts.experiments import dataset_maker, experiment_class
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.experiments.burgers import make_burgers_dataset
from workflow_scripts.families.pointwise import PointwiseExperiment
from workflow_scripts.physics.burgers import exact_solution, reference_grid

MODELS = ("mlp", "pinn", "pinn_data", "pinn_hard")
FIGURES = ("solution", "slices", "pareto", "learning_curves")
SMALL = {
    "n_observations": 50,
    "n_initial": 20,
    "n_boundary": 11,
    "n_collocation": 64,
    "test_nx": 32,
    "test_nt": 9,
}


@pytest.fixture
def config(default_config) -> dict:
    return validate_config(default_config)


@pytest.fixture
def data_settings(config) -> dict:
    return {**config["experiments"]["burgers"]["data"], **SMALL}


def open_burgers(tmp_path, settings: dict, dtype=torch.float64) -> PointwiseExperiment:
    path = tmp_path / "dataset.nc"
    write_dataset(make_burgers_dataset(settings), path)
    return experiment_class("burgers")(path, torch.device("cpu"), dtype)


def test_declared_under_its_name(tmp_path, data_settings):
    assert dataset_maker("burgers") is make_burgers_dataset
    experiment = open_burgers(tmp_path, data_settings)
    assert isinstance(experiment, PointwiseExperiment) and experiment.name == "burgers"
    assert experiment.coordinates == ("x", "t")
    assert "32 × 9 (x × t)" in experiment.prediction_unit


def test_dataset_counts_conditions_and_reference_grid(data_settings):
    data = make_burgers_dataset(data_settings)
    assert data.sizes["observation"] == 50
    assert data.sizes["condition"] == 20 + 11
    assert data.sizes["collocation"] == 64
    assert data.sizes["test"] == 32 * 9
    assert list(data["coordinate"].values) == ["x", "t"]
    for name in data.data_vars:
        assert data[name].dtype == np.float64, name

    for name in ("observation_inputs", "collocation_inputs"):
        x, t = data[name].values.T
        assert (-1 <= x).all() and (x <= 1).all() and (0 <= t).all() and (t <= 1).all(), name
    obs_x, obs_t = data["observation_inputs"].values.T
    assert 0 < obs_t.min() and np.abs(obs_x).max() < 1  # interior

    inputs, values = data["condition_inputs"].values, data["condition_values"].values
    initial = inputs[:, 1] == 0
    boundary = np.abs(inputs[:, 0]) == 1
    assert initial.sum() == 20 and boundary.sum() == 11 and not (initial & boundary).any()
    np.testing.assert_array_equal(values[initial], -np.sin(np.pi * inputs[initial, 0]))
    np.testing.assert_array_equal(values[boundary], 0.0)
    assert set(inputs[boundary, 0]) == {-1.0, 1.0}

    x, t, u = reference_grid(nx=32, nt=9, nu=data_settings["nu"])
    shape = json.loads(data.attrs["test_grid_shape"])
    assert shape == [9, 32]
    grid = data["test_inputs"].values.reshape(*shape, 2)
    np.testing.assert_array_equal(grid[..., 0], np.broadcast_to(x, (9, 32)))
    np.testing.assert_array_equal(grid[..., 1], np.broadcast_to(t[:, None], (9, 32)))
    np.testing.assert_array_equal(data["test_values"].values.reshape(shape), u)


def test_validation_grid_lies_halfway_between_the_test_grid_points(config):
    """On the configured grids: no validation point shares an x or a t with a test point (so
    none coincides), both cover the same domain, and the values are the exact solution."""
    settings = config["experiments"]["burgers"]["data"]
    data = make_burgers_dataset(settings)
    validation, test = data["validation_inputs"].values, data["test_inputs"].values
    assert len(validation) == (settings["test_nx"] - 1) * (settings["test_nt"] - 1)
    for axis in (0, 1):  # x, t
        assert not set(validation[:, axis]) & set(test[:, axis])
        assert test[:, axis].min() < validation[:, axis].min()
        assert validation[:, axis].max() < test[:, axis].max()
    np.testing.assert_array_equal(
        data["validation_values"],
        exact_solution(validation[:, 0], validation[:, 1], settings["nu"]),
    )


def test_dataset_is_seeded(data_settings):
    first = make_burgers_dataset(data_settings)
    assert first.identical(make_burgers_dataset(data_settings))
    other = make_burgers_dataset({**data_settings, "seed": data_settings["seed"] + 1})
    assert not np.array_equal(first["collocation_inputs"], other["collocation_inputs"])
    # each point set has its own stream: more observations leave the collocation points alone
    more = make_burgers_dataset({**data_settings, "n_observations": 80})
    np.testing.assert_array_equal(more["collocation_inputs"], first["collocation_inputs"])
    np.testing.assert_array_equal(more["observation_inputs"][:50], first["observation_inputs"])


def test_hard_constraints_hold_exactly_for_random_weights(tmp_path, config, data_settings):
    experiment = open_burgers(tmp_path, data_settings)
    spec = VariantSpec.from_dict(variant_spec(config, "burgers", "pinn_hard"))
    generator = torch.Generator().manual_seed(7)
    x = torch.rand(200, 1, generator=generator, dtype=torch.float64) * 2 - 1
    t = torch.rand(200, 1, generator=generator, dtype=torch.float64)
    for seed in range(3):
        torch.manual_seed(seed)
        model = experiment.build_model(spec)
        with torch.no_grad():
            start = model(torch.cat([x, torch.zeros_like(x)], dim=1))
            left = model(torch.cat([-torch.ones_like(t), t], dim=1))
            right = model(torch.cat([torch.ones_like(t), t], dim=1))
            inside = model(torch.cat([x, t], dim=1))
        torch.testing.assert_close(start, -torch.sin(math.pi * x), rtol=0, atol=0)
        assert left.abs().max() < 1e-15 and right.abs().max() < 1e-15  # sin(pi) round-off
        assert (inside + torch.sin(math.pi * x)).abs().max() > 1e-3  # the network is used


def test_residual_vanishes_on_an_exact_viscous_solution(tmp_path, data_settings):
    # Galilean-shifted viscous shock u = a - b tanh(b (x - a t) / (2 nu)) solves Burgers exactly.
    nu, a, b = 0.025, 0.3, 0.5
    experiment = open_burgers(tmp_path, {**data_settings, "nu": nu})
    assert experiment.physics.nu == nu

    def exact(inputs):
        x, t = inputs[:, 0:1], inputs[:, 1:2]
        return a - b * torch.tanh(b * (x - a * t) / (2 * nu))

    inputs = experiment.collocation_inputs.detach().requires_grad_(True)
    residual = experiment.residual(inputs, exact(inputs))
    assert residual.shape == (64, 1)
    assert residual.abs().max() < 1e-12

    # ... and not for another viscosity, so the configured nu is the one used
    wrong = open_burgers(tmp_path / "other", {**data_settings, "nu": 2 * nu})
    inputs = wrong.collocation_inputs.detach().requires_grad_(True)
    assert wrong.residual(inputs, exact(inputs)).abs().max() > 1e-2


def test_each_variant_gets_exactly_its_loss_terms(tmp_path, config, data_settings):
    experiment = open_burgers(tmp_path, data_settings, dtype=torch.float32)
    for model_name in MODELS:
        spec = VariantSpec.from_dict(variant_spec(config, "burgers", model_name))
        terms = experiment.loss_terms(experiment.build_model(spec), spec)
        assert set(terms) == {k for k, w in spec.loss_weights.items() if w > 0}, model_name
        assert all(torch.isfinite(v) for v in terms.values()), model_name
    assert (
        experiment.prediction_unit == "the solution u(x, t) on the whole 32 × 9 (x × t) test grid"
    )


BURGERS = ("experiments", "burgers")
CASES = [
    ("negative nu", BURGERS + ("data", "nu"), -0.01, "experiments.burgers.data.nu", "0"),
    ("zero nu", BURGERS + ("data", "nu"), 0, "experiments.burgers.data.nu", "0"),
    ("unknown key", BURGERS + ("data", "viscosity"), 0.01, "experiments.burgers.data", "viscosity"),
    (
        "n_initial wrong type",
        BURGERS + ("data", "n_initial"),
        "many",
        "experiments.burgers.data.n_initial",
        "not of type",
    ),
    (
        "negative n_boundary",
        BURGERS + ("data", "n_boundary"),
        -1,
        "experiments.burgers.data.n_boundary",
        "minimum",
    ),
    (
        "tiny test grid",
        BURGERS + ("data", "test_nx"),
        1,
        "experiments.burgers.data.test_nx",
        "minimum",
    ),
    (
        "bad dtype",
        BURGERS + ("training", "dtype"),
        "float16",
        "experiments.burgers.training.dtype",
        "float16",
    ),
]


@pytest.mark.parametrize("label, path, value, key, detail", CASES, ids=[c[0] for c in CASES])
def test_bad_burgers_config_is_rejected_naming_the_key(
    default_config, label, path, value, key, detail
):
    config = copy.deepcopy(default_config)
    *parents, last = path
    node = config
    for part in parents:
        node = node[part]
    node[last] = value
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert key in str(error.value) and detail in str(error.value)


def test_loss_terms_need_their_points(default_config):
    config = copy.deepcopy(default_config)
    config["experiments"]["burgers"]["data"]["n_observations"] = 0
    with pytest.raises(
        ConfigError,
        match=r"burgers\.models\.mlp\.loss_weights\.data.*"
        r"n_observations",
    ):
        validate_config(config)
    config = copy.deepcopy(default_config)
    config["experiments"]["burgers"]["data"].update(n_initial=0, n_boundary=0)
    with pytest.raises(ConfigError, match=r"burgers\.models\.pinn\.loss_weights\.conditions"):
        validate_config(config)


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        (
            {"activation": "tanh", "snake_frequency": 2.0},
            r"architecture\.snake_frequency: .* with these settings",
        ),
        ({"modes": [4, 4]}, r"architecture\.modes: a mlp architecture does not take it at all"),
        ({"kind": "unet"}, r"architecture\.kind: 'unet' is not a declared pointwise architecture"),
        ({"width": 50.0}, r"architecture\.width: 50\.0 is not of type 'integer'"),
    ],
)
def test_an_architecture_key_the_network_does_not_take_is_refused(
    default_config, architecture, message
):
    default_config["experiments"]["burgers"]["models"]["mlp"]["architecture"] = architecture
    with pytest.raises(ConfigError, match=r"experiments\.burgers\.models\.mlp\." + message):
        validate_config(default_config)


def test_defaults_are_the_documented_ones(default_config):
    del default_config["experiments"]["burgers"]["data"]["nu"]
    config = validate_config(default_config)
    # 0.01/π correctly rounded (0.01 / math.pi is one ulp off: 0.01 is not exact)
    assert config["experiments"]["burgers"]["data"]["nu"] == 1 / (100 * math.pi)
    spec = variant_spec(config, "burgers", "pinn_hard")
    assert spec["architecture"] == {
        "kind": "mlp",  # the declared default kind; tanh takes no snake_frequency
        "width": 50,
        "depth": 4,
        "activation": "tanh",
    }
    assert spec["hard_constraints"] and spec["physics_bias"] == "strong"
    budgets = {
        json.dumps(variant_spec(config, "burgers", m)["training"], sort_keys=True) for m in MODELS
    }
    assert len(budgets) == 1  # one optimiser budget for every variant


@pytest.mark.slow
def test_burgers_branch_runs_through_the_cli(tmp_path):
    config = only(tiny_config(), "burgers", seeds=[0])
    config["experiments"]["burgers"]["data"].update(
        n_observations=100, n_initial=30, n_boundary=20, n_collocation=200, test_nx=64, test_nt=20
    )
    snakemake(tmp_path, config)
    assert_experiment_outputs(tmp_path, "burgers", MODELS, FIGURES)
    metrics = json.loads((tmp_path / "results/burgers/pinn/seed0/metrics.json").read_text())
    assert metrics["prediction_unit"].endswith("64 × 20 (x × t) test grid")
