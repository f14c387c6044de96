"""How one value is written in a cell of the report's tables: numbers, intervals, effects."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from workflow_scripts.analysis.statistics import order_statistic_coverage

MISSING = "–"


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


def format_effect(statistic: str, estimate: float, low: float, high: float) -> str:
    """A comparison's effect: ``ratio 0.4 [0.35, 0.46]``, or "one seed: no interval"."""
    if pd.isna(estimate):
        return MISSING
    what = "tau" if "tau" in str(statistic) else "ratio"
    if pd.isna(low) or pd.isna(high):
        return f"{what} {format_number(estimate)} (one seed: no interval)"
    return f"{what} {format_interval(estimate, low, high)}"


def seed_counts(values: pd.Series) -> str:
    """The seeds a set of intervals rests on: ``3``, or ``2–3`` where they differ."""
    counts = sorted(set(int(n) for n in values))
    return "–".join(str(n) for n in (counts[0], counts[-1])) if len(counts) > 1 else str(counts[0])


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell of ``table`` as text (:func:`format_number`)."""
    return table.map(format_number).reset_index(drop=True)
