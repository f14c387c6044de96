"""Pareto fronts of (error, cost) over the medians of every variant and sweep point."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def pareto_members(costs: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in both and better in one.

    Points with a missing value are never members. Of exact duplicates only the first is.
    """
    costs = np.asarray(costs, dtype=float)
    errors = np.asarray(errors, dtype=float)
    members = np.zeros(costs.shape, dtype=bool)
    valid = np.flatnonzero(~(np.isnan(costs) | np.isnan(errors)))
    # By cost, ties by error: a point is on the front iff its error beats all cheaper ones.
    order = valid[np.lexsort((errors[valid], costs[valid]))]
    best = np.inf
    for index in order:
        if errors[index] < best:
            members[index] = True
            best = errors[index]
    return members


def front_table(medians: pd.DataFrame, *, error: str, costs: Mapping[str, str]) -> pd.DataFrame:
    """The groups' medians with an ``on_front_{name}`` column per (name -> cost column).

    ``medians`` is :func:`statistics.wide` of the statistics (columns ``{metric}_median``);
    every variant and sweep point of the experiment competes in the same front.
    """
    table = medians.copy()
    for name, cost in costs.items():
        table[f"on_front_{name}"] = pareto_members(
            table[f"{cost}_median"].to_numpy(), table[f"{error}_median"].to_numpy()
        )
    return table


def front_line(table: pd.DataFrame, *, error: str, cost: str, member: str) -> pd.DataFrame:
    """The front's members in order of cost: the line a figure draws."""
    return table[table[member]].sort_values(f"{cost}_median")[[f"{cost}_median", f"{error}_median"]]
