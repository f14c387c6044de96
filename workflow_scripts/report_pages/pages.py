"""The report's pages, composed: one per experiment of its analysis tables, the claims, what
was run, and the start page's fragment; :func:`write_pages` writes them all."""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workflow_scripts.analysis.claims import not_checked, seed_limits
from workflow_scripts.files import atomic_path
from workflow_scripts.report_pages.cells import format_number, formatted, seed_counts
from workflow_scripts.report_pages.machine import package_versions, this_machine
from workflow_scripts.report_pages.markup import note, page, section, start_fragment, to_html
from workflow_scripts.report_pages.provenance import (
    code_statement,
    config_yaml,
    energy_methods,
    energy_statement,
    hardware_table,
    read_emissions,
    software_table,
)
from workflow_scripts.report_pages.tables import (
    break_even_table,
    claim_summaries,
    claims_table,
    energy_to_target_table,
    statistics_table,
)

#: What the statistics page shows of each variant, besides the experiment's own error columns
#: (the statistics CSV has every metric; the report keeps those the study's question is about).
COST_METRICS = (
    "train_wall_s",
    "train_energy_kwh",
    "train_co2_g",
    "inference_energy_kwh_per_prediction",
    "lifecycle_co2_g",
    "g_score_train",
    "ecol2",
)


def seeds_statement(statistics: Mapping[str, pd.DataFrame], errors: Mapping[str, str]) -> str:
    """How many seeds each experiment's intervals rest on (of its error metric)."""
    parts = []
    for experiment, table in statistics.items():
        rows = table[table["metric"] == errors[experiment]]
        if len(rows):
            parts.append(f"{experiment}: {seed_counts(rows['n_seeds'])}")
    return "Seeds per variant (each interval rests on these): " + "; ".join(parts) + "."


def experiment_page(
    experiment: str,
    statistics: pd.DataFrame,
    break_even: pd.DataFrame,
    energy_to_target: pd.DataFrame,
    score_parameters: pd.DataFrame,
    errors: Sequence[str],
) -> str:
    metrics = [*errors, *COST_METRICS]
    return page(
        f"{experiment}: analysis tables",
        [
            section(
                "Statistics over seeds",
                to_html(statistics_table(statistics, metrics), wrap=False),
                "Each cell: median over seeds [95 % percentile-bootstrap interval of the median]. "
                "n_seeds: the seeds each interval rests on; interval_coverage: how often an "
                "interval from that many independent seeds covers the true median (with n <= 5 "
                "it is [min, max]: 1 - 2^(1-n)). Energies in kWh exclude PUE; CO2 in g includes "
                "it. statistics.csv holds every metric.",
            ),
            section(
                "Break-even",
                to_html(break_even_table(break_even), wrap=False),
                "N* = (T_other - T_cheaper) / (I_cheaper - I_other) predictions, on the medians: "
                "after N* predictions the variant cheaper to train is no longer cheaper over its "
                "lifetime; never: it is also cheaper to run.",
            ),
            section(
                "Energy to target error",
                to_html(energy_to_target_table(energy_to_target), wrap=False),
                "The cumulative training energy at a run's first logged evaluation at or below "
                "each level; a variant reaches a level when a strict majority of its seeds do.",
            ),
            section("Score parameters", to_html(formatted(score_parameters))),
        ],
    )


def claims_page(claims: pd.DataFrame, seeds: str) -> str:
    sections = []
    for (claim_id, experiment), group in claims.groupby(["claim_id", "experiment"], sort=False):
        verdict = group[["claim_verdict", "sentence"]].iloc[:1]
        sections.append(
            section(
                f"Claim {format_number(claim_id)} ({experiment}): {group['claim'].iloc[0]}",
                to_html(formatted(verdict)) + to_html(claims_table(group)),
                f"Source: {group['source'].iloc[0]}",
            )
        )
    return page(
        "The study's claims, checked against these runs",
        sections,
        "Each claim is split into its parts (accuracy, cost), each part into comparisons, "
        "each judged by code from the per-run tables and learning curves: supported when the "
        "bootstrap interval of its effect lies on the claimed side (for a ratio of medians: "
        "below 1, or below 1/factor where the claim names one), contradicted when it lies on "
        "the other, inconclusive otherwise or when something is missing (named in reason). "
        "Cost decides where accuracy is matched (across sweep points, along the learning "
        "curves); cost at an equal step budget is shown as secondary and decides nothing. A "
        "part holds when every pair in it does; a claim when every deciding part does. "
        "significant: the verdict is supported and its Holm-adjusted p is at most the "
        "significance level (a dash where there is no adjusted p: a secondary part). "
        + " ".join(text for text in (seed_limits(claims), seeds, not_checked(claims)) if text),
    )


def run_page(
    config: Mapping[str, Any],
    summaries: Mapping[str, pd.DataFrame],
    emissions: pd.DataFrame,
    versions: Mapping[str, str],
    machine: pd.DataFrame,
) -> str:
    return page(
        "What was run",
        [
            section(
                "How energy was measured",
                to_html(energy_methods(summaries)),
                energy_statement(summaries)
                + " Per experiment: reading_or_estimate is codecarbon's verdict on the runs' "
                "own machine; "
                "*_energy_figure names the figure the analysis uses (process-attributed where "
                "codecarbon estimates).",
            ),
            section(
                "Hardware of the measured jobs",
                to_html(hardware_table(emissions)),
                "As codecarbon recorded it for every training and inference job.",
            ),
            section("The machine that built this report", to_html(machine)),
            section(
                "Software",
                to_html(software_table(versions, summaries, emissions)),
                f"Python {sys.version.split()[0]} ran the report job.",
            ),
            section(
                "Configuration",
                f'<pre class="config">{html.escape(config_yaml(config))}</pre>',
                "The merged configuration (config/config.yaml and every --configfile) when "
                "these pages were made. Settings that change no result (thread counts, the "
                "Dask scheduler, download retries) re-run no job, this one included.",
            ),
        ],
    )


def start_page(claims: pd.DataFrame, seeds: str, energy: str, code: str = "") -> str:
    """The fragment report/workflow.rst includes: per claim its verdict, the sentence its
    numbers make and the comparisons it used; the claims not checked (their experiment not
    run); what the seeds can show; how energy was
    measured; its CSS scoped to it (it sits inside the report's own page)."""
    notes = [not_checked(claims), seed_limits(claims), seeds, energy, code]
    notes = [text for text in notes if text]
    return start_fragment(
        f"<h2>Claims</h2>\n{to_html(claim_summaries(claims))}\n"
        + "".join(f"{note(text)}\n" for text in notes)
    )


def write_pages(
    *,
    config: Mapping[str, Any],
    claims: pd.DataFrame,
    summaries: Mapping[str, pd.DataFrame],
    statistics: Mapping[str, pd.DataFrame],
    break_even: Mapping[str, pd.DataFrame],
    energy_to_target: Mapping[str, pd.DataFrame],
    score_parameters: Mapping[str, pd.DataFrame],
    emissions: Sequence[Path],
    errors: Mapping[str, Sequence[str]],
    outputs: Mapping[str, Path],
) -> None:
    """Every page: ``outputs`` maps ``start``, ``claims``, ``run`` and ``tables_{experiment}``
    to their files; ``errors`` each experiment's error columns (its test error first)."""
    seeds = seeds_statement(statistics, {e: cols[0] for e, cols in errors.items()})
    pages = {
        "start": start_page(claims, seeds, energy_statement(summaries), code_statement(summaries)),
        "claims": claims_page(claims, seeds),
        "run": run_page(
            config, summaries, read_emissions(emissions), package_versions(), this_machine()
        ),
    }
    for experiment in statistics:
        pages[f"tables_{experiment}"] = experiment_page(
            experiment,
            statistics[experiment],
            break_even[experiment],
            energy_to_target[experiment],
            score_parameters[experiment],
            errors[experiment],
        )
    for name, text in pages.items():
        with atomic_path(outputs[name]) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
