"""Consensus of several strategies and timeframes."""

from __future__ import annotations

import pytest

from genesis_core import Signal, SignalSide
from genesis_core.consensus import Consensus, Voter


H = 3_600_000
M5 = 300_000


def sig(strategy: str, tf: str, side: str, confidence: float, ts: int) -> Signal:
    return Signal.make(symbol="BTCUSD", timeframe=tf, side=side, confidence=confidence,
                       timestamp=ts, price=100.0, strategy=strategy, stop_loss=95.0)


VOTERS = [Voter("ema_rsi", "5m", 1.0), Voter("ema_rsi", "1h", 1.0), Voter("fvg", "1h", 1.0)]
WEIGHTS = {"5m": 0.4, "1h": 0.3}


def test_weighted_vote_of_agreeing_signals() -> None:
    consensus = Consensus(VOTERS, timeframe_weights=WEIGHTS, min_score=0.3)
    assert consensus.update(sig("ema_rsi", "1h", "BUY", 0.9, H)) is None   # 0.27 < 0.3
    result = consensus.update(sig("ema_rsi", "5m", "BUY", 0.8, H))
    assert SignalSide.BUY == result.side
    assert pytest.approx((0.3 * 0.9 + 0.4 * 0.8) / 1.0) == result.confidence
    assert "no fresh vote: fvg@1h" in result.reason
    assert 95.0 == result.stop_loss


def test_conflicts_are_named_and_lower_the_score() -> None:
    consensus = Consensus(VOTERS, timeframe_weights=WEIGHTS, min_score=0.1)
    consensus.update(sig("ema_rsi", "5m", "BUY", 1.0, H))
    result = consensus.update(sig("fvg", "1h", "SELL", 0.5, H))
    assert SignalSide.BUY == result.side
    assert pytest.approx(0.4 - 0.15) == result.confidence
    assert "conflict: fvg@1h SELL" in result.reason


def test_stale_votes_stop_counting() -> None:
    consensus = Consensus(VOTERS, timeframe_weights=WEIGHTS, min_score=0.3)
    consensus.update(sig("ema_rsi", "5m", "BUY", 1.0, H))
    assert consensus.evaluate("BTCUSD", H + M5 - 1) is not None
    assert consensus.evaluate("BTCUSD", H + M5) is None   # one 5m bar later the vote is stale


def test_unknown_voter_is_refused() -> None:
    with pytest.raises(KeyError, match="not a voter"):
        Consensus(VOTERS).update(sig("other", "1h", "BUY", 1.0, H))
