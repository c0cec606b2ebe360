"""Answers with every key the Looker 4.0 spec lists: :func:`complete` fills the missing ones.

Use it on every object a view serves whose schema is vendored in
:mod:`oauth_bridge.emulator.spec_schemas` (regenerate that with
:mod:`oauth_bridge.emulator.spec_vendor`). Looker sends keys it has no value for as ``null``;
clients (the SDKs' models, Looker's components library) read keys, so a missing one is a
difference an app can trip on.
"""

from __future__ import annotations

from typing import Any

from oauth_bridge.emulator.spec_schemas import SCHEMAS


def complete(schema: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with each key of ``schema`` it lacks set to ``None``, nested objects (and lists of
    them) completed by the schemas their properties refer to. Keys the spec lacks are kept."""
    props = SCHEMAS[schema]
    out = dict(body)
    for key, ref in props.items():
        value = out.setdefault(key, None)
        if ref is None or ref not in SCHEMAS:
            continue
        if isinstance(value, dict):
            out[key] = complete(ref, value)
        elif isinstance(value, list):
            out[key] = [complete(ref, item) if isinstance(item, dict) else item for item in value]
    return out


def keys(schema: str) -> tuple[str, ...]:
    """The property names of ``schema``, in the spec's order."""
    return tuple(SCHEMAS[schema])
