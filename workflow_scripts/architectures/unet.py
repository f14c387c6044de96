"""Convolutional U-Net forecasters (``models/unet.py``): no physics prior, or soft penalties."""

from workflow_scripts.architectures import ArchitectureKind

UNET_KEYS = {
    "width": {"type": "integer", "minimum": 1, "default": 16, "description": "first level"},
    "levels": {"type": "integer", "minimum": 0, "default": 2, "description": "each halves x, y"},
    "residual": {"type": "boolean", "default": True, "description": "predict the increment"},
}


def unet_grid_multiple(architecture: dict) -> int:
    """Each U-Net level halves the grid."""
    return 2 ** architecture.get("levels", UNET_KEYS["levels"]["default"])


def grid_divisible_by(multiple) -> object:
    """A ``grid_problem`` check: both grid sizes must divide by ``multiple(architecture)``."""

    def problem(architecture: dict, nx: int, ny: int) -> str | None:
        factor = multiple(architecture)
        if nx % factor or ny % factor:
            return f"needs a grid divisible by {factor} (levels/pool)"
        return None

    return problem


KINDS = tuple(
    ArchitectureKind(
        name=name,
        family="field",
        builder="workflow_scripts.models.unet:build_unet_forecaster",
        keys=UNET_KEYS,
        grid_problem=grid_divisible_by(unet_grid_multiple),
    )
    for name in ("unet", "unet_physloss")  # they differ only in their loss weights
)
