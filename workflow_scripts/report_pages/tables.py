"""The analysis and claims tables as the report shows them: chosen columns, every cell text."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from workflow_scripts.report_pages.cells import (
    MISSING,
    format_effect,
    format_interval,
    formatted,
    interval_coverage,
    seed_counts,
)


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
            "n_seeds": seed_counts(group["n_seeds"]),
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
    return formatted(break_even[[c for c in columns if c in break_even]])


def energy_to_target_table(energy: pd.DataFrame) -> pd.DataFrame:
    """Per variant and error level: how many seeds reached it, and the training energy to get
    there (median [95 % interval] over seeds; ∞ where a seed never did)."""
    stem = "train_energy_kwh_to_target"
    table = energy[["model", "point", "tracked_error", "level", "n_seeds", "n_reached", "status"]]
    table = formatted(table.rename(columns={"model": "variant"}))
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


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison of a claim's parts: the part and its verdict, whether it
    decides, the pair compared and its verdict, the effect with its interval, the exact and
    Holm-adjusted p-values, the numbers, the reason and the comparison, every cell text (the
    verdicts are marked up by :func:`~workflow_scripts.report_pages.markup.to_html`)."""
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
    return formatted(table[columns])


def claim_summaries(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per (claim, experiment): the claim, its verdict, the sentence built from its
    numbers, and its deciding parts with their verdicts (each part's comparisons in full are
    on the claims page: on the start page they crowded the sentence out)."""
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
                "parts_deciding": "; ".join(
                    f"{part}: {verdict}"
                    for part, verdict in dict.fromkeys(
                        zip(deciding["part"], deciding["part_verdict"], strict=True)
                    )
                    if isinstance(part, str)
                ),
            }
        )
    return formatted(pd.DataFrame(rows))
