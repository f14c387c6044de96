# Figures: one named rule per figure of every experiment, e.g.
# `snakemake --cores all figure_oscillator_pareto`: its card's figures, drawn from the summary
# and run files, and its trade-off figures, drawn from its analysis tables (rules/analysis.smk's
# lifecycle_figures). One script draws either (scripts/figure.py).


def card_figures(experiment):
    """The figures of an experiment's card: name -> (inputs, report subcategory, caption). They
    show the variants as configured (their sweeps are the analysis figures'): the summary, and
    each base run's files."""
    figures = {}
    for name, declared in card_of(config, experiment).figures.items():
        inputs = {"summary": f"results/{experiment}/summary.csv"}
        if "histories" in declared.needs:
            inputs["histories"] = run_files(experiment, "history.csv", points=False)
        if "predictions" in declared.needs:
            inputs["predictions"] = run_files(experiment, "predictions.nc", points=False)
        if "dataset" in declared.needs:
            inputs["dataset"] = f"results/{experiment}/data/dataset.nc"
        figures[name] = (inputs, "figures", declared.caption)
    return figures


for _experiment in EXPERIMENTS:
    # Listed, not merged: a trade-off figure named as a card's is a duplicate rule (an error).
    _figures = [*card_figures(_experiment).items(), *lifecycle_figures(_experiment).items()]
    for _figure, (_inputs, _subcategory, _caption) in _figures:

        rule:
            name:
                f"figure_{_experiment}_{_figure}"
            input:
                **_inputs,
            output:
                report(
                    figure_files(_experiment, _figure),
                    category=_experiment,
                    subcategory=_subcategory,
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
                caption=_caption,
            script:
                "../workflow_scripts/scripts/figure.py"
