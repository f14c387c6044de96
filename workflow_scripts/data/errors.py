"""Errors of the shear-flow data stages; each message names the file or the setting at fault."""

from __future__ import annotations

from pathlib import Path

from workflow_scripts.data.provenance import REGRID_RULE, remedy


class RegridError(ValueError):
    """A request the regridding stage cannot honour; the message names the file or setting."""


class StoreError(ValueError):
    """A training store (or the stats.yaml beside it) that cannot be used as it is.

    The message names the file and the rule that makes it (``regrid_shear_flow``).
    """

    def __init__(self, path: Path | str, problem: str, *, rule: str = REGRID_RULE) -> None:
        self.path = Path(path)
        self.rule = rule
        super().__init__(f"{path}: {problem} ({remedy(rule)})")


class CorruptStoreError(StoreError):
    """A store whose content changed after it was written: a chunk whose checksum does not
    match, or a chunk file that is gone. Names the store, the variable and the chunk key."""

    def __init__(self, store: Path | str, variable: str, chunk_key: str, problem: str) -> None:
        self.variable = variable
        self.chunk_key = chunk_key
        super().__init__(store, f"chunk {variable}/{chunk_key} is corrupt: {problem}")
