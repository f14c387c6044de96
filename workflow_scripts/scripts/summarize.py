"""Snakemake adapter: rule summarize."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings
from workflow_scripts.logs import logging_to
from workflow_scripts.summary import summarize_runs, write_summary

smk = snakemake  # noqa: F821
with logging_to(smk.log[0]):
    table = summarize_runs(
        smk.input.train,
        smk.input.metrics,
        smk.input.data_costs,
        lifecycle_predictions=smk.params.lifecycle_predictions,
        carbon=CarbonSettings.from_config(smk.params.carbon),
    )
    write_summary(table, Path(smk.output.summary))
