"""Registry of experiments: name -> (dataset maker, Experiment class), imported lazily."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import xarray as xr

from workflow_scripts.experiments.base import Experiment

# name -> (module, dataset maker, experiment class). Adding an experiment is one line here.
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "oscillator": ("oscillator", "make_oscillator_dataset", "OscillatorExperiment"),
    "burgers": ("burgers", "make_burgers_dataset", "BurgersExperiment"),
    "shear_flow": ("shear_flow", "make_shear_flow_dataset", "ShearFlowExperiment"),
}


def _lookup(name: str, index: int) -> Any:
    if name not in _REGISTRY:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    module = importlib.import_module(f"workflow_scripts.experiments.{_REGISTRY[name][0]}")
    return getattr(module, _REGISTRY[name][index])


def dataset_maker(name: str) -> Callable[[dict[str, Any]], xr.Dataset]:
    return _lookup(name, 1)


def experiment_class(name: str) -> type[Experiment]:
    return _lookup(name, 2)
