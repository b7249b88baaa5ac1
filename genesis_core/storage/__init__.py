"""Persistent state of a bot: one SQLite file (WAL) with versioned schema and an audit log."""

from genesis_core.storage.migrations import SCHEMA_VERSION, StorageError
from genesis_core.storage.store import AuditEntry, Confirmation, FlagValue, Store, Transition


__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "Confirmation",
    "FlagValue",
    "StorageError",
    "Store",
    "Transition",
]
