"""Fully connected networks for pointwise (PINN-family) problems."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from workflow_scripts.models.activations import make_activation


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, Xavier-initialised, linear output."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int,
        depth: int,
        activation: str = "tanh",
        snake_frequency: float = 1.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        features = in_features
        for _ in range(depth):
            linear = nn.Linear(features, width)
            nn.init.xavier_normal_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers += [linear, make_activation(activation, width, snake_frequency)]
            features = width
        layers.append(nn.Linear(features, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.layers(inputs)


class ConstrainedOutput(nn.Module):
    """A network whose raw output is mapped by ``constrain(inputs, raw)``.

    The strong-prior variants build their initial/boundary conditions into this map, so they
    hold exactly whatever the weights are.
    """

    def __init__(self, network: nn.Module, constrain: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.network = network
        self.constrain = constrain

    def forward(self, inputs: Tensor) -> Tensor:
        return self.constrain(inputs, self.network(inputs))


def build_mlp(architecture: dict[str, Any], in_features: int, out_features: int) -> MLP:
    """The ``mlp`` architecture kind (declared in ``architectures/mlp.py``)."""
    return MLP(
        in_features,
        out_features,
        width=architecture["width"],
        depth=architecture["depth"],
        activation=architecture["activation"],
        # Declared only for Snake activations (architectures/mlp.py).
        **{key: architecture[key] for key in ("snake_frequency",) if key in architecture},
    )
