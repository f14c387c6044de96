"""The comparisons a claim's parts are made of, each judged on per-seed values (evidence.py)
with an effect size and an exact one-sided p-value (effect_sizes.py); those of cost at
matched accuracy are in matched_cost.py.

Verdict of one comparison, from the percentile-bootstrap interval of its effect:
- a ratio of medians a/b (a claimed lower): supported if the whole interval lies below 1 (below
  1/factor where the claim names a factor), contradicted if it lies above 1, inconclusive
  otherwise (or with one seed: no interval). At 3 seeds a side the interval is [min a / max b,
  max a / min b]: supported means every seed of a below every seed of b.
- a Kendall tau: supported if the interval lies on the claimed side of 0, contradicted if on
  the other, inconclusive otherwise.
A comparison's reason quotes the end of the interval that decides its verdict ("at least 5x
lower (the ratio interval's upper end, 0.2)"), not the point estimate, on which the verdict
does not rest. The p-values do not enter a verdict: claims.py adjusts them (Holm) across a
claim and reports them beside it, with what the seed count lets them reach.

Ratios in words (:func:`times`, :func:`fold`): 3 significant figures ("12,300x", "1.81e7x"),
"about the same ... (within 0.3 %)" where a ratio rounds to 1, "n/a" where it is undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workflow_scripts.analysis import targets
from workflow_scripts.analysis.effect_sizes import (
    Effect,
    rank_correlation,
    rank_test_p,
    ratio_of_medians,
)
from workflow_scripts.analysis.evidence import (
    BIAS_RANK,
    Evidence,
    Missing,
    Sample,
    label,
    name,
)

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
#: RankCorrelation's cost: the training energy to a level every variant reaches.
MATCHED = "energy to a common validation error"


@dataclass(frozen=True)
class Result:
    """One comparison of one pair (``pair``: the groups compared, the key under which a part
    joins its comparisons)."""

    verdict: str
    pair: str
    comparison: str
    effect: Effect | None
    numbers: str
    reason: str
    phrase: str


def missing(comparison: str, what: Missing) -> Result:
    return Result(INCONCLUSIVE, "", comparison, None, "", f"missing: {what}", f"missing: {what}")


def significant_figures(value: float) -> str:
    """A number to 3 significant figures: "0.4", "13.9", "0.000123", "1.2e-5", "1,300",
    "353,000", and from a million up as "1.81e7"; NaN as "n/a"."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value) or value == 0:
        return f"{value:g}"
    text = f"{value:.3g}"
    if 1e3 <= abs(float(text)) < 1e6:
        return f"{float(text):,.0f}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def _inverse(ratio: float) -> float:
    return math.inf if ratio == 0 else 1 / ratio


def _rounds_to_one(ratio: float) -> bool:
    """Whether a ratio other than 1 prints as 1 to 3 significant figures, either way up."""
    return ratio != 1 and max(ratio, 1 / ratio) < 1.005


def times(ratio: float) -> str:
    """A ratio as "0.4x", "1.04x", "13.9x", "1,300x", "1.81e7x"; "about 1x" where it rounds
    to 1 without being 1, "n/a" where it is undefined (NaN)."""
    if math.isnan(ratio):
        return "n/a"
    if math.isinf(ratio):
        return "infinitely many times"
    if ratio > 0 and _rounds_to_one(ratio):
        return "about 1x"
    return f"{significant_figures(ratio)}x"


def fold(ratio: float, what: str) -> str:
    """A ratio a/b of ``what`` as the words between a and b: "470x lower test MSE than",
    "2.5x higher test MSE than", "about the same test MSE (within 0.3 %) as", "the same test
    MSE as", or, where the ratio is undefined (NaN), "an undefined ratio (n/a) of test MSE
    to"."""
    if math.isnan(ratio):
        return f"an undefined ratio (n/a) of {what} to"
    if ratio == 0 or math.isinf(ratio):
        return f"infinitely {'lower' if ratio == 0 else 'higher'} {what} than"
    if ratio == 1:
        return f"the same {what} as"
    if _rounds_to_one(ratio):
        return f"about the same {what} (within {100 * abs(ratio - 1):.1g} %) as"
    lower = ratio < 1
    return f"{times(1 / ratio if lower else ratio)} {'lower' if lower else 'higher'} {what} than"


def interval_text(effect: Effect) -> str:
    estimate = significant_figures(effect.estimate)
    if not effect.has_interval:
        return f"{estimate} (one seed: no interval)"
    return f"{estimate} [{significant_figures(effect.low)}, {significant_figures(effect.high)}]"


def ratio_effect(a: Sample, b: Sample, key: tuple, seed: int, factor: float = 1.0) -> Effect:
    """a/b of the medians with its interval, and the exact p-value that a x factor < b."""
    estimate, low, high = ratio_of_medians(a.values, b.values, key=key, seed=seed)
    return Effect(
        "ratio of medians", estimate, low, high, rank_test_p(a.values * factor, b.values), a.n, b.n
    )


def ratio_verdict(effect: Effect, a: str, b: str, factor: float = 1.0) -> tuple[str, str]:
    """The verdict on "a lower than b (by ``factor``)" from the ratio a/b's interval, and its
    reason, which quotes the end of the interval that decides it (not the point estimate:
    the verdict does not rest on it)."""
    if not effect.has_interval:
        return INCONCLUSIVE, "one seed: no interval"
    low, high = effect.low, effect.high
    if high < 1 / factor:
        return SUPPORTED, (
            f"{a} at least {times(_inverse(high))} lower than {b} in every resample (the ratio "
            f"interval's upper end, {significant_figures(high)}, is below {1 / factor:g})"
        )
    if low > 1:
        return CONTRADICTED, (
            f"{a} at least {times(low)} higher than {b} in every resample (the ratio "
            f"interval's lower end, {significant_figures(low)}, is above 1)"
        )
    if high < 1:
        return INCONCLUSIVE, (
            f"{a} at least {times(_inverse(high))} lower than {b} across seeds (the ratio "
            f"interval's upper end, {significant_figures(high)}), less than the {factor:g}x "
            "claimed"
        )
    return INCONCLUSIVE, (
        f"the ratio's interval [{significant_figures(low)}, {significant_figures(high)}] "
        "includes 1: the seeds overlap"
    )


def sides(
    evidence: Evidence, a: tuple[str, ...] | None, b: tuple[str, ...] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The variants on each side; a missing side is every other variant."""
    a = a or tuple(m for m in evidence.models() if m not in (b or ()))
    b = b or tuple(m for m in evidence.models() if m not in a)
    for model in (*a, *b):
        evidence.require(model)
    if not b:
        raise Missing(f"no variant besides {', '.join(a)} in {evidence.experiment}")
    return a, b


@dataclass(frozen=True)
class Lower:
    """A's ``metric`` below B's (by ``factor``), each variant at its configuration of lowest
    median ``metric`` (``at="best"``) or at its base configuration. A group in ``a`` is
    represented by its lowest member, compared with each of ``b`` (every other variant if
    None); ``every_pair`` compares every member of ``a`` with every one of ``b`` instead."""

    metric: str
    a: tuple[str, ...] | None
    b: tuple[str, ...] | None = None
    at: str = "best"
    factor: float = 1.0
    every_pair: bool = False

    def describe(self) -> str:
        where = "best configuration" if self.at == "best" else "base configuration"
        claimed = f", claimed at least {self.factor:g}x" if self.factor > 1 else ""
        return f"{name(self.metric)} at each variant's {where}: ratio of medians{claimed}"

    def _which(self, sample: Sample) -> str:
        model = sample.label.split("@")[0]
        return f"{sample.label} ({model}'s best)" if self.at == "best" else sample.label

    def evaluate(self, evidence: Evidence) -> list[Result]:
        a_models, b_models = sides(evidence, self.a, self.b)

        def sample(model: str) -> Sample:
            return evidence.sample(model, self.metric, evidence.point(model, self.at, self.metric))

        a_samples = [sample(m) for m in a_models]
        groups = [(s.label, s) for s in a_samples]
        if not self.every_pair:
            groups = [("/".join(a_models), min(a_samples, key=lambda s: s.median))]
        results = []
        for b_model in b_models:
            b = sample(b_model)
            for group, a in groups:
                key = (evidence.experiment, a.label, b.label, self.metric)
                effect = ratio_effect(a, b, key, evidence.seed, self.factor)
                verdict, reason = ratio_verdict(effect, a.label, b.label, self.factor)
                phrase = (
                    f"{self._which(a)} has {fold(effect.estimate, name(self.metric))} "
                    f"{self._which(b)} (ratio {interval_text(effect)})"
                )
                numbers = f"{self.metric}: {a.text()} vs {b.text()}"
                results.append(
                    Result(
                        verdict, f"{group} vs {b_model}", self.describe(), effect, numbers,
                        reason, phrase,
                    )
                )  # fmt: skip
        return results


@dataclass(frozen=True)
class RankCorrelation:
    """Kendall's tau over the variants between prior strength (none 0, weak 1, strong 2) and
    a cost: a runs-table column at the base configuration, or ``MATCHED`` (the training
    energy at which each variant's base runs first reach the level every variant reaches,
    the least accurate one's best tracked error). ``expect_negative``: stronger prior, lower
    cost; else the claim is that it is not so (tau above 0)."""

    cost: str
    expect_negative: bool

    def describe(self) -> str:
        what = self.cost if self.cost == MATCHED else f"{name(self.cost)} at equal budget"
        if self.cost.startswith("inference"):
            what = name(self.cost)
        return f"Kendall tau over the variants between prior strength and {what}"

    def evaluate(self, evidence: Evidence) -> list[Result]:
        models = evidence.models()
        strengths = [BIAS_RANK[evidence.bias(m)] for m in models]
        if len(set(strengths)) < 2:
            raise Missing(f"one physics-prior level only in {evidence.experiment}")
        if self.cost == MATCHED:
            tracked = evidence.tracked_error
            curves = {m: evidence.curves_of(m) for m in models}
            level = max(targets.majority_best_of(c, tracked) for c in curves.values())
            samples = [
                Sample.of(
                    label(m, evidence.base_point(m)),
                    targets.energy_to_level(curves[m], level, tracked),
                    (evidence.experiment, m, "energy to", level),
                    evidence.seed,
                )
                for m in models
            ]
            figure = f"training energy to {name(tracked)} {level:.3g}"
        else:
            samples = [evidence.sample(m, self.cost) for m in models]
            figure = name(self.cost)
        effect = rank_correlation(
            strengths,
            [s.values for s in samples],
            expect_negative=self.expect_negative,
            key=(evidence.experiment, self.cost),
            seed=evidence.seed,
        )
        claimed_side = effect.high < 0 if self.expect_negative else effect.low > 0
        other_side = effect.low > 0 if self.expect_negative else effect.high < 0
        if not effect.has_interval:
            verdict, reason = INCONCLUSIVE, "one seed: no interval"
        # A reason quotes the end of tau's interval that decides the verdict.
        elif claimed_side or other_side:
            negative = effect.high < 0
            end = effect.high if negative else effect.low
            verdict = SUPPORTED if claimed_side else CONTRADICTED
            reason = (
                f"tau at {'most' if negative else 'least'} {significant_figures(end)} (its "
                f"interval's {'upper' if negative else 'lower'} end), on the "
                f"{'claimed' if claimed_side else 'other'} side of 0"
            )
        else:
            verdict, reason = (
                INCONCLUSIVE,
                (
                    f"tau's interval [{significant_figures(effect.low)}, "
                    f"{significant_figures(effect.high)}] includes 0"
                ),
            )
        numbers = f"{figure}: " + ", ".join(
            f"{s.text()} ({evidence.bias(m)})" for s, m in zip(samples, models, strict=True)
        )
        phrase = (
            f"tau between prior strength and {figure} is {interval_text(effect)} over "
            f"{len(models)} variants"
        )
        return [
            Result(verdict, "over the variants", self.describe(), effect, numbers, reason, phrase)
        ]
