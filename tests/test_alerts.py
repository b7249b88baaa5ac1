"""Alert rules: cooldown, bursts, escalation, disabled rules."""

from __future__ import annotations

from genesis_core import Alert
from genesis_core.alerts import AlertRouter
from genesis_core.config.schema import AlertsConfig


S = 1000


def alert(rule: str, ts: int, severity: str = "info", title: str = "t") -> Alert:
    return Alert(rule, severity, title, "", ts, "BTCUSD")


def test_cooldown_suppresses_identical_repeats_only() -> None:
    router = AlertRouter(AlertsConfig(cooldown_seconds={"fill": 60}))
    assert 1 == len(router.route(alert("fill", 0)))
    assert [] == router.route(alert("fill", 30 * S))
    assert 1 == len(router.route(alert("fill", 31 * S, title="other")))
    assert 1 == len(router.route(alert("fill", 61 * S)))
    assert 1 == router.suppressed


def test_bursts_are_summarised_when_the_window_closes() -> None:
    router = AlertRouter(AlertsConfig(burst_limit=2, burst_seconds=60))
    delivered = [a for i in range(10) for a in router.route(alert("rejected", i * S,
                                                                  title=f"order {i}"))]
    assert ["order 0", "order 1"] == [a.title for a in delivered]
    [summary] = router.flush(70 * S)
    assert "8 more rejected alerts" == summary.title
    assert summary.message.startswith("order 2; order 3")
    assert "8" == summary.context["aggregated"]
    assert [] == router.flush(200 * S)


def test_repeated_criticals_escalate() -> None:
    router = AlertRouter(AlertsConfig(escalate_after=3))
    titles = [router.route(alert("feed_stale", i * 60 * S, "critical", "feed stale"))[0].title
              for i in range(4)]
    assert ["feed stale", "feed stale", "ESCALATED (3 in 1h): feed stale",
            "ESCALATED (4 in 1h): feed stale"] == titles
    later = router.route(alert("feed_stale", 5 * 3_600_000, "critical", "feed stale"))
    assert "feed stale" == later[0].title


def test_disabled_rules_never_alert() -> None:
    router = AlertRouter(AlertsConfig(disabled=["trade_closed"]))
    assert [] == router.route(alert("trade_closed", 0))
