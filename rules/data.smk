# Data stage: the embedded datasets of the PINN-family experiments (oscillator, Burgers).


rule generate_dataset:
    output:
        dataset="results/{experiment}/data/dataset.nc",
        cost="results/{experiment}/data/data.json",
        emissions="results/{experiment}/data/data_emissions.csv",
    params:
        data=lambda wildcards: config["experiments"][wildcards.experiment]["data"],
        carbon=config["carbon"],
    log:
        "logs/generate_dataset/{experiment}.log",
    benchmark:
        "benchmarks/generate_dataset/{experiment}.tsv"
    resources:
        energy_meter=1,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/scripts/generate_dataset.py"
