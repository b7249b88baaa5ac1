"""Telegram HTML: escaping, alert rendering and splitting long messages at safe points.

Telegram accepts at most 4096 characters per message (counted after entity parsing, in UTF-16
code units). The splitter measures the *raw* HTML in UTF-16 units, which is never less than
the parsed length, so every part it returns is within the limit whatever Telegram counts. It
cuts only between tokens (a tag, an entity such as ``&amp;``, or one character), closes the
tags still open at the end of a part and reopens them at the start of the next one, so every
part is well-formed on its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from genesis_core import Alert, Severity, format_ts


MESSAGE_LIMIT = 4096

ICONS = {Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.HIGH: "🔶",
         Severity.CRITICAL: "🚨"}

_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);|.", re.S)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")


def escape(value: object) -> str:
    """Escape text for Telegram's HTML parse mode (``<``, ``>``, ``&`` and quotes)."""
    return html.escape(str(value), quote=True)


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def format_alert(alert: Alert) -> str:
    """Render an alert as Telegram HTML, escaping everything that came from data."""
    symbol = f" <code>{escape(alert.symbol)}</code>" if alert.symbol else ""
    lines = [f"{ICONS[alert.severity]} <b>{escape(alert.title)}</b>{symbol}"]
    if alert.message:
        lines.append(escape(alert.message))
    lines += [f"{escape(key)}: <code>{escape(value)}</code>"
              for key, value in sorted(alert.context.items())]
    lines.append(f"<i>{escape(alert.rule)} · {format_ts(alert.timestamp)}</i>")
    return "\n".join(lines)


def _tag(token: str) -> tuple[bool, str] | None:
    """``(closing, name)`` for a tag token, None for text and entities."""
    if not token.startswith("<"):
        return None
    match = _TAG.match(token)
    return (match.group(1) == "/", match.group(2).lower()) if match else None


def _apply(stack: tuple[tuple[str, str], ...], token: str) -> tuple[tuple[str, str], ...]:
    tag = _tag(token)
    if tag is None:
        return stack
    closing, name = tag
    if not closing:
        return (*stack, (name, token))
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth][0] == name:
            return stack[:depth]
    return stack


def _closers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Telegram HTML into well-formed parts of at most ``limit`` UTF-16 units.

    Prefers to cut after a newline, then after a space, when that keeps a part at least half
    full; otherwise cuts between two tokens, never inside a tag or an entity and never right
    after an opening tag (which would leave an empty element). If the open tags alone cannot
    fit in a part, the rest is sent without markup.
    """
    if units(text) <= limit:
        return [text]
    tokens = _TOKEN.findall(text)
    parts: list[str] = []
    stack: tuple[tuple[str, str], ...] = ()
    i = 0
    while i < len(tokens):
        prefix = "".join(opening for _, opening in stack)
        size = units(prefix)
        state = stack
        # cuts[k]: (stack after k tokens of this part, size so far); k = 0 is the start.
        cuts: list[tuple[tuple[tuple[str, str], ...], int]] = [(state, size)]
        j = i
        while j < len(tokens):
            token = tokens[j]
            after = _apply(state, token)
            if size + units(token) + units(_closers(after)) > limit:
                break
            size += units(token)
            state = after
            j += 1
            cuts.append((state, size))
        if j == len(tokens):
            parts.append(prefix + "".join(tokens[i:j]) + _closers(state))
            break
        k = _choose_cut(tokens, i, cuts, limit)
        if k == 0:
            # Markup alone too long for a part (absurdly small limit): keep the text, drop the
            # markup of the rest; plain escaped text can always be split.
            rest = escape(plain_text(prefix + "".join(tokens[i:])))
            parts.extend(split_html(rest, limit))
            break
        cut_stack = cuts[k][0]
        parts.append(prefix + "".join(tokens[i:i + k]) + _closers(cut_stack))
        i += k
        stack = cut_stack
    return parts


def _choose_cut(tokens: list[str], start: int,
                cuts: list[tuple[tuple[tuple[str, str], ...], int]], limit: int) -> int:
    """How many tokens of this part to keep (at least one when possible)."""
    last = len(cuts) - 1
    for separator in ("\n", " "):
        for k in range(last, 0, -1):
            if cuts[k][1] < limit // 2:
                break
            if tokens[start + k - 1] == separator:
                return k
    for k in range(last, 0, -1):
        tag = _tag(tokens[start + k - 1])
        if tag is None or tag[0]:  # not right after an opening tag
            return k
    return last


def join_blocks(blocks: Iterable[str]) -> str:
    return "\n\n".join(blocks)


def plain_text(text: str) -> str:
    """Telegram HTML reduced to plain text (the fallback when Telegram rejects the markup)."""
    return html.unescape(re.sub(r"<[^<>]*>", "", text))
