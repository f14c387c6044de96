"""Activation functions selectable from config."""

import torch
from torch import Tensor, nn


class Snake(nn.Module):
    """Snake, x + sin²(a·x)/a (Ziyin et al. 2020): periodic inductive bias, monotone trend.

    ``a`` is learned per feature, starting from ``frequency``.
    """

    def __init__(self, features: int, frequency: float = 1.0) -> None:
        super().__init__()
        self.frequency = nn.Parameter(torch.full((features,), float(frequency)))

    def forward(self, x: Tensor) -> Tensor:
        return x + torch.sin(self.frequency * x) ** 2 / self.frequency


def make_activation(name: str, features: int, snake_frequency: float = 1.0) -> nn.Module:
    if name == "tanh":
        return nn.Tanh()
    if name == "snake":
        return Snake(features, snake_frequency)
    raise ValueError(f"unknown activation {name!r}; expected 'tanh' or 'snake'")
