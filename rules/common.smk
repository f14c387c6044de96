# Config validation (before any job runs) and the input functions of every stage.

from pathlib import Path

from workflow_scripts.config import (
    enabled_experiments,
    evaluation_settings,
    models_of,
    seeds_of,
    validate_config,
    variant_spec,
)
from workflow_scripts.data.sources import (
    SIMULATED_ROOT,
    source_files,
    splits,
    stats_file,
    store_path,
)
from workflow_scripts.figures import FIGURES

validate_config(config)

EXPERIMENTS = enabled_experiments(config)
RUN = "results/{experiment}/{model}/seed{seed}"
WELL_STEM = "shear_flow_Reynolds_{reynolds}_Schmidt_{schmidt}"
WELL_FILE = f"{WELL_STEM}.hdf5"


def shear_data():
    return config["experiments"]["shear_flow"]["data"]


DOWNLOAD_ROOT = (
    shear_data()["download"]["dest"]
    if "shear_flow" in config["experiments"]
    else "resources/the_well"
)


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    model="[A-Za-z][A-Za-z0-9_]*",
    seed=r"\d+",
    split="train|valid|test",
    reynolds=r"\d+e-?\d+",
    schmidt=r"\d+e-?\d+",


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
    """The data a model is trained and scored on: the shear flow's train store (its sibling
    stores are the extra inputs of data_splits_for), else the generated dataset."""
    if wildcards.experiment == "shear_flow":
        return str(store_path("train"))
    return f"results/{wildcards.experiment}/data/dataset.nc"


def data_splits_for(wildcards):
    """Every split's store and stats beside the train store (shear flow), else nothing."""
    if wildcards.experiment != "shear_flow":
        return []
    return [
        path
        for split in splits(shear_data())
        for path in (str(store_path(split)), f"results/shear_flow/data/{split}.stats.yaml")
    ]


def figure_files(experiment, figure):
    return multiext(f"results/figures/{experiment}/{figure}", ".png", ".pdf")


def final_targets():
    """What `snakemake` builds by default: per experiment, its summary and figures (if it has
    models) and, for the shear flow, the regridded training stores."""
    targets = []
    for experiment in EXPERIMENTS:
        if experiment == "shear_flow":
            targets += [str(store_path(split)) for split in splits(shear_data())]
        if models_of(config, experiment):
            targets.append(f"results/{experiment}/summary.csv")
            for figure in FIGURES.get(experiment, {}):
                targets += figure_files(experiment, figure)
    return targets


def download_targets(wildcards):
    """Every file of the configured download selection, and its stats.yaml."""
    data = {**shear_data(), "source": "download"}
    files = [f for split in data["download"]["splits"] for f in source_files(data, split)]
    return files + [stats_file(data)]


def data_costs_for(wildcards):
    """Cost files of every data stage an experiment's models depend on (lifecycle CO2)."""
    if wildcards.experiment != "shear_flow":
        return [f"results/{wildcards.experiment}/data/data.json"]
    data = shear_data()
    costs = [f"results/shear_flow/data/regrid/{split}.json" for split in splits(data)]
    if data["source"] == "simulate":
        costs += [
            f"results/shear_flow/data/simulate/{split}/{Path(f).stem}.json"
            for split in splits(data)
            for f in source_files(data, split)
        ]
    return costs
