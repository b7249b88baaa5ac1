"""Secrets: values that must never reach a log, a repr or an error message."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from genesis_core.errors import ConfigError


class Secret:
    """A string that hides itself. Use :meth:`reveal` at the one place that needs the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_secrets_file(path: str | Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``#`` comments, optional quotes), the dotenv subset."""
    path = Path(path)
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read secrets file: {exc.strerror}"]) from None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            # Never echo the line: it may hold a secret.
            raise ConfigError([f"{path}:{number}: expected KEY=VALUE"])
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def lookup_env(name: str, secrets: Mapping[str, str]) -> str | None:
    """Environment first, then the secrets file."""
    value = os.environ.get(name)
    return value if value is not None else secrets.get(name)
