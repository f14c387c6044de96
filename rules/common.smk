# Config validation (before any job runs) and the input and param functions of every stage.

import dataclasses
from pathlib import Path

from workflow_scripts.config import (
    canonical,
    card_of,
    check_config_files,
    device_of,
    enabled_experiments,
    evaluation_settings,
    models_of,
    run_settings,
    runs_of,
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
from workflow_scripts.data.well_format import WELL_FILE_STEM, WELL_FILE_SUFFIX
from workflow_scripts.analysis import TABLES
from workflow_scripts.energy import CarbonSettings
from workflow_scripts.experiments import experiment_cards
from workflow_scripts.figures import LIFECYCLE_CAPTIONS, LIFECYCLE_FIGURES
from workflow_scripts.gpu_slots import count_gpus

# Every file Snakemake merged (config/config.yaml and each --configfile), read strictly: a
# duplicate key is an error naming the file and line, not a silent last-wins.
check_config_files([*workflow.configfiles, *workflow.config_settings.configfiles])
# In place: defaults filled, numbers as floats where the schema says number, keys sorted at
# every level, so that every param below is the same whatever order the YAML is written in.
validate_config(config)

EXPERIMENTS = enabled_experiments(config)

# GPUs of this machine, counted without torch (0 when every experiment runs on the CPU, or
# where none is found). Each job that may run on CUDA (train, evaluate, simulate_shear_flow of
# an experiment whose device is not cpu) holds one `gpu`, at most as many at once as the
# machine has, and workflow_scripts/gpu_slots.py (called where the job resolves its device)
# pins it to a free one. `--resources gpu=N` or a profile's `resources` (profiles/slurm: the
# cluster's GPUs, not the login node's) set the limit instead.
MACHINE_GPUS = 0 if all(device_of(config, e) == "cpu" for e in EXPERIMENTS) else count_gpus()


def gpus_of(experiment):
    """The `gpu` resource of one job of the experiment."""
    return 1 if MACHINE_GPUS and device_of(config, experiment) != "cpu" else 0


def device_for(wildcards):
    return device_of(config, wildcards.experiment)


if MACHINE_GPUS and "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", MACHINE_GPUS)
RUN = "results/{experiment}/{model}/seed{seed}"
# The report's start page includes this fragment (report/workflow.rst); the claims lead it.
REPORT_START = "results/report/start.html"
CLAIMS_CATEGORY = "1. Claims"
# Analysis tables shown in the report as tables (the others are inputs of figures).
REPORTED_TABLES = ("statistics", "break_even", "energy_to_target", "score_parameters")
WELL_STEM = WELL_FILE_STEM
WELL_FILE = f"{WELL_STEM}{WELL_FILE_SUFFIX}"


def family(experiment):
    return card_of(config, experiment).family


# The experiment whose data are The Well's files, simulated or downloaded, then regridded
# (rules/data.smk, rules/regrid.smk): the one card whose family reads regridded stores.
(WELL_EXPERIMENT,) = [n for n, c in experiment_cards().items() if c.family.data == "regridded"]


def shear_data():
    return config["experiments"][WELL_EXPERIMENT]["data"]


DOWNLOAD_ROOT = (
    shear_data()["download"]["dest"]
    if WELL_EXPERIMENT in config["experiments"]
    else "resources/the_well"
)


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    model=r"[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_.+x-]+)?",  # a variant, or variant/sweep-point
    seed=r"\d+",
    split="train|valid|test",
    reynolds=r"\d+e-?\d+",
    schmidt=r"\d+e-?\d+",


def run_files(experiment, filename, points=True):
    """One file of every (variant, seed) run of an experiment; with ``points``, of every sweep
    point too (results/{experiment}/{model}/{point}/seed{seed}/)."""
    runs = runs_of(config, experiment) if points else models_of(config, experiment)
    return [
        f"results/{experiment}/{run}/seed{seed}/{filename}"
        for run in runs
        for seed in seeds_of(config, experiment)
    ]


# Params: a job gets only the settings its result depends on, since a changed param re-runs it
# (Snakemake's params rerun trigger, which compares their repr: the config is canonical, and
# params merged from several blocks are made canonical again). Threads go to `threads:`; knobs
# that cannot change a result (download retries and timeouts, the Dask scheduler) reach the
# script through snakemake.config, which is no rerun trigger.


def measured_carbon():
    """What an energy meter reads of the carbon block (energy.METER_FIELDS): not PUE, grid
    intensity or country, which the summary applies to the stored energy, nor
    lifecycle_predictions, so a changed one re-runs no measured job."""
    from workflow_scripts.energy import METER_FIELDS

    return {name: config["carbon"][name] for name in METER_FIELDS}


def spec_for(wildcards):
    """The variant's merged settings, less training.threads (the `threads:` directive's)."""
    return run_settings(variant_spec(config, wildcards.experiment, wildcards.model))


def threads_for(wildcards):
    return variant_spec(config, wildcards.experiment, wildcards.model)["training"]["threads"]


def evaluation_for(wildcards):
    """The experiment's evaluation settings; rollout_steps only where it rolls out."""
    settings = evaluation_settings(config, wildcards.experiment)
    if not family(wildcards.experiment).rolls_out:
        settings.pop("rollout_steps", None)
    return canonical(settings)


def simulate_settings(wildcards):
    """What one simulated file depends on: the simulate block less the (Re, Sc) selection (the
    file's own pair is in its name, hence in the job's wildcards) and threads."""
    settings = shear_data()["simulate"]
    return {k: v for k, v in settings.items() if k not in ("reynolds", "schmidt", "threads")}


def regrid_settings(wildcards):
    """The regrid block less the Dask scheduler, its Slurm workers and threads, which do not
    change the store."""
    return {
        k: v
        for k, v in shear_data()["regrid"].items()
        if k not in ("scheduler", "slurm", "threads")
    }


def data_for(wildcards):
    """The data a model is trained and scored on: the train store of regridded data (its
    sibling stores are the extra inputs of data_splits_for), else the generated dataset."""
    if family(wildcards.experiment).data == "regridded":
        return str(store_path("train"))
    return f"results/{wildcards.experiment}/data/dataset.nc"


def data_splits_for(wildcards):
    """Every split's store and stats beside the train store (regridded data), else nothing."""
    if family(wildcards.experiment).data != "regridded":
        return []
    return [
        path
        for split in splits(shear_data())
        for path in (str(store_path(split)), str(store_path(split).with_suffix(".stats.yaml")))
    ]


def figure_files(experiment, figure):
    return multiext(f"results/figures/{experiment}/{figure}", ".png", ".pdf")


def experiment_targets(experiment):
    """One experiment's final files: its summary and figures (if it has models) and, for
    regridded data, the training stores."""
    targets = []
    if family(experiment).data == "regridded":
        targets += [str(store_path(split)) for split in splits(shear_data())]
    if models_of(config, experiment):
        targets.append(f"results/{experiment}/summary.csv")
        for figure in [*card_of(config, experiment).figures, *LIFECYCLE_FIGURES]:
            targets += figure_files(experiment, figure)
    return targets


# The experiments set to run on the CPU (config/paper.yaml: the oscillator and Burgers, which
# the study ran on a laptop): the rule laptop_experiments builds their final files alone.
LAPTOP_EXPERIMENTS = [e for e in EXPERIMENTS if device_of(config, e) == "cpu"]


def final_targets():
    """What `snakemake` builds by default: every experiment's final files, then the claims,
    the overview and the report's start page (if any experiment has models)."""
    targets = [target for experiment in EXPERIMENTS for target in experiment_targets(experiment)]
    if any(models_of(config, experiment) for experiment in EXPERIMENTS):
        targets += ["results/claims.csv", "results/figures/overview.png", REPORT_START]
    return targets


def download_targets(wildcards):
    """Every file of the configured download selection, and its stats.yaml."""
    data = {**shear_data(), "source": "download"}
    files = [f for split in data["download"]["splits"] for f in source_files(data, split)]
    return files + [stats_file(data)]


def data_costs_for(wildcards):
    """Cost files of every data stage an experiment's models depend on (lifecycle CO2)."""
    if family(wildcards.experiment).data != "regridded":
        return [f"results/{wildcards.experiment}/data/data.json"]
    data = shear_data()
    root = store_path("train").parent
    costs = [f"{root}/regrid/{split}.json" for split in splits(data)]
    if data["source"] == "simulate":
        costs.append(f"{root}/simulate/stats.json")
        costs += [
            f"{root}/simulate/{split}/{Path(f).stem}.json"
            for split in splits(data)
            for f in source_files(data, split)
        ]
    return costs


# Analysis (rules/analysis.smk): the experiments that have runs to analyse, and their tables.
ANALYSED = [e for e in EXPERIMENTS if models_of(config, e)]


def analysis_table(experiment, table):
    return f"results/{experiment}/analysis/{table}.csv"


def analysis_tables(experiment):
    return {table: analysis_table(experiment, table) for table in TABLES}
