"""Derivatives of network outputs with respect to their coordinates, for PDE residuals."""

import torch
from torch import Tensor


def derivative(output: Tensor, inputs: Tensor, column: int, order: int = 1) -> Tensor:
    """d^order output / d inputs[:, column] at every point, kept differentiable.

    ``output`` has shape (N, 1) and was computed pointwise from ``inputs`` (N, d), which must
    require grad. The graph is kept so that the result can enter a loss.
    """
    result = output
    for _ in range(order):
        (grad,) = torch.autograd.grad(
            result, inputs, grad_outputs=torch.ones_like(result), create_graph=True
        )
        result = grad[:, column : column + 1]
    return result
