"""Parsers against the reference's example arrays, including short, long and malformed ones."""

from decimal import Decimal

import pytest

from genesis_exchange_bitfinex import _wire as w
from genesis_exchange_bitfinex._jsonnum import dumps, js_number, loads, plain_decimal
from genesis_exchange_bitfinex.errors import WireFormatError


ORDER = loads(
    '[1747566431,null,1700000000789,"tTESTBTC:TESTUSD",1700000012000,1700000015000,-0.3,-0.5,'
    '"EXCHANGE LIMIT",null,null,null,0,"PARTIALLY FILLED @ 30001.5(-0.2)",null,null,30001.5,'
    '30001.5,0,0,null,null,null,0,0,null,null,null,"API>BFX",null,null,null]'
)
REJECTED_NOTE = loads(
    '[1700000030000,"on-req",null,null,[null,null,1700000000321,"tTESTBTC:TESTUSD",null,null,'
    '0.0001,0.0001,"EXCHANGE MARKET",null,null,null,null,null,null,null,30000.5,null,null,null,'
    'null,null,null,0,null,null,null,null,null,null,null,null],null,"ERROR",'
    '"Invalid order: minimum size for TESTBTC/TESTUSD is 0.0002"]'
)


def test_order_parses_by_index_with_decimals() -> None:
    """ORDER fields land on the documented indexes, money as Decimal."""
    order = w.parse_order(ORDER)
    assert order.id == 1747566431
    assert order.cid == 1700000000789
    assert order.amount == Decimal("-0.3")
    assert order.amount_orig == Decimal("-0.5")
    assert order.executed_amount == Decimal("-0.2")
    assert order.price_avg == Decimal("30001.5")
    assert order.routing == "API>BFX"
    assert order.parsed_status.state == "PARTIALLY FILLED"
    assert not order.is_terminal


def test_order_tolerates_extra_and_missing_trailing_fields() -> None:
    """Older 26-element arrays and future longer ones both parse."""
    assert w.parse_order(ORDER[:26]).meta is None
    assert w.parse_order([*ORDER, "future", 1]).id == 1747566431


def test_order_roundtrip_is_32_slots() -> None:
    """Serialising gives back the same positional array."""
    assert w.order_to_wire(w.parse_order(ORDER)) == ORDER


def test_malformed_order_names_the_field() -> None:
    """A wrong type raises WireFormatError naming record and field."""
    bad = list(ORDER)
    bad[6] = "lots"
    with pytest.raises(WireFormatError, match=r"ORDER\.amount"):
        w.parse_order(bad)
    with pytest.raises(WireFormatError, match=r"ORDER\.id"):
        w.parse_order([None, *ORDER[1:]])
    with pytest.raises(WireFormatError, match=r"ORDER\.<array>"):
        w.parse_order({"id": 1})
    bad_bool = list(ORDER)
    bad_bool[16] = True
    with pytest.raises(WireFormatError, match=r"ORDER\.price"):
        w.parse_order(bad_bool)


def test_rejection_notification_with_sparse_order() -> None:
    """ERROR notifications carry an ORDER-shaped array of nulls; decoded leniently."""
    note = w.parse_notification(REJECTED_NOTE)
    assert note.status == "ERROR"
    assert not note.ok
    (order,) = note.orders()
    assert order.id is None
    assert order.cid == 1700000000321
    assert order.amount == Decimal("0.0001")


def test_notification_with_nested_orders_and_second_mts() -> None:
    """REST submit answers nest the orders and use seconds in MTS."""
    note = w.parse_notification(
        [1700000001, "on-req", None, None, [ORDER, ORDER], None, "SUCCESS", "Submitting 1 orders."]
    )
    assert note.mts == 1700000001
    assert [o.id for o in note.orders()] == [1747566431, 1747566431]


@pytest.mark.parametrize(
    ("text", "state", "fills"),
    [
        ("ACTIVE", "ACTIVE", []),
        ("EXECUTED @ 107.6(-0.2)", "EXECUTED", [("107.6", "-0.2")]),
        (
            "EXECUTED @ 916.2(0.78): was PARTIALLY FILLED @ 915.9(0.22)",
            "EXECUTED",
            [("916.2", "0.78"), ("915.9", "0.22")],
        ),
        ("CANCELED was: PARTIALLY FILLED @ 107.6(-0.2)", "CANCELED", [("107.6", "-0.2")]),
        ("INSUFFICIENT BALANCE (U1)", "INSUFFICIENT BALANCE (U1)", []),
        ("POSTONLY CANCELED", "POSTONLY CANCELED", []),
        ("RSN_POS_REDUCE_FLIP", "RSN_POS_REDUCE_FLIP", []),
        ("SOMETHING NEW", "UNKNOWN", []),
    ],
)
def test_order_status_grammar(text: str, state: str, fills: list[tuple[str, str]]) -> None:
    """Status prefixes and @ PRICE(AMOUNT) parts are decoded."""
    parsed = w.parse_order_status(text)
    assert parsed.state == state
    assert [(str(p), str(a)) for p, a in parsed.fills] == fills


def test_terminal_states() -> None:
    """EXECUTED and cancel/RSN states are terminal; ACTIVE and PARTIALLY FILLED are not."""
    assert w.parse_order_status("EXECUTED @ 1(1)").is_terminal
    assert w.parse_order_status("IOC CANCELED").is_terminal
    assert w.parse_order_status("RSN_DUST").is_terminal
    assert not w.parse_order_status("PARTIALLY FILLED @ 1(1)").is_terminal


def test_wallet_with_null_available_and_metadata() -> None:
    """WALLET: AVAILABLE may be null in WS snapshots; metadata object kept."""
    wallet = w.parse_wallet(loads('["exchange","TESTBTC",1.5,0,null,null,null]'))
    assert wallet.balance == Decimal("1.5")
    assert wallet.available_balance is None
    meta = w.parse_wallet(["exchange", "TESTUSD", 1, 0, 1, "x", {"reason": "TRADE"}])
    assert meta.last_change_metadata == {"reason": "TRADE"}
    with pytest.raises(WireFormatError, match=r"WALLET\.balance"):
        w.parse_wallet(["exchange", "USD", None])


def test_position_example() -> None:
    """POSITION example from the reference (20 fields)."""
    pos = w.parse_position(
        loads(
            '["tTESTBTC:TESTUSD","ACTIVE",0.05,29500,0,0,25.025,1.69661,21000.5,1.2,null,142948001,'
            '1700000000000,1700000005000,null,0,null,0,0,{"reason":"TRADE","order_id":1747566400,'
            '"order_id_oppo":1747566401,"liq_stage":null,"trade_price":"29500","trade_amount":"0.05"}]'
        )
    )
    assert pos.amount == Decimal("0.05")
    assert pos.pl == Decimal("25.025")
    assert pos.position_id == 142948001
    assert pos.meta["order_id"] == 1747566400
    assert w.position_to_wire(pos)[11] == 142948001


def test_account_trade_te_without_fee_and_tu_with_fee() -> None:
    """te has null FEE/FEE_CURRENCY; tu carries them."""
    te = w.parse_account_trade(
        loads(
            '[405000001,"tTESTBTC:TESTUSD",1700000010050,1747566430,-0.01,30000.5,'
            '"EXCHANGE MARKET",'
            "30000.5,-1,null,null,1700000000456]"
        )
    )
    assert te.fee is None
    tu = w.parse_account_trade(
        loads(
            '[405000001,"tTESTBTC:TESTUSD",1700000010050,1747566430,-0.01,30000.5,'
            '"EXCHANGE MARKET",'
            '30000.5,-1,-0.60001,"TESTUSD",1700000000456]'
        )
    )
    assert tu.fee == Decimal("-0.60001")
    assert tu.fee_currency == "TESTUSD"
    assert tu.maker == -1


def test_candle_order_is_mts_open_close_high_low_volume() -> None:
    """Index 2 is CLOSE, not HIGH: high >= max(open, close) holds."""
    candle = w.parse_candle(loads("[1699999980000,30005,30001,30012,30000.5,0.8]"))
    assert (candle.open, candle.close, candle.high, candle.low) == (
        Decimal(30005),
        Decimal(30001),
        Decimal(30012),
        Decimal("30000.5"),
    )
    assert candle.high >= max(candle.open, candle.close)
    assert w.candle_to_wire(candle) == [
        1699999980000,
        30005,
        30001,
        30012,
        Decimal("30000.5"),
        Decimal("0.8"),
    ]


def test_tickers_with_trailing_null_and_symbol_prefix() -> None:
    """A WS ticker may have an 11th null; tickers rows are prefixed with the symbol."""
    t = w.parse_ticker(loads("[30000.5,2.05,30001,1.78,150,0.00502,30001,12.345,30200,29700,null]"))
    assert t.last_price == Decimal(30001)
    row = w.parse_tickers_row(
        loads('["tBTCUSD",30000.5,2.05,30001,1.78,150,0.00502,30001,12.345,30200,29700]')
    )
    assert row.symbol == "tBTCUSD"
    assert row.low == Decimal(29700)
    with pytest.raises(WireFormatError, match=r"TICKER\.ask"):
        w.parse_ticker([1, 2])


def test_public_trade_and_book_rows() -> None:
    """Public trades, aggregated and raw book rows."""
    trade = w.parse_public_trade([401597395, 1700000004000, Decimal("0.005"), 30001])
    assert trade.amount == Decimal("0.005")
    level = w.parse_book_level([Decimal("30000.5"), 2, Decimal("0.75")])
    assert level.count == 2
    raw = w.parse_raw_book_entry([1747000005, 0, -1])
    assert raw.price == 0


def test_pair_info_sizes_are_strings() -> None:
    """pub:info:pair carries MIN/MAX_ORDER_SIZE as strings; nulls mean no margin."""
    info = w.parse_pair_info(
        loads('["BTCUSD",[null,null,null,"0.00004","2000.0",null,null,null,0.2,0.1,null,null]]')
    )
    assert info.min_order_size == Decimal("0.00004")
    assert info.max_order_size == Decimal("2000.0")
    assert info.initial_margin == Decimal("0.2")
    short = w.parse_pair_info(["TESTBTC:TESTUSD", [None, None, None, "0.0002", "100.0"]])
    assert short.initial_margin is None
    with pytest.raises(WireFormatError, match="PAIR_INFO"):
        w.parse_pair_info(["BTCUSD", "nope"])


def test_balance_info_and_symbol_parts() -> None:
    assert w.parse_balance_info([Decimal("95000.75"), 1]).aum == Decimal("95000.75")
    assert w.symbol_parts("tBTCUSD") == ("BTC", "USD")
    assert w.symbol_parts("tTESTBTC:TESTUSD") == ("TESTBTC", "TESTUSD")


def test_js_number_rendering_matches_javascript() -> None:
    """Decimal -> JS String(number) text, as the server computes checksums from it."""
    assert js_number(Decimal("30000.50")) == "30000.5"
    assert js_number(Decimal("0.000000017")) == "1.7e-8"
    assert js_number(Decimal("0.000001")) == "0.000001"
    assert js_number(Decimal("1e21")) == "1e+21"
    assert js_number(Decimal("-1.25")) == "-1.25"
    assert js_number(Decimal("30000")) == "30000"
    assert plain_decimal(Decimal("1E-8")) == "0.00000001"
    assert plain_decimal(Decimal("3E+4")) == "30000"
    assert dumps([Decimal("0.1"), None, {"a": True}]) == '[0.1,null,{"a":true}]'
