"""A minimal Bot API client that keeps the token out of every URL the HTTP client sees.

The Bot API puts the token in the URL path (``/bot<token>/sendMessage``), and httpx logs every
request URL at INFO level (its logger is ``httpx``). So the client only ever builds URLs with
the placeholder ``/botREDACTED/``; :class:`_TokenTransport`, below the client and its logging,
swaps the real token in on a fresh request object just before the bytes go out. Errors are
reduced to their type name: their text could carry the real URL.

Failures are classified for the retry policy:

* :class:`NotSent` - the request certainly did not reach Telegram (no connection, pool or
  connect timeout, failure while writing the request): safe to send again;
* :class:`Ambiguous` - the request went out but no answer came back (read timeout, connection
  dropped): Telegram may or may not have acted on it;
* :class:`ApiError` - Telegram (or a proxy in front of it) answered with an error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from genesis_core import Secret


PLACEHOLDER = "REDACTED"


class TelegramError(Exception):
    """Base of the errors below; messages never contain the token."""


class NotSent(TelegramError):
    """The request certainly did not reach Telegram."""


class Ambiguous(TelegramError):
    """The request was sent but its outcome is unknown."""


class ApiError(TelegramError):
    """Telegram answered ``ok: false`` (or a non-JSON error status)."""

    def __init__(self, status: int, code: int, description: str,
                 parameters: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status} (error {code}): {description}")
        self.status = status
        self.code = code
        self.description = description
        self.parameters = parameters

    @property
    def retry_after(self) -> float | None:
        value = self.parameters.get("retry_after")
        return float(value) if isinstance(value, int | float) and value >= 0 else None

    @property
    def transient(self) -> bool:
        """Worth trying again: rate limited, or a server-side failure."""
        return self.code == 429 or self.status == 429 or self.status >= 500 or self.code >= 500


class _TokenTransport(httpx.AsyncBaseTransport):
    def __init__(self, token: Secret, inner: httpx.AsyncBaseTransport) -> None:
        self._token = token
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        marker = f"/bot{PLACEHOLDER}/".encode()
        raw_path = request.url.raw_path
        if marker in raw_path:
            secret = quote(self._token.reveal(), safe=":")
            url = request.url.copy_with(
                raw_path=raw_path.replace(marker, f"/bot{secret}/".encode(), 1))
            request = httpx.Request(request.method, url, headers=request.headers,
                                    stream=request.stream, extensions=request.extensions)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError,
             httpx.WriteTimeout, httpx.LocalProtocolError, httpx.UnsupportedProtocol,
             httpx.ProxyError)


class BotApi:
    """Calls Bot API methods; returns ``result`` or raises one of the errors above."""

    def __init__(self, token: Secret, api_url: str, timeout: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        inner = transport or httpx.AsyncHTTPTransport(retries=0)
        self._base = f"{api_url.rstrip('/')}/bot{PLACEHOLDER}"
        self._timeout = timeout
        self._client = httpx.AsyncClient(transport=_TokenTransport(token, inner),
                                         timeout=timeout)

    async def call(self, method: str, payload: dict[str, Any], *,
                   wait: float = 0.0) -> Any:
        """POST ``payload`` as JSON to ``method``. ``wait``: extra seconds the server may hold
        the request before answering (getUpdates long polling)."""
        timeout = httpx.Timeout(self._timeout, read=self._timeout + wait)
        try:
            response = await self._client.post(f"{self._base}/{method}", json=payload,
                                               timeout=timeout)
        except _NOT_SENT as exc:
            raise NotSent(f"{method}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise Ambiguous(f"{method}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            if response.status_code == 200:
                # Something answered 200 without the Bot API envelope: the method may have run.
                raise Ambiguous(f"{method}: HTTP 200 without a JSON body")
            raise ApiError(response.status_code, response.status_code,
                           response.reason_phrase or "no description", {})
        if body.get("ok") is True and response.status_code == 200:
            return body.get("result")
        code = body.get("error_code")
        parameters = body.get("parameters")
        raise ApiError(response.status_code,
                       code if isinstance(code, int) else response.status_code,
                       str(body.get("description") or "no description"),
                       parameters if isinstance(parameters, dict) else {})

    async def aclose(self) -> None:
        await self._client.aclose()
