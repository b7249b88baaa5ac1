"""HMAC-SHA384 signing (REST and WS) and a persistent, strictly increasing nonce source.

REST: ``hex(HMAC_SHA384(secret, "/api/v2/" + path + nonce + raw_body))``.
WS:   ``hex(HMAC_SHA384(secret, "AUTH" + nonce))``.
The server remembers the largest nonce per key, so nonces must keep growing across restarts and
even if the wall clock steps backwards.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs


MAX_NONCE = 9_007_199_254_740_991  # JS MAX_SAFE_INTEGER, stated for the WS authNonce


@attrs.frozen(repr=False)
class Credentials:
    """An API key pair. ``repr`` and ``str`` never show the secret (nor the full key)."""

    api_key: str
    api_secret: str = attrs.field()

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask(self.api_key)!r}, api_secret='***')"

    __str__ = __repr__


def mask(value: str) -> str:
    """Show at most the first 4 characters of a key (for logs)."""
    return (value[:4] + "…") if len(value) > 8 else "***"


def hmac_sha384_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha384).hexdigest()


def rest_signature_payload(path: str, nonce: str, body: str | bytes = "") -> str:
    """``/api/v2/`` + path (no leading slash, no query) + nonce + raw body."""
    path = path.split("?", 1)[0].lstrip("/")
    if path.startswith("v2/"):
        path = path[3:]
    raw = body.decode() if isinstance(body, bytes) else body
    return f"/api/v2/{path}{nonce}{raw}"


def sign_rest(secret: str, path: str, nonce: int | str, body: str | bytes = "") -> str:
    """REST signature for ``path`` such as ``auth/r/wallets`` and the exact body bytes."""
    return hmac_sha384_hex(secret, rest_signature_payload(path, str(nonce), body))


def rest_auth_headers(
    creds: Credentials, path: str, nonce: int, body: str | bytes = ""
) -> dict[str, str]:
    return {
        "bfx-apikey": creds.api_key,
        "bfx-nonce": str(nonce),
        "bfx-signature": sign_rest(creds.api_secret, path, nonce, body),
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def sign_ws(secret: str, auth_payload: str) -> str:
    return hmac_sha384_hex(secret, auth_payload)


def ws_auth_message(
    creds: Credentials,
    nonce: int,
    *,
    dms: bool = False,
    filters: list[str] | None = None,
) -> dict[str, Any]:
    """The ``{"event":"auth",...}`` message; ``dms=True`` arms the dead-man switch (dms: 4)."""
    payload = f"AUTH{nonce}"
    msg: dict[str, Any] = {
        "event": "auth",
        "apiKey": creds.api_key,
        "authSig": sign_ws(creds.api_secret, payload),
        "authPayload": payload,
        "authNonce": nonce,
    }
    if dms:
        msg["dms"] = 4
    if filters is not None:
        msg["filter"] = list(filters)
    return msg


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


class NonceSource:
    """Strictly increasing µs nonces, shared by REST and WS, safe across restarts.

    The state file holds a *ceiling*: no nonce above it has been handed out.  We reserve a
    window (``lease_us``) ahead and write the new ceiling (write temp file, fsync, rename, fsync
    dir) only when the window is used up, so a restart always starts above every nonce ever
    issued while ordinary calls cost no disk I/O.  ``next()`` is ``max(clock, last + 1)``, so a
    clock that steps back cannot make a nonce repeat.  One file per API key; one process per file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock_us: Callable[[], int] = _wall_clock_us,
        lease_us: int = 10_000_000,
    ) -> None:
        self._path = Path(path) if path is not None else None
        self._clock_us = clock_us
        self._lease_us = max(lease_us, 0)
        self._lock = threading.Lock()
        self._ceiling = self._read_ceiling()
        self._last = self._ceiling

    def next(self) -> int:
        with self._lock:
            nonce = max(self._clock_us(), self._last + 1)
            if nonce > MAX_NONCE:
                raise OverflowError("nonce exceeds 2**53 - 1; use a new API key")
            if self._path is not None and nonce > self._ceiling:
                self._ceiling = min(nonce + self._lease_us, MAX_NONCE)
                self._write_ceiling(self._ceiling)
            self._last = nonce
            return nonce

    @property
    def last(self) -> int:
        return self._last

    def _read_ceiling(self) -> int:
        if self._path is None:
            return 0
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return 0
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"nonce file {self._path} is corrupt: {text[:40]!r}") from None

    def _write_ceiling(self, value: int) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{value}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path)
        try:
            dir_fd = os.open(self._path.parent, os.O_RDONLY)
        except OSError:  # some platforms cannot open directories; the rename is still atomic
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
