"""Export one JSON Schema per event version to ``shared/contracts/schemas`` and check compatibility.

``python -m notify_contracts.schema_export`` rewrites the files; tests compare them with the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .envelope import Envelope, Event, registered_events

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_for(model: type[Event]) -> dict[str, Any]:
    schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
    schema["title"] = model.routing_key()
    schema["$id"] = f"urn:notify:event:{model.routing_key()}"
    return schema


def file_name(model: type[Event]) -> str:
    return f"{model.routing_key()}.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in registered_events().values():
        path = directory / file_name(model)
        path.write_text(render(schema_for(model)))
        written.append(path)
    return written


def main() -> None:
    for path in export(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)


if __name__ == "__main__":
    main()
