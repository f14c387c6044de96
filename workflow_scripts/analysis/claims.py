"""The study's claims, declared as data and checked against the statistics tables by code.

Each claim names its experiment, the variants and metrics it speaks of, and one or more
checks; a check is one of a few generic comparisons of medians and their bootstrap intervals
(statistics.py). "Significantly" below means: the one interval's upper end is below the
other's lower end (non-overlapping 95 % percentile-bootstrap intervals of the median; with 3
seeds each interval is [min, max], so this is "every seed of one below every seed of the
other"). A check says supported, contradicted (the opposite holds significantly) or
inconclusive (overlap, or something it needs is missing: the message says what). A claim is
contradicted if any of its checks is, supported if all are, inconclusive otherwise.

Carbon comparisons use the CO2 columns (energy x PUE x grid intensity, one factor per
experiment, so they order runs exactly as the energy columns they are derived from).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from workflow_scripts.analysis.fronts import pareto_members
from workflow_scripts.analysis.statistics import BASE_POINT, representative, wide

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
BIAS_RANK = {"none": 0, "weak": 1, "strong": 2}
INTERVAL = ("median", "ci_low", "ci_high", "n_seeds")


class Missing(Exception):
    """Something a check needs is not in the tables (the message says what)."""


@dataclass(frozen=True)
class Interval:
    label: str
    median: float
    low: float
    high: float
    n_seeds: int

    def below(self, other: Interval) -> bool:
        """Significantly below: this interval ends before the other begins."""
        return self.high < other.low

    def text(self) -> str:
        return (
            f"{self.label} {self.median:.3g} [{self.low:.3g}, {self.high:.3g}] (n={self.n_seeds})"
        )


@dataclass(frozen=True)
class Outcome:
    verdict: str
    numbers: str
    reason: str


class Evidence:
    """Lookups into one experiment's statistics (wide: ``{metric}_{stat}`` columns)."""

    def __init__(self, experiment: str, table: pd.DataFrame) -> None:
        self.experiment = experiment
        self.all_points = table
        self.base = representative(table) if not table.empty else table
        self._base = {row["model"]: row for _, row in self.base.iterrows()}
        self._rows = {(row["model"], row["point"]): row for _, row in table.iterrows()}

    def models(self) -> list[str]:
        return sorted(self.base["model"])

    def bias(self, model: str) -> str:
        return str(self.row(model)["physics_bias"])

    def row(self, model: str, point: str | None = None) -> pd.Series:
        found = self._rows.get((model, point)) if point is not None else self._base.get(model)
        if found is None:
            where = "" if point is None else f" at point {point}"
            raise Missing(f"variant {model}{where} not run in {self.experiment}")
        return found

    def interval(self, model: str, metric: str, point: str | None = None) -> Interval:
        row = self.row(model, point)
        if f"{metric}_median" not in row or pd.isna(row[f"{metric}_median"]):
            raise Missing(f"{metric} not measured for {model} in {self.experiment}")
        label = model if point is None or point == BASE_POINT else f"{model}@{point}"
        values = [row[f"{metric}_{s}"] for s in INTERVAL]
        return Interval(label, float(values[0]), float(values[1]), float(values[2]), int(values[3]))

    def best_point(self, model: str, error: str) -> str:
        rows = self.all_points[self.all_points["model"] == model]
        if rows.empty:
            raise Missing(f"variant {model} not run in {self.experiment}")
        return str(rows.loc[rows[f"{error}_median"].idxmin(), "point"])


def _no_interval(*intervals: Interval) -> str | None:
    thin = [i.label for i in intervals if math.isnan(i.low) or math.isnan(i.high)]
    return f"no interval for {', '.join(thin)} (fewer than 2 seeds)" if thin else None


def _combine(outcomes: Sequence[Outcome]) -> Outcome:
    verdicts = {o.verdict for o in outcomes}
    verdict = (
        CONTRADICTED
        if CONTRADICTED in verdicts
        else SUPPORTED
        if verdicts == {SUPPORTED}
        else INCONCLUSIVE
    )
    return Outcome(
        verdict, "; ".join(o.numbers for o in outcomes), "; ".join(o.reason for o in outcomes)
    )


# ---- the generic comparisons ---------------------------------------------------------------


@dataclass(frozen=True)
class Lower:
    """A's metric below B's, significantly and (with ``factor``) by at least that ratio of
    the medians."""

    metric: str
    a: str
    b: str
    factor: float = 1.0

    def evaluate(self, evidence: Evidence) -> Outcome:
        a, b = evidence.interval(self.a, self.metric), evidence.interval(self.b, self.metric)
        numbers = f"{self.metric}: {a.text()} vs {b.text()}"
        thin = _no_interval(a, b)
        if thin:
            return Outcome(INCONCLUSIVE, numbers, thin)
        ratio = b.median / a.median if a.median > 0 else math.inf
        if b.below(a):
            return Outcome(CONTRADICTED, numbers, f"{b.label} significantly lower")
        if not a.below(b):
            return Outcome(INCONCLUSIVE, numbers, f"{self.metric} intervals overlap")
        if ratio < self.factor:
            return Outcome(
                INCONCLUSIVE,
                numbers,
                f"{a.label} lower by {ratio:.3g}x, less than the {self.factor:g}x claimed",
            )
        return Outcome(SUPPORTED, numbers, f"{a.label} significantly lower ({ratio:.3g}x)")


@dataclass(frozen=True)
class Extreme:
    """The best member of ``group`` (lowest, or highest with ``highest``) beats every other
    variant in ``among`` (default: all variants of the experiment). With ``at_best_error``
    each variant is taken at its sweep point of lowest median ``at_best_error``."""

    metric: str
    group: tuple[str, ...]
    among: tuple[str, ...] | None = None
    highest: bool = False
    at_best_error: str | None = None

    def evaluate(self, evidence: Evidence) -> Outcome:
        among = list(self.among or evidence.models())
        for model in self.group:
            if model not in among:
                among.append(model)

        def interval(model: str) -> Interval:
            point = evidence.best_point(model, self.at_best_error) if self.at_best_error else None
            found = evidence.interval(model, self.metric, point)
            if not self.highest:
                return found
            # Highest = lowest of the negated figure; negate back for the numbers.
            return Interval(found.label, -found.median, -found.high, -found.low, found.n_seeds)

        members = [interval(m) for m in self.group]
        others = [interval(m) for m in among if m not in self.group]
        if not others:
            raise Missing(f"no variant besides {', '.join(self.group)} in {evidence.experiment}")
        best = min(members, key=lambda i: i.median)
        sign = -1 if self.highest else 1

        def shown(i: Interval) -> str:
            return Interval(
                i.label, sign * i.median, *sorted((sign * i.low, sign * i.high)), i.n_seeds
            ).text()

        where = f" at each variant's best {self.at_best_error}" if self.at_best_error else ""
        numbers = f"{self.metric}{where}: " + ", ".join(shown(i) for i in members + others)
        word = "highest" if self.highest else "lowest"
        thin = _no_interval(best, *others)
        if thin:
            return Outcome(INCONCLUSIVE, numbers, thin)
        beaten_by = [o.label for o in others if o.below(best)]
        if beaten_by:
            return Outcome(
                CONTRADICTED, numbers, f"{', '.join(beaten_by)} significantly beat {best.label}"
            )
        if all(best.below(o) for o in others):
            return Outcome(SUPPORTED, numbers, f"{best.label} significantly {word}")
        close = [o.label for o in others if not best.below(o)]
        return Outcome(
            INCONCLUSIVE, numbers, f"{best.label}'s interval overlaps {', '.join(close)}'s"
        )


@dataclass(frozen=True)
class AllHigher:
    """Every variant in ``group`` has a higher metric than every variant in ``others``."""

    metric: str
    group: tuple[str, ...]
    others: tuple[str, ...]

    def evaluate(self, evidence: Evidence) -> Outcome:
        high = [evidence.interval(m, self.metric) for m in self.group]
        low = [evidence.interval(m, self.metric) for m in self.others]
        numbers = f"{self.metric}: " + ", ".join(i.text() for i in high + low)
        thin = _no_interval(*high, *low)
        if thin:
            return Outcome(INCONCLUSIVE, numbers, thin)
        pairs = list(itertools.product(high, low))
        reversed_ = [f"{h.label} < {lo.label}" for h, lo in pairs if h.below(lo)]
        if reversed_:
            return Outcome(CONTRADICTED, numbers, "significantly lower: " + ", ".join(reversed_))
        if all(lo.below(h) for h, lo in pairs):
            return Outcome(SUPPORTED, numbers, "every pair significantly ordered")
        overlap = [f"{h.label}/{lo.label}" for h, lo in pairs if not lo.below(h)]
        return Outcome(INCONCLUSIVE, numbers, "intervals overlap: " + ", ".join(overlap))


@dataclass(frozen=True)
class PriorOrdering:
    """Stronger physics prior, lower metric, for every pair of variants at different prior
    levels (``expect="lower"``), or the negation (``expect="not lower"``: some stronger
    prior is significantly higher)."""

    metric: str
    expect: str = "lower"

    def evaluate(self, evidence: Evidence) -> Outcome:
        models = evidence.models()
        intervals = {m: evidence.interval(m, self.metric) for m in models}
        pairs = [
            (weak, strong)
            for weak, strong in itertools.permutations(models, 2)
            if BIAS_RANK[evidence.bias(weak)] < BIAS_RANK[evidence.bias(strong)]
        ]
        if not pairs:
            raise Missing(f"one physics-prior level only in {evidence.experiment}")
        numbers = f"{self.metric}: " + ", ".join(
            f"{intervals[m].text()} ({evidence.bias(m)})" for m in models
        )
        thin = _no_interval(*intervals.values())
        if thin:
            return Outcome(INCONCLUSIVE, numbers, thin)
        holds = [intervals[s].below(intervals[w]) for w, s in pairs]
        breaks = [
            f"{s} ({evidence.bias(s)}) > {w} ({evidence.bias(w)})"
            for w, s in pairs
            if intervals[w].below(intervals[s])
        ]
        if self.expect == "lower":
            if breaks:
                return Outcome(CONTRADICTED, numbers, "stronger prior higher: " + ", ".join(breaks))
            if all(holds):
                return Outcome(SUPPORTED, numbers, "every stronger prior significantly lower")
            return Outcome(INCONCLUSIVE, numbers, f"{holds.count(False)} pairs overlap")
        if breaks:
            return Outcome(
                SUPPORTED, numbers, "ordering breaks, stronger prior higher: " + ", ".join(breaks)
            )
        if all(holds):
            return Outcome(
                CONTRADICTED, numbers, "every stronger prior significantly lower here too"
            )
        return Outcome(
            INCONCLUSIVE, numbers, f"no significant reversal; {holds.count(False)} pairs overlap"
        )


@dataclass(frozen=True)
class FrontDominates:
    """At each error on the front of the swept data-driven model, the cheapest prior variant
    point (physics_bias not "none") with as low a median error costs less, significantly."""

    error: str
    cost: str
    data_driven: str
    swept: str = "width"

    def evaluate(self, evidence: Evidence) -> Outcome:
        table = evidence.all_points
        sweep = table[table["model"] == self.data_driven]
        if sweep.empty:
            raise Missing(f"variant {self.data_driven} not run in {evidence.experiment}")
        swept_points = sweep[sweep["point"] != BASE_POINT]
        if "sweep_key" in sweep:
            keys = swept_points["sweep_key"].dropna().astype(str)
            swept_points = swept_points[
                keys.str.contains(self.swept, case=False).reindex(
                    swept_points.index, fill_value=False
                )
            ]
        if swept_points.empty:
            raise Missing(f"no sweep of {self.data_driven}'s {self.swept}")
        sweep = sweep[(sweep["point"] == BASE_POINT) | sweep.index.isin(swept_points.index)]
        priors = table[table["physics_bias"] != "none"]
        if priors.empty:
            raise Missing(f"no physics-prior variant in {evidence.experiment}")
        front = sweep[
            pareto_members(
                sweep[f"{self.cost}_median"].to_numpy(), sweep[f"{self.error}_median"].to_numpy()
            )
        ]
        parts, verdicts = [], []
        for _, point in front.sort_values(f"{self.cost}_median").iterrows():
            data = evidence.interval(self.data_driven, self.cost, point["point"])
            reaching = priors[priors[f"{self.error}_median"] <= point[f"{self.error}_median"]]
            error_text = f"{self.error} {point[f'{self.error}_median']:.3g}"
            if reaching.empty:
                parts.append(f"{data.label} ({error_text}): no prior reaches it")
                continue
            cheapest = reaching.loc[reaching[f"{self.cost}_median"].idxmin()]
            prior = evidence.interval(cheapest["model"], self.cost, cheapest["point"])
            parts.append(f"{data.label} ({error_text}): {data.text()} vs {prior.text()}")
            if _no_interval(data, prior):
                verdicts.append(INCONCLUSIVE)
            elif prior.below(data):
                verdicts.append(SUPPORTED)
            elif data.below(prior):
                verdicts.append(CONTRADICTED)
            else:
                verdicts.append(INCONCLUSIVE)
        numbers = f"{self.cost} at equal {self.error}: " + "; ".join(parts)
        if not verdicts:
            return Outcome(INCONCLUSIVE, numbers, "no prior reaches the sweep's errors")
        if CONTRADICTED in verdicts:
            return Outcome(
                CONTRADICTED,
                numbers,
                "the data-driven sweep is significantly cheaper at some error",
            )
        if set(verdicts) == {SUPPORTED}:
            return Outcome(
                SUPPORTED,
                numbers,
                f"a prior is significantly cheaper at all {len(verdicts)} errors",
            )
        return Outcome(INCONCLUSIVE, numbers, "intervals overlap (or one seed) at some errors")


Check = Lower | Extreme | AllHigher | PriorOrdering | FrontDominates


@dataclass(frozen=True)
class Claim:
    id: str
    experiment: str
    text: str
    source: str
    checks: tuple[Check, ...] = field(default_factory=tuple)


_TRAIN_CO2 = "train_co2_g"
_INFERENCE_CO2 = "inference_co2_g_per_prediction"
_V1 = "arXiv 2509.24517 v1, findings reported (paper.md)"
_V2 = "arXiv 2509.24517 v2, claim (paper.md)"

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "1",
        "oscillator",
        "The PINN extrapolates far better (>= 10x lower test MSE) than the MLP, at lower "
        "training carbon.",
        _V1 + ": MSE 0.014 vs 1.9e-4 undamped, 0.114 vs 5.4e-5 damped; CO2 about 3x lower",
        (Lower("test_mse", "pinn", "mlp", factor=10.0), Lower(_TRAIN_CO2, "pinn", "mlp")),
    ),
    Claim(
        "2",
        "burgers",
        "The constrained C-PINN (pinn_hard) gives the best error; D-PINN (pinn_data) the best "
        "training carbon at its best error.",
        _V1 + ": C-PINN ~1.6e-10 MSE",
        (
            Extreme("test_mse", ("pinn_hard",)),
            Extreme(_TRAIN_CO2, ("pinn_data",), at_best_error="test_mse"),
        ),
    ),
    Claim(
        "3",
        "shear_flow",
        "The U-Nets are the most accurate in one-step error (VRMSE).",
        _V1 + ": training, U-Nets most accurate",
        (Extreme("vrmse", ("unet", "unet_physloss")),),
    ),
    Claim(
        "4",
        "shear_flow",
        "The FNOs have the lowest training carbon.",
        _V1 + ": FNOs lowest training carbon",
        (Extreme(_TRAIN_CO2, ("fno", "fno_divfree")),),
    ),
    Claim(
        "5",
        "shear_flow",
        "FNO and flow matching cost more per forecast than the U-Nets; flow matching the most.",
        _V1 + ": inference, flow matching the most (10 ODE steps per frame)",
        (
            AllHigher(
                _INFERENCE_CO2, ("fno", "fno_divfree", "flow_matching"), ("unet", "unet_physloss")
            ),
            Extreme(_INFERENCE_CO2, ("flow_matching",), highest=True),
        ),
    ),
    *(
        Claim(
            "6",
            experiment,
            "Stronger physics priors have lower training footprints, and this does not carry "
            "over to inference.",
            _V2 + ": the training advantage does not straightforwardly extend to inference",
            (PriorOrdering(_TRAIN_CO2, "lower"), PriorOrdering(_INFERENCE_CO2, "not lower")),
        )
        for experiment in ("oscillator", "burgers", "shear_flow")
    ),
    Claim(
        "7",
        "shear_flow",
        "A physics prior reaches a given error at less training carbon than scaling up the "
        "data-driven model (the U-Net's width sweep).",
        _V1 + " and v2 title: priors trade accuracy against carbon better than scaling up",
        (FrontDominates("vrmse", _TRAIN_CO2, data_driven="unet", swept="width"),),
    ),
)


def evaluate_claim(claim: Claim, evidence: Evidence | None) -> dict[str, str]:
    row = {"claim_id": claim.id, "experiment": claim.experiment, "claim": claim.text}
    if evidence is None:
        outcome = Outcome(INCONCLUSIVE, "", f"experiment {claim.experiment} not run")
    else:
        outcomes = []
        for check in claim.checks:
            try:
                outcomes.append(check.evaluate(evidence))
            except Missing as missing:
                outcomes.append(Outcome(INCONCLUSIVE, "", f"missing: {missing}"))
        outcome = _combine(outcomes)
    return {
        **row,
        "verdict": outcome.verdict,
        "numbers": outcome.numbers,
        "reason": outcome.reason,
        "source": claim.source,
    }


def check_claims(
    statistics_by_experiment: Mapping[str, pd.DataFrame],
    claims: Sequence[Claim] = CLAIMS,
) -> pd.DataFrame:
    """The claims table: one row per (claim, experiment), computed from each experiment's
    statistics table (the long table of :func:`statistics.summarize_over_seeds`)."""
    evidence = {
        name: Evidence(name, wide(table, INTERVAL))
        for name, table in statistics_by_experiment.items()
        if not table.empty
    }
    rows = [evaluate_claim(claim, evidence.get(claim.experiment)) for claim in claims]
    return pd.DataFrame(
        rows, columns=["claim_id", "experiment", "claim", "verdict", "numbers", "reason", "source"]
    )
