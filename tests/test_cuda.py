"""The CUDA path: every shear-flow variant trains and scores on a GPU, in float32 and with the
bf16 autocast switch. Skipped where no GPU is present (CI has none); run on a GPU machine."""

from __future__ import annotations

import math

import pytest
import torch
from test_shear_flow_experiment import MODELS, evaluate_run, spec_of, train_run, write_stores

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_stores(tmp_path_factory.mktemp("shear_stores_cuda"))


@pytest.mark.parametrize("amp", ["none", "bf16"])
@pytest.mark.parametrize("model", MODELS)
def test_variant_trains_and_scores_on_cuda(data, tmp_path, model, amp):
    spec = spec_of(model, amp=amp)
    out = tmp_path / model
    train = train_run(spec, data, out, device="cuda")
    assert train["device"].startswith("cuda")
    assert train["peak_memory_kind"] == "cuda_max_allocated" and train["peak_memory_mb"] > 0
    assert math.isfinite(train["final_val_mse"])
    metrics = evaluate_run(spec, data, out, device="cuda")
    assert metrics["device"].startswith("cuda")
    assert math.isfinite(metrics["vrmse"]) and metrics["inference_flops_per_prediction"] > 0
