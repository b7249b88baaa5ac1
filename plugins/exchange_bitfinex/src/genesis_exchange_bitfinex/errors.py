"""Typed exceptions for the Bitfinex API v2.

Bitfinex reports errors as positional arrays ``["error", CODE, "message"]`` (any HTTP status),
as a legacy object ``{"error": "ERR_RATE_LIMIT"}``, or as WS events
``{"event": "error", "code": N, "msg": "..."}``.  Decisions are made on the numeric code only;
the message text is kept for humans and logs.
"""

from __future__ import annotations

from typing import Any


class BitfinexError(Exception):
    """Base class of every error raised by this package."""

    def __init__(self, code: int | None, message: str, *, http_status: int | None = None) -> None:
        super().__init__(f"[{code}] {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.http_status = http_status


class BitfinexApiError(BitfinexError):
    """An error array with a code this package has no specific class for."""


class UnknownError(BitfinexApiError):
    """10000: unknown error (WS: unknown event)."""


class OrderRejectedError(BitfinexApiError):
    """10001: generic error; order rejections (size, balance, not found) land here."""


class ConcurrencyError(BitfinexApiError):
    """10008: concurrency error."""


class ParamsError(BitfinexApiError):
    """10020: request parameters error (bad symbol, limit, precision...)."""


class AuthenticationError(BitfinexApiError):
    """10100-10113: bad key, signature or auth payload."""


class NonceTooSmallError(AuthenticationError):
    """10114: nonce not strictly greater than the last accepted one."""


class SubscriptionError(BitfinexApiError):
    """10300-10305: a WS subscription failed."""


class UnsubscriptionError(BitfinexApiError):
    """10400/10401: a WS unsubscription failed."""


class NotReadyError(BitfinexApiError):
    """11000: the platform is not ready, try again later."""


class RateLimitError(BitfinexApiError):
    """11010 / ERR_RATE_LIMIT / HTTP 429: the endpoint is blocked for this IP."""


class MaintenanceError(BitfinexApiError):
    """20060 or platform status 0: trading is paused."""


class TransportError(BitfinexError):
    """The request may or may not have reached the exchange (timeout, reset, lost response).

    ``maybe_executed`` is true when a write request was sent and its outcome is unknown: look the
    order up by client id before retrying.
    """

    def __init__(self, message: str, *, maybe_executed: bool = False) -> None:
        super().__init__(None, message)
        self.maybe_executed = maybe_executed


class ServerError(BitfinexError):
    """A 5xx answer that carries no Bitfinex error array (HTML page, empty body...)."""


class CircuitOpenError(BitfinexError):
    """The client refused to send: the endpoint's circuit breaker is open."""

    def __init__(self, endpoint: str, retry_after: float) -> None:
        super().__init__(None, f"circuit open for {endpoint}; retry in {retry_after:.3f}s")
        self.endpoint = endpoint
        self.retry_after = retry_after


class WireFormatError(BitfinexError):
    """A payload did not match the documented wire layout; names the record and the field."""

    def __init__(self, record: str, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(None, f"{record}.{field}: {reason} (got {shown})")
        self.record = record
        self.field = field
        self.value = value


_BY_CODE: dict[int, type[BitfinexApiError]] = {
    10000: UnknownError,
    10001: OrderRejectedError,
    10008: ConcurrencyError,
    10020: ParamsError,
    10100: AuthenticationError,
    10111: AuthenticationError,
    10112: AuthenticationError,
    10113: AuthenticationError,
    10114: NonceTooSmallError,
    10200: AuthenticationError,
    10300: SubscriptionError,
    10301: SubscriptionError,
    10302: SubscriptionError,
    10305: SubscriptionError,
    10400: UnsubscriptionError,
    10401: UnsubscriptionError,
    11000: NotReadyError,
    11010: RateLimitError,
    20060: MaintenanceError,
}


def error_for_code(
    code: int | None, message: str, *, http_status: int | None = None
) -> BitfinexApiError:
    """Build the typed exception for a Bitfinex error code (unknown codes: BitfinexApiError)."""
    if code is None and "RATE_LIMIT" in message.upper():
        # Legacy body ["error", null, "ERR_RATE_LIMIT"]: no code, so the text is all there is.
        return RateLimitError(11010, message, http_status=http_status)
    cls = _BY_CODE.get(code, BitfinexApiError) if code is not None else BitfinexApiError
    return cls(code, message, http_status=http_status)


def parse_error_payload(payload: Any, *, http_status: int | None = None) -> BitfinexApiError | None:
    """Return the typed error carried by a decoded JSON payload, or None if it is no error.

    Accepts ``["error", code, msg]`` (any status), ``{"error": ...}`` (legacy rate limit) and WS
    ``{"event": "error", "code": ..., "msg": ...}``.
    """
    if isinstance(payload, list) and payload and payload[0] == "error":
        code = _as_code(payload[1] if len(payload) > 1 else None)
        msg = payload[2] if len(payload) > 2 and isinstance(payload[2], str) else ""
        return error_for_code(code, msg, http_status=http_status)
    if isinstance(payload, dict):
        if payload.get("event") == "error":
            return error_for_code(
                _as_code(payload.get("code")), str(payload.get("msg", "")), http_status=http_status
            )
        if "error" in payload and "event" not in payload:
            err = payload["error"]
            return error_for_code(_as_code(payload.get("code")), str(err), http_status=http_status)
    return None


def _as_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
