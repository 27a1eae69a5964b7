"""Stripe-shaped refusals: the sandbox raises these and the server answers with Stripe's error JSON."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.stripe.com/error-codes"


class ApiError(Exception):
    """One refusal as Stripe words it: HTTP status plus the `error` object's fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}#{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = "parameter_invalid") -> ApiError:
    """A 400 invalid_request_error naming the offending parameter."""
    return ApiError(400, message, code=code, param=param)


def missing_param(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_param(param: str) -> ApiError:
    return ApiError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def no_such(
    kind: str, object_id: str, param: str | None = None, status: int = 404, *, note: str | None = None
) -> ApiError:
    """Stripe's `resource_missing`: 404 for the object in the path, 400 for an id passed as a parameter; `note`
    follows after a semicolon (Stripe: "...; a similar object exists in live mode, but a test mode key was used...")."""
    message = f"No such {kind}: '{object_id}'" + (f"; {note}" if note else "")
    return ApiError(status, message, code="resource_missing", param=param)
