"""The accuracy-carbon analysis: pure functions from tidy tables to tidy tables (no torch,
no matplotlib). ``pipeline.analyze_experiment`` makes every table of one experiment;
``claims.check_claims`` checks the study's claims against the per-run tables, statistics and
learning curves of all of them.

This ``__init__`` imports nothing (the Snakefile reads :data:`TABLES` without pandas).
"""

#: The tables of one experiment's analysis, each a CSV under results/{experiment}/analysis/.
TABLES = (
    "runs",
    "statistics",
    "fronts",
    "break_even",
    "lifetime",
    "energy_to_target",
    "learning_curves",
    "run_curves",
    "score_parameters",
)
