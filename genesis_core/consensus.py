"""Combine signals of several strategies and timeframes into one consensus signal.

Each voter is a (strategy, timeframe) pair. Its vote is its **latest** signal for the symbol
while that signal is fresh (younger than ``fresh_bars`` bars of its timeframe); a stale vote
counts as HOLD. A vote's weight is ``strategy weight × timeframe weight`` (timeframe weights
default to 1, e.g. ``{1m: 0.3, 5m: 0.4, 1h: 0.3}`` as the seeds suggest).

    score = Σ weight × confidence × (+1 BUY, -1 SELL, 0 HOLD) / Σ weight over all voters

The consensus side is BUY when ``score >= min_score``, SELL when ``score <= -min_score``,
otherwise nothing is emitted. Its confidence is ``|score|``, so disagreement and silence both
lower it. Stops come from the most confident signal on the winning side. Voters on opposite
sides are named in the reason as conflicts (``conflict: fvg@1h SELL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from genesis_core.models import Signal, SignalSide, timeframe_ms


@attrs.frozen
class Voter:
    strategy: str
    timeframe: str
    weight: float


_SIGN = {SignalSide.BUY: 1, SignalSide.SELL: -1, SignalSide.HOLD: 0}


class Consensus:
    """Weighted vote over the latest fresh signal of every voter, per symbol."""

    name = "consensus"

    def __init__(
        self,
        voters: Sequence[Voter],
        *,
        timeframe_weights: Mapping[str, float] | None = None,
        min_score: float = 0.5,
        fresh_bars: int = 1,
    ) -> None:
        weights = timeframe_weights or {}
        self._weights = {(v.strategy, v.timeframe): v.weight * weights.get(v.timeframe, 1.0)
                         for v in voters}
        self._min_score = min_score
        self._fresh_bars = fresh_bars
        self._latest: dict[tuple[str, str, str], Signal] = {}
        #: Per symbol, the vote that led the last consensus signal (its stops were used):
        #: what a backtest attributes the resulting trade to.
        self.leads: dict[str, Signal] = {}

    def update(self, signal: Signal) -> Signal | None:
        """Record ``signal`` and return the consensus for its symbol at its time, if any."""
        key = (signal.strategy, signal.timeframe)
        if key not in self._weights:
            raise KeyError(f"signal from {signal.strategy}@{signal.timeframe}, not a voter")
        self._latest[(signal.symbol, *key)] = signal
        return self.evaluate(signal.symbol, signal.timestamp)

    def _fresh(self, symbol: str, key: tuple[str, str], now: int) -> Signal | None:
        signal = self._latest.get((symbol, *key))
        if signal is None or now - signal.timestamp >= self._fresh_bars * timeframe_ms(key[1]):
            return None
        return signal

    def evaluate(self, symbol: str, now: int) -> Signal | None:
        total = sum(self._weights.values())
        votes = [(key, w, self._fresh(symbol, key, now)) for key, w in self._weights.items()]
        score = sum(w * s.confidence * _SIGN[s.side] for _, w, s in votes if s is not None) / total
        if abs(score) < self._min_score or score == 0:
            return None
        side = SignalSide.BUY if score > 0 else SignalSide.SELL
        winners = [s for _, _, s in votes if s is not None and s.side is side]
        lead = max(winners, key=lambda s: (s.confidence, s.timestamp))
        self.leads[symbol] = lead
        parts = [f"{s.strategy}@{s.timeframe} {s.side.value} {s.confidence:.2f}"
                 for _, _, s in votes if s is not None and s.side is not SignalSide.HOLD]
        conflicts = [f"{s.strategy}@{s.timeframe} {s.side.value}" for _, _, s in votes
                     if s is not None and s.side not in (side, SignalSide.HOLD)]
        silent = [f"{k[0]}@{k[1]}" for k, _, s in votes if s is None]
        reason = f"score {score:+.2f} from " + ", ".join(parts)
        if conflicts:
            reason += "; conflict: " + ", ".join(conflicts)
        if silent:
            reason += "; no fresh vote: " + ", ".join(silent)
        return Signal.make(
            symbol=symbol, timeframe=lead.timeframe, side=side, confidence=min(1.0, abs(score)),
            timestamp=now, price=lead.price, strategy=self.name, reason=reason,
            stop_loss=lead.stop_loss, take_profit=lead.take_profit)
