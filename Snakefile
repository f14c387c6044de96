# Trading carbon for physics: accuracy vs energy and carbon of physics priors.
# Reading order: common (config, input functions) -> data -> regrid -> train -> evaluate ->
# carbon -> figures -> analysis -> report.


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/regrid.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/carbon.smk"
include: "rules/figures.smk"
include: "rules/analysis.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),


# The experiments set to run on the CPU, on their own: with config/paper.yaml the oscillator and
# Burgers at the study's budgets, which a machine without a GPU runs (common.smk).
rule laptop_experiments:
    input:
        [target for e in LAPTOP_EXPERIMENTS for target in experiment_targets(e)],
