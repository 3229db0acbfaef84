"""The compatibility rules catch each kind of breaking change, and allow the safe one."""

from __future__ import annotations

import uuid
from typing import Any

from notify_contracts import Event
from notify_contracts.compatibility import problems
from notify_contracts.schema_export import schema_for


def _schema(**fields: Any) -> dict[str, Any]:
    model = type(
        "Sample",
        (Event,),
        {
            "__annotations__": {k: v[0] for k, v in fields.items()},
            **{k: v[1] for k, v in fields.items() if v[1] is not ...},
        },
    )
    model.event_type = "sample.event"
    model.event_version = 1
    return schema_for(model)


BASE = {"id": (uuid.UUID, ...), "count": (int, ...), "note": (str | None, None)}


def test_identical_schemas_are_compatible() -> None:
    assert problems(_schema(**BASE), _schema(**BASE)) == []


def test_adding_an_optional_field_is_compatible() -> None:
    assert problems(_schema(**BASE), _schema(**BASE, extra=(str | None, None))) == []


def test_removing_a_field_is_breaking() -> None:
    smaller = {k: v for k, v in BASE.items() if k != "count"}
    assert problems(_schema(**BASE), _schema(**smaller)) == ["payload: field 'count' removed or renamed"]


def test_renaming_a_field_is_breaking() -> None:
    renamed = {"id": BASE["id"], "total": BASE["count"], "note": BASE["note"]}
    found = problems(_schema(**BASE), _schema(**renamed))
    assert "payload: field 'count' removed or renamed" in found
    assert "payload: new field 'total' is required" in found


def test_changing_a_type_is_breaking() -> None:
    changed = {**BASE, "count": (str, ...)}
    assert problems(_schema(**BASE), _schema(**changed)) == ["payload: field 'count' changed type"]


def test_making_an_optional_field_required_is_breaking() -> None:
    required = {**BASE, "note": (str, ...)}
    found = problems(_schema(**BASE), _schema(**required))
    assert "payload: optional field 'note' made required" in found


def test_adding_a_required_field_is_breaking() -> None:
    assert problems(_schema(**BASE), _schema(**BASE, must=(int, ...))) == [
        "payload: new field 'must' is required"
    ]
