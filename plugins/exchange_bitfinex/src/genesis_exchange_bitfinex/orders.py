"""Client-side order requests (REST submit body == WS ``on`` payload) and order flags."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from ._jsonnum import plain_decimal


HIDDEN = 64
CLOSE = 512
REDUCE_ONLY = 1024
POST_ONLY = 4096
OCO = 16384
NO_VAR_RATES = 524288

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

_cid_counter = itertools.count()


def new_cid(now_ms: int | None = None) -> int:
    """A client id unique within the process: ms timestamp plus a small counter.

    Stays well below 2**45 ("int45" in the docs) and changes every call.
    """
    base = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    return base * 10 % (2**45) + next(_cid_counter) % 10


def utc_date(mts: int | None = None) -> str:
    """``YYYY-MM-DD`` of a ms timestamp (default: now), the format of ``cid_date``."""
    moment = datetime.now(UTC) if mts is None else datetime.fromtimestamp(mts / 1000, UTC)
    return moment.strftime("%Y-%m-%d")


def candidate_cid_dates(cid_date: str) -> list[str]:
    """The given date and the day before/after: the exchange dates the order by *its* clock."""
    day = datetime.strptime(cid_date, "%Y-%m-%d")
    return [cid_date, *((day + timedelta(days=d)).strftime("%Y-%m-%d") for d in (-1, 1))]


def _exact(value: Any) -> Decimal:
    # Via str(): Decimal(0.001) is the float's binary expansion, 0.00100000000000000002...
    return Decimal(str(value))


def _dec(value: Any) -> Decimal | None:
    return None if value is None else _exact(value)


@attrs.frozen
class OrderRequest:
    """A new order. ``amount`` > 0 buys, < 0 sells; ``cid``/``cid_date`` identify it later."""

    type: str = attrs.field(validator=attrs.validators.in_(ORDER_TYPES))
    symbol: str
    amount: Decimal = attrs.field(converter=_exact)
    price: Decimal | None = attrs.field(default=None, converter=_dec)
    cid: int = attrs.field(factory=new_cid)
    cid_date: str = attrs.field(factory=utc_date)
    gid: int | None = None
    flags: int = 0
    price_aux_limit: Decimal | None = attrs.field(default=None, converter=_dec)
    price_trailing: Decimal | None = attrs.field(default=None, converter=_dec)
    price_oco_stop: Decimal | None = attrs.field(default=None, converter=_dec)
    lev: int | None = None
    tif: str | None = None
    meta: dict[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        """JSON body: decimals as plain strings, ``None`` dropped, ``cid_date`` not sent."""
        body: dict[str, Any] = {
            "type": self.type,
            "symbol": self.symbol,
            "amount": plain_decimal(self.amount),
        }
        if self.price is not None:
            body["price"] = plain_decimal(self.price)
        elif "MARKET" in self.type:
            body["price"] = "0"  # ignored for market orders; the FIX gateway sends "0"
        optional = {
            "cid": self.cid,
            "gid": self.gid,
            "flags": self.flags or None,
            "lev": self.lev,
            "tif": self.tif,
            "meta": self.meta,
            "price_aux_limit": self.price_aux_limit,
            "price_trailing": self.price_trailing,
            "price_oco_stop": self.price_oco_stop,
        }
        for key, value in optional.items():
            if value is None:
                continue
            body[key] = plain_decimal(value) if isinstance(value, Decimal) else value
        return body
