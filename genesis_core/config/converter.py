"""A strict cattrs converter: no silent coercion ("10" is not an int, "no" is not a bool)."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import typing
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from genesis_core.config.secrets import Secret
from genesis_core.config.yaml_source import PathKey


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, Secret) else "a secret"


def _type_name(value: Any) -> str:
    return {type(None): "null", dict: "a mapping", list: "a list"}.get(type(value), _shown(value))


def _int(value: Any, _: type) -> int:
    if type(value) is not int:
        raise TypeError(f"expected int, got {_type_name(value)}")
    return value


def _float(value: Any, _: type) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {_type_name(value)}")
    return float(value)


def _str(value: Any, _: type) -> str:
    if isinstance(value, dt.date):  # YAML reads an unquoted 2024-01-01 as a date
        text = str(value)
        raise TypeError(f"expected text, got the YAML date {text}; quote it: '{text}'")
    if type(value) is not str:
        raise TypeError(f"expected text, got {_type_name(value)}")
    return value


def _bool(value: Any, _: type) -> bool:
    if type(value) is not bool:
        raise TypeError(f"expected true or false, got {_type_name(value)}")
    return value


def _decimal(value: Any, _: type) -> Decimal:
    # Floats are accepted because YAML has no decimal type; str() keeps what was written.
    if type(value) not in (int, float, str):
        raise TypeError(f"expected a decimal number, got {_type_name(value)}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise TypeError(f"expected a decimal number, got {value!r}") from None
    if not result.is_finite():
        raise TypeError(f"expected a finite decimal number, got {value!r}")
    return result


def _enum(value: Any, kind: type[enum.Enum]) -> enum.Enum:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise ValueError(f"expected one of {choices}, got {_type_name(value)}") from None


def _secret(value: Any, _: type) -> Secret:
    if isinstance(value, Secret):
        return value
    if type(value) is not str:
        raise TypeError(f"expected text (use ${{ENV_VAR}}), got {_type_name(value)}")
    return Secret(value)


def _shaped(hook: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    def structure(value: Any, tp: Any) -> Any:
        if not isinstance(value, kinds):
            raise TypeError(f"expected {what}, got {_type_name(value)}")
        return hook(value, tp)

    return structure


def make_converter(base_dir: Path) -> cattrs.Converter:
    """The converter for bot files; relative ``Path`` params resolve against ``base_dir``."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for kind, hook in ((int, _int), (float, _float), (str, _str), (bool, _bool),
                       (Decimal, _decimal), (Secret, _secret)):
        converter.register_structure_hook(kind, hook)
    # StrEnum must be named: it subclasses str, and the str hook would let any text through.
    for kind in (enum.Enum, enum.StrEnum, enum.IntEnum):
        converter.register_structure_hook(kind, _enum)

    def _path(value: Any, _: type) -> Path:
        return base_dir / Path(_str(value, str))

    converter.register_structure_hook(Path, _path)
    # Check the shape first: cattrs iterates any value, so `timeframes: 1h` became ['1', 'h']
    # and a mapping where a list belongs failed with "'str' object has no attribute 'keys'".
    converter.register_structure_hook_factory(
        lambda tp: tp is list or typing.get_origin(tp) is list,
        lambda tp, conv: _shaped(list_structure_factory(tp, conv), (list, tuple),
                                 "a list (items start with '- ')"))
    converter.register_structure_hook_factory(
        lambda tp: tp is dict or typing.get_origin(tp) is dict,
        lambda tp, conv: _shaped(mapping_structure_factory(tp, conv), dict, "a mapping"))
    converter.register_structure_hook_factory(
        attrs.has, lambda tp, conv: _shaped(make_dict_structure_fn(tp, conv), dict, "a mapping"))
    converter.register_unstructure_hook(Secret, lambda s: "***")
    converter.register_unstructure_hook(Decimal, str)
    converter.register_unstructure_hook(Path, str)
    return converter


_FIELD_IN_MESSAGE = re.compile(
    r"^'([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?' ((?:must|invalid) .*)$", re.S)


def flatten_errors(exc: BaseException, path: PathKey = ()) -> list[tuple[PathKey, str]]:
    """Turn a cattrs exception tree into ``(yaml path, message)`` pairs."""
    if isinstance(exc, ForbiddenExtraKeysError):
        return [((*path, key), "unknown key") for key in sorted(exc.extra_fields)]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[tuple[PathKey, str]] = []
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, AttributeValidationNote):
                    sub_path = (*path, note.name)
                elif isinstance(note, IterableValidationNote):
                    sub_path = (*path, note.index)
            found += flatten_errors(sub, sub_path)
        return found
    if isinstance(exc, KeyError):
        return [(path, "required key missing")]
    message = str(exc)
    # attrs validators name their field at the start of the message: attribute it properly.
    match = _FIELD_IN_MESSAGE.match(message)
    if match:
        name, index, rest = match.groups()
        path = (*path, name) if index is None else (*path, name, int(index))
        message = rest
    return [(path, message)]
