"""The live and paper runtime."""

from genesis_core.runtime.report import Summary
from genesis_core.runtime.runner import Bot


__all__ = ["Bot", "Summary"]
