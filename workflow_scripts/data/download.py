"""Resumable, verified download of The Well `shear_flow` files into the official layout.

Files land in `<dest_root>/datasets/shear_flow/{stats.yaml, data/<split>/<file>.hdf5}`, the
layout `the_well.data.WellDataset(well_base_path=<dest_root>/datasets, ...)` reads.

Why not the `the-well-download` command of the `the-well` package: it shells out to the `curl`
binary (an extra system dependency), reads URLs from a fixed registry bundled with the package
(no way to point it at a mirror or at a local test server), cannot select (Re, Sc) pairs, writes
straight to the final file name (an interrupted transfer looks like a finished file) and never
checks sizes or contents, and ignores curl's exit status. This module uses only the standard
library (urllib) and the format checks of `well_format`.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from workflow_scripts.data.well_format import (
    WellFormatError,
    validate_stats_file,
    validate_well_file,
)
from workflow_scripts.files import fsync_path

CHUNK_BYTES = 1 << 20
MAX_BACKOFF_S = 300.0
# Status codes worth another try: the server or a proxy is busy, not the request wrong.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIABLE_RE = re.compile(r"bytes\s+\*/(\d+)")
# Indirection so tests can record back-off without patching time.sleep for everyone.
_sleep = time.sleep


class DownloadError(RuntimeError):
    """A file could not be downloaded or verified; the message names the URL and the file."""


class _TransientError(Exception):
    """An attempt failed in a way another attempt may fix."""


# --------------------------------------------------------------------------- verification


def default_check(relative_path: PurePosixPath) -> Callable[[Path], object]:
    if relative_path.suffix in (".hdf5", ".h5"):
        return validate_well_file
    if relative_path.name == "stats.yaml":
        return validate_stats_file
    return lambda _path: None


def _passes(check: Callable[[Path], object], path: Path) -> str | None:
    """None if `path` passes `check`, else the reason it does not."""
    try:
        check(path)
    except (WellFormatError, ValueError, OSError) as err:
        return str(err)
    return None


# --------------------------------------------------------------------------- one file


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _request_once(url: str, part: Path, *, timeout_s: float, bar: tqdm) -> tuple[int, int | None]:
    """One HTTP request that appends to `part` (resuming from its size).

    Returns (size of part, total size announced by the server or None). Raises
    _TransientError for failures worth retrying, DownloadError for permanent ones.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity", "User-Agent": "trading-carbon-for-physics"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            total: int | None
            if response.status == 206:
                match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
                if match is None:
                    raise _TransientError(
                        f"206 without a usable Content-Range: "
                        f"{response.headers.get('Content-Range')!r}"
                    )
                start = int(match.group(1))
                total = None if match.group(3) == "*" else int(match.group(3))
                if start > offset:
                    raise _TransientError(f"server resumed at byte {start}, asked for {offset}")
            else:
                # A 200 is the whole file, even when we asked for a range: start over.
                start = 0
                length = response.headers.get("Content-Length")
                total = int(length) if length is not None and length.isdigit() else None
            bar.reset(total=total)
            bar.update(start)
            with open(part, "r+b" if part.exists() else "wb") as fh:
                fh.seek(start)
                fh.truncate()
                while chunk := response.read(CHUNK_BYTES):
                    fh.write(chunk)
                    bar.update(len(chunk))
        return part.stat().st_size, total
    except urllib.error.HTTPError as err:
        if err.code == 416:
            # Our partial file is not shorter than the remote one: either it is complete
            # or it is garbage; report the total so the caller can tell which.
            match = _UNSATISFIABLE_RE.match(err.headers.get("Content-Range", "") or "")
            if match is not None:
                return offset, int(match.group(1))
            part.unlink(missing_ok=True)
            raise _TransientError("HTTP 416 without a total size; restarting from zero") from err
        if err.code in TRANSIENT_STATUS:
            raise _TransientError(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason} (permanent)") from err
    except urllib.error.URLError as err:
        raise _TransientError(_describe(err.reason)) from err
    except (
        ConnectionError,
        TimeoutError,
        http.client.HTTPException,
    ) as err:
        raise _TransientError(_describe(err)) from err


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    check: Callable[[Path], object] | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest`, resuming from `<dest>.part`, and verify before renaming.

    `check(path)` validates the content (raise to reject); the size must equal the total the
    server announced. Transient failures (5xx, 408/429, resets, timeouts, short bodies) are
    retried up to `retries` times with exponential back-off; a try that extended the partial
    file does not count, so a long download over a flaky link keeps going. A file that fails
    verification is deleted and fetched once more from scratch (a resume may have joined two
    versions of the file); a second failure is permanent. Nothing that failed verification is
    ever left under the final name.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    check = check or (lambda _path: None)
    dest.parent.mkdir(parents=True, exist_ok=True)

    failures = 0
    verification_failures = 0
    best_size = part.stat().st_size if part.exists() else 0
    last_problem = ""
    with tqdm(
        desc=dest.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
        leave=False,
    ) as bar:
        while True:
            try:
                size, total = _request_once(url, part, timeout_s=timeout_s, bar=bar)
                if total is not None and size != total:
                    if size > total:
                        part.unlink(missing_ok=True)
                    raise _TransientError(f"got {size} bytes of {total}")
            except _TransientError as err:
                last_problem = str(err)
                size = part.stat().st_size if part.exists() else 0
                if size > best_size:
                    # Progress was made: this try does not count against the budget.
                    best_size = size
                else:
                    failures += 1
                if failures > retries:
                    raise DownloadError(
                        f"{url} -> {dest}: giving up after {failures} failed tries; "
                        f"last problem: {last_problem}"
                    ) from err
                _sleep(min(backoff_s * 2 ** max(failures - 1, 0), MAX_BACKOFF_S))
                continue

            problem = _passes(check, part)
            if problem is None:
                fsync_path(part)
                os.replace(part, dest)
                return dest
            part.unlink(missing_ok=True)
            best_size = 0
            verification_failures += 1
            if verification_failures >= 2:
                raise DownloadError(
                    f"{url} -> {dest}: downloaded file failed verification: {problem}"
                )
