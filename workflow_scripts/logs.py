"""Job logs: everything a job prints goes to its Snakemake ``log:`` file (no torch import)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("workflow_scripts")


@contextlib.contextmanager
def logging_to(log_path: str | Path, mode: str = "w") -> Iterator[None]:
    """Send logging, warnings and stderr (tqdm bars, tracebacks) of a job to its log file
    (``mode`` "a" appends to what the job wrote there already); on exit everything is as it
    was."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, mode, buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        previous_level, previous_stderr = root.level, sys.stderr
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        sys.stderr = stream
        try:
            yield
        except BaseException:
            log.exception("job failed")
            raise
        finally:
            sys.stderr = previous_stderr
            logging.captureWarnings(False)
            root.setLevel(previous_level)
            root.removeHandler(handler)
