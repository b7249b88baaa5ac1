"""Configuration of the simulated exchange."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from ._market import MarketSpec


@attrs.frozen(repr=False)
class AccountSpec:
    """An API key pair and the account it opens. The secret never appears in reprs."""

    api_key: str
    api_secret: str
    user_id: int

    def __repr__(self) -> str:
        return f"AccountSpec(api_key='{self.api_key[:4]}…', user_id={self.user_id})"


def _default_accounts() -> tuple[AccountSpec, ...]:
    return (AccountSpec("TEST_API_KEY", "TEST_API_SECRET", 123456),)


@attrs.define
class SimConfig:
    """Everything the simulator needs; defaults follow the reference's simulator defaults.

    ``step_interval`` 0 means the market only moves when ``BitfinexSimulator.step()`` is called
    (tests); a positive value replays one candle per that many seconds (demo mode), and
    ``replay_candles`` > 0 stops that clock after so many candles (``replay_done`` is then set).
    ``now_ms`` overrides the wall clock for order/trade timestamps (determinism in tests).
    """

    markets: tuple[MarketSpec, ...]
    accounts: tuple[AccountSpec, ...] = attrs.field(factory=_default_accounts)
    exchange_wallets: dict[str, Decimal] | None = None  # currency -> balance; None: per market
    margin_wallets: dict[str, Decimal] = attrs.field(factory=dict)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.002")
    seed: int = 0
    warmup_candles: int = 240
    rebase_time: bool = False
    book_depth: int = 25
    level_amount: Decimal = Decimal("0.5")
    spread_ticks: int = 1
    flow_fraction: Decimal = Decimal(1)
    flow_amount: Decimal | None = None
    host: str = "127.0.0.1"
    rest_port: int = 0
    ws_port: int = 0
    heartbeat_interval: float = 15.0
    step_interval: float = 0.0
    replay_candles: int = 0
    rate_limits: bool = False
    rate_limit_overrides: dict[str, int] = attrs.field(factory=dict)
    rate_limit_block_s: float = 60.0
    max_channels: int = 25
    order_id_start: int = 1_747_566_427
    trade_id_start: int = 405_000_000
    public_trade_id_start: int = 401_597_393
    now_ms: Callable[[], int] | None = None

    def initial_exchange_wallets(self) -> dict[str, Decimal]:
        if self.exchange_wallets is not None:
            return dict(self.exchange_wallets)
        from genesis_exchange_bitfinex._wire import symbol_parts

        wallets: dict[str, Decimal] = {}
        for spec in self.markets:
            base, quote = symbol_parts(spec.symbol)
            wallets.setdefault(base, Decimal("1.5"))
            wallets.setdefault(quote, Decimal("50000"))
        return wallets
