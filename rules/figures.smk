# Figures: one named rule per figure of every experiment's card, e.g.
# `snakemake --cores all figure_oscillator_pareto`.


def figure_inputs(experiment, needs):
    """An experiment card's figure shows the variants as configured (their sweeps are the
    analysis figures'): the summary, and each base run's files."""
    inputs = {"summary": f"results/{experiment}/summary.csv"}
    if "histories" in needs:
        inputs["histories"] = run_files(experiment, "history.csv", points=False)
    if "predictions" in needs:
        inputs["predictions"] = run_files(experiment, "predictions.nc", points=False)
    if "dataset" in needs:
        inputs["dataset"] = f"results/{experiment}/data/dataset.nc"
    return inputs


for _experiment in EXPERIMENTS:
    for _figure, _declared in card_of(config, _experiment).figures.items():

        rule:
            name:
                f"figure_{_experiment}_{_figure}"
            input:
                **figure_inputs(_experiment, _declared.needs),
            output:
                report(
                    figure_files(_experiment, _figure),
                    category=_experiment,
                    subcategory="figures",
                    caption="../report/figure.rst",
                ),
            log:
                f"logs/figures/{_experiment}/{_figure}.log",
            benchmark:
                f"benchmarks/figures/{_experiment}/{_figure}.tsv"
            conda:
                "../envs/plot.yaml"
            params:
                experiment=_experiment,
                figure=_figure,
                caption=_declared.caption,
            script:
                "../workflow_scripts/scripts/figure.py"
