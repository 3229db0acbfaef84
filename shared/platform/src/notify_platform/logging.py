"""structlog configured once per process: JSON lines, a bound correlation id, no personal data.

Callers log ids and counts only. Phone numbers, email and postal addresses and personalisation values are never
passed to a logger; ``scrub`` is a last line of defence that drops fields whose names say they hold such data.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

PERSONAL_FIELDS = frozenset(
    {
        "to",
        "recipient",
        "normalised_recipient",
        "phone_number",
        "email_address",
        "address",
        "address_lines",
        "personalisation",
        "body",
        "content",
        "subject",
    }
)


def scrub(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in PERSONAL_FIELDS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


def configure(service: str, level: str = "INFO") -> None:
    """Route both structlog and stdlib logging to JSON on stdout, tagged with the service name."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # One write per line (message and newline together), so lines from threads never interleave.
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs carry full URLs and client addresses; the gateway logs its own request events instead.
    logging.getLogger("uvicorn.access").disabled = True
    # aiosmtpd's "mail.log" echoes every SMTP command, addresses included.
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def bind_correlation_id(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)


def current_correlation_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("correlation_id")
