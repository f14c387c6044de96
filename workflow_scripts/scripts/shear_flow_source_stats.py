"""Snakemake adapter: rule shear_flow_source_stats."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.data.stages import write_source_stats
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
with logging_to(smk.log[0]):
    write_source_stats([Path(p) for p in smk.input.train], Path(smk.output.stats))
