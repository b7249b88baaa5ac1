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
