# Report pages: the analysis tables, the claims and what was run (config, versions, hardware,
# energy method) as HTML from the cached tables, in seconds. `snakemake --report
# results/report.html` embeds them; report/workflow.rst includes the start page's fragment.


rule report_pages:
    input:
        **{table: [analysis_table(e, table) for e in ANALYSED] for table in REPORTED_TABLES},
        claims="results/claims.csv",
        summaries=[f"results/{e}/summary.csv" for e in ANALYSED],
        emissions=[
            path
            for e in ANALYSED
            for stage in ("train", "inference")
            for path in run_files(e, f"{stage}_emissions.csv")
        ],
    output:
        **{
            f"tables_{e}": report(
                f"results/report/{e}/tables.html",
                category=e,
                subcategory="tables",
                caption="../report/tables.rst",
            )
            for e in ANALYSED
        },
        start=REPORT_START,
        claims=report(
            "results/report/claims.html",
            category=CLAIMS_CATEGORY,
            caption="../report/claims.rst",
        ),
        run=report(
            "results/report/run.html",
            category="2. What was run",
            caption="../report/run.rst",
        ),
    log:
        "logs/report_pages.log",
    benchmark:
        "benchmarks/report_pages.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        experiments=ANALYSED,
        errors={e: [card_of(config, e).error, card_of(config, e).relative_error] for e in ANALYSED},
    script:
        "../workflow_scripts/scripts/report_pages.py"
