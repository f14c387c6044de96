"""Snakemake adapter: every figure rule."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.figures import draw_figure
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
with logging_to(smk.log[0]):
    draw_figure(
        smk.params.experiment,
        smk.params.figure,
        [Path(p) for p in smk.output],
        summary=Path(smk.input.summary),
        histories=[Path(p) for p in smk.input.get("histories", [])],
        predictions=[Path(p) for p in smk.input.get("predictions", [])],
        dataset=Path(smk.input.dataset) if "dataset" in smk.input.keys() else None,
    )
