# Carbon stage: every run's efficacy and lifecycle cost (data + training + inference) in one table.


rule summarize:
    input:
        train=lambda wildcards: run_files(wildcards.experiment, "train.json"),
        metrics=lambda wildcards: run_files(wildcards.experiment, "metrics.json"),
        data_costs=data_costs_for,
    output:
        summary=report(
            "results/{experiment}/summary.csv",
            category="{experiment}",
            subcategory="tables",
            caption="../report/summary.rst",
        ),
    log:
        "logs/summarize/{experiment}.log",
    benchmark:
        "benchmarks/summarize/{experiment}.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        lifecycle_predictions=config["carbon"]["lifecycle_predictions"],
        # CO2 = energy x PUE x grid intensity is derived here, not in the measured jobs.
        carbon={
            key: config["carbon"][key]
            for key in (
                "pue",
                "grid_intensity_g_per_kwh",
                "country_iso_code",
                "shared_load_threshold",
            )
        },
    script:
        "../workflow_scripts/scripts/summarize.py"
