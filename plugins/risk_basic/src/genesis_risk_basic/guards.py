"""Guards: policies that approve or refuse new entries (and a few that scale them down).

Every guard lets exits (``reduce_only`` intents) through: a halt must never trap a position.
Time comes from ``portfolio.timestamp`` only, so backtest, paper and live decide alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from genesis_core import Fill, PortfolioSnapshot, RiskDecision, RiskPolicy, TradeIntent, doc
from genesis_risk_basic._common import (
    DAY_MS,
    EXIT_REASON,
    HOUR_MS,
    MINUTE_MS,
    PerSymbol,
    TradeLedger,
    at_least_one,
    check_order,
    fit_amount,
    fraction,
    make_overrides,
    mark,
    money,
    non_negative,
    optional,
    pct,
    positive,
    ts,
    unit_interval,
)


_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


# -- kill switch ---------------------------------------------------------------------------------


@attrs.frozen
class KillSwitchParams:
    engaged: bool = doc("Start with the switch on: nothing opens until it is turned off.",
                        default=False)
    flag_file: Path | None = doc("While this file exists the switch is on (touch it to halt, "
                                 "remove it to resume).", default=None)
    max_consecutive_losses: int | None = doc(
        "Engage automatically after this many losing trades in a row (null: off).",
        default=None, validator=optional(at_least_one))
    max_realised_loss: Decimal | None = doc(
        "Engage automatically once realised losses since start-up reach this amount of quote "
        "currency (null: off).", default=None, validator=optional(positive))


class KillSwitch(RiskPolicy):
    """Refuse every new entry while the kill-switch is on; exits are always allowed."""

    name = "kill_switch"
    Params = KillSwitchParams

    def __init__(self, params: KillSwitchParams | None = None) -> None:
        super().__init__(params)
        self._ledger = TradeLedger()
        self._tripped: str | None = None

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        self._ledger.seed(portfolio)
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        if self.params.engaged:
            return RiskDecision.reject(self.name, "kill-switch engaged in config")
        if self._tripped is not None:
            return RiskDecision.reject(self.name, self._tripped)
        flag = self.params.flag_file
        if flag is not None and flag.exists():  # one stat() per intent, the only I/O allowed
            return RiskDecision.reject(self.name, f"kill-switch flag file {flag} exists")
        return RiskDecision.approve(self.name, "kill-switch off")

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        trade = self._ledger.record(fill, portfolio)
        if trade is None or self._tripped is not None:
            return
        p = self.params
        streak = self._ledger.losing_streak()
        if p.max_consecutive_losses is not None and streak >= p.max_consecutive_losses:
            self._tripped = (f"kill-switch engaged automatically: {streak} losing trades in a "
                             f"row (limit {p.max_consecutive_losses})")
        elif p.max_realised_loss is not None and -self._ledger.realised >= p.max_realised_loss:
            self._tripped = (f"kill-switch engaged automatically: realised loss "
                             f"{money(-self._ledger.realised)} reached the limit "
                             f"{p.max_realised_loss}")

    @property
    def tripped(self) -> str | None:
        """Why the automatic switch engaged, or ``None``; it stays on until restart."""
        return self._tripped


# -- max daily loss ------------------------------------------------------------------------------


def _hour(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not 0 <= value <= 23:
        raise ValueError(f"'{attribute.name}' must be an hour 0-23, got {value}")


@attrs.frozen
class MaxDailyLossParams:
    max_loss_pct: Decimal = doc(
        "Loss of start-of-day equity (0-1] that halts entries for the rest of the day.",
        default=Decimal("0.05"), validator=fraction)
    reset_hour: int = doc("UTC hour at which the trading day starts.", default=0,
                          validator=_hour)


class MaxDailyLoss(RiskPolicy):
    """Halt new entries for the day once equity has fallen a set share below its day start."""

    name = "max_daily_loss"
    Params = MaxDailyLossParams

    def __init__(self, params: MaxDailyLossParams | None = None) -> None:
        super().__init__(params)
        self._day: int | None = None
        self._own_start: Decimal = Decimal(0)
        self._halted_day: int | None = None

    def _day_start(self, portfolio: PortfolioSnapshot) -> tuple[int, Decimal]:
        day = (portfolio.timestamp - self.params.reset_hour * HOUR_MS) // DAY_MS
        if day != self._day:
            self._day, self._own_start = day, portfolio.equity
        if self.params.reset_hour == 0 and portfolio.day_start_equity is not None:
            return day, portfolio.day_start_equity
        return day, self._own_start

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        day, start = self._day_start(portfolio)
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        limit = self.params.max_loss_pct
        if self._halted_day == day:
            resume = (day + 1) * DAY_MS + self.params.reset_hour * HOUR_MS
            return RiskDecision.reject(
                self.name, f"daily loss limit {pct(limit)} was reached today; entries resume at "
                           f"{ts(resume)}")
        if start <= 0:
            return RiskDecision.reject(self.name, f"start-of-day equity {start} is not positive")
        loss = (start - portfolio.equity) / start
        if loss >= limit:
            self._halted_day = day
            return RiskDecision.reject(
                self.name, f"daily loss {pct(loss)} of start-of-day equity {money(start)} "
                           f"reached the limit {pct(limit)}")
        return RiskDecision.approve(self.name, f"daily loss {pct(max(loss, Decimal(0)))} of "
                                               f"{pct(limit)} allowed")

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        self._day_start(portfolio)

    def state(self) -> dict[str, Any]:
        # The halt is decided in check(), on marked equity: a fill replay cannot rebuild it, so
        # without this a bot restarted after equity recovered would trade again that day.
        return {"day": self._day, "own_start": str(self._own_start),
                "halted_day": self._halted_day}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._day, self._halted_day = state["day"], state["halted_day"]
        self._own_start = Decimal(state["own_start"])


# -- drawdown ------------------------------------------------------------------------------------


@attrs.frozen
class DrawdownGuardParams:
    start_pct: Decimal = doc("Drawdown from the equity peak (0-1) up to which sizes are untouched.",
                             default=Decimal("0.05"), validator=non_negative)
    halt_pct: Decimal = doc("Drawdown at which new entries stop.", default=Decimal("0.15"),
                            validator=fraction)
    min_scale: Decimal = doc("Size multiplier just before the halt; it falls linearly from 1 at "
                             "start_pct to this at halt_pct.", default=Decimal("0.25"),
                             validator=fraction)
    amount_decimals: int = doc("Decimals of scaled amounts when the intent has no market rules.",
                               default=8, validator=non_negative)

    def __attrs_post_init__(self) -> None:
        check_order("start_pct", self.start_pct, "halt_pct", self.halt_pct, strict=True)


class DrawdownGuard(RiskPolicy):
    """Scale entries down as drawdown from the equity peak grows; halt beyond a limit."""

    name = "drawdown_guard"
    Params = DrawdownGuardParams

    def __init__(self, params: DrawdownGuardParams | None = None) -> None:
        super().__init__(params)
        self._peak: Decimal | None = None

    def _peak_of(self, portfolio: PortfolioSnapshot) -> Decimal:
        seen = portfolio.equity if self._peak is None else max(self._peak, portfolio.equity)
        self._peak = seen
        return portfolio.peak_equity if portfolio.peak_equity is not None else seen

    def scale(self, drawdown: Decimal) -> Decimal | None:
        """Size multiplier at ``drawdown`` (a fraction), or ``None`` when entries halt."""
        p = self.params
        if drawdown >= p.halt_pct:
            return None
        if drawdown <= p.start_pct:
            return Decimal(1)
        return 1 - (1 - p.min_scale) * (drawdown - p.start_pct) / (p.halt_pct - p.start_pct)

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        peak = self._peak_of(portfolio)
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        if peak <= 0:
            return RiskDecision.reject(self.name, f"peak equity {peak} is not positive")
        drawdown = max(Decimal(0), (peak - portfolio.equity) / peak)
        scale = self.scale(drawdown)
        where = f"drawdown {pct(drawdown)} from peak {money(peak)}"
        if scale is None:
            return RiskDecision.reject(
                self.name, f"{where} reached the halt limit {pct(self.params.halt_pct)}")
        if scale == 1:
            return RiskDecision.approve(self.name, f"{where}: full size")
        if intent.amount <= 0:  # a chain-order mistake, named as such
            return RiskDecision.reject(
                self.name, f"{where}: nothing sized to scale yet; put drawdown_guard after the "
                           "sizing policy")
        amount, note = fit_amount(intent, intent.amount * scale, self.params.amount_decimals)
        if amount is None:
            return RiskDecision.reject(self.name, f"{where}: {note}")
        return RiskDecision.resize(
            self.name, amount, f"{where}: size x {scale.quantize(Decimal('0.0001'))} = "
                               f"{amount}{note}",
            stop_loss=intent.stop_loss, take_profit=intent.take_profit)

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        self._peak_of(portfolio)


# -- max open positions --------------------------------------------------------------------------


@attrs.frozen
class MaxOpenPositionsParams:
    max_positions: int = doc("Most positions open at once (seed default 3).", default=3,
                             validator=at_least_one)


class MaxOpenPositions(RiskPolicy):
    """Refuse a new position when the maximum number is already open."""

    name = "max_open_positions"
    Params = MaxOpenPositionsParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        open_symbols = portfolio.committed_symbols()  # entries on their way count too
        if intent.reduce_only or intent.symbol in open_symbols:
            return RiskDecision.approve(self.name, "does not open a new position")
        limit = self.params.max_positions
        if len(open_symbols) >= limit:
            return RiskDecision.reject(
                self.name, f"{len(open_symbols)} positions open, the maximum is {limit}")
        return RiskDecision.approve(self.name, f"{len(open_symbols)} of {limit} positions open")


# -- exposure caps -------------------------------------------------------------------------------


@attrs.frozen
class ExposureCapParams(PerSymbol):
    max_symbol_pct: Decimal | None = doc(
        "Largest exposure in one symbol, as a share of equity (null: no cap).",
        default=Decimal("0.20"), validator=optional(positive))
    max_symbol_notional: Decimal | None = doc(
        "Largest exposure in one symbol, in quote currency (null: no cap).", default=None,
        validator=optional(positive))
    max_total_pct: Decimal | None = doc(
        "Largest exposure over all symbols, as a share of equity (null: no cap).",
        default=Decimal("0.50"), validator=optional(positive))
    max_total_notional: Decimal | None = doc(
        "Largest exposure over all symbols, in quote currency (null: no cap).", default=None,
        validator=optional(positive))
    amount_decimals: int = doc("Decimals of fitted amounts when the intent has no market rules.",
                               default=8, validator=non_negative)
    per_symbol: dict[str, ExposureCapOverride] = doc(
        "Per-symbol max_symbol_pct / max_symbol_notional, e.g. {BTCUSD: {max_symbol_pct: 0.3}}.",
        factory=dict)


ExposureCapOverride = make_overrides(ExposureCapParams, "ExposureCapOverride",
                                     ("max_symbol_pct", "max_symbol_notional"))


class ExposureCap(RiskPolicy):
    """Cap exposure per symbol and in total (share of equity and/or notional); resize to fit."""

    name = "exposure_cap"
    Params = ExposureCapParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        p = self.params.for_symbol(intent.symbol)
        equity = portfolio.equity
        if equity <= 0:
            return RiskDecision.reject(self.name, f"equity {equity} is not positive")
        if intent.price <= 0:
            return RiskDecision.reject(self.name, f"price {intent.price} is not positive")
        position = portfolio.positions.get(intent.symbol)
        held = position.amount if position is not None else Decimal(0)
        other = sum((mark(portfolio, q) for q in portfolio.open_positions()
                     if q.symbol != intent.symbol), Decimal(0)) + _pending(portfolio, intent)
        # (label, cap, room for this symbol's exposure after the trade)
        caps: list[tuple[str, Decimal, Decimal]] = []
        for label, cap in (("per-symbol cap", _cap(p.max_symbol_pct, p.max_symbol_notional,
                                                   equity)),
                           ("total cap", _cap(p.max_total_pct, p.max_total_notional, equity))):
            if cap is not None:
                caps.append((label, cap, cap if label == "per-symbol cap" else cap - other))
        if not caps:
            return RiskDecision.approve(self.name, "no exposure cap set")
        # |held + sign × a| × price <= room  ⇔  a <= room / price − sign × held
        sign = intent.side.sign
        label, cap, room = min(caps, key=lambda c: c[2])
        most = room / intent.price - sign * held
        if intent.amount <= most:
            after = abs(held + sign * intent.amount) * intent.price
            return RiskDecision.approve(
                self.name, f"{intent.symbol} exposure {money(after)} within the {label} "
                           f"{money(cap)}")
        current = abs(held) * intent.price
        if most <= 0:
            return RiskDecision.reject(
                self.name, f"no room under the {label} {money(cap)}: {intent.symbol} exposure "
                           f"{money(current)}, other symbols {money(other)}")
        amount, note = fit_amount(intent, most, p.amount_decimals)
        if amount is None:
            return RiskDecision.reject(self.name, f"room under the {label} {money(cap)}: {note}")
        return RiskDecision.resize(
            self.name, amount, f"resized {intent.amount} -> {amount} to fit the {label} "
                               f"{money(cap)}{note}",
            stop_loss=intent.stop_loss, take_profit=intent.take_profit)


def _pending(portfolio: PortfolioSnapshot, intent: TradeIntent) -> Decimal:
    """Exposure of other symbols' entries decided but not filled yet, at their last marks."""
    return sum((abs(amount) * portfolio.prices.get(symbol, Decimal(0))
                for symbol, amount in portfolio.pending_entries.items()
                if symbol != intent.symbol), Decimal(0))


def _cap(share: Decimal | None, notional: Decimal | None, equity: Decimal) -> Decimal | None:
    caps = [c for c in (None if share is None else share * equity, notional) if c is not None]
    return min(caps) if caps else None


# -- cooldown ------------------------------------------------------------------------------------


@attrs.frozen
class CooldownParams(PerSymbol):
    minutes: int = doc("Minutes after any fill in a symbol before a new entry in it.",
                       default=5, validator=non_negative)
    after_stop_minutes: int = doc(
        "Minutes after a stop-out (a fill that closes or reduces a position at a loss).",
        default=60, validator=non_negative)
    per_symbol: dict[str, CooldownOverride] = doc(
        "Per-symbol minutes / after_stop_minutes.", factory=dict)


CooldownOverride = make_overrides(CooldownParams, "CooldownOverride",
                                  ("minutes", "after_stop_minutes"))


class Cooldown(RiskPolicy):
    """Wait a while after each trade in a symbol, and longer after a stop-out."""

    name = "cooldown"
    Params = CooldownParams

    def __init__(self, params: CooldownParams | None = None) -> None:
        super().__init__(params)
        self._ledger = TradeLedger(keep=1)
        self._last_fill: dict[str, int] = {}
        self._last_stop: dict[str, tuple[int, str]] = {}

    def on_fill(self, fill: Fill, portfolio: PortfolioSnapshot) -> None:
        trade = self._ledger.record(fill, portfolio)
        symbol = fill.symbol
        self._last_fill[symbol] = max(self._last_fill.get(symbol, fill.timestamp), fill.timestamp)
        if trade is None:
            return
        if trade.pnl < 0:
            self._last_stop[symbol] = (fill.timestamp, trade.order_id)
        elif self._last_stop.get(symbol, (0, None))[1] == trade.order_id:
            del self._last_stop[symbol]  # later fills of the same order turned it into a win

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        self._ledger.seed(portfolio)
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        p = self.params.for_symbol(intent.symbol)
        now = portfolio.timestamp
        waits: list[tuple[int, int, str]] = []
        if intent.symbol in self._last_fill:
            at = self._last_fill[intent.symbol]
            waits.append((at + p.minutes * MINUTE_MS, at, "last fill"))
        if intent.symbol in self._last_stop:
            at = self._last_stop[intent.symbol][0]
            waits.append((at + p.after_stop_minutes * MINUTE_MS, at, "stop-out"))
        until, at, what = max(waits, default=(now, now, ""))
        if now < until:
            return RiskDecision.reject(
                self.name, f"{intent.symbol} cooling down after the {what} at {ts(at)}: "
                           f"entries resume at {ts(until)}")
        return RiskDecision.approve(self.name, f"{intent.symbol} not cooling down")


# -- trading window ------------------------------------------------------------------------------


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


def _zone(instance: object, attribute: attrs.Attribute, value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{attribute.name}' must be an IANA time zone such as UTC or "
                         f"Europe/Stockholm, got {value!r}") from None


def _parse_session(text: str) -> tuple[int, int]:
    """``"08:00-20:00"`` → minutes of day (start, end); end may be 24:00."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        bounds = []
        for part in (start, end):
            hours, minutes = part.split(":")
            if len(minutes) != 2 or not (hours.isdigit() and minutes.isdigit()):
                raise ValueError
            value = int(hours) * 60 + int(minutes)
            if int(minutes) > 59 or value > 24 * 60:
                raise ValueError
            bounds.append(value)
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM") from None
    if bounds[0] == bounds[1] or bounds[0] == 24 * 60:
        raise ValueError(f"{text!r} is an empty session")
    return bounds[0], bounds[1]


def _sessions(instance: object, attribute: attrs.Attribute, value: list[str]) -> None:
    for index, text in enumerate(value):
        try:
            _parse_session(text)
        except ValueError as exc:
            raise ValueError(f"'{attribute.name}[{index}]' must be HH:MM-HH:MM (end after "
                             f"start, or before it to wrap past midnight): {exc}") from None


def _weekdays(value: list[Weekday | str]) -> list[Weekday]:
    return [Weekday(day) for day in value]


@attrs.frozen
class TradingWindowParams:
    timezone: str = doc("IANA time zone the hours and weekdays are in.", default="UTC",
                        validator=_zone)
    weekdays: list[Weekday] = doc("Days on which entries are allowed (mon ... sun).",
                                  factory=lambda: list(Weekday), converter=_weekdays)
    sessions: list[str] = doc(
        "Allowed local hours as HH:MM-HH:MM, end exclusive; a session whose end is before its "
        "start wraps past midnight. Empty: all day.", factory=list, validator=_sessions)


class TradingWindow(RiskPolicy):
    """Allow entries only on chosen weekdays and hours, in UTC or a named time zone."""

    name = "trading_window"
    Params = TradingWindowParams

    def __init__(self, params: TradingWindowParams | None = None) -> None:
        super().__init__(params)
        self._zone = ZoneInfo(self.params.timezone)
        self._sessions = [_parse_session(s) for s in self.params.sessions]

    def is_open(self, timestamp_ms: int) -> bool:
        local = (_EPOCH_UTC + timedelta(milliseconds=timestamp_ms)).astimezone(self._zone)
        if list(Weekday)[local.weekday()] not in self.params.weekdays:
            return False
        minute = local.hour * 60 + local.minute
        return not self._sessions or any(
            (start <= minute < end) if start < end else (minute >= start or minute < end)
            for start, end in self._sessions)

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        local = (_EPOCH_UTC + timedelta(milliseconds=portfolio.timestamp)).astimezone(self._zone)
        when = f"{local:%a %Y-%m-%d %H:%M} {self.params.timezone}"
        if self.is_open(portfolio.timestamp):
            return RiskDecision.approve(self.name, f"{when} is inside the trading window")
        days = ",".join(d.value for d in self.params.weekdays) or "none"
        hours = ",".join(self.params.sessions) or "all day"
        return RiskDecision.reject(
            self.name, f"{when} is outside the trading window (days {days}; hours {hours})")


# -- confidence bands ----------------------------------------------------------------------------


@attrs.frozen
class ConfidenceBandsParams(PerSymbol):
    auto_above: float = doc("Confidence above which a trade goes through automatically.",
                            default=0.80, validator=unit_interval)
    confirm_from: float = doc("Confidence from which (up to auto_above) a human must confirm; "
                              "below it the trade is refused.", default=0.60,
                              validator=unit_interval)
    per_symbol: dict[str, ConfidenceBandsOverride] = doc(
        "Per-symbol auto_above / confirm_from.", factory=dict)

    def _check(self) -> None:
        check_order("confirm_from", self.confirm_from, "auto_above", self.auto_above,
                    strict=False)


ConfidenceBandsOverride = make_overrides(ConfidenceBandsParams, "ConfidenceBandsOverride",
                                         ("auto_above", "confirm_from"))


class ConfidenceBands(RiskPolicy):
    """Auto-trade confident signals, ask a human in the middle band, refuse the rest."""

    name = "confidence_bands"
    Params = ConfidenceBandsParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        p = self.params.for_symbol(intent.symbol)
        confidence = intent.signal.confidence
        if confidence > p.auto_above:
            return RiskDecision.approve(
                self.name, f"confidence {confidence} > {p.auto_above}: automatic")
        if confidence >= p.confirm_from:
            return RiskDecision.confirm(
                self.name, f"confidence {confidence} in [{p.confirm_from}, {p.auto_above}]: "
                           "needs manual confirmation")
        return RiskDecision.reject(self.name, f"confidence {confidence} < {p.confirm_from}")


# -- volatility filter ---------------------------------------------------------------------------


@attrs.frozen
class VolatilityFilterParams(PerSymbol):
    max_atr_pct: float | None = doc(
        "Refuse entries when ATR is above this percent of price (features atr_pct or atr; "
        "null: off).", default=5.0, validator=optional(positive))
    max_return_std: float | None = doc(
        "Refuse entries when the standard deviation of the symbol's recent returns is above "
        "this (e.g. 0.02 = 2 % per bar; null: off).", default=None,
        validator=optional(positive))
    lookback: int = doc("Most recent returns used for the standard deviation.", default=100,
                        validator=at_least_one)
    min_returns: int = doc("Fewer returns than this and the std check is skipped.", default=20,
                           validator=at_least_one)
    per_symbol: dict[str, VolatilityFilterOverride] = doc(
        "Per-symbol max_atr_pct / max_return_std.", factory=dict)


VolatilityFilterOverride = make_overrides(VolatilityFilterParams, "VolatilityFilterOverride",
                                          ("max_atr_pct", "max_return_std"))


def _finite(values: tuple[float, ...]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _std(values: list[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


class VolatilityFilter(RiskPolicy):
    """No new entries while ATR % or realised volatility is above a threshold."""

    name = "volatility_filter"
    Params = VolatilityFilterParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        p = self.params.for_symbol(intent.symbol)
        notes = []
        if p.max_atr_pct is not None:
            atr_pct = _atr_pct(intent)
            if atr_pct is None:
                notes.append("no ATR feature")
            elif atr_pct > p.max_atr_pct:
                return RiskDecision.reject(
                    self.name, f"ATR {atr_pct:.2f}% of price exceeds the limit {p.max_atr_pct}%")
            else:
                notes.append(f"ATR {atr_pct:.2f}%")
        if p.max_return_std is not None:
            returns = _finite(portfolio.returns.get(intent.symbol, ())[-p.lookback:])
            if len(returns) < max(p.min_returns, 2):
                notes.append(f"{len(returns)} returns, std not checked")
            else:
                std = _std(returns)
                if std > p.max_return_std:
                    return RiskDecision.reject(
                        self.name, f"return std {std:.4f} over {len(returns)} bars exceeds the "
                                   f"limit {p.max_return_std}")
                notes.append(f"return std {std:.4f}")
        return RiskDecision.approve(self.name, "; ".join(notes) or "no threshold set")


def _atr_pct(intent: TradeIntent) -> float | None:
    value = intent.features.get("atr_pct")
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    atr = intent.features.get("atr")
    if isinstance(atr, int | float) and math.isfinite(atr) and intent.price > 0:
        return float(atr) / float(intent.price) * 100
    return None


# -- correlation guard ---------------------------------------------------------------------------


@attrs.frozen
class CorrelationGuardParams:
    max_correlation: float = doc(
        "Refuse an entry whose return correlation with an open position, signed by the two "
        "directions, is above this.", default=0.80, validator=unit_interval)
    lookback: int = doc("Most recent returns compared.", default=50, validator=at_least_one)
    min_observations: int = doc("Fewer paired returns than this and the pair is not judged.",
                                default=20, validator=at_least_one)


def correlation(a: list[float], b: list[float]) -> float | None:
    """Pearson correlation of two equally long series, ``None`` if either is constant."""
    n = len(a)
    mean_a, mean_b = math.fsum(a) / n, math.fsum(b) / n
    da = [x - mean_a for x in a]
    db = [y - mean_b for y in b]
    var_a, var_b = math.fsum(x * x for x in da), math.fsum(y * y for y in db)
    if var_a <= 0 or var_b <= 0:
        return None
    return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(da, db, strict=True))
                         / math.sqrt(var_a * var_b)))


class CorrelationGuard(RiskPolicy):
    """Refuse a new position that moves with one already open (rolling return correlation)."""

    name = "correlation_guard"
    Params = CorrelationGuardParams

    def check(self, intent: TradeIntent, portfolio: PortfolioSnapshot) -> RiskDecision:
        if intent.reduce_only:
            return RiskDecision.approve(self.name, EXIT_REASON)
        p = self.params
        mine = portfolio.returns.get(intent.symbol, ())[-p.lookback:]
        for position in sorted(portfolio.open_positions(), key=lambda q: q.symbol):
            if position.symbol == intent.symbol:
                continue
            theirs = portfolio.returns.get(position.symbol, ())[-p.lookback:]
            n = min(len(mine), len(theirs))
            pairs = [(x, y) for x, y in zip(mine[len(mine) - n:], theirs[len(theirs) - n:],
                                             strict=True)
                     if math.isfinite(x) and math.isfinite(y)]
            if len(pairs) < max(p.min_observations, 2):
                continue
            corr = correlation([x for x, _ in pairs], [y for _, y in pairs])
            if corr is None:
                continue
            direction = 1 if position.amount > 0 else -1
            if corr * intent.side.sign * direction > p.max_correlation:
                held = "long" if direction > 0 else "short"
                return RiskDecision.reject(
                    self.name, f"{intent.side.value} {intent.symbol} would add to the open "
                               f"{position.symbol} {held}: return correlation {corr:.3f} over "
                               f"{len(pairs)} bars, limit {p.max_correlation}")
        return RiskDecision.approve(self.name, "no open position correlates above the limit")
