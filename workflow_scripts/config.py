"""Reading the validated config: variants, seeds, and the checks JSON Schema cannot express.

The schema is ``config/schema.yaml`` (the common keys) with each experiment's block from its
card and each variant's architecture from its declared kind; so adding an experiment or an
architecture kind needs no edit here or in the schema file.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from workflow_scripts.architectures import architecture_kind, resolve_architecture
from workflow_scripts.energy import CarbonSettings, grid_intensity_g_per_kwh
from workflow_scripts.errors import ConfigError
from workflow_scripts.experiments import experiment_card, experiment_cards
from workflow_scripts.experiments.card import enabled_models
from workflow_scripts.validation import fill_defaults, first_error

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"


@cache
def _schema_text() -> str:
    return SCHEMA_PATH.read_text()


def config_schema() -> dict[str, Any]:
    """config/schema.yaml with every declared experiment's block."""
    schema = yaml.safe_load(_schema_text())
    schema["properties"]["experiments"]["properties"] = {
        name: card.config_schema() for name, card in experiment_cards().items()
    }
    return schema


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate, fill defaults, resolve each variant's architecture, then run cross-key checks.

    Raises ``ConfigError`` whose message starts with the offending key, e.g.
    ``config key experiments.oscillator.training.steps: -5 is less than the minimum of 1``.
    """
    schema = config_schema()
    error = first_error(schema, config)
    if error is not None:
        key, message = error
        raise ConfigError(f"config key {key or '(top level)'}: {message}")
    fill_defaults(schema, config)
    check_config(config)
    return config


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML silently keeps the last)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                problem=f"duplicate key {key!r} (first on line {seen[key]}); YAML would "
                "silently keep the last value",
                problem_mark=key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A config file as a mapping; a ConfigError naming the file (and line) for a YAML syntax
    error, a tab in the indentation, a duplicate key, an empty file or a non-mapping."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"config file {path}: cannot be read ({error.strerror})") from error
    try:
        content = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        hint = " (a tab: YAML indents with spaces only)" if "\t" in text else ""
        raise ConfigError(f"config file {path}{where}: {error.problem}{hint}") from error
    if content is None:
        raise ConfigError(f"config file {path}: is empty; a config is a mapping of keys")
    if not isinstance(content, dict):
        raise ConfigError(
            f"config file {path}: the top level is a {type(content).__name__}, not a mapping "
            "of keys (e.g. 'seeds: [0, 1]')"
        )
    return content


def check_config_files(paths: list[str | Path]) -> None:
    """Re-read every config file Snakemake merged, strictly (duplicates are an error)."""
    for path in paths:
        read_config_file(path)


def load_config(path: str | Path) -> dict[str, Any]:
    return validate_config(read_config_file(path))


def enabled_experiments(config: dict[str, Any]) -> list[str]:
    return [name for name, block in config["experiments"].items() if block.get("enabled", True)]


def seeds_of(config: dict[str, Any], experiment: str) -> list[int]:
    return list(config["experiments"][experiment].get("seeds", config["seeds"]))


def models_of(config: dict[str, Any], experiment: str) -> list[str]:
    """The enabled variants; none for a data-only experiment (e.g. shear_flow's data stage)."""
    return list(enabled_models(config["experiments"][experiment]))


def point_label(settings: dict[str, Any]) -> str:
    """A sweep point's readable name from its settings: ``{training.steps: 250}`` -> steps250."""

    def shown(value: Any) -> str:
        return "x".join(map(str, value)) if isinstance(value, list) else str(value)

    return "-".join(f"{key.split('.', 1)[1]}{shown(value)}" for key, value in settings.items())


def sweep_points(config: dict[str, Any], experiment: str) -> dict[str, dict[str, Any]]:
    """Every sweep point of an experiment: ``model/label`` -> {sweep, label, settings}. A swept
    variant that is switched off (``enabled: false``) takes its points with it."""
    block = config["experiments"][experiment]
    enabled = models_of(config, experiment)
    points: dict[str, dict[str, Any]] = {}
    for sweep, declared in block.get("sweeps", {}).items():
        for model in (m for m in declared.get("models", enabled) if m in enabled):
            for settings in declared["points"]:
                label = point_label(settings)
                points[f"{model}/{label}"] = {"sweep": sweep, "label": label, "settings": settings}
    return points


def runs_of(config: dict[str, Any], experiment: str) -> list[str]:
    """Every run directory's name below results/{experiment}/ but its seed: each enabled
    variant (``model``) and each of its sweep points (``model/point``)."""
    return [*models_of(config, experiment), *sweep_points(config, experiment)]


def variant_spec(config: dict[str, Any], experiment: str, model: str) -> dict[str, Any]:
    """The merged settings of one variant: its own block over the experiment's training budget;
    for a sweep point (``model/point``), the point's settings over those.

    Returns plain data (it is a Snakemake param, so a change re-runs the variant's jobs).
    """
    if "/" in model:
        points = sweep_points(config, experiment)
        if model not in points:
            raise ConfigError(
                f"experiments.{experiment}.sweeps has no point {model!r} "
                f"(configured: {', '.join(points) or 'none'})"
            )
        point = points[model]
        spec = variant_spec(config, experiment, model.split("/", 1)[0])
        for key, value in point["settings"].items():
            section, setting = key.split(".", 1)
            spec[section][setting] = copy.deepcopy(value)
        first = next(iter(point["settings"].values()))
        spec["point"] = point["label"]
        spec["sweep"] = point["sweep"]
        spec["sweep_value"] = float(first) if isinstance(first, int | float) else None
        return spec
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
    """Checks across keys that JSON Schema cannot express: the carbon block, every variant's
    architecture against its kind, then each experiment's own checks (its card's)."""
    experiments = enabled_experiments(config)
    if not experiments:
        raise ConfigError("experiments: every experiment has enabled: false; nothing to run")
    _check_carbon(config["carbon"])
    for experiment in experiments:  # a switched-off block is not run: not checked
        card = experiment_card(experiment)
        block = config["experiments"][experiment]
        if block.get("models") and not enabled_models(block):
            raise ConfigError(
                f"experiments.{experiment}: enabled, but every variant has enabled: false; "
                f"switch the experiment off (experiments.{experiment}.enabled: false) or a "
                "variant on"
            )
        for model, variant in enabled_models(block).items():
            _check_variant(card, f"experiments.{experiment}.models.{model}", variant)
        _check_sweeps(config, experiment, card)
        for check in card.checks:
            check(block, config)


def _check_variant(card: Any, key: str, variant: dict[str, Any]) -> None:
    """Resolve the variant's architecture (its kind's keys and defaults, in place) and refuse
    loss weights it would not use."""
    family = card.family
    variant["architecture"] = resolve_architecture(
        variant.get("architecture", {}),
        family.architectures,
        family.default_architecture,
        f"{key}.architecture",
    )
    weights = variant.get("loss_weights", {})
    if not any(weight > 0 for weight in weights.values()):
        raise ConfigError(f"{key}.loss_weights: at least one weight must be positive")
    name = variant["architecture"]["kind"]
    kind = architecture_kind(name, family.architectures)
    if kind.loss_terms is not None:
        for term, weight in sorted(weights.items()):
            if weight > 0 and term not in kind.loss_terms:
                raise ConfigError(
                    f"{key}.loss_weights.{term}: a {name} uses only "
                    f"{', '.join(kind.loss_terms)}; the weight would be ignored"
                )


def _check_sweeps(config: dict[str, Any], experiment: str, card: Any) -> None:
    """Swept variants exist (a switched-off one is skipped); each point's settings are valid for
    the variant (the training schema, its architecture kind's keys) and its name is unique."""
    prefix = f"experiments.{experiment}.sweeps"
    block = config["experiments"][experiment]
    enabled = models_of(config, experiment)
    defs = yaml.safe_load(_schema_text())["$defs"]
    seen: set[str] = set()
    for sweep, declared in block.get("sweeps", {}).items():
        for model in declared.get("models", enabled):
            if model not in block.get("models", {}):
                raise ConfigError(
                    f"{prefix}.{sweep}.models: {model!r} is not a variant of {experiment} "
                    f"(variants: {', '.join(block.get('models', {}))})"
                )
            if model not in enabled:
                continue
            for index, settings in enumerate(declared["points"]):
                key = f"{prefix}.{sweep}.points.{index}"
                name = f"{model}/{point_label(settings)}"
                if name in seen:
                    raise ConfigError(f"{key}: a second point named {name!r}")
                seen.add(name)
                for setting, value in settings.items():
                    section, option = setting.split(".", 1)
                    schema = defs["training"]["properties"].get(option)
                    if section == "training" and schema is None:
                        raise ConfigError(f"{key}.{setting}: not a training setting")
                    error = schema and first_error({"$defs": defs, **schema}, value)
                    if error:
                        raise ConfigError(f"{key}.{setting}: {error[1]}")
                resolve_architecture(
                    variant_spec(config, experiment, name)["architecture"],
                    card.family.architectures,
                    card.family.default_architecture,
                    f"{key} ({name}) architecture",
                )


def _check_carbon(carbon: dict[str, Any]) -> None:
    """A national grid intensity that codecarbon has, where none is forced (else codecarbon
    would fall back to a world average with an error buried in a job log)."""
    grid_intensity_g_per_kwh(CarbonSettings.from_config(carbon))


def check_configuration(paths: list[str | Path]) -> dict[str, Any]:
    """What ``snakemake --configfile PATHS`` would run with: each file read strictly, merged in
    order over config/config.yaml as Snakemake merges them, and validated.

    Snakemake parses ``--configfile`` itself before the workflow starts and reports a YAML
    syntax error, a tab, an empty file or a top-level list only as "not valid JSON or YAML";
    this names the file, line and column (``python -m workflow_scripts.config my.yaml``).
    """
    from snakemake.utils import update_config

    config = read_config_file(SCHEMA_PATH.with_name("config.yaml"))
    for path in paths:
        update_config(config, read_config_file(path))
    return validate_config(config)


if __name__ == "__main__":
    import sys

    try:
        checked = check_configuration(sys.argv[1:])
    except ConfigError as refused:
        print(refused, file=sys.stderr)
        raise SystemExit(2) from None
    experiments = enabled_experiments(checked)
    runs = sum(len(runs_of(checked, e)) * len(seeds_of(checked, e)) for e in experiments)
    print(f"valid: {runs} training runs in {', '.join(experiments)}")
