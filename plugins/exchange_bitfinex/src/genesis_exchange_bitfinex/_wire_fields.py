"""Field converters shared by the positional-array parsers (``_wire``, ``_wire_market``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from .errors import WireFormatError


def _dec(record: str, field: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise WireFormatError(record, field, value, "expected a number")
    if isinstance(value, Decimal | int | float | str):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise WireFormatError(record, field, value, "expected a number") from None
        if result.is_finite():
            return result
    raise WireFormatError(record, field, value, "expected a number")


def _int(record: str, field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise WireFormatError(record, field, value, "expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    raise WireFormatError(record, field, value, "expected an integer")


def _str(record: str, field: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise WireFormatError(record, field, value, "expected a string")


def _obj(record: str, field: str, value: Any) -> Any:
    if isinstance(value, dict | list | str):
        return value
    raise WireFormatError(record, field, value, "expected an object")


def _any(record: str, field: str, value: Any) -> Any:
    return value


_KINDS: dict[str, Callable[[str, str, Any], Any]] = {
    "dec": _dec,
    "int": _int,
    "str": _str,
    "obj": _obj,
    "any": _any,
}

# (index, attribute, kind, required)
Spec = tuple[tuple[int, str, str, bool], ...]
T = TypeVar("T")


def _parse(cls: type[T], record: str, arr: Any, spec: Spec, *, strict: bool = True) -> T:
    if not isinstance(arr, list | tuple):
        raise WireFormatError(record, "<array>", arr, "expected a JSON array")
    values: dict[str, Any] = {}
    for index, name, kind, required in spec:
        raw = arr[index] if index < len(arr) else None
        if raw is None:
            if required and strict:
                raise WireFormatError(record, name, raw, f"missing (index {index})")
            values[name] = None
            continue
        values[name] = _KINDS[kind](record, name, raw)
    return cls(**values)


def _to_wire(obj: Any, spec: Spec, length: int) -> list[Any]:
    out: list[Any] = [None] * length
    for index, name, _kind, _required in spec:
        out[index] = getattr(obj, name)
    return out


def parse_many(parser: Callable[[Any], T], rows: Any, record: str) -> list[T]:
    """Apply ``parser`` to every row of a JSON array of arrays."""
    if not isinstance(rows, list):
        raise WireFormatError(record, "<rows>", rows, "expected a JSON array of arrays")
    return [parser(row) for row in rows]


def symbol_parts(symbol: str) -> tuple[str, str]:
    """Split ``tBTCUSD`` / ``tTESTBTC:TESTUSD`` into (base, quote)."""
    pair = symbol[1:] if symbol[:1] in ("t", "f") else symbol
    if ":" in pair:
        base, quote = pair.split(":", 1)
        return base, quote
    if len(pair) != 6:
        raise WireFormatError("SYMBOL", "symbol", symbol, "cannot split into base/quote")
    return pair[:3], pair[3:]


def is_sequence_of_arrays(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)
