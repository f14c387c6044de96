"""What an experiment declares about itself, once, in its own module: :class:`ExperimentCard`.

The workflow (rules/common.smk), the config check (config.py) and the figure rules read the
cards; nothing outside an experiment's module tests its name. Cards are torch-free (parsing the
Snakefile stays fast): heavy code is named as ``"module:attribute"`` or imported inside the
functions a card holds, which only jobs call.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

#: Inputs a figure may read: the summary table, every run's history.csv / predictions.nc,
#: and the experiment's generated dataset.
FIGURE_INPUTS = ("summary", "histories", "predictions", "dataset")


def enabled_models(block: Mapping[str, Any]) -> dict[str, Any]:
    """The variants of an experiment's config block that are not switched off."""
    models = block.get("models", {})
    return {name: variant for name, variant in models.items() if variant.get("enabled", True)}


@dataclasses.dataclass(frozen=True)
class FigureInputs:
    """The files a figure rule hands to its drawing function."""

    summary: Path
    histories: Sequence[Path] = ()
    predictions: Sequence[Path] = ()
    dataset: Path | None = None

    def table(self) -> Any:
        """The summary's runs of the variants as configured (sweep points aside)."""
        import pandas as pd

        table = pd.read_csv(self.summary)
        return table[table["point"] == "base"] if "point" in table else table


#: draw(inputs, outputs, card): writes every path of ``outputs`` (PNG and PDF).
Draw = Callable[[FigureInputs, Sequence[Path], "ExperimentCard"], None]


@dataclasses.dataclass(frozen=True)
class Figure:
    """One figure: what it reads, the function that draws it, and its report caption."""

    needs: tuple[str, ...]
    draw: Draw
    caption: str

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(FIGURE_INPUTS)
        if unknown or "summary" not in self.needs:
            raise ValueError(f"a figure needs 'summary' and only {FIGURE_INPUTS}; got {self.needs}")


@dataclasses.dataclass(frozen=True)
class PointwiseFamily:
    """A PINN-family problem: a network u(coordinates) trained point by point.

    ``physics(data settings)`` returns an object with ``residual(inputs, u)`` (the equation's
    residual at inputs requiring grad) and ``constrain(inputs, raw)`` (the initial/boundary
    conditions built into the output: the strong prior). ``make_dataset(data settings)`` returns
    the point sets (``data/pointwise.py``'s ``pointwise_dataset``), written by generate_dataset.
    ``prediction_unit(dataset attrs)`` says what one timed prediction is.
    """

    coordinates: tuple[str, ...]
    make_dataset: Callable[[dict[str, Any]], Any]
    physics: Callable[[dict[str, Any]], Any]
    prediction_unit: Callable[[dict[str, Any]], str]
    experiment: str = "workflow_scripts.families.pointwise:PointwiseExperiment"
    architectures: str = "pointwise"
    default_architecture: str = "mlp"
    models_schema: str = "#/$defs/pointwise_models"
    data: Literal["generated", "regridded"] = "generated"
    #: Autoregressive rollouts (evaluation.rollout_steps applies): never for pointwise problems.
    rolls_out: bool = False


@dataclasses.dataclass(frozen=True)
class ForecastingFamily:
    """Next-frame forecasting of fields from The Well-format stores made by the regrid stage."""

    experiment: str
    architectures: str = "field"
    default_architecture: str | None = None  # a forecaster names its kind
    models_schema: str = "#/$defs/field_models"
    data: Literal["generated", "regridded"] = "regridded"
    rolls_out: bool = True


Family = PointwiseFamily | ForecastingFamily
#: check(experiment block, whole config): raises ConfigError naming the key; called only for
#: an enabled experiment, after the schema filled its defaults.
Check = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class ExperimentCard:
    """Everything the workflow needs to know of one experiment."""

    name: str
    title: str
    family: Family
    #: The summary column of its test error, and what that error measures (axis labels).
    error: str
    error_label: str
    #: The learning curve's error (history.csv's ``val_mse``, on the validation set).
    tracked_error_label: str
    #: JSON Schema of its ``data`` block (the rest of its config block is common).
    data_schema: Mapping[str, Any]
    figures: Mapping[str, Figure] = dataclasses.field(default_factory=dict)
    #: Cross-key config checks JSON Schema cannot express.
    checks: tuple[Check, ...] = ()
    #: What its config block requires beyond the common keys.
    required: tuple[str, ...] = ("data", "training", "models")
    description: str = ""
    #: The relative L2 error (EcoL2's R).
    relative_error: str = "test_rel_l2"

    def config_schema(self) -> dict[str, Any]:
        """The JSON Schema of ``experiments.<name>``, in config/schema.yaml's ``$defs``."""
        seeds = {"$ref": "#/$defs/seeds"}
        return {
            "description": self.description or self.title,
            "type": "object",
            "additionalProperties": False,
            "required": list(self.required),
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                # The top-level key's values; no default here, so that key stays the default.
                "device": {
                    "$ref": "#/properties/device",
                    "description": "this experiment's device (its training, evaluation and "
                    "simulation jobs); unset: the top-level device",
                },
                "seeds": seeds,
                "data": dict(self.data_schema),
                "training": {"$ref": "#/$defs/training"},
                "evaluation": {"$ref": "#/$defs/evaluation_override"},
                "models": {"$ref": self.family.models_schema},
                "sweeps": {"$ref": "#/$defs/sweeps"},
            },
        }

    def reused_as(self, name: str, title: str) -> ExperimentCard:
        """This card for a second configured experiment (``experiments.<name>.card``, e.g. the
        oscillator with other data settings): its name and title, in the figure captions too,
        which open with the title."""
        figures = {
            figure: dataclasses.replace(
                declared, caption=title + declared.caption.removeprefix(self.title)
            )
            if declared.caption.startswith(self.title)
            else declared
            for figure, declared in self.figures.items()
        }
        return dataclasses.replace(self, name=name, title=title, figures=figures)

    def experiment_factory(self) -> Callable[..., Any]:
        """``factory(data_path, device, dtype)`` -> the family's Experiment (imports torch)."""
        module, _, name = self.family.experiment.partition(":")
        cls = getattr(importlib.import_module(module), name)
        return lambda data_path, device, dtype: cls(self, data_path, device, dtype)
