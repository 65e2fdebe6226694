"""Domain errors raised anywhere inside; the API edge maps them to `{"error", "code", "request_id"}`."""

from __future__ import annotations


class ApplianceError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class InvalidInput(ApplianceError):
    """Bad body or parameter; the message names the field."""

    status_code = 400
    code = "invalid_request"


class NotFound(ApplianceError):
    status_code = 404
    code = "not_found"


class Conflict(ApplianceError):
    status_code = 409
    code = "conflict"


class RateLimited(ApplianceError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class TelephonyUnavailable(ApplianceError):
    status_code = 503
    code = "telephony_unavailable"
