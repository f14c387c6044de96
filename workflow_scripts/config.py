"""Reading the validated config: variants, seeds, and the checks JSON Schema cannot express."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from workflow_scripts.runtime import ConfigError

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
    return list(config["experiments"][experiment]["models"])


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
    for experiment, block in config["experiments"].items():
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
        for model, variant in block.get("models", {}).items():
            key = f"experiments.{experiment}.models.{model}"
            weights = variant.get("loss_weights", {})
            if not any(w > 0 for w in weights.values()):
                raise ConfigError(f"{key}.loss_weights: at least one weight must be positive")
