"""A job that reports the process it ran in: the warm worker's tests run it (the server runs
only targets under ``workflow_scripts``, so their job lives here).

It logs a line, writes a JSON of its process to ``smk.output[0]`` and does what ``smk.params``
(a dict) asks besides: ``fail`` (raise ValueError with that message), ``allocate_mb`` (hold
that much written memory), ``linger_s`` (sleep after writing).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def describe(smk: Any) -> None:
    asked = dict(getattr(smk, "params", None) or {})
    log.info("probe job in process %d", os.getpid())
    if "fail" in asked:
        raise ValueError(asked["fail"])
    ballast = b"\1" * int(asked.get("allocate_mb", 0) * 2**20)  # written, so resident
    state = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "cwd": os.getcwd(),
        "umask": os.umask(0o022),
        "environment": dict(os.environ),
        "gc_frozen": gc.get_freeze_count(),
        "pdf_saver_loaded": "matplotlib.backends.backend_pdf" in sys.modules,
        "ballast_mb": len(ballast) / 2**20,
    }
    os.umask(state["umask"])
    Path(smk.output[0]).write_text(json.dumps(state))
    time.sleep(asked.get("linger_s", 0))
