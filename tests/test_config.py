"""The schema rejects bad configs with a message naming the key, and fills defaults."""

import copy

import pytest
import torch

from workflow_scripts.config import (
    ConfigError,
    evaluation_settings,
    models_of,
    read_config_file,
    validate_config,
    variant_spec,
)
from workflow_scripts.runtime import resolve_device


def broken(config, path, value):
    config = copy.deepcopy(config)
    *parents, last = path
    node = config
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return config


OSC = ("experiments", "oscillator")
SHEAR = ("experiments", "shear_flow")
CASES = [
    ("unknown key", OSC + ("training", "stepz"), 10, "experiments.oscillator.training", "stepz"),
    (
        "wrong type",
        OSC + ("data", "n_test"),
        "many",
        "experiments.oscillator.data.n_test",
        "not of type",
    ),
    (
        "negative steps",
        OSC + ("training", "steps"),
        -5,
        "experiments.oscillator.training.steps",
        "minimum",
    ),
    (
        "unknown physics_bias",
        OSC + ("models", "pinn", "physics_bias"),
        "medium",
        "experiments.oscillator.models.pinn.physics_bias",
        "medium",
    ),
    ("empty seeds", ("seeds",), [], "config key seeds", "non-empty"),
    ("unknown experiment", ("experiments", "navier"), {}, "config key experiments", "navier"),
    ("bad device", ("device",), "tpu", "config key device", "tpu"),
    ("pue below one", ("carbon", "pue"), 0.5, "carbon.pue", "minimum"),
    (
        "bad variant name",
        OSC + ("models", "9lives"),
        {"physics_bias": "none", "loss_weights": {"data": 1.0}},
        "experiments.oscillator.models",
        "9lives",
    ),
    (
        "missing loss weights",
        OSC + ("models", "mlp", "loss_weights"),
        KeyError,
        "experiments.oscillator.models.mlp",
        "loss_weights",
    ),
]


@pytest.mark.parametrize("label, path, value, key, detail", CASES, ids=[c[0] for c in CASES])
def test_broken_config_is_rejected_naming_the_key(default_config, label, path, value, key, detail):
    with pytest.raises(ConfigError) as error:
        validate_config(broken(default_config, path, value))
    assert key in str(error.value)
    assert detail in str(error.value)


def test_cross_key_checks_name_the_key(default_config):
    config = broken(default_config, OSC + ("data", "delta"), 30.0)
    with pytest.raises(ConfigError, match="experiments.oscillator.data.delta"):
        validate_config(config)
    config = broken(default_config, OSC + ("models", "pinn", "loss_weights"), {"data": 0.0})
    with pytest.raises(ConfigError, match="experiments.oscillator.models.pinn.loss_weights"):
        validate_config(config)


def test_default_config_is_valid_and_defaults_are_filled(default_config):
    del default_config["carbon"]
    del default_config["experiments"]["oscillator"]["training"]["lbfgs_steps"]
    config = validate_config(default_config)
    assert config["carbon"]["pue"] == 1.0
    assert config["experiments"]["oscillator"]["training"]["lbfgs_steps"] == 0


def test_variant_spec_merges_the_shared_budget(default_config):
    config = validate_config(default_config)
    config["experiments"]["oscillator"]["models"]["pinn"]["training"] = {"lr": 0.01}
    spec = variant_spec(config, "oscillator", "pinn")
    assert spec["training"]["lr"] == 0.01
    assert spec["training"]["steps"] == config["experiments"]["oscillator"]["training"]["steps"]
    with pytest.raises(ConfigError, match="no variant 'transformer'"):
        variant_spec(config, "oscillator", "transformer")


def test_variant_cannot_change_the_step_budget(default_config):
    config = broken(default_config, OSC + ("models", "pinn", "training"), {"steps": 10})
    with pytest.raises(ConfigError, match="steps"):
        validate_config(config)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="config key 'device' is 'cuda'"):
            resolve_device("cuda")


def test_rollout_longer_than_the_simulated_trajectories_is_rejected(default_config):
    frames = default_config["experiments"]["shear_flow"]["data"]["simulate"]["n_snapshots"]
    config = broken(default_config, ("evaluation", "rollout_steps"), frames)
    with pytest.raises(ConfigError, match="evaluation.rollout_steps: .*n_snapshots"):
        validate_config(config)
    config = broken(default_config, ("evaluation", "rollout_steps"), 0)
    with pytest.raises(ConfigError, match="evaluation.rollout_steps"):
        validate_config(config)
    # set per experiment: the message names that key; The Well's files hold 200 frames
    config = broken(default_config, SHEAR + ("evaluation",), {"rollout_steps": 500})
    config["experiments"]["shear_flow"]["data"]["source"] = "download"
    with pytest.raises(ConfigError, match="experiments.shear_flow.evaluation.rollout_steps: 500"):
        validate_config(config)


SHEAR_CASES = [
    ("no batch size", SHEAR + ("training", "batch_size"), KeyError, "training.batch_size"),
    ("no valid split", SHEAR + ("data", "simulate", "trajectories", "valid"), 0, "valid"),
    ("grid vs U-Net levels", SHEAR + ("data", "regrid", "nx"), 30, "models.unet.architecture"),
    (
        "grid vs pooling",
        SHEAR + ("models", "flow_matching", "architecture", "pool"),
        3,
        "models.flow_matching.architecture",
    ),
    (
        "modes beyond the grid",
        SHEAR + ("models", "fno", "architecture", "modes"),
        [64, 64],
        "modes",
    ),
    ("scheduler typo", SHEAR + ("data", "regrid", "scheduler"), "thredas", "regrid.scheduler"),
]


@pytest.mark.parametrize("label, path, value, key", SHEAR_CASES, ids=[c[0] for c in SHEAR_CASES])
def test_shear_flow_settings_that_would_fail_in_a_job_are_rejected_up_front(
    default_config, label, path, value, key
):
    with pytest.raises(ConfigError, match=key):
        validate_config(broken(default_config, path, value))


REGRID = SHEAR + ("data", "regrid")
SLURM_WORKERS = {"workers": 2, "memory": "4GB", "walltime": "01:00:00"}
SLURM_CASES = [
    ("slurm without workers", "slurm", None, "regrid.slurm: required with"),
    ("workers without slurm", "threads", SLURM_WORKERS, "regrid.slurm: set, but"),
    ("no worker count", "slurm", {"memory": "4GB", "walltime": "1:00:00"}, "'workers' is a"),
    ("zero workers", "slurm", {**SLURM_WORKERS, "workers": 0}, "regrid.slurm.workers"),
    ("memory without unit", "slurm", {**SLURM_WORKERS, "memory": "4"}, "regrid.slurm.memory"),
    ("walltime in minutes", "slurm", {**SLURM_WORKERS, "walltime": "60"}, "slurm.walltime"),
    ("unknown key", "slurm", {**SLURM_WORKERS, "nodes": 2}, "'nodes' was unexpected"),
]


@pytest.mark.parametrize(
    "label, scheduler, workers, key", SLURM_CASES, ids=[c[0] for c in SLURM_CASES]
)
def test_slurm_regrid_settings_are_refused_naming_the_key(
    default_config, label, scheduler, workers, key
):
    config = broken(default_config, REGRID + ("scheduler",), scheduler)
    if workers is not None:
        config = broken(config, REGRID + ("slurm",), workers)
    with pytest.raises(ConfigError, match=r"experiments\.shear_flow\.data\.regrid\.slurm") as e:
        validate_config(config)
    assert key in str(e.value)


def test_slurm_regrid_settings_get_their_defaults(default_config):
    config = broken(default_config, REGRID + ("scheduler",), "slurm")
    config = broken(config, REGRID + ("slurm",), dict(SLURM_WORKERS))
    slurm = validate_config(config)["experiments"]["shear_flow"]["data"]["regrid"]["slurm"]
    assert slurm == {**SLURM_WORKERS, "cores": 1, "partition": None, "account": None}


def test_a_switched_off_variant_or_experiment_builds_and_checks_nothing(default_config):
    config = broken(default_config, OSC + ("models", "pinn", "enabled"), False)
    assert "pinn" not in models_of(validate_config(config), "oscillator")
    # a switched-off variant's settings are not checked either (it is not run)
    config["experiments"]["oscillator"]["models"]["pinn"]["loss_weights"] = {"data": 0.0}
    validate_config(config)
    config = broken(default_config, OSC + ("data", "delta"), 30.0)
    config["experiments"]["oscillator"]["enabled"] = False
    validate_config(config)


def test_experiment_evaluation_overrides_only_the_keys_it_sets(default_config):
    config = broken(default_config, ("evaluation", "rollout_steps"), 30)
    config["experiments"]["shear_flow"]["evaluation"] = {"min_inference_seconds": 2.0}
    settings = evaluation_settings(validate_config(config), "shear_flow")
    assert settings["rollout_steps"] == 30 and settings["min_inference_seconds"] == 2.0


def test_grid_constraints_apply_only_to_the_kinds_that_pool(default_config):
    """An FNO runs on any grid that holds its modes: a grid the U-Nets cannot halve is fine."""
    config = broken(default_config, SHEAR + ("data", "regrid", "nx"), 30)
    config["experiments"]["shear_flow"]["data"]["regrid"]["ny"] = 60
    for model in ("unet", "unet_physloss", "flow_matching"):
        config["experiments"]["shear_flow"]["models"][model]["enabled"] = False
    assert set(models_of(validate_config(config), "shear_flow")) == {"fno", "fno_divfree"}


def test_a_loss_weight_the_forecaster_would_ignore_is_refused(default_config):
    """Flow matching trains on its own objective: a physics penalty weight would do nothing."""
    weights = SHEAR + ("models", "flow_matching", "loss_weights", "divergence")
    with pytest.raises(ConfigError, match="models.flow_matching.loss_weights.divergence"):
        validate_config(broken(default_config, weights, 0.5))
    weights = SHEAR + ("models", "flow_matching", "loss_weights")
    config = broken(default_config, weights, {"tracer": 1.0})  # before: a KeyError in the job
    with pytest.raises(ConfigError, match="models.flow_matching.loss_weights.tracer"):
        validate_config(config)


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("seeds",), [0, 1.0], "seeds.1"),
        (SHEAR + ("data", "simulate", "n_snapshots"), 12.0, "shear_flow.data.simulate.n_snapshots"),
        (OSC + ("training", "steps"), 60.0, "experiments.oscillator.training.steps"),
        (OSC + ("training", "steps"), True, "experiments.oscillator.training.steps"),
    ],
)
def test_integral_floats_are_not_integers(default_config, path, value, key):
    shown = value[-1] if isinstance(value, list) else value
    with pytest.raises(ConfigError, match=rf"{key}: {shown} is not of type 'integer'"):
        validate_config(broken(default_config, path, value))


def test_an_unknown_country_is_refused_where_no_intensity_is_forced(default_config):
    config = broken(default_config, ("carbon", "grid_intensity_g_per_kwh"), None)
    validate_config(copy.deepcopy(config))  # DNK is known
    with pytest.raises(
        ConfigError, match=r"carbon\.country_iso_code': codecarbon has no grid intensity for 'XYZ'"
    ):
        validate_config(broken(config, ("carbon", "country_iso_code"), "XYZ"))
    # with a forced intensity the country is not used
    validate_config(broken(default_config, ("carbon", "country_iso_code"), "XYZ"))


def test_an_enabled_experiment_with_every_variant_off_is_refused(default_config):
    for variant in default_config["experiments"]["burgers"]["models"].values():
        variant["enabled"] = False
    with pytest.raises(ConfigError, match=r"experiments\.burgers: enabled, but every variant"):
        validate_config(default_config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "seeds: [0, 1]\nseeds: [2]\n",
            r"line 2, column 1: duplicate key 'seeds' \(first on line 1\)",
        ),
        ("carbon:\n  pue: 1.0\n  pue: 1.2\n", r"line 3, column 3: duplicate key 'pue'"),
        ("seeds: [0, 1\n", r"line 2, column 1: .*"),
        ("carbon:\n\tpue: 1.0\n", r"line 2, column 1: .*\(a tab: YAML indents with spaces only\)"),
        ("", r": is empty"),
        ("- seeds\n", r": the top level is a list, not a mapping"),
    ],
    ids=["duplicate", "nested-duplicate", "syntax", "tab", "empty", "list"],
)
def test_config_files_are_read_strictly_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file .*my\.yaml.*{message}"):
        read_config_file(path)


def with_sweeps(config: dict, experiment: str, sweeps: dict) -> dict:
    config = copy.deepcopy(config)
    config["experiments"][experiment]["sweeps"] = sweeps
    return config


def _budgets(config: dict, experiment: str, model: str) -> tuple[int, list[int]]:
    """The variant's configured steps and its sweep points' steps."""
    from workflow_scripts.config import sweep_points

    points = [
        variant_spec(config, experiment, name)["training"]["steps"]
        for name in sweep_points(config, experiment)
        if name.startswith(f"{model}/")
    ]
    return variant_spec(config, experiment, model)["training"]["steps"], points


def _unet_parameters(config: dict) -> list[int]:
    import torch

    from workflow_scripts.config import runs_of
    from workflow_scripts.models.registry import ForecastSetting, build_forecaster

    setting = ForecastSetting(
        input_frames=4, fields=4, delta_scale=torch.ones(4), mean=torch.zeros(4), std=torch.ones(4)
    )
    return sorted(
        sum(p.numel() for p in build_forecaster(spec["architecture"], setting).parameters())
        for spec in (
            variant_spec(config, "shear_flow", name)
            for name in runs_of(config, "shear_flow")
            if name.split("/")[0] == "unet"
        )
    )


def test_the_default_config_sweeps_budgets_and_the_unet_below_todays_sizes(default_config):
    from workflow_scripts.config import runs_of

    config = validate_config(default_config)
    for experiment in ("oscillator", "burgers"):
        for model in models_of(config, experiment):
            base, points = _budgets(config, experiment, model)
            steps = [base, *points]
            assert len(steps) >= 4 and max(steps) / min(steps) >= 8, (experiment, model)
            assert max(points) < base, (experiment, model)  # new points cost less than today's
    sizes = _unet_parameters(config)
    assert len(sizes) >= 3 and sizes[-1] / sizes[0] >= 4
    widths = [
        variant_spec(config, "shear_flow", name)["architecture"]["width"]
        for name in runs_of(config, "shear_flow")
        if name.split("/")[0] == "unet"
    ]
    assert max(widths) == widths[0]  # the configured U-Net is the largest: new points are smaller


def test_the_sweep_config_is_denser_and_wider_than_the_default(default_config, repo):
    import yaml
    from snakemake.utils import update_config

    default = validate_config(copy.deepcopy(default_config))
    update_config(default_config, yaml.safe_load((repo / "config" / "sweep.yaml").read_text()))
    dense = validate_config(default_config)
    for experiment in ("oscillator", "burgers"):
        for model in models_of(dense, experiment):
            base, points = _budgets(dense, experiment, model)
            _, default_points = _budgets(default, experiment, model)
            assert len(points) > len(default_points)
            assert max(points) > base and min(points) < min(default_points)
    assert len(_unet_parameters(dense)) > len(_unet_parameters(default))
    assert max(_unet_parameters(dense)) > max(_unet_parameters(default))


@pytest.mark.parametrize(
    ("sweeps", "message"),
    [
        ({"b": {"models": ["nope"], "points": [{"training.steps": 5}]}}, r"b\.models: 'nope'"),
        ({"b": {"points": [{"training.steps": 5.0}]}}, r"points\.0\.training\.steps: 5\.0 is not"),
        ({"b": {"points": [{"training.stepz": 5}]}}, r"training\.stepz: not a training setting"),
        (
            {"b": {"points": [{"training.steps": 5}, {"training.steps": 5}]}},
            r"b\.points\.0 and experiments\.oscillator\.sweeps\.b\.points\.1: both mean the "
            r"run 'mlp/steps5'",
        ),
        (  # the second sweep repeats a point of the first: both are named
            {
                "b": {"points": [{"training.steps": 5}]},
                "c": {"points": [{"training.steps": 7}, {"training.steps": 5}]},
            },
            r"sweeps\.b\.points\.0 and experiments\.oscillator\.sweeps\.c\.points\.1: both",
        ),
        (
            {"b": {"points": [{"training.steps": 30}, {"training.lr": 0.01}]}},
            r"sweeps\.b\.points\.1: varies training\.lr, but .*points\.0 varies training\.steps",
        ),
        (
            {"b": {"points": [{"architecture.width": 8, "training.lr": 0.01}]}},
            r"points\.0: varies architecture\.width and training\.lr together",
        ),
        (
            {"b": {"points": [{"training.batch_size": 8}]}},
            r"sweeps\.b\.points\.0\.training\.batch_size: 8 would be ignored: a pointwise",
        ),
        (
            {"b": {"points": [{"architecture.modes": [4, 4]}]}},
            r"sweeps\.b\.points\.0 \(mlp/modes4x4\) architecture\.modes: a mlp",
        ),
        ({"b": {"points": [{"steps": 5}]}}, r"sweeps\.b\.points\.0: 'steps' does not match"),
    ],
)
def test_bad_sweeps_are_refused_naming_the_key(default_config, sweeps, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(with_sweeps(default_config, "oscillator", sweeps))


def test_a_sweep_point_is_the_variant_with_its_settings(default_config):
    config = validate_config(
        with_sweeps(
            default_config,
            "burgers",
            {
                "budget": {
                    "models": ["pinn"],
                    "points": [{"training.steps": 20, "training.lbfgs_steps": 40}],
                }
            },
        )
    )
    spec = variant_spec(config, "burgers", "pinn/steps20-lbfgs_steps40")
    base = variant_spec(config, "burgers", "pinn")
    assert spec["architecture"] == base["architecture"]
    assert spec["training"] == {**base["training"], "steps": 20, "lbfgs_steps": 40}
    # the swept settings, not the sweep's name; the value of the first in the point's name
    assert (spec["point"], spec["sweep"], spec["sweep_value"]) == (
        "steps20-lbfgs_steps40",
        "training.steps+training.lbfgs_steps",
        20.0,
    )
    assert "point" not in base  # the configured variant's params are as before sweeps existed


def test_a_duplicate_key_in_a_configfile_stops_the_workflow_naming_file_and_line(tmp_path, repo):
    import subprocess
    import sys
    from pathlib import Path

    configfile = tmp_path / "my.yaml"
    configfile.write_text("seeds: [0]\ncarbon:\n  pue: 1.0\n  pue: 1.2\n")
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    result = subprocess.run(
        [
            snakemake,
            "-s",
            str(repo / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "-c1",
            "--configfile",
            str(repo / "config" / "config.yaml"),
            str(configfile),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"{configfile}, line 4, column 3: duplicate key 'pue'" in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "seeds: [0, 1]\nexperiments:\n  oscillator:\n\ttraining: {steps: 5}\n",
            "line 4, column 1",
        ),
        ("", "is empty"),
        ("- seeds\n", "the top level is a list"),
        ("seeds: [0]\nseeds: [1]\n", "line 2"),
        ("seeds: [1.0]\n", "config key seeds.0: 1.0 is not of type 'integer'"),
    ],
)
def test_the_config_checker_names_the_file_and_line_snakemake_cannot(tmp_path, text, message):
    """Snakemake rejects a broken --configfile before the workflow starts, without saying
    where; `python -m workflow_scripts.config FILE` says it."""
    import subprocess
    import sys

    path = tmp_path / "my.yaml"
    path.write_text(text)
    checked = subprocess.run(
        [sys.executable, "-m", "workflow_scripts.config", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 2
    assert message in checked.stderr
    assert str(path) in checked.stderr or "config key" in checked.stderr


def test_the_config_checker_passes_the_shipped_configs(repo):
    import subprocess
    import sys

    for name in ("sweep.yaml", "paper.yaml"):
        checked = subprocess.run(
            [sys.executable, "-m", "workflow_scripts.config", str(repo / "config" / name)],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.startswith("valid: ")


def test_key_order_and_number_spelling_leave_the_validated_config_as_it_was(default_config):
    """The config a job's params come from is the same, repr for repr (Snakemake compares
    params by repr), whatever the order of the keys and however the numbers are spelled."""
    import yaml
    from workflow_helpers import respelled_yaml, shuffled

    expected = validate_config(copy.deepcopy(default_config))
    for seed in range(3):
        rewritten = yaml.safe_load(respelled_yaml(shuffled(default_config, seed)))
        assert repr(validate_config(rewritten)) == repr(expected)


def test_a_points_settings_in_any_order_are_one_point_named_as_before(default_config):
    swapped = {"training.lbfgs_steps": 50, "training.steps": 25}
    config = with_sweeps(default_config, "burgers", {"budget": {"points": [swapped]}})
    from workflow_scripts.config import runs_of

    assert "pinn/steps25-lbfgs_steps50" in runs_of(validate_config(config), "burgers")
    # the same point written both ways in one sweep is refused naming both
    both = {"budget": {"points": [swapped, {"training.steps": 25, "training.lbfgs_steps": 50}]}}
    with pytest.raises(ConfigError, match=r"points\.0 and .*points\.1: both mean"):
        validate_config(with_sweeps(default_config, "burgers", both))


def test_the_sweeps_name_is_not_part_of_a_run(default_config):
    from workflow_scripts.config import run_settings, runs_of

    def runs(name):
        config = validate_config(
            with_sweeps(default_config, "oscillator", {name: {"points": [{"training.steps": 40}]}})
        )
        return {
            run: repr(run_settings(variant_spec(config, "oscillator", run)))
            for run in runs_of(config, "oscillator")
        }

    assert runs("budget") == runs("renamed")


def test_a_point_equal_to_the_variant_is_the_variants_run(default_config):
    from workflow_scripts.config import runs_of

    base = default_config["experiments"]["oscillator"]["training"]
    points = [{"training.steps": base["steps"]}, {"training.lr": base["lr"]}]
    for point in points:
        config = validate_config(
            with_sweeps(default_config, "oscillator", {"b": {"points": [point]}})
        )
        assert runs_of(config, "oscillator") == models_of(config, "oscillator")


@pytest.mark.parametrize(
    ("path", "value", "device", "message"),
    [
        (
            OSC + ("training", "batch_size"),
            8,
            "auto",
            r"oscillator\.training\.batch_size: 8 would be ignored",
        ),
        (
            SHEAR + ("training", "amp"),
            "bf16",
            "cpu",
            r"shear_flow\.training\.amp: 'bf16' would be ignored",
        ),
    ],
    ids=["batch-size-pointwise", "bf16-on-cpu"],
)
def test_a_setting_the_family_or_device_ignores_is_refused_naming_the_key(
    default_config, path, value, device, message
):
    config = broken(default_config, path, value)
    config["device"] = device
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_bf16_is_accepted_where_the_jobs_may_run_on_cuda(default_config):
    """device auto: the machine that checks the config may have no GPU where the jobs will."""
    validate_config(broken(default_config, SHEAR + ("training", "amp"), "bf16"))


def test_a_default_sweep_is_switched_off_from_a_users_configfile(tmp_path):
    from workflow_scripts.config import check_configuration, runs_of

    user = tmp_path / "my.yaml"
    user.write_text("experiments:\n  oscillator:\n    sweeps:\n      budget: {enabled: false}\n")
    config = check_configuration([user])
    assert runs_of(config, "oscillator") == models_of(config, "oscillator")
    assert len(runs_of(config, "burgers")) > len(models_of(config, "burgers"))  # still swept


def test_numbers_are_floats_where_the_schema_says_number(default_config):
    config = broken(default_config, ("carbon", "pue"), 2)
    config["experiments"]["oscillator"]["training"]["lr"] = 1
    config["experiments"]["oscillator"]["models"]["mlp"]["architecture"]["snake_frequency"] = 2
    config = validate_config(config)
    assert repr(config["carbon"]["pue"]) == "2.0"
    assert repr(variant_spec(config, "oscillator", "mlp")["training"]["lr"]) == "1.0"
    assert (
        repr(variant_spec(config, "oscillator", "mlp")["architecture"]["snake_frequency"]) == "2.0"
    )
    assert repr(config["experiments"]["oscillator"]["training"]["steps"]) == "2000"  # integer


def test_target_levels_in_any_order_are_the_same_levels(default_config):
    """Energy-to-target levels are a set: written in another order they give the analysis the
    same param, so a finished analysis is not re-run."""
    orders = ([1e-3, 1e-5, 1e-4], [1e-5, 1e-4, 1e-3])
    validated = []
    for levels in orders:
        config = copy.deepcopy(default_config)
        config.setdefault("analysis", {})["target_levels"] = {"oscillator": levels}
        validated.append(validate_config(config)["analysis"]["target_levels"]["oscillator"])
    assert validated[0] == validated[1] == [1e-5, 1e-4, 1e-3]
