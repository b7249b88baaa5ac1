"""Pure mapping between Bitfinex wire records and Genesis models (no I/O, no clock).

Sign conventions on the wire (protocol reference §1.4): an order/trade amount > 0 buys and < 0
sells; trade fees are negative when paid.  Genesis keeps amounts positive with an explicit side,
and a fee is positive when paid (a rebate is negative): ``Fill.fee == -TRADE.FEE``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from genesis_core import (
    Balance,
    Candle,
    Candles,
    DataError,
    Fill,
    Liquidity,
    Order,
    OrderError,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    timeframe_ms,
)

from . import _wire as w
from . import orders as bfx
from .config import Wallet


# --- symbols ----------------------------------------------------------------------------------


def default_venue_symbol(symbol: str) -> str:
    """The documented rule: ``BTCUSD`` -> ``tBTCUSD``, ``BTC/USD`` -> ``tBTCUSD``,
    ``DOGE/USD`` -> ``tDOGE:USD``, ``TESTBTC:TESTUSD`` -> ``tTESTBTC:TESTUSD``."""
    if "/" in symbol:
        base, _, quote = symbol.partition("/")
        joined = base + quote if len(base) == 3 and len(quote) == 3 else f"{base}:{quote}"
        return "t" + joined
    return "t" + symbol


class SymbolMap:
    """Genesis symbol <-> Bitfinex trading symbol, explicit entries first, then the rule."""

    def __init__(self, explicit: Mapping[str, str] | None = None) -> None:
        self._to_venue: dict[str, str] = dict(explicit or {})
        self._to_genesis: dict[str, str] = {v: k for k, v in self._to_venue.items()}

    def venue(self, symbol: str) -> str:
        found = self._to_venue.get(symbol)
        if found is None:
            found = default_venue_symbol(symbol)
            self._to_venue[symbol] = found
            self._to_genesis.setdefault(found, symbol)
        return found

    def genesis(self, venue_symbol: str) -> str:
        """Back to the name the bot used; unseen symbols lose their ``t`` prefix."""
        found = self._to_genesis.get(venue_symbol)
        if found is not None:
            return found
        return venue_symbol[1:] if venue_symbol.startswith("t") else venue_symbol


# --- timeframes and candles -------------------------------------------------------------------

VENUE_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1D", "1W", "14D")
_BY_MS = {timeframe_ms(tf): tf for tf in VENUE_TIMEFRAMES}
WEEK_ORIGIN_MS = 4 * 86_400_000  # Bitfinex weeks start on Monday; 1970-01-05 was one


def venue_timeframe(timeframe: str) -> str:
    """Genesis timeframe (``1h``, ``1d``, ``1D``, ``7d``...) -> Bitfinex's spelling (``1D``...)."""
    try:
        length = timeframe_ms(timeframe)
    except ValueError as exc:
        raise DataError(f"bitfinex: {exc}") from None
    found = _BY_MS.get(length)
    if found is None:
        raise DataError(f"bitfinex: no {timeframe} candles; Bitfinex publishes "
                        f"{', '.join(VENUE_TIMEFRAMES)}")
    return found


def grid_origin(timeframe: str) -> int:
    """Where the timeframe's bar grid starts (ms): weeks on Mondays, the rest on the epoch."""
    return WEEK_ORIGIN_MS if timeframe_ms(timeframe) == 604_800_000 else 0


def genesis_candle(candle: w.Candle) -> Candle:
    """Wire order is MTS, OPEN, CLOSE, HIGH, LOW, VOLUME; Genesis uses OHLCV floats."""
    return Candle(candle.mts, float(candle.open), float(candle.high), float(candle.low),
                  float(candle.close), float(candle.volume))


def to_candles(rows: Iterable[w.Candle], symbol: str, timeframe: str) -> Candles:
    ordered = sorted(rows, key=lambda c: c.mts)
    return Candles.from_rows(
        [(c.mts, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume))
         for c in ordered],
        symbol=symbol, timeframe=timeframe)


def find_gaps(
    timestamps: Sequence[int], timeframe: str, start_ms: int, end_ms: int
) -> list[tuple[int, int]]:
    """Missing bars in ``[start_ms, end_ms)`` as ``(first missing open, next present open)``
    intervals (half-open, in ms).  The grid is the timeframe's (weeks start on Monday)."""
    step = timeframe_ms(timeframe)
    origin = grid_origin(timeframe)
    first = start_ms + (-(start_ms - origin)) % step  # first grid point >= start_ms
    present = sorted(t for t in timestamps if start_ms <= t < end_ms)
    gaps: list[tuple[int, int]] = []
    expected = first
    for ts in present:
        if ts > expected:
            gaps.append((expected, ts))
        expected = max(expected, ts + step)
    if expected < end_ms:
        gaps.append((expected, end_ms + (-(end_ms - origin)) % step))
    return gaps


# --- client order ids -------------------------------------------------------------------------

MAX_CID = 2**45 - 1  # "int45" in the reference (§1.5); a ms timestamp also fits


def cid_for(client_order_id: str) -> int:
    """Deterministic Bitfinex ``cid`` of a Genesis client order id: SHA-256, first 8 bytes,
    folded into ``[1, 2**45 - 1]``.  The same id always gives the same cid, so a retry after a
    restart finds the order the first attempt placed."""
    digest = hashlib.sha256(client_order_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % MAX_CID + 1


# --- validation -------------------------------------------------------------------------------

AMOUNT_DECIMALS = 8
PRICE_SIGNIFICANT = 5
PRICE_DECIMALS = 8


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _significant(value: Decimal) -> int:
    return len(value.normalize().as_tuple().digits)


def check_request(request: OrderRequest, info: w.PairInfo | None, venue_symbol: str) -> str | None:
    """Why Bitfinex would refuse ``request`` (size limits, precision), or ``None``."""
    if info is None:
        return f"{request.symbol} ({venue_symbol}) is not a Bitfinex trading pair"
    amount = request.amount
    if _decimals(amount) > AMOUNT_DECIMALS:
        return f"amount {amount} has more than {AMOUNT_DECIMALS} decimals"
    if info.min_order_size is not None and amount < info.min_order_size:
        return f"amount {amount} is below the minimum {info.min_order_size} for {venue_symbol}"
    if info.max_order_size is not None and amount > info.max_order_size:
        return f"amount {amount} is above the maximum {info.max_order_size} for {venue_symbol}"
    for name in ("price", "stop_price"):
        price = getattr(request, name)
        if price is None:
            continue
        if _significant(price) > PRICE_SIGNIFICANT:
            return f"{name} {price} has more than {PRICE_SIGNIFICANT} significant digits"
        if _decimals(price) > PRICE_DECIMALS:
            return f"{name} {price} has more than {PRICE_DECIMALS} decimals"
    return None


# --- orders -----------------------------------------------------------------------------------

_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP",
    OrderType.STOP_LIMIT: "STOP LIMIT",
}


def venue_type(order_type: OrderType, wallet: Wallet) -> str:
    kind = _TYPES[order_type]
    return f"EXCHANGE {kind}" if wallet is Wallet.EXCHANGE else kind


def venue_request(
    request: OrderRequest,
    *,
    symbol: str,
    wallet: Wallet,
    cid: int,
    cid_date: str,
    oco_stop: Decimal | None = None,
) -> bfx.OrderRequest:
    """The Bitfinex submit body for ``request``; ``oco_stop`` makes it a one-cancels-other pair
    (the limit order plus a stop at that price, as one venue request)."""
    flags = 0
    if request.hidden:
        flags |= bfx.HIDDEN
    if request.post_only:
        flags |= bfx.POST_ONLY
    if request.reduce_only and wallet is Wallet.MARGIN:
        flags |= bfx.REDUCE_ONLY  # the exchange wallet holds no positions to reduce
    if oco_stop is not None:
        flags |= bfx.OCO
    amount = request.amount * request.side.sign
    price: Decimal | None
    aux: Decimal | None = None
    if request.type is OrderType.MARKET:
        price = None
    elif request.type is OrderType.LIMIT:
        price = request.price
    elif request.type is OrderType.STOP:
        price = request.stop_price
    else:
        price, aux = request.stop_price, request.price
    return bfx.OrderRequest(
        type=venue_type(request.type, wallet),
        symbol=symbol,
        amount=amount,
        price=price,
        cid=cid,
        cid_date=cid_date,
        flags=flags,
        price_aux_limit=aux,
        price_oco_stop=oco_stop,
    )


_REJECTED_STATES = frozenset({
    "POSTONLY CANCELED",
    "INSUFFICIENT MARGIN",
    "INSUFFICIENT BALANCE (G1)",
    "INSUFFICIENT BALANCE (U1)",
    "RSN_POS_REDUCE_INCR",
    "RSN_POS_REDUCE_FLIP",
    "RSN_POS_NOTFOUND",
})


def filled_amount(order: w.Order) -> Decimal:
    """Executed size, positive: ``|AMOUNT_ORIG| - |AMOUNT|`` (AMOUNT is what remains)."""
    if order.amount is None or order.amount_orig is None:
        return Decimal(0)
    return abs(order.amount_orig) - abs(order.amount)


def order_status(order: w.Order) -> OrderStatus:
    """ORDER_STATUS text -> Genesis status.

    ``ACTIVE`` is OPEN (PARTIALLY_FILLED if something executed), ``PARTIALLY FILLED`` likewise,
    ``EXECUTED`` is FILLED; post-only, balance and reduce-only refusals are REJECTED when nothing
    executed; every other terminal state (``CANCELED``, ``IOC CANCELED``, ``RSN_BOOK_SLIP``...)
    is CANCELED, keeping whatever part was filled.
    """
    state = order.parsed_status.state if order.status is not None else "ACTIVE"
    filled = filled_amount(order)
    if state in ("ACTIVE", "PARTIALLY FILLED") or not order.is_terminal:
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
    if state in ("EXECUTED", "FORCED EXECUTED"):
        return OrderStatus.FILLED
    if state in _REJECTED_STATES and filled == 0:
        return OrderStatus.REJECTED
    return OrderStatus.CANCELED


def apply_wire(order: Order, wire: w.Order, *, at: int) -> Order | None:
    """``order`` moved to what ``wire`` reports, or ``None`` if nothing changed or the move would
    go backwards (a late, out-of-order event)."""
    if order.status.is_final:
        return None
    status = order_status(wire)
    filled = min(filled_amount(wire), order.request.amount)
    if filled < order.filled_amount:
        return None
    if status == order.status and filled == order.filled_amount:
        return None
    reason = (wire.status or "") if status in (OrderStatus.CANCELED, OrderStatus.REJECTED) else ""
    average = wire.price_avg if filled > 0 and wire.price_avg else None
    exchange_id = str(wire.id) if wire.id is not None else None
    current = order
    try:
        if current.status is OrderStatus.PENDING:
            current = current.transition(OrderStatus.SUBMITTED, at=at)
        return current.transition(status, at=wire.mts_update or at, reason=reason,
                                  filled_amount=filled, average_price=average,
                                  exchange_order_id=exchange_id)
    except OrderError:
        return None


def request_from_wire(wire: w.Order, client_order_id: str, symbol: str) -> OrderRequest:
    """Rebuild the Genesis request of a venue order this process did not place (or forgot)."""
    amount = wire.amount_orig if wire.amount_orig is not None else wire.amount or Decimal(0)
    side = OrderSide.BUY if amount > 0 else OrderSide.SELL
    kind = (wire.order_type or "LIMIT").removeprefix("EXCHANGE ")
    price = wire.price if wire.price else None
    if kind == "MARKET":
        return OrderRequest(client_order_id, symbol, side, OrderType.MARKET, abs(amount))
    if kind in ("STOP", "TRAILING STOP"):
        return OrderRequest(client_order_id, symbol, side, OrderType.STOP, abs(amount),
                            stop_price=price)
    if kind == "STOP LIMIT":
        return OrderRequest(client_order_id, symbol, side, OrderType.STOP_LIMIT, abs(amount),
                            price=wire.price_aux_limit, stop_price=price)
    flags = wire.flags or 0
    return OrderRequest(client_order_id, symbol, side, OrderType.LIMIT, abs(amount), price=price,
                        post_only=bool(flags & bfx.POST_ONLY), hidden=bool(flags & bfx.HIDDEN),
                        reduce_only=bool(flags & bfx.REDUCE_ONLY))


# --- fills and balances -----------------------------------------------------------------------


def fill_from_trade(trade: w.AccountTrade, client_order_id: str, symbol: str) -> Fill:
    """A ``tu`` (or REST) trade -> Fill. Bitfinex fees are negative when paid; Genesis positive."""
    if trade.fee is None:
        raise ValueError(f"trade {trade.id} carries no fee (a 'te' event); use its 'tu'")
    side = OrderSide.BUY if trade.exec_amount > 0 else OrderSide.SELL
    return Fill(
        fill_id=str(trade.id),
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        amount=abs(trade.exec_amount),
        price=trade.exec_price,
        fee=-trade.fee,
        fee_currency=trade.fee_currency or "",
        timestamp=trade.mts,
        liquidity=Liquidity.MAKER if trade.maker == 1 else Liquidity.TAKER,
    )


def balance_from_wallet(wallet: w.Wallet) -> Balance:
    available = wallet.available_balance
    return Balance(wallet.currency, wallet.balance,
                   wallet.balance if available is None else available)
