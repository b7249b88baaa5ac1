"""Exceptions raised by Genesis.

User mistakes (a bad config, an unknown plugin, malformed candles) raise a subclass of
:class:`GenesisError` whose ``str()`` is one line naming what went wrong and where. The CLI prints
that line and exits with status 2; anything else is a bug or a runtime failure (status 1).
"""

from __future__ import annotations


class GenesisError(Exception):
    """Base class for errors Genesis reports to the user as one line."""


class ConfigError(GenesisError):
    """A bot configuration is invalid.

    ``errors`` holds every problem found, each already formatted as
    ``path: message (file:line)``; ``str()`` is the first one plus a count of the rest.
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}" if errors else "invalid configuration")


class PluginError(GenesisError):
    """A plugin could not be loaded or registered something invalid."""


class DataError(GenesisError):
    """Market data is malformed: unsorted, duplicated, NaN or inconsistent bars."""


class OrderError(GenesisError):
    """An order request or an order state transition is invalid."""


class NotAvailableError(GenesisError):
    """A command exists but its implementation has not landed yet."""
