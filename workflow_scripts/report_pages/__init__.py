"""The report's own pages: the analysis tables, the claims and what was run, as HTML.

``snakemake --report`` embeds every output wrapped in ``report()``; an HTML item opens in a frame
of the report's one page, and ``report/workflow.rst`` (the start page) includes
:func:`start_page`'s fragment. Every number on these pages comes from the cached CSV tables and
the measured jobs' codecarbon rows, formatted here; nothing is typed by hand. pandas and PyYAML
only (no torch), so the rule runs in seconds.

One concern a module: ``cells`` (how a value is written), ``tables`` (the analysis and claims
tables as shown), ``provenance`` (what was run, from the runs' records), ``machine`` (the
machine and packages building the pages), ``markup`` (HTML and CSS), ``pages`` (the pages
composed and written). The names below are those the rule script and the tests use.
"""

from workflow_scripts.report_pages.cells import format_number
from workflow_scripts.report_pages.machine import this_machine
from workflow_scripts.report_pages.pages import (
    claims_page,
    experiment_page,
    run_page,
    start_page,
    write_pages,
)
from workflow_scripts.report_pages.provenance import (
    energy_statement,
    hardware_table,
    read_emissions,
    software_table,
)
from workflow_scripts.report_pages.tables import statistics_table

__all__ = [
    "claims_page",
    "energy_statement",
    "experiment_page",
    "format_number",
    "hardware_table",
    "read_emissions",
    "run_page",
    "software_table",
    "start_page",
    "statistics_table",
    "this_machine",
    "write_pages",
]
