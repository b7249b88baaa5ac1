"""Position sizing: each policy replaces the intent's amount (RESIZE) with its own size.

All sizers truncate to the exchange's amount precision (``intent.market``; else
``amount_decimals``), clip to the exchange maximum, and reject when the result is below the
exchange minimum: a size is never rounded up past its budget. Exits keep their size.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from genesis_core import Fill, PortfolioSnapshot, RiskDecision, RiskPolicy, TradeIntent, doc
from genesis_risk_basic._common import (
    PerSymbol,
    TradeLedger,
    as_decimal,
    at_least_one,
    atr_of,
    check_order,
    fit_amount,
    fraction,
    make_overrides,
    money,
    non_negative,
    pct,
    positive,
    unit_interval,
)


_DECIMALS_DOC = "Decimals of the order amount when the intent has no market rules (truncated)."


class _Sizer(RiskPolicy):
    """Shared flow: exits pass, equity and price must be positive, the raw size is fitted."""

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, "exit keeps its size")
        if portfolio.equity <= 0:
            return RiskDecision.reject(self.name, f"equity {portfolio.equity} is not positive")
        if intent.price <= 0:
            return RiskDecision.reject(self.name, f"price {intent.price} is not positive")
        p = self.params.for_symbol(intent.symbol) if isinstance(self.params, PerSymbol) else (
            self.params)
        sized = self.size(intent, portfolio, p)
        if isinstance(sized, str):
            return RiskDecision.reject(self.name, sized)
        raw, why = sized
        amount, note = fit_amount(intent, raw, p.amount_decimals)
        if amount is None:
            return RiskDecision.reject(self.name, f"{why}: {note}")
        return RiskDecision.resize(self.name, amount, f"{why} = {amount}{note}",
                                   stop_loss=intent.stop_loss, take_profit=intent.take_profit)

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: object) -> tuple[Decimal, str] | str:
        """Raw (unrounded) amount and the reason text, or a rejection reason."""
        raise NotImplementedError


def _share(fraction_of_equity: Decimal, intent: TradeIntent,
           portfolio: PortfolioSnapshot) -> Decimal:
    return portfolio.equity * fraction_of_equity / intent.price


# -- fixed fraction ------------------------------------------------------------------------------


@attrs.frozen
class FixedFractionParams(PerSymbol):
    fraction: Decimal = doc("Share of equity committed per entry (0-1].",
                            default=Decimal("0.05"), validator=fraction)
    amount_decimals: int = doc(_DECIMALS_DOC, default=8, validator=non_negative)
    per_symbol: dict[str, FixedFractionOverride] = doc("Per-symbol fraction.", factory=dict)


FixedFractionOverride = make_overrides(FixedFractionParams, "FixedFractionOverride",
                                       ("fraction",))


class FixedFraction(_Sizer):
    """Size each entry to a fixed share of equity."""

    name = "fixed_fraction"
    Params = FixedFractionParams

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: FixedFractionParams) -> tuple[Decimal, str]:  # type: ignore[override]
        return _share(p.fraction, intent, portfolio), (
            f"{pct(p.fraction)} of equity {money(portfolio.equity)} at {intent.price}")


# -- confidence scaled ---------------------------------------------------------------------------


@attrs.frozen
class ConfidenceScaledParams(PerSymbol):
    min_fraction: Decimal = doc("Share of equity at confidence low (or below).",
                                default=Decimal("0.05"), validator=fraction)
    max_fraction: Decimal = doc("Share of equity at confidence high (or above).",
                                default=Decimal("0.15"), validator=fraction)
    low: float = doc("Confidence mapped to min_fraction.", default=0.60, validator=unit_interval)
    high: float = doc("Confidence mapped to max_fraction.", default=1.0, validator=unit_interval)
    amount_decimals: int = doc(_DECIMALS_DOC, default=8, validator=non_negative)
    per_symbol: dict[str, ConfidenceScaledOverride] = doc(
        "Per-symbol min_fraction / max_fraction / low / high.", factory=dict)

    def _check(self) -> None:
        check_order("min_fraction", self.min_fraction, "max_fraction", self.max_fraction,
                    strict=False)
        check_order("low", self.low, "high", self.high, strict=True)

    def fraction_at(self, confidence: float) -> Decimal:
        """Linear from min_fraction at ``low`` to max_fraction at ``high``, clamped."""
        low, high = Decimal(repr(self.low)), Decimal(repr(self.high))
        c = as_decimal(confidence) or Decimal(0)
        t = min(Decimal(1), max(Decimal(0), (c - low) / (high - low)))
        return self.min_fraction + (self.max_fraction - self.min_fraction) * t


ConfidenceScaledOverride = make_overrides(
    ConfidenceScaledParams, "ConfidenceScaledOverride",
    ("min_fraction", "max_fraction", "low", "high"))


class ConfidenceScaled(_Sizer):
    """Size each entry to a share of equity that grows linearly with the signal's confidence."""

    name = "confidence_scaled"
    Params = ConfidenceScaledParams

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: ConfidenceScaledParams) -> tuple[Decimal, str]:  # type: ignore[override]
        share = p.fraction_at(intent.signal.confidence)
        return _share(share, intent, portfolio), (
            f"confidence {intent.signal.confidence} -> {pct(share)} of equity "
            f"{money(portfolio.equity)} at {intent.price}")


# -- risk per trade ------------------------------------------------------------------------------


@attrs.frozen
class RiskPerTradeParams(PerSymbol):
    risk_fraction: Decimal = doc("Share of equity lost if the stop-loss is hit (seed: 2 %).",
                                 default=Decimal("0.02"), validator=fraction)
    max_fraction: Decimal = doc("Cap on the position's value as a share of equity (a tight stop "
                                "cannot size past it; >1 allows leverage).", default=Decimal(1),
                                validator=positive)
    amount_decimals: int = doc(_DECIMALS_DOC, default=8, validator=non_negative)
    per_symbol: dict[str, RiskPerTradeOverride] = doc(
        "Per-symbol risk_fraction / max_fraction.", factory=dict)


RiskPerTradeOverride = make_overrides(RiskPerTradeParams, "RiskPerTradeOverride",
                                      ("risk_fraction", "max_fraction"))


def _capped(raw: Decimal, cap: Decimal, max_fraction: Decimal) -> tuple[Decimal, str]:
    if raw > cap:
        return cap, f" (capped at {pct(max_fraction)} of equity)"
    return raw, ""


class RiskPerTrade(_Sizer):
    """Size each entry so that hitting its stop-loss loses a set share of equity."""

    name = "risk_per_trade"
    Params = RiskPerTradeParams

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: RiskPerTradeParams) -> tuple[Decimal, str] | str:  # type: ignore[override]
        stop = intent.stop_loss
        if stop is None:
            stop = as_decimal(intent.signal.stop_loss)
        if stop is None:
            return "no stop-loss to size against (put `stops` before this policy)"
        distance = (intent.price - stop) * intent.side.sign
        if distance <= 0:
            where = "below" if intent.side.sign > 0 else "above"
            return f"stop-loss {stop} is not {where} the entry {intent.price}"
        raw, capped = _capped(portfolio.equity * p.risk_fraction / distance,
                              _share(p.max_fraction, intent, portfolio), p.max_fraction)
        return raw, (f"risking {pct(p.risk_fraction)} of equity {money(portfolio.equity)} over a "
                     f"stop distance of {distance}{capped}")


# -- volatility target ---------------------------------------------------------------------------


@attrs.frozen
class VolatilityTargetParams(PerSymbol):
    target_fraction: Decimal = doc(
        "Share of equity that a one-ATR move of the position is worth.",
        default=Decimal("0.01"), validator=fraction)
    max_fraction: Decimal = doc("Cap on the position's value as a share of equity.",
                                default=Decimal(1), validator=positive)
    amount_decimals: int = doc(_DECIMALS_DOC, default=8, validator=non_negative)
    per_symbol: dict[str, VolatilityTargetOverride] = doc(
        "Per-symbol target_fraction / max_fraction.", factory=dict)


VolatilityTargetOverride = make_overrides(VolatilityTargetParams, "VolatilityTargetOverride",
                                          ("target_fraction", "max_fraction"))


class VolatilityTarget(_Sizer):
    """Size each entry so one ATR of movement is worth a set share of equity."""

    name = "volatility_target"
    Params = VolatilityTargetParams

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: VolatilityTargetParams) -> tuple[Decimal, str] | str:  # type: ignore[override]
        atr = atr_of(intent)
        if atr is None:
            return "no positive ATR in the intent's features (atr or atr_pct)"
        raw, capped = _capped(portfolio.equity * p.target_fraction / atr,
                              _share(p.max_fraction, intent, portfolio), p.max_fraction)
        return raw, (f"one ATR ({atr}) worth {pct(p.target_fraction)} of equity "
                     f"{money(portfolio.equity)}{capped}")


# -- fractional Kelly ----------------------------------------------------------------------------


@attrs.frozen
class KellyParams:
    kelly_multiplier: Decimal = doc("Share of the full Kelly fraction used (0.5 = half Kelly).",
                                    default=Decimal("0.25"), validator=fraction)
    min_trades: int = doc("Closed trades needed before Kelly applies; fewer use "
                          "fallback_fraction.", default=20, validator=at_least_one)
    lookback_trades: int = doc("Most recent closed trades the statistics use.", default=100,
                               validator=at_least_one)
    fallback_fraction: Decimal = doc("Share of equity per entry until min_trades are known.",
                                     default=Decimal("0.02"), validator=fraction)
    max_fraction: Decimal = doc("Cap on the Kelly share of equity.", default=Decimal("0.25"),
                                validator=fraction)
    amount_decimals: int = doc(_DECIMALS_DOC, default=8, validator=non_negative)

    def __attrs_post_init__(self) -> None:
        check_order("min_trades", self.min_trades, "lookback_trades", self.lookback_trades,
                    strict=False)


@attrs.frozen
class KellyStats:
    """Win rate and payoff ratio (mean win return / mean loss return) of the closed trades."""

    trades: int
    win_rate: Decimal
    payoff: Decimal | None  # None: no losing trade yet

    @property
    def kelly(self) -> Decimal:
        """Full Kelly share ``W - (1 - W) / R``; with no losses, ``W``."""
        if self.payoff is None:
            return self.win_rate
        return self.win_rate - (1 - self.win_rate) / self.payoff


class Kelly(_Sizer):
    """Size each entry by fractional Kelly from the bot's own win rate and payoff ratio."""

    name = "kelly"
    Params = KellyParams

    def __init__(self, params: KellyParams | None = None) -> None:
        super().__init__(params)
        self._ledger = TradeLedger(keep=self.params.lookback_trades)

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        self._ledger.record(fill, portfolio)

    def stats(self) -> KellyStats:
        """Statistics of the last ``lookback_trades`` closed trades (break-evens ignored)."""
        returns = [t.ret for t in self._ledger.trades[-self.params.lookback_trades:]]
        wins = [r for r in returns if r > 0]
        losses = [-r for r in returns if r < 0]
        n = len(wins) + len(losses)
        if n == 0:
            return KellyStats(0, Decimal(0), None)
        payoff = None
        if losses:
            mean_win = sum(wins, Decimal(0)) / len(wins) if wins else Decimal(0)
            payoff = mean_win / (sum(losses, Decimal(0)) / len(losses))
        return KellyStats(n, Decimal(len(wins)) / n, payoff)

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        self._ledger.seed(portfolio)
        return super().check(intent, portfolio)

    def size(self, intent: TradeIntent, portfolio: PortfolioSnapshot,
             p: KellyParams) -> tuple[Decimal, str] | str:  # type: ignore[override]
        stats = self.stats()
        equity = money(portfolio.equity)
        if stats.trades < p.min_trades:
            return _share(p.fallback_fraction, intent, portfolio), (
                f"{stats.trades} of {p.min_trades} closed trades: fallback "
                f"{pct(p.fallback_fraction)} of equity {equity} at {intent.price}")
        payoff = "n/a" if stats.payoff is None else f"{stats.payoff:.2f}"
        edge = f"win rate {pct(stats.win_rate)}, payoff {payoff} over {stats.trades} trades"
        if stats.payoff == 0 or stats.kelly <= 0:
            return f"Kelly sees no edge: {edge}"
        share = min(p.max_fraction, stats.kelly * p.kelly_multiplier)
        return _share(share, intent, portfolio), (
            f"Kelly {pct(stats.kelly)} x {p.kelly_multiplier} -> {pct(share)} of equity {equity} "
            f"at {intent.price} ({edge})")
