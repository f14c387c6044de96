"""Snakemake adapter: rules download_well_file and download_well_stats."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.data.stages import download_source_file
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
# dest and the retry knobs come from the config, not params: changing the knobs must not
# re-fetch a file (dest is the output's root anyway).
download = smk.config["experiments"]["shear_flow"]["data"]["download"]
with logging_to(smk.log[0]):
    download_source_file(
        Path(smk.output.well),
        dest_root=Path(download["dest"]),
        base_url=smk.params.base_url,
        retries=download["retries"],
        backoff_s=download["backoff_s"],
        timeout_s=download["timeout_s"],
    )
