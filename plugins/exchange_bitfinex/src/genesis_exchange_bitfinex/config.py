"""Params of the Bitfinex data source and executor (structured by the core from the bot's YAML).

Symbol mapping (both components): a Genesis symbol names the pair as the bot file does, and the
Bitfinex trading symbol is derived from it unless ``symbols`` maps it explicitly:

* ``BTCUSD``            -> ``tBTCUSD``            (``t`` + the symbol)
* ``TESTBTC:TESTUSD``   -> ``tTESTBTC:TESTUSD``   (paper account pairs, currencies longer than 3)
* ``BTC/USD``           -> ``tBTCUSD``; ``DOGE/USD`` -> ``tDOGE:USD`` (``/`` becomes nothing when
  both currencies have 3 letters, ``:`` otherwise, as Bitfinex writes its pairs)
* an explicit entry in ``symbols`` (``{BTCUSD: tBTCUSD}``) always wins.

The reverse direction (venue -> Genesis) uses the same table, so every symbol the bot trades
comes back under the name the bot file gave it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import attrs

from genesis_core import Secret, doc


DEFAULT_REST_URL = "https://api.bitfinex.com/v2"
DEFAULT_PUBLIC_REST_URL = "https://api-pub.bitfinex.com/v2"
DEFAULT_WS_URL = "wss://api.bitfinex.com/ws/2"
DEFAULT_PUBLIC_WS_URL = "wss://api-pub.bitfinex.com/ws/2"


class Wallet(StrEnum):
    """Which Bitfinex wallet orders trade from."""

    EXCHANGE = "exchange"
    MARGIN = "margin"


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 0:
        raise ValueError(f"'{attribute.name}' must be >= 0, got {value!r}")


def _page_limit(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not 1 <= value <= 10_000:
        raise ValueError(f"'{attribute.name}' must be in [1, 10000], got {value!r}")


def _symbol_table(instance: object, attribute: attrs.Attribute, value: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for genesis, venue in value.items():
        if not venue.startswith("t") or len(venue) < 4:
            raise ValueError(f"'{attribute.name}' maps {genesis!r} to {venue!r}: a Bitfinex "
                             "trading symbol starts with 't', e.g. tBTCUSD")
        if venue in seen:
            raise ValueError(f"'{attribute.name}' maps both {seen[venue]!r} and {genesis!r} "
                             f"to {venue!r}")
        seen[venue] = genesis


def _at_least_one(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"'{attribute.name}' must be >= 1, got {value!r}")


def _rate_table(instance: object, attribute: attrs.Attribute, value: dict[str, int]) -> None:
    for endpoint, per_minute in value.items():
        if per_minute < 1:
            raise ValueError(f"'{attribute.name}' gives {endpoint!r} {per_minute} requests per "
                             "minute; it must be >= 1")


def _candle_files(instance: object, attribute: attrs.Attribute, value: dict[str, Path]) -> None:
    if not value:
        raise ValueError(f"'{attribute.name}' needs at least one SYMBOL: file.csv entry")


@attrs.frozen
class SimulatorParams:
    """Run a Bitfinex simulator inside the bot's process instead of using ``rest_url``/``ws_url``.

    The simulator listens on free loopback ports and the component talks to it over real
    sockets with the real protocol, exactly as it would to Bitfinex; it stops when the bot
    does.  Give the data source and the executor the same block (a YAML anchor ``&sim`` /
    ``*sim``): they then share one simulator.
    """

    candles: dict[str, Path] = doc(
        "Genesis symbol -> CSV file (timestamp_ms,open,high,low,close,volume; relative to the "
        "YAML) replayed as that market, e.g. {BTCUSD: data/bitfinex_BTCUSD_1m.csv}.",
        validator=_candle_files)
    replay: int = doc("Candles to replay before the data stream ends (0: loop forever).",
                      default=0, validator=_non_negative)
    step_interval: float = doc("Seconds of wall time per replayed candle.", default=0.05,
                               validator=_positive)
    wallets: dict[str, Decimal] = doc(
        "Starting exchange wallets, e.g. {USD: 10000, BTC: 0}; empty: 1.5 of each base and "
        "50000 of each quote currency.", factory=dict)
    maker_fee: Decimal = doc("Maker fee rate.", default=Decimal("0.001"))
    taker_fee: Decimal = doc("Taker fee rate.", default=Decimal("0.002"))
    seed: int = doc("Seed of the synthetic order book.", default=0)


@attrs.frozen
class DataParams:
    """Params of the ``bitfinex`` data source (public endpoints only: no keys)."""

    rest_url: str = doc("REST v2 base URL for candles (a simulator: http://127.0.0.1:PORT/v2).",
                        default=DEFAULT_PUBLIC_REST_URL)
    ws_url: str = doc("WebSocket v2 URL for live candles (a simulator: ws://127.0.0.1:PORT/ws/2).",
                      default=DEFAULT_PUBLIC_WS_URL)
    symbols: dict[str, str] = doc(
        "Explicit Genesis -> Bitfinex symbol map, e.g. {BTCUSD: tBTCUSD}; symbols not listed "
        "map as 't' + symbol (BTC/USD -> tBTCUSD, TESTBTC:TESTUSD -> tTESTBTC:TESTUSD).",
        factory=dict, validator=_symbol_table)
    close_by_clock: bool = doc(
        "Also close a bar once its close time plus close_grace_ms has passed on this machine's "
        "clock (quiet markets publish no next bar). Turn off against a simulator that replays "
        "past timestamps: then only a newer bar closes a bar.", default=True)
    close_grace_ms: int = doc("Milliseconds after a bar's close time before the clock closes it "
                              "(late trades of the bar may still arrive).", default=5_000,
                              validator=_non_negative)
    history_page_limit: int = doc("Candles per REST page when fetching history (max 10000).",
                                  default=10_000, validator=_page_limit)
    request_timeout: float = doc("Seconds to wait for one REST answer.", default=10.0,
                                 validator=_positive)
    retries: int = doc("Retries of a failed public REST read (5xx, timeouts).", default=2,
                       validator=_non_negative)
    heartbeat_timeout: float = doc("Seconds without any WebSocket frame before reconnecting.",
                                   default=35.0, validator=_positive)
    sequence_check: bool = doc(
        "Ask for sequence numbers (SEQ_ALL) on the candle socket and reconnect when one is "
        "skipped (a lost frame).", default=True)
    simulator: SimulatorParams | None = doc(
        "Replay candles through an in-process simulator (see SimulatorParams) instead of "
        "connecting to rest_url/ws_url; the stream ends after `replay` candles.", default=None)


@attrs.frozen
class ExecutorParams:
    """Params of the ``bitfinex`` executor (authenticated REST + the account WebSocket)."""

    api_key: Secret = doc("API key; write ${BITFINEX_API_KEY}, never the key itself.")
    api_secret: Secret = doc("API secret; write ${BITFINEX_API_SECRET}, never the secret itself.")
    rest_url: str = doc("Authenticated REST v2 base URL (a simulator: http://127.0.0.1:PORT/v2).",
                        default=DEFAULT_REST_URL)
    ws_url: str = doc("Account WebSocket v2 URL (a simulator: ws://127.0.0.1:PORT/ws/2).",
                      default=DEFAULT_WS_URL)
    symbols: dict[str, str] = doc(
        "Explicit Genesis -> Bitfinex symbol map (same rule as the data source's).",
        factory=dict, validator=_symbol_table)
    wallet: Wallet = doc("Wallet orders trade from: exchange (spot; order types EXCHANGE ...) "
                         "or margin.", default=Wallet.EXCHANGE)
    nonce_file: Path | None = doc(
        "File that keeps the nonce ceiling across restarts (one per API key; relative to the "
        "YAML). Without it nonces follow the clock in microseconds.", default=None)
    dead_man_switch: bool = doc(
        "Ask Bitfinex to cancel ALL open orders of the key when the account WebSocket drops "
        "(protective stops too).", default=False)
    connect_timeout: float = doc("Seconds to wait for the account WebSocket to authenticate, "
                                 "and for a cancel to be confirmed.", default=15.0,
                                 validator=_positive)
    request_timeout: float = doc("Seconds to wait for one REST answer.", default=10.0,
                                 validator=_positive)
    retries: int = doc("Retries of a failed authenticated read (writes are never blindly "
                       "retried: a submit whose answer is lost is looked up by cid).", default=2,
                       validator=_non_negative)
    write_attempts: int = doc(
        "Sends of one order (or cancel) before giving up with an error; a resend happens only "
        "after the order was looked up by cid and not found.", default=4,
        validator=_at_least_one)
    rate_limits: dict[str, int] = doc(
        "Requests per minute per endpoint, overriding the published table, e.g. "
        "{auth/w/order/submit: 90, auth/r/orders: 90}.", factory=dict, validator=_rate_table)
    rate_limit_pause: float = doc(
        "Seconds an endpoint is left alone after HTTP 429 (Bitfinex blocks about 60 s).",
        default=60.0, validator=_positive)
    backoff_scale: float = doc(
        "Multiplies every back-off delay (read retries, circuit breaker, reconnects, resends); "
        "below 1 only against a simulator.", default=1.0, validator=_positive)
    simulator: SimulatorParams | None = doc(
        "Trade against an in-process simulator (see SimulatorParams) instead of rest_url/ws_url; "
        "any api_key/api_secret is accepted there.", default=None)
