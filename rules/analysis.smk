# Analysis: the study's question from the cached per-run files (no re-training; seconds).
# Per experiment: statistics over seeds, Pareto fronts, break-even, energy to target, scores
# (results/{experiment}/analysis/*.csv), and the trade-off figures drawn from them (their rules
# are rules/figures.smk's, with every other figure's); over all experiments: the claims table
# (results/claims.csv, from the per-run tables and learning curves, not only the statistics:
# its tests and effect sizes need each seed) and the overview figure. One adapter script a rule.


rule analyze:
    input:
        summary="results/{experiment}/summary.csv",
        histories=lambda wildcards: run_files(wildcards.experiment, "history.csv"),
    output:
        **{
            table: (
                report(
                    analysis_table("{experiment}", table),
                    category="{experiment}",
                    subcategory="analysis",
                    caption="../report/analysis_table.rst",
                )
                if table in REPORTED_TABLES
                else analysis_table("{experiment}", table)
            )
            for table in TABLES
        },
    log:
        "logs/analyze/{experiment}.log",
    benchmark:
        "benchmarks/analyze/{experiment}.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        error=lambda wildcards: card_of(config, wildcards.experiment).error,
        relative_error=lambda wildcards: card_of(config, wildcards.experiment).relative_error,
        target_levels=lambda wildcards: config["analysis"]["target_levels"].get(
            wildcards.experiment
        ),
        ecol2_alpha=config["analysis"]["ecol2_alpha"],
        ecol2_beta_per_g=config["analysis"]["ecol2_beta_per_g"],
    script:
        "../workflow_scripts/scripts/analyze.py"


rule claims:
    input:
        **{
            table: [analysis_table(e, table) for e in ANALYSED]
            for table in ("runs", "statistics", "run_curves")
        },
    output:
        claims=report(
            "results/claims.csv",
            category=CLAIMS_CATEGORY,
            caption="../report/claims.rst",
        ),
    log:
        "logs/claims.log",
    benchmark:
        "benchmarks/claims.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        experiments=ANALYSED,
        plateau_tolerance=config["analysis"]["plateau_tolerance"],
        significance_level=config["analysis"]["significance_level"],
    script:
        "../workflow_scripts/scripts/claims.py"


rule figure_overview:
    input:
        fronts=[analysis_table(e, "fronts") for e in ANALYSED],
        runs=[analysis_table(e, "runs") for e in ANALYSED],
    output:
        report(
            multiext("results/figures/overview", ".png", ".pdf"),
            category="overview",
            caption="../report/figure.rst",
        ),
    log:
        "logs/figures/overview.log",
    benchmark:
        "benchmarks/figures/overview.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        experiments=ANALYSED,
        caption=LIFECYCLE_CAPTIONS["overview"],
    script:
        "../workflow_scripts/scripts/figure_overview.py"
