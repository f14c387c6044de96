"""The report's own pages: the analysis tables, the claims and what was run, as HTML.

``snakemake --report`` embeds every output wrapped in ``report()``; an HTML item opens in a frame
of the report's one page, and ``report/workflow.rst`` (the start page) includes
:func:`start_page`'s fragment. Every number on these pages comes from the cached CSV tables and
the measured jobs' codecarbon rows, formatted here; nothing is typed by hand. pandas and PyYAML
only (no torch), so the rule runs in seconds.
"""

from __future__ import annotations

import html
import importlib.metadata
import io
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workflow_scripts.analysis.claims import seed_limits
from workflow_scripts.analysis.statistics import order_statistic_coverage
from workflow_scripts.files import atomic_path
from workflow_scripts.gpu_slots import count_gpus

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
#: Packages whose versions the run page lists.
PACKAGES = ("snakemake", "torch", "codecarbon", "numpy", "pandas", "xarray", "dask")
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
MISSING = "–"
VERDICTS = ("supported", "contradicted", "inconclusive")

# CSS rules of the tables (selector, declarations): inline in each page, and scoped to the
# fragment on the report's start page, which sits inside Snakemake's own page.
_RULES = (
    ("h2", "font-size: 1.15em; margin-top: 1.4em;"),
    ("p.note", "color: #57606a; max-width: 70em;"),
    (
        "table.report",
        "border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px;"
        " font-variant-numeric: tabular-nums;",
    ),
    (
        "table.report th",
        "background: #f0f3f6; text-align: left; padding: 4px 8px;"
        " border-bottom: 2px solid #d0d7de;",
    ),
    ("table.report td", "padding: 3px 8px; border-bottom: 1px solid #e6e9ec; vertical-align: top;"),
    ("table.nowrap td", "white-space: nowrap;"),
    (
        "span.verdict",
        "font-weight: 600; padding: 1px 6px; border-radius: 4px; white-space: nowrap;",
    ),
    ("span.supported", "background: #dafbe1; color: #116329;"),
    ("span.contradicted", "background: #ffebe9; color: #a40e26;"),
    ("span.inconclusive", "background: #fff8c5; color: #7d4e00;"),
    (
        "pre.config",
        "background: #f6f8fa; padding: 0.8em; font-size: 12px; max-width: 70em; overflow-x: auto;",
    ),
)
# Snakemake's start page centres a narrow description column (Tailwind's max-w-lg,
# items-center) whose top is cut off once it is taller than the window: widen it and align it
# to the top where it holds this fragment (CSS :has(); browsers without it keep the layout).
_START_LAYOUT = """
div.items-center:has(.tcp-start) { align-items: flex-start; }
div.max-w-lg:has(.tcp-start) { max-width: 48rem; }
"""
_PAGE_CSS = (
    "body { font-family: system-ui, sans-serif; font-size: 14px; color: #1f2328; margin: 1.2em; }\n"
    "h1 { font-size: 1.4em; }\n" + "\n".join(f"{s} {{ {d} }}" for s, d in _RULES)
)


def format_number(value: Any) -> str:
    """A cell: integers in full, other numbers to 3 significant digits, NaN as a dash and
    +inf (a level not reached) as ∞."""
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if isinstance(value, str):
        return value
    number = float(value)
    if math.isnan(number):
        return MISSING
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number.is_integer() and abs(number) < 1e9:
        return f"{int(number):d}"
    return f"{number:.3g}"


def format_interval(median: float, low: float, high: float) -> str:
    """``median [low, high]``; the median alone where there is no interval (one seed)."""
    if pd.isna(low) or pd.isna(high) or (math.isinf(median) and low == high == median):
        return format_number(median)
    return f"{format_number(median)} [{format_number(low)}, {format_number(high)}]"


def interval_coverage(n_seeds: int, low: float, high: float, least: float, most: float) -> str:
    """How often such an interval covers the true median (independent, continuous seeds):
    1 - 2^(1-n) where it is [min, max] (always so for n <= 5), the exact order-statistic
    coverage for other odd n, a dash where neither applies (one seed, or even n past 5)."""
    if n_seeds < 2 or pd.isna(low):
        return MISSING
    if low == least and high == most:
        return f"{100 * (1 - 2.0 ** (1 - n_seeds)):.0f} %"
    if n_seeds % 2:
        return f"{100 * order_statistic_coverage(n_seeds):.0f} %"
    return MISSING


def _seeds(values: pd.Series) -> str:
    counts = sorted(set(int(n) for n in values))
    return "–".join(str(n) for n in (counts[0], counts[-1])) if len(counts) > 1 else str(counts[0])


def statistics_table(statistics: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per (variant, sweep point): its prior, the seeds its intervals rest on, what
    such an interval covers, and ``median [95 % interval]`` of each metric present (column
    names are the metrics', units included)."""
    shown = [m for m in dict.fromkeys(metrics) if m in set(statistics["metric"])]
    table = statistics[statistics["metric"].isin(shown)]
    rows = []
    for (model, point), group in table.groupby(["model", "point"], sort=False):
        by_metric = group.set_index("metric")
        first = by_metric.loc[shown[0]] if shown[0] in by_metric.index else group.iloc[0]
        row = {
            "variant": model,
            "point": point,
            "physics_bias": group["physics_bias"].iloc[0] if "physics_bias" in group else MISSING,
            "n_seeds": _seeds(group["n_seeds"]),
            "interval_coverage": interval_coverage(
                int(first["n_seeds"]), first["ci_low"], first["ci_high"], first["min"], first["max"]
            ),
        }
        for metric in shown:
            if metric in by_metric.index:
                s = by_metric.loc[metric]
                row[metric] = format_interval(s["median"], s["ci_low"], s["ci_high"])
            else:
                row[metric] = MISSING
        rows.append(row)
    return pd.DataFrame(rows)


def break_even_table(break_even: pd.DataFrame) -> pd.DataFrame:
    """Every pair of variants: which is cheaper to train, and after how many predictions the
    other is cheaper over its lifetime (or never)."""
    columns = [
        "cheaper_to_train",
        "other",
        "status",
        "break_even_predictions",
        "lifetime_energy_kwh_at_break_even",
        "train_energy_kwh_cheaper",
        "train_energy_kwh_other",
        "inference_energy_kwh_per_prediction_cheaper",
        "inference_energy_kwh_per_prediction_other",
    ]
    return _formatted(break_even[[c for c in columns if c in break_even]])


def energy_to_target_table(energy: pd.DataFrame) -> pd.DataFrame:
    """Per variant and error level: how many seeds reached it, and the training energy to get
    there (median [95 % interval] over seeds; ∞ where a seed never did)."""
    stem = "train_energy_kwh_to_target"
    table = energy[["model", "point", "tracked_error", "level", "n_seeds", "n_reached", "status"]]
    table = _formatted(table.rename(columns={"model": "variant"}))
    table[f"{stem} (median [interval])"] = [
        format_interval(m, lo, hi)
        for m, lo, hi in zip(
            energy[f"{stem}_median"],
            energy[f"{stem}_ci_low"],
            energy[f"{stem}_ci_high"],
            strict=True,
        )
    ]
    return table


def format_effect(statistic: str, estimate: float, low: float, high: float) -> str:
    """A comparison's effect: ``ratio 0.4 [0.35, 0.46]``, or "one seed: no interval"."""
    if pd.isna(estimate):
        return MISSING
    what = "tau" if "tau" in str(statistic) else "ratio"
    if pd.isna(low) or pd.isna(high):
        return f"{what} {format_number(estimate)} (one seed: no interval)"
    return f"{what} {format_interval(estimate, low, high)}"


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison of a claim's parts: the part and its verdict, whether it
    decides, the pair compared and its verdict, the effect with its interval, the exact and
    Holm-adjusted p-values, the numbers, the reason and the comparison, every cell text (the
    verdicts are marked up by :func:`to_html`)."""
    table = claims.assign(
        effect=[
            format_effect(*values)
            for values in zip(
                claims["statistic"], claims["estimate"], claims["ci_low"], claims["ci_high"],
                strict=True,
            )
        ],
        decides=claims["decides"].map(
            lambda decides: "yes" if decides is True or str(decides) == "True" else "no (secondary)"
        ),
    )  # fmt: skip
    columns = [
        "part",
        "decides",
        "part_verdict",
        "pair",
        "verdict",
        "effect",
        "p_value",
        "p_holm",
        "significant",
        "numbers",
        "reason",
        "comparison",
    ]
    return _formatted(table[columns])


def claim_summaries(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per (claim, experiment): the claim, its verdict, the sentence built from its
    numbers, and the comparisons its deciding parts used."""
    rows = []
    for (claim_id, experiment), group in claims.groupby(["claim_id", "experiment"], sort=False):
        deciding = group[group["decides"].astype(str) == "True"]
        rows.append(
            {
                "claim_id": claim_id,
                "experiment": experiment,
                "claim": group["claim"].iloc[0],
                "verdict": group["claim_verdict"].iloc[0],
                "what_the_numbers_say": group["sentence"].iloc[0],
                "compared_by": "; ".join(dict.fromkeys(deciding["comparison"].dropna())),
            }
        )
    return _formatted(pd.DataFrame(rows))


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    return table.map(format_number).reset_index(drop=True)


def to_html(table: pd.DataFrame, wrap: bool = True) -> str:
    """A table of text cells as HTML (escaped; each ``*verdict`` column coloured by its value);
    ``wrap=False`` keeps each cell on one line (tables of numbers)."""
    escaped = table.map(lambda cell: html.escape(str(cell)))
    for column in [c for c in escaped if str(c).endswith("verdict")]:
        escaped[column] = [
            f'<span class="verdict {v}">{v}</span>' if v in VERDICTS else v for v in escaped[column]
        ]
    classes = "report" if wrap else "report nowrap"
    return escaped.to_html(index=False, escape=False, border=0, classes=classes, na_rep=MISSING)


# What was run: energy method, hardware, software, config.


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
    return _formatted(pd.DataFrame(rows))


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
    return _formatted(table)


def this_machine(proc: Path = Path("/proc")) -> pd.DataFrame:
    """The machine building the report pages (it need not be the one that ran the jobs)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in (proc / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb: float | str = MISSING
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return _formatted(
        pd.DataFrame(
            [
                {
                    "cpu_model": cpu,
                    "logical_cores": os.cpu_count(),
                    "ram_total_size_gb": ram_gb,
                    "nvidia_gpus": count_gpus(proc / "driver" / "nvidia" / "gpus"),
                    "os": platform.platform(),
                }
            ]
        )
    )


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Python and each package's installed version in this job's environment."""
    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed here"
    return versions


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


# Pages.


def section(heading: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<h2>{html.escape(heading)}</h2>\n{note_html}\n{body}\n"


def page(title: str, sections: Sequence[str], intro: str = "") -> str:
    """A standalone HTML document (the report frames it), its CSS inline."""
    intro_html = f'<p class="note">{html.escape(intro)}</p>' if intro else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{intro_html}\n{''.join(sections)}</body>\n</html>\n"
    )


def seeds_statement(statistics: Mapping[str, pd.DataFrame], errors: Mapping[str, str]) -> str:
    """How many seeds each experiment's intervals rest on (of its error metric)."""
    parts = []
    for experiment, table in statistics.items():
        rows = table[table["metric"] == errors[experiment]]
        if len(rows):
            parts.append(f"{experiment}: {_seeds(rows['n_seeds'])}")
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
            section("Score parameters", to_html(_formatted(score_parameters))),
        ],
    )


def claims_page(claims: pd.DataFrame, seeds: str) -> str:
    sections = []
    for (claim_id, experiment), group in claims.groupby(["claim_id", "experiment"], sort=False):
        verdict = group[["claim_verdict", "sentence"]].iloc[:1]
        sections.append(
            section(
                f"Claim {format_number(claim_id)} ({experiment}): {group['claim'].iloc[0]}",
                to_html(_formatted(verdict)) + to_html(claims_table(group)),
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
        + seed_limits(claims)
        + " "
        + seeds,
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
    numbers make and the comparisons it used; what the seeds can show; how energy was
    measured; its CSS scoped to it (it sits inside the report's own page)."""
    scoped = "\n".join(f".tcp-start {s} {{ {d} }}" for s, d in _RULES) + _START_LAYOUT
    return (
        f'<div class="tcp-start">\n<style>{scoped}</style>\n'
        f"<h2>Claims</h2>\n{to_html(claim_summaries(claims))}\n"
        f'<p class="note">{html.escape(seed_limits(claims))}</p>\n'
        f'<p class="note">{html.escape(seeds)}</p>\n'
        f'<p class="note">{html.escape(energy)}</p>\n'
        + (f'<p class="note">{html.escape(code)}</p>\n' if code else "")
        + "</div>\n"
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
