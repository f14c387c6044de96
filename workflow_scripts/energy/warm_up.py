"""codecarbon's hardware probe run in the background while a job still imports torch."""

from __future__ import annotations

import threading

from workflow_scripts.energy.settings import CarbonSettings

_warm_up: threading.Thread | None = None


def warm_up_energy_tracking(settings: CarbonSettings | None = None, *, wait: bool = False) -> None:
    """Run codecarbon's hardware probe (about 1.4 s on a 2-core VM) in the background.

    codecarbon caches the probe per process (and a forked child inherits it), so the tracker a
    job starts later skips it. Call this first thing in a job, before importing torch.
    """
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(
            target=_probe_hardware, args=(settings or CarbonSettings(),), daemon=True
        )
        _warm_up.start()
    if wait:
        wait_for_warm_up()


def wait_for_warm_up() -> None:
    """Block until a started probe has finished, so that a tracker starting next finds
    codecarbon's cached hardware rather than probing beside it."""
    if _warm_up is not None:
        _warm_up.join()


def _probe_hardware(settings: CarbonSettings) -> None:
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(
        **settings.tracker_options(), output_methods=[], log_level="error"
    )
    tracker.start()
    tracker.stop()
