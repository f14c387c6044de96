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
from workflow_scripts.codecarbon_internals import check_codecarbon
from workflow_scripts.energy import CarbonSettings, check_grid_intensity
from workflow_scripts.errors import ConfigError
from workflow_scripts.experiments import card_of, experiment_cards
from workflow_scripts.experiments.card import ForecastingFamily, enabled_models
from workflow_scripts.validation import fill_defaults, first_error, numbers_as_floats

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"

#: Settings a sweep may vary together, as one axis; a point of such a sweep sets each of them,
#: and its name lists them in this order (``steps25-lbfgs_steps50``). Any other sweep varies
#: one setting.
SWEEP_GROUPS = (("training.steps", "training.lbfgs_steps"),)


def canonical(value: Any) -> Any:
    """``value`` with the keys of every mapping in sorted order.

    Snakemake compares a job's params with those it recorded by their ``repr``, which keeps a
    dict's insertion order, i.e. the YAML's: in canonical form the same settings written in
    another order are the same params, and re-run nothing.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


@cache
def _schema_text() -> str:
    return SCHEMA_PATH.read_text()


def config_schema(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """config/schema.yaml with every declared experiment's block and, for each experiment of
    ``config`` that reuses a declared card (``card: <name>``), that card's block."""
    schema = yaml.safe_load(_schema_text())
    cards = experiment_cards()
    blocks = {name: card.config_schema() for name, card in cards.items()}
    for name, block in _experiment_blocks(config).items():
        if name not in cards and block.get("card") in cards:
            reused = cards[block["card"]].config_schema()
            reused["properties"]["card"] = {
                "const": block["card"],
                "description": "the declared experiment whose card this one uses, and whose "
                "configured block it starts from (its own keys win; not its enabled)",
            }
            reused["properties"]["title"] = {
                "type": "string",
                "minLength": 1,
                "description": "its name in figures, captions and the report; default: the "
                "experiment's key",
            }
            blocks[name] = reused
    schema["properties"]["experiments"]["properties"] = blocks
    return schema


def _experiment_blocks(config: Any) -> dict[str, dict[str, Any]]:
    """The mapping blocks of ``config``'s experiments (none where it has no such mapping)."""
    experiments = config.get("experiments") if isinstance(config, dict) else None
    if not isinstance(experiments, dict):
        return {}
    return {name: block for name, block in experiments.items() if isinstance(block, dict)}


def _start_from_reused_blocks(config: dict[str, Any]) -> None:
    """In place: an experiment that reuses a card (``card: <name>``) gets the block configured
    for ``<name>`` under its own keys, so that it states only what differs (e.g. its data);
    ``enabled`` is its own."""
    from snakemake.utils import update_config

    cards = experiment_cards()
    for name, block in _experiment_blocks(config).items():
        if "card" not in block or name in cards:
            continue  # a declared experiment's block refuses the key (schema)
        reused = block["card"]
        if reused not in cards:
            raise ConfigError(
                f"experiments.{name}.card: {reused!r} is not a declared experiment (declared: "
                f"{', '.join(sorted(cards))})"
            )
        base = _experiment_blocks(config).get(reused)
        if base is None:
            raise ConfigError(
                f"experiments.{name}.card: {reused!r} has no block in this config to start from"
            )
        if cards[reused].family.data == "regridded":
            raise ConfigError(
                f"experiments.{name}.card: {reused!r} reads the workflow's one set of "
                "regridded stores; its card cannot be reused"
            )
        merged = copy.deepcopy({key: value for key, value in base.items() if key != "enabled"})
        update_config(merged, block)
        config["experiments"][name] = merged


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate, fill defaults, resolve each variant's architecture, run cross-key checks, and
    put ``config`` in canonical form, in place (it is Snakemake's ``config``): every number
    the schema types ``number`` a float, every mapping's keys sorted, so that the params and
    sweep-point names derived from it depend on what the YAML means, not on how it is written.

    Raises ``ConfigError`` whose message starts with the offending key, e.g.
    ``config key experiments.oscillator.training.steps: -5 is less than the minimum of 1``.
    """
    _start_from_reused_blocks(config)
    schema = config_schema(config)
    error = first_error(schema, config)
    if error is not None:
        key, message = error
        raise ConfigError(f"config key {key or '(top level)'}: {message}")
    fill_defaults(schema, config)
    normalised = numbers_as_floats(schema, config)
    check_config(normalised)
    config.clear()
    config.update(canonical(normalised))
    # Target levels are a set: the order they are written in must not re-run the analysis.
    for levels in config["analysis"]["target_levels"].values():
        levels.sort()
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


@cache
def _embedded_experiment_order() -> tuple[str, ...]:
    return tuple(read_config_file(SCHEMA_PATH.with_name("config.yaml"))["experiments"])


def enabled_experiments(config: dict[str, Any]) -> list[str]:
    """The enabled experiments in config/config.yaml's order, whatever the order of a
    --configfile (it lays out the overview figure and the report), any others after by name."""
    order = _embedded_experiment_order()
    enabled = [name for name, block in config["experiments"].items() if block.get("enabled", True)]
    return sorted(
        enabled, key=lambda name: (order.index(name) if name in order else len(order), name)
    )


def seeds_of(config: dict[str, Any], experiment: str) -> list[int]:
    return list(config["experiments"][experiment].get("seeds", config["seeds"]))


def device_of(config: dict[str, Any], experiment: str) -> str:
    """The experiment's own ``device``, else the top-level one."""
    return config["experiments"][experiment].get("device", config["device"])


def models_of(config: dict[str, Any], experiment: str) -> list[str]:
    """The enabled variants; none for a data-only experiment (e.g. shear_flow's data stage)."""
    return list(enabled_models(config["experiments"][experiment]))


def sweep_axis(settings: dict[str, Any]) -> tuple[str, ...]:
    """The settings a sweep point varies, in the order its name lists them: a declared group's
    (:data:`SWEEP_GROUPS`), else by name."""
    return next((g for g in SWEEP_GROUPS if set(g) == set(settings)), tuple(sorted(settings)))


def point_label(settings: dict[str, Any]) -> str:
    """A sweep point's readable name from its settings, whatever order they are written in:
    ``{training.steps: 250}`` -> steps250, ``{training.lbfgs_steps: 50, training.steps: 25}``
    -> steps25-lbfgs_steps50."""

    def shown(value: Any) -> str:
        return "x".join(map(str, value)) if isinstance(value, list) else str(value)

    return "-".join(f"{key.split('.', 1)[1]}{shown(settings[key])}" for key in sweep_axis(settings))


def run_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """What a run's result depends on, in canonical form: its spec less training.threads (the
    `threads:` directive's, which changes no result). The train and evaluate rules' param, and
    what tells one sweep point from another and from its variant."""
    spec = copy.deepcopy(spec)
    spec["training"].pop("threads", None)
    return canonical(spec)


def _point_spec(
    config: dict[str, Any], experiment: str, model: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """The variant ``model`` with a sweep point's settings over its own."""
    spec = variant_spec(config, experiment, model)
    for key, value in settings.items():
        section, setting = key.split(".", 1)
        spec[section][setting] = copy.deepcopy(value)
    return spec


def _is_the_variant(
    config: dict[str, Any], experiment: str, model: str, settings: dict[str, Any]
) -> bool:
    """Whether a point's settings are the variant's own (it is then the variant's base run)."""
    point = _point_spec(config, experiment, model, settings)
    return run_settings(point) == run_settings(variant_spec(config, experiment, model))


def enabled_sweeps(block: dict[str, Any]) -> dict[str, Any]:
    """The sweeps of an experiment's config block that are not switched off."""
    sweeps = block.get("sweeps", {})
    return {name: sweep for name, sweep in sweeps.items() if sweep.get("enabled", True)}


def sweep_points(config: dict[str, Any], experiment: str) -> dict[str, dict[str, Any]]:
    """Every sweep point of an experiment: ``model/label`` -> {axis, label, settings}. A sweep
    or swept variant that is switched off (``enabled: false``) takes its points with it; a point
    whose settings are its variant's own is that variant's run, not a point of its own."""
    block = config["experiments"][experiment]
    enabled = models_of(config, experiment)
    points: dict[str, dict[str, Any]] = {}
    for declared in enabled_sweeps(block).values():
        for model in (m for m in declared.get("models", enabled) if m in enabled):
            for settings in declared["points"]:
                if _is_the_variant(config, experiment, model, settings):
                    continue
                label = point_label(settings)
                axis = "+".join(sweep_axis(settings))
                points[f"{model}/{label}"] = {"axis": axis, "label": label, "settings": settings}
    return points


def runs_of(config: dict[str, Any], experiment: str) -> list[str]:
    """Every run directory's name below results/{experiment}/ but its seed: each enabled
    variant (``model``) and each of its sweep points (``model/point``)."""
    return [*models_of(config, experiment), *sweep_points(config, experiment)]


def variant_spec(config: dict[str, Any], experiment: str, model: str) -> dict[str, Any]:
    """The merged settings of one variant: its own block over the experiment's training budget;
    for a sweep point (``model/point``), the point's settings over those, with the point's
    name, the settings it varies (``sweep``: its axis, e.g. ``training.steps+
    training.lbfgs_steps``; not the sweep's name, a label that changes no result) and the
    value of the first (``sweep_value``).

    Returns plain data (its run_settings are a Snakemake param: a change re-runs the jobs).
    """
    if "/" in model:
        points = sweep_points(config, experiment)
        if model not in points:
            raise ConfigError(
                f"experiments.{experiment}.sweeps has no point {model!r} "
                f"(configured: {', '.join(points) or 'none'})"
            )
        point = points[model]
        spec = _point_spec(config, experiment, model.split("/", 1)[0], point["settings"])
        lead = point["settings"][sweep_axis(point["settings"])[0]]
        spec["point"] = point["label"]
        spec["sweep"] = point["axis"]
        spec["sweep_value"] = float(lead) if isinstance(lead, int | float) else None
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
        # Only where it reuses a card: the specs, hence params, of the others stay as they were.
        **({"card": block["card"]} if "card" in block else {}),
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
        card = card_of(config, experiment)
        block = config["experiments"][experiment]
        if block.get("models") and not enabled_models(block):
            raise ConfigError(
                f"experiments.{experiment}: enabled, but every variant has enabled: false; "
                f"switch the experiment off (experiments.{experiment}.enabled: false) or a "
                "variant on"
            )
        for option, value in block.get("training", {}).items():
            _refuse_if_ignored(
                f"experiments.{experiment}.training.{option}",
                card,
                device_of(config, experiment),
                option,
                value,
            )
        for model, variant in enabled_models(block).items():
            _check_variant(card, f"experiments.{experiment}.models.{model}", variant)
        _check_sweeps(config, experiment, card)
        for check in card.checks:
            check(block, config)


def _check_variant(card: Any, key: str, variant: dict[str, Any]) -> None:
    """Resolve the variant's architecture (its kind's keys and defaults, numbers as floats, in
    place) and refuse loss weights it would not use."""
    family = card.family
    architecture = resolve_architecture(
        variant.get("architecture", {}),
        family.architectures,
        family.default_architecture,
        f"{key}.architecture",
    )
    name = architecture["kind"]
    kind = architecture_kind(name, family.architectures)
    variant["architecture"] = {
        setting: numbers_as_floats(kind.keys[setting], value) if setting in kind.keys else value
        for setting, value in architecture.items()
    }
    weights = variant.get("loss_weights", {})
    if not any(weight > 0 for weight in weights.values()):
        raise ConfigError(f"{key}.loss_weights: at least one weight must be positive")
    if kind.loss_terms is not None:
        for term, weight in sorted(weights.items()):
            if weight > 0 and term not in kind.loss_terms:
                raise ConfigError(
                    f"{key}.loss_weights.{term}: a {name} uses only "
                    f"{', '.join(kind.loss_terms)}; the weight would be ignored"
                )


def _refuse_if_ignored(key: str, card: Any, device: str, option: str, value: Any):
    """Refuse a training setting that the experiment's family or the device would never read:
    a run with it would be the run without it under another name."""
    why = None
    if option == "batch_size" and not isinstance(card.family, ForecastingFamily):
        why = "a pointwise family fits all its points in every step; it draws no minibatches"
    if option == "amp" and value == "bf16" and device == "cpu":
        # With device auto a job may run where CUDA is (a GPU node of a cluster) though the
        # machine that checks the config has none: only device cpu is known to ignore it.
        why = "bf16 autocast runs on CUDA only, and device is cpu"
    if why:
        raise ConfigError(f"{key}: {value!r} would be ignored: {why}")


def _check_sweeps(config: dict[str, Any], experiment: str, card: Any) -> None:
    """Each enabled sweep's variants exist (a switched-off one is skipped); its points vary the
    same setting, or the same declared group (SWEEP_GROUPS); each point's settings are valid
    for the variant (the training schema, its architecture kind's keys, numbers as floats, in
    place) and used by it; no two points mean the same run."""
    prefix = f"experiments.{experiment}.sweeps"
    block = config["experiments"][experiment]
    enabled = models_of(config, experiment)
    defs = yaml.safe_load(_schema_text())["$defs"]
    # Every point so far, by the run it means (its variant and settings) and by its name.
    runs: dict[str, str] = {}
    names: dict[str, str] = {}
    for sweep, declared in enabled_sweeps(block).items():
        first_axis = sweep_axis(declared["points"][0])
        for index, settings in enumerate(declared["points"]):
            key = f"{prefix}.{sweep}.points.{index}"
            axis = sweep_axis(settings)
            if len(axis) > 1 and axis not in SWEEP_GROUPS:
                groups = "; ".join(" with ".join(group) for group in SWEEP_GROUPS)
                raise ConfigError(
                    f"{key}: varies {' and '.join(axis)} together; a sweep varies one setting "
                    f"or a group that moves together ({groups}): sweep them separately"
                )
            if axis != first_axis:
                raise ConfigError(
                    f"{key}: varies {'+'.join(axis)}, but {prefix}.{sweep}.points.0 varies "
                    f"{'+'.join(first_axis)}; a sweep varies one setting: make each its own sweep"
                )
        for model in declared.get("models", enabled):
            if model not in block.get("models", {}):
                raise ConfigError(
                    f"{prefix}.{sweep}.models: {model!r} is not a variant of {experiment} "
                    f"(variants: {', '.join(block.get('models', {}))})"
                )
            if model not in enabled:
                continue
            kind = architecture_kind(
                block["models"][model]["architecture"]["kind"], card.family.architectures
            )
            for index, settings in enumerate(declared["points"]):
                key = f"{prefix}.{sweep}.points.{index}"
                for setting, value in settings.items():
                    section, option = setting.split(".", 1)
                    schema = (
                        {"$defs": defs, **defs["training"]["properties"][option]}
                        if section == "training" and option in defs["training"]["properties"]
                        else kind.keys.get(option)
                    )
                    if section == "training" and schema is None:
                        raise ConfigError(f"{key}.{setting}: not a training setting")
                    error = schema and first_error(schema, value)
                    if error:
                        raise ConfigError(f"{key}.{setting}: {error[1]}")
                    if schema:
                        settings[setting] = numbers_as_floats(schema, value)
                    if section == "training":
                        device = device_of(config, experiment)
                        _refuse_if_ignored(f"{key}.{setting}", card, device, option, value)
                name = f"{model}/{point_label(settings)}"
                resolve_architecture(
                    _point_spec(config, experiment, model, settings)["architecture"],
                    card.family.architectures,
                    card.family.default_architecture,
                    f"{key} ({name}) architecture",
                )
                if _is_the_variant(config, experiment, model, settings):
                    continue  # the variant's own run, already a target
                run = repr(run_settings(_point_spec(config, experiment, model, settings)))
                earlier = runs.get(run) or names.get(name)
                if earlier:
                    raise ConfigError(
                        f"{earlier} and {key}: both mean the run {name!r} of {experiment}; "
                        "keep one (a sweep of the default config is switched off with "
                        "enabled: false)"
                    )
                runs[run] = names[name] = key


def _check_carbon(carbon: dict[str, Any]) -> None:
    """A national grid intensity that codecarbon has, where none is forced (else codecarbon
    would fall back to a world average with an error buried in a job log)."""
    check_grid_intensity(CarbonSettings.from_config(carbon))
    check_codecarbon()


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
