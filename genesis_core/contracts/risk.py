"""Risk policies: approve, resize or reject every proposed trade."""

from __future__ import annotations

from typing import ClassVar

from genesis_core.contracts.base import Component
from genesis_core.models import Fill, PortfolioSnapshot, RiskDecision, TradeIntent


class RiskPolicy(Component):
    """One rule in the risk chain. Policies run in YAML order; the first REJECT stops the chain,
    a RESIZE passes the new amount (and stops) to the next policy, CONFIRM parks the trade for a
    human after the rest of the chain has approved it. They must not do I/O: the same policy runs
    per signal inside backtests."""

    kind: ClassVar[str] = "risk_policy"

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        """Judge ``intent`` against the current ``portfolio``."""
        raise NotImplementedError

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        """Observe a fill (for cooldowns, win-rate tracking). Optional.

        ``portfolio`` is the snapshot **after** the fill has been applied.
        """
