"""Reading the validated config: variants, seeds, and the checks JSON Schema cannot express."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from workflow_scripts.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate against config/schema.yaml, fill its defaults, then run cross-key checks.

    Raises ``ConfigError`` whose message starts with the offending key, e.g.
    ``config key experiments.oscillator.training.steps: -5 is less than the minimum of 1``.
    """
    import jsonschema
    from snakemake.utils import validate

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(config)
    )
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ConfigError(f"config key {key}: {error.message}")
    validate(config, str(SCHEMA_PATH), set_default=True)
    check_config(config)
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    with open(path) as stream:
        return validate_config(yaml.safe_load(stream) or {})


def enabled_experiments(config: dict[str, Any]) -> list[str]:
    return [name for name, block in config["experiments"].items() if block.get("enabled", True)]


def seeds_of(config: dict[str, Any], experiment: str) -> list[int]:
    return list(config["experiments"][experiment].get("seeds", config["seeds"]))


def models_of(config: dict[str, Any], experiment: str) -> list[str]:
    """The enabled variants; none for a data-only experiment (e.g. shear_flow's data stage)."""
    models = config["experiments"][experiment].get("models", {})
    return [name for name, variant in models.items() if variant.get("enabled", True)]


def variant_spec(config: dict[str, Any], experiment: str, model: str) -> dict[str, Any]:
    """The merged settings of one variant: its own block over the experiment's training budget.

    Returns plain data (it is a Snakemake param, so a change re-runs the variant's jobs).
    """
    block = config["experiments"][experiment]
    if model not in block["models"]:
        raise ConfigError(
            f"experiments.{experiment}.models has no variant {model!r} "
            f"(configured: {', '.join(block['models'])})"
        )
    variant = block["models"][model]
    training = {**copy.deepcopy(block["training"]), **variant.get("training", {})}
    return {
        "experiment": experiment,
        "model": model,
        "physics_bias": variant["physics_bias"],
        "architecture": copy.deepcopy(variant.get("architecture", {})),
        "loss_weights": dict(variant.get("loss_weights", {})),
        "hard_constraints": bool(variant.get("hard_constraints", False)),
        "training": training,
    }


def evaluation_settings(config: dict[str, Any], experiment: str) -> dict[str, Any]:
    return {**config["evaluation"], **config["experiments"][experiment].get("evaluation", {})}


def check_config(config: dict[str, Any]) -> None:
    """Checks across keys that JSON Schema cannot express."""
    if not enabled_experiments(config):
        raise ConfigError("experiments: every experiment has enabled: false; nothing to run")
    for experiment in enabled_experiments(config):  # a switched-off block is not run: not checked
        block = config["experiments"][experiment]
        models = {name: block["models"][name] for name in models_of(config, experiment)}
        data = block.get("data", {})
        if experiment == "oscillator":
            if data["delta"] >= data["omega0"]:
                raise ConfigError(
                    "experiments.oscillator.data.delta must be below omega0 (underdamped), "
                    f"got delta={data['delta']}, omega0={data['omega0']}"
                )
            if data["observation_end"] > data["t_end"]:
                raise ConfigError(
                    "experiments.oscillator.data.observation_end must not exceed t_end"
                )
        if experiment == "shear_flow":
            _check_shear_flow_data(data)
            _check_rollout_steps(config, data)
            if models:
                _check_shear_flow_models(models, block, data)
        for model, variant in models.items():
            key = f"experiments.{experiment}.models.{model}"
            weights = variant.get("loss_weights", {})
            if not any(w > 0 for w in weights.values()):
                raise ConfigError(f"{key}.loss_weights: at least one weight must be positive")
            if experiment == "burgers":
                _check_burgers_points(key, weights, data)


def _check_burgers_points(key: str, weights: dict[str, float], data: dict[str, Any]) -> None:
    """A positive loss weight needs points to evaluate its term on (else its MSE is NaN)."""
    if weights.get("data", 0) > 0 and data["n_observations"] == 0:
        raise ConfigError(
            f"{key}.loss_weights.data is positive but experiments.burgers.data.n_observations "
            "is 0: set observations or drop the data term"
        )
    if weights.get("conditions", 0) > 0 and data["n_initial"] + data["n_boundary"] == 0:
        raise ConfigError(
            f"{key}.loss_weights.conditions is positive but experiments.burgers.data.n_initial "
            "and n_boundary are both 0: set condition points or drop the conditions term"
        )


def _check_shear_flow_data(data: dict[str, Any]) -> None:
    """The trajectory budget of a parameter pair, and a regrid target the source grid allows."""
    from workflow_scripts.data.sources import INITIAL_CONDITIONS, source_resolution

    prefix = "experiments.shear_flow.data"
    trajectories = data["simulate"]["trajectories"]
    if data["source"] == "simulate" and sum(trajectories.values()) > len(INITIAL_CONDITIONS):
        raise ConfigError(
            f"{prefix}.simulate.trajectories: {sum(trajectories.values())} in all, but a "
            f"(Re, Sc) pair has only {len(INITIAL_CONDITIONS)} initial conditions"
        )
    regrid = data["regrid"]
    for axis, source_n in zip(("nx", "ny"), source_resolution(data), strict=True):
        target_n = regrid[axis]
        key = f"{prefix}.regrid.{axis}"
        if target_n > source_n:
            raise ConfigError(f"{key}: {target_n} is finer than the source grid ({source_n})")
        if regrid["method"] == "block_mean" and source_n % target_n:
            raise ConfigError(
                f"{key}: block_mean needs a divisor of the source grid ({source_n}), got {target_n}"
            )


# Frames per trajectory of The Well's shear_flow files (the download source).
WELL_SHEAR_FLOW_FRAMES = 200


def _check_rollout_steps(config: dict[str, Any], data: dict[str, Any]) -> None:
    """A rollout no longer than the test trajectories hold, naming the key that set it."""
    steps = evaluation_settings(config, "shear_flow")["rollout_steps"]
    if steps is None:
        return
    from workflow_scripts.experiments.shear_flow import INPUT_FRAMES

    override = "rollout_steps" in config["experiments"]["shear_flow"].get("evaluation", {})
    key = ("experiments.shear_flow." if override else "") + "evaluation.rollout_steps"
    if data["source"] == "simulate":
        frames, origin = data["simulate"]["n_snapshots"], "experiments.shear_flow.data.simulate."
        origin += "n_snapshots gives"
    else:
        frames, origin = WELL_SHEAR_FLOW_FRAMES, "The Well's trajectories hold"
    if steps > frames - INPUT_FRAMES:
        raise ConfigError(
            f"{key}: {steps} steps, but {origin} {frames} frames, enough for "
            f"{frames - INPUT_FRAMES} steps after {INPUT_FRAMES} inputs"
        )


def _check_shear_flow_models(
    models: dict[str, Any], block: dict[str, Any], data: dict[str, Any]
) -> None:
    """What the forecasters need of the data and the budget, before any job runs."""
    from workflow_scripts.data.sources import splits

    prefix = "experiments.shear_flow"
    _check_forecaster_kinds(models)
    if "training" not in block:
        raise ConfigError(f"{prefix}.training: required when models are configured")
    if "batch_size" not in block["training"]:
        raise ConfigError(f"{prefix}.training.batch_size: required when models are configured")
    missing = {"train", "valid", "test"} - set(splits(data))
    if missing:
        key = "simulate.trajectories" if data["source"] == "simulate" else "download.splits"
        raise ConfigError(
            f"{prefix}.data.{key}: the forecasters need train, valid (the learning curve) and "
            f"test splits; missing: {', '.join(sorted(missing))}"
        )
    from workflow_scripts.models.registry import forecaster_kind

    nx, ny = data["regrid"]["nx"], data["regrid"]["ny"]
    for model, variant in models.items():
        architecture = variant["architecture"]
        kind = forecaster_kind(architecture["kind"])
        key = f"{prefix}.models.{model}.architecture"
        factor = kind.grid_multiple(architecture) if kind.grid_multiple else 1
        if nx % factor or ny % factor:
            raise ConfigError(
                f"{key}: a {architecture['kind']} with these levels/pool needs a grid divisible "
                f"by {factor}, but {prefix}.data.regrid is {nx} x {ny}"
            )
        weights = sorted(variant["loss_weights"].items())
        unused = [term for term, weight in weights if weight > 0 and term not in kind.loss_terms]
        if unused:
            raise ConfigError(
                f"{prefix}.models.{model}.loss_weights.{unused[0]}: a {architecture['kind']} "
                f"uses only {', '.join(kind.loss_terms)}; the weight would be ignored"
            )
        modes = architecture.get("modes")
        if modes is not None and (modes[0] > nx or modes[1] > ny):
            raise ConfigError(
                f"{key}.modes: {modes} exceed the {nx} x {ny} grid of {prefix}.data.regrid "
                "(the FNO would silently keep fewer)"
            )


def _check_forecaster_kinds(models: dict[str, Any]) -> None:
    """Every shear-flow variant names a registered forecaster (imports the model modules)."""
    if not models:
        return
    from workflow_scripts.models.registry import forecaster_kinds

    kinds = forecaster_kinds()
    for model, variant in models.items():
        kind = variant["architecture"]["kind"]
        if kind not in kinds:
            raise ConfigError(
                f"experiments.shear_flow.models.{model}.architecture.kind: {kind!r} is not a "
                f"registered forecaster (registered: {', '.join(kinds)}); add a module under "
                "workflow_scripts/models that registers it with register_forecaster"
            )
