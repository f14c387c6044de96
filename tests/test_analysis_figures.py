"""Smoke tests: every lifecycle figure draws from small synthetic tables, through the library
and through the rule scripts (tables written to CSV and read back)."""

from __future__ import annotations

import runpy
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from snakemake.iocontainers import Namedlist
from test_analysis_claims import SHEAR_FLOW, UNET_WIDTHS
from test_analysis_tables import OSCILLATOR, analyzed, synthetic_histories, synthetic_summary

from workflow_scripts.analysis import TABLES
from workflow_scripts.experiments import experiment_card
from workflow_scripts.figures import lifecycle

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow_scripts" / "scripts"


@pytest.fixture(scope="module")
def tables() -> dict[str, dict[str, pd.DataFrame]]:
    oscillator = synthetic_summary("oscillator", OSCILLATOR, seeds=3)
    shear = synthetic_summary("shear_flow", SHEAR_FLOW, seeds=3, points=UNET_WIDTHS)
    return {
        "oscillator": analyzed(oscillator, synthetic_histories(oscillator)),
        "shear_flow": analyzed(shear, synthetic_histories(shear)),
    }


def _written(outputs: list[Path]) -> None:
    for path in outputs:
        assert path.stat().st_size > 1000, path


@pytest.mark.parametrize("figure", lifecycle.FIGURES)
def test_each_figure_draws_png_and_pdf(tables, figure, tmp_path) -> None:
    outputs = [tmp_path / f"{figure}.png", tmp_path / f"{figure}.pdf"]
    lifecycle.draw_experiment_figure(
        figure, experiment_card("shear_flow"), tables["shear_flow"], outputs
    )
    _written(outputs)


def test_figures_say_estimate_or_reading_on_energy_axes(tables, tmp_path, monkeypatch) -> None:
    labels = []

    def keep_labels(figure, outputs):  # the labels only: saving is tested above
        labels.extend(axes.get_xlabel() for axes in figure.axes)
        plt.close(figure)

    monkeypatch.setattr(lifecycle, "save_figure", keep_labels)
    for figure in lifecycle.FIGURES:
        lifecycle.draw_experiment_figure(
            figure,
            experiment_card("oscillator"),
            tables["oscillator"],
            [tmp_path / f"{figure}.png"],
        )
    energy_axes = [label for label in labels if "energy" in label]
    assert len(energy_axes) == 3 and all("estimate" in label for label in energy_axes)
    assert any("number of predictions" in label for label in labels)


def test_overview_draws_a_panel_per_experiment(tables, tmp_path) -> None:
    outputs = [tmp_path / "overview.png", tmp_path / "overview.pdf"]
    lifecycle.draw_overview(
        {name: t["fronts"] for name, t in tables.items()},
        {name: t["runs"] for name, t in tables.items()},
        outputs,
        {name: experiment_card(name) for name in tables},
    )
    _written(outputs)


def test_unknown_figure_is_refused(tables, tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown lifecycle figure"):
        lifecycle.draw_experiment_figure(
            "nope", experiment_card("oscillator"), tables["oscillator"], []
        )


class _Job:
    """What a rule script sees as ``snakemake``, with Snakemake's own named lists."""

    def __init__(self, tmp_path: Path, **sections: dict) -> None:
        self.log = [str(tmp_path / "job.log")]
        # In this process (the server cannot import it); the oscillator configured as its own card.
        self.config = {"warm_worker": False, "experiments": {"oscillator": {}}}
        for name in ("input", "output", "params"):
            setattr(self, name, Namedlist(fromdict=sections.get(name, {})))


def _run_script(name: str, job: _Job) -> None:
    runpy.run_path(
        str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": job}, run_name="__main__"
    )


def test_rule_scripts_write_tables_claims_and_figures(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPTS))  # as Snakemake does for a rule script
    summary = synthetic_summary("oscillator", OSCILLATOR, seeds=3)
    summary.to_csv(tmp_path / "summary.csv", index=False)
    histories = synthetic_histories(summary)
    paths = []
    for (model, seed), run in histories.groupby(["model", "seed"]):
        path = tmp_path / "oscillator" / model / f"seed{seed}" / "history.csv"
        path.parent.mkdir(parents=True)
        run.drop(columns=["experiment", "model", "point", "seed"]).to_csv(path, index=False)
        paths.append(str(path))
    analysis = tmp_path / "analysis"
    outputs = {name: str(analysis / f"{name}.csv") for name in TABLES}
    job = _Job(
        tmp_path,
        input={"summary": str(tmp_path / "summary.csv"), "histories": paths},
        output=outputs,
        params={
            "error": "test_mse",
            "relative_error": "test_rel_l2",
            "target_levels": None,
            "ecol2_alpha": 10.0,
            "ecol2_beta_per_g": None,
        },
    )
    _run_script("analyze", job)
    assert len(pd.read_csv(outputs["runs"])) == len(summary)
    assert not pd.read_csv(outputs["energy_to_target"]).empty  # the learning curves were read

    claims = tmp_path / "claims.csv"
    job = _Job(
        tmp_path,
        input={name: [outputs[name]] for name in ("runs", "statistics", "run_curves")},
        output={"claims": str(claims)},
        params={
            "experiments": ["oscillator"],
            "plateau_tolerance": 0.1,
            "significance_level": 0.05,
        },
    )
    _run_script("claims", job)
    table = pd.read_csv(claims, dtype={"claim_id": str}).drop_duplicates(["claim_id", "experiment"])
    verdicts = table.set_index(["claim_id", "experiment"])["claim_verdict"]
    assert verdicts[("1", "oscillator")] == "supported"
    assert ("3", "shear_flow") not in verdicts  # not run here: no row, no verdict

    # One script for every figure rule: a trade-off figure from the tables, a card's from the
    # summary.
    card_inputs = {"summary": str(tmp_path / "summary.csv")}
    for figure, inputs in (("energy_to_target", outputs), ("pareto", card_inputs)):
        drawn = tmp_path / "figures" / f"{figure}.png"
        job = _Job(
            tmp_path,
            input=inputs,
            output={"png": str(drawn)},
            params={"figure": figure, "experiment": "oscillator"},
        )
        _run_script("figure", job)
        _written([drawn])

    overview = tmp_path / "figures" / "overview.png"
    job = _Job(
        tmp_path,
        input={"fronts": [outputs["fronts"]], "runs": [outputs["runs"]]},
        output={"png": str(overview)},
        params={"experiments": ["oscillator"]},
    )
    _run_script("figure_overview", job)
    _written([overview])


def test_figures_draw_from_one_seed_and_without_learning_curves(tmp_path) -> None:
    summary = synthetic_summary("oscillator", OSCILLATOR, seeds=1)
    tables = analyzed(summary)  # no histories: empty target tables
    assert tables["energy_to_target"].empty
    for figure in lifecycle.FIGURES:
        outputs = [tmp_path / f"{figure}.png"]
        lifecycle.draw_experiment_figure(figure, experiment_card("oscillator"), tables, outputs)
        _written(outputs)


def test_two_sweeps_of_one_variant_are_two_lines_through_its_base(tmp_path, monkeypatch) -> None:
    """A variant swept along its width and its budget gets a line per swept setting, each
    through the base point, not one line joining the points of both."""
    summary = synthetic_summary(
        "shear_flow", SHEAR_FLOW, seeds=3, points={"unet": {"width4": 0.5, "steps250": 0.7}}
    )
    summary.loc[summary["point"] == "steps250", "sweep_key"] = "training.steps"
    tables = analyzed(summary, synthetic_histories(summary))
    drawn = []

    def keep_lines(figure, outputs):
        drawn.extend(line.get_label() for line in figure.axes[0].containers)
        plt.close(figure)

    monkeypatch.setattr(lifecycle, "save_figure", keep_lines)
    lifecycle.draw_experiment_figure(
        "sweep", experiment_card("shear_flow"), tables, [tmp_path / "sweep.png"]
    )
    unet = sorted(label for label in drawn if "architecture.width" in label or "steps" in label)
    assert len(unet) == 2
    assert all(label.endswith("2 points)") for label in unet), unet


def test_a_run_without_any_sweep_draws_each_variant_as_one_line(tmp_path) -> None:
    """A config with no sweep writes no sweep_key column at all: the sweep figure still draws
    (each variant its base point)."""
    summary = synthetic_summary("oscillator", OSCILLATOR, seeds=3).drop(columns="sweep_key")
    tables = analyzed(summary, synthetic_histories(summary))
    assert "sweep_key" not in tables["runs"]
    outputs = [tmp_path / "sweep.png"]
    lifecycle.draw_experiment_figure("sweep", experiment_card("oscillator"), tables, outputs)
    _written(outputs)
