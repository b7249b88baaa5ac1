"""Risk policies: approve, resize or reject every proposed trade."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

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

    def state(self) -> Mapping[str, Any] | None:
        """What a restarted bot must give back to this policy, as JSON-ready data. Optional.

        Fills are replayed into :meth:`on_fill` when a bot resumes, so state built there comes
        back by itself; state built in :meth:`check` (a halt decided today, say) does not.
        Return it here: the runner saves it with every checkpoint and hands it to
        :meth:`restore` after a restart. ``None`` (the default): nothing to keep.

        Example::

            def state(self):
                return {"halted_day": self._halted_day}

            def restore(self, state):
                self._halted_day = state["halted_day"]
        """
        return None

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state` returned before the restart (after the fill replay)."""

