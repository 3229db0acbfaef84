"""Backward-compatibility rules for a committed event version.

A consumer written against the old schema must still understand every message the new schema allows, and a
producer written against the old schema must still produce valid messages. So within one version: no field may
be removed or renamed, no type may change, and no optional field may become required. Adding an optional field
is allowed (consumers ignore what they do not know only if it is optional for producers).
"""

from __future__ import annotations

from typing import Any


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return _resolve(schema, schema["$defs"][ref.split("/")[-1]])
    return node


def _type_signature(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """A comparable description of a field's accepted values, without titles, defaults or descriptions."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return ("anyOf", sorted(repr(_type_signature(schema, n)) for n in node["anyOf"]))
    if node.get("type") == "object" and "properties" in node:
        return (
            "object",
            tuple(sorted((k, repr(_type_signature(schema, v))) for k, v in node["properties"].items())),
            tuple(sorted(node.get("required", []))),
        )
    if node.get("type") == "array":
        return ("array", repr(_type_signature(schema, node.get("items", {}))))
    keep = ("type", "enum", "const", "format", "minimum", "maximum", "exclusiveMinimum", "maxLength")
    return tuple((k, repr(node[k])) for k in keep if k in node)


def _payload(schema: dict[str, Any]) -> dict[str, Any]:
    return _resolve(schema, schema["properties"]["payload"])


def problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every incompatible difference between the committed schema ``old`` and the candidate ``new``."""
    found: list[str] = []
    for part, old_node, new_node in (("envelope", old, new), ("payload", _payload(old), _payload(new))):
        old_props = old_node.get("properties", {})
        new_props = new_node.get("properties", {})
        old_required = set(old_node.get("required", []))
        new_required = set(new_node.get("required", []))
        for name, old_field in old_props.items():
            if name not in new_props:
                found.append(f"{part}: field '{name}' removed or renamed")
                continue
            if part == "envelope" and name == "payload":
                continue
            if _type_signature(old, old_field) != _type_signature(new, new_props[name]):
                found.append(f"{part}: field '{name}' changed type")
            if name in new_required and name not in old_required:
                found.append(f"{part}: optional field '{name}' made required")
        for name in new_props.keys() - old_props.keys():
            if name in new_required:
                found.append(f"{part}: new field '{name}' is required")
    return found
