"""Imported first by every rule script: puts this checkout on ``sys.path``.

Snakemake adds only the script's own directory to the path. In the venv ``workflow_scripts`` is
installed anyway; in the per-rule conda envs of ``--sdm conda``, which pin only third-party
packages, this import is what makes it importable.
"""

import sys
from pathlib import Path

CHECKOUT = str(Path(__file__).resolve().parents[2])
if CHECKOUT not in sys.path:
    sys.path.insert(0, CHECKOUT)
