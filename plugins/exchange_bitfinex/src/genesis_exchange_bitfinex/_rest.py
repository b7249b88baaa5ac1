"""Async REST v2 client (httpx): public market data and signed account/order endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import attrs
import httpx

from . import _wire as w
from ._auth import Credentials, NonceSource, rest_auth_headers
from ._jsonnum import loads, plain_decimal
from ._resilience import Backoff, CircuitBreaker, Clock, RateLimiter, SystemClock
from ._wire_fields import _int
from .errors import (
    BitfinexApiError,
    BitfinexError,
    CircuitOpenError,
    NonceTooSmallError,
    NotReadyError,
    OrderRejectedError,
    RateLimitError,
    ServerError,
    TransportError,
    WireFormatError,
    parse_error_payload,
)
from .orders import OrderRequest, candidate_cid_dates


log = logging.getLogger(__name__)
_SERVER_SIDE_CODES = frozenset({None, 10000, 11000, 20060})
_NONCE_RETRIES = 3
MAX_MULTI_OPS = 75
_HISTORY_LOOKUP = 500
MULTI_OPS = frozenset({"on", "oc", "ou", "oc_multi"})


@attrs.frozen
class MultiOpResult:
    """Outcome of one operation of ``order/multi`` (its own notification)."""

    op: str
    status: str | None
    text: str | None
    orders: list[w.Order]

    @property
    def ok(self) -> bool:
        return self.status not in ("ERROR", "FAILURE")


class BitfinexRestClient:
    """Bitfinex REST v2. One instance per API key (signed calls share one nonce sequence).

    ``base_url`` is the authenticated host (``https://api.bitfinex.com/v2``); public calls use
    ``public_base_url`` when given.  Public and ``auth/r`` reads are retried on server-side
    failures; writes never are (use ``submit_order_reconciled`` for safe retries).
    """

    def __init__(
        self,
        base_url: str = "https://api.bitfinex.com/v2",
        *,
        public_base_url: str | None = None,
        credentials: Credentials | None = None,
        nonce: NonceSource | None = None,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        retry_backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._public = (public_base_url or base_url).rstrip("/")
        self._creds = credentials
        self._nonce = nonce or NonceSource()
        self.clock = clock or SystemClock()
        self.rate_limiter = rate_limiter or RateLimiter(self.clock)
        self.breaker = circuit_breaker or CircuitBreaker(self.clock)
        self._retries = retries
        self._backoff = retry_backoff or Backoff(base=0.5, cap=10.0, rng=random.Random())
        self._auth_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"BitfinexRestClient(base_url={self._base!r}, credentials={self._creds!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BitfinexRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- transport ----------------------------------------------------------------------------
    async def request_public(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``/v2/{path}``; returns decoded JSON (floats as Decimal)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return await self._with_retries(
            path, lambda: self._send("GET", f"{self._public}/{path}", path, params=query)
        )

    async def request_auth(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Signed POST ``/v2/{path}``; ``body=None`` sends no body (signed without one)."""
        if self._creds is None:
            raise BitfinexError(None, "this client has no API credentials")
        raw = "" if body is None else json.dumps(body, separators=(",", ":"))
        write = path.startswith("auth/w/")

        async def once() -> Any:
            async with self._auth_lock:  # nonces must reach the server in order
                for attempt in range(_NONCE_RETRIES + 1):
                    nonce = self._nonce.next()
                    assert self._creds is not None
                    headers = rest_auth_headers(self._creds, path, nonce, raw)
                    try:
                        return await self._send(
                            "POST",
                            f"{self._base}/{path}",
                            path,
                            content=raw.encode(),
                            headers=headers,
                            write=write,
                        )
                    except NonceTooSmallError:
                        # A WS auth on the same key overtook us with a larger nonce.  The
                        # server refused before executing anything, so even a write is safe
                        # to send again with a fresh (larger) nonce.
                        if attempt == _NONCE_RETRIES:
                            raise
                        log.info("%s: nonce overtaken; signing again", path)
            raise AssertionError("unreachable")

        if write:
            return await self._guarded(path, once)
        return await self._with_retries(path, once)

    async def _with_retries(self, path: str, call: Any) -> Any:
        # Only real failures use up retries; an open circuit (opened by those failures) is
        # waited out, at most retries + 1 times, and never when retries == 0.
        failures = waits = 0
        while True:
            try:
                return await self._guarded(path, call)
            except CircuitOpenError as exc:
                if self._retries == 0 or failures > self._retries or waits > self._retries:
                    raise
                waits += 1
                delay = exc.retry_after
            except RateLimitError:
                # The breaker is now open for the endpoint: the next turn waits it out.
                if failures >= self._retries:
                    raise
                failures += 1
                delay = 0.0
            except (ServerError, TransportError, NotReadyError, WireFormatError) as exc:
                # WireFormatError here is an answer that was not JSON (a garbled read).
                if failures >= self._retries:
                    raise
                failures += 1
                delay = self._backoff.next_delay()
                log.debug(
                    "retrying %s after %s (attempt %d, %.3fs)",
                    path,
                    type(exc).__name__,
                    failures,
                    delay,
                )
            await self.clock.sleep(delay)

    async def _guarded(self, path: str, call: Any) -> Any:
        self.breaker.check(path)
        await self.rate_limiter.acquire(path)
        try:
            result = await call()
        except RateLimitError:
            self.breaker.record_failure(path, rate_limited=True)
            raise
        except BitfinexApiError as exc:
            if exc.code in _SERVER_SIDE_CODES:
                self.breaker.record_failure(path)
            else:
                self.breaker.record_success(path)  # the server is fine; the request was not
            raise
        except (ServerError, TransportError, WireFormatError):
            self.breaker.record_failure(path)  # a garbled answer is the server's failure too
            raise
        except BaseException:
            self.breaker.release(path)  # e.g. cancelled: let the next call be the probe
            raise
        self.breaker.record_success(path)
        return result

    async def _send(
        self, method: str, url: str, path: str, *, write: bool = False, **kwargs: Any
    ) -> Any:
        log.debug("%s %s", method, path)
        try:
            response = await self._http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransportError(f"{path}: cannot connect ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # Sent (or partly sent) but no answer: a write may have been executed.
            raise TransportError(
                f"{path}: no response ({type(exc).__name__})", maybe_executed=write
            ) from None
        log.debug("%s %s -> HTTP %d", method, path, response.status_code)
        return self._decode(path, response)

    @staticmethod
    def _decode(path: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            payload = loads(response.content)
        except ValueError:
            if status == 429:
                raise RateLimitError(11010, "HTTP 429", http_status=status) from None
            if status >= 500:
                raise ServerError(None, f"{path}: HTTP {status}", http_status=status) from None
            if status >= 400:
                raise BitfinexApiError(None, f"{path}: HTTP {status}", http_status=status) from None
            raise WireFormatError("RESPONSE", path, response.text[:60], "not JSON") from None
        error = parse_error_payload(payload, http_status=status)
        if error is not None:
            raise error
        if status == 429:
            raise RateLimitError(11010, "HTTP 429", http_status=status)
        if status >= 400:
            cls = ServerError if status >= 500 else BitfinexApiError
            raise cls(None, f"{path}: HTTP {status}", http_status=status)
        return payload

    # --- public endpoints ---------------------------------------------------------------------
    async def platform_status(self) -> int:
        """1 operative, 0 maintenance."""
        payload = await self.request_public("platform/status")
        return _int("PLATFORM_STATUS", "status", payload[0] if payload else None)

    async def ticker(self, symbol: str) -> w.TradingTicker:
        return w.parse_ticker(await self.request_public(f"ticker/{symbol}"), symbol)

    async def tickers(self, symbols: Sequence[str]) -> list[w.TradingTicker]:
        rows = await self.request_public("tickers", {"symbols": ",".join(symbols)})
        return [w.parse_tickers_row(r) for r in rows if r and str(r[0]).startswith("t")]

    async def trades(
        self,
        symbol: str,
        *,
        limit: int = 125,
        start: int | None = None,
        end: int | None = None,
        sort: int = -1,
    ) -> list[w.PublicTrade]:
        rows = await self.request_public(
            f"trades/{symbol}/hist", {"limit": limit, "start": start, "end": end, "sort": sort}
        )
        return w.parse_many(w.parse_public_trade, rows, "PUBLIC_TRADE")

    async def book(
        self, symbol: str, precision: str = "P0", length: int = 25
    ) -> list[w.BookLevel] | list[w.RawBookEntry]:
        rows = await self.request_public(f"book/{symbol}/{precision}", {"len": length})
        if precision == "R0":
            return w.parse_many(w.parse_raw_book_entry, rows, "RAW_BOOK")
        return w.parse_many(w.parse_book_level, rows, "BOOK")

    async def candles(
        self,
        symbol: str,
        timeframe: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
        sort: int = -1,
    ) -> list[w.Candle]:
        """One page of ``candles/trade:{tf}:{symbol}/hist``."""
        key = quote(f"trade:{timeframe}:{symbol}", safe=":")
        rows = await self.request_public(
            f"candles/{key}/hist", {"start": start, "end": end, "limit": limit, "sort": sort}
        )
        return w.parse_many(w.parse_candle, rows, "CANDLE")

    async def candles_range(
        self, symbol: str, timeframe: str, start: int, end: int, *, page_limit: int = 10_000
    ) -> list[w.Candle]:
        """All candles with ``start <= mts <= end``, ascending, following pages."""
        out: list[w.Candle] = []
        cursor = start
        while cursor <= end:
            page = await self.candles(
                symbol, timeframe, start=cursor, end=end, limit=page_limit, sort=1
            )
            fresh = [c for c in page if not out or c.mts > out[-1].mts]
            out.extend(fresh)
            if len(page) < page_limit or not fresh:
                break
            cursor = out[-1].mts + 1
        return out

    async def candle_last(self, symbol: str, timeframe: str) -> w.Candle | None:
        key = quote(f"trade:{timeframe}:{symbol}", safe=":")
        row = await self.request_public(f"candles/{key}/last")
        return w.parse_candle(row) if row else None

    async def conf(self, *keys: str) -> list[Any]:
        return list(await self.request_public("conf/" + ",".join(keys)))

    async def pair_info(self) -> dict[str, w.PairInfo]:
        """``pub:info:pair`` keyed by pair without the ``t`` (min/max order size, margin)."""
        (rows,) = await self.conf("pub:info:pair")
        infos = w.parse_many(w.parse_pair_info, rows, "PAIR_INFO")
        return {info.pair: info for info in infos}

    # --- authenticated reads ------------------------------------------------------------------
    async def wallets(self) -> list[w.Wallet]:
        return w.parse_many(w.parse_wallet, await self.request_auth("auth/r/wallets"), "WALLET")

    async def positions(self) -> list[w.Position]:
        rows = await self.request_auth("auth/r/positions")
        return w.parse_many(w.parse_position, rows, "POSITION")

    async def active_orders(
        self,
        symbol: str | None = None,
        *,
        ids: Sequence[int] | None = None,
        gid: int | None = None,
        cid: int | None = None,
        cid_date: str | None = None,
    ) -> list[w.Order]:
        body = _drop_none(
            {"id": list(ids) if ids else None, "gid": gid, "cid": cid, "cid_date": cid_date}
        )
        path = f"auth/r/orders/{symbol}" if symbol else "auth/r/orders"
        return w.parse_many(w.parse_order, await self.request_auth(path, body or None), "ORDER")

    async def order_history(
        self,
        symbol: str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[w.Order]:
        body = _drop_none(
            {"start": start, "end": end, "limit": limit, "id": list(ids) if ids else None}
        )
        path = f"auth/r/orders/{symbol}/hist" if symbol else "auth/r/orders/hist"
        return w.parse_many(w.parse_order, await self.request_auth(path, body or None), "ORDER")

    async def trades_history(
        self,
        symbol: str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
        sort: int | None = None,
    ) -> list[w.AccountTrade]:
        body = _drop_none({"start": start, "end": end, "limit": limit, "sort": sort})
        path = f"auth/r/trades/{symbol}/hist" if symbol else "auth/r/trades/hist"
        rows = await self.request_auth(path, body or None)
        return w.parse_many(w.parse_account_trade, rows, "TRADE")

    async def order_trades(self, symbol: str, order_id: int) -> list[w.AccountTrade]:
        rows = await self.request_auth(f"auth/r/order/{symbol}:{order_id}/trades")
        return w.parse_many(w.parse_account_trade, rows, "TRADE")

    # --- order writes -------------------------------------------------------------------------
    async def submit_order(self, request: OrderRequest) -> list[w.Order]:
        """Submit; returns the accepted order(s) (two for OCO) as the exchange echoed them.

        Raises ``OrderRejectedError`` (or another typed error) when rejected, and
        ``TransportError(maybe_executed=True)`` when the outcome is unknown.
        """
        payload = await self.request_auth("auth/w/order/submit", request.to_body())
        return _notification_orders(payload)

    async def submit_order_reconciled(self, request: OrderRequest) -> list[w.Order]:
        """Submit once; if the answer is lost, look the order up by cid before one retry."""
        try:
            return await self.submit_order(request)
        except TransportError as exc:
            if not exc.maybe_executed:
                raise
            log.warning("submit of cid %s has an unknown outcome; reconciling", request.cid)
        found = await self.find_order_by_cid(request.cid, request.cid_date, request.symbol)
        if found is not None:
            return [found]
        return await self.submit_order(request)

    async def find_order_by_cid(
        self, cid: int, cid_date: str, symbol: str | None = None
    ) -> w.Order | None:
        """The order with this client id (active first, then recent history), or ``None``."""
        found = await self.find_orders_by_cid(cid, cid_date, symbol)
        return found[0] if found else None

    async def find_orders_by_cid(
        self, cid: int, cid_date: str, symbol: str | None = None
    ) -> list[w.Order]:
        """Every order carrying this client id (an OCO pair has two), active ones first.

        Two signed reads: the active orders (of ``symbol``), then the orders closed since the
        day before ``cid_date``.  Being signed, the reads also fence off an earlier request
        still on its way: once they pass, a smaller nonce is refused (§2.2).
        """
        active = [o for o in await self.active_orders(symbol) if o.cid == cid]
        if active:
            return active
        since = _day_start_ms(candidate_cid_dates(cid_date)[1])
        closed = await self.order_history(symbol, start=since, limit=_HISTORY_LOOKUP)
        return [o for o in closed if o.cid == cid]

    async def update_order(self, order_id: int, **changes: Any) -> w.Order:
        """``changes``: price, amount, delta, price_aux_limit, price_trailing, flags, gid, tif."""
        body: dict[str, Any] = {"id": order_id}
        for key, value in changes.items():
            if value is not None:
                body[key] = _wire_value(value)
        orders = _notification_orders(await self.request_auth("auth/w/order/update", body))
        return orders[0]

    async def cancel_order(
        self, order_id: int | None = None, *, cid: int | None = None, cid_date: str | None = None
    ) -> w.Order:
        if order_id is not None:
            body: dict[str, Any] = {"id": order_id}
        elif cid is not None and cid_date is not None:
            body = {"cid": cid, "cid_date": cid_date}
        else:
            raise ValueError("cancel_order needs an id, or a cid with its cid_date")
        orders = _notification_orders(await self.request_auth("auth/w/order/cancel", body))
        return orders[0]

    async def cancel_orders(
        self,
        *,
        ids: Sequence[int] | None = None,
        gids: Sequence[int] | None = None,
        cids: Sequence[tuple[int, str]] | None = None,
        all_orders: bool = False,
    ) -> list[w.Order]:
        """``cancel/multi`` by ids, group ids, (cid, cid_date) pairs, or everything."""
        if all_orders:
            body: dict[str, Any] = {"all": 1}
        else:
            body = _drop_none(
                {
                    "id": list(ids) if ids else None,
                    "gid": list(gids) if gids else None,
                    "cid": [list(p) for p in cids] if cids else None,
                }
            )
            if not body:
                raise ValueError("cancel_orders needs ids, gids, cids or all_orders=True")
        return _notification_orders(await self.request_auth("auth/w/order/cancel/multi", body))


    async def order_multi(
        self, ops: Sequence[tuple[str, OrderRequest | Mapping[str, Any]]]
    ) -> list[MultiOpResult]:
        """``order/multi``: up to 75 of ``on`` (an OrderRequest), ``oc`` ({"id"} or {"cid",
        "cid_date"}), ``ou`` ({"id", ...changes}) and ``oc_multi`` ({"id": [...]}, ...),
        executed in order.  One result per operation; a refused operation is a result with
        ``ok`` false, not an exception (the request as a whole raises only if refused whole)."""
        if not 0 < len(ops) <= MAX_MULTI_OPS:
            raise ValueError(f"order_multi takes 1..{MAX_MULTI_OPS} operations, got {len(ops)}")
        body_ops: list[list[Any]] = []
        for abbrev, op in ops:
            if abbrev not in MULTI_OPS:
                raise ValueError(f"unknown multi-op {abbrev!r}; expected one of "
                                 f"{sorted(MULTI_OPS)}")
            fields = op.to_body() if isinstance(op, OrderRequest) else {
                k: _wire_value(v) for k, v in op.items() if v is not None}
            body_ops.append([abbrev, fields])
        answer = await self.request_auth("auth/w/order/multi", {"ops": body_ops})
        note = w.parse_notification(answer)
        if note.status in ("ERROR", "FAILURE"):
            raise OrderRejectedError(
                note.code if isinstance(note.code, int) else 10001, note.text or note.status
            )
        return _multi_results(note, [abbrev for abbrev, _ in ops])


def _multi_results(note: w.Notification, abbrevs: list[str]) -> list[MultiOpResult]:
    """Per-operation notifications inside the envelope; an envelope carrying plain ORDER
    arrays instead (the layout is UNVERIFIED) becomes one result holding them all."""
    data = note.data if isinstance(note.data, list) else []
    if data and all(_looks_like_notification(item) for item in data):
        out = []
        for index, item in enumerate(data):
            inner = w.parse_notification(item)
            op = abbrevs[index] if index < len(abbrevs) else inner.type.removesuffix("-req")
            orders = inner.orders() if inner.ok else []
            out.append(MultiOpResult(op, inner.status, inner.text, orders))
        return out
    return [MultiOpResult("ox_multi", note.status, note.text, note.orders())]


def _looks_like_notification(item: Any) -> bool:
    return (isinstance(item, list) and len(item) > 6 and isinstance(item[1], str)
            and item[1].endswith("-req"))


def _notification_orders(payload: Any) -> list[w.Order]:
    note = w.parse_notification(payload)
    if note.status in ("ERROR", "FAILURE"):
        raise OrderRejectedError(
            note.code if isinstance(note.code, int) else 10001, note.text or note.status
        )
    return note.orders()


def _day_start_ms(day: str) -> int:
    moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _wire_value(value: Any) -> Any:
    return plain_decimal(value) if isinstance(value, Decimal | float) else value
