"""Tests of the shear_flow downloader against a local, fault-injecting HTTP server.

The server binds 127.0.0.1 only, serves generated Well files with Range support, and can be
told to fail the next requests for a path in chosen ways. Nothing here touches the internet.
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from workflow_scripts.data import download
from workflow_scripts.data.download import DownloadError, download_file
from workflow_scripts.data.stages import download_source_file
from workflow_scripts.data.well_format import (
    compute_stats,
    validate_well_file,
    well_file_name,
    write_stats_yaml,
    write_well_file,
)

pytestmark = pytest.mark.timeout(60)

PAIRS = [(1e4, 0.1), (5e4, 2.0)]
MAX_REQUESTS = 100  # a runaway retry loop fails the test instead of hanging it


# --------------------------------------------------------------------------- test server


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # never let a stuck client hold a server thread for long
    server: FaultyServer

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - name fixed by http.server
        srv = self.server
        range_header = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((self.path, range_header))
            n_requests = len(srv.requests)
            queue = srv.faults.get(self.path, [])
            fault = queue.pop(0) if queue else None
        if n_requests > MAX_REQUESTS:
            self.send_error(HTTPStatus.TOO_MANY_REQUESTS, "test request budget exhausted")
            return
        kind, arg = fault if fault is not None else (None, None)
        if kind == "status":
            self.send_error(arg)
            return
        if kind == "stall":
            threading.Event().wait(arg)

        file = srv.root / self.path.lstrip("/")
        if ".." in self.path or not file.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        data = file.read_bytes()
        announced = len(data) + (arg if kind == "lie" else 0)

        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match is not None and kind != "ignore_range":
            start = int(match.group(1))
            if start >= announced:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{announced}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{announced - 1}/{announced}")
        else:
            self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", str(announced - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        body = data[start:]
        if kind == "drop_after":
            # Send part of the body, then cut the connection as a flaky network would.
            self.wfile.write(body[:arg])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class FaultyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str | None]] = []
        self.faults: dict[str, list[tuple[str, int | float | None]]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def inject(self, url_path: str, *faults: tuple[str, int | float | None]) -> None:
        """Make the next requests for url_path fail in the given ways, one fault each."""
        with self.lock:
            self.faults.setdefault(url_path, []).extend(faults)

    def requests_for(self, url_path: str) -> list[str | None]:
        with self.lock:
            return [rng for path, rng in self.requests if path == url_path]


def _write_tiny(path: Path, re_value: float, sc: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (2, 6, 16, 32)
    write_well_file(
        path,
        **{
            name: rng.standard_normal(shape).astype(np.float32)
            for name in ("tracer", "pressure", "velocity_x", "velocity_y")
        },
        time=np.arange(6) * 0.1,
        x=np.arange(16) / 16,
        y=-1 + 2 * np.arange(32) / 32,
        reynolds=re_value,
        schmidt=sc,
    )


@pytest.fixture(scope="module")
def served_root(tmp_path_factory) -> Path:
    """A server-side tree in the official layout: stats.yaml + 2 pairs x (train, valid)."""
    root = tmp_path_factory.mktemp("served")
    dataset = root / "datasets" / "shear_flow"
    train = []
    for split in ("train", "valid"):
        for i, (re_value, sc) in enumerate(PAIRS):
            path = dataset / "data" / split / well_file_name(re_value, sc)
            _write_tiny(path, re_value, sc, seed=10 * i + len(split))
            if split == "train":
                train.append(path)
    write_stats_yaml(compute_stats(train), dataset / "stats.yaml")
    return root


@pytest.fixture
def server(served_root, monkeypatch):
    # A proxy from the environment must not intercept requests to the local server.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    srv = FaultyServer(served_root)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Record back-off sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(download, "_sleep", recorded.append)
    return recorded


def _url_path(split: str, pair: tuple[float, float]) -> str:
    return f"/datasets/shear_flow/data/{split}/{well_file_name(*pair)}"


def _fetch(
    server: FaultyServer,
    dest: Path,
    split: str = "train",
    pair: tuple[float, float] = PAIRS[0],
    **options,
) -> Path:
    """One Well file into ``dest`` as the download rule fetches it; its local path."""
    path = dest / _url_path(split, pair).lstrip("/")
    settings = {"retries": 3, "backoff_s": 0.01, "timeout_s": 5} | options
    download_source_file(path, dest_root=dest, base_url=server.base_url, **settings)
    return path


# --------------------------------------------------------------------------- downloads


def test_clean_download_in_the_official_layout(server, served_root, tmp_path, sleeps):
    dest = tmp_path / "dest"
    stats = dest / "datasets/shear_flow/stats.yaml"
    options = {"retries": 3, "backoff_s": 0.01, "timeout_s": 5}
    # A trailing slash on the base URL does not double the path's.
    download_source_file(stats, dest_root=dest, base_url=server.base_url + "/", **options)
    paths = [_fetch(server, dest, split, pair) for split in ("train", "valid") for pair in PAIRS]
    for path in [stats, *paths]:
        relative = path.relative_to(dest)
        assert path.read_bytes() == (served_root / relative).read_bytes()
    assert not list(dest.rglob("*.part"))
    assert [path for path, _ in server.requests] == [
        "/datasets/shear_flow/stats.yaml",
        *(_url_path(split, pair) for split in ("train", "valid") for pair in PAIRS),
    ]
    assert all(rng is None for _, rng in server.requests) and sleeps == []
    assert validate_well_file(paths[0]).reynolds == 1e4

    # The layout is the one the_well's loader expects.
    the_well_data = pytest.importorskip("the_well.data")
    dataset = the_well_data.WellDataset(
        well_base_path=str(dest / "datasets"),
        well_dataset_name="shear_flow",
        well_split_name="valid",
        n_steps_input=4,
        n_steps_output=1,
    )
    assert tuple(dataset[0]["input_fields"].shape) == (4, 16, 32, 4)


def test_interrupted_download_resumes_with_range(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    server.inject(url_path, ("drop_after", 10_000))
    dest = tmp_path / "dest"
    path = _fetch(server, dest)
    assert server.requests_for(url_path) == [None, "bytes=10000-"]
    assert path.read_bytes() == (served_root / url_path.lstrip("/")).read_bytes()
    assert not path.with_name(path.name + ".part").exists()
    # The try that made progress did not count as a failure: the back-off stays at its base.
    assert sleeps == [0.01]


def test_resume_from_existing_part_file(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    original = (served_root / url_path.lstrip("/")).read_bytes()
    dest = tmp_path / "dest"
    final = dest / url_path.lstrip("/")
    final.parent.mkdir(parents=True)
    # As if an earlier process had died mid-download.
    final.with_name(final.name + ".part").write_bytes(original[:4321])
    _fetch(server, dest)
    assert server.requests_for(url_path) == ["bytes=4321-"]
    assert final.read_bytes() == original


def test_complete_part_file_is_finished_via_416(server, served_root, tmp_path, sleeps):
    # As if a process had died between the last byte and the rename.
    url_path = _url_path("train", PAIRS[0])
    original = (served_root / url_path.lstrip("/")).read_bytes()
    final = tmp_path / "dest" / url_path.lstrip("/")
    final.parent.mkdir(parents=True)
    final.with_name(final.name + ".part").write_bytes(original)
    _fetch(server, tmp_path / "dest")
    assert server.requests_for(url_path) == [f"bytes={len(original)}-"]
    assert final.read_bytes() == original
    assert not final.with_name(final.name + ".part").exists()


def test_oversized_part_file_is_discarded(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    original = (served_root / url_path.lstrip("/")).read_bytes()
    final = tmp_path / "dest" / url_path.lstrip("/")
    final.parent.mkdir(parents=True)
    final.with_name(final.name + ".part").write_bytes(original + b"junk")
    _fetch(server, tmp_path / "dest")
    assert server.requests_for(url_path) == [f"bytes={len(original) + 4}-", None]
    assert final.read_bytes() == original


def test_server_ignoring_range_restarts_cleanly(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    server.inject(url_path, ("drop_after", 7000), ("ignore_range", None))
    path = _fetch(server, tmp_path / "dest")
    assert server.requests_for(url_path) == [None, "bytes=7000-"]
    assert path.read_bytes() == (served_root / url_path.lstrip("/")).read_bytes()


def test_503_twice_then_success(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    server.inject(url_path, ("status", 503), ("status", 503))
    path = _fetch(server, tmp_path / "dest")
    assert len(server.requests_for(url_path)) == 3
    assert sleeps == [0.01, 0.02]  # exponential back-off
    assert path.read_bytes() == (served_root / url_path.lstrip("/")).read_bytes()


def test_timeout_is_retried(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    server.inject(url_path, ("stall", 1.5))
    path = _fetch(server, tmp_path / "dest", timeout_s=0.3)
    assert len(server.requests_for(url_path)) == 2
    assert path.read_bytes() == (served_root / url_path.lstrip("/")).read_bytes()


def test_repeated_503_gives_up_with_named_error(server, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    server.inject(url_path, *[("status", 503)] * 10)
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=r"Schmidt_1e-1\.hdf5.*giving up after 3.*503"):
        _fetch(server, dest, retries=2)
    assert len(server.requests_for(url_path)) == 3
    assert sleeps == [0.01, 0.02]
    assert not (dest / url_path.lstrip("/")).exists()


def test_size_never_matching_is_rejected(server, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    # The server announces 500 bytes more than it ever sends.
    server.inject(url_path, *[("lie", 500)] * 10)
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=r"Schmidt_1e-1\.hdf5.*bytes of"):
        _fetch(server, dest, retries=2)
    assert not (dest / url_path.lstrip("/")).exists()
    assert len(server.requests_for(url_path)) <= 4


def test_truncated_hdf5_with_matching_length_is_rejected(server, tmp_path, sleeps):
    # Serve a file cut in half whose Content-Length honestly matches the cut bytes.
    url_path = _url_path("train", PAIRS[0])
    good = server.root / url_path.lstrip("/")
    bad_root = tmp_path / "bad_served"
    bad = bad_root / url_path.lstrip("/")
    bad.parent.mkdir(parents=True)
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    (bad_root / "datasets/shear_flow/stats.yaml").write_bytes(
        (server.root / "datasets/shear_flow/stats.yaml").read_bytes()
    )
    server.root = bad_root
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=r"Schmidt_1e-1\.hdf5.*failed verification"):
        _fetch(server, dest)
    final = dest / url_path.lstrip("/")
    assert not final.exists()
    assert not final.with_name(final.name + ".part").exists()
    # One fresh retry after the first failed verification, then give up.
    assert server.requests_for(url_path) == [None, None]


def test_invalid_existing_file_is_replaced(server, served_root, tmp_path, sleeps):
    url_path = _url_path("train", PAIRS[0])
    final = tmp_path / "dest" / url_path.lstrip("/")
    final.parent.mkdir(parents=True)
    final.write_bytes(b"not an hdf5 file")
    _fetch(server, tmp_path / "dest")
    assert final.read_bytes() == (served_root / url_path.lstrip("/")).read_bytes()


def test_404_fails_fast_naming_the_file(server, tmp_path, sleeps):
    missing = (5e5, 10.0)
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=r"Reynolds_5e5_Schmidt_1e1\.hdf5: HTTP 404"):
        _fetch(server, dest, pair=missing)
    assert len(server.requests_for(_url_path("train", missing))) == 1
    assert sleeps == []
    assert not (dest / _url_path("train", missing).lstrip("/")).exists()


def test_download_file_without_check(server, served_root, tmp_path, sleeps):
    target = tmp_path / "stats.yaml"
    download_file(
        f"{server.base_url}/datasets/shear_flow/stats.yaml", target, progress=False, timeout_s=5
    )
    assert target.read_bytes() == (served_root / "datasets/shear_flow/stats.yaml").read_bytes()
