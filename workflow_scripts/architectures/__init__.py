"""Network architectures by ``kind``: torch-free declarations, one module per model family.

Each module of this package declares ``KINDS``, a tuple of :class:`ArchitectureKind`: the keys
the kind takes (JSON Schema per key, with defaults), what it needs of a grid, which loss terms
it uses, and where its builder lives (``"module:function"``, imported only by the jobs that
build a model). The config check reads these declarations, so a new kind with a hyperparameter
of its own is a model module plus a declaration here and needs no edit of config/schema.yaml;
a key a kind does not take is refused naming it. Parsing the Snakefile imports no torch.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from workflow_scripts.errors import ConfigError
from workflow_scripts.validation import first_error

Architecture = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ArchitectureKind:
    """What the workflow must know of one architecture kind before any job runs."""

    name: str
    #: Which variants may use it: "pointwise" (PINN-family networks) or "field" (forecasters).
    family: str
    #: ``"module:function"``; called with the architecture (defaults filled) and the family's
    #: arguments (pointwise: in/out features; field: a ForecastSetting).
    builder: str
    #: JSON Schema of each key it takes (``kind`` aside), with its default.
    keys: Mapping[str, Mapping[str, Any]]
    #: The loss weights it uses; None: every term of its family.
    loss_terms: tuple[str, ...] | None = None
    #: Keys that the given settings make meaningless (refused if set, never defaulted).
    unused_keys: Callable[[Architecture], Iterable[str]] | None = None
    #: Why it cannot run on an nx x ny grid, or None where it can.
    grid_problem: Callable[[Architecture, int, int], str | None] | None = None

    def load_builder(self) -> Callable[..., Any]:
        module, _, name = self.builder.partition(":")
        return getattr(importlib.import_module(module), name)


@cache
def architecture_kinds() -> dict[str, ArchitectureKind]:
    """Every declared kind, by name, from the modules of this package."""
    kinds: dict[str, ArchitectureKind] = {}
    for module in pkgutil.iter_modules(__path__):
        for kind in importlib.import_module(f"{__name__}.{module.name}").KINDS:
            if kind.name in kinds:
                raise ValueError(f"architecture kind {kind.name!r} is declared twice")
            kinds[kind.name] = kind
    return kinds


def architecture_kind(name: str, family: str, key: str = "architecture.kind") -> ArchitectureKind:
    """The declared kind ``name`` of ``family``; a ConfigError naming ``key`` otherwise."""
    known = sorted(k for k, kind in architecture_kinds().items() if kind.family == family)
    kind = architecture_kinds().get(name)
    if kind is None or kind.family != family:
        raise ConfigError(
            f"{key}: {name!r} is not a declared {family} architecture (declared: "
            f"{', '.join(known)}); declare it in a module of workflow_scripts/architectures"
        )
    return kind


def resolve_architecture(
    architecture: Architecture, family: str, default_kind: str, key: str
) -> Architecture:
    """Validate a variant's ``architecture`` against its kind and fill the kind's defaults.

    ``key`` is the config key of the mapping (e.g. ``experiments.x.models.y.architecture``);
    errors name the offending key below it.
    """
    given = dict(architecture)
    name = given.setdefault("kind", default_kind)
    kind = architecture_kind(name, family, f"{key}.kind")
    unused = set(kind.unused_keys(given)) if kind.unused_keys else set()
    for setting in given:
        if setting == "kind":
            continue
        if setting not in kind.keys or setting in unused:
            why = "with these settings" if setting in kind.keys else "at all"
            takes = ", ".join(k for k in kind.keys if k not in unused)
            raise ConfigError(
                f"{key}.{setting}: a {name} architecture does not take it {why} (it takes: {takes})"
            )
        error = first_error(kind.keys[setting], given[setting])
        if error is not None:
            path, message = error
            raise ConfigError(f"{'.'.join(filter(None, (key, setting, path)))}: {message}")
    for setting, schema in kind.keys.items():
        if setting not in given and setting not in unused and "default" in schema:
            given[setting] = copy.deepcopy(schema["default"])
    return given


def with_defaults(architecture: Architecture, family: str) -> Architecture:
    """``architecture`` with its kind's defaults filled (for builders called outside the
    workflow, e.g. tests and benches, on partial mappings)."""
    kind = architecture_kind(architecture["kind"], family)
    filled = dict(architecture)
    for setting, schema in kind.keys.items():
        if "default" in schema:
            filled.setdefault(setting, copy.deepcopy(schema["default"]))
    return filled


def build_architecture(architecture: Architecture, family: str, *args: Any) -> Any:
    """Build the network of ``architecture`` (imports its model module)."""
    kind = architecture_kind(architecture["kind"], family)
    return kind.load_builder()(with_defaults(architecture, family), *args)
