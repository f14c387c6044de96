"""What was run, from the runs' own records: how energy was measured, the measured jobs'
hardware and software (codecarbon's rows, the summaries), whether this checkout's code made
them, and the merged config."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workflow_scripts.report_pages.cells import MISSING, formatted

#: codecarbon's per-job columns that describe the machine (its emissions CSV).
HARDWARE_COLUMNS = {
    "cpu_model": "cpu_model",
    "cpu_count": "cpu_count",
    "ram_total_size": "ram_total_size_gb",
    "gpu_count": "gpu_count",
    "gpu_model": "gpu_model",
    "os": "os",
    "tracking_mode": "tracking_mode",
}


def energy_methods(summaries: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """How each experiment's energies were obtained, from the runs' own records: codecarbon's
    method, reading or estimate, which figure the analysis uses, and how many runs shared the
    machine with others' load."""
    rows = []
    figures = ["train_energy_figure", "inference_energy_figure", "data_energy_figure"]
    for experiment, summary in summaries.items():
        keys = ["energy_method", "energy_is_estimate", *[f for f in figures if f in summary]]
        for values, group in summary.groupby(keys, sort=False, dropna=False):
            described = dict(zip(keys, values, strict=True))
            estimate = str(described.pop("energy_is_estimate")).lower() == "true"
            rows.append(
                {
                    "experiment": experiment,
                    "runs": len(group),
                    "energy_method": described.pop("energy_method"),
                    "reading_or_estimate": "estimate" if estimate else "reading",
                    **described,
                    "runs_on_a_shared_machine": int(group.get("shared_machine", False).sum()),
                    "device": ", ".join(sorted(set(map(str, group.get("device", []))))),
                }
            )
    return formatted(pd.DataFrame(rows))


def energy_statement(summaries: Mapping[str, pd.DataFrame]) -> str:
    """One sentence, from the runs' records: are the report's energies readings or estimates,
    and by which method."""
    runs = pd.concat([s[["energy_method", "energy_is_estimate"]] for s in summaries.values()])
    if runs.empty:
        return "No run has been measured yet."
    estimate = runs["energy_is_estimate"].astype(str).str.lower() == "true"
    methods = "; ".join(sorted(set(runs["energy_method"].astype(str))))
    if estimate.all():
        return (
            "Every energy figure in this report is an estimate, not a reading: codecarbon "
            "modelled the power of at least one component (RAM always; the CPU where no RAPL "
            f"counter was readable) on the machine that ran the jobs. Method: {methods}."
        )
    if not estimate.any():
        return f"Every energy figure in this report is a reading. Method: {methods}."
    return (
        f"{int(estimate.sum())} of {len(estimate)} runs have estimated energies, the others "
        f"readings. Methods: {methods}."
    )


def code_statement(summaries: Mapping[str, pd.DataFrame]) -> str:
    """One sentence, from the summaries' ``made_by_other_code``: whether every run was made by
    the code of the checkout that made the summaries (a code edit re-runs no result)."""
    flagged = [
        summary["made_by_other_code"].astype(str).str.lower() == "true"
        for summary in summaries.values()
        if "made_by_other_code" in summary
    ]
    if not flagged:
        return ""
    other = pd.concat(flagged)
    if not other.any():
        return "Every run was made by the same code, this checkout's."
    return (
        f"{int(other.sum())} of {len(other)} runs were made by code other than this "
        "checkout's (made_by_other_code and *_code_version in the summaries): they may differ "
        "from what this code makes. README, 'Code versions': how to re-run them."
    )


def read_emissions(paths: Sequence[Path]) -> pd.DataFrame:
    """codecarbon's rows of the measured jobs (a CSV each), in one table: the files' rows are
    parsed together, one parse per distinct header, as a parse per file (about 250 in the
    default pipeline) took most of the report pages' time."""
    bodies: dict[str, list[str]] = {}
    for path in paths:
        header, _, body = Path(path).read_text().partition("\n")
        bodies.setdefault(header, []).append(body if body.endswith("\n") else body + "\n")
    frames = [
        pd.read_csv(io.StringIO("\n".join([header, "".join(rows)])))
        for header, rows in bodies.items()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def hardware_table(emissions: pd.DataFrame) -> pd.DataFrame:
    """The machines the measured jobs ran on, as codecarbon described them, with a job count."""
    present = [c for c in HARDWARE_COLUMNS if c in emissions]
    if emissions.empty or not present:
        return pd.DataFrame({"measured_jobs": [0]})
    table = (
        emissions[present]
        .astype(object)
        .fillna(MISSING)
        .groupby(present, sort=False)
        .size()
        .reset_index(name="measured_jobs")
        .rename(columns=HARDWARE_COLUMNS)
    )
    if "ram_total_size_gb" in table:
        table["ram_total_size_gb"] = table["ram_total_size_gb"].map(
            lambda gb: gb if isinstance(gb, str) else round(float(gb), 1)
        )
    return formatted(table)


def software_table(
    here: Mapping[str, str], summaries: Mapping[str, pd.DataFrame], emissions: pd.DataFrame
) -> pd.DataFrame:
    """Versions in the report job's environment beside those the measured jobs recorded
    (torch from train.json, Python and codecarbon from codecarbon's rows)."""
    recorded: dict[str, set[str]] = {}
    for summary in summaries.values():
        if "torch_version" in summary:
            recorded.setdefault("torch", set()).update(summary["torch_version"].astype(str))
    for package, column in (("python", "python_version"), ("codecarbon", "codecarbon_version")):
        if column in emissions:
            recorded.setdefault(package, set()).update(emissions[column].dropna().astype(str))
    return pd.DataFrame(
        [
            {
                "package": package,
                "recorded_by_the_measured_jobs": ", ".join(sorted(recorded.get(package, ())))
                or MISSING,
                "in_the_report_job": version,
            }
            for package, version in here.items()
        ]
    )


def config_yaml(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False)


def _plain(value: Any) -> Any:
    """Snakemake's config as plain dicts and lists (it may hold its own mapping types)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
