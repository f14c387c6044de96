# Evaluation stage: test error, and the measured cost of one prediction.


rule evaluate:
    input:
        data=data_for,
        splits=data_splits_for,
        model=f"{RUN}/model.pt",
    output:
        metrics=f"{RUN}/metrics.json",
        predictions=f"{RUN}/predictions.nc",
        emissions=f"{RUN}/inference_emissions.csv",
    log:
        "logs/evaluate/{experiment}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}/{model}/seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: threads_for
    resources:
        energy_meter=1,
        gpu=lambda wildcards: gpus_of(wildcards.experiment),  # one device each (gpus.smk)
    params:
        spec=spec_for,
        carbon=measured_carbon(),
        device=device_for,
        evaluation=evaluation_for,
    script:
        "../workflow_scripts/scripts/evaluate.py"
