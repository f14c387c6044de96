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

import argparse
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from workflow_scripts.data.well_format import (
    DATASET_NAME,
    WellFormatError,
    all_parameter_pairs,
    validate_stats_file,
    validate_well_file,
    well_file_name,
)
from workflow_scripts.files import fsync_path

DEFAULT_BASE_URL = "https://sdsc-users.flatironinstitute.org/~polymathic/data/the_well"
SPLITS: tuple[str, ...] = ("train", "valid", "test")
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


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its URL and its path relative to the destination root."""

    url: str
    relative_path: PurePosixPath

    def local_path(self, dest_root: str | os.PathLike[str]) -> Path:
        return Path(dest_root).joinpath(*self.relative_path.parts)


def _dataset_prefix() -> PurePosixPath:
    return PurePosixPath("datasets") / DATASET_NAME


def remote_paths(
    base_url: str = DEFAULT_BASE_URL,
    *,
    splits: Sequence[str] = SPLITS,
    parameter_pairs: Iterable[tuple[float, float]] | None = None,
    first_only: bool = False,
    include_stats: bool = True,
) -> list[RemoteFile]:
    """What `download_shear_flow` would fetch: stats.yaml, then the split files in order.

    parameter_pairs selects (Reynolds, Schmidt) pairs (default: all 28); first_only keeps only
    the first selected pair of each split (the smallest Re, then Sc, when none are given).
    """
    if isinstance(splits, str):
        splits = (splits,)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}, expected some of {list(SPLITS)}")
    pairs = all_parameter_pairs() if parameter_pairs is None else list(parameter_pairs)
    if not pairs:
        raise ValueError("parameter_pairs is empty")
    # well_file_name raises ValueError for pairs outside the dataset; dict keeps order, dedups.
    names = list(dict.fromkeys(well_file_name(re_value, sc) for re_value, sc in pairs))
    if first_only:
        names = names[:1]

    root = base_url.rstrip("/")
    prefix = _dataset_prefix()
    files: list[RemoteFile] = []
    if include_stats:
        rel = prefix / "stats.yaml"
        files.append(RemoteFile(f"{root}/{rel}", rel))
    for split in splits:
        for name in names:
            rel = prefix / "data" / split / name
            files.append(RemoteFile(f"{root}/{rel}", rel))
    return files


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


def download_shear_flow(
    base_url: str = DEFAULT_BASE_URL,
    dest_root: str | os.PathLike[str] = ".",
    *,
    splits: Sequence[str] = SPLITS,
    parameter_pairs: Iterable[tuple[float, float]] | None = None,
    first_only: bool = False,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> list[Path]:
    """Fetch stats.yaml and the chosen shear_flow files into `<dest_root>/datasets/shear_flow`.

    Files already present under their final name and passing verification are skipped
    without contacting the server. Returns the local paths, in `remote_paths` order.
    """
    files = remote_paths(
        base_url, splits=splits, parameter_pairs=parameter_pairs, first_only=first_only
    )
    local: list[Path] = []
    for remote in files:
        dest = remote.local_path(dest_root)
        check = default_check(remote.relative_path)
        if dest.is_file() and _passes(check, dest) is None:
            local.append(dest)
            continue
        local.append(
            download_file(
                remote.url,
                dest,
                check=check,
                retries=retries,
                backoff_s=backoff_s,
                timeout_s=timeout_s,
                progress=progress,
            )
        )
    return local


# --------------------------------------------------------------------------- command line


def _parse_pair(text: str) -> tuple[float, float]:
    try:
        re_text, sc_text = text.split(",")
        return float(re_text), float(sc_text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected RE,SC (e.g. 1e4,0.1), got {text!r}") from err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest_root", help="directory that will hold datasets/shear_flow/")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL)
    parser.add_argument("--split", action="append", choices=SPLITS, dest="splits")
    parser.add_argument(
        "--pair", action="append", type=_parse_pair, dest="pairs", help="RE,SC (repeatable)"
    )
    parser.add_argument("--first-only", action="store_true")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--backoff", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true", help="list URLs and exit")
    args = parser.parse_args(argv)
    splits = args.splits or list(SPLITS)
    if args.dry_run:
        for remote in remote_paths(
            args.base_url, splits=splits, parameter_pairs=args.pairs, first_only=args.first_only
        ):
            print(remote.url, remote.local_path(args.dest_root))
        return 0
    try:
        paths = download_shear_flow(
            args.base_url,
            args.dest_root,
            splits=splits,
            parameter_pairs=args.pairs,
            first_only=args.first_only,
            retries=args.retries,
            backoff_s=args.backoff,
            timeout_s=args.timeout,
        )
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
