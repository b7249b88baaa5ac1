"""Guards: exact verdicts and reasons for each policy that approves or refuses entries."""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import pytest

from genesis_core import RiskAction, RiskDecision
from genesis_risk_basic import (
    ConfidenceBands,
    Cooldown,
    CorrelationGuard,
    DrawdownGuard,
    ExposureCap,
    KillSwitch,
    MaxDailyLoss,
    MaxOpenPositions,
    TradingWindow,
    VolatilityFilter,
)
from genesis_risk_basic.guards import (
    ConfidenceBandsOverride,
    ConfidenceBandsParams,
    CooldownOverride,
    CooldownParams,
    CorrelationGuardParams,
    DrawdownGuardParams,
    ExposureCapOverride,
    ExposureCapParams,
    KillSwitchParams,
    MaxDailyLossParams,
    MaxOpenPositionsParams,
    TradingWindowParams,
    VolatilityFilterParams,
)

from ._support import DAY, HOUR, MARKET, MINUTE, T0, D, fill, intent, position, round_trip, snapshot


EXIT = RiskDecision.approve("x", "exits are never blocked")


def verdict(decision: RiskDecision) -> tuple[RiskAction, str]:
    return decision.action, decision.reason


# -- kill switch ---------------------------------------------------------------------------------


def test_kill_switch_config_flag_blocks_entries_not_exits() -> None:
    policy = KillSwitch(KillSwitchParams(engaged=True))
    assert (RiskAction.REJECT, "kill-switch engaged in config") == verdict(
        policy.check(intent(), snapshot()))
    assert (RiskAction.APPROVE, "exits are never blocked") == verdict(
        policy.check(intent(side="SELL", reduce_only=True), snapshot()))


def test_kill_switch_flag_file_turns_it_on_and_off(tmp_path: Path) -> None:
    flag = tmp_path / "genesis.halt"
    policy = KillSwitch(KillSwitchParams(flag_file=flag))
    assert (RiskAction.APPROVE, "kill-switch off") == verdict(policy.check(intent(), snapshot()))
    flag.touch()
    assert (RiskAction.REJECT, f"kill-switch flag file {flag} exists") == verdict(
        policy.check(intent(), snapshot()))
    assert RiskAction.APPROVE is policy.check(intent(reduce_only=True), snapshot()).action
    flag.unlink()
    assert RiskAction.APPROVE is policy.check(intent(), snapshot()).action


def test_kill_switch_engages_after_consecutive_losses_and_latches() -> None:
    policy = KillSwitch(KillSwitchParams(max_consecutive_losses=2))
    round_trip(policy, "BTCUSD", "100", "90", n=1)
    round_trip(policy, "ETHUSD", "100", "110", n=2)  # a win resets the streak
    round_trip(policy, "BTCUSD", "100", "99", n=3)
    assert policy.tripped is None
    assert RiskAction.APPROVE is policy.check(intent(), snapshot()).action
    round_trip(policy, "BTCUSD", "100", "102", n=4, side="SELL")  # short stopped out higher
    reason = "kill-switch engaged automatically: 2 losing trades in a row (limit 2)"
    assert (RiskAction.REJECT, reason) == verdict(policy.check(intent(), snapshot()))
    round_trip(policy, "BTCUSD", "100", "200", n=5)  # latched: a later win does not release it
    assert (RiskAction.REJECT, reason) == verdict(policy.check(intent(), snapshot()))
    assert RiskAction.APPROVE is policy.check(intent(reduce_only=True), snapshot()).action


def test_kill_switch_short_stopped_out_counts_as_a_loss_not_a_win() -> None:
    policy = KillSwitch(KillSwitchParams(max_consecutive_losses=1))
    round_trip(policy, "BTCUSD", "100", "98", n=1, side="SELL")  # short from 100 covered at 98
    assert policy.tripped is None
    round_trip(policy, "BTCUSD", "100", "102", n=2, side="SELL")
    assert policy.tripped is not None


def test_kill_switch_partial_fills_of_one_order_are_one_trade() -> None:
    policy = KillSwitch(KillSwitchParams(max_consecutive_losses=2))
    portfolio = snapshot()
    policy.on_fill(fill("BTCUSD", "BUY", "2", "100", order="e"), portfolio)
    policy.on_fill(fill("BTCUSD", "SELL", "1", "90", order="x"), portfolio)
    policy.on_fill(fill("BTCUSD", "SELL", "1", "95", order="x"), portfolio)
    assert policy.tripped is None


def test_kill_switch_counts_quote_fees_and_realised_loss_limit() -> None:
    policy = KillSwitch(KillSwitchParams(max_realised_loss=D("15")))
    portfolio = snapshot()
    policy.on_fill(fill("BTCUSD", "BUY", "1", "100", order="e1"), portfolio)
    policy.on_fill(fill("BTCUSD", "SELL", "1", "110", order="x1", fee="1"), portfolio)  # +9
    round_trip(policy, "BTCUSD", "100", "90", n=2)  # -10, total -1
    assert policy.tripped is None
    round_trip(policy, "BTCUSD", "100", "86", n=3)  # -14, total -15
    assert (RiskAction.REJECT, "kill-switch engaged automatically: realised loss 15.00 reached "
                               "the limit 15") == verdict(policy.check(intent(), snapshot()))


def test_kill_switch_scores_exits_of_positions_open_before_it_saw_fills() -> None:
    policy = KillSwitch(KillSwitchParams(max_consecutive_losses=1))
    policy.check(intent(), snapshot(positions=[position("BTCUSD", "1", "100")]))
    policy.on_fill(fill("BTCUSD", "SELL", "1", "90", order="x"), snapshot())
    assert policy.tripped is not None


# -- max daily loss ------------------------------------------------------------------------------


def test_daily_loss_halts_for_the_rest_of_the_utc_day() -> None:
    policy = MaxDailyLoss()
    assert (RiskAction.APPROVE, "daily loss 4.00% of 5.00% allowed") == verdict(
        policy.check(intent(), snapshot("9600", day_start="10000")))
    assert (RiskAction.REJECT, "daily loss 5.00% of start-of-day equity 10000.00 reached the "
                               "limit 5.00%") == verdict(
        policy.check(intent(), snapshot("9500", day_start="10000", timestamp=T0 + HOUR)))
    assert (RiskAction.REJECT, "daily loss limit 5.00% was reached today; entries resume at "
                               "2024-01-02T00:00:00Z") == verdict(
        policy.check(intent(), snapshot("9900", day_start="10000", timestamp=T0 + 2 * HOUR)))
    assert (RiskAction.APPROVE, "exits are never blocked") == verdict(
        policy.check(intent(reduce_only=True), snapshot("9900", day_start="10000",
                                                        timestamp=T0 + 2 * HOUR)))
    assert (RiskAction.APPROVE, "daily loss 0.00% of 5.00% allowed") == verdict(
        policy.check(intent(), snapshot("9900", day_start="9900", timestamp=T0 + DAY)))


def test_daily_loss_with_a_reset_hour_tracks_its_own_day_start() -> None:
    policy = MaxDailyLoss(MaxDailyLossParams(max_loss_pct=D("0.05"), reset_hour=8))
    # The runtime's UTC day_start_equity is ignored when the day starts at 08:00.
    assert RiskAction.APPROVE is policy.check(
        intent(), snapshot("10000", day_start="20000", timestamp=T0 + 9 * HOUR)).action
    assert (RiskAction.REJECT, "daily loss 6.00% of start-of-day equity 10000.00 reached the "
                               "limit 5.00%") == verdict(
        policy.check(intent(), snapshot("9400", day_start="20000", timestamp=T0 + 20 * HOUR)))
    assert (RiskAction.REJECT, "daily loss limit 5.00% was reached today; entries resume at "
                               "2024-01-02T08:00:00Z") == verdict(
        policy.check(intent(), snapshot("9400", timestamp=T0 + 31 * HOUR)))
    assert (RiskAction.APPROVE, "daily loss 0.00% of 5.00% allowed") == verdict(
        policy.check(intent(), snapshot("9400", timestamp=T0 + 32 * HOUR)))


def test_daily_loss_halt_survives_a_restart_through_state() -> None:
    import json

    before = MaxDailyLoss(MaxDailyLossParams(max_loss_pct=D("0.05"), reset_hour=8))
    before.check(intent(), snapshot("10000", timestamp=T0 + 9 * HOUR))
    assert RiskAction.REJECT is before.check(
        intent(), snapshot("9400", timestamp=T0 + 20 * HOUR)).action
    after = MaxDailyLoss(MaxDailyLossParams(max_loss_pct=D("0.05"), reset_hour=8))
    after.restore(json.loads(json.dumps(before.state())))  # as the runner stores it
    # equity recovered above the limit, the same trading day: still halted, own day start kept
    assert (RiskAction.REJECT, "daily loss limit 5.00% was reached today; entries resume at "
                               "2024-01-02T08:00:00Z") == verdict(
        after.check(intent(), snapshot("9900", timestamp=T0 + 21 * HOUR)))
    fresh = MaxDailyLoss(MaxDailyLossParams(max_loss_pct=D("0.05"), reset_hour=8))
    assert RiskAction.APPROVE is fresh.check(  # what a restart without state() decided
        intent(), snapshot("9900", timestamp=T0 + 21 * HOUR)).action


def test_daily_loss_refuses_when_day_start_equity_is_not_positive() -> None:
    assert (RiskAction.REJECT, "start-of-day equity 0 is not positive") == verdict(
        MaxDailyLoss().check(intent(), snapshot("10", day_start="0")))


# -- drawdown ------------------------------------------------------------------------------------


def test_drawdown_curve_full_size_then_linear_then_halt() -> None:
    policy = DrawdownGuard()
    assert (RiskAction.APPROVE, "drawdown 4.00% from peak 10000.00: full size") == verdict(
        policy.check(intent(amount="2"), snapshot("9600", peak="10000")))
    decision = policy.check(intent(amount="2", market=MARKET, stop_loss="95"),
                            snapshot("9000", peak="10000"))
    assert RiskDecision.resize("drawdown_guard", D("1.25"),
                               "drawdown 10.00% from peak 10000.00: size x 0.6250 = 1.2500",
                               stop_loss=D("95")) == decision
    assert (RiskAction.REJECT, "drawdown 15.00% from peak 10000.00 reached the halt limit "
                               "15.00%") == verdict(policy.check(intent(),
                                                                 snapshot("8500", peak="10000")))
    assert RiskAction.APPROVE is policy.check(intent(reduce_only=True),
                                              snapshot("8000", peak="10000")).action


@pytest.mark.parametrize(("drawdown", "scale"), [
    ("0", "1"), ("0.05", "1"), ("0.075", "0.8125"), ("0.10", "0.625"), ("0.1499", "0.250750"),
    ("0.15", None), ("0.5", None)])
def test_drawdown_scale_curve(drawdown: str, scale: str | None) -> None:
    expected = None if scale is None else D(scale)
    assert expected == DrawdownGuard().scale(D(drawdown))


def test_drawdown_tracks_its_own_peak_without_the_runtime_one() -> None:
    policy = DrawdownGuard()
    policy.check(intent(), snapshot("12000"))
    decision = policy.check(intent(amount="4"), snapshot("10800"))
    assert (RiskAction.RESIZE, D("2.5")) == (decision.action, decision.amount)
    assert "drawdown 10.00% from peak 12000.00: size x 0.6250 = 2.50000000" == decision.reason


def test_drawdown_rejects_when_the_scaled_size_is_below_the_exchange_minimum() -> None:
    decision = DrawdownGuard().check(intent(amount="0.0015", market=MARKET),
                                     snapshot("9000", peak="10000"))
    assert (RiskAction.REJECT, "drawdown 10.00% from peak 10000.00: sized amount 0.0009 is below "
                               "the exchange minimum 0.001 BTCUSD") == verdict(decision)


def test_drawdown_guard_before_the_sizer_says_so() -> None:
    decision = DrawdownGuard().check(intent(amount="0"), snapshot("9000", peak="10000"))
    assert (RiskAction.REJECT, "drawdown 10.00% from peak 10000.00: nothing sized to scale "
                               "yet; put drawdown_guard after the sizing policy") == verdict(
        decision)


def test_drawdown_params_need_start_below_halt() -> None:
    with pytest.raises(ValueError, match="'halt_pct' must be > start_pct"):
        DrawdownGuardParams(start_pct=D("0.2"), halt_pct=D("0.1"))


# -- max open positions --------------------------------------------------------------------------


def test_max_open_positions() -> None:
    policy = MaxOpenPositions(MaxOpenPositionsParams(max_positions=3))
    two = [position("ETHUSD", "1", "10"), position("XRPUSD", "-5", "1")]
    three = [*two, position("LTCUSD", "2", "50")]
    assert (RiskAction.APPROVE, "2 of 3 positions open") == verdict(
        policy.check(intent(), snapshot(positions=two)))
    assert (RiskAction.REJECT, "3 positions open, the maximum is 3") == verdict(
        policy.check(intent(), snapshot(positions=three)))
    assert (RiskAction.APPROVE, "does not open a new position") == verdict(
        policy.check(intent("ETHUSD"), snapshot(positions=three)))


def test_max_open_positions_counts_entries_still_on_their_way() -> None:
    # Two symbols signalling on the same bar: the first entry has not filled yet when the
    # second is judged, and it must count, or a one-position cap lets both through.
    policy = MaxOpenPositions(MaxOpenPositionsParams(max_positions=1))
    waiting = attrs.evolve(snapshot(), pending_entries={"ETHUSD": D("2")})
    assert (RiskAction.REJECT, "1 positions open, the maximum is 1") == verdict(
        policy.check(intent(), waiting))
    assert (RiskAction.APPROVE, "does not open a new position") == verdict(
        policy.check(intent("ETHUSD"), waiting))


def test_exposure_counts_other_symbols_pending_entries_at_their_marks() -> None:
    waiting = attrs.evolve(snapshot(prices={"ETHUSD": "100"}),
                           pending_entries={"ETHUSD": D("-40")})
    decision = ExposureCap().check(intent(amount="30", market=MARKET), waiting)
    # total cap 5000, ETH entry on its way worth 4000 → room 1000 at price 100 = 10 BTC
    assert RiskDecision.resize("exposure_cap", D("10"), "resized 30 -> 10.0000 to fit the total "
                               "cap 5000.00") == decision


# -- exposure caps -------------------------------------------------------------------------------


def test_exposure_within_caps_is_approved() -> None:
    assert (RiskAction.APPROVE, "BTCUSD exposure 1000.00 within the per-symbol cap 2000.00") == (
        verdict(ExposureCap().check(intent(amount="10"), snapshot())))


def test_exposure_resizes_down_to_the_per_symbol_cap() -> None:
    decision = ExposureCap().check(intent(amount="30", market=MARKET), snapshot())
    assert RiskDecision.resize("exposure_cap", D("20"), "resized 30 -> 20.0000 to fit the "
                               "per-symbol cap 2000.00") == decision
    held = [position("BTCUSD", "15", "90")]
    decision = ExposureCap().check(intent(amount="10", market=MARKET),
                                   snapshot(positions=held, prices={"BTCUSD": "100"}))
    assert (RiskAction.RESIZE, D("5")) == (decision.action, decision.amount)


def test_exposure_resizes_down_to_the_total_cap_using_mark_prices() -> None:
    others = [position("ETHUSD", "20", "90"), position("XRPUSD", "2000", "2")]
    decision = ExposureCap().check(intent(amount="30", market=MARKET),
                                   snapshot(positions=others, prices={"ETHUSD": "100"}))
    # ETH marked at 100 (2000), XRP has no mark: its entry value 4000 counts → total room 0.
    assert (RiskAction.REJECT, "no room under the total cap 5000.00: BTCUSD exposure 0.00, "
                               "other symbols 6000.00") == verdict(decision)
    decision = ExposureCap().check(intent(amount="30", market=MARKET), snapshot(
        positions=others, prices={"ETHUSD": "100", "XRPUSD": "1"}))
    assert RiskDecision.resize("exposure_cap", D("10"), "resized 30 -> 10.0000 to fit the total "
                               "cap 5000.00") == decision


def test_exposure_rejects_when_the_room_is_below_the_exchange_minimum() -> None:
    others = [position("ETHUSD", "4999.95", "1")]
    decision = ExposureCap().check(intent(amount="1", market=MARKET),
                                   snapshot(positions=others, prices={"ETHUSD": "1"}))
    assert (RiskAction.REJECT, "room under the total cap 5000.00: sized amount 0.0005 is below "
                               "the exchange minimum 0.001 BTCUSD") == verdict(decision)


def test_exposure_lets_a_trade_against_an_oversized_position_through() -> None:
    held = [position("BTCUSD", "30", "100")]
    decision = ExposureCap().check(intent(side="SELL", amount="10"),
                                   snapshot(positions=held, prices={"BTCUSD": "100"}))
    assert (RiskAction.APPROVE, "BTCUSD exposure 2000.00 within the per-symbol cap 2000.00") == (
        verdict(decision))
    decision = ExposureCap().check(intent(amount="1"),
                                   snapshot(positions=held, prices={"BTCUSD": "100"}))
    assert RiskAction.REJECT is decision.action


def test_exposure_notional_caps_and_per_symbol_overrides() -> None:
    params = ExposureCapParams(max_symbol_notional=D("1500"), per_symbol={
        "ETHUSD": ExposureCapOverride(max_symbol_pct=D("0.3"), max_symbol_notional=D("9000"))})
    policy = ExposureCap(params)
    decision = policy.check(intent(amount="40", market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("15")) == (decision.action, decision.amount)
    decision = policy.check(intent("ETHUSD", amount="40", market=MARKET), snapshot())
    assert (RiskAction.RESIZE, D("30")) == (decision.action, decision.amount)
    assert "resized 40 -> 30.0000 to fit the per-symbol cap 3000.00" == decision.reason


def test_exposure_rejects_non_positive_equity() -> None:
    assert (RiskAction.REJECT, "equity -5 is not positive") == verdict(
        ExposureCap().check(intent(), snapshot("-5")))


# -- cooldown ------------------------------------------------------------------------------------


def test_cooldown_after_any_fill_in_the_symbol() -> None:
    policy = Cooldown()
    assert (RiskAction.APPROVE, "BTCUSD not cooling down") == verdict(
        policy.check(intent(), snapshot()))
    policy.on_fill(fill("BTCUSD", "BUY", "1", "100", timestamp=T0), snapshot())
    assert (RiskAction.REJECT, "BTCUSD cooling down after the last fill at 2024-01-01T00:00:00Z: "
                               "entries resume at 2024-01-01T00:05:00Z") == verdict(
        policy.check(intent(), snapshot(timestamp=T0 + 4 * MINUTE + 59_999)))
    assert RiskAction.APPROVE is policy.check(intent(), snapshot(timestamp=T0 + 5 * MINUTE)).action
    assert RiskAction.APPROVE is policy.check(intent("ETHUSD"), snapshot(timestamp=T0)).action
    assert RiskAction.APPROVE is policy.check(intent(reduce_only=True), snapshot()).action


def test_cooldown_is_longer_after_a_stop_out_only() -> None:
    policy = Cooldown()
    policy.on_fill(fill("BTCUSD", "BUY", "1", "100", order="e", timestamp=T0), snapshot())
    policy.on_fill(fill("BTCUSD", "SELL", "1", "95", order="x", timestamp=T0 + 10 * MINUTE),
                   snapshot())
    assert (RiskAction.REJECT, "BTCUSD cooling down after the stop-out at 2024-01-01T00:10:00Z: "
                               "entries resume at 2024-01-01T01:10:00Z") == verdict(
        policy.check(intent(), snapshot(timestamp=T0 + 30 * MINUTE)))
    assert RiskAction.APPROVE is policy.check(intent(),
                                              snapshot(timestamp=T0 + 70 * MINUTE)).action
    policy.on_fill(fill("ETHUSD", "BUY", "1", "100", order="e2", timestamp=T0), snapshot())
    policy.on_fill(fill("ETHUSD", "SELL", "1", "105", order="x2", timestamp=T0 + 10 * MINUTE),
                   snapshot())
    assert RiskAction.APPROVE is policy.check(intent("ETHUSD"),
                                              snapshot(timestamp=T0 + 15 * MINUTE)).action


def test_cooldown_per_symbol_override() -> None:
    policy = Cooldown(CooldownParams(per_symbol={"ETHUSD": CooldownOverride(minutes=0)}))
    policy.on_fill(fill("ETHUSD", "BUY", "1", "100"), snapshot())
    policy.on_fill(fill("BTCUSD", "BUY", "1", "100"), snapshot())
    assert RiskAction.APPROVE is policy.check(intent("ETHUSD"), snapshot()).action
    assert RiskAction.REJECT is policy.check(intent("BTCUSD"), snapshot()).action


# -- trading window ------------------------------------------------------------------------------


def test_trading_window_in_a_named_zone_with_dst() -> None:
    policy = TradingWindow(TradingWindowParams(
        timezone="Europe/Stockholm", weekdays=["mon", "tue", "wed", "thu", "fri"],
        sessions=["09:00-17:30"]))
    at = snapshot(timestamp=T0)  # Monday 01:00 in Stockholm
    assert (RiskAction.REJECT, "Mon 2024-01-01 01:00 Europe/Stockholm is outside the trading "
                               "window (days mon,tue,wed,thu,fri; hours 09:00-17:30)") == verdict(
        policy.check(intent(), at))
    assert (RiskAction.APPROVE, "Mon 2024-01-01 09:00 Europe/Stockholm is inside the trading "
                                "window") == verdict(
        policy.check(intent(), snapshot(timestamp=T0 + 8 * HOUR)))
    assert not policy.is_open(T0 + 16 * HOUR + 30 * MINUTE)  # 17:30 local: end is exclusive
    assert not policy.is_open(T0 + 5 * DAY + 10 * HOUR)  # Saturday
    july = 1_719_792_000_000  # 2024-07-01T00:00Z, summer time (UTC+2)
    assert policy.is_open(july + 7 * HOUR + 30 * MINUTE)
    assert not policy.is_open(july + 15 * HOUR + 30 * MINUTE)
    assert RiskAction.APPROVE is policy.check(intent(reduce_only=True), at).action


def test_trading_window_session_wrapping_midnight_in_utc() -> None:
    policy = TradingWindow(TradingWindowParams(sessions=["22:00-02:00"]))
    assert [True, True, False, False] == [
        policy.is_open(T0 + h) for h in (23 * HOUR, HOUR + 59 * MINUTE, 2 * HOUR, 21 * HOUR)]


@pytest.mark.parametrize("session", ["9-17", "09:00-09:00", "10:60-11:00", "08:00-25:00", "x"])
def test_trading_window_rejects_bad_sessions(session: str) -> None:
    with pytest.raises(ValueError, match=r"^'sessions\[0\]' must be HH:MM-HH:MM"):
        TradingWindowParams(sessions=[session])


def test_trading_window_rejects_unknown_zones() -> None:
    with pytest.raises(ValueError, match="'timezone' must be an IANA time zone"):
        TradingWindowParams(timezone="Mars/Olympus")


# -- confidence bands ----------------------------------------------------------------------------


@pytest.mark.parametrize(("confidence", "action", "reason"), [
    (0.9, RiskAction.APPROVE, "confidence 0.9 > 0.8: automatic"),
    (0.8, RiskAction.CONFIRM, "confidence 0.8 in [0.6, 0.8]: needs manual confirmation"),
    (0.6, RiskAction.CONFIRM, "confidence 0.6 in [0.6, 0.8]: needs manual confirmation"),
    (0.59, RiskAction.REJECT, "confidence 0.59 < 0.6"),
])
def test_confidence_bands(confidence: float, action: RiskAction, reason: str) -> None:
    assert (action, reason) == verdict(
        ConfidenceBands().check(intent(confidence=confidence), snapshot()))


def test_confidence_bands_per_symbol() -> None:
    policy = ConfidenceBands(ConfidenceBandsParams(
        per_symbol={"ETHUSD": ConfidenceBandsOverride(auto_above=0.9)}))
    assert RiskAction.APPROVE is policy.check(intent(confidence=0.85), snapshot()).action
    assert RiskAction.CONFIRM is policy.check(intent("ETHUSD", confidence=0.85),
                                              snapshot()).action
    assert RiskAction.APPROVE is policy.check(intent(confidence=0.1, reduce_only=True),
                                              snapshot()).action


def test_confidence_bands_validation_checks_the_merged_per_symbol_bands() -> None:
    with pytest.raises(ValueError, match=r"^'auto_above' must be >= confirm_from \(0.9\)"):
        ConfidenceBandsParams(confirm_from=0.9)
    with pytest.raises(ValueError, match=r"^'per_symbol' invalid for ETHUSD: 'auto_above' must "
                                         r"be >= confirm_from \(0.6\), got 0.5$"):
        ConfidenceBandsParams(per_symbol={"ETHUSD": ConfidenceBandsOverride(auto_above=0.5)})


# -- volatility filter ---------------------------------------------------------------------------


def test_volatility_filter_on_atr_percent() -> None:
    policy = VolatilityFilter()
    assert (RiskAction.REJECT, "ATR 6.50% of price exceeds the limit 5.0%") == verdict(
        policy.check(intent(features={"atr_pct": 6.5}), snapshot()))
    assert (RiskAction.APPROVE, "ATR 2.00%") == verdict(
        policy.check(intent(features={"atr_pct": 2.0}), snapshot()))
    assert (RiskAction.REJECT, "ATR 6.00% of price exceeds the limit 5.0%") == verdict(
        policy.check(intent(price="50", features={"atr": 3.0}), snapshot()))
    assert (RiskAction.APPROVE, "no ATR feature") == verdict(
        policy.check(intent(features={"atr_pct": math.nan}), snapshot()))


def test_volatility_filter_on_realised_return_std() -> None:
    policy = VolatilityFilter(VolatilityFilterParams(max_atr_pct=None, max_return_std=0.02))
    wild = tuple(0.03 if i % 2 else -0.03 for i in range(20))
    assert (RiskAction.REJECT, "return std 0.0308 over 20 bars exceeds the limit 0.02") == (
        verdict(policy.check(intent(), snapshot(returns={"BTCUSD": wild}))))
    assert (RiskAction.APPROVE, "19 returns, std not checked") == verdict(
        policy.check(intent(), snapshot(returns={"BTCUSD": wild[1:]})))
    calm = tuple(x / 10 for x in wild)
    assert (RiskAction.APPROVE, "return std 0.0031") == verdict(
        policy.check(intent(), snapshot(returns={"BTCUSD": calm})))


# -- correlation guard ---------------------------------------------------------------------------


def _returns() -> dict[str, tuple[float, ...]]:
    base = tuple(math.sin(i) / 100 for i in range(30))
    return {"BTCUSD": base, "ETHUSD": tuple(2 * r for r in base),
            "XRPUSD": tuple(-r for r in base), "LTCUSD": tuple(math.cos(3 * i) / 100
                                                                for i in range(30))}


def test_correlation_guard_refuses_doubling_a_correlated_bet() -> None:
    policy = CorrelationGuard()
    long_eth = snapshot(positions=[position("ETHUSD", "1", "10")], returns=_returns())
    assert (RiskAction.REJECT, "BUY BTCUSD would add to the open ETHUSD long: return correlation "
                               "1.000 over 30 bars, limit 0.8") == verdict(
        policy.check(intent(), long_eth))
    assert RiskAction.APPROVE is policy.check(intent(side="SELL"), long_eth).action  # a hedge
    long_xrp = snapshot(positions=[position("XRPUSD", "1", "10")], returns=_returns())
    assert (RiskAction.REJECT, "SELL BTCUSD would add to the open XRPUSD long: return "
                               "correlation -1.000 over 30 bars, limit 0.8") == verdict(
        policy.check(intent(side="SELL"), long_xrp))
    long_ltc = snapshot(positions=[position("LTCUSD", "1", "10")], returns=_returns())
    assert (RiskAction.APPROVE, "no open position correlates above the limit") == verdict(
        policy.check(intent(), long_ltc))


def test_correlation_guard_needs_enough_observations() -> None:
    short = {k: v[-10:] for k, v in _returns().items()}
    policy = CorrelationGuard(CorrelationGuardParams(min_observations=11))
    portfolio = snapshot(positions=[position("ETHUSD", "1", "10")], returns=short)
    assert RiskAction.APPROVE is policy.check(intent(), portfolio).action
    policy = CorrelationGuard(CorrelationGuardParams(min_observations=10))
    assert RiskAction.REJECT is policy.check(intent(), portfolio).action


def test_exits_pass_every_guard() -> None:
    exit_intent = intent(side="SELL", reduce_only=True, features={"atr_pct": 99.0},
                         confidence=0.0)
    portfolio = snapshot("1", day_start="10000", peak="10000",
                         positions=[position("ETHUSD", "1", "10")], returns=_returns())
    guards = [KillSwitch(KillSwitchParams(engaged=True)), MaxDailyLoss(), DrawdownGuard(),
              ExposureCap(), Cooldown(), TradingWindow(TradingWindowParams(weekdays=[])),
              ConfidenceBands(), VolatilityFilter(), CorrelationGuard()]
    for guard in guards:
        assert (RiskAction.APPROVE, EXIT.reason) == verdict(guard.check(exit_intent, portfolio))
