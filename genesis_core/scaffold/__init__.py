"""``genesis new plugin``: a separately installable plugin distribution that passes its tests."""

from genesis_core.scaffold.writer import KINDS, scaffold


__all__ = ["KINDS", "scaffold"]
