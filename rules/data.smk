# Data stage: the generated datasets of the PINN-family experiments (oscillator, Burgers), and
# the shear flow's source files in The Well's layout, simulated or downloaded (rules/regrid.smk
# regrids them), with their stats.

from workflow_scripts.data.sources import SIMULATED_ROOT, source_files, stats_file, well_layout
from workflow_scripts.data.well_format import WELL_FILE_STEM, WELL_FILE_SUFFIX

WELL_FILE = f"{WELL_FILE_STEM}{WELL_FILE_SUFFIX}"
DOWNLOAD_ROOT = (
    shear_data()["download"]["dest"]
    if WELL_EXPERIMENT in config["experiments"]
    else "resources/the_well"
)


rule generate_dataset:
    output:
        dataset="results/{experiment}/data/dataset.nc",
        cost="results/{experiment}/data/data.json",
        emissions="results/{experiment}/data/data_emissions.csv",
    log:
        "logs/generate_dataset/{experiment}.log",
    benchmark:
        "benchmarks/generate_dataset/{experiment}.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        energy_meter=1,
    params:
        data=lambda wildcards: config["experiments"][wildcards.experiment]["data"],
        carbon=measured_carbon(),
    script:
        "../workflow_scripts/scripts/generate_dataset.py"


# Shear flow, source 1 (default): the embedded solver writes a look-alike of The Well's files.
rule simulate_shear_flow:
    output:
        well=f"{well_layout(SIMULATED_ROOT)}/data/{{split}}/{WELL_FILE}",
        cost=f"{WELL_DATA}/simulate/{{split}}/{WELL_FILE_STEM}.json",
        emissions=f"{WELL_DATA}/simulate/{{split}}/{WELL_FILE_STEM}_emissions.csv",
    log:
        f"logs/simulate_shear_flow/{{split}}/{WELL_FILE_STEM}.log",
    benchmark:
        f"benchmarks/simulate_shear_flow/{{split}}/{WELL_FILE_STEM}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: lambda wildcards: shear_data()["simulate"]["threads"]
    resources:
        energy_meter=1,
        # the solver runs on CUDA too: it takes a device like a training
        gpu=lambda wildcards: gpus_of(WELL_EXPERIMENT),
    params:
        settings=simulate_settings,
        carbon=measured_carbon(),
        device=lambda wildcards: device_of(config, WELL_EXPERIMENT),
    script:
        "../workflow_scripts/scripts/simulate_shear_flow.py"


rule shear_flow_source_stats:
    input:
        train=lambda wildcards: source_files(shear_data(), "train"),
    output:
        stats=f"{well_layout(SIMULATED_ROOT)}/stats.yaml",
        cost=f"{WELL_DATA}/simulate/stats.json",
        emissions=f"{WELL_DATA}/simulate/stats_emissions.csv",
    log:
        "logs/shear_flow_source_stats.log",
    benchmark:
        "benchmarks/shear_flow_source_stats.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        energy_meter=1,
    params:
        carbon=measured_carbon(),
    script:
        "../workflow_scripts/scripts/shear_flow_source_stats.py"


# Shear flow, source 2: The Well's files from the configured host (the only rules that talk
# to the network). `snakemake --cores 4 download_the_well` fetches the configured selection.
# Local rules: on a cluster they run where the workflow was launched, since compute nodes are
# often offline.
localrules:
    download_well_file,
    download_well_stats,


rule download_well_file:
    output:
        well=f"{well_layout(DOWNLOAD_ROOT)}/data/{{split}}/{WELL_FILE}",
    log:
        f"logs/download_well_file/{{split}}/{WELL_FILE_STEM}.log",
    benchmark:
        f"benchmarks/download_well_file/{{split}}/{WELL_FILE_STEM}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        # Where a file comes from; not the selection nor the retry knobs (the script reads
        # those, and dest, the output's root, from the config): neither re-fetches a file.
        base_url=lambda wildcards: shear_data()["download"]["base_url"],
    script:
        "../workflow_scripts/scripts/download_well_file.py"


use rule download_well_file as download_well_stats with:
    output:
        well=f"{well_layout(DOWNLOAD_ROOT)}/stats.yaml",
    log:
        "logs/download_well_file/stats.log",
    benchmark:
        "benchmarks/download_well_file/stats.tsv"


rule download_the_well:
    input:
        download_targets,
