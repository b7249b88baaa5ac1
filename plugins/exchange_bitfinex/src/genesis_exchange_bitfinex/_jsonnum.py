"""JSON helpers that keep money exact.

Bitfinex sends prices and amounts as JSON numbers.  We decode them into ``Decimal`` and, when we
produce JSON (simulator frames, checksums), we render a ``Decimal`` the way JavaScript's
``String(number)`` would, because Bitfinex computes book checksums from exactly that text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def loads(text: str | bytes) -> Any:
    """Decode JSON with floats as ``Decimal`` (integers stay ``int``)."""
    return _decode(text, parse_float=Decimal)


def loads_raw_numbers(text: str | bytes) -> Any:
    """Decode JSON keeping every number as its exact wire text (for book checksums)."""
    return _decode(text, parse_float=str, parse_int=str)


def _decode(text: str | bytes, **hooks: Any) -> Any:
    try:
        return json.loads(text, **hooks)
    except RecursionError:
        # Absurdly nested input is just bad JSON: callers catch ValueError, and an escaping
        # RecursionError would end the WebSocket loop for good.
        raise ValueError("JSON nested too deeply") from None


def js_number(value: Decimal | int) -> str:
    """Render a number as ECMAScript ``Number.prototype.toString`` does (shortest digits).

    ``Decimal`` inputs are normalised first, which yields the shortest digit string for every
    value with <= 15 significant digits (all prices/amounts Bitfinex uses).
    """
    if isinstance(value, bool):
        raise TypeError("bool is not a number here")
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValueError(f"non-finite number {value!r}")
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # position of the decimal point relative to the digit string
    prefix = "-" if sign else ""
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return prefix + body


def plain_decimal(value: Decimal | int | str) -> str:
    """Decimal string without exponent for request bodies (``"0.001"``, ``"30000"``)."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"non-finite number {value!r}")
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def dumps(obj: Any) -> str:
    """Compact JSON (no spaces, like the Bitfinex servers) with ``Decimal`` as numbers."""
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, Decimal | int):
        out.append(js_number(obj))
    elif isinstance(obj, float):
        out.append(js_number(Decimal(repr(obj))))
    elif isinstance(obj, str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, item) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")
