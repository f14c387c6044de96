"""Conditional flow matching in pooled data space (``models/flow_matching.py``)."""

from workflow_scripts.architectures import ArchitectureKind
from workflow_scripts.architectures.unet import UNET_KEYS, grid_divisible_by, unet_grid_multiple

KEYS = {
    "width": UNET_KEYS["width"],
    "levels": UNET_KEYS["levels"],
    "pool": {"type": "integer", "minimum": 1, "default": 2, "description": "pooling factor"},
    "ode_steps": {"type": "integer", "minimum": 1, "default": 10, "description": "per forecast"},
    "method": {"enum": ["euler", "midpoint", "heun2", "heun3", "rk4"], "default": "euler"},
    "upsample": {
        "enum": ["field", "increment"],
        "default": "increment",
        "description": "upsample the sampled frame (the study) or its increment",
    },
}

KINDS = (
    ArchitectureKind(
        name="flow_matching",
        family="field",
        builder="workflow_scripts.models.flow_matching:build_flow_matching_forecaster",
        keys=KEYS,
        loss_terms=("data",),  # its own objective: the physics penalties would be ignored
        grid_problem=grid_divisible_by(lambda a: a.get("pool", 2) * unet_grid_multiple(a)),
    ),
)
