"""Errors a person can act on: each has a title, a message and a hint, and never contains a secret key."""

from __future__ import annotations

from pathlib import Path

from portal_tui.services.redact import redact


class PortalError(Exception):
    """Base of every error shown to the admin; `str(err)` is the message."""

    title = "Something went wrong"
    default_message = "portal-tui could not finish this action."
    default_hint: str | None = None

    def __init__(self, message: str | None = None, *, hint: str | None = None, title: str | None = None) -> None:
        self.message = redact(message or self.default_message)
        self.hint = redact(hint) if hint is not None else self.default_hint
        if title is not None:
            self.title = title
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class KeyFormatError(PortalError):
    title = "That is not a secret key"
    default_message = "Paste the secret key (sk_test_… or sk_live_…)."
    default_hint = "Find it in the Stripe Dashboard under Developers → API keys."
    field = "key"


class InvalidKeyError(PortalError):
    title = "Stripe refused this key"
    default_message = "Stripe did not accept this key: it is wrong, expired or revoked."
    default_hint = "Copy the secret key again from Dashboard → Developers → API keys; it may have been rolled."


class PermissionDeniedError(PortalError):
    title = "The key lacks a permission"
    default_message = "This restricted key is not allowed to do that."

    def __init__(self, message: str | None = None, *, permission: str | None = None, hint: str | None = None) -> None:
        self.permission = permission
        if hint is None:
            hint = (
                f"Edit the restricted key in the Dashboard and grant '{permission}', or use a secret key."
                if permission
                else "Edit the restricted key's permissions in the Dashboard, or use a secret key."
            )
        super().__init__(message, hint=hint)


class RateLimitedError(PortalError):
    title = "Stripe is rate limiting"
    default_message = "Stripe asked portal-tui to slow down, and retries did not help."
    default_hint = "Wait a minute and try again."


class StripeUnreachableError(PortalError):
    title = "Stripe is unreachable"
    default_message = "portal-tui could not reach Stripe."
    default_hint = "Check this machine's network and proxy settings, then try again."


class InvalidRequestError(PortalError):
    title = "Stripe refused the request"

    def __init__(self, message: str | None = None, *, param: str | None = None, hint: str | None = None) -> None:
        self.param = param
        super().__init__(message, hint=hint)


class NotFoundError(InvalidRequestError):
    title = "Not found"
    default_message = "Stripe has no such object."


class IdempotencyConflictError(PortalError):
    title = "Stripe did not repeat this action"
    default_message = (
        "Stripe already answered an earlier attempt of this action, and this attempt's details differ from it, "
        "so Stripe refused to run it again. Nothing new was created."
    )
    default_hint = "Check the catalog for what the earlier attempt made, then start the action again from the form."


class CardError(PortalError):
    title = "The card was declined"

    def __init__(self, message: str | None = None, *, decline_code: str | None = None, hint: str | None = None) -> None:
        self.decline_code = decline_code
        super().__init__(message, hint=hint)


class ConfigFileError(PortalError):
    title = "The plan file has a problem"

    def __init__(
        self,
        message: str | None = None,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(message, hint=hint)


class LiveModeRefusedError(PortalError):
    title = "Not in live mode"
    default_message = "This runs in test mode only."
    default_hint = "Connect a test key (sk_test_…) for this step."


class NotConnectedError(PortalError):
    title = "Connect Stripe first"
    default_message = "No Stripe key is connected yet."
    default_hint = "Open step 1, Connect Stripe, and paste your secret key."


class KeyStorageError(PortalError):
    title = "The key could not be stored"
    default_hint = "Check that your keyring is unlocked, or choose the 0600 file fallback."
