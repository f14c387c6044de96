"""Cost at matched accuracy: the comparisons that decide a claim's cost parts.

Cost is compared where accuracy is matched, never at an equal step budget alone:
- :class:`FrontDominance`: a configuration x "dominates" y when x's median error is at most
  y's and x costs less; A beats B when some configuration of A dominates one of B with the
  cost interval below 1, and no configuration of B dominates one of A even on the medians.
  Only each side's own Pareto front (on the medians) competes. Configurations are sweep
  points, or (``anytime``) every logged evaluation of the learning curves.
- :class:`CurveCost`: along the learning curves, the training energy at which each first
  reaches a common error, the less accurate one's best (targets.majority_best); a run that
  never reaches it counts as +inf, so a variant that never gets there is never "cheaper".
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workflow_scripts.analysis import targets
from workflow_scripts.analysis.comparisons import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    Result,
    fold,
    interval_text,
    ratio_effect,
    ratio_verdict,
    sides,
    times,
)
from workflow_scripts.analysis.effect_sizes import Effect
from workflow_scripts.analysis.evidence import ENERGY, Evidence, Missing, Sample, label, name
from workflow_scripts.analysis.fronts import pareto_members


@dataclass(frozen=True)
class FrontDominance:
    """Cost at matched accuracy across configurations (module docstring): A (None: every
    variant with a physics prior) against each of B (None: every other variant). ``anytime``
    takes the configurations from the learning curves (error: the tracked one; cost:
    cumulative training energy); ``swept`` requires each of B to have a sweep of that key."""

    error: str | None
    cost: str
    a: tuple[str, ...] | None
    b: tuple[str, ...] | None = None
    anytime: bool = False
    swept: str | None = None

    def describe(self) -> str:
        if self.anytime:
            return (
                "cost at matched accuracy, anytime fronts: every logged evaluation of the "
                "learning curves (validation error vs cumulative training energy) is a point"
            )
        return (
            f"cost at matched accuracy across sweep points: a configuration reaching another's "
            f"{name(self.error or '')} (medians) at lower {name(self.cost)}"
        )

    def evaluate(self, evidence: Evidence) -> list[Result]:
        a_models = self.a or evidence.priors()
        if not a_models:
            raise Missing(f"no variant with a physics prior in {evidence.experiment}")
        a_models, b_models = sides(evidence, a_models, self.b)
        error = evidence.tracked_error if self.anytime else self.error
        cost = ENERGY if self.anytime else self.cost
        for model in b_models:
            if self.swept and not evidence.swept(model, self.swept):
                raise Missing(f"no sweep of {model}'s {self.swept}")
        ours = evidence.configurations(a_models, error, cost, self.anytime)
        return [
            self._against(
                evidence,
                "/".join(a_models),
                ours,
                model,
                evidence.configurations((model,), error, cost, self.anytime),
                error,
                cost,
            )
            for model in b_models
        ]

    def _against(self, evidence, group, ours, rival, theirs, error, cost) -> Result:
        a_front = _front(evidence, ours, error, cost)
        b_front = _front(evidence, theirs, error, cost)
        pairs = [
            _Pair(x, y, True, evidence, cost) for x in a_front for y in b_front
            if x.error.median <= y.error.median
        ] + [
            _Pair(y, x, False, evidence, cost) for x in a_front for y in b_front
            if y.error.median <= x.error.median
        ]  # fmt: skip
        ours_wins = [p for p in pairs if p.ours and p.dominates]
        theirs_wins = [p for p in pairs if not p.ours and p.dominates]
        if any(p.significant for p in ours_wins) and not theirs_wins:
            verdict, reason = SUPPORTED, f"no {rival} configuration dominates a {group} one"
        elif any(p.significant for p in theirs_wins) and not ours_wins:
            verdict, reason = CONTRADICTED, f"no {group} configuration dominates a {rival} one"
        elif ours_wins and theirs_wins:
            verdict, reason = INCONCLUSIVE, "each dominates somewhere: a trade-off"
        elif ours_wins or theirs_wins:
            verdict, reason = INCONCLUSIVE, "dominates on the medians only: the costs overlap"
        else:
            verdict, reason = INCONCLUSIVE, "neither dominates: the more accurate costs more"
        wins = ours_wins + theirs_wins
        # The witness: a significant win at the most accurate level, else any win, else (no
        # dominance) the pair at the other side's most accurate configuration.
        witness = min(
            [p for p in wins if p.significant] or wins or pairs,
            key=lambda p: (not p.at_best, p.reached.error.median, -p.saving),
        )
        x, y = witness.reaching, witness.reached
        # A decided verdict rests on the witness's interval: its reason quotes the deciding end.
        if verdict == SUPPORTED:
            reason += (
                f"; {x.label} costs at most {times(witness.effect.high)} {y.label}'s "
                f"{name(cost)} (the cost ratio interval's upper end)"
            )
        elif verdict == CONTRADICTED:
            reason += (
                f"; {y.label} costs at least {times(witness.effect.low)} {x.label}'s "
                f"{name(cost)} (the cost ratio interval's lower end)"
            )
        accuracy = (
            f"as low {name(error)} as"
            if x.error.median == y.error.median
            else fold(_divided(x.error.median, y.error.median), name(error))
        )
        best = f" ({y.model}'s most accurate)" if witness.at_best else ""
        phrase = (
            f"{x.label} reaches {accuracy} {y.label}{best} at "
            f"{times(_divided(x.cost.median, y.cost.median))} its {name(cost)} "
            f"(cost ratio {group} : {rival} {interval_text(witness.effect)})"
        )
        numbers = (
            f"{error}: {x.error.text()} vs {y.error.text()}; {cost}: {x.cost.text()} vs "
            f"{y.cost.text()}; fronts: {len(a_front)} {group} and {len(b_front)} {rival} "
            "configurations"
        )
        return Result(
            verdict, f"{group} vs {rival}", self.describe(), witness.effect, numbers, reason, phrase
        )


def _divided(a: float, b: float) -> float:
    """a / b of two medians, NaN where undefined (0 / 0, inf / inf) rather than an error."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


@dataclass(frozen=True)
class _Point:
    """A configuration: its error and cost over seeds, its variant, and whether it is its
    variant's most accurate on the front."""

    label: str
    error: Sample
    cost: Sample
    model: str
    most_accurate: bool = False


def _front(evidence: Evidence, configs: pd.DataFrame, error: str, cost: str) -> list[_Point]:
    """The configurations on the side's own Pareto front of the medians (cost, error)."""
    points = []
    for config, rows in configs.groupby("label", sort=False):
        key = (evidence.experiment, config)
        points.append(
            _Point(
                config,
                Sample.of(config, rows["error"], (*key, error), evidence.seed),
                Sample.of(config, rows["cost"], (*key, cost), evidence.seed),
                str(rows["model"].iloc[0]),
            )
        )
    on = pareto_members(
        np.array([p.cost.median for p in points]), np.array([p.error.median for p in points])
    )
    front = [p for p, member in zip(points, on, strict=True) if member]
    best = min(p.error.median for p in front)
    return [dataclasses.replace(p, most_accurate=p.error.median == best) for p in front]


class _Pair:
    """``reaching`` has at most ``reached``'s median error; the cost ratio is always the
    A side's over the B side's (``ours``: ``reaching`` is on the A side). Its interval is
    computed only where asked (a front of learning-curve points makes hundreds of pairs)."""

    def __init__(self, reaching: _Point, reached: _Point, ours: bool, evidence, cost) -> None:
        self.reaching, self.reached, self.ours = reaching, reached, ours
        self.at_best = reached.most_accurate
        self._sides = (reaching, reached) if ours else (reached, reaching)
        self._key = (evidence.experiment, self._sides[0].label, self._sides[1].label, cost)
        self._seed = evidence.seed
        # reaching dominates where it costs less
        self.dominates = reaching.cost.median < reached.cost.median
        self.saving = abs(math.log(reaching.cost.median / reached.cost.median))

    @functools.cached_property
    def effect(self) -> Effect:
        a, b = self._sides
        return ratio_effect(a.cost, b.cost, self._key, self._seed)

    @property
    def significant(self) -> bool:
        effect = self.effect
        return effect.has_interval and (effect.high < 1 if self.ours else effect.low > 1)


@dataclass(frozen=True)
class CurveCost:
    """Along the learning curves of each variant's base configuration: the training energy
    at which A's (its cheapest member's) and B's runs first reach the less accurate one's
    best tracked error, A's against each of B (None: every other variant)."""

    a: tuple[str, ...]
    b: tuple[str, ...] | None = None

    def describe(self) -> str:
        return (
            "cost at matched accuracy along the learning curves: training energy to first "
            "reach the less accurate variant's best validation error (never reached: +inf)"
        )

    def evaluate(self, evidence: Evidence) -> list[Result]:
        a_models, b_models = sides(evidence, self.a, self.b)
        tracked = evidence.tracked_error
        curves = {m: evidence.curves_of(m) for m in (*a_models, *b_models)}
        best = {m: targets.majority_best_of(c, tracked) for m, c in curves.items()}
        results = []
        ours = min(best[m] for m in a_models)
        for rival in b_models:
            level = max(ours, best[rival])
            owner = rival if best[rival] >= ours else min(a_models, key=best.get)

            def sample(model: str, level: float = level) -> Sample:
                key = (evidence.experiment, model, "energy to", level)
                at = label(model, evidence.base_point(model))
                return Sample.of(
                    at, targets.energy_to_level(curves[model], level, tracked), key, evidence.seed
                )

            a = min((sample(m) for m in a_models), key=lambda s: s.median)
            b = sample(rival)
            key = (evidence.experiment, a.label, b.label, "energy to", level)
            effect = ratio_effect(a, b, key, evidence.seed)
            # ``a`` is the side's member with the lowest median energy: at most the level,
            # which is its own or the rival's majority best, so a majority of its seeds reach
            # it; only the rival can miss it, as +inf in its sample.
            verdict, reason = ratio_verdict(effect, a.label, b.label)
            phrase = (
                f"along the learning curves {a.label} first reaches {name(tracked)} {level:.3g} "
                f"({owner}'s best) at {times(effect.estimate)} the training energy {b.label} "
                f"needs (ratio {interval_text(effect)})"
            )
            numbers = (
                f"{tracked} level {level:.3g} ({owner}'s majority best); {ENERGY} to it: "
                f"{a.text()} vs {b.text()}"
            )
            results.append(
                Result(
                    verdict, f"{'/'.join(a_models)} vs {rival}", self.describe(), effect,
                    numbers, reason, phrase,
                )
            )  # fmt: skip
        return results
