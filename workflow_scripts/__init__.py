"""Trading carbon for physics: importable logic behind the Snakemake workflow."""

import os

# neuraloperator imports wandb; this pipeline never talks to it.
os.environ.setdefault("WANDB_MODE", "disabled")
