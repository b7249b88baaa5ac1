"""Connection and performance watchers: which statuses and equity moves become alerts."""

from __future__ import annotations

from decimal import Decimal

from genesis_core.config.schema import AlertsConfig
from genesis_core.health import ConnectionWatch, PerformanceWatch
from genesis_core.models import ConnectionStatus, Health, Severity


MIN = 60_000


def status(health: str, detail: str = "") -> ConnectionStatus:
    return ConnectionStatus("bitfinex", Health(health), detail)


def test_first_connect_is_silent_and_a_reconnect_cycle_alerts_both_ways() -> None:
    watch = ConnectionWatch(AlertsConfig())
    assert watch.on_status(status("connected"), 0) == []
    lost = watch.on_status(status("reconnecting", "code 1006"), 1_000)
    assert [(r.rule, r.severity) for r in lost] == [("reconnecting", Severity.WARNING)]
    assert lost[0].message == "code 1006"
    back = watch.on_status(status("connected"), 2_000)
    assert [r.rule for r in back] == ["reconnected"]


def test_reconnect_storm_alerts_once_when_the_threshold_is_crossed_in_the_window() -> None:
    watch = ConnectionWatch(AlertsConfig(reconnect_storm=3, reconnect_storm_minutes=10))
    rules = []
    for i, at in enumerate([0, 4 * MIN, 8 * MIN, 9 * MIN, 30 * MIN]):
        rules.append([r.rule for r in watch.on_status(status("reconnecting"), at)])
        watch.on_status(status("connected"), at + i + 1)
    assert rules[2] == ["reconnecting", "reconnect_storm"]  # 3 within 10 minutes
    assert "reconnect_storm" not in rules[3]  # still a storm: not re-alerted every time
    assert rules[4] == ["reconnecting"]  # the window has emptied out


def test_spread_out_reconnects_are_no_storm() -> None:
    watch = ConnectionWatch(AlertsConfig(reconnect_storm=3, reconnect_storm_minutes=10))
    found = [r.rule for at in (0, 6 * MIN, 12 * MIN, 18 * MIN)
             for r in watch.on_status(status("reconnecting"), at)]
    assert "reconnect_storm" not in found


def test_circuit_maintenance_and_stale_feed_alerts() -> None:
    watch = ConnectionWatch(AlertsConfig())
    got = [(r.rule, r.severity) for h in ("circuit_open", "circuit_closed", "maintenance")
           for r in watch.on_status(status(h), 0)]
    assert got == [("circuit_open", Severity.HIGH), ("circuit_closed", Severity.INFO),
                   ("maintenance", Severity.HIGH)]
    assert [r.rule for r in watch.stale("replay", 301)] == ["feed_stale"]
    assert watch.stale("replay", 400) == []  # one alert per outage
    watch.alive("replay")
    assert [r.rule for r in watch.stale("replay", 301)] == ["feed_stale"]


def test_performance_change_alerts_on_a_drop_within_the_window_and_resets() -> None:
    watch = PerformanceWatch(AlertsConfig(performance_change_pct=5.0,
                                          performance_window_minutes=60))
    assert watch.on_equity(0, Decimal(10_000)) == []
    assert watch.on_equity(30 * MIN, Decimal(9_600)) == []  # -4 %
    drop = watch.on_equity(50 * MIN, Decimal(9_490))  # -5.1 %
    assert [(r.rule, r.severity) for r in drop] == [("performance_change", Severity.HIGH)]
    assert "down 5.1%" in drop[0].title
    assert watch.on_equity(55 * MIN, Decimal(9_400)) == []  # baseline reset to 9,490


def test_slow_moves_outside_the_window_do_not_alert_and_gains_alert_as_info() -> None:
    watch = PerformanceWatch(AlertsConfig(performance_change_pct=5.0,
                                          performance_window_minutes=60))
    equity = Decimal(10_000)
    for hour in range(10):  # -3 % per hour: never 5 % within 60 minutes
        equity *= Decimal("0.97")
        assert watch.on_equity(hour * 60 * MIN, equity) == [], hour
    up = watch.on_equity(9 * 60 * MIN + 30 * MIN, equity * Decimal("1.06"))
    assert [(r.rule, r.severity) for r in up] == [("performance_change", Severity.INFO)]


def test_zero_threshold_switches_the_rule_off() -> None:
    watch = PerformanceWatch(AlertsConfig(performance_change_pct=0))
    assert watch.on_equity(0, Decimal(1)) == []
    assert watch.on_equity(1, Decimal(100)) == []
