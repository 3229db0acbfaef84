"""The v2 error envelope: ``{"status_code": N, "errors": [{"error": <type>, "message": <text>}, ...]}``."""

from __future__ import annotations


class V2Error(Exception):
    def __init__(
        self, status_code: int, error: str, message: str | list[str], extra: dict[str, object] | None = None
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.messages = [message] if isinstance(message, str) else list(message)
        self.extra = extra or {}  # more keys on the error item (the QR-code error carries data and sizes)
        super().__init__(self.messages[0] if self.messages else error)

    def body(self) -> dict[str, object]:
        return {
            "status_code": self.status_code,
            "errors": [{"error": self.error, "message": m, **self.extra} for m in self.messages],
        }


def bad_request(message: str, status_code: int = 400) -> V2Error:
    return V2Error(status_code, "BadRequestError", message)


def body_too_large(limit: int) -> V2Error:
    """413 for a request body over ``max_json_body_bytes``: one wording on every v2 route that reads a body."""
    return V2Error(413, "BadRequestError", f"Request body is too large: the limit is {limit} bytes")


def validation_error(*messages: str) -> V2Error:
    return V2Error(400, "ValidationError", list(messages))


def not_found() -> V2Error:
    return V2Error(404, "NoResultFound", "No result found")


def unavailable() -> V2Error:
    return V2Error(
        503, "ServiceUnavailableError", "The service is temporarily unavailable, please try again later"
    )
