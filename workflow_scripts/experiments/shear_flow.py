"""Experiment 3 (the study's main one): next-frame forecasting of the 2D shear flow.

The data are The Well's ``shear_flow`` files (simulated by the embedded solver or downloaded),
regridded to one Zarr store per split (``data/``, ``rules/data.smk``, ``rules/regrid.smk``).
Five variants forecast the next frame of (tracer, pressure, u_x, u_y) from ``INPUT_FRAMES``;
their architectures are declared in ``workflow_scripts/architectures`` and their training and
scoring live in ``families/forecasting.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from workflow_scripts.architectures import architecture_kind
from workflow_scripts.errors import ConfigError
from workflow_scripts.experiments.card import (
    ExperimentCard,
    Figure,
    FigureInputs,
    ForecastingFamily,
    enabled_models,
)
from workflow_scripts.figures import pareto_figure

#: Frames a forecaster sees; it predicts the one that follows.
INPUT_FRAMES = 4
#: Frames per trajectory of The Well's shear_flow files (the download source).
WELL_SHEAR_FLOW_FRAMES = 200
PREFIX = "experiments.shear_flow"


def check_data(block: dict[str, Any], config: dict[str, Any]) -> None:
    """The trajectory budget of a parameter pair, a regrid target the source grid allows, and
    Slurm worker settings exactly when the regrid's Dask scheduler is slurm."""
    from workflow_scripts.data.sources import INITIAL_CONDITIONS, source_resolution

    data = block["data"]
    trajectories = data["simulate"]["trajectories"]
    if data["source"] == "simulate" and sum(trajectories.values()) > len(INITIAL_CONDITIONS):
        raise ConfigError(
            f"{PREFIX}.data.simulate.trajectories: {sum(trajectories.values())} in all, but a "
            f"(Re, Sc) pair has only {len(INITIAL_CONDITIONS)} initial conditions"
        )
    regrid = data["regrid"]
    if (regrid["scheduler"] == "slurm") != ("slurm" in regrid):
        key = f"{PREFIX}.data.regrid.slurm"
        raise ConfigError(
            f"{key}: required with data.regrid.scheduler: slurm (workers, memory, walltime)"
            if regrid["scheduler"] == "slurm"
            else f"{key}: set, but data.regrid.scheduler is {regrid['scheduler']!r}, not slurm"
        )
    for axis, source_n in zip(("nx", "ny"), source_resolution(data), strict=True):
        target_n = regrid[axis]
        key = f"{PREFIX}.data.regrid.{axis}"
        if target_n > source_n:
            raise ConfigError(f"{key}: {target_n} is finer than the source grid ({source_n})")
        if regrid["method"] == "block_mean" and source_n % target_n:
            raise ConfigError(
                f"{key}: block_mean needs a divisor of the source grid ({source_n}), got {target_n}"
            )


def check_rollout_steps(block: dict[str, Any], config: dict[str, Any]) -> None:
    """A rollout no longer than the test trajectories hold, naming the key that set it."""
    override = "rollout_steps" in block.get("evaluation", {})
    steps = (block.get("evaluation", {}) if override else config["evaluation"])["rollout_steps"]
    if steps is None:
        return
    key = (f"{PREFIX}." if override else "") + "evaluation.rollout_steps"
    data = block["data"]
    if data["source"] == "simulate":
        frames = data["simulate"]["n_snapshots"]
        origin = f"{PREFIX}.data.simulate.n_snapshots gives"
    else:
        frames, origin = WELL_SHEAR_FLOW_FRAMES, "The Well's trajectories hold"
    if steps > frames - INPUT_FRAMES:
        raise ConfigError(
            f"{key}: {steps} steps, but {origin} {frames} frames, enough for "
            f"{frames - INPUT_FRAMES} steps after {INPUT_FRAMES} inputs"
        )


def check_models(block: dict[str, Any], config: dict[str, Any]) -> None:
    """What the forecasters need of the data and the budget, before any job runs."""
    from workflow_scripts.data.sources import splits

    models = enabled_models(block)
    if not models:
        return
    if "training" not in block:
        raise ConfigError(f"{PREFIX}.training: required when models are configured")
    if "batch_size" not in block["training"]:
        raise ConfigError(f"{PREFIX}.training.batch_size: required when models are configured")
    data = block["data"]
    missing = {"train", "valid", "test"} - set(splits(data))
    if missing:
        key = "simulate.trajectories" if data["source"] == "simulate" else "download.splits"
        raise ConfigError(
            f"{PREFIX}.data.{key}: the forecasters need train, valid (the learning curve) and "
            f"test splits; missing: {', '.join(sorted(missing))}"
        )
    nx, ny = data["regrid"]["nx"], data["regrid"]["ny"]
    for model, variant in models.items():
        architecture = variant["architecture"]
        kind = architecture_kind(architecture["kind"], "field")
        problem = kind.grid_problem(architecture, nx, ny) if kind.grid_problem else None
        if problem:
            raise ConfigError(
                f"{PREFIX}.models.{model}.architecture: a {architecture['kind']} {problem}, but "
                f"{PREFIX}.data.regrid is {nx} x {ny}"
            )


def _fields_figure(name: str, what: str) -> Any:
    """A figure of figures/fields.py: f(predictions, table, outputs, title)."""

    def draw(inputs: FigureInputs, outputs: Sequence[Path], card: ExperimentCard) -> None:
        from workflow_scripts.figures import fields

        plot = getattr(fields, name)
        plot(inputs.predictions, inputs.table(), outputs, title=f"{card.title}: {what}")

    return draw


DATA_SCHEMA = yaml.safe_load(
    """
type: object
additionalProperties: false
required: [simulate, regrid]
properties:
  source: {enum: [simulate, download], default: simulate, description: "simulate: the embedded solver; download: The Well's files (network)"}
  simulate:
    type: object
    additionalProperties: false
    properties:
      nx: {type: integer, minimum: 8, default: 64, description: "grid points in x (Lx = 1)"}
      ny: {type: integer, minimum: 8, default: 128, description: "grid points in y (Ly = 2)"}
      reynolds: {type: array, minItems: 1, uniqueItems: true, items: {enum: [10000.0, 50000.0, 100000.0, 500000.0], description: "Reynolds numbers of The Well's shear_flow"}, default: [10000.0]}
      schmidt: {type: array, minItems: 1, uniqueItems: true, items: {enum: [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0], description: "Schmidt numbers of The Well's shear_flow"}, default: [1.0]}
      trajectories:
        type: object
        additionalProperties: false
        description: "trajectories per (Re, Sc) file and split; at most 40 in all (the initial conditions of a pair)"
        properties:
          train: {$ref: "#/$defs/positive_int", default: 4}
          valid: {$ref: "#/$defs/non_negative_int", default: 1}
          test: {$ref: "#/$defs/positive_int", default: 1}
        default: {}
      n_snapshots: {type: integer, minimum: 6, maximum: 200, default: 60, description: "frames per trajectory, t = 0, dt, ...; the dataset has 200"}
      snapshot_dt: {$ref: "#/$defs/positive_number", default: 0.1}
      cfl: {type: number, exclusiveMinimum: 0, maximum: 2.0, default: 0.5}
      dealias: {enum: ["3/2", "2/3"], default: "3/2"}
      hyperviscosity: {$ref: "#/$defs/non_negative_number", default: 0.0, description: "damping rate at the cutoff wavenumber; 0 = off"}
      dtype: {enum: [float32, float64], default: float64}
      seed: {$ref: "#/$defs/non_negative_int", default: 0, description: "shuffles the 40 initial conditions of each pair before they are dealt to the splits"}
      threads: {$ref: "#/$defs/positive_int", default: 1}
  download:
    type: object
    additionalProperties: false
    default: {}
    properties:
      base_url: {type: string, pattern: "^https?://", default: "https://sdsc-users.flatironinstitute.org/~polymathic/data/the_well"}
      dest: {type: string, minLength: 1, default: resources/the_well}
      splits: {type: array, minItems: 1, uniqueItems: true, items: {enum: [train, valid, test]}, default: [train, valid, test]}
      parameter_pairs:
        description: "(Re, Sc) pairs to fetch; null = all 28"
        oneOf:
          - {type: "null"}
          - {type: array, minItems: 1, items: {type: array, minItems: 2, maxItems: 2, prefixItems: [{enum: [10000.0, 50000.0, 100000.0, 500000.0], description: "Reynolds numbers of The Well's shear_flow"}, {enum: [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0], description: "Schmidt numbers of The Well's shear_flow"}]}}
        default: null
      first_only: {type: boolean, default: false, description: "only the first selected pair (a quick look)"}
      retries: {$ref: "#/$defs/non_negative_int", default: 5}
      backoff_s: {$ref: "#/$defs/non_negative_number", default: 2.0}
      timeout_s: {$ref: "#/$defs/positive_number", default: 120.0}
  regrid:
    type: object
    additionalProperties: false
    properties:
      nx: {$ref: "#/$defs/positive_int", default: 32}
      ny: {$ref: "#/$defs/positive_int", default: 64}
      method: {enum: [spectral, block_mean], default: spectral, description: "spectral: Fourier truncation (exact for band-limited periodic fields); block_mean: conservative averaging"}
      time_chunk: {$ref: "#/$defs/positive_int", default: 10, description: "time steps per Zarr chunk (one trajectory x this many frames x the plane)"}
      scheduler: {type: string, pattern: "^(threads|processes|synchronous|slurm|tcp://.+)$", default: threads, description: "dask scheduler: threads, processes, synchronous, slurm (a dask-jobqueue SLURMCluster for the job's duration: data.regrid.slurm), or a dask.distributed address tcp://host:port"}
      threads: {$ref: "#/$defs/positive_int", default: 2, description: "Dask workers of a local scheduler (and Snakemake threads of a regrid job)"}
      slurm:
        type: object
        additionalProperties: false
        description: "the Dask workers of scheduler: slurm, each an sbatch job started when the regrid job starts and cancelled when it ends; required with it, refused without it. The nodes must share the filesystem; their energy is not metered (the cost file's energy_note)"
        required: [workers, memory, walltime]
        properties:
          workers: {$ref: "#/$defs/positive_int", description: "worker jobs (one Dask worker process each)"}
          cores: {$ref: "#/$defs/positive_int", default: 1, description: "threads of a worker (sbatch --cpus-per-task)"}
          memory: {type: string, pattern: "^[0-9]+([.][0-9]+)? ?([KMGT]i?B)$", description: "memory of a worker, a Dask size such as 4GB or 3.5GiB (sbatch --mem)"}
          walltime: {type: string, pattern: "^([0-9]+-)?[0-9]{1,2}:[0-9]{2}:[0-9]{2}$", description: "time limit of a worker job, [D-]HH:MM:SS (sbatch --time): at least the regrid's own, queue wait included"}
          partition: {oneOf: [{type: "null"}, {type: string, minLength: 1}], default: null, description: "the workers' partition (sbatch --partition); null: the cluster's default"}
          account: {oneOf: [{type: "null"}, {type: string, minLength: 1}], default: null, description: "sbatch --account; null: none given"}
"""
)

CARD = ExperimentCard(
    name="shear_flow",
    title="Shear flow",
    description="2D incompressible shear flow with a passive tracer (The Well `shear_flow`): "
    "the data come from the embedded spectral solver (default) or The Well's files, and are "
    "regridded to a Zarr training store per split.",
    family=ForecastingFamily(
        experiment="workflow_scripts.families.forecasting:ShearFlowExperiment"
    ),
    error="vrmse",
    error_label="one-step VRMSE (test split, mean over fields)",
    tracked_error_label="validation one-step MSE (learning curve, z units, 16 windows)",
    data_schema=DATA_SCHEMA,
    required=("data",),  # a data-only run (no models) builds the stores alone
    checks=(check_data, check_rollout_steps, check_models),
    figures={
        "rollout": Figure(
            needs=("summary", "predictions"),
            draw=_fields_figure("plot_rollout", "tracer rollout"),
            caption="Shear flow: the passive tracer of the first test trajectory during an "
            "autoregressive rollout (each forecast fed back as input), at a few rollout steps. "
            "Top row: the data; then each variant, first configured training seed. One shared "
            "colour scale (the data's range). All variants start from the same four true "
            "frames; differences grow with the step as errors compound.",
        ),
        "rollout_error": Figure(
            needs=("summary", "predictions"),
            draw=_fields_figure("plot_rollout_error", "rollout error"),
            caption="Shear flow: VRMSE (The Well's convention, mean over the four fields, "
            "averaged over the test trajectories) of the autoregressive rollout against the "
            "rollout step. Lines: median over training seeds; bands: their min–max. Dotted: "
            "persistence (repeating the last input frame). VRMSE divides by the target's "
            "spatial variance, so it grows large where a field is nearly uniform (a trajectory "
            "that relaminarises has almost constant pressure and v_y).",
        ),
        "pareto_train": Figure(
            needs=("summary",),
            draw=pareto_figure("train_energy_kwh", "training energy", "training energy"),
            caption="Shear flow: one-step VRMSE on the test split (mean over fields) against "
            "training energy, at the same optimiser budget (steps × batch) for every variant. "
            "Small points are seeds, large markers variant medians; the dashed line is the "
            "Pareto front of the medians. Colours: physics prior none / weak / strong.",
        ),
        "pareto_inference": Figure(
            needs=("summary",),
            draw=pareto_figure(
                "inference_energy_kwh_per_prediction",
                "inference energy per forecast step",
                "inference energy",
            ),
            caption="Shear flow: one-step VRMSE on the test split against codecarbon's "
            "inference energy of one forecast step of one four-field frame at the regridded "
            "resolution (repeated under one tracker and divided by the count; the axis says "
            "whether it is a reading or a load-based estimate). Flow matching pays for all its "
            "vector-field evaluations (ODE steps) per forecast. Small points are seeds, large "
            "markers variant medians; dashed: the Pareto front of the medians.",
        ),
        "divergence": Figure(
            needs=("summary", "predictions"),
            draw=_fields_figure("plot_divergence", "divergence"),
            caption="Shear flow: mean \\|∇·u\\| of the forecast velocity (spectral derivative, "
            "physical units) against the rollout step, median over seeds with min–max band. "
            "Dotted: the data's own divergence on the regridded grid (not exactly zero after "
            "regridding and in float32). fno_divfree projects its velocity onto divergence-free "
            "fields, so it sits at round-off.",
        ),
    },
)
