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


def numbers_as_floats(schema: Mapping[str, Any], instance: Any) -> Any:
    """``instance`` (valid) with every int where ``schema`` says ``number`` as a float, so that
    ``lr: 1`` and ``lr: 1.0`` are one setting: one Snakemake param, one sweep-point name.

    A number in an ``enum`` takes the enum's spelling. Follows local ``$ref``s, ``allOf``, the
    branch of ``oneOf``/``anyOf`` that the value matches, ``properties``,
    ``additionalProperties``, ``prefixItems`` and ``items``; ``integer`` keys keep ints.
    """

    definitions = {"$defs": schema.get("$defs", {})}  # what a branch's $ref points into

    def resolved(node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            target: Any = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def walk(node: Mapping[str, Any], value: Any) -> Any:
        node = resolved(node)
        for part in node.get("allOf", []):
            value = walk(part, value)
        for alternatives in (node.get("oneOf", []), node.get("anyOf", [])):
            matching = [b for b in alternatives if first_error({**definitions, **b}, value) is None]
            value = walk(matching[0], value) if matching else value
        if isinstance(value, bool):
            return value
        if node.get("type") == "number" and isinstance(value, int):
            return float(value)
        if "enum" in node and isinstance(
            value, int | float
        ):  # as the enum spells it: 1e4 -> 1.0e+4
            return next((m for m in node["enum"] if m == value and not isinstance(m, bool)), value)
        if isinstance(value, dict):
            properties, extra = node.get("properties", {}), node.get("additionalProperties")
            return {
                key: walk(properties[key], item)
                if key in properties
                else walk(extra, item)
                if isinstance(extra, Mapping)
                else item
                for key, item in value.items()
            }
        if isinstance(value, list):
            prefix, items = node.get("prefixItems", []), node.get("items")
            return [
                walk(prefix[index], item)
                if index < len(prefix)
                else walk(items, item)
                if isinstance(items, Mapping)
                else item
                for index, item in enumerate(value)
            ]
        return value

    return walk(schema, instance)
