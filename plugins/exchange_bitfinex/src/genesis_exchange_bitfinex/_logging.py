"""Log redaction: API keys, secrets and auth signatures never reach a log record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, MutableMapping
from typing import Any


_AUTH_FIELDS = re.compile(r'"(apiKey|authSig|authPayload|bfx-apikey|bfx-signature)"\s*:\s*"[^"]*"')


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    text = _AUTH_FIELDS.sub(lambda m: f'"{m.group(1)}":"***"', text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Formats each message, removes credentials, then logs the clean text.

    Given to ``websockets`` (which logs frames at DEBUG, including our ``auth`` message).
    """

    def __init__(self, logger: logging.Logger, secrets: Iterable[str] = ()) -> None:
        super().__init__(logger, {})
        self._secrets = tuple(s for s in secrets if s)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, redact(text, self._secrets), **kwargs)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs
