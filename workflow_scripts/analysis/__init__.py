"""The accuracy-carbon analysis: pure functions from tidy tables to tidy tables (no torch,
no matplotlib). ``analyze_experiment`` makes every table of one experiment; ``check_claims``
checks the study's claims against the statistics tables of all of them."""

from workflow_scripts.analysis.claims import CLAIMS, check_claims
from workflow_scripts.analysis.pipeline import (
    TABLES,
    analyze_experiment,
    read_histories,
    read_tables,
    write_tables,
)

__all__ = [
    "CLAIMS",
    "TABLES",
    "analyze_experiment",
    "check_claims",
    "read_histories",
    "read_tables",
    "write_tables",
]
