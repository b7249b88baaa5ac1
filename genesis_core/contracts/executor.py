"""Executors: where orders go."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import ClassVar

from genesis_core.contracts.base import Component
from genesis_core.contracts.data_source import MarketEvent
from genesis_core.models import Balance, ConnectionStatus, Fill, Order, OrderRequest


class Executor(Component):
    """Places and cancels orders on a venue (real or simulated) and reports what happened.

    ``submit`` must be idempotent by ``client_order_id``: submitting a request whose id the venue
    already knows returns that order instead of placing a second one. This is what lets the
    runtime retry after a timeout without duplicating an order.
    """

    kind: ClassVar[str] = "executor"
    supports_oco: ClassVar[bool] = False
    #: The venue lives in this process and dies with it (paper): a bot resumed after a crash
    #: re-seeds it with :meth:`restore`. Any other venue outlives the bot: a resumed bot
    #: reconciles with it by client order id, and every order is on disk before it is sent.
    in_process: ClassVar[bool] = False

    def can_short(self) -> bool:
        """Whether a SELL may open a short position. A spot account cannot: there, SELL
        signals only close longs and short entries are refused before anything is sent."""
        return True

    async def connect(self) -> None:
        """Open connections and authenticate."""

    async def aclose(self) -> None:
        """Close connections. Called once, also after errors."""

    async def on_market(self, event: MarketEvent) -> None:
        """See every market event before strategies do. Venue executors ignore it; simulated
        ones (paper) fill resting orders against it."""

    async def submit(self, request: OrderRequest) -> Order:
        """Send ``request``; return the order as the venue acknowledged it."""
        raise NotImplementedError

    async def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order; return its final state."""
        raise NotImplementedError

    async def cancel_many(self, client_order_ids: list[str]) -> list[Order]:
        """Cancel several open orders; return their states. Venues with a batch endpoint
        override this so an emergency stop costs one request, not one per order."""
        return [await self.cancel(client_id) for client_id in client_order_ids]

    async def order(self, client_order_id: str) -> Order | None:
        """Look an order up by client id (open or recently closed); ``None`` if never seen."""
        raise NotImplementedError

    async def open_orders(self) -> list[Order]:
        raise NotImplementedError

    async def balances(self) -> list[Balance]:
        raise NotImplementedError

    def events(self) -> AsyncIterator[Order | Fill | ConnectionStatus]:
        """Yield order updates and fills as the venue reports them, and a
        :class:`~genesis_core.models.ConnectionStatus` whenever the connection's health
        changes (reconnecting, circuit breaker open/closed, maintenance)."""
        raise NotImplementedError

    # -- crash recovery (optional) ---------------------------------------------------------
    async def fills(self, client_order_id: str) -> list[Fill] | None:
        """Every fill of one order as the venue recorded it (ids, prices, fees).

        A resumed bot books the ones it missed while it was down, once each (by fill id).
        ``None``, the default, means the venue cannot list them: the bot then books the filled
        amount it has no fills for as one fill at the order's average price, fee unknown (0).
        """
        return None

    def restore(self, orders: Sequence[Order], fills: Sequence[Fill], cash: Decimal,
                now_ms: int) -> None:
        """Re-seed an ``in_process`` venue from the bot's database after a crash.

        ``orders``: every order the venue had acknowledged (final ones too), as last recorded;
        ``fills``: every fill, in order; ``cash``: the quote balance the run started with;
        ``now_ms``: close time of the last market event the bot processed.
        """
        raise NotImplementedError(f"executor {self.name!r} is not an in-process venue")
