# Config validation (before any job runs) and the input and param functions of the stages
# (those one stage alone uses at the end, under the stage's file: Snakemake's linter wants
# functions apart from rules). Nothing imported here touches codecarbon, h5py or a GPU
# (tests/test_layers.py), so parsing the workflow stays fast.

from workflow_scripts.config import (
    canonical,
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
from workflow_scripts.data.sources import parameter_pairs, source_files, splits, stats_file
from workflow_scripts.data.well_format import well_file_wildcards
from workflow_scripts.analysis import TABLES
from workflow_scripts.energy import METER_FIELDS
from workflow_scripts.experiments import card_of, experiment_cards
from workflow_scripts.figures import LIFECYCLE_CAPTIONS, LIFECYCLE_FIGURES

# Every file Snakemake merged (config/config.yaml and each --configfile), read strictly: a
# duplicate key is an error naming the file and line, not a silent last-wins.
check_config_files([*workflow.configfiles, *workflow.config_settings.configfiles])
# In place: defaults filled, numbers as floats where the schema says number, keys sorted at
# every level, so that every param below is the same whatever order the YAML is written in.
validate_config(config)

EXPERIMENTS = enabled_experiments(config)
RUN = "results/{experiment}/{model}/seed{seed}"


def device_for(wildcards):
    return device_of(config, wildcards.experiment)


def family(experiment):
    return card_of(config, experiment).family


# The experiment whose data are The Well's files, simulated or downloaded, then regridded
# (rules/data.smk, rules/regrid.smk): the one card whose family reads regridded stores. Its
# data are under its results, as every experiment's are.
(WELL_EXPERIMENT,) = [n for n, c in experiment_cards().items() if c.family.data == "regridded"]
WELL_DATA = f"results/{WELL_EXPERIMENT}/data"


def shear_data():
    return config["experiments"][WELL_EXPERIMENT]["data"]


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
        f"{RUN.format(experiment=experiment, model=run, seed=seed)}/{filename}"
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
    return {name: config["carbon"][name] for name in METER_FIELDS}


def spec_for(wildcards):
    """The variant's merged settings, less training.threads (the `threads:` directive's)."""
    return run_settings(variant_spec(config, wildcards.experiment, wildcards.model))


def threads_for(wildcards):
    return variant_spec(config, wildcards.experiment, wildcards.model)["training"]["threads"]


# The files of the data rules (rules/data.smk, rules/regrid.smk), named by their outputs.


def training_store(split):
    (store,) = expand(rules.regrid_shear_flow.output.store, split=split)
    return store


def training_store_stats(split):
    (stats,) = expand(rules.regrid_shear_flow.output.stats, split=split)
    return stats


def data_for(wildcards):
    """The data a model is trained and scored on: the train store of regridded data (its
    sibling stores are the extra inputs of data_splits_for), else the generated dataset."""
    if family(wildcards.experiment).data == "regridded":
        return training_store("train")
    (dataset,) = expand(rules.generate_dataset.output.dataset, experiment=wildcards.experiment)
    return dataset


def data_splits_for(wildcards):
    """Every split's store and stats beside the train store (regridded data), else nothing."""
    if family(wildcards.experiment).data != "regridded":
        return []
    return [
        path
        for split in splits(shear_data())
        for path in (training_store(split), training_store_stats(split))
    ]


def figure_files(experiment, figure):
    return multiext(f"results/figures/{experiment}/{figure}", ".png", ".pdf")


def experiment_targets(experiment):
    """One experiment's final files: its summary and figures (if it has models) and, for
    regridded data, the training stores."""
    targets = []
    if family(experiment).data == "regridded":
        targets += [training_store(split) for split in splits(shear_data())]
    if models_of(config, experiment):
        targets.append(f"results/{experiment}/summary.csv")
        for figure in [*card_of(config, experiment).figures, *LIFECYCLE_FIGURES]:
            targets += figure_files(experiment, figure)
    return targets


def final_targets():
    """What `snakemake` builds by default: every experiment's final files, then the claims,
    the overview and the report's start page (if any experiment has models)."""
    targets = [target for experiment in EXPERIMENTS for target in experiment_targets(experiment)]
    if any(models_of(config, experiment) for experiment in EXPERIMENTS):
        targets += ["results/claims.csv", "results/figures/overview.png", REPORT_START]
    return targets


# Analysis (rules/analysis.smk): the experiments that have runs to analyse, and their tables.
ANALYSED = [e for e in EXPERIMENTS if models_of(config, e)]


def analysis_table(experiment, table):
    return f"results/{experiment}/analysis/{table}.csv"


def analysis_tables(experiment):
    return {table: analysis_table(experiment, table) for table in TABLES}


# ---- Input and param functions of one stage each (the stage named above each) ----


# rules/data.smk
def simulate_settings(wildcards):
    """What one simulated file depends on: the simulate block less the (Re, Sc) selection (the
    file's own pair is in its name, hence in the job's wildcards) and threads."""
    settings = shear_data()["simulate"]
    return {k: v for k, v in settings.items() if k not in ("reynolds", "schmidt", "threads")}


# rules/data.smk
def download_targets(wildcards):
    """Every file of the configured download selection, and its stats.yaml."""
    data = {**shear_data(), "source": "download"}
    files = [f for split in data["download"]["splits"] for f in source_files(data, split)]
    return files + [stats_file(data)]


# rules/regrid.smk
def regrid_settings(wildcards):
    """The regrid block less the Dask scheduler, its Slurm workers and threads, which do not
    change the store."""
    return {
        k: v
        for k, v in shear_data()["regrid"].items()
        if k not in ("scheduler", "slurm", "threads")
    }


# rules/evaluate.smk
def evaluation_for(wildcards):
    """The experiment's evaluation settings; rollout_steps only where it rolls out."""
    settings = evaluation_settings(config, wildcards.experiment)
    if not family(wildcards.experiment).rolls_out:
        settings.pop("rollout_steps", None)
    return canonical(settings)


# rules/carbon.smk
def data_costs_for(wildcards):
    """Cost files of every data stage an experiment's models depend on (lifecycle CO2)."""
    if family(wildcards.experiment).data != "regridded":
        return expand(rules.generate_dataset.output.cost, experiment=wildcards.experiment)
    data = shear_data()
    costs = expand(rules.regrid_shear_flow.output.cost, split=splits(data))
    if data["source"] == "simulate":
        costs += [rules.shear_flow_source_stats.output.cost]
        costs += [
            path
            for split in splits(data)
            for reynolds, schmidt in parameter_pairs(data)
            for path in expand(
                rules.simulate_shear_flow.output.cost,
                split=split,
                **well_file_wildcards(reynolds, schmidt),
            )
        ]
    return costs


# rules/analysis.smk
def lifecycle_figures(experiment):
    """An analysed experiment's trade-off figures (figures/lifecycle.py), for the figure rules:
    name -> (inputs: its analysis tables, report subcategory, caption)."""
    if experiment not in ANALYSED:
        return {}
    return {
        figure: (analysis_tables(experiment), "trade-offs", LIFECYCLE_CAPTIONS[figure])
        for figure in LIFECYCLE_FIGURES
    }
