"""Reading, writing and checking files in The Well's `shear_flow` HDF5 layout.

The layout follows the published dataset (see shared/reference/shear_flow.md) closely enough
that `the_well.data.WellDataset` reads our files unchanged, so generated look-alike data and
downloaded data go through the same loader.

It is also the one home of the shear-flow facts every other module imports: the field names
(``FIELD_NAMES``, The Well's channel order), the statistics keys (``STATS_KEYS``) and the file
name pattern (``WELL_FILE_STEM``, which the workflow's rules use for their wildcards). The
Snakefile imports it while parsing (through ``data/sources.py``), so it is torch-free and imports
h5py only in the functions that open a file.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from workflow_scripts.data.moments import RunningMoments
from workflow_scripts.data.provenance import remedy, source_rule
from workflow_scripts.files import atomic_path, fsync_path

if TYPE_CHECKING:
    import h5py

DATASET_NAME = "shear_flow"
REYNOLDS_NUMBERS: tuple[float, ...] = (1e4, 5e4, 1e5, 5e5)
SCHMIDT_NUMBERS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

# The published metadata stores the Reynolds number under the name "Rayleigh"; we keep that
# name so that the_well (and anything keyed on its scalar names) sees the same constants.
REYNOLDS_SCALAR_NAME = "Rayleigh"
SCHMIDT_SCALAR_NAME = "Schmidt"
SCALAR_NAMES: tuple[str, str] = (REYNOLDS_SCALAR_NAME, SCHMIDT_SCALAR_NAME)

#: The name of every file of a (Re, Sc) pair, less its ``.hdf5`` suffix; the placeholders are
#: filled with the dataset's single-digit mantissa style (1e4, 2e-1). The workflow's rules use
#: it as their wildcard pattern.
WELL_FILE_STEM = "shear_flow_Reynolds_{reynolds}_Schmidt_{schmidt}"
WELL_FILE_SUFFIX = ".hdf5"
T0_FIELDS: tuple[str, str] = ("tracer", "pressure")
T1_FIELDS: tuple[str] = ("velocity",)
# Order of the stats.yaml entries (and of the loader's channels: tracer, pressure, vx, vy).
STATS_FIELDS: tuple[str, str, str] = ("tracer", "pressure", "velocity")
#: The statistics of a stats.yaml, of the fields and of their one-step differences in time.
STATS_KEYS: tuple[str, ...] = ("mean", "std", "rms", "mean_delta", "std_delta", "rms_delta")
REQUIRED_GROUPS: tuple[str, ...] = (
    "dimensions",
    "boundary_conditions",
    "scalars",
    "t0_fields",
    "t1_fields",
    "t2_fields",
)

_VALUE_RE = "([0-9e.+-]+)"
_NAME_RE = re.compile(
    "^"
    + re.escape(WELL_FILE_STEM + WELL_FILE_SUFFIX)
    .replace(re.escape("{reynolds}"), _VALUE_RE)
    .replace(re.escape("{schmidt}"), _VALUE_RE)
    + "$"
)


class WellFormatError(ValueError):
    """A file is missing, unreadable, or not a shear_flow Well file."""


def _format_error(path: Path | str, problem: str) -> WellFormatError:
    """The error for a source file (HDF5 or stats.yaml): names it and the rule that makes it."""
    return WellFormatError(f"{path}: {problem} ({remedy(source_rule(path))})")


@dataclass(frozen=True)
class WellFileInfo:
    n_trajectories: int
    n_time: int
    nx: int
    ny: int
    reynolds: float
    schmidt: float


# --------------------------------------------------------------------------- file names


def _match_value(value: float, allowed: Sequence[float], what: str) -> float:
    for candidate in allowed:
        if math.isclose(float(value), candidate, rel_tol=1e-9):
            return candidate
    raise ValueError(
        f"{what} {value!r} is not in the shear_flow dataset (allowed: {list(allowed)})"
    )


def _format_power(value: float) -> str:
    """1e4 -> '1e4', 0.2 -> '2e-1', 10 -> '1e1' (the dataset's single-digit mantissa style)."""
    exponent = math.floor(math.log10(value) + 1e-12)
    mantissa = round(value / 10**exponent)
    return f"{mantissa}e{exponent}"


def well_file_wildcards(reynolds: float, schmidt: float) -> dict[str, str]:
    """The placeholders of ``WELL_FILE_STEM`` for the (Re, Sc) parameter pair, e.g.
    {"reynolds": "1e4", "schmidt": "1e-1"}: the wildcards of the rules that make its files."""
    re_value = _match_value(reynolds, REYNOLDS_NUMBERS, "Reynolds number")
    sc_value = _match_value(schmidt, SCHMIDT_NUMBERS, "Schmidt number")
    return {"reynolds": _format_power(re_value), "schmidt": _format_power(sc_value)}


def well_file_name(reynolds: float, schmidt: float) -> str:
    """File name of the (Re, Sc) parameter pair, e.g. shear_flow_Reynolds_1e4_Schmidt_1e-1.hdf5."""
    return WELL_FILE_STEM.format(**well_file_wildcards(reynolds, schmidt)) + WELL_FILE_SUFFIX


def parse_well_file_name(name: str | os.PathLike[str]) -> tuple[float, float]:
    """Inverse of `well_file_name`: (Reynolds, Schmidt) from a file name or path."""
    base = Path(name).name
    match = _NAME_RE.match(base)
    if match is None:
        raise ValueError(f"{base!r} is not a shear_flow file name")
    reynolds = _match_value(float(match.group(1)), REYNOLDS_NUMBERS, "Reynolds number")
    schmidt = _match_value(float(match.group(2)), SCHMIDT_NUMBERS, "Schmidt number")
    return reynolds, schmidt


def all_parameter_pairs() -> list[tuple[float, float]]:
    """The 28 (Re, Sc) pairs of the dataset, Re-major, ascending."""
    return [(re_value, sc) for re_value in REYNOLDS_NUMBERS for sc in SCHMIDT_NUMBERS]


# --------------------------------------------------------------------------- writing


def _set_field_attrs(dset: h5py.Dataset) -> None:
    dset.attrs["dim_varying"] = np.array([True, True])
    dset.attrs["sample_varying"] = True
    dset.attrs["time_varying"] = True


def write_well_file(
    path: str | os.PathLike[str],
    *,
    tracer: np.ndarray,
    pressure: np.ndarray,
    velocity_x: np.ndarray,
    velocity_y: np.ndarray,
    time: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    reynolds: float,
    schmidt: float,
) -> None:
    """Write one shear_flow Well file; fields are (B, T, nx, ny) arrays, stored as float32.

    The file is written under a temporary name in the same directory and renamed at the end,
    so an interrupted write never leaves a file that looks complete.
    """
    path = Path(path)
    tracer = np.asarray(tracer)
    shape = tracer.shape
    if tracer.ndim != 4:
        raise ValueError(f"tracer must be (B, T, nx, ny), got shape {shape}")
    fields = {"pressure": pressure, "velocity_x": velocity_x, "velocity_y": velocity_y}
    for name, arr in fields.items():
        if np.shape(arr) != shape:
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected {shape} like tracer")
    n_traj, n_time, nx, ny = shape
    for name, arr, n in (("time", time, n_time), ("x", x, nx), ("y", y, ny)):
        if np.shape(arr) != (n,):
            raise ValueError(f"{name} has shape {np.shape(arr)}, expected ({n},)")
    # Validates (and snaps) the parameters before anything touches the disk.
    reynolds = _match_value(reynolds, REYNOLDS_NUMBERS, "Reynolds number")
    schmidt = _match_value(schmidt, SCHMIDT_NUMBERS, "Schmidt number")

    import h5py

    # Hidden and without the .hdf5 suffix until complete: loaders globbing *.hdf5 skip it.
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["dataset_name"] = DATASET_NAME
            f.attrs["grid_type"] = "cartesian"
            f.attrs["n_spatial_dims"] = 2
            f.attrs["n_trajectories"] = n_traj
            f.attrs["simulation_parameters"] = list(SCALAR_NAMES)
            f.attrs[REYNOLDS_SCALAR_NAME] = reynolds
            f.attrs[SCHMIDT_SCALAR_NAME] = schmidt

            dims = f.create_group("dimensions")
            dims.attrs["spatial_dims"] = ["x", "y"]
            for name, values, time_varying in (
                ("time", time, True),
                ("x", x, False),
                ("y", y, False),
            ):
                dset = dims.create_dataset(name, data=np.asarray(values, dtype=np.float32))
                dset.attrs["sample_varying"] = False
                dset.attrs["time_varying"] = time_varying

            bcs = f.create_group("boundary_conditions")
            for dim, n in (("x", nx), ("y", ny)):
                group = bcs.create_group(f"{dim}_periodic")
                group.attrs["associated_dims"] = [dim]
                group.attrs["associated_fields"] = [*T0_FIELDS, *T1_FIELDS]
                group.attrs["bc_type"] = "PERIODIC"
                group.attrs["sample_varying"] = False
                group.attrs["time_varying"] = False
                # The loader marks an edge periodic when the mask is set at that edge.
                mask = np.zeros(n, dtype=bool)
                mask[0] = mask[-1] = True
                group.create_dataset("mask", data=mask)

            scalars = f.create_group("scalars")
            scalars.attrs["field_names"] = list(SCALAR_NAMES)
            for name, value in ((REYNOLDS_SCALAR_NAME, reynolds), (SCHMIDT_SCALAR_NAME, schmidt)):
                dset = scalars.create_dataset(name, data=np.float64(value))
                dset.attrs["sample_varying"] = False
                dset.attrs["time_varying"] = False

            t0 = f.create_group("t0_fields")
            t0.attrs["field_names"] = list(T0_FIELDS)
            for name, values in (("tracer", tracer), ("pressure", pressure)):
                _set_field_attrs(t0.create_dataset(name, data=np.asarray(values, np.float32)))

            t1 = f.create_group("t1_fields")
            t1.attrs["field_names"] = list(T1_FIELDS)
            velocity = t1.create_dataset("velocity", shape=(*shape, 2), dtype=np.float32)
            # Component by component, trajectory by trajectory: never a full (..., 2) copy.
            for b in range(n_traj):
                velocity[b, ..., 0] = np.asarray(velocity_x[b], dtype=np.float32)
                velocity[b, ..., 1] = np.asarray(velocity_y[b], dtype=np.float32)
            _set_field_attrs(velocity)

            t2 = f.create_group("t2_fields")
            t2.attrs["field_names"] = np.array([], dtype=h5py.string_dtype())
        fsync_path(tmp)


# --------------------------------------------------------------------------- statistics


def compute_stats(
    paths: Iterable[str | os.PathLike[str]], *, max_block_elements: int = 1 << 22
) -> dict[str, dict[str, float | list[float]]]:
    """stats.yaml content (mean/std/rms of fields and of one-step time deltas) over files.

    Streams over trajectories and time blocks so that memory stays bounded by
    ~max_block_elements values per field, whatever the file size. Velocity statistics are
    per component (a 2-list), as in the published stats.yaml.
    """
    import h5py

    components = {"tracer": None, "pressure": None, "velocity": 2}
    values = {name: RunningMoments(n) for name, n in components.items()}
    deltas = {name: RunningMoments(n) for name, n in components.items()}
    n_files = 0
    for path in paths:
        n_files += 1
        info = validate_well_file(path)
        frame_elements = info.nx * info.ny * 2
        block = max(1, max_block_elements // frame_elements)
        try:
            with h5py.File(path, "r") as f:
                datasets = {
                    "tracer": f["t0_fields/tracer"],
                    "pressure": f["t0_fields/pressure"],
                    "velocity": f["t1_fields/velocity"],
                }
                for b in range(info.n_trajectories):
                    for start in range(0, info.n_time, block):
                        n_values = min(block, info.n_time - start)
                        # One extra frame so the deltas across block boundaries are counted.
                        stop = min(start + block + 1, info.n_time)
                        for name, dset in datasets.items():
                            frames = dset[b, start:stop]
                            values[name].update(frames[:n_values])
                            deltas[name].update(np.diff(frames.astype(np.float64), axis=0))
        except (OSError, KeyError) as err:  # validated, yet a chunk inside cannot be read
            raise _format_error(path, f"unreadable content: {err}") from err
    if n_files == 0:
        raise ValueError("compute_stats needs at least one file")

    stats: dict[str, dict[str, float | list[float]]] = {key: {} for key in STATS_KEYS}
    for name in STATS_FIELDS:
        mean, std, rms = values[name].result()
        stats["mean"][name], stats["std"][name], stats["rms"][name] = mean, std, rms
        mean_d, std_d, rms_d = deltas[name].result()
        stats["mean_delta"][name] = mean_d
        stats["std_delta"][name] = std_d
        stats["rms_delta"][name] = rms_d
    return stats


def write_stats_yaml(
    stats: dict[str, dict[str, float | list[float]]], path: str | os.PathLike[str]
) -> None:
    """Write stats in the stats.yaml format of The Well (atomically, like the data files)."""
    path = Path(path)
    missing = [key for key in STATS_KEYS if key not in stats]
    if missing:
        raise ValueError(f"stats is missing keys {missing}")
    plain = {
        key: {
            field: (float(v) if np.ndim(v) == 0 else [float(c) for c in v])
            for field, v in stats[key].items()
        }
        for key in stats
    }
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            yaml.safe_dump(plain, fh, sort_keys=False)
            fh.flush()
            os.fsync(fh.fileno())


# --------------------------------------------------------------------------- validation


def describe_read_error(error: Exception) -> str:
    """One line for a failed read of a YAML file: where, for a YAML syntax error."""
    mark = getattr(error, "problem_mark", None)
    if isinstance(error, yaml.YAMLError) and mark is not None:
        problem = getattr(error, "problem", None) or "syntax error"
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(error).replace("\n", " ")


def validate_stats_file(path: str | os.PathLike[str]) -> dict:
    """Check a shear_flow stats.yaml: every key of STATS_KEYS, each with every field.

    Raises ``WellFormatError`` naming the file and the missing key or field.
    """
    path = Path(path)
    if not path.is_file():
        raise _format_error(path, "stats file does not exist")
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise _format_error(path, f"not a readable stats.yaml: {describe_read_error(err)}") from err
    if not isinstance(content, dict):
        raise _format_error(path, "stats.yaml is not a mapping")
    for key in STATS_KEYS:
        if key not in content:
            raise _format_error(path, f"stats.yaml lacks the {key!r} section")
        section = content[key]
        if not isinstance(section, dict):
            raise _format_error(path, f"stats.yaml section {key!r} is not a mapping of fields")
        missing = [field for field in STATS_FIELDS if field not in section]
        if missing:
            raise _format_error(path, f"stats.yaml section {key!r} lacks field(s) {missing}")
    return content


def _names(attr: Any) -> list[str]:
    return [a.decode() if isinstance(a, bytes) else str(a) for a in np.atleast_1d(attr)]


def validate_well_file(
    path: str | os.PathLike[str], *, expected_shape: tuple | None = None
) -> WellFileInfo:
    """Check that `path` is a readable shear_flow Well file and return its sizes.

    expected_shape is (B, T, nx, ny) of the scalar fields; an entry None matches anything.
    Raises WellFormatError naming the file and the problem.
    """
    import h5py

    path = Path(path)

    def fail(problem: str) -> WellFormatError:
        return _format_error(path, problem)

    if not path.is_file():
        raise fail("missing file")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise fail(f"not a readable HDF5 file (truncated or corrupt?): {err}") from err
    try:
        with f:
            name = f.attrs.get("dataset_name")
            if isinstance(name, bytes):
                name = name.decode()
            if name != DATASET_NAME:
                raise fail(f"root attribute dataset_name is {name!r}, expected {DATASET_NAME!r}")
            for group in REQUIRED_GROUPS:
                if not isinstance(f.get(group), h5py.Group):
                    raise fail(f"missing group {group}/")
            for group, expected in (("t0_fields", T0_FIELDS), ("t1_fields", T1_FIELDS)):
                for field in expected:
                    if not isinstance(f[group].get(field), h5py.Dataset):
                        raise fail(f"missing field {group}/{field}")
                listed = _names(f[group].attrs.get("field_names", []))
                if list(listed) != list(expected):
                    raise fail(f"{group} attribute field_names is {listed}, expected {expected}")
            for dim in ("time", "x", "y"):
                if not isinstance(f["dimensions"].get(dim), h5py.Dataset):
                    raise fail(f"missing dimension dimensions/{dim}")
            for scalar in SCALAR_NAMES:
                if not isinstance(f["scalars"].get(scalar), h5py.Dataset):
                    raise fail(f"missing scalar scalars/{scalar}")

            tracer = f["t0_fields/tracer"]
            pressure = f["t0_fields/pressure"]
            velocity = f["t1_fields/velocity"]
            for label, dset in (
                ("t0_fields/tracer", tracer),
                ("t0_fields/pressure", pressure),
                ("t1_fields/velocity", velocity),
            ):
                if dset.dtype != np.float32:
                    raise fail(f"{label} has dtype {dset.dtype}, expected float32")
            shape = tracer.shape
            if len(shape) != 4:
                raise fail(f"t0_fields/tracer has shape {shape}, expected (B, T, nx, ny)")
            if pressure.shape != shape:
                raise fail(f"t0_fields/pressure has shape {pressure.shape}, tracer has {shape}")
            if velocity.shape != (*shape, 2):
                raise fail(f"t1_fields/velocity has shape {velocity.shape}, expected {(*shape, 2)}")
            n_traj, n_time, nx, ny = shape
            for dim, n in (("time", n_time), ("x", nx), ("y", ny)):
                dim_shape = f["dimensions"][dim].shape
                if dim_shape != (n,):
                    raise fail(f"dimensions/{dim} has shape {dim_shape}, expected ({n},)")
            attr_traj = f.attrs.get("n_trajectories")
            if attr_traj is None or int(attr_traj) != n_traj:
                raise fail(f"root attribute n_trajectories is {attr_traj}, fields have {n_traj}")
            if expected_shape is not None:
                expected = tuple(expected_shape)
                if len(expected) != 4 or any(
                    e is not None and e != s for e, s in zip(expected, shape, strict=True)
                ):
                    raise fail(f"fields have shape {shape}, expected {expected}")
            reynolds = float(f["scalars"][REYNOLDS_SCALAR_NAME][()])
            schmidt = float(f["scalars"][SCHMIDT_SCALAR_NAME][()])
            # Reading the last element of each field catches data cut off inside the file.
            if n_traj and n_time:
                for dset in (tracer, pressure, velocity):
                    dset[(-1, -1, -1, -1)]
    except WellFormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise fail(f"unreadable content: {err}") from err
    return WellFileInfo(
        n_trajectories=n_traj, n_time=n_time, nx=nx, ny=ny, reynolds=reynolds, schmidt=schmidt
    )
