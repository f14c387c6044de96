"""Tests of the shear_flow Well file format helpers (workflow_scripts.data.well_format)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from workflow_scripts.data import well_format
from workflow_scripts.data.moments import RunningMoments, block_moments, merge_moments, summarise
from workflow_scripts.data.well_format import (
    REYNOLDS_NUMBERS,
    SCHMIDT_NUMBERS,
    WELL_FILE_STEM,
    WellFileInfo,
    WellFormatError,
    compute_stats,
    parse_well_file_name,
    validate_well_file,
    well_file_name,
    write_stats_yaml,
    write_well_file,
)
from workflow_scripts.physics.fields import FIELD_NAMES


def make_fields(shape=(2, 6, 16, 32), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Distinct offsets/scales per field so a channel mix-up cannot go unnoticed.
    return {
        name: (rng.standard_normal(shape) * (i + 1) + 10 * i).astype(np.float32)
        for i, name in enumerate(FIELD_NAMES)
    }


def write_sample(path: Path, shape=(2, 6, 16, 32), seed: int = 0, re=1e4, sc=0.1) -> dict:
    fields = make_fields(shape, seed)
    _, n_time, nx, ny = shape
    write_well_file(
        path,
        **fields,
        time=np.arange(n_time) * 0.1,
        x=np.arange(nx) / nx,
        y=-1 + 2 * np.arange(ny) / ny,
        reynolds=re,
        schmidt=sc,
    )
    return fields


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("re", "sc", "name"),
    [
        (1e4, 0.1, "shear_flow_Reynolds_1e4_Schmidt_1e-1.hdf5"),
        (5e4, 0.2, "shear_flow_Reynolds_5e4_Schmidt_2e-1.hdf5"),
        (1e5, 0.5, "shear_flow_Reynolds_1e5_Schmidt_5e-1.hdf5"),
        (5e5, 1, "shear_flow_Reynolds_5e5_Schmidt_1e0.hdf5"),
        (10000, 2.0, "shear_flow_Reynolds_1e4_Schmidt_2e0.hdf5"),
        (1e4, 5, "shear_flow_Reynolds_1e4_Schmidt_5e0.hdf5"),
        (1e4, 10, "shear_flow_Reynolds_1e4_Schmidt_1e1.hdf5"),
    ],
)
def test_well_file_name(re, sc, name):
    assert well_file_name(re, sc) == name
    assert parse_well_file_name(name) == (float(re), float(sc))


def test_file_names_follow_the_one_stem_pattern():
    """The rules' wildcard pattern is WELL_FILE_STEM: every name fills it, nothing else."""
    assert WELL_FILE_STEM == "shear_flow_Reynolds_{reynolds}_Schmidt_{schmidt}"
    expected = WELL_FILE_STEM.format(reynolds="1e4", schmidt="2e-1") + ".hdf5"
    assert well_file_name(1e4, 0.2) == expected
    with pytest.raises(ValueError, match="not a shear_flow file name"):
        parse_well_file_name("shear_flow_Re_1e4_Schmidt_2e-1.hdf5")


def test_merge_moments_matches_numpy_whatever_the_split():
    """One merge serves both statistics files: it must not depend on how data are blocked,
    and must keep the variance of a field far from zero mean (no sum-of-squares cancellation)."""
    rng = np.random.default_rng(3)
    values = 1e4 + rng.standard_normal(1000)
    cuts = np.sort(rng.choice(np.arange(1, 1000), size=7, replace=False))
    rows = np.stack([block_moments(part) for part in np.split(values, cuts)])
    rows = np.concatenate([rows, block_moments(values[:0])[None]])  # an empty block
    mean, std, rms = summarise(merge_moments(rows))
    assert mean == pytest.approx(values.mean(), rel=1e-14)
    assert std == pytest.approx(values.std(), rel=1e-10)
    assert rms == pytest.approx(np.sqrt((values**2).mean()), rel=1e-14)
    running = RunningMoments()
    for part in np.split(values, cuts):
        running.update(part)
    assert running.result() == pytest.approx((mean, std, rms), rel=1e-12)


def test_all_names_distinct_and_parse_back():
    names = {well_file_name(r, s) for r in REYNOLDS_NUMBERS for s in SCHMIDT_NUMBERS}
    assert len(names) == 28
    for name in names:
        assert well_file_name(*parse_well_file_name(name)) == name


@pytest.mark.parametrize(("re", "sc", "bad"), [(2e4, 0.1, "20000"), (1e4, 0.3, "0.3")])
def test_well_file_name_rejects_unknown_parameters(re, sc, bad):
    with pytest.raises(ValueError, match=bad):
        well_file_name(re, sc)


# --------------------------------------------------------------------------- round trip


def test_round_trip_layout_and_values(tmp_path):
    path = tmp_path / well_file_name(5e4, 2.0)
    fields = write_sample(path, re=5e4, sc=2.0)
    # No temporary file left beside the result.
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]

    info = validate_well_file(path, expected_shape=(2, 6, 16, 32))
    assert info == WellFileInfo(2, 6, 16, 32, 5e4, 2.0)
    assert validate_well_file(path, expected_shape=(None, 6, None, 32)) == info

    with h5py.File(path, "r") as f:
        assert f.attrs["dataset_name"] == "shear_flow"
        assert f.attrs["grid_type"] == "cartesian"
        assert f.attrs["n_spatial_dims"] == 2
        assert f.attrs["n_trajectories"] == 2
        assert list(f.attrs["simulation_parameters"]) == ["Rayleigh", "Schmidt"]
        assert f.attrs["Rayleigh"] == 5e4 and f.attrs["Schmidt"] == 2.0
        assert list(f["dimensions"].attrs["spatial_dims"]) == ["x", "y"]
        assert f["dimensions/time"].shape == (6,) and f["dimensions/time"].attrs["time_varying"]
        np.testing.assert_allclose(f["dimensions/y"][:2], [-1.0, -1 + 2 / 32])
        for dim in ("x", "y"):
            bc = f[f"boundary_conditions/{dim}_periodic"]
            assert bc.attrs["bc_type"] == "PERIODIC"
            assert list(bc.attrs["associated_dims"]) == [dim]
            assert bc["mask"].dtype == bool and bc["mask"][0] and bc["mask"][-1]
        assert list(f["scalars"].attrs["field_names"]) == ["Rayleigh", "Schmidt"]
        assert f["scalars/Rayleigh"][()] == 5e4 and f["scalars/Schmidt"][()] == 2.0
        assert list(f["t0_fields"].attrs["field_names"]) == ["tracer", "pressure"]
        assert list(f["t1_fields"].attrs["field_names"]) == ["velocity"]
        assert len(f["t2_fields"].attrs["field_names"]) == 0
        for name in ("tracer", "pressure"):
            dset = f[f"t0_fields/{name}"]
            assert dset.dtype == np.float32 and dset.shape == (2, 6, 16, 32)
            assert list(dset.attrs["dim_varying"]) == [True, True]
            assert dset.attrs["sample_varying"] and dset.attrs["time_varying"]
            np.testing.assert_array_equal(dset[...], fields[name])
        velocity = f["t1_fields/velocity"]
        assert velocity.dtype == np.float32 and velocity.shape == (2, 6, 16, 32, 2)
        np.testing.assert_array_equal(velocity[..., 0], fields["velocity_x"])
        np.testing.assert_array_equal(velocity[..., 1], fields["velocity_y"])


def test_write_rejects_inconsistent_shapes(tmp_path):
    fields = make_fields()
    fields["pressure"] = fields["pressure"][:, :5]
    with pytest.raises(ValueError, match="pressure"):
        write_well_file(
            tmp_path / "a.hdf5",
            **fields,
            time=np.arange(6.0),
            x=np.arange(16.0),
            y=np.arange(32.0),
            reynolds=1e4,
            schmidt=0.1,
        )
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def crash(_path):
        raise RuntimeError("simulated crash before rename")

    monkeypatch.setattr(well_format, "fsync_path", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_sample(tmp_path / well_file_name(1e4, 0.1))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- validation


@pytest.fixture
def good_file(tmp_path) -> Path:
    path = tmp_path / well_file_name(1e4, 0.1)
    write_sample(path)
    return path


def test_validate_missing_file(tmp_path):
    path = tmp_path / "nope.hdf5"
    with pytest.raises(WellFormatError, match="nope.hdf5: missing file"):
        validate_well_file(path)


def test_validate_truncated_file(good_file, tmp_path):
    cut = tmp_path / "cut.hdf5"
    data = good_file.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WellFormatError, match="cut.hdf5: not a readable HDF5"):
        validate_well_file(cut)


def test_validate_not_hdf5(tmp_path):
    path = tmp_path / "text.hdf5"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(WellFormatError, match="text.hdf5: not a readable HDF5"):
        validate_well_file(path)


def test_validate_other_hdf5(tmp_path):
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    with pytest.raises(WellFormatError, match="other.hdf5: root attribute dataset_name"):
        validate_well_file(path)


def test_validate_missing_field(good_file):
    with h5py.File(good_file, "a") as f:
        del f["t0_fields/pressure"]
    with pytest.raises(WellFormatError, match="missing field t0_fields/pressure"):
        validate_well_file(good_file)


def test_validate_missing_group(good_file):
    with h5py.File(good_file, "a") as f:
        del f["scalars"]
    with pytest.raises(WellFormatError, match="missing group scalars/"):
        validate_well_file(good_file)


def test_validate_wrong_field_shape(good_file):
    with h5py.File(good_file, "a") as f:
        del f["t0_fields/pressure"]
        f["t0_fields"].create_dataset("pressure", data=np.zeros((2, 5, 16, 32), np.float32))
    with pytest.raises(WellFormatError, match=r"t0_fields/pressure has shape \(2, 5, 16, 32\)"):
        validate_well_file(good_file)


def test_validate_wrong_velocity_and_dtype(good_file):
    with h5py.File(good_file, "a") as f:
        del f["t1_fields/velocity"]
        f["t1_fields"].create_dataset("velocity", data=np.zeros((2, 6, 16, 32, 3), np.float32))
    with pytest.raises(WellFormatError, match="t1_fields/velocity has shape"):
        validate_well_file(good_file)
    with h5py.File(good_file, "a") as f:
        del f["t1_fields/velocity"]
        f["t1_fields"].create_dataset("velocity", data=np.zeros((2, 6, 16, 32, 2)))
    with pytest.raises(WellFormatError, match="velocity has dtype float64"):
        validate_well_file(good_file)


def test_validate_wrong_grid_length(good_file):
    with h5py.File(good_file, "a") as f:
        del f["dimensions/time"]
        f["dimensions"].create_dataset("time", data=np.arange(7.0))
    with pytest.raises(WellFormatError, match=r"dimensions/time has shape \(7,\)"):
        validate_well_file(good_file)


def test_validate_expected_shape(good_file):
    with pytest.raises(WellFormatError, match="expected"):
        validate_well_file(good_file, expected_shape=(2, 200, 256, 512))


# --------------------------------------------------------------------------- stats


def test_stats_match_numpy(tmp_path):
    paths = [tmp_path / well_file_name(1e4, 0.1), tmp_path / well_file_name(1e4, 0.2)]
    arrays = [write_sample(paths[0], seed=1), write_sample(paths[1], shape=(3, 6, 16, 32), seed=2)]
    # A tiny block size forces several time blocks per trajectory (boundaries must not lose deltas).
    stats = compute_stats(paths, max_block_elements=2 * 16 * 32 * 2)

    def numpy_stats(get):
        values = np.concatenate([get(a).reshape(-1, *get(a).shape[4:]) for a in arrays])
        deltas = np.concatenate(
            [
                np.diff(get(a).astype(np.float64), axis=1).reshape(-1, *get(a).shape[4:])
                for a in arrays
            ]
        )
        out = {}
        for suffix, data in (("", values.astype(np.float64)), ("_delta", deltas)):
            out[f"mean{suffix}"] = data.mean(axis=0)
            out[f"std{suffix}"] = data.std(axis=0)
            out[f"rms{suffix}"] = np.sqrt((data**2).mean(axis=0))
        return out

    expected = {
        "tracer": numpy_stats(lambda a: a["tracer"]),
        "pressure": numpy_stats(lambda a: a["pressure"]),
        "velocity": numpy_stats(lambda a: np.stack([a["velocity_x"], a["velocity_y"]], -1)),
    }
    assert set(stats) == {"mean", "std", "rms", "mean_delta", "std_delta", "rms_delta"}
    for key, per_field in stats.items():
        assert set(per_field) == {"tracer", "pressure", "velocity"}
        for field, value in per_field.items():
            assert isinstance(value, list) == (field == "velocity")
            np.testing.assert_allclose(value, expected[field][key], rtol=1e-10, atol=1e-12)

    out = tmp_path / "stats.yaml"
    write_stats_yaml(stats, out)
    assert yaml.safe_load(out.read_text()) == stats


def test_compute_stats_rejects_bad_file(tmp_path):
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(WellFormatError, match="bad.hdf5"):
        compute_stats([bad])


# --------------------------------------------------------------------------- the_well loader


def test_the_well_reads_written_files(tmp_path):
    os.environ.setdefault("WANDB_MODE", "disabled")
    the_well_data = pytest.importorskip("the_well.data")
    normalization = pytest.importorskip("the_well.data.normalization")

    root = tmp_path / "datasets" / "shear_flow"
    path = root / "data" / "train" / well_file_name(1e4, 0.1)
    fields = write_sample(path)
    stats = compute_stats([path])
    write_stats_yaml(stats, root / "stats.yaml")

    common = dict(
        well_base_path=str(tmp_path / "datasets"),
        well_dataset_name="shear_flow",
        well_split_name="train",
        n_steps_input=4,
        n_steps_output=1,
    )
    raw = the_well_data.WellDataset(**common, use_normalization=False)
    normed = the_well_data.WellDataset(
        **common,
        use_normalization=True,
        normalization_type=normalization.ZScoreNormalization,
    )
    # 2 trajectories x (6 - 5 + 1) windows.
    assert len(raw) == 4
    assert raw.metadata.field_names == {
        0: ["tracer", "pressure"],
        1: ["velocity_x", "velocity_y"],
        2: [],
    }
    assert raw.metadata.constant_scalar_names == ["Rayleigh", "Schmidt"]
    assert raw.metadata.spatial_resolution == (16, 32)

    means = np.array(
        [stats["mean"]["tracer"], stats["mean"]["pressure"], *stats["mean"]["velocity"]]
    )
    stds = np.array([stats["std"]["tracer"], stats["std"]["pressure"], *stats["std"]["velocity"]])
    expected_all = np.stack([fields[name] for name in FIELD_NAMES], axis=-1)  # (B, T, nx, ny, 4)
    for index, (traj, t0) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        sample = raw[index]
        assert tuple(sample["input_fields"].shape) == (4, 16, 32, 4)
        assert tuple(sample["output_fields"].shape) == (1, 16, 32, 4)
        expected_in = expected_all[traj, t0 : t0 + 4]
        np.testing.assert_array_equal(sample["input_fields"].numpy(), expected_in)
        np.testing.assert_array_equal(
            sample["output_fields"].numpy(), expected_all[traj, t0 + 4 : t0 + 5]
        )
        np.testing.assert_allclose(sample["constant_scalars"].numpy(), [1e4, 0.1])
        # Periodic in both directions (the_well encodes PERIODIC as 2).
        np.testing.assert_array_equal(sample["boundary_conditions"].numpy(), np.full((2, 2), 2))

        normed_in = normed[index]["input_fields"].numpy().astype(np.float64)
        np.testing.assert_allclose(normed_in * stds + means, expected_in, rtol=1e-5, atol=1e-4)


def test_stats_file_missing_a_field_is_rejected_naming_file_and_field(tmp_path):
    from workflow_scripts.data.well_format import STATS_KEYS, validate_stats_file

    complete = {key: {"tracer": 0.1, "pressure": 0.2, "velocity": [0.3, 0.4]} for key in STATS_KEYS}
    good = tmp_path / "stats.yaml"
    good.write_text(yaml.safe_dump(complete))
    assert validate_stats_file(good)["std"]["tracer"] == 0.1
    del complete["std_delta"]["pressure"]
    bad = tmp_path / "bad_stats.yaml"
    bad.write_text(yaml.safe_dump(complete))
    with pytest.raises(WellFormatError, match=r"bad_stats\.yaml.*std_delta.*pressure"):
        validate_stats_file(bad)
    with pytest.raises(WellFormatError, match="does not exist"):
        validate_stats_file(tmp_path / "absent.yaml")
