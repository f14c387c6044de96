"""Corrupt data-layer files are errors that name the file, the chunk and the rule that makes it.

The training stores carry a CRC-32C checksum per chunk, so a flipped bit, a lost chunk file or
a stats.yaml edited after the regrid are refused by the next read, instead of training on
silently different numbers; unreadable source files (HDF5, stats.yaml) name the simulate or
download rule.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
import yaml

from workflow_scripts.data.errors import CorruptStoreError, StoreError
from workflow_scripts.data.provenance import SIMULATED_ROOT
from workflow_scripts.data.regrid import regrid_well_files
from workflow_scripts.data.well_format import (
    WellFormatError,
    compute_stats,
    validate_stats_file,
    well_file_name,
    write_well_file,
)
from workflow_scripts.data.well_reader import open_well_files
from workflow_scripts.data.zarr_store import (
    STORE_CODECS,
    read_store_stats,
    read_training_store,
    stats_path_for,
)
from workflow_scripts.physics.fields import FIELD_NAMES

N_TRAJ, N_TIME, NX, NY = 2, 6, 16, 32


def write_source(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    fields = {name: rng.standard_normal((N_TRAJ, N_TIME, NX, NY)) for name in FIELD_NAMES}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_well_file(
        path,
        **fields,
        time=0.1 * np.arange(N_TIME),
        x=np.arange(NX) / NX,
        y=-1 + 2 * np.arange(NY) / NY,
        reynolds=1e4,
        schmidt=0.1,
    )
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A freshly regridded store (8 x 16, chunks of 2 time steps) with its stats beside it."""
    source = write_source(tmp_path / well_file_name(1e4, 0.1))
    return regrid_well_files([source], tmp_path / "data" / "train.zarr", nx=8, ny=16, time_chunk=2)


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------ stores


def test_fresh_store_reads_back_checked(store: Path) -> None:
    loaded = read_training_store(store)
    assert set(loaded.data_vars) == set(FIELD_NAMES)
    with xr.open_zarr(store) as lazy:
        for name in (*FIELD_NAMES, "reynolds", "time"):
            np.testing.assert_array_equal(loaded[name].values, lazy[name].values)
            # The checksum is the last codec of every array, data and coordinates alike.
            assert lazy[name].encoding["compressors"][-1].to_dict() == STORE_CODECS[-1].to_dict()


@pytest.mark.parametrize("variable", ["tracer", "velocity_y"])
def test_a_flipped_byte_in_a_chunk_names_store_variable_and_chunk(store, variable) -> None:
    chunk = store / variable / "c.1.2.0.0"  # trajectory 1, time steps 4-5
    assert chunk.is_file()
    flip_byte(chunk)
    with pytest.raises(CorruptStoreError) as caught:
        read_training_store(store)
    message = str(caught.value)
    assert str(store) in message
    assert f"chunk {variable}/c.1.2.0.0" in message
    assert "regrid_shear_flow" in message
    assert (caught.value.variable, caught.value.chunk_key) == (variable, "c.1.2.0.0")


def test_a_flipped_byte_in_a_coordinate_is_caught(store: Path) -> None:
    (chunk,) = [p for p in (store / "reynolds").rglob("*") if p.is_file() and p.name != "zarr.json"]
    flip_byte(chunk, offset=0)
    with pytest.raises(CorruptStoreError, match=r"chunk reynolds/"):
        read_training_store(store)


def test_a_missing_chunk_file_is_not_read_as_nan(store: Path) -> None:
    (store / "pressure" / "c.0.0.0.0").unlink()
    with pytest.raises(CorruptStoreError, match=r"chunk pressure/c\.0\.0\.0\.0 .*missing"):
        read_training_store(store)


def test_chunks_equal_to_the_fill_value_are_written(tmp_path: Path) -> None:
    """All-NaN (the fill value) chunks are stored too, so a missing file is always damage."""
    source = write_source(tmp_path / well_file_name(1e4, 0.1))
    with h5py.File(source, "a") as handle:
        handle["t0_fields/pressure"][0, :2] = np.nan
    store = regrid_well_files([source], tmp_path / "s.zarr", nx=8, ny=16, time_chunk=2)
    assert (store / "pressure" / "c.0.0.0.0").is_file()
    assert np.isnan(read_training_store(store)["pressure"].values[0, :2]).all()


def test_unreadable_store_metadata_names_store_and_rule(store: Path) -> None:
    (store / "zarr.json").write_text('{"zarr_format": 3, "node_type": "gr')
    with pytest.raises(StoreError, match=re.escape(str(store)) + ".*metadata.*regrid_shear_flow"):
        read_training_store(store)


def test_a_missing_store_names_the_rule(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"valid\.zarr: training store does not exist.*regrid"):
        read_training_store(tmp_path / "valid.zarr")


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not")
def test_a_store_without_checksums_still_reads_with_a_warning(store: Path, tmp_path, caplog):
    """Stores written before the checksums stay usable (the regrid rule re-makes them)."""
    old = tmp_path / "old.zarr"
    with xr.open_zarr(store) as ds:
        plain = ds.load()
    for var in plain.variables.values():
        var.encoding = {}
    plain.to_zarr(old, zarr_format=3, consolidated=True)
    with caplog.at_level(logging.WARNING):
        loaded = read_training_store(old)
    np.testing.assert_array_equal(loaded["tracer"].values, plain["tracer"].values)
    assert "no per-chunk checksums" in caplog.text and "--forcerun regrid_shear_flow" in caplog.text


def test_the_experiment_reads_through_the_checked_reader(store: Path) -> None:
    """The training job's data loading refuses a store changed after it was written."""
    from workflow_scripts.families.forecasting import load_split

    fields, _, _ = load_split(store.parent, "train")
    assert fields.shape == (N_TRAJ, N_TIME, len(FIELD_NAMES), 8, 16)
    flip_byte(store / "tracer" / "c.0.0.0.0")
    with pytest.raises(CorruptStoreError, match="tracer/c.0.0.0.0"):
        load_split(store.parent, "train")


# ------------------------------------------------------------------------------ store stats


def test_store_stats_read_back(store: Path) -> None:
    stats = read_store_stats(stats_path_for(store))
    assert stats == yaml.safe_load(stats_path_for(store).read_text())
    assert stats["std"]["tracer"] > 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("mean: {tracer: [1, 2\n", "not a readable stats.yaml"),
        ("- 1\n- 2\n", "not a mapping"),
        ("mean: {tracer: 1.0}\n", "lacks the 'std' section|pressure is None"),
        ("\xff\xfe", "not a readable stats.yaml"),
    ],
)
def test_unreadable_store_stats_name_file_and_rule(store: Path, content: str, problem) -> None:
    stats = stats_path_for(store)
    stats.write_bytes(content.encode("latin-1"))
    with pytest.raises(StoreError, match=f"{re.escape(str(stats))}: .*({problem})") as caught:
        read_store_stats(stats)
    assert "regrid_shear_flow" in str(caught.value)


def test_store_stats_edited_after_the_regrid_are_refused(store: Path) -> None:
    stats = stats_path_for(store)
    content = yaml.safe_load(stats.read_text())
    content["std"]["tracer"] *= 1.001
    stats.write_text(yaml.safe_dump(content, sort_keys=False))
    with pytest.raises(StoreError, match=r"std\.tracer is .* recorded .*changed"):
        read_store_stats(stats)


def test_missing_store_stats_name_the_rule(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"train\.stats\.yaml: stats file does not exist.*regrid"):
        read_store_stats(tmp_path / "train.stats.yaml")


# ------------------------------------------------------------------------------ sources


@pytest.mark.parametrize(
    ("root", "rule"),
    [
        (SIMULATED_ROOT, "simulate_shear_flow"),
        ("resources/the_well", "download_well_file"),
    ],
)
def test_a_truncated_source_file_names_file_and_rule(tmp_path: Path, root: str, rule) -> None:
    path = tmp_path / root / "datasets/shear_flow/data/train" / well_file_name(1e4, 0.1)
    data = write_source(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WellFormatError, match=f"{re.escape(str(path))}: .*made by rule {rule}"):
        open_well_files([path])
    with pytest.raises(WellFormatError, match=f"made by rule {rule}"):
        compute_stats([path])


def test_a_source_file_cut_after_it_was_opened_names_file_and_rule(tmp_path: Path) -> None:
    """The lazy reader's own reads (after validation) name the file and the rule too."""
    path = write_source(tmp_path / SIMULATED_ROOT / "datasets/shear_flow/data/train/x.hdf5")
    lazy = open_well_files([path])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=f"{re.escape(str(path))}: .*simulate_shear_flow"):
        lazy["velocity_x"].values  # noqa: B018


def test_a_corrupt_chunk_inside_a_valid_looking_source_file_is_named(tmp_path: Path) -> None:
    """A compressed chunk damaged in the middle passes the cheap validation (which reads the
    last element only); the full read of the source stats then names the file."""
    path = write_source(tmp_path / "resources/datasets/shear_flow/data/train/x.hdf5")
    with h5py.File(path, "a") as handle:
        data, attrs = handle["t0_fields/tracer"][()], dict(handle["t0_fields/tracer"].attrs)
        del handle["t0_fields/tracer"]
        dset = handle.create_dataset(
            "t0_fields/tracer", data=data, chunks=(1, 1, NX, NY), compression="gzip"
        )
        dset.attrs.update(attrs)
        first = dset.id.get_chunk_info(0)
    flip_byte(path, offset=first.byte_offset + first.size // 2)
    with pytest.raises(WellFormatError, match=f"{re.escape(str(path))}: .*download_well_file"):
        compute_stats([path])


@pytest.mark.parametrize(
    ("root", "rule"),
    [(SIMULATED_ROOT, "shear_flow_source_stats"), ("dest", "download_well_stats")],
)
def test_unreadable_source_stats_name_file_and_rule(tmp_path: Path, root: str, rule) -> None:
    stats = tmp_path / root / "datasets/shear_flow/stats.yaml"
    stats.parent.mkdir(parents=True)
    stats.write_text("mean: [\n")
    with pytest.raises(WellFormatError, match=f"{re.escape(str(stats))}: .*made by rule {rule}"):
        validate_stats_file(stats)
    with pytest.raises(WellFormatError, match="not a readable stats.yaml: line 2, column 1"):
        validate_stats_file(stats)


# ------------------------------------------------------------------------------ workflow


@pytest.mark.slow
def test_a_training_job_on_a_changed_store_fails_naming_the_chunk(tmp_path: Path) -> None:
    """A byte flipped in a regridded store after the regrid: the next job that reads it (the
    training) fails, its log names the store, the chunk and the rule, and no model is left."""
    from conftest import tiny_config
    from workflow_helpers import only, snakemake

    config = only(tiny_config(), "shear_flow", seeds=[0])
    block = config["experiments"]["shear_flow"]
    block["models"] = {"unet": block["models"]["unet"]}
    block["data"]["simulate"].update(
        {
            "nx": 16,
            "ny": 32,
            "reynolds": [1.0e4],
            "schmidt": [1.0],
            "trajectories": {"train": 1, "valid": 1, "test": 1},
            "n_snapshots": 8,
        }
    )
    block["data"]["regrid"].update({"nx": 8, "ny": 16, "time_chunk": 4})
    stores = [f"results/shear_flow/data/{split}.zarr" for split in ("train", "valid", "test")]
    snakemake(tmp_path, config, *stores)
    flip_byte(tmp_path / stores[0] / "tracer" / "c.0.1.0.0")

    run = tmp_path / "results" / "shear_flow" / "unet" / "seed0"
    result = snakemake(tmp_path, config, "results/shear_flow/unet/seed0/model.pt", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "train" / "shear_flow" / "unet" / "seed0.log").read_text()
    assert "CorruptStoreError" in log and "chunk tracer/c.0.1.0.0" in log
    assert "results/shear_flow/data/train.zarr" in log and "regrid_shear_flow" in log
    assert not (run / "model.pt").exists() and not (run / "train.json").exists()
