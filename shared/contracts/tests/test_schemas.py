"""The committed JSON Schemas are the published contract: models must match them and stay compatible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from notify_contracts import registered_events
from notify_contracts.compatibility import problems
from notify_contracts.schema_export import SCHEMA_DIR, file_name, render, schema_for

EVENTS = sorted(registered_events().values(), key=lambda m: m.routing_key())


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.routing_key())
def test_committed_schema_matches_the_model(model: type) -> None:
    path = SCHEMA_DIR / file_name(model)
    assert path.exists(), f"{path.name} is not committed: run `make schemas`"
    assert path.read_text() == render(schema_for(model)), (
        f"{path.name} drifted from its model: run `make schemas`"
    )


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.routing_key())
def test_model_is_compatible_with_its_committed_version(model: type) -> None:
    committed = json.loads((SCHEMA_DIR / file_name(model)).read_text())
    assert problems(committed, schema_for(model)) == []


def _git_head_version(path: Path) -> dict | None:
    relative = path.relative_to(Path(__file__).resolve().parents[3])
    try:
        shown = subprocess.run(
            ["git", "show", f"HEAD:{relative.as_posix()}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return json.loads(shown.stdout) if shown.returncode == 0 else None


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.routing_key())
def test_schema_changes_since_the_last_commit_are_compatible(model: type) -> None:
    """A re-exported schema must not break the version already committed (a breaking change is a new version)."""
    path = SCHEMA_DIR / file_name(model)
    previous = _git_head_version(path)
    if previous is None:
        pytest.skip("no committed version of this schema yet (new event version)")
    assert problems(previous, json.loads(path.read_text())) == []


def test_no_schema_file_without_a_model() -> None:
    expected = {file_name(m) for m in EVENTS}
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} == expected
