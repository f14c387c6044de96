"""Accuracy and physics metrics for shear-flow forecasts, following The Well's conventions.

Fields are (..., C, nx, ny) tensors in physical units (de-normalised), channels in
:data:`FIELD_NAMES` order. The per-field metrics reduce over the two spatial axes only, so the
caller chooses how to average over batch, time and fields.

Conventions (checked against ``the_well.benchmark.metrics`` in ``tests/test_metrics.py``):

* VRMSE = sqrt(mean_space (pred − true)² / (var_space(true) + eps)), with the variance of the
  TARGET (the study used the prediction's variance; that is a bug we do not copy) and, as in
  ``the_well``, the unbiased (N − 1) spatial variance, so predicting the spatial mean scores
  sqrt((N − 1)/N) ≈ 1.
* NRMSE = sqrt(mean_space (pred − true)² / (mean_space true² + eps)).
* Pearson r is the plain spatial correlation (one normalisation throughout, so a perfect
  prediction scores exactly 1; ``the_well``'s PearsonR mixes biased covariance with unbiased
  standard deviations and tops out at (N − 1)/N).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from workflow_scripts.physics.fields import FIELD_NAMES
from workflow_scripts.physics.spectral import DEFAULT_LENGTHS, divergence

SPACE = (-2, -1)


def _promote(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Common dtype of at least float32 (half-precision reductions over 10⁵ points are poor)."""
    dtype = torch.promote_types(torch.promote_types(prediction.dtype, target.dtype), torch.float32)
    return prediction.to(dtype), target.to(dtype)


def _mse(prediction: Tensor, target: Tensor) -> Tensor:
    return (prediction - target).square().mean(dim=SPACE)


def vrmse(prediction: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """The Well's VRMSE per leading index (sample, [time,] field): shape prediction.shape[:-2]."""
    prediction, target = _promote(prediction, target)
    variance = target.var(dim=SPACE, correction=1)  # unbiased, as torch.std in the_well
    return (_mse(prediction, target) / (variance + eps)).sqrt()


def nrmse(prediction: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """The Well's NRMSE (normalised by the target's mean square) per leading index."""
    prediction, target = _promote(prediction, target)
    return (_mse(prediction, target) / (target.square().mean(dim=SPACE) + eps)).sqrt()


def pearson_r(prediction: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """Spatial Pearson correlation per leading index; 0 where either field is constant."""
    prediction, target = _promote(prediction, target)
    dp = prediction - prediction.mean(dim=SPACE, keepdim=True)
    dt = target - target.mean(dim=SPACE, keepdim=True)
    covariance = (dp * dt).mean(dim=SPACE)
    norm = (dp.square().mean(dim=SPACE) * dt.square().mean(dim=SPACE)).sqrt()
    return covariance / (norm + eps)


def mean_abs_divergence(
    velocity_x: Tensor, velocity_y: Tensor, lengths: tuple[float, float] = DEFAULT_LENGTHS
) -> Tensor:
    """Spatial mean of |∇·u| (spectral derivative) per leading index of (..., nx, ny) fields."""
    velocity_x, velocity_y = _promote(velocity_x, velocity_y)
    return divergence(velocity_x, velocity_y, lengths).abs().mean(dim=SPACE)


def _names(n_fields: int, field_names: Sequence[str] | None) -> Sequence[str]:
    if field_names is None:
        field_names = FIELD_NAMES if n_fields == len(FIELD_NAMES) else None
    if field_names is None:
        return [f"field{i}" for i in range(n_fields)]
    if len(field_names) != n_fields:
        raise ValueError(f"{n_fields} channels but {len(field_names)} field names")
    return field_names


def _check_pair(prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {tuple(prediction.shape)} vs target {tuple(target.shape)}")
    if prediction.ndim < 3:
        raise ValueError("expected fields of shape (..., C, nx, ny)")


@torch.no_grad()
def mse_skill_score(
    prediction: Tensor, reference: Tensor, target: Tensor, field_names: Sequence[str] | None = None
) -> dict[str, float]:
    """MSE skill of a forecast over a reference forecast (here persistence), per field.

    skill = 1 − Σ(pred − true)² / Σ(ref − true)², pooled over every leading axis and point:
    1 is perfect, 0 no better than the reference, negative worse. Pooled sums, unlike the
    per-sample VRMSE, are not dominated by targets that are nearly uniform in space. ``skill``
    is the mean of the per-field values (each field is unit-free, so they can be averaged).
    """
    _check_pair(prediction, target)
    _check_pair(reference, target)
    prediction, target = _promote(prediction, target)
    reference = reference.to(target.dtype)
    names = _names(prediction.shape[-3], field_names)
    per_field = [
        1 - float((p - t).square().sum() / (r - t).square().sum().clamp_min(1e-30))
        for p, r, t in zip(
            prediction.unbind(-3), reference.unbind(-3), target.unbind(-3), strict=True
        )
    ]
    out = {"skill": sum(per_field) / len(per_field)}
    out.update({f"skill_{name}": v for name, v in zip(names, per_field, strict=True)})
    return out


@torch.no_grad()
def field_metrics(
    prediction: Tensor,
    target: Tensor,
    field_names: Sequence[str] | None = None,
    velocity_channels: tuple[int, int] | None = (2, 3),
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
) -> dict[str, float]:
    """VRMSE, NRMSE and Pearson r per field and averaged over fields, for (..., C, nx, ny).

    Each per-field value is averaged over all leading axes (batch, time); the field average of
    a metric is the mean of its per-field values. With ``velocity_channels`` the mean |∇·u| of
    prediction (``divergence``) and target (``divergence_target``) are added.
    """
    _check_pair(prediction, target)
    names = _names(prediction.shape[-3], field_names)
    out: dict[str, float] = {}
    for key, metric in (("vrmse", vrmse), ("nrmse", nrmse), ("pearson", pearson_r)):
        per_field = metric(prediction, target).flatten(end_dim=-2).mean(dim=0)  # (C,)
        out[key] = float(per_field.mean())
        out.update({f"{key}_{name}": float(v) for name, v in zip(names, per_field, strict=True)})
    if velocity_channels is not None:
        ix, iy = velocity_channels
        for key, fields in (("divergence", prediction), ("divergence_target", target)):
            out[key] = float(
                mean_abs_divergence(fields[..., ix, :, :], fields[..., iy, :, :], lengths).mean()
            )
    return out


@torch.no_grad()
def autoregressive_rollout(
    step: Callable[[Tensor], Tensor], history: Tensor, n_steps: int
) -> Tensor:
    """Roll ``step`` forward ``n_steps`` times from ``history`` (B, n_in, C, nx, ny).

    ``step`` receives the window flattened time-major, (B, n_in·C, nx, ny) with channel
    t·C + c, and returns the next frame (B, C, nx, ny), which then slides into the window.
    Returns (B, n_steps, C, nx, ny). Only the window and the output are kept in memory.
    """
    batch, n_in, channels, nx, ny = history.shape
    window = history
    out: Tensor | None = None
    for i in range(n_steps):
        frame = step(window.reshape(batch, n_in * channels, nx, ny))
        if frame.shape != (batch, channels, nx, ny):
            raise ValueError(
                f"step returned {tuple(frame.shape)}, expected {(batch, channels, nx, ny)}"
            )
        if out is None:
            out = frame.new_empty(batch, n_steps, channels, nx, ny)
        out[:, i] = frame
        window = torch.cat([window[:, 1:], frame[:, None].to(window.dtype)], dim=1)
    if out is None:
        out = history.new_empty(batch, 0, channels, nx, ny)
    return out


@torch.no_grad()
def rollout_metrics(
    predictions: Tensor,
    targets: Tensor,
    velocity_channels: tuple[int, int] = (2, 3),
    field_names: Sequence[str] | None = None,
    lengths: tuple[float, float] = DEFAULT_LENGTHS,
) -> dict[str, list[float]]:
    """Per-rollout-step metrics of (B, T, C, nx, ny) tensors, each a list of T batch means.

    Keys: ``vrmse`` and ``pearson`` (mean over fields), ``vrmse_<field>``, ``pearson_<field>``,
    ``divergence`` (mean |∇·u| of the prediction) and ``divergence_target`` (of the data).
    """
    _check_pair(predictions, targets)
    if predictions.ndim != 5:
        raise ValueError("expected (B, T, C, nx, ny) rollouts")
    names = _names(predictions.shape[2], field_names)
    out: dict[str, list[float]] = {}
    for key, metric in (("vrmse", vrmse), ("pearson", pearson_r)):
        per_step_field = metric(predictions, targets).mean(dim=0)  # (T, C)
        out[key] = per_step_field.mean(dim=1).tolist()
        for c, name in enumerate(names):
            out[f"{key}_{name}"] = per_step_field[:, c].tolist()
    ix, iy = velocity_channels
    for key, fields in (("divergence", predictions), ("divergence_target", targets)):
        div = mean_abs_divergence(fields[:, :, ix], fields[:, :, iy], lengths)  # (B, T)
        out[key] = div.mean(dim=0).tolist()
    return out
