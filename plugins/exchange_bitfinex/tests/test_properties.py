"""Property tests: number rendering round-trips, parsers fail only with WireFormatError."""

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from genesis_exchange_bitfinex import _wire as w
from genesis_exchange_bitfinex._jsonnum import dumps, js_number, loads, plain_decimal
from genesis_exchange_bitfinex.errors import WireFormatError


decimals = st.decimals(
    min_value=Decimal("-1e12"),
    max_value=Decimal("1e12"),
    places=8,
    allow_nan=False,
    allow_infinity=False,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    decimals,
    st.text(max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(decimals)
def test_js_number_and_plain_decimal_round_trip(value: Decimal) -> None:
    assert Decimal(js_number(value)) == value
    assert Decimal(plain_decimal(value)) == value
    assert "e" not in plain_decimal(value).lower()
    assert loads(dumps([value]))[0] == value


@given(st.lists(scalars, max_size=40))
def test_parsers_raise_only_wire_format_errors(row: list[Any]) -> None:
    for parser in (
        w.parse_order,
        w.parse_wallet,
        w.parse_position,
        w.parse_account_trade,
        w.parse_notification,
        w.parse_candle,
        w.parse_ticker,
        w.parse_public_trade,
        w.parse_book_level,
        w.parse_pair_info,
    ):
        failure: WireFormatError | None = None
        try:
            parser(row)
        except WireFormatError as exc:
            failure = exc
        if failure is not None:
            assert failure.record
            assert failure.field
