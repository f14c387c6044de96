"""The training stage, the same for every experiment and variant.

A fixed budget of optimiser steps (equal across the variants of an experiment, so energy to
reach an accuracy is comparable), an optional L-BFGS phase, an optional early stop at a
target validation error, and a learning curve of validation error against cumulative training
energy. Training never reads the test set; what the in-loop validation spends is measured
apart and left out of the training totals.

One concern a module, each importing only those below it (pyproject.toml's contracts):

- ``stage``: one (variant, seed) from data to ``train.json`` (:func:`train_variant`)
- ``loops``: the Adam-family and L-BFGS loops (:func:`fit`)
- ``checkpoints``: an interrupted run's state (model, optimiser, RNGs), saved and resumed
- ``learning_curve``: the curve's rows, the validation's spend measured apart
- ``divergence``: non-finite losses, errors or parameters stop the run
- ``optimisers``: the weighted loss, optimiser, learning-rate schedule and autocast
"""

from workflow_scripts.training.checkpoints import checkpoint_path, tensor_state
from workflow_scripts.training.divergence import TrainingDiverged
from workflow_scripts.training.loops import fit
from workflow_scripts.training.optimisers import (
    learning_rate_factor,
    make_optimizer,
    weighted_loss,
)
from workflow_scripts.training.stage import TrainOutputs, train_variant

__all__ = [
    "TrainOutputs",
    "TrainingDiverged",
    "checkpoint_path",
    "fit",
    "learning_rate_factor",
    "make_optimizer",
    "tensor_state",
    "train_variant",
    "weighted_loss",
]
