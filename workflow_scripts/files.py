"""Writing outputs so that a failed job never leaves a file that looks complete, and reading
intermediate files so that a bad one is named with the rule that makes it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from workflow_scripts.errors import ConfigError

T = TypeVar("T")

# The rule that writes each intermediate file, by file name: what a reader names when the file
# is unreadable, so the user knows which job to re-run (`--forcerun RULE`) or which file to delete.
MADE_BY = {
    "dataset.nc": "generate_dataset",
    "data.json": "generate_dataset",
    "model.pt": "train",
    "history.csv": "train",
    "train.json": "train",
    "checkpoint.pt": "train",
    "metrics.json": "evaluate",
    "predictions.nc": "evaluate",
    "summary.csv": "summarize",
}


class IntermediateFileError(RuntimeError):
    """An intermediate file that cannot be read; the message names it and the rule making it."""


def made_by(path: str | Path) -> str:
    """The rule that writes ``path`` (by its name or suffix), or "an earlier rule"."""
    path = Path(path)
    if path.name in MADE_BY:
        return MADE_BY[path.name]
    if any(part.endswith(".zarr") for part in path.parts):  # a store or a chunk inside one
        return "regrid_shear_flow"
    # the shear flow's data-stage cost files: results/shear_flow/data/<stage>/...json
    if path.suffix == ".json" and "regrid" in path.parts:
        return "regrid_shear_flow"
    if path.suffix == ".json" and "simulate" in path.parts:
        return "shear_flow_source_stats" if path.name == "stats.json" else "simulate_shear_flow"
    return "an earlier rule"


def read_intermediate(
    path: str | Path, reader: Callable[[Path], T], made_by_rule: str | None = None
) -> T:
    """``reader(path)``, with any failure to read it (missing, truncated, not the format)
    re-raised as an :class:`IntermediateFileError` naming the file and the rule that makes it.

    Config errors pass through: they name a key, not a file.
    """
    path = Path(path)
    rule = made_by_rule or made_by(path)
    try:
        return reader(path)
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001  (any reader's failure means the same to the user)
        raise IntermediateFileError(
            f"cannot read {path} (written by rule {rule}): {type(error).__name__}: {error}. "
            f"Delete it, or re-run with --forcerun {rule}, to make it again."
        ) from error


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def fsync_path(path: str | Path) -> None:
    """Flush a written file to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=_to_json) + "\n")


def read_json(path: str | Path, made_by: str | None = None) -> dict[str, Any]:
    """A JSON object written by ``made_by`` (default: the rule that writes that file name)."""

    def load(path: Path) -> dict[str, Any]:
        payload = json.loads(path.read_text())
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object, found {type(payload).__name__}")
        return payload

    return read_intermediate(path, load, made_by)


def read_csv(path: str | Path, made_by: str | None = None) -> Any:
    """A CSV table (pandas) written by ``made_by``; an empty or garbled file is an error."""
    import pandas as pd

    return read_intermediate(path, pd.read_csv, made_by)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    # Paths, torch devices and dtypes: their string form is what a reader wants.
    if isinstance(value, Path) or type(value).__module__.startswith("torch"):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
