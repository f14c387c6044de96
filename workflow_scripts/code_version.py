"""The version of the code that made a result, recorded beside it and compared by the summary.

Snakemake re-runs a script rule when its script file is newer than the outputs, but the logic
lives in the modules the scripts import, which it does not watch. Rather than re-run every
measured job on any edit of them (hours of training at the study's scale, for an edit of a
figure's colour as much as of the training loop), each ``train`` and ``evaluate`` job records
the version of the code that ran it, and the summary flags the results made by code other than
the checkout's now (README: "Code versions").

A version is ``sha256:`` and 12 hex digits (never read back as a number from a CSV) of SHA-256
over the sources of ``workflow_scripts/`` (every ``.py``
but the rule scripts) and the rule's own script, so an edit of one rule's adapter changes that
rule's version only. File contents decide, not times: a bare ``touch`` changes no version.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from workflow_scripts.files import read_json, write_json

PACKAGE = Path(__file__).resolve().parent
RULE_SCRIPTS = PACKAGE / "scripts"


@cache
def _package_digest() -> bytes:
    """SHA-256 of every module's path and source (read once a process)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        if RULE_SCRIPTS not in path.parents:
            digest.update(f"{path.relative_to(PACKAGE)}\0".encode() + path.read_bytes() + b"\0")
    return digest.digest()


def code_version(rule: str) -> str:
    """The version of the code that runs ``rule`` (its script: ``scripts/{rule}.py``) now."""
    script = (RULE_SCRIPTS / f"{rule}.py").read_bytes()
    return f"sha256:{hashlib.sha256(_package_digest() + script).hexdigest()[:12]}"


def record_code_version(path: Path, rule: str) -> None:
    """Add ``code_version`` to the JSON object ``rule`` wrote at ``path``."""
    write_json(path, {**read_json(path, made_by=rule), "code_version": code_version(rule)})
