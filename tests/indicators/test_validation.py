"""Wrapper validation, out= buffers, and the cheap import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genesis_core.indicators as gi
from genesis_core.indicators import streaming as st


REPO = Path(__file__).resolve().parents[2]
X = np.linspace(100.0, 110.0, 50)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "14", None, True])
def test_bad_period_raises_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=r"^period must be an integer >= 1"):
        gi.sma(X, bad)
    with pytest.raises(ValueError, match=r"^period must be an integer"):
        st.RSIStream(bad)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"^fast must be < slow"):
        gi.macd(X, 26, 12)
    with pytest.raises(ValueError, match=r"^slowd_period must be an integer"):
        gi.stoch(X, X, X, 5, 3, 0)
    with pytest.raises(ValueError, match=r"^nbdev_up must be a finite number"):
        gi.bbands(X, 20, float("nan"))
    with pytest.raises(ValueError, match=r"^x must be 1-D"):
        gi.ema(X.reshape(5, 10), 3)
    with pytest.raises(ValueError, match=r"^x must be convertible to float64"):
        gi.ema(["a", "b"], 3)
    with pytest.raises(ValueError, match=r"^inputs must have equal lengths"):
        gi.atr(X, X[:-1], X)
    with pytest.raises(ValueError, match=r"^timestamp_ms must be a 1-D integer array"):
        gi.session_vwap(X, X, X, X, X)
    with pytest.raises(ValueError, match=r"^left \+ right must be >= 1"):
        gi.swings(X, X, 0, 0)


def test_period_longer_than_series_is_all_nan_not_an_error():
    assert np.isnan(gi.ema(X, 10**9)).all()
    assert np.isnan(gi.stoch(X, X, X, 5, 10**9, 3).slowk).all()


def test_out_buffers_are_filled_and_returned():
    out = np.full(X.size, -1.0)
    assert gi.sma(X, 5, out=out) is out
    np.testing.assert_array_equal(out, gi.sma(X, 5))
    bufs = tuple(np.empty(X.size) for _ in range(3))
    res = gi.macd(X, 3, 6, 2, out=bufs)
    assert all(a is b for a, b in zip(res, bufs, strict=True))


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (np.empty(49), "out must have length 50"),
        (np.empty(50, dtype=np.float32), "out must be a 1-D float64"),
        (np.empty(100)[::2], "out must be C-contiguous"),
        (X, "out must not overlap the input"),
    ],
)
def test_bad_out_buffer(out, match):
    with pytest.raises(ValueError, match=match):
        gi.ema(X, 5, out=out)


def test_non_contiguous_and_integer_inputs_are_converted():
    ints = np.arange(40)
    np.testing.assert_array_equal(gi.sma(ints, 4), gi.sma(ints.astype(float), 4))
    wide = np.repeat(X, 2)[::2]
    np.testing.assert_array_equal(gi.ema(wide, 4), gi.ema(X, 4))


def test_import_does_not_load_numba_kernels():
    code = (
        "import sys, genesis_core; had = 'numba' in sys.modules\n"
        "import genesis_core.indicators as gi\n"
        "assert 'genesis_core.indicators._kernels' not in sys.modules\n"
        "assert ('numba' in sys.modules) == had\n"
        "assert set(gi.__all__) <= set(dir(gi))\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
