"""Domain models: candle validation, market rounding, signals, orders, exact position accounting."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import (
    Candles,
    DataError,
    Fill,
    Market,
    Order,
    OrderError,
    OrderRequest,
    OrderStatus,
    Position,
    Signal,
    Strength,
    client_order_id,
    timeframe_ms,
)

from .conftest import SHARED_DATA


ROWS = [
    (1_000, 10.0, 12.0, 9.0, 11.0, 5.0),
    (2_000, 11.0, 13.0, 10.0, 12.0, 6.0),
    (3_000, 12.0, 12.5, 11.0, 11.5, 0.0),
]


def test_candles_are_struct_of_read_only_arrays() -> None:
    """Candles hold int64 timestamps and float64 OHLCV that cannot be modified."""
    candles = Candles.from_rows(ROWS, symbol="BTCUSD", timeframe="1m")
    assert np.int64 == candles.timestamp.dtype
    assert np.float64 == candles.close.dtype
    assert 3 == len(candles)
    with pytest.raises(ValueError, match="read-only"):
        candles.close[0] = 1.0
    assert [2_000, 3_000] == candles[1:].timestamp.tolist()
    assert 12.0 == candles.candle(1).close


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((3_000, 12.0, 11.0, 11.0, 11.5, 1.0), "row 2 (1970-01-01T00:00Z): high 11.0 < max"),
        ((3_000, 12.0, 13.0, 12.5, 12.6, 1.0), "row 2 (1970-01-01T00:00Z): low 12.5 > min"),
        ((3_000, 12.0, 13.0, 11.0, float("nan"), 1.0), "row 2 (1970-01-01T00:00Z): close is nan"),
        ((3_000, 12.0, 13.0, 11.0, 12.0, -1.0), "row 2 (1970-01-01T00:00Z): volume -1.0 is neg"),
        ((2_000, 12.0, 13.0, 11.0, 12.0, 1.0), "row 2 (1970-01-01T00:00Z): timestamp duplicate"),
        ((1_500, 12.0, 13.0, 11.0, 12.0, 1.0), "row 2 (1970-01-01T00:00Z): timestamp out of ord"),
    ],
)
def test_candles_reject_the_first_bad_row_by_name(row: tuple, message: str) -> None:
    """Each class of malformed bar is refused with the row and what is wrong with it."""
    with pytest.raises(DataError) as info:
        Candles.from_rows([*ROWS[:2], row], symbol="BTCUSD", timeframe="1m")
    assert str(info.value).startswith(f"candles BTCUSD 1m {message}")


def test_candles_csv_round_trip_on_real_data(tmp_path) -> None:
    """The bundled CSV format reads, keeps its gaps, and writes back identically."""
    source = SHARED_DATA / "bitfinex_BTCUSD_1h.csv"
    candles = Candles.from_csv(source, symbol="BTCUSD", timeframe="1h")
    assert 733 == len(candles)
    steps = np.diff(candles.timestamp) // timeframe_ms("1h")
    assert 7 == int(np.count_nonzero(steps > 1))  # SOURCES.md: 7 gaps, 9 missing hours
    assert 9 == int((steps[steps > 1] - 1).sum())
    copy = tmp_path / "copy.csv"
    candles.to_csv(copy)
    again = Candles.from_csv(copy)
    for a, b in zip(candles.arrays(), again.arrays(), strict=True):
        assert a.tolist() == b.tolist()
    assert copy.read_bytes() == source.read_bytes()


def test_csv_errors_name_file_and_line(tmp_path) -> None:
    """A bad CSV row is reported as file:line."""
    path = tmp_path / "bad.csv"
    path.write_text("timestamp_ms,open,high,low,close,volume\n"
                    "1000,1,2,0.5,1.5,1\n2000,1,0.9,0.5,1.5,1\n")
    with pytest.raises(DataError, match=r"bad\.csv:3: high 0\.9 < max\(open, close\)"):
        Candles.from_csv(path)
    path.write_text("timestamp_ms,open,high,low,close,volume\n1000,1,2,x,1.5,1\n")
    with pytest.raises(DataError, match=r"bad\.csv:2: not a number"):
        Candles.from_csv(path)
    path.write_text("time,o,h,l,c,v\n")
    with pytest.raises(DataError, match=r"bad\.csv:1: expected header"):
        Candles.from_csv(path)


@pytest.mark.parametrize(("text", "ms"), [("1m", 60_000), ("15m", 900_000), ("1h", 3_600_000),
                                          ("1D", 86_400_000), ("1W", 604_800_000)])
def test_timeframes(text: str, ms: int) -> None:
    assert ms == timeframe_ms(text)


@pytest.mark.parametrize("text", ["", "0m", "1M", "m5", "5s", "1.5h"])
def test_invalid_timeframes(text: str) -> None:
    with pytest.raises(ValueError, match="invalid timeframe"):
        timeframe_ms(text)


def test_market_rounding_follows_bitfinex_significant_digits() -> None:
    """Prices keep 5 significant digits; amounts are truncated, never rounded up."""
    market = Market("BTCUSD", "BTC", "USD", min_amount="0.0001")
    assert Decimal("27123") == market.round_price(27123.4)
    assert Decimal("0.12346") == market.round_price(Decimal("0.123456"))
    assert Decimal("0.12345678") == market.round_amount(Decimal("0.123456789"))
    assert "below the minimum" in market.check_amount(Decimal("0.00005"))
    assert "more than 8 decimals" in market.check_amount(Decimal("0.000100001"))
    assert market.check_amount(Decimal("0.5")) is None


def test_signal_derives_strength_and_has_a_deterministic_id() -> None:
    signal = Signal.make(symbol="BTCUSD", timeframe="1h", side="BUY", confidence=0.85,
                         timestamp=3_600_000, price=100.0, strategy="ema_rsi", reason="cross")
    assert Strength.STRONG == signal.strength
    assert "strong buy" == signal.recommendation
    assert 0.85 == signal.trading_probability
    assert "ema_rsi:BTCUSD:1h:3600000" == signal.id
    with pytest.raises(ValueError, match=r"confidence must be a number in \[0, 1\]"):
        Signal.make(symbol="X", timeframe="1h", side="BUY", confidence=1.5, timestamp=0,
                    price=1.0, strategy="s")
    with pytest.raises(ValueError, match="stop_loss must be a positive price"):
        Signal.make(symbol="X", timeframe="1h", side="BUY", confidence=0.5, timestamp=0,
                    price=1.0, strategy="s", stop_loss=float("nan"))


def test_order_requests_validate_prices_and_refuse_floats() -> None:
    with pytest.raises(OrderError, match="LIMIT order needs a limit price"):
        OrderRequest("c1", "BTCUSD", "BUY", "LIMIT", Decimal(1))
    with pytest.raises(OrderError, match="not float"):
        OrderRequest("c1", "BTCUSD", "BUY", "MARKET", 0.1)
    with pytest.raises(OrderError, match="amount must be a positive number"):
        OrderRequest("c1", "BTCUSD", "BUY", "MARKET", Decimal(0))


def test_order_state_machine() -> None:
    """Legal transitions carry fills forward; illegal ones are refused."""
    order = Order(OrderRequest("c1", "BTCUSD", "BUY", "LIMIT", Decimal(2), price=Decimal(10)))
    order = order.transition(OrderStatus.SUBMITTED, at=1)
    order = order.transition(OrderStatus.OPEN, at=2, exchange_order_id="42")
    order = order.transition(OrderStatus.PARTIALLY_FILLED, at=3, filled_amount=Decimal("0.5"))
    assert Decimal("1.5") == order.remaining
    order = order.transition(OrderStatus.FILLED, at=4, filled_amount=Decimal(2))
    assert order.status.is_final
    assert "42" == order.exchange_order_id
    assert not order.can_transition(OrderStatus.CANCELED)
    with pytest.raises(OrderError, match="illegal transition FILLED -> CANCELED"):
        order.transition(OrderStatus.CANCELED, at=5)
    with pytest.raises(OrderError, match="filled amount"):
        Order(order.request, OrderStatus.OPEN).transition(
            OrderStatus.PARTIALLY_FILLED, at=1, filled_amount=Decimal(3))


def test_client_order_ids_are_deterministic_and_distinct() -> None:
    a = client_order_id("bot", "ema_rsi:BTCUSD:1h:0", "entry")
    assert a == client_order_id("bot", "ema_rsi:BTCUSD:1h:0", "entry")
    assert a != client_order_id("bot", "ema_rsi:BTCUSD:1h:0", "stop")
    assert 24 == len(a)


def _fill(n: int, side: str, amount: str, price: str, fee: str = "0") -> Fill:
    return Fill(f"f{n}", "c", "BTCUSD", side, Decimal(amount), Decimal(price), Decimal(fee),
                "USD", n)


def test_position_fifo_realises_exact_pnl_through_a_flip() -> None:
    """Buy 1 @100, buy 2 @101, sell 4 @103 (flip short 1), buy 1 @99 closes it."""
    position = Position("BTCUSD")
    for fill in (_fill(1, "BUY", "1", "100", "0.2"), _fill(2, "BUY", "2", "101", "0.404"),
                 _fill(3, "SELL", "4", "103", "0.824")):
        position = position.apply(fill)
    assert Decimal(-1) == position.amount
    assert Decimal(3 + 2 * 2) == position.realized_pnl
    position = position.apply(_fill(4, "BUY", "1", "99"))
    assert not position.is_open
    assert Decimal(7 + 4) == position.realized_pnl
    assert Decimal("1.428") == position.fees


amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(50), places=8)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), amounts, prices), max_size=30))
def test_position_accounting_reconciles_with_cash_exactly(trades) -> None:
    """For any fill sequence: cash flow + open cost == realised PnL, to the last digit."""
    position = Position("BTCUSD")
    cash = Decimal(0)
    for n, (side, amount, price) in enumerate(trades):
        fill = _fill(n, side, str(amount), str(price))
        position = position.apply(fill)
        cash -= fill.side.sign * fill.notional
    assert position.realized_pnl == cash + position.cost
    mark = Decimal("123.45")
    assert position.realized_pnl + position.unrealized_pnl(mark) == cash + position.amount * mark


def test_short_signal_ids_resolve_to_exactly_one_waiting_signal() -> None:
    from genesis_core.models.signals import resolve_id, short_id

    ids = [f"consensus:BTCUSD:1h:{t}" for t in (1, 2, 3)]
    assert len(short_id(ids[0])) == 6
    assert resolve_id(short_id(ids[1]), ids) == ids[1]
    assert resolve_id(short_id(ids[1]).upper(), ids) == ids[1]
    assert resolve_id(ids[2], ids) == ids[2]
    assert resolve_id("nope", ids) is None
    assert resolve_id(short_id(ids[0]), ids[1:]) is None  # not waiting
