"""The baseline the gateway is read against: a bare FastAPI endpoint that parses and validates the body of a
``POST /v2/notifications/sms`` with a pydantic model (FastAPI's own way) and answers 201, served exactly as every
service is (``notify_platform.runtime.serve``: uvicorn, uvloop, httptools, one process, no access log).

``python -m notify_tools.bench.bare_app --port N``
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from fastapi import FastAPI
from notify_platform.runtime import serve
from pydantic import BaseModel, ConfigDict, Field


class SmsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number: str = Field(min_length=1)
    template_id: uuid.UUID
    personalisation: dict[str, Any] | None = None
    reference: str | None = Field(default=None, max_length=1000)
    sms_sender_id: uuid.UUID | None = None
    scheduled_for: str | None = None


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/v2/notifications/sms", status_code=201)
    async def send_sms(body: SmsBody) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "reference": body.reference,
            "template": {"id": str(body.template_id)},
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="bare-app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(create_app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
