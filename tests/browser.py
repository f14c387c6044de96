"""Headless Chromium for the report's browser test: Debian's package, installed where missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars")


def chromium() -> str:
    """The chromium executable; installed with apt-get where missing (as root), else the test
    is skipped with the reason."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and cannot be (needs apt-get as root)")
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"chromium could not be installed: {' '.join(command)} timed out")
        if done.returncode != 0:
            pytest.skip(f"chromium could not be installed: {done.stderr.strip()[-500:]}")
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium could not be installed: no chromium on PATH after apt-get")
    return found


def _run(browser: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def rendered_dom(browser: str, page: Path, profile: Path, budget_ms: int = 5000) -> str:
    """The DOM after the page's scripts ran (``budget_ms`` of virtual time)."""
    return _run(browser, page, profile, f"--virtual-time-budget={budget_ms}", "--dump-dom").stdout


def screenshot(browser: str, page: Path, profile: Path, out: Path, size: str = "1400,1000") -> Path:
    _run(
        browser,
        page,
        profile,
        "--virtual-time-budget=5000",
        f"--window-size={size}",
        f"--screenshot={out.resolve()}",
    )
    return out


def without_scripts(dom: str) -> str:
    """What the page shows: the DOM less its scripts (the report's data sit in one)."""
    return re.sub(r"<script\b.*?</script>", "", dom, flags=re.DOTALL | re.IGNORECASE)
