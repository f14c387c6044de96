# Training stage: one job per (experiment, variant, seed), energy-measured.


rule train:
    input:
        data=data_for,
        splits=data_splits_for,
    output:
        model=f"{RUN}/model.pt",
        history=f"{RUN}/history.csv",
        emissions=f"{RUN}/train_emissions.csv",
        summary=f"{RUN}/train.json",
    log:
        "logs/train/{experiment}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{experiment}/{model}/seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: threads_for
    resources:
        # codecarbon counts the whole machine: only one measured job may run at a time.
        energy_meter=1,
        gpu=lambda wildcards: gpus_of(wildcards.experiment),  # one device each (gpus.smk)
    params:
        spec=spec_for,
        carbon=measured_carbon(),
        device=device_for,
    script:
        "../workflow_scripts/scripts/train.py"
