"""JSON Schema validation with the strictness a config needs (torch-free, bottom layer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def strict_validator(schema: Mapping[str, Any]) -> Any:
    """A Draft 2020-12 validator whose ``integer`` is an int, not an integral float or a bool.

    JSON Schema counts 1.0 as an integer; here ``seeds: [1.0]`` would become a ``seed1.0``
    path and ``steps: 60.0`` a TypeError inside a job, so both are refused up front.
    """
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def first_error(schema: Mapping[str, Any], instance: Any) -> tuple[str, str] | None:
    """(dotted path, message) of the most relevant violation, or None if ``instance`` is valid."""
    import jsonschema

    error = jsonschema.exceptions.best_match(strict_validator(schema).iter_errors(instance))
    if error is None:
        return None
    return ".".join(str(part) for part in error.absolute_path), error.message


def fill_defaults(schema: Mapping[str, Any], instance: Any) -> Any:
    """Set every ``default`` of ``schema`` that ``instance`` lacks, in place (through ``$ref``s),
    as Snakemake's ``validate(set_default=True)`` does; ``instance`` must be valid."""
    import copy

    import jsonschema

    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Any, value: Any, subschema: Any) -> Any:
        if isinstance(value, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    value.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from validate_properties(validator, properties, value, subschema)

    filler = jsonschema.validators.extend(base, {"properties": set_defaults})
    for _ in filler(schema).iter_errors(instance):
        pass
    return instance
