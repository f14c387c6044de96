# Carbon stage: every run's efficacy and lifecycle cost (data + training + inference) in one table.

from workflow_scripts.data.sources import parameter_pairs, splits
from workflow_scripts.data.well_format import well_file_wildcards


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
