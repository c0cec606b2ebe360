"""Requests checked against the spec before any view runs: Looker's 422 "Validation Failed".

Every operation of the spec, served or not, has its parameters and JSON body checked against
:mod:`.spec_requests`: an integer or boolean query or path parameter that is not one, a required
parameter or body that is missing, a body that is not the spec's type, a writable property of
the wrong type, a required property absent, or ``null`` where the spec says the property is not
nullable. The answer is the spec's ``ValidationError`` naming the field (a nested property by
its dotted path, as ``fields`` errors name ``body.fields``). Properties the spec marks
``readOnly`` and keys it does not list are let through: the SDKs send back what they read.

The views keep their own checks of meaning (a field that exists in the LookML, a known result
format); this module knows only shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from oauth_bridge.emulator.errors import invalid
from oauth_bridge.emulator.operations import Operation
from oauth_bridge.emulator.spec_requests import BODIES, PARAMETERS, WRITE_SCHEMAS

_INTEGER = re.compile(r"-?\d{1,19}")
_BOOLEAN = frozenset({"true", "false"})
_MAX_DEPTH = 8
"""How deep nested objects are checked; deeper ones are let through unchecked."""


def path_values(operation: Operation, path: str) -> dict[str, str]:
    """The template's parameters in ``path`` (each is one whole segment in the spec)."""
    values = {}
    for template, actual in zip(operation.path.split("/"), path.split("/"), strict=False):
        if template.startswith("{") and template.endswith("}"):
            values[template[1:-1]] = actual
    return values


def check_parameters(operation: Operation, path: str, query: Mapping[str, str]) -> None:
    """422 for a parameter of ``operation`` that the spec's type or ``required`` refuses."""
    in_path = path_values(operation, path)
    for name, where, kind, required in PARAMETERS.get(operation.operation_id, ()):
        value = in_path.get(name) if where == "path" else query.get(name)
        if value is None or (value == "" and where == "query"):
            if required:
                raise invalid(name, f"{name} is required.", code="missing")
            continue
        if kind == "integer" and not _INTEGER.fullmatch(value):
            raise invalid(name, f"{name} must be an integer.")
        if kind == "boolean" and value.lower() not in _BOOLEAN:
            raise invalid(name, f"{name} must be true or false.")


def body_is_json(operation: Operation) -> bool:
    """Whether the spec gives ``operation`` a JSON body (only then is it parsed here)."""
    return operation.operation_id in BODIES


def check_body(operation: Operation, present: bool, body: Any) -> None:
    """422 for a JSON body of ``operation`` that the spec refuses. ``present``: a body was sent
    and parsed as JSON (an unparseable one counts as missing, as Looker's own 422 says)."""
    kind, required = BODIES[operation.operation_id]
    if not present:
        if required:
            raise invalid("body", "The request body must be JSON.", code="missing")
        return
    _check_value("body", kind, False, body, 0)


def _check_value(field: str, kind: str, nullable: bool, value: Any, depth: int) -> None:
    if value is None:
        if not nullable:
            raise invalid(field, f"{field} may not be null.")
        return
    if not _has_type(kind, value):
        raise invalid(field, f"{field} must be {_describe(kind)}.")
    if depth >= _MAX_DEPTH:
        return
    if kind.startswith("array<"):
        item = kind[len("array<") : -1]
        for n, element in enumerate(value):
            _check_value(f"{field}[{n}]", item, True, element, depth + 1)
    elif kind.startswith("#"):
        _check_object(field, kind[1:], value, depth + 1)


def _check_object(field: str, schema: str, value: dict[str, Any], depth: int) -> None:
    props, required = WRITE_SCHEMAS[schema]
    prefix = "" if field == "body" else f"{field}."
    for name in required:
        if name in props and name not in value:
            raise invalid(prefix + name, f"{name} is required.", code="missing")
    for name, given in value.items():
        if name in props:
            kind, nullable = props[name]
            _check_value(prefix + name, kind, nullable, given, depth)


def _has_type(kind: str, value: Any) -> bool:
    if kind.startswith("#") or kind == "object":
        return isinstance(value, dict)
    if kind.startswith("array<"):
        return isinstance(value, list)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return True  # "any"


def _describe(kind: str) -> str:
    if kind.startswith("#") or kind == "object":
        return "an object"
    if kind.startswith("array<"):
        return "an array"
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean"}.get(
        kind, "a string"
    )
