"""The shear-flow data branch through the Snakemake CLI: simulate or download, then regrid."""

from __future__ import annotations

import copy
import shutil
import threading

import pytest
import xarray as xr
import yaml
from conftest import tiny_config
from test_download import FaultyServer
from workflow_helpers import only, planned_jobs, snakemake

pytestmark = pytest.mark.slow


def shear_config() -> dict:
    config = only(tiny_config(), "shear_flow")
    data = config["experiments"]["shear_flow"]["data"]
    data["simulate"].update(
        {
            "nx": 16,
            "ny": 32,
            "reynolds": [1.0e4],
            "schmidt": [1.0],
            "trajectories": {"train": 2, "valid": 1, "test": 1},
            "n_snapshots": 8,
        }
    )
    data["regrid"].update({"nx": 8, "ny": 16, "time_chunk": 4})
    config["experiments"]["shear_flow"].pop("models", None)
    return config


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("shear_flow_data")
    config = shear_config()
    snakemake(workdir, config)
    return workdir, config


def test_simulated_source_is_regridded_to_one_store_per_split(simulated):
    workdir, _ = simulated
    data = workdir / "results" / "shear_flow" / "data"
    source = data / "simulated" / "datasets" / "shear_flow"
    assert (source / "stats.yaml").exists()
    for split, trajectories in (("train", 2), ("valid", 1), ("test", 1)):
        assert (source / "data" / split / "shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5").exists()
        store = xr.open_zarr(data / f"{split}.zarr")
        assert dict(store.sizes) == {"trajectory": trajectories, "time": 8, "x": 8, "y": 16}
        assert set(store.data_vars) == {"tracer", "pressure", "velocity_x", "velocity_y"}
        assert float(store["reynolds"][0]) == 1.0e4
        stats = yaml.safe_load((data / f"{split}.stats.yaml").read_text())
        assert stats["std"]["tracer"] > 0
        cost = yaml.safe_load((data / "regrid" / f"{split}.json").read_text())
        assert cost["data_energy_kwh"] > 0
    simulate_cost = data / "simulate" / "train" / "shear_flow_Reynolds_1e4_Schmidt_1e0.json"
    assert yaml.safe_load(simulate_cost.read_text())["trajectories"] == 2
    stats_cost = yaml.safe_load((data / "simulate" / "stats.json").read_text())
    assert stats_cost["stage"] == "source_stats" and stats_cost["data_energy_kwh"] > 0
    assert (data / "simulate" / "stats_emissions.csv").stat().st_size > 0


def test_lifecycle_counts_the_source_stats_stage(simulated):
    workdir, config = simulated
    with_models = copy.deepcopy(config)
    models = tiny_config()["experiments"]["shear_flow"]["models"]
    with_models["experiments"]["shear_flow"]["models"] = models
    plan = snakemake(workdir, with_models, "--dry-run", "results/shear_flow/summary.csv").stdout
    summarize = plan[plan.index("rule summarize:") :].split("\n\n")[0]
    assert "results/shear_flow/data/simulate/stats.json" in summarize


def with_regrid(config: dict, settings: dict) -> dict:
    """``config`` with ``settings`` merged into its shear-flow regrid block (a copy)."""
    config = copy.deepcopy(config)
    config["experiments"]["shear_flow"]["data"]["regrid"].update(settings)
    return config


def test_a_data_setting_re_runs_only_the_files_it_changes(simulated):
    workdir, config = simulated
    changed = copy.deepcopy(config)
    data = changed["experiments"]["shear_flow"]["data"]
    data["simulate"]["threads"] = 2
    data["regrid"]["scheduler"] = "synchronous"
    data["regrid"]["threads"] = 1
    assert planned_jobs(snakemake(workdir, changed, "--dry-run")) == {}
    # nor do Dask workers on Slurm: where the work runs does not change the store
    slurm = {"scheduler": "slurm", "slurm": {"workers": 2, "memory": "2GB", "walltime": "1:00:00"}}
    assert planned_jobs(snakemake(workdir, with_regrid(changed, slurm), "--dry-run")) == {}
    data["simulate"]["reynolds"] = [1.0e4, 5.0e4]  # one more pair: its files, not the others
    assert planned_jobs(snakemake(workdir, changed, "--dry-run")) == {
        "simulate_shear_flow": 3,
        "shear_flow_source_stats": 1,
        "regrid_shear_flow": 3,
        "all": 1,
    }


def test_download_rule_fetches_the_configured_files_and_regrid_reads_them(
    simulated, tmp_path, monkeypatch
):
    served, _ = simulated
    served_root = served / "results" / "shear_flow" / "data" / "simulated"
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    server = FaultyServer(served_root)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        config = shear_config()
        data = config["experiments"]["shear_flow"]["data"]
        data["source"] = "download"
        data["download"].update(
            {
                "base_url": server.base_url,
                "dest": "resources/the_well",
                "parameter_pairs": [[1.0e4, 1.0]],
                "retries": 1,
                "backoff_s": 0.01,
                "timeout_s": 10,
            }
        )
        snakemake(tmp_path, config, "download_the_well")
        downloaded = tmp_path / "resources" / "the_well" / "datasets" / "shear_flow"
        original = served_root / "datasets" / "shear_flow"
        for split in ("train", "valid", "test"):
            name = f"data/{split}/shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5"
            assert (downloaded / name).read_bytes() == (original / name).read_bytes()
        # Neither the retry knobs nor one more pair re-fetch a file already downloaded.
        data["download"].update(
            {
                "retries": 3,
                "backoff_s": 0.5,
                "timeout_s": 30,
                "parameter_pairs": [[1.0e4, 1.0], [5.0e4, 1.0]],
            }
        )
        plan = snakemake(tmp_path, config, "--dry-run", "download_the_well")
        assert planned_jobs(plan) == {"download_well_file": 3, "download_the_well": 1}
        data["download"]["parameter_pairs"] = [[1.0e4, 1.0]]
        snakemake(tmp_path, config)  # the default target regrids the downloaded files
        assert (
            xr.open_zarr(tmp_path / "results" / "shear_flow" / "data" / "train.zarr").sizes[
                "trajectory"
            ]
            == 2
        )
        assert not (tmp_path / "results" / "shear_flow" / "data" / "simulated").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_truncated_source_file_stops_regrid_naming_the_file(simulated, tmp_path):
    workdir, config = simulated
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(".snakemake"))
    well = (
        copy
        / "results"
        / "shear_flow"
        / "data"
        / "simulated"
        / "datasets"
        / "shear_flow"
        / "data"
        / "test"
        / "shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5"
    )
    well.write_bytes(well.read_bytes()[: well.stat().st_size // 2])
    shutil.rmtree(copy / "results" / "shear_flow" / "data" / "test.zarr")
    result = snakemake(copy, config, "results/shear_flow/data/test.zarr", check=False)
    assert result.returncode != 0
    log = (copy / "logs" / "regrid_shear_flow" / "test.log").read_text()
    assert "shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5" in log
    assert not (copy / "results" / "shear_flow" / "data" / "test.zarr").exists()


def test_stats_file_missing_a_field_stops_regrid_naming_it(simulated, tmp_path):
    workdir, config = simulated
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(".snakemake"))
    stats = copy / "results" / "shear_flow" / "data" / "simulated" / "datasets" / "shear_flow"
    content = yaml.safe_load((stats / "stats.yaml").read_text())
    del content["std"]["tracer"]
    (stats / "stats.yaml").write_text(yaml.safe_dump(content))
    shutil.rmtree(copy / "results" / "shear_flow" / "data" / "valid.zarr")
    result = snakemake(copy, config, "results/shear_flow/data/valid.zarr", check=False)
    assert result.returncode != 0
    log = (copy / "logs" / "regrid_shear_flow" / "valid.log").read_text()
    assert "stats.yaml" in log and "'std'" in log and "tracer" in log


@pytest.mark.parametrize(
    "change, key",
    [
        (
            lambda d: d["regrid"].update(method="block_mean", nx=10),
            "experiments.shear_flow.data.regrid.nx",
        ),
        (
            lambda d: d["simulate"].update(reynolds=[2.0e4]),
            "experiments.shear_flow.data.simulate.reynolds.0",
        ),
        (
            lambda d: d["simulate"].update(trajectories={"train": 30, "valid": 6, "test": 6}),
            "experiments.shear_flow.data.simulate.trajectories",
        ),
        (
            lambda d: d["regrid"].update(method="spectral", nx=32),
            "experiments.shear_flow.data.regrid.nx",
        ),
    ],
    ids=[
        "block-mean-not-dividing",
        "unknown-reynolds",
        "too-many-trajectories",
        "target-finer-than-source",
    ],
)
def test_bad_shear_flow_config_is_rejected_before_any_job(tmp_path, change, key):
    config = shear_config()
    change(config["experiments"]["shear_flow"]["data"])
    result = snakemake(tmp_path, config, "--dry-run", check=False)
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
