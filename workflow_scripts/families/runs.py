"""Opening a run of an experiment: seeding, threads, its data, a trained model.

Shared by the train and evaluate stages, so that evaluation depends on the experiments, not on
the training module.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from workflow_scripts.experiments import experiment_class
from workflow_scripts.experiments.base import VariantSpec
from workflow_scripts.families.base import Experiment
from workflow_scripts.files import read_intermediate
from workflow_scripts.runtime import DTYPES, resolve_device, seed_everything, set_threads


def open_experiment(
    spec: VariantSpec, *, seed: int, data_path: Path, device_name: str, threads: int | None = None
) -> Experiment:
    """Seed, set threads and load the experiment's data on the configured device.

    ``threads``: what the scheduler granted (Snakemake scales a rule's threads down to
    ``--cores``); the variant's ``training.threads`` when not given. Data that cannot be read
    is an :class:`~workflow_scripts.files.IntermediateFileError` naming it.
    """
    device = resolve_device(device_name)
    seed_everything(seed)
    set_threads(threads or spec.training["threads"])
    experiment = experiment_class(spec.card or spec.experiment)
    dtype = DTYPES[spec.training["dtype"]]
    return read_intermediate(data_path, lambda path: experiment(path, device, dtype))


def load_model(experiment: Experiment, checkpoint: Path, spec: VariantSpec) -> nn.Module:
    """The trained model of ``checkpoint`` (a model.pt), tensors only (weights_only)."""
    model = experiment.build_model(spec)

    def load(path: Path) -> dict:
        return torch.load(path, map_location=experiment.device, weights_only=True)["state_dict"]

    model.load_state_dict(read_intermediate(checkpoint, load))
    model.eval()
    return model
