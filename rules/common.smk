# Config validation (before any job runs) and the input functions of every stage.

from workflow_scripts.config import (
    enabled_experiments,
    evaluation_settings,
    models_of,
    seeds_of,
    validate_config,
    variant_spec,
)
from workflow_scripts.figures import FIGURES

validate_config(config)

EXPERIMENTS = enabled_experiments(config)
RUN = "results/{experiment}/{model}/seed{seed}"


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    model="[A-Za-z][A-Za-z0-9_]*",
    seed=r"\d+",


def run_files(experiment, filename):
    """One file of every (variant, seed) run of an experiment."""
    return [
        f"results/{experiment}/{model}/seed{seed}/{filename}"
        for model in models_of(config, experiment)
        for seed in seeds_of(config, experiment)
    ]


def spec_for(wildcards):
    return variant_spec(config, wildcards.experiment, wildcards.model)


def threads_for(wildcards):
    return spec_for(wildcards)["training"]["threads"]


def data_for(wildcards):
    return f"results/{wildcards.experiment}/data/dataset.nc"


def figure_files(experiment, figure):
    return multiext(f"results/figures/{experiment}/{figure}", ".png", ".pdf")


def all_figures():
    return [
        path
        for experiment in EXPERIMENTS
        for figure in FIGURES[experiment]
        for path in figure_files(experiment, figure)
    ]


def data_costs_for(wildcards):
    """Cost files of every data stage an experiment's models depend on (lifecycle CO2)."""
    return [f"results/{wildcards.experiment}/data/data.json"]
