"""Read YAML while remembering the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import yaml

from genesis_core.errors import ConfigError


PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """``('strategies', 1, 'params', 'fast')`` → ``strategies[1].params.fast``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@attrs.frozen
class YamlDocument:
    """Parsed data plus a map from each key's path to its 1-based line."""

    data: Any
    lines: dict[PathKey, int]
    source: str

    def locate(self, path: PathKey) -> str:
        """``bot.yaml:14`` for the deepest known prefix of ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return f"{self.source}:{line}"
        return self.source


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError([f"{format_path((*path, key))}: duplicate key (first on line "
                                   f"{seen[key]}) ({source}:{line})"])
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, source)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; syntax errors become a one-line :class:`ConfigError`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([f"{where}: invalid YAML: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: invalid YAML: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{source}: invalid YAML: nested too deeply"]) from None
    lines: dict[PathKey, int] = {}
    if node is not None:
        try:
            _walk(node, (), lines, source)
        except RecursionError:  # `a: &x [*x]`: an alias inside itself
            raise ConfigError([f"{source}: invalid YAML: nested too deeply, or an alias "
                               "(*name) used inside its own anchor (&name)"]) from None
    return YamlDocument(data, lines, source)


def read_yaml(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse_yaml(text, str(path))
