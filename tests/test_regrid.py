"""Tests of the regridding stage: Well HDF5 files -> coarse Zarr training store."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np
import pytest
import xarray as xr
import yaml
import zarr

from workflow_scripts.data import normalisation, well_reader, zarr_store
from workflow_scripts.data.coarsening import block_mean_planes, coarsen, spectral_truncate_planes
from workflow_scripts.data.errors import RegridError
from workflow_scripts.data.regrid import regrid_well_files
from workflow_scripts.data.well_format import (
    WellFormatError,
    well_file_name,
    write_well_file,
)
from workflow_scripts.data.well_reader import open_well_files
from workflow_scripts.data.zarr_store import stats_path_for, write_training_store
from workflow_scripts.physics.fields import FIELD_NAMES

N_TRAJ, N_TIME, NX, NY = 2, 6, 16, 32


def grid(nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """The Well's periodic grids x_j = j/nx on [0, 1), y_j = -1 + 2j/ny on [-1, 1)."""
    return np.arange(nx) / nx, -1 + 2 * np.arange(ny) / ny


def band_limited(x: np.ndarray, y: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """A few Fourier modes with |kx| <= 4, |ky| <= 4 (y period 2), including the Nyquist
    cosines of an 8 x 8 grid, which such a grid represents exactly."""
    X, Y = np.meshgrid(x, y, indexing="ij")
    return (
        0.7
        + np.sin(2 * np.pi * 3 * X + phase) * np.cos(np.pi * 2 * Y)
        + 0.5 * np.cos(2 * np.pi * X - 0.4) * np.sin(np.pi * 3 * Y + phase)
        + 0.25 * np.cos(2 * np.pi * 4 * X)  # kx = 4: the Nyquist mode of nx = 8
        + 0.125 * np.cos(np.pi * 4 * Y + 2 * np.pi * 2 * X)  # ky = 4: Nyquist of ny = 8
    )


def write_file(path: Path, fields: dict[str, np.ndarray], reynolds=1e4, schmidt=0.1) -> Path:
    n_traj, n_time, nx, ny = fields["tracer"].shape
    x, y = grid(nx, ny)
    write_well_file(
        path, **fields, time=0.1 * np.arange(n_time), x=x, y=y, reynolds=reynolds, schmidt=schmidt
    )
    return path


def random_fields(seed: int, shape=(N_TRAJ, N_TIME, NX, NY)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name in FIELD_NAMES}


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[list[Path], list[dict[str, np.ndarray]]]:
    fields = [random_fields(0), random_fields(1)]
    paths = [
        write_file(tmp_path / well_file_name(1e4, 0.1), fields[0], 1e4, 0.1),
        write_file(tmp_path / well_file_name(5e4, 2.0), fields[1], 5e4, 2.0),
    ]
    return paths, fields


def stacked(fields: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    return np.concatenate([f[name] for f in fields], axis=0)


# ------------------------------------------------------------------------------ pure numerics


@pytest.mark.parametrize("method", ["block_mean", "spectral"])
def test_constant_stays_constant(tmp_path: Path, method: str) -> None:
    constant = np.full((N_TRAJ, N_TIME, NX, NY), 0.375, dtype=np.float32)
    path = write_file(tmp_path / well_file_name(1e4, 0.1), dict.fromkeys(FIELD_NAMES, constant))
    coarse = coarsen(open_well_files([path]), 8, 8, method).compute()
    for name in FIELD_NAMES:
        np.testing.assert_allclose(coarse[name].values, 0.375, rtol=0, atol=1e-7)


@pytest.mark.parametrize("target", [(8, 8), (8, 16), (9, 11), (16, 32)])
def test_spectral_preserves_band_limited_field(target: tuple[int, int]) -> None:
    x, y = grid(NX, NY)
    planes = np.stack([band_limited(x, y, phase) for phase in (0.0, 0.3)]).astype(np.float32)
    coarse = spectral_truncate_planes(planes, *target)
    xc, yc = grid(*target)
    expected = np.stack([band_limited(xc, yc, phase) for phase in (0.0, 0.3)])
    # Even targets hold the |k| = 4 cosines in their Nyquist bins, odd ones as ordinary modes.
    np.testing.assert_allclose(coarse, expected, rtol=0, atol=4e-7)


def test_coarse_values_sit_at_their_coordinates(tmp_path: Path) -> None:
    """Spectral values are the field at the target grid; block means are the field at the
    block centroids to second order, far closer than at the unshifted target grid."""
    x, y = grid(NX, NY)
    smooth = np.broadcast_to(band_limited(x, y), (1, 2, NX, NY)).astype(np.float32)
    path = write_file(tmp_path / well_file_name(1e4, 0.1), dict.fromkeys(FIELD_NAMES, smooth))
    source = open_well_files([path])
    spectral = coarsen(source, 8, 16, "spectral")
    expected = band_limited(spectral["x"].values, spectral["y"].values)
    # Looser than float32 round-off of the values: the stored coordinates are float32 too.
    np.testing.assert_allclose(spectral["tracer"].values[0, 0], expected, atol=2e-6)

    gentle = np.broadcast_to(
        np.sin(2 * np.pi * x)[:, None] * np.cos(np.pi * y)[None, :], (1, 2, NX, NY)
    ).astype(np.float32)
    path = write_file(tmp_path / well_file_name(1e4, 0.2), dict.fromkeys(FIELD_NAMES, gentle))
    coarse = coarsen(open_well_files([path]), 4, 8, "block_mean")
    block = coarse["tracer"].values[0, 0]
    xb, yb = coarse["x"].values, coarse["y"].values
    at_centroids = np.sin(2 * np.pi * xb)[:, None] * np.cos(np.pi * yb)[None, :]
    x4, y8 = grid(4, 8)
    at_grid = np.sin(2 * np.pi * x4)[:, None] * np.cos(np.pi * y8)[None, :]
    error_centroids = np.abs(block - at_centroids).max()
    # Only the O(h^2) smoothing of a 4-point block mean (amplitude x0.906 along x) remains.
    assert error_centroids < 0.1
    assert np.abs(block - at_grid).max() > 4 * error_centroids


def test_spectral_drops_unresolved_modes_without_aliasing() -> None:
    x, y = grid(NX, NY)
    X, _ = np.meshgrid(x, y, indexing="ij")
    # kx = 5 does not fit an 8-point grid; sampled there it would alias onto kx = -3.
    planes = (1.0 + np.cos(2 * np.pi * 5 * X))[None].astype(np.float32)
    np.testing.assert_allclose(spectral_truncate_planes(planes, 8, 8), 1.0, atol=1e-7)
    # Of the Nyquist pair only the cosine is representable: sin(pi*nx*x) vanishes on the grid.
    planes = np.sin(2 * np.pi * 4 * X)[None].astype(np.float32)
    np.testing.assert_allclose(spectral_truncate_planes(planes, 8, 8), 0.0, atol=1e-7)


@pytest.mark.parametrize("method", ["block_mean", "spectral"])
def test_mean_of_each_field_is_conserved(two_files, method: str) -> None:
    paths, fields = two_files
    coarse = coarsen(open_well_files(paths), 8, 16, method).compute()
    for name in FIELD_NAMES:
        source = stacked(fields, name).astype(np.float64)
        np.testing.assert_allclose(
            coarse[name].values.mean(axis=(-2, -1), dtype=np.float64),
            source.mean(axis=(-2, -1)),
            rtol=0,
            atol=1e-6,
        )


def test_block_mean_matches_numpy_reshape_mean(two_files) -> None:
    paths, fields = two_files
    coarse = coarsen(open_well_files(paths), 4, 8, "block_mean")
    for name in FIELD_NAMES:
        source = stacked(fields, name)
        expected = source.reshape(2 * N_TRAJ, N_TIME, 4, NX // 4, 8, NY // 8).mean(axis=(3, 5))
        np.testing.assert_allclose(coarse[name].values, expected, rtol=0, atol=1e-6)
    assert block_mean_planes(np.arange(16, dtype=np.float32).reshape(4, 4), 2, 2).tolist() == [
        [2.5, 4.5],
        [10.5, 12.5],
    ]


def test_coordinates_after_coarsening(two_files) -> None:
    paths, _ = two_files
    source = open_well_files(paths)
    spectral = coarsen(source, 8, 16, "spectral")
    x8, y16 = grid(8, 16)
    np.testing.assert_allclose(spectral["x"], x8, atol=1e-7)
    np.testing.assert_allclose(spectral["y"], y16, atol=1e-7)
    assert spectral.attrs["grid_offset_x"] == 0.0
    # Block means sit at the block centroids: the target grid + (f - 1) / 2 fine cells.
    block = coarsen(source, 8, 16, "block_mean")
    np.testing.assert_allclose(block["x"], x8 + 0.5 / NX, atol=1e-7)
    np.testing.assert_allclose(block["y"], y16 + 2 * 0.5 / NY, atol=1e-7)
    assert block.attrs["grid_offset_x"] == pytest.approx(0.5 / NX)
    assert block.attrs["grid_offset_y"] == pytest.approx(1.0 / NY)
    np.testing.assert_array_equal(block["reynolds"], [1e4, 1e4, 5e4, 5e4])
    np.testing.assert_array_equal(block["schmidt"], [0.1, 0.1, 2.0, 2.0])


# ------------------------------------------------------------------------------ reading


def test_open_well_files_reads_the_layout(two_files) -> None:
    paths, fields = two_files
    ds = open_well_files(paths, time_chunk=4)
    assert dict(ds.sizes) == {"trajectory": 4, "time": N_TIME, "x": NX, "y": NY}
    assert ds.attrs["source_files"] == [p.name for p in paths]
    for name in FIELD_NAMES:
        assert ds[name].dtype == np.float32
        assert ds[name].data.chunks == ((1,) * 4, (4, 2), (NX,), (NY,))
        np.testing.assert_array_equal(ds[name].values, stacked(fields, name))
    # velocity_x / velocity_y are the components of t1_fields/velocity.
    with h5py.File(paths[1]) as handle:
        np.testing.assert_array_equal(handle["t1_fields/velocity"][..., 1], fields[1]["velocity_y"])


def test_raw_reads_match_h5py(two_files, monkeypatch) -> None:
    """Contiguous slabs are read directly from the file; the bytes are those h5py returns."""
    paths, fields = two_files
    raw_reads: list[tuple[int, ...]] = []
    read_raw = well_reader.H5Slab._read_raw

    def counting_read_raw(self, first, shape):
        raw_reads.append(shape)
        return read_raw(self, first, shape)

    monkeypatch.setattr(well_reader.H5Slab, "_read_raw", counting_read_raw)
    np.testing.assert_array_equal(
        open_well_files(paths[:1], time_chunk=4)["velocity_y"].values, fields[0]["velocity_y"]
    )
    assert sorted(raw_reads) == [(1, 2, NX, NY, 2)] * 2 + [(1, 4, NX, NY, 2)] * 2
    with h5py.File(paths[0]) as handle:
        dset = handle["t1_fields/velocity"]
        reader = well_reader.H5Slab(
            str(paths[0]), dset.name, dset.shape, dset.dtype, (0, 0), well_reader._raw_offset(dset)
        )
        assert reader.raw_offset is not None
        whole = slice(None)
        keys = [  # (key, served by one raw read)
            ((slice(1, 2), slice(2, 5), whole, whole, 1), True),  # a component of one run
            ((slice(0, 2), slice(0, N_TIME)), True),  # the whole array
            ((0, 3, slice(2, 9), whole, 0), True),  # rows of one plane
            ((slice(0, 2), slice(2, 5), whole, whole), False),  # two runs
            ((slice(0, 1), slice(0, 6, 2)), False),  # strided
        ]
        for key, raw in keys:
            assert (reader._raw_read_plan(key) is not None) == raw, key
            np.testing.assert_array_equal(reader[key], dset[key])


def test_chunked_compressed_files_are_read_through_h5py(tmp_path: Path) -> None:
    """Files whose fields are chunked and compressed (no raw byte range) still read right."""
    fields = random_fields(3)
    path = write_file(tmp_path / well_file_name(1e5, 5.0), fields, 1e5, 5.0)
    with h5py.File(path, "a") as handle:
        for name in ("t0_fields/tracer", "t0_fields/pressure", "t1_fields/velocity"):
            data, attrs = handle[name][()], dict(handle[name].attrs)
            del handle[name]
            dset = handle.create_dataset(name, data=data, chunks=True, compression="gzip")
            dset.attrs.update(attrs)
    ds = open_well_files([path], time_chunk=4)
    for name in FIELD_NAMES:
        np.testing.assert_array_equal(ds[name].values, fields[name])


def test_result_is_lazy_until_written(two_files, tmp_path: Path, monkeypatch) -> None:
    paths, _ = two_files
    reads: list[str] = []
    read = well_reader.H5Slab.__getitem__

    def counting_read(self, key):
        reads.append(self.dataset)
        return read(self, key)

    monkeypatch.setattr(well_reader.H5Slab, "__getitem__", counting_read)
    for method in ("block_mean", "spectral"):
        coarse = coarsen(open_well_files(paths, time_chunk=3), 8, 8, method)
        assert all(isinstance(coarse[name].data, da.Array) for name in FIELD_NAMES)
        assert all(max(coarse[name].data.chunks[1]) == 3 for name in FIELD_NAMES)
    assert reads == []
    write_training_store(coarse, tmp_path / "lazy.zarr", time_chunk=3)
    # Each (trajectory, time window) chunk read once per dataset: velocity once, not per
    # component.
    assert len(reads) == 4 * 2 * 3


# ------------------------------------------------------------------------------ Zarr store


def test_store_round_trips_with_chunks_and_stats(two_files, tmp_path: Path) -> None:
    paths, fields = two_files
    # Tasks of 4 steps, store chunks of 2: each write spans two Zarr chunks, and the
    # statistics see one-step differences across task boundaries.
    store = regrid_well_files(
        paths,
        tmp_path / "out" / "train.zarr",
        nx=8,
        ny=16,
        method="block_mean",
        time_chunk=2,
        read_time_chunk=4,
    )
    assert store == tmp_path / "out" / "train.zarr"
    reopened = xr.open_zarr(store)
    assert dict(reopened.sizes) == {"trajectory": 4, "time": N_TIME, "x": 8, "y": 16}
    for name in FIELD_NAMES:
        assert reopened[name].encoding["chunks"] == (1, 2, 8, 16)
        source = stacked(fields, name)
        expected = source.reshape(4, N_TIME, 8, 2, 16, 2).mean(axis=(3, 5))
        np.testing.assert_allclose(reopened[name].values, expected, atol=1e-6)
    np.testing.assert_array_equal(reopened["schmidt"], [0.1, 0.1, 2.0, 2.0])
    assert reopened.attrs["regrid_method"] == "block_mean"
    assert reopened.attrs["source_grid"] == [NX, NY]

    stats_file = yaml.safe_load(stats_path_for(store).read_text())
    assert stats_path_for(store) == tmp_path / "out" / "train.stats.yaml"
    assert stats_file == reopened.attrs["stats"] == dict(zarr.open_group(store).attrs)["stats"]
    for name in FIELD_NAMES:
        values = reopened[name].values.astype(np.float64)
        delta = np.diff(values, axis=1)  # within each trajectory only
        assert stats_file["mean"][name] == pytest.approx(values.mean(), abs=1e-12)
        assert stats_file["std"][name] == pytest.approx(values.std(), rel=1e-10)
        assert stats_file["rms"][name] == pytest.approx(np.sqrt((values**2).mean()), rel=1e-10)
        assert stats_file["mean_delta"][name] == pytest.approx(delta.mean(), abs=1e-12)
        assert stats_file["std_delta"][name] == pytest.approx(delta.std(), rel=1e-10)
    # The same statistics from the reopened store, chunked differently.
    again = normalisation.normalisation_stats(reopened.chunk({"time": 3}))
    for key, values in stats_file.items():
        assert again[key] == pytest.approx(values, rel=1e-9, abs=1e-12)
    # Nothing temporary is left beside the store.
    assert sorted(p.name for p in store.parent.iterdir()) == ["train.stats.yaml", "train.zarr"]


@pytest.mark.parametrize(
    "module, failing_step", [(normalisation, "_block_moments"), (zarr_store, "write_stats_yaml")]
)
def test_failed_write_leaves_no_store(
    two_files, tmp_path: Path, monkeypatch, module, failing_step: str
) -> None:
    """A failure inside the dask computation or after it leaves nothing behind."""
    paths, _ = two_files

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, failing_step, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        regrid_well_files(paths, tmp_path / "out" / "train.zarr", nx=8, ny=8, time_chunk=2)
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_store_needs_overwrite(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    store = tmp_path / "train.zarr"
    regrid_well_files(paths, store, nx=8, ny=8, time_chunk=2)
    with pytest.raises(FileExistsError, match="train.zarr"):
        regrid_well_files(paths, store, nx=4, ny=4, time_chunk=2)
    regrid_well_files(paths, store, nx=4, ny=4, time_chunk=2, overwrite=True)
    assert dict(xr.open_zarr(store).sizes)["x"] == 4
    assert sorted(p.name for p in tmp_path.iterdir() if not p.suffix == ".hdf5") == [
        "train.stats.yaml",
        "train.zarr",
    ]


# ------------------------------------------------------------------------------ bad input


def test_missing_file_is_named(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    missing = tmp_path / "shear_flow_Reynolds_1e5_Schmidt_1e0.hdf5"
    with pytest.raises(WellFormatError, match=f"{missing}.*missing"):
        open_well_files([paths[0], missing])


def test_truncated_file_is_named(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    truncated = tmp_path / "truncated.hdf5"
    data = paths[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WellFormatError, match=str(truncated)):
        open_well_files([paths[0], truncated])


def test_non_well_file_is_named(tmp_path: Path) -> None:
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as handle:
        handle["data"] = np.zeros((2, 3))
    with pytest.raises(WellFormatError, match=f"{other}.*dataset_name"):
        open_well_files([other])
    text = tmp_path / "text.hdf5"
    text.write_text("not HDF5 at all")
    with pytest.raises(WellFormatError, match=str(text)):
        open_well_files([text])


def test_resolution_not_dividing_the_grid_is_rejected(two_files) -> None:
    paths, _ = two_files
    ds = open_well_files(paths)
    with pytest.raises(RegridError, match=r"10x16 does not divide the source grid 16x32 of "):
        coarsen(ds, 10, 16, "block_mean")
    assert coarsen(ds, 10, 16, "spectral").sizes["x"] == 10  # fine for Fourier truncation


@pytest.mark.parametrize("method", ["block_mean", "spectral"])
def test_target_larger_than_source_is_rejected(two_files, method: str) -> None:
    paths, _ = two_files
    with pytest.raises(RegridError, match=r"32x32 is larger than the source grid 16x32"):
        coarsen(open_well_files(paths), 32, 32, method)


def test_bad_settings_are_rejected(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    with pytest.raises(RegridError, match="unknown regrid method 'bilinear'"):
        coarsen(open_well_files(paths), 8, 8, "bilinear")  # type: ignore[arg-type]
    with pytest.raises(RegridError, match="unknown dask scheduler 'gpu'"):
        regrid_well_files(paths, tmp_path / "s.zarr", nx=8, ny=8, scheduler="gpu")
    with pytest.raises(RegridError, match="no input"):
        open_well_files([])
    with pytest.raises(RegridError, match=r"read_time_chunk \(5\) must be a multiple of"):
        regrid_well_files(paths, tmp_path / "s.zarr", nx=8, ny=8, time_chunk=2, read_time_chunk=5)


def test_files_with_different_grids_are_rejected(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    other = write_file(tmp_path / "small.hdf5", random_fields(2, (1, N_TIME, 8, NY)))
    with pytest.raises(RegridError, match=f"{other}: its x grid"):
        open_well_files([paths[0], other])


# ------------------------------------------------------------------------------ schedulers


# "processes" works too but spawns a pool per compute (about 14 s here): the distributed test
# below covers pickling the HDF5 readers.
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_local_schedulers(two_files, tmp_path: Path, scheduler: str) -> None:
    paths, fields = two_files
    store = regrid_well_files(
        paths,
        tmp_path / "s.zarr",
        nx=8,
        ny=8,
        method="spectral",
        time_chunk=3,
        scheduler=scheduler,
        num_workers=2,
    )
    with dask.config.set(scheduler="synchronous"):
        expected = coarsen(open_well_files(paths), 8, 8, "spectral").compute()
    xr.testing.assert_allclose(
        xr.open_zarr(store)[list(FIELD_NAMES)].load(), expected[list(FIELD_NAMES)]
    )


def test_distributed_scheduler(two_files, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    paths, fields = two_files
    # Worker processes: the graph (with its HDF5 readers) must pickle to reach them.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        store = regrid_well_files(
            paths,
            tmp_path / "d.zarr",
            nx=8,
            ny=16,
            time_chunk=2,
            scheduler=cluster.scheduler_address,
        )
    reopened = xr.open_zarr(store)
    expected = stacked(fields, "pressure").reshape(4, N_TIME, 8, 2, 16, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(reopened["pressure"].values, expected, atol=1e-6)
    assert reopened["pressure"].encoding["chunks"] == (1, 2, 8, 16)


def test_the_slurm_scheduler_needs_its_settings(two_files, tmp_path: Path) -> None:
    paths, _ = two_files
    with pytest.raises(RegridError, match=r"data\.regrid\.slurm"):
        regrid_well_files(paths, tmp_path / "s.zarr", nx=8, ny=8, scheduler="slurm")


def test_the_slurm_cluster_is_closed_when_its_workers_never_come(monkeypatch) -> None:
    """The SLURMCluster is closed on every way out (a real one runs in tests/test_slurm.py)."""
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    from workflow_scripts.data.scheduler import SLURM_WORKER_JOB_NAME, dask_scheduler

    made = []

    class FakeCluster:
        def __init__(self, **kwargs):
            self.kwargs, self.closed = kwargs, False
            made.append(self)

        def scale(self, jobs):
            raise RuntimeError(f"sbatch refused {jobs} job(s)")

        def close(self):
            self.closed = True

    monkeypatch.setattr(dask_jobqueue, "SLURMCluster", FakeCluster)
    settings = {"workers": 3, "cores": 2, "memory": "4GB", "walltime": "01:00:00"}
    with pytest.raises(RuntimeError, match="sbatch refused 3 job"):
        with dask_scheduler("slurm", slurm={**settings, "partition": "cpu", "account": None}):
            pass
    (cluster,) = made
    assert cluster.closed
    assert cluster.kwargs["cores"] == 2 and cluster.kwargs["memory"] == "4GB"
    assert cluster.kwargs["queue"] == "cpu" and cluster.kwargs["job_name"] == SLURM_WORKER_JOB_NAME
