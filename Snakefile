# Trading carbon for physics: accuracy vs energy and carbon of physics priors.
# Reading order: common (config, input functions) -> gpus -> data -> regrid -> train ->
# evaluate -> carbon -> analysis -> figures -> report.


configfile: "config/config.yaml"


report: "report/workflow.rst"


# The report's layout, which the analysis and report rules share. Its start page includes this
# fragment (report/workflow.rst); the claims lead it.
REPORT_START = "results/report/start.html"
CLAIMS_CATEGORY = "1. Claims"
# Analysis tables shown in the report as tables (the others are inputs of figures).
REPORTED_TABLES = ("statistics", "break_even", "energy_to_target", "score_parameters")


include: "rules/common.smk"
include: "rules/gpus.smk"
include: "rules/data.smk"
include: "rules/regrid.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/carbon.smk"
include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),


# The experiments set to run on the CPU, on their own: with config/paper.yaml the oscillator and
# Burgers at the study's budgets, which a machine without a GPU runs.
LAPTOP_EXPERIMENTS = [e for e in EXPERIMENTS if device_of(config, e) == "cpu"]


rule laptop_experiments:
    input:
        [target for e in LAPTOP_EXPERIMENTS for target in experiment_targets(e)],
