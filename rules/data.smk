# Data stage: the embedded datasets of the PINN-family experiments (oscillator, Burgers).


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
        well=f"{SIMULATED_ROOT}/datasets/shear_flow/data/{{split}}/{WELL_FILE}",
        cost=f"results/shear_flow/data/simulate/{{split}}/{WELL_STEM}.json",
        emissions=f"results/shear_flow/data/simulate/{{split}}/{WELL_STEM}_emissions.csv",
    log:
        f"logs/simulate_shear_flow/{{split}}/{WELL_STEM}.log",
    benchmark:
        f"benchmarks/simulate_shear_flow/{{split}}/{WELL_STEM}.tsv"
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
        stats=f"{SIMULATED_ROOT}/datasets/shear_flow/stats.yaml",
        cost="results/shear_flow/data/simulate/stats.json",
        emissions="results/shear_flow/data/simulate/stats_emissions.csv",
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
        well=f"{DOWNLOAD_ROOT}/datasets/shear_flow/data/{{split}}/{WELL_FILE}",
    log:
        f"logs/download_well_file/{{split}}/{WELL_STEM}.log",
    benchmark:
        f"benchmarks/download_well_file/{{split}}/{WELL_STEM}.tsv"
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
        well=f"{DOWNLOAD_ROOT}/datasets/shear_flow/stats.yaml",
    log:
        "logs/download_well_file/stats.log",
    benchmark:
        "benchmarks/download_well_file/stats.tsv"


rule download_the_well:
    input:
        download_targets,
