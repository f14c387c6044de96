"""FLOP counting, the energy meter, the Pareto front and the lifecycle summary."""

import dataclasses
import math
import subprocess
import sys
import types
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib import pyplot as plt
from matplotlib.ticker import NullFormatter

from workflow_scripts.codecarbon_internals import describe_energy_method
from workflow_scripts.energy import (
    NOTHING_SPENT,
    PROCESS_ATTRIBUTED,
    CarbonSettings,
    EnergyMeter,
    EnergyReading,
)
from workflow_scripts.figures.style import (
    decades_shown,
    energy_label,
    label_log_ticks,
    save_figure,
)
from workflow_scripts.figures.tradeoffs import pareto_front, plot_pareto
from workflow_scripts.files import write_json
from workflow_scripts.measurement import count_flops, count_parameters, time_repeated
from workflow_scripts.models.mlp import MLP
from workflow_scripts.physics.autodiff import derivative
from workflow_scripts.summary import summarize_runs

CHECKOUT = Path(__file__).resolve().parents[1]


def test_flops_of_a_linear_layer_are_2mnk():
    layer = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(10, 64)
    assert count_flops(lambda: layer(x)) == 2 * 10 * 64 * 32
    # backward of a matmul is two more matmuls of the same size
    assert count_flops(lambda: layer(x).sum().backward()) == 2 * 10 * 64 * 32 * 2


def test_complex_matmuls_count_at_their_real_cost():
    a = torch.randn(3, 16, 16, dtype=torch.complex64)
    real = torch.randn(3, 16, 16)
    # a complex multiply-add is 4 real multiplies + 4 real adds: 8 FLOPs, not 2
    assert count_flops(lambda: a @ a) == 8 * 3 * 16**3
    assert count_flops(lambda: real @ real) == 2 * 3 * 16**3


def test_ffts_count_by_the_5_n_log2_n_convention():
    n = 8 * 16  # points per 2D transform
    x = torch.randn(4, 8, 16)
    assert count_flops(lambda: torch.fft.fft2(x.to(torch.complex64))) == 4 * 5 * n * math.log2(n)
    # real transforms cost half; the inverse counts the same as the forward
    assert count_flops(lambda: torch.fft.rfft2(x)) == 4 * 2.5 * n * math.log2(n)
    spectrum = torch.fft.rfft2(x)
    assert count_flops(lambda: torch.fft.irfft2(spectrum, s=(8, 16))) == 4 * 2.5 * n * math.log2(n)


def test_flops_count_through_a_pde_residual():
    model = MLP(1, 1, 8, 2)
    t = torch.rand(5, 1, requires_grad=True)
    forward = count_flops(lambda: model(t))
    residual = count_flops(lambda: derivative(derivative(model(t), t, 0), t, 0).sum().backward())
    assert residual > 3 * forward > 0


def test_energy_meter_writes_its_csv_and_says_how_it_measured(tmp_path):
    settings = CarbonSettings(grid_intensity_g_per_kwh=500.0, pue=1.5, measure_power_secs=0.2)
    csv = tmp_path / "stage" / "emissions.csv"
    with EnergyMeter(settings, csv, stage="test") as meter:
        end = torch.randn(200, 200)
        time_repeated(lambda: end @ end, torch.device("cpu"), min_seconds=0.5)
        midway = meter.spent_so_far()
    reading = meter.reading
    assert 0 < midway["energy_machine_kwh"] <= reading.energy_machine_kwh
    assert 0 < midway["energy_kwh"] <= reading.energy_kwh
    assert 0.5 <= midway["duration_s"] <= reading.duration_s
    assert 0 < midway["cpu_time_s"] <= reading.cpu_time_s
    assert reading.energy_machine_kwh == pytest.approx(
        reading.cpu_energy_kwh + reading.gpu_energy_kwh + reading.ram_energy_kwh, rel=1e-6
    )
    assert "codecarbon" in reading.energy_method
    # RAM is always modelled, so the totals are estimates even with RAPL or NVML readings;
    # the analysis then uses the process-attributed figure
    assert reading.energy_is_estimate
    assert reading.energy_figure == PROCESS_ATTRIBUTED
    assert reading.energy_kwh == reading.process_energy_kwh > 0
    # The job's own CPU time: this loop kept (at least) one core busy most of the wall time.
    assert 0.3 * reading.duration_s < reading.cpu_time_s
    assert reading.machine_busy_cpu_s >= 0.9 * reading.cpu_time_s
    # The tracker ran at PUE 1: the stored energy is IT energy; PUE enters only at the summary.
    table = pd.read_csv(csv)
    assert len(table) == 1
    assert table["energy_consumed"].iloc[0] == pytest.approx(reading.energy_machine_kwh)
    assert table["pue"].iloc[0] == 1.0


def test_a_failed_block_leaves_no_emissions_csv(tmp_path):
    csv = tmp_path / "emissions.csv"
    with pytest.raises(RuntimeError), EnergyMeter(CarbonSettings(), csv, stage="test") as meter:
        raise RuntimeError("the job failed")
    assert meter.reading is None and not csv.exists()


def test_every_stage_names_its_reading_by_the_one_record():
    """train.json's and a data stage's ``{stage}_*`` entries, metrics.json's per-prediction
    ones, and the cumulative spend of the learning curves, all from one reading."""
    reading = EnergyReading(
        duration_s=10.0,
        energy_machine_kwh=4.0,
        cpu_energy_kwh=1.0,
        gpu_energy_kwh=2.0,
        ram_energy_kwh=1.0,
        process_energy_kwh=3.0,
        cpu_time_s=8.0,
        machine_busy_cpu_s=18.0,
        energy_method="codecarbon (test)",
        energy_is_estimate=True,
    )
    described = ["shared_load_threshold", "energy_method", "energy_is_estimate"]
    stems = ["wall_s", "energy_kwh", "energy_machine_kwh", "energy_process_kwh"]
    stems += ["energy_figure", "cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh"]
    stems += ["cpu_time_s", "others_cpu_load", "shared_machine"]
    train = reading.entries("train", 0.5)
    assert list(train) == [f"train_{stem}" for stem in stems] + described
    assert train["train_energy_kwh"] == 3.0 and train["train_energy_figure"] == PROCESS_ATTRIBUTED
    assert train["train_others_cpu_load"] == 1.0 and train["train_shared_machine"]

    inference = reading.entries("inference", 2.0, per_unit=("prediction", 4))
    per_unit = ["wall_s", "energy_kwh", "energy_machine_kwh", "cpu_time_s"]
    assert set(inference) == {
        *(f"inference_{stem}_{kind}" for stem in per_unit for kind in ("total", "per_prediction")),
        "inference_others_cpu_load",
        "inference_energy_figure",
        "inference_shared_machine",
        *described,
    }
    assert inference["inference_energy_kwh_total"] == 3.0
    assert inference["inference_energy_kwh_per_prediction"] == 0.75
    assert not inference["inference_shared_machine"]

    assert reading.spent().keys() == NOTHING_SPENT.keys()
    assert reading.including(NOTHING_SPENT) == reading
    assert reading.including(reading.spent()).energy_kwh == 6.0


def _tracker_with(*devices):
    return types.SimpleNamespace(_hardware=list(devices))


def _device(kind, **attributes):
    return type(kind, (), attributes)()


@pytest.mark.parametrize(
    "hardware, label, estimate",
    [
        ([_device("CPU", _mode="intel_rapl")], "CPU: RAPL energy counters", False),
        ([_device("CPU", _mode="cpu_load")], "CPU: load-based estimate", True),
        ([_device("CPU", _mode="constant")], "CPU: constant TDP estimate", True),
        ([_device("CPU", _mode="new_mode")], "CPU: unknown mode", True),
        ([_device("GPU")], "GPU: NVML readings", False),
        ([_device("CPU", _mode="intel_rapl"), _device("RAM")], "RAM: modelled", True),
        ([_device("AppleSiliconChip")], "AppleSiliconChip: codecarbon default", True),
        ([], "hardware not identified", True),
    ],
)
def test_energy_method_says_what_was_read_and_what_estimated(hardware, label, estimate):
    method, is_estimate = describe_energy_method(_tracker_with(*hardware))
    assert label in method and is_estimate is estimate


def test_pareto_front_keeps_only_non_dominated_points():
    costs = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    errors = np.array([0.5, 0.1, 0.2, 0.05, 0.9])
    assert pareto_front(costs, errors).tolist() == [4, 0, 1, 3]


def _write_runs(tmp_path, others_load=(0.1, 0.1)):
    """Two runs' train.json and metrics.json and a data cost, as the stages write them."""
    train, metrics = [], []
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        write_json(
            run / "train.json",
            {
                "experiment": "x",
                "model": "m",
                "physics_bias": "none",
                "seed": seed,
                "n_parameters": 10,
                "train_energy_kwh": 2.0,
                "train_energy_machine_kwh": 3.0,
                "train_energy_figure": PROCESS_ATTRIBUTED,
                "train_cpu_time_s": 50.0,
                "train_others_cpu_load": others_load[seed],
                "train_shared_machine": False,
                "energy_method": "estimate",
                "energy_is_estimate": True,
            },
        )
        write_json(
            run / "metrics.json",
            {
                "model": "m",
                "seed": seed,
                "test_mse": 0.1 * seed,
                "rollout_vrmse": [0.1, 0.2],  # per-step lists stay out of the table
                "inference_energy_kwh_per_prediction": 0.001,
                "inference_energy_machine_kwh_per_prediction": 0.002,
                "inference_others_cpu_load": 0.0,
            },
        )
        train.append(run / "train.json")
        metrics.append(run / "metrics.json")
    write_json(
        tmp_path / "data.json",
        {
            "data_energy_kwh": 1.0,
            "data_energy_machine_kwh": 1.5,
            "data_energy_figure": PROCESS_ATTRIBUTED,
            "data_cpu_time_s": 4.0,
            "data_others_cpu_load": 0.0,
            "data_wall_s": 3.0,
        },
    )
    return train, metrics, [tmp_path / "data.json"]


def test_summary_lifecycle_adds_data_training_and_inference(tmp_path):
    carbon = CarbonSettings(grid_intensity_g_per_kwh=10.0, pue=1.0)
    table = summarize_runs(*_write_runs(tmp_path), lifecycle_predictions=100, carbon=carbon)
    assert list(table["seed"]) == [0, 1]
    assert table["lifecycle_energy_kwh"].tolist() == pytest.approx([3.1, 3.1])
    assert table["lifecycle_co2_g"].tolist() == pytest.approx([31.0, 31.0])
    assert not table.isna().any().any()
    assert math.isclose(table["test_mse"].iloc[1], 0.1)
    assert "rollout_vrmse" not in table.columns
    # the machine-wide figures stay beside the ones the analysis uses, which are named
    assert table["train_energy_machine_kwh"].tolist() == [3.0, 3.0]
    assert set(table["train_energy_figure"]) == {PROCESS_ATTRIBUTED}


def test_summary_applies_pue_and_grid_intensity_to_the_stored_energy(tmp_path):
    runs = _write_runs(tmp_path)
    plain = summarize_runs(*runs, 100, carbon=CarbonSettings(grid_intensity_g_per_kwh=10.0))
    both = CarbonSettings(grid_intensity_g_per_kwh=20.0, pue=1.5)
    changed = summarize_runs(*runs, 100, carbon=both)
    for column in (
        "train_co2_g",
        "inference_co2_g_per_prediction",
        "data_co2_g",
        "lifecycle_co2_g",
    ):
        assert changed[column].tolist() == pytest.approx((plain[column] * 3.0).tolist()), column
    # energy does not change with PUE: it is the jobs' IT energy
    pd.testing.assert_series_equal(plain["lifecycle_energy_kwh"], changed["lifecycle_energy_kwh"])
    assert changed["pue"].tolist() == [1.5, 1.5]
    assert changed["grid_intensity_g_per_kwh"].tolist() == [20.0, 20.0]


def test_without_a_forced_grid_intensity_the_summary_uses_the_country_figure(tmp_path):
    from codecarbon.core.emissions import Emissions
    from codecarbon.input import DataSource

    runs = _write_runs(tmp_path)
    table = summarize_runs(*runs, 100, carbon=CarbonSettings(country_iso_code="FRA"))
    mix = DataSource().get_global_energy_mix_data()["FRA"]
    expected = Emissions._global_energy_mix_to_emissions_rate(mix).kgs_per_kWh * 1000
    assert table["grid_intensity_g_per_kwh"].iloc[0] == pytest.approx(expected)
    assert table["train_co2_g"].iloc[0] == pytest.approx(2.0 * expected)
    denmark = summarize_runs(*runs, 100, carbon=CarbonSettings(country_iso_code="DNK"))
    assert denmark["grid_intensity_g_per_kwh"].iloc[0] != pytest.approx(expected)
    with pytest.raises(ValueError, match="carbon.country_iso_code"):
        summarize_runs(*runs, 100, carbon=CarbonSettings(country_iso_code="XXX"))


def test_summary_flags_jobs_that_shared_the_machine(tmp_path):
    runs = _write_runs(tmp_path, others_load=(0.1, 1.2))
    carbon = CarbonSettings(grid_intensity_g_per_kwh=10.0, shared_load_threshold=0.5)
    table = summarize_runs(*runs, 100, carbon=carbon)
    assert table["train_shared_machine"].tolist() == [False, True]
    assert table["shared_machine"].tolist() == [False, True]
    stricter = dataclasses.replace(carbon, shared_load_threshold=0.05)
    assert summarize_runs(*runs, 100, carbon=stricter)["shared_machine"].tolist() == [True, True]


def test_parameter_count_counts_a_complex_weight_as_two_reals():
    module = torch.nn.Linear(3, 2)  # 6 weights + 2 biases
    module.spectral = torch.nn.Parameter(torch.zeros(4, dtype=torch.complex64))
    module.frozen = torch.nn.Parameter(torch.zeros(5), requires_grad=False)
    assert count_parameters(module) == 8 + 2 * 4


def test_energy_axes_say_whether_codecarbon_read_or_estimated():
    estimated = pd.DataFrame({"energy_is_estimate": [False, True]})
    read = pd.DataFrame({"energy_is_estimate": [False, False]})
    assert energy_label("training energy", estimated).endswith(
        "(kWh excl. PUE, codecarbon estimate)"
    )
    assert energy_label("training energy", read).endswith("(kWh excl. PUE, codecarbon reading)")
    assert "estimate" in energy_label("training energy", pd.DataFrame({"model": ["mlp"]}))
    attributed = estimated.assign(train_energy_figure=PROCESS_ATTRIBUTED)
    assert energy_label("training energy", attributed).endswith(
        "(kWh excl. PUE, codecarbon estimate, process-attributed)"
    )


def test_log_axes_keep_their_numbers_without_overlap(tmp_path):
    """Matplotlib labels an axis spanning under two decades at minor ticks only; nulling those
    left the shear-flow Pareto axes blank, and labelling all of them overlaps."""
    table = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "physics_bias": ["none", "weak", "strong"],
            "energy": [5e-8, 1.1e-7, 4.5e-7],  # one decade mark (1e-7) in view
            "error": [1e-3, 1e-2, 1e-1],  # three
        }
    )
    outputs = [tmp_path / "pareto.png"]
    with patch("workflow_scripts.figures.tradeoffs.save_figure") as save:
        plot_pareto(
            table, outputs, cost="energy", error="error", cost_label="x", error_label="y", title=""
        )
    figure = save.call_args.args[0]
    axes = figure.axes[0]
    save_figure(figure, outputs)
    assert decades_shown(axes.xaxis) == 1 and decades_shown(axes.yaxis) >= 2
    assert isinstance(axes.yaxis.get_minor_formatter(), NullFormatter)
    x_labels = [axes.xaxis.get_minor_formatter()(t, 0) for t in (2e-7, 3e-7, 4e-7, 5e-8, 6e-8)]
    assert x_labels == ["2×10⁻⁷", "", "", "5×10⁻⁸", ""]
    assert axes.yaxis.get_major_formatter()(1e-2, 0) == "10⁻²"
    assert outputs[0].stat().st_size > 0


def test_a_log_axis_within_one_decade_labels_two_three_and_five_times_it():
    figure, axes = plt.subplots()
    axes.loglog([2.1e-3, 8e-3], [1e-3, 1e2])
    axes.set_xlim(2.1e-3, 8e-3)  # no decade mark in view
    label_log_ticks(axes.xaxis)
    assert decades_shown(axes.xaxis) == 0
    labels = [axes.xaxis.get_minor_formatter()(t, 0) for t in (3e-3, 4e-3, 5e-3, 6e-3)]
    assert labels == ["3×10⁻³", "", "5×10⁻³", ""]
    plt.close(figure)


def _one_panel_legend_outside():
    figure, axes = plt.subplots(figsize=(4.0, 3.0))
    axes.loglog([1.0, 1e4], [1e-3, 1.0], label="a legend entry outside the axes")
    axes.set(title="title", ylabel="training energy (kWh excl. PUE, codecarbon estimate)")
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return figure


def test_the_crop_computed_once_is_matplotlibs_tight_crop(tmp_path):
    """save_figure finds the crop once for PNG and PDF; it must hold what a "tight" save
    holds (the legend outside the axes, the long axis label) and nothing more."""
    from PIL import Image

    outputs = [tmp_path / "once.png", tmp_path / "once.pdf"]
    save_figure(_one_panel_legend_outside(), outputs)
    tight = _one_panel_legend_outside()
    for axes in tight.axes:
        label_log_ticks(axes.xaxis)
        label_log_ticks(axes.yaxis)
    tight.savefig(tmp_path / "tight.png", bbox_inches="tight")
    plt.close(tight)
    once, reference = (Image.open(tmp_path / n).size for n in ("once.png", "tight.png"))
    assert reference[0] > 4.0 * plt.rcParams["savefig.dpi"]  # the legend widened the crop
    assert all(abs(a - b) <= 2 for a, b in zip(once, reference, strict=True)), (once, reference)
    assert outputs[1].read_bytes().startswith(b"%PDF")


def test_the_drawing_warm_up_loads_the_savers_and_leaves_no_figure_open():
    """In a fresh process (as the warm worker's server is): after the warm-up, the PNG and
    PDF savers are imported and the figure font is in matplotlib's font cache (private, the
    only place it shows), so forked jobs do not load them again."""
    probe = (
        "import sys, matplotlib.pyplot as plt\n"
        "from matplotlib import font_manager\n"
        "from workflow_scripts.figures.style import warm_up_drawing\n"
        "before = font_manager._get_font.cache_info().currsize\n"
        "assert 'matplotlib.backends.backend_pdf' not in sys.modules\n"
        "warm_up_drawing()\n"
        "assert plt.get_fignums() == []\n"
        "assert {'matplotlib.backends.backend_pdf', 'PIL.PngImagePlugin'} <= set(sys.modules)\n"
        "assert font_manager._get_font.cache_info().currsize > before\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=CHECKOUT)
