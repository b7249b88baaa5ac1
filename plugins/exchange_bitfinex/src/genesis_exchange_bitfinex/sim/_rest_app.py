"""REST v2 routes of the simulator (public GET and signed POST), faithful to §2 of the reference."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from genesis_exchange_bitfinex._auth import sign_rest
from genesis_exchange_bitfinex._jsonnum import dumps
from genesis_exchange_bitfinex._resilience import RateLimiter, endpoint_key
from genesis_exchange_bitfinex._wire import candle_to_wire, public_trade_to_wire

from . import _ops
from ._accounts import Account
from ._engine import Exchange
from ._http import HttpRequest, HttpResponse, LoseResponse
from ._market import TIMEFRAMES_MS
from ._orders import SimOrder, SimReject, order_text, rejection_array
from ._views import BOOK_LENGTHS, PRECISIONS, book_rows, ticker_row
from .faults import Faults


_MAX_MULTI_OPS = 75
_MULTI_ROUTES = {
    "on": "auth/w/order/submit",
    "oc": "auth/w/order/cancel",
    "ou": "auth/w/order/update",
    "oc_multi": "auth/w/order/cancel/multi",
}


def _json(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(status, dumps(payload).encode())


def _error(code: int | None, msg: str, status: int = 500) -> HttpResponse:
    return _json(status, ["error", code, msg])


class _Reply(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class RestApp:
    """Routes ``/v2/...``; every answer is a positional JSON array like the real API."""

    def __init__(
        self, ex: Exchange, faults: Faults, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ex = ex
        self.faults = faults
        self._monotonic = monotonic
        self._limits = RateLimiter(overrides=ex.config.rate_limit_overrides)
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._blocked: dict[tuple[str, str], float] = {}
        self.after_request: Callable[[], None] = lambda: None

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        parts = urlsplit(req.target)
        path = unquote(parts.path)
        if not path.startswith("/v2/"):
            return HttpResponse(404, f"Cannot {req.method} /api{path}".encode(), "text/html")
        path = path[4:]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        faults = self.faults.take_http(path)
        kinds = {f.kind: f for f in faults}
        if "delay" in kinds:  # a slow request: nothing is checked or executed before the wait
            await asyncio.sleep(kinds["delay"].delay)
        if "status" in kinds:  # refused in front of the API: never executed
            if kinds["status"].status == 429:
                return _error(11010, "ratelimit: error", 429)
            return HttpResponse(
                kinds["status"].status, b"<html>Internal Server Error</html>", "text/html"
            )
        try:
            self._rate_limit(req.peer, path)
            response = await self._dispatch(req, path, query)
        except _Reply as reply:
            response = reply.response
        except SimReject as exc:
            response = _error(exc.code, exc.msg)
        self.after_request()
        if "delay_response" in kinds:
            await asyncio.sleep(kinds["delay_response"].delay)
        if "lose_response" in kinds:
            raise LoseResponse
        if "malformed" in kinds:
            return HttpResponse(200, b'[1,2,"unterminated', "application/json")
        return response

    def _rate_limit(self, peer: str, path: str) -> None:
        if not self.ex.config.rate_limits:
            return
        key = (peer, endpoint_key(path))
        now = self._monotonic()
        if self._blocked.get(key, 0.0) > now:
            raise _Reply(_error(11010, "ratelimit: error", 429))
        hits = self._hits[key]
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self._limits.per_minute(path):
            self._blocked[key] = now + self.ex.config.rate_limit_block_s
            raise _Reply(_error(11010, "ratelimit: error", 429))
        hits.append(now)

    async def _dispatch(self, req: HttpRequest, path: str, query: dict[str, str]) -> HttpResponse:
        if path.startswith("auth/"):
            if req.method != "POST":
                return HttpResponse(
                    404, f"Cannot {req.method} /api/v2/{path}".encode(), "text/html"
                )
            account = self._authenticate(req, path)
            body = self._body(req)
            return _json(200, self._auth_route(account, path, body))
        if req.method == "GET":
            return _json(200, self._public_route(path, query))
        return HttpResponse(404, f"Cannot {req.method} /api/v2/{path}".encode(), "text/html")

    # --- authentication -------------------------------------------------------------------
    def _authenticate(self, req: HttpRequest, path: str) -> Account:
        key = req.headers.get("bfx-apikey")
        nonce = req.headers.get("bfx-nonce")
        sig = req.headers.get("bfx-signature")
        account = self.ex.accounts.get(key or "")
        if not key or not nonce or not sig or account is None:
            raise _Reply(_error(10100, "apikey: invalid"))
        expected = sign_rest(account.spec.api_secret, path, nonce, req.body)
        if not hmac.compare_digest(expected, sig.lower()):
            raise _Reply(_error(10100, "apikey: digest invalid"))
        if not nonce.isdigit() or int(nonce) <= account.last_nonce:
            raise _Reply(_error(10114, "nonce: small"))
        account.last_nonce = int(nonce)
        return account

    @staticmethod
    def _body(req: HttpRequest) -> dict[str, Any]:
        if not req.body.strip():
            return {}
        try:
            body = json.loads(req.body, parse_float=Decimal)
        except ValueError:
            raise _Reply(_error(10020, "body: invalid")) from None
        if not isinstance(body, dict):
            raise _Reply(_error(10020, "body: invalid"))
        return body

    # --- authenticated routes -------------------------------------------------------------
    def _auth_route(self, acct: Account, path: str, body: dict[str, Any]) -> Any:
        ex = self.ex
        seg = path.split("/")
        if path == "auth/r/wallets":
            return ex.wallets_wire(acct)
        if path == "auth/r/positions":
            return ex.positions_wire(acct)
        if seg[:3] == ["auth", "r", "orders"]:
            symbol = seg[3] if len(seg) > 3 and seg[3] != "hist" else None
            if seg[-1] == "hist":
                return _ops.order_history(acct, symbol, body)
            if len(seg) <= 4:
                return _ops.active_orders(acct, symbol, body)
        if seg[:3] == ["auth", "r", "trades"] and seg[-1] == "hist" and len(seg) <= 5:
            return _ops.trade_history(acct, seg[3] if len(seg) == 5 else None, body)
        if seg[:3] == ["auth", "r", "order"] and len(seg) == 5 and seg[4] == "trades":
            symbol, _, order_id = seg[3].rpartition(":")
            if not order_id.isdigit():
                raise SimReject(10020, "id: invalid")
            return _ops.order_trades(acct, symbol, int(order_id))
        return self._write_route(acct, path, body)

    def _write_route(self, acct: Account, path: str, body: dict[str, Any]) -> Any:
        ex = self.ex
        now_ms = ex.now()
        if path == "auth/w/order/submit":
            orders = ex.submit(acct, body)
            text = f"Submitting {len(orders)} orders."
            # MTS of the submit notification is in seconds (§2.6.5).
            return [
                now_ms // 1000,
                "on-req",
                None,
                None,
                [o.to_wire() for o in orders],
                None,
                "SUCCESS",
                text,
            ]
        if path == "auth/w/order/update":
            snaps: list[list[Any]] = []
            order = _ops.update_order(
                ex, acct, body, lambda os: snaps.extend(o.to_wire() for o in os)
            )
            text = order_text(order, "update to ", ex.markets[order.symbol].base)
            return [now_ms, "ou-req", None, None, snaps[0], None, "SUCCESS", text]
        if path == "auth/w/order/cancel":
            snaps = []
            order = _ops.cancel_order(ex, acct, body, _snapshot(snaps))
            return [
                now_ms,
                "oc-req",
                None,
                None,
                snaps[0],
                None,
                "SUCCESS",
                f"Submitted for cancellation; waiting for confirmation (ID: {order.id}).",
            ]
        if path == "auth/w/order/cancel/multi":
            snaps = []
            orders = _ops.cancel_multi(ex, acct, body, _snapshot(snaps))
            return [
                now_ms,
                "oc_multi-req",
                None,
                None,
                snaps,
                None,
                "SUCCESS",
                f"Submitting {len(orders)} order cancellations.",
            ]
        if path == "auth/w/order/multi":
            return self._multi(acct, body, now_ms)
        raise _Reply(HttpResponse(404, f"Cannot POST /api/v2/{path}".encode(), "text/html"))

    def _multi(self, acct: Account, body: dict[str, Any], now_ms: int) -> list[Any]:
        """``order/multi``: one notification per operation inside an ``ox_multi-req``
        (the envelope TYPE and per-operation failures are UNVERIFIED, §2.6.9 / §7 #16)."""
        ops = body.get("ops")
        if not isinstance(ops, list) or not 0 < len(ops) <= _MAX_MULTI_OPS:
            raise SimReject(10020, "ops: invalid")
        results = [self._multi_op(acct, op, now_ms) for op in ops]
        text = f"Submitting {len(ops)} order operations."
        return [now_ms, "ox_multi-req", None, None, results, None, "SUCCESS", text]

    def _multi_op(self, acct: Account, op: Any, now_ms: int) -> list[Any]:
        if not (isinstance(op, list) and len(op) == 2 and op[0] in _MULTI_ROUTES
                and isinstance(op[1], dict)):
            return [now_ms, "ox_multi-req", None, None, op, None, "ERROR", "op: invalid"]
        abbrev, payload = op
        try:
            return self._write_route(acct, _MULTI_ROUTES[abbrev], payload)
        except SimReject as exc:
            market = self.ex.markets.get(str(payload.get("symbol")))
            echo = rejection_array(payload, market.last_price if market else None)
            return [now_ms, f"{abbrev}-req", None, None, echo, None, "ERROR", exc.msg]

    # --- public routes --------------------------------------------------------------------
    def _public_route(self, path: str, q: dict[str, str]) -> Any:
        ex = self.ex
        seg = path.split("/")
        if path == "platform/status":
            return [ex.platform_status]
        if seg[0] == "ticker" and len(seg) == 2:
            ex.market(seg[1])
            return ticker_row(ex, seg[1])
        if path == "tickers":
            wanted = q.get("symbols")
            if not wanted:
                raise SimReject(10020, "symbols: invalid")
            symbols = list(ex.markets) if wanted == "ALL" else wanted.split(",")
            return [[s, *ticker_row(ex, s)] for s in symbols if s in ex.markets]
        if seg[0] == "trades" and len(seg) == 3 and seg[2] == "hist":
            return self._trades(seg[1], q)
        if seg[0] == "book" and len(seg) == 3:
            ex.market(seg[1])
            if seg[2] not in PRECISIONS:
                raise SimReject(10020, "prec: invalid")
            length = _qint(q, "len", 25)
            if length not in BOOK_LENGTHS:
                raise SimReject(10020, "len: invalid")
            return book_rows(ex, seg[1], seg[2], length)
        if seg[0] == "candles" and len(seg) == 3:
            return self._candles(seg[1], seg[2], q)
        if seg[0] == "conf" and len(seg) == 2:
            return [self._conf(key) for key in seg[1].split(",")]
        raise _Reply(HttpResponse(404, f"Cannot GET /api/v2/{path}".encode(), "text/html"))

    def _trades(self, symbol: str, q: dict[str, str]) -> list[list[Any]]:
        market = self.ex.market(symbol)
        limit = _qint(q, "limit", 125)
        if not 0 < limit <= 10_000:
            raise SimReject(10020, "limit: invalid")
        rows = market.trades_between(_qint(q, "start", None), _qint(q, "end", None))
        if q.get("sort", "-1").lstrip("+") == "1":
            rows = rows[:limit]
        else:
            rows = list(reversed(rows))[:limit]
        return [public_trade_to_wire(t) for t in rows]

    def _candles(self, key: str, section: str, q: dict[str, str]) -> Any:
        parts = key.split(":", 2)
        if len(parts) != 3 or parts[0] != "trade" or parts[1] not in TIMEFRAMES_MS:
            raise SimReject(10020, "key: invalid")
        market = self.ex.market(parts[2])
        if section not in ("hist", "last"):
            raise SimReject(10020, "section: invalid")
        limit = _qint(q, "limit", 100)
        if not 0 < limit <= 10_000:
            raise SimReject(10020, "limit: invalid")
        try:
            rows = market.candles(parts[1], _qint(q, "start", None), _qint(q, "end", None))
        except ValueError:
            raise SimReject(10020, "timeframe: invalid") from None
        if section == "last":
            return candle_to_wire(rows[-1]) if rows else []
        if q.get("sort", "-1").lstrip("+") == "1":
            chosen = rows[:limit]
        else:
            chosen = list(reversed(rows))[:limit]
        return [candle_to_wire(c) for c in chosen]

    def _conf(self, key: str) -> Any:
        markets = self.ex.markets.values()
        pairs = sorted(m.symbol[1:] for m in markets)
        if key == "pub:list:pair:exchange":
            return pairs
        if key == "pub:list:pair:margin":
            return sorted(m.symbol[1:] for m in markets if m.spec.initial_margin is not None)
        if key in ("pub:list:pair:futures", "pub:list:pair:securities"):
            return []
        if key == "pub:list:currency":
            return sorted({m.base for m in markets} | {m.quote for m in markets})
        if key == "pub:info:pair":
            return [
                [
                    m.symbol[1:],
                    [
                        None,
                        None,
                        None,
                        str(m.spec.min_order_size),
                        str(m.spec.max_order_size),
                        None,
                        None,
                        None,
                        m.spec.initial_margin,
                        m.spec.min_margin,
                        None,
                        None,
                    ],
                ]
                for m in sorted(markets, key=lambda m: m.symbol)
            ]
        raise SimReject(10020, "key: invalid")


def _snapshot(target: list[list[Any]]) -> Callable[[list[SimOrder]], None]:
    def take(orders: list[SimOrder]) -> None:
        target.extend(o.to_wire() for o in orders)

    return take


def _qint(q: dict[str, str], name: str, default: Any) -> Any:
    value = q.get(name)
    if value is None:
        return default
    try:
        return int(value.lstrip("+"))
    except ValueError:
        raise SimReject(10020, f"{name}: invalid") from None
