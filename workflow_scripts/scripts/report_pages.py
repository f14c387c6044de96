"""Snakemake adapter: rule report_pages (the report's tables, claims and run pages)."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)
import pandas as pd

from workflow_scripts.logs import logging_to
from workflow_scripts.report_pages import write_pages

smk = snakemake  # noqa: F821
with logging_to(smk.log[0]):
    experiments = smk.params.experiments

    def tables(name):
        return dict(zip(experiments, map(pd.read_csv, smk.input[name]), strict=True))

    write_pages(
        config=smk.config,
        claims=pd.read_csv(smk.input.claims),
        summaries=tables("summaries"),
        statistics=tables("statistics"),
        break_even=tables("break_even"),
        energy_to_target=tables("energy_to_target"),
        score_parameters=tables("score_parameters"),
        emissions=[Path(p) for p in smk.input.emissions],
        errors=smk.params.errors,
        outputs={name: Path(path) for name, path in smk.output.items()},
    )
