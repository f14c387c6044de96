"""The study's claims, declared as data, split into their parts and checked by code against
each experiment's per-run table, statistics and learning curves.

A claim is made of parts (an accuracy part such as "far better", a cost part such as "at lower
training carbon"), each one or more comparisons (comparisons.py); a part marked
``decides=False`` (cost at an equal step budget) is shown beside the others and never enters
a verdict. Each comparison gives a result per pair of variants compared; then:
- a pair within a part: supported if some comparison supports it and none contradicts it,
  contradicted if the reverse, inconclusive otherwise (the comparisons disagree, or none
  decides);
- a part: contradicted if any pair is, supported if every pair is, inconclusive otherwise;
- a claim: contradicted if any deciding part is, supported if every one is, else inconclusive.
A claim's sentence gives each deciding part's headline comparison and, where a part's
comparisons point both ways (one supports, another contradicts), every decided one that
differs from the headline, each with its verdict.

Each comparison reports its effect (ratio of medians, or Kendall's tau) with a bootstrap
interval and an exact one-sided p-value; the p-values of a claim's deciding comparisons are
Holm-adjusted together (``p_holm``). ``significant`` is True only where the comparison's
verdict is supported and its ``p_holm`` is at or below the significance level: the p-value is
one-sided towards the claim, so it cannot mark a contradiction, and an inconclusive verdict
(the interval reaches past no effect, or the sides each dominate somewhere) is not made
significant by a small p of its witness; False otherwise, and empty (NaN) where there is no
adjusted p (no effect computed, or a secondary part, outside the Holm family). Verdicts come
from the intervals, not the p-values: with 3 seeds a side
the smallest exact p is 1/20 = 0.05, so after Holm no comparison of a claim with two or more
can be significant; a verdict then says the direction held in every seed, and ``p_holm`` says
how little that is at this seed count (:func:`seed_limits`).

Carbon comparisons use the CO2 columns, or training energy along the learning curves: CO2 is
energy x PUE x grid intensity, one factor per experiment, so both order runs alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from workflow_scripts.analysis.comparisons import (
    CONTRADICTED,
    INCONCLUSIVE,
    MATCHED,
    SUPPORTED,
    Lower,
    RankCorrelation,
    Result,
    missing,
)
from workflow_scripts.analysis.effect_sizes import holm, smallest_p
from workflow_scripts.analysis.evidence import PLATEAU, Evidence, Missing
from workflow_scripts.analysis.matched_cost import CurveCost, FrontDominance

Comparison = Lower | RankCorrelation | FrontDominance | CurveCost
DEFAULT_SIGNIFICANCE = 0.05
DEFAULT_PLATEAU_TOLERANCE = 0.1
COLUMNS = [
    "claim_id",
    "experiment",
    "claim",
    "claim_verdict",
    "sentence",
    "part",
    "decides",
    "part_verdict",
    "comparison",
    "pair",
    "verdict",
    "statistic",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    # True: supported and p_holm <= the significance level; False: not; NaN: no p_holm.
    "significant",
    "n_a",
    "n_b",
    "numbers",
    "reason",
    "source",
]


@dataclass(frozen=True)
class Part:
    name: str
    comparisons: tuple[Comparison, ...]
    decides: bool = True


@dataclass(frozen=True)
class Claim:
    id: str
    experiment: str
    text: str
    source: str
    parts: tuple[Part, ...]


_TRAIN_CO2 = "train_co2_g"
_INFERENCE_CO2 = "inference_co2_g_per_prediction"
_FNOS = ("fno", "fno_divfree")
_UNETS = ("unet", "unet_physloss")
_V1 = "arXiv 2509.24517 v1, findings reported (paper.md)"
_V2 = "arXiv 2509.24517 v2, claim (paper.md)"


def _equal_budget(a: tuple[str, ...] | None, b: tuple[str, ...] | None = None) -> Part:
    return Part(
        "training CO2 at an equal step budget (secondary: a physics step costs more by "
        "construction)",
        (Lower(_TRAIN_CO2, a, b, at="base"),),
        decides=False,
    )


CLAIMS: tuple[Claim, ...] = (
    *(
        Claim(
            "1",
            experiment,
            "The PINN extrapolates far better (>= 10x lower extrapolation MSE) than the MLP, at "
            "lower training carbon.",
            _V1 + ": MSE 0.014 vs 1.9e-4 undamped, 0.114 vs 5.4e-5 damped; CO2 about 3x lower",
            (
                Part(
                    "accuracy: far better extrapolation",
                    (Lower("test_extrap_mse", ("pinn",), ("mlp",), factor=10.0),),
                ),
                Part(
                    "cost: lower training carbon at matched accuracy",
                    (
                        FrontDominance("test_extrap_mse", _TRAIN_CO2, ("pinn",), ("mlp",)),
                        CurveCost(("pinn",), ("mlp",)),
                    ),
                ),
                _equal_budget(("pinn",), ("mlp",)),
            ),
        )
        # The study's two cases: damped (the card's default) and undamped (config/paper.yaml)
        for experiment in ("oscillator", "oscillator_undamped")
    ),
    Claim(
        "2",
        "burgers",
        "The constrained C-PINN (pinn_hard) gives the best error; D-PINN (pinn_data) the best "
        "training carbon at its best error.",
        _V1 + ": C-PINN ~1.6e-10 MSE",
        (
            Part("accuracy: C-PINN the best error", (Lower("test_mse", ("pinn_hard",)),)),
            Part(
                "cost: D-PINN the least training energy to its plateau (its best error)",
                (Lower(PLATEAU, ("pinn_data",), at="base"),),
            ),
            _equal_budget(("pinn_data",)),
        ),
    ),
    Claim(
        "3",
        "shear_flow",
        "The U-Nets are the most accurate in one-step error (VRMSE).",
        _V1 + ": training, U-Nets most accurate",
        (Part("accuracy: U-Nets the lowest VRMSE", (Lower("vrmse", _UNETS),)),),
    ),
    Claim(
        "4",
        "shear_flow",
        "The FNOs have the lowest training carbon.",
        _V1 + ": FNOs lowest training carbon",
        (
            Part(
                "cost: FNOs the lowest training carbon at matched accuracy",
                (FrontDominance("vrmse", _TRAIN_CO2, _FNOS), CurveCost(_FNOS)),
            ),
            _equal_budget(_FNOS),
        ),
    ),
    Claim(
        "5",
        "shear_flow",
        "FNO and flow matching cost more per forecast than the U-Nets; flow matching the most.",
        _V1 + ": inference, flow matching the most (10 ODE steps per frame)",
        (
            Part(
                "cost per forecast: FNOs and flow matching above every U-Net",
                (
                    Lower(
                        _INFERENCE_CO2, _UNETS, (*_FNOS, "flow_matching"), "base", every_pair=True
                    ),
                ),
            ),
            Part(
                "cost per forecast: flow matching the most",
                (Lower(_INFERENCE_CO2, None, ("flow_matching",), "base", every_pair=True),),
            ),
        ),
    ),
    *(
        Claim(
            "6",
            experiment,
            "Stronger physics priors have lower training footprints, and this does not carry "
            "over to inference.",
            _V2 + ": the training advantage does not straightforwardly extend to inference",
            (
                Part(
                    "training: stronger prior, less training energy at matched accuracy",
                    (RankCorrelation(MATCHED, expect_negative=True),),
                ),
                Part(
                    "inference: no such advantage per forecast",
                    (RankCorrelation(_INFERENCE_CO2, expect_negative=False),),
                ),
                Part(
                    "training CO2 at an equal step budget (secondary)",
                    (RankCorrelation(_TRAIN_CO2, expect_negative=True),),
                    decides=False,
                ),
            ),
        )
        for experiment in ("oscillator", "burgers", "shear_flow")
    ),
    Claim(
        "7",
        "shear_flow",
        "A physics prior reaches a given error at less training carbon than scaling up the "
        "data-driven model (the U-Net's width sweep).",
        _V1 + " and v2 title: priors trade accuracy against carbon better than scaling up",
        (
            Part(
                "cost at matched accuracy: the priors' anytime fronts (learning curves) "
                "against the U-Net's widths",
                (FrontDominance(None, _TRAIN_CO2, None, ("unet",), anytime=True, swept="width"),),
            ),
            Part(
                "the same with each prior at its one base point (test VRMSE; secondary)",
                (FrontDominance("vrmse", _TRAIN_CO2, None, ("unet",), swept="width"),),
                decides=False,
            ),
        ),
    ),
)


def _join(verdicts: Sequence[str]) -> str:
    """Comparisons of one pair: evidence one way and none the other decides."""
    found = set(verdicts)
    if SUPPORTED in found and CONTRADICTED not in found:
        return SUPPORTED
    if CONTRADICTED in found and SUPPORTED not in found:
        return CONTRADICTED
    return INCONCLUSIVE


def _all(verdicts: Sequence[str]) -> str:
    """Pairs of a part, parts of a claim: every one must hold, one failure contradicts."""
    found = set(verdicts)
    if CONTRADICTED in found:
        return CONTRADICTED
    return SUPPORTED if found == {SUPPORTED} else INCONCLUSIVE


def part_verdict(results: Sequence[Result]) -> str:
    pairs: dict[str, list[str]] = {}
    for result in results:
        pairs.setdefault(result.pair, []).append(result.verdict)
    return _all([_join(verdicts) for verdicts in pairs.values()])


def _significant(verdict: str, p_holm: float, level: float) -> bool | float:
    """The ``significant`` column (module docstring): NaN without an adjusted p, else True
    only for a supported verdict whose adjusted p is at most ``level``."""
    if math.isnan(p_holm):
        return math.nan
    return verdict == SUPPORTED and p_holm <= level


def _headline(results: Sequence[Result], verdict: str) -> Result:
    """The result that says the part's verdict best: for a supported part the closest call
    (the rival it beats by the least), else the first result with the part's verdict."""
    matching = [r for r in results if r.verdict == verdict] or list(results)
    if verdict != SUPPORTED:
        return matching[0]
    first = [r for r in matching if r.comparison == matching[0].comparison]
    return min(first, key=lambda r: r.effect.size if r.effect else 0.0)


_SAYS = {SUPPORTED: "which supports the claim", CONTRADICTED: "which contradicts the claim"}


def _part_phrase(results: Sequence[Result], verdict: str) -> str:
    """A part in words: its headline result, and where the part's comparisons point both
    ways (one supports, another contradicts), every decided one that differs from the
    headline too, each with its verdict, so the sentence does not read as if all agreed."""
    head = _headline(results, verdict)
    found = {r.verdict for r in results}
    if not {SUPPORTED, CONTRADICTED} <= found:
        return head.phrase
    others = [r for r in results if r.verdict in _SAYS and r.verdict != head.verdict]
    said = _SAYS.get(head.verdict, "which decides nothing")
    return f"{head.phrase}, {said}, but " + ", and ".join(
        f"{r.phrase}, {_SAYS[r.verdict]}" for r in others
    )


def _rows(claim: Claim, evidence: Evidence, significance: float) -> list[dict]:
    head = {"claim_id": claim.id, "experiment": claim.experiment, "claim": claim.text}
    judged = []
    for part in claim.parts:
        results = []
        for comparison in part.comparisons:
            try:
                results += comparison.evaluate(evidence)
            except Missing as what:
                results.append(missing(comparison.describe(), what))
        judged.append((part, results, part_verdict(results)))
    deciding = [(p, rs, v) for p, rs, v in judged if p.decides]
    verdict = _all([v for _, _, v in deciding])
    phrases = [_part_phrase(rs, v) for _, rs, v in deciding]
    sentence = f"{verdict.capitalize()}: " + "; ".join(dict.fromkeys(phrases)) + "."
    p_values = [r.effect.p_value if r.effect else math.nan for _, rs, _ in deciding for r in rs]
    adjusted = iter(holm(p_values))
    rows = []
    for part, results, part_says in judged:
        for result in results:
            effect = result.effect
            p_holm = next(adjusted) if part.decides else math.nan
            rows.append(
                {
                    **head,
                    "claim_verdict": verdict,
                    "sentence": sentence,
                    "part": part.name,
                    "decides": part.decides,
                    "part_verdict": part_says,
                    "comparison": result.comparison,
                    "pair": result.pair,
                    "verdict": result.verdict,
                    "statistic": effect.statistic if effect else "",
                    "estimate": effect.estimate if effect else math.nan,
                    "ci_low": effect.low if effect else math.nan,
                    "ci_high": effect.high if effect else math.nan,
                    "p_value": effect.p_value if effect else math.nan,
                    "p_holm": p_holm,
                    "significant": _significant(result.verdict, p_holm, significance),
                    "n_a": effect.n_a if effect else math.nan,
                    "n_b": effect.n_b if effect else math.nan,
                    "numbers": result.numbers,
                    "reason": result.reason,
                    "source": claim.source,
                }
            )
    return rows


def check_claims(
    runs: Mapping[str, pd.DataFrame],
    statistics: Mapping[str, pd.DataFrame],
    curves: Mapping[str, pd.DataFrame] | None = None,
    *,
    tracked_error: str,
    plateau_tolerance: float = DEFAULT_PLATEAU_TOLERANCE,
    significance: float = DEFAULT_SIGNIFICANCE,
    seed: int = 0,
    claims: Sequence[Claim] = CLAIMS,
) -> pd.DataFrame:
    """The claims table: one row per comparison of each part of each (claim, experiment),
    from each experiment's runs.csv, statistics.csv and run_curves.csv (by experiment). A
    claim whose experiment has no runs here (not in this run's configuration) has no row: it
    is not evidence either way; :func:`not_checked` names it for the report."""
    evidence = {
        name: Evidence(
            name,
            table,
            statistics[name],
            (curves or {}).get(name),
            tracked_error=tracked_error,
            plateau_tolerance=plateau_tolerance,
            seed=seed,
        )
        for name, table in runs.items()
        if not table.empty
    }
    rows = [
        row
        for claim in claims
        if claim.experiment in evidence
        for row in _rows(claim, evidence[claim.experiment], significance)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def not_checked(claims: pd.DataFrame, declared: Sequence[Claim] = CLAIMS) -> str:
    """The declared claims the claims table has no row of (their experiment not run in this
    configuration), in words; empty where every one was checked."""
    checked = set(zip(claims["claim_id"].astype(str), claims["experiment"], strict=True))
    absent = [c for c in declared if (c.id, c.experiment) not in checked]
    if not absent:
        return ""
    return (
        "Not checked, their experiment not being run in this configuration (no rows in "
        "claims.csv, no verdict): "
        + ", ".join(f"claim {c.id} ({c.experiment})" for c in absent)
        + "."
    )


def seed_limits(claims: pd.DataFrame, significance: float = DEFAULT_SIGNIFICANCE) -> str:
    """What the claims table's seed counts let its p-values show, in words."""
    pairs = claims.dropna(subset=["n_a", "n_b"])
    pairs = pairs[pairs["statistic"] == "ratio of medians"]
    if pairs.empty:
        return "No comparison had seeds to test."
    n_a, n_b = (int(v) for v in pairs[["n_a", "n_b"]].min())
    if min(n_a, n_b) < 2:
        return "One seed: no interval, and no verdict other than inconclusive."
    floor = smallest_p(n_a, n_b)
    decided = claims[claims["decides"].astype(bool)].groupby(["claim_id", "experiment"]).size()
    family = int(decided.max()) if len(decided) else 1
    text = (
        f"With {n_a} vs {n_b} seeds the smallest exact one-sided p-value is "
        f"1/{round(1 / floor)} = {floor:.3g}, reached only when every seed of one side lies "
        "beyond every seed of the other; that is also when a ratio's bootstrap interval "
        "excludes 1, so a verdict says the direction held in every seed."
    )
    if family * floor > significance:
        text += (
            f" Holm's adjustment multiplies the smallest p by up to {family} (the comparisons "
            f"of one claim): no comparison of a claim with {math.floor(significance / floor) + 1} "
            f"or more can reach {significance:g}, so these verdicts are not significance tests; "
            "with more seeds they can be (5 a side: smallest p 1/252)."
        )
    return text
