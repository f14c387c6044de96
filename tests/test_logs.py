"""A job's log file gets its logging, warnings, stderr and traceback; the process is restored."""

import logging
import sys
import warnings

import pytest

from workflow_scripts.logs import logging_to


def test_job_output_lands_in_its_log_and_the_process_is_restored(tmp_path):
    root = logging.getLogger()
    level, stderr = root.level, sys.stderr
    log_file = tmp_path / "logs" / "job.log"
    with pytest.raises(RuntimeError), logging_to(log_file):
        logging.getLogger("workflow_scripts.test").info("step 1 done")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
        print("progress bar", file=sys.stderr)
        raise RuntimeError("solver diverged")
    text = log_file.read_text()
    for expected in ("step 1 done", "a library warning", "progress bar", "job failed"):
        assert expected in text
    assert "RuntimeError: solver diverged" in text
    assert root.level == level and sys.stderr is stderr
    assert not any(getattr(h, "stream", None) and h.stream.closed for h in root.handlers)
