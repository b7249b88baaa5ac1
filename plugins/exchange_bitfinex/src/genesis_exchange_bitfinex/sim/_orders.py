"""Order model of the simulator: request validation, status texts and wire rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import attrs

from genesis_exchange_bitfinex._jsonnum import js_number
from genesis_exchange_bitfinex._wire import Order, order_to_wire


ORDER_TYPES = frozenset(
    {
        "LIMIT",
        "EXCHANGE LIMIT",
        "MARKET",
        "EXCHANGE MARKET",
        "STOP",
        "EXCHANGE STOP",
        "STOP LIMIT",
        "EXCHANGE STOP LIMIT",
        "TRAILING STOP",
        "EXCHANGE TRAILING STOP",
        "FOK",
        "EXCHANGE FOK",
        "IOC",
        "EXCHANGE IOC",
    }
)
HIDDEN, CLOSE, REDUCE_ONLY, POST_ONLY, OCO, NO_VAR_RATES = 64, 512, 1024, 4096, 16384, 524288
KNOWN_FLAGS = HIDDEN | CLOSE | REDUCE_ONLY | POST_ONLY | OCO | NO_VAR_RATES
MAX_CID = 2**53 - 1
_Q8 = Decimal("0.00000001")


class SimReject(Exception):
    """An order request the exchange refuses: becomes an error array or an ERROR notification."""

    def __init__(self, code: int, msg: str, echo: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.echo = echo or {}


def base_kind(order_type: str) -> str:
    """``EXCHANGE STOP LIMIT`` -> ``STOP LIMIT``."""
    return order_type.removeprefix("EXCHANGE ")


def to_decimal(params: dict[str, Any], field: str, *, required: bool = False) -> Decimal | None:
    value = params.get(field)
    if value is None:
        if required:
            raise SimReject(10020, f"{field}: invalid", params)
        return None
    if isinstance(value, bool):
        raise SimReject(10020, f"{field}: invalid", params)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise SimReject(10020, f"{field}: invalid", params) from None
    if not result.is_finite():
        raise SimReject(10020, f"{field}: invalid", params)
    return result


def to_int(params: dict[str, Any], field: str, *, lo: int = 0, hi: int = MAX_CID) -> int | None:
    value = params.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SimReject(10020, f"{field}: invalid", params)
    return value


def parse_tif(params: dict[str, Any]) -> int | None:
    value = params.get("tif")
    if value is None:
        return None
    try:
        moment = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise SimReject(10020, "tif: invalid", params) from None
    return int(moment.timestamp() * 1000)


def utc_date(mts: int) -> str:
    return datetime.fromtimestamp(mts / 1000, UTC).strftime("%Y-%m-%d")


@attrs.define
class SimOrder:
    """A live or closed order of the simulator (mutable; rendered to a 32-slot ORDER array)."""

    id: int
    user_id: int
    gid: int | None
    cid: int | None
    symbol: str
    mts_create: int
    mts_update: int
    amount: Decimal
    amount_orig: Decimal
    type: str
    mts_tif: int | None
    flags: int
    price: Decimal
    price_trailing: Decimal | None
    price_aux_limit: Decimal | None
    meta: dict[str, Any] | None
    placed_id: int | None = None
    oco_sibling: int | None = None
    terminal: str | None = None  # terminal state word, None while open
    triggered: bool = False
    trail_extreme: Decimal | None = None
    fills: list[tuple[Decimal, Decimal]] = attrs.field(factory=list)
    notional: Decimal = Decimal(0)

    @property
    def kind(self) -> str:
        return base_kind(self.type)

    @property
    def is_exchange(self) -> bool:
        return self.type.startswith("EXCHANGE ")

    @property
    def is_buy(self) -> bool:
        return self.amount_orig > 0

    @property
    def hidden(self) -> bool:
        return bool(self.flags & HIDDEN)

    @property
    def is_open(self) -> bool:
        return self.terminal is None

    @property
    def cid_date(self) -> str:
        return utc_date(self.mts_create)

    @property
    def price_avg(self) -> Decimal:
        filled = abs(self.amount_orig - self.amount)
        return (
            (self.notional / filled).quantize(_Q8, ROUND_HALF_EVEN).normalize()
            if filled
            else (Decimal(0))
        )

    @property
    def rest_price(self) -> Decimal:
        """Price at which the order sits in the book (STOP LIMIT: its aux limit)."""
        if self.kind == "STOP LIMIT" and self.price_aux_limit is not None:
            return self.price_aux_limit
        return self.price

    def status_text(self) -> str:
        segments = [f"@ {js_number(p)}({js_number(a)})" for p, a in self.fills]
        history = ", ".join(f"PARTIALLY FILLED {s}" for s in reversed(segments[:-1]))
        if self.terminal is None:
            if not segments:
                return "ACTIVE"
            head = f"PARTIALLY FILLED {segments[-1]}"
            return head + (f": was {history}" if history else "")
        if self.terminal == "EXECUTED":
            head = f"EXECUTED {segments[-1]}"
            return head + (f": was {history}" if history else "")
        if not segments:
            return self.terminal
        every = ", ".join(f"PARTIALLY FILLED {s}" for s in reversed(segments))
        return f"{self.terminal} was: {every}"

    def wire_meta(self) -> dict[str, Any] | None:
        meta = dict(self.meta) if self.meta else {}
        if self.flags & POST_ONLY:
            meta["$F7"] = 1
        return meta or None

    def to_order(self) -> Order:
        return Order(
            id=self.id,
            gid=self.gid,
            cid=self.cid,
            symbol=self.symbol,
            mts_create=self.mts_create,
            mts_update=self.mts_update,
            amount=self.amount,
            amount_orig=self.amount_orig,
            order_type=self.type,
            type_prev=None,
            mts_tif=self.mts_tif,
            flags=self.flags,
            status=self.status_text(),
            price=self.price,
            price_avg=self.price_avg,
            price_trailing=self.price_trailing or Decimal(0),
            price_aux_limit=self.price_aux_limit or Decimal(0),
            notify=0,
            hidden=1 if self.hidden else 0,
            placed_id=self.placed_id,
            routing="API>BFX",
            meta=self.wire_meta(),
        )

    def to_wire(self) -> list[Any]:
        return order_to_wire(self.to_order())


def rejection_array(params: dict[str, Any], ref_price: Decimal | None) -> list[Any]:
    """ORDER-shaped echo of a rejected request: nulls except id/cid/symbol/amount/type/price."""
    out: list[Any] = [None] * 32
    out[23] = 0

    def num(field: str) -> Any:
        try:
            return Decimal(str(params[field])) if params.get(field) is not None else None
        except InvalidOperation:
            return None

    out[0] = params.get("id") if isinstance(params.get("id"), int) else None
    out[2] = params.get("cid") if isinstance(params.get("cid"), int) else None
    out[3] = params.get("symbol") if isinstance(params.get("symbol"), str) else None
    out[6] = out[7] = num("amount")
    out[8] = params.get("type") if isinstance(params.get("type"), str) else None
    out[16] = num("price") or ref_price
    return out


def order_text(order: SimOrder, verb: str, base: str) -> str:
    side = "buy" if order.is_buy else "sell"
    return (
        f"Submitting {verb}{order.type.lower()} {side} order for "
        f"{js_number(order.amount_orig)} {base}."
    )


def stop_hit(order: SimOrder, high: Decimal, low: Decimal) -> bool:
    """Whether a stop/trailing order triggers on a candle range (updates the trail)."""
    if order.triggered or order.kind not in ("STOP", "STOP LIMIT", "TRAILING STOP"):
        return False
    if order.kind == "TRAILING STOP":
        assert order.price_trailing is not None
        assert order.trail_extreme is not None
        if order.is_buy:
            order.trail_extreme = min(order.trail_extreme, low)
            return high >= order.trail_extreme + order.price_trailing
        order.trail_extreme = max(order.trail_extreme, high)
        return low <= order.trail_extreme - order.price_trailing
    return high >= order.price if order.is_buy else low <= order.price
