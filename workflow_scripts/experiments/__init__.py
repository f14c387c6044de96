"""The experiments, each declared once by the ``CARD`` of its own module in this package.

A new experiment is a new module here (its card, dataset maker and figures) plus its config
entry; :func:`experiment_cards` finds it. Card modules are torch-free, so the Snakefile and the
config check read them cheaply; jobs get the torch side through :func:`experiment_class`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import Any

from workflow_scripts.experiments.card import ExperimentCard


@cache
def experiment_cards() -> dict[str, ExperimentCard]:
    """Every declared experiment, by name."""
    cards: dict[str, ExperimentCard] = {}
    for module in pkgutil.iter_modules(__path__):
        card = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CARD", None)
        if card is None:
            continue
        if card.name in cards:
            raise ValueError(f"experiment {card.name!r} is declared twice")
        cards[card.name] = card
    return cards


def experiment_card(name: str) -> ExperimentCard:
    cards = experiment_cards()
    if name not in cards:
        raise KeyError(f"unknown experiment {name!r}; declared: {', '.join(sorted(cards))}")
    return cards[name]


def card_of(config: dict[str, Any], experiment: str) -> ExperimentCard:
    """A configured experiment's card: its own, or the declared one it reuses, under its name
    and title."""
    block = config["experiments"][experiment]
    if "card" not in block:
        return experiment_card(experiment)
    return experiment_card(block["card"]).reused_as(experiment, block.get("title", experiment))


def dataset_maker(name: str) -> Callable[[dict[str, Any]], Any]:
    """The generated dataset of a PINN-family experiment, from its data settings."""
    return experiment_card(name).family.make_dataset


def experiment_class(name: str) -> Callable[..., Any]:
    """``factory(data_path, device, dtype)`` -> the experiment's data on a device (torch)."""
    return experiment_card(name).experiment_factory()
