"""Test kit for plugin authors (also used by Genesis' own tests).

* ``check_strategy`` (determinism, no look-ahead, bar-by-bar live parity) and its parts;
* ``check_risk_policy``: the risk-policy contract on a list of cases;
* ``bundled_candles()``: real candles shipped with genesis-core;
* ``run_paper(yaml_body)``: a paper bot on those candles through the real runner;
* ``RecordingNotifier`` / ``RecordingPlugin``: a notifier sink.

With genesis-core installed, pytest also gets the fixtures ``genesis_candles`` and
``genesis_paper`` (see ``genesis_core.testing.pytest_plugin``).
"""

from genesis_core.testing.checks import (
    check_determinism,
    check_live_parity,
    check_no_lookahead,
    check_strategy,
)
from genesis_core.testing.kit import (
    BUNDLED_CSV,
    RecordingNotifier,
    RecordingPlugin,
    bundled_candles,
    paper_config,
    run_paper,
)
from genesis_core.testing.risk_checks import check_risk_policy


__all__ = [
    "BUNDLED_CSV",
    "RecordingNotifier",
    "RecordingPlugin",
    "bundled_candles",
    "check_determinism",
    "check_live_parity",
    "check_no_lookahead",
    "check_risk_policy",
    "check_strategy",
    "paper_config",
    "run_paper",
]
