"""Fourier neural operators (``models/fno.py``): spectral and periodic, the strong prior."""

from workflow_scripts.architectures import ArchitectureKind

FNO_KEYS = {
    "width": {"type": "integer", "minimum": 1, "default": 16, "description": "hidden channels"},
    "layers": {"type": "integer", "minimum": 1, "default": 4, "description": "Fourier blocks"},
    "modes": {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {"type": "integer", "minimum": 1},
        "default": [8, 16],
        "description": "Fourier modes kept (x, y)",
    },
    "residual": {"type": "boolean", "default": True, "description": "predict the increment"},
}


def modes_fit(architecture: dict, nx: int, ny: int) -> str | None:
    modes = architecture.get("modes", FNO_KEYS["modes"]["default"])
    if modes[0] > nx or modes[1] > ny:
        return f"modes {modes} exceed the grid (the FNO would silently keep fewer)"
    return None


KINDS = (
    ArchitectureKind(
        name="fno",
        family="field",
        builder="workflow_scripts.models.fno:build_fno_forecaster",
        keys=FNO_KEYS,
        grid_problem=modes_fit,
    ),
    ArchitectureKind(
        name="fno_divfree",
        family="field",
        builder="workflow_scripts.models.fno:build_divergence_free_fno",
        keys=FNO_KEYS,
        grid_problem=modes_fit,
    ),
)
