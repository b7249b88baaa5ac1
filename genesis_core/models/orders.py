"""Orders and fills. Amounts, prices and fees are ``Decimal`` (see docs/architecture.md#money)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from enum import StrEnum

import attrs

from genesis_core.errors import OrderError


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells: the sign of the position change."""
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"


class OrderStatus(StrEnum):
    """Order lifecycle. ``PENDING`` exists only locally; the rest mirror the exchange."""

    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

# A submit whose answer was lost stays SUBMITTED until reconciliation finds the order (OPEN,
# PARTIALLY_FILLED, FILLED, ...) or proves it never arrived (REJECTED); hence the wide fan-out.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED}),
    OrderStatus.SUBMITTED: frozenset(OrderStatus) - {OrderStatus.PENDING, OrderStatus.SUBMITTED},
    OrderStatus.OPEN: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED,
         OrderStatus.EXPIRED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED,
         OrderStatus.EXPIRED}
    ),
}


def client_order_id(*parts: str) -> str:
    """Derive a client order id from what the order is for (bot, signal id, leg).

    The same inputs always give the same id, so a retried submit is recognisable as the
    same order by the executor and by the exchange.
    """
    return "g" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:23]


def _positive(instance: object, attribute: attrs.Attribute, value: Decimal | None) -> None:
    if value is not None and not (value.is_finite() and value > 0):
        raise OrderError(f"order {attribute.name} must be a positive number, got {value}")


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None else _to_decimal(value)


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise OrderError(f"money must be Decimal or str, not float ({value!r})")
    return value if isinstance(value, Decimal) else Decimal(str(value))


@attrs.frozen
class OrderRequest:
    """What to send. ``parent_id`` links bracket legs (stop-loss, take-profit) to their entry;
    ``group_id`` ties legs that cancel each other (OCO)."""

    client_order_id: str
    symbol: str
    side: OrderSide = attrs.field(converter=OrderSide)
    type: OrderType = attrs.field(converter=OrderType)
    amount: Decimal = attrs.field(converter=_to_decimal, validator=_positive)
    price: Decimal | None = attrs.field(
        default=None, converter=_optional_decimal, validator=_positive
    )
    stop_price: Decimal | None = attrs.field(
        default=None, converter=_optional_decimal, validator=_positive
    )
    post_only: bool = False
    reduce_only: bool = False
    hidden: bool = False
    group_id: str | None = None
    parent_id: str | None = None
    signal_id: str | None = None

    def __attrs_post_init__(self) -> None:
        needs_price = self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_price != (self.price is not None):
            raise OrderError(f"{self.client_order_id}: {self.type} order "
                             f"{'needs' if needs_price else 'takes no'} a limit price")
        if needs_stop != (self.stop_price is not None):
            raise OrderError(f"{self.client_order_id}: {self.type} order "
                             f"{'needs' if needs_stop else 'takes no'} a stop price")
        if self.post_only and self.type is not OrderType.LIMIT:
            raise OrderError(f"{self.client_order_id}: post-only needs a LIMIT order")


@attrs.frozen
class Order:
    """An order and where it is in its lifecycle. Change it only through :meth:`transition`."""

    request: OrderRequest
    status: OrderStatus = OrderStatus.PENDING
    filled_amount: Decimal = Decimal(0)
    average_price: Decimal | None = None
    exchange_order_id: str | None = None
    updated_at: int = 0
    reason: str = ""

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def remaining(self) -> Decimal:
        return self.request.amount - self.filled_amount

    def can_transition(self, status: OrderStatus) -> bool:
        """Whether the lifecycle allows moving from the current status to ``status``."""
        return status in TRANSITIONS.get(self.status, frozenset())

    def transition(
        self,
        status: OrderStatus,
        *,
        at: int,
        reason: str = "",
        filled_amount: Decimal | None = None,
        average_price: Decimal | None = None,
        exchange_order_id: str | None = None,
    ) -> Order:
        """Return the order in ``status``; raise :class:`OrderError` if the move is illegal."""
        if not self.can_transition(status):
            raise OrderError(
                f"order {self.client_order_id}: illegal transition {self.status} -> {status}"
            )
        filled = self.filled_amount if filled_amount is None else filled_amount
        if filled < self.filled_amount or filled > self.request.amount:
            raise OrderError(f"order {self.client_order_id}: filled amount {filled} outside "
                             f"[{self.filled_amount}, {self.request.amount}]")
        return attrs.evolve(
            self,
            status=status,
            filled_amount=filled,
            average_price=self.average_price if average_price is None else average_price,
            exchange_order_id=exchange_order_id or self.exchange_order_id,
            updated_at=at,
            reason=reason,
        )


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


@attrs.frozen
class Fill:
    """One execution of (part of) an order. ``fee`` is what was paid, in ``fee_currency``
    (negative for a rebate); ``amount`` is always positive, ``side`` gives the direction."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: OrderSide = attrs.field(converter=OrderSide)
    amount: Decimal = attrs.field(converter=_to_decimal, validator=_positive)
    price: Decimal = attrs.field(converter=_to_decimal, validator=_positive)
    fee: Decimal = attrs.field(converter=_to_decimal)
    fee_currency: str
    timestamp: int
    liquidity: Liquidity = attrs.field(default=Liquidity.TAKER, converter=Liquidity)

    @property
    def notional(self) -> Decimal:
        """``amount × price``, exact."""
        return self.amount * self.price
