"""The PINN-family network: a fully connected MLP (``models/mlp.py``)."""

from workflow_scripts.architectures import ArchitectureKind

KINDS = (
    ArchitectureKind(
        name="mlp",
        family="pointwise",
        builder="workflow_scripts.models.mlp:build_mlp",
        keys={
            "width": {"type": "integer", "minimum": 1, "default": 32},
            "depth": {"type": "integer", "minimum": 1, "default": 3},
            "activation": {"enum": ["tanh", "snake"], "default": "tanh"},
            "snake_frequency": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
        },
        # The Snake frequency means nothing to tanh: refused there, not silently ignored.
        unused_keys=lambda a: () if a.get("activation") == "snake" else ("snake_frequency",),
    ),
)
