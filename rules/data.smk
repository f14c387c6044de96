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
        carbon=config["carbon"],
    script:
        "../workflow_scripts/scripts/generate_dataset.py"
