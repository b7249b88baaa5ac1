"""Executors: where orders go."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
