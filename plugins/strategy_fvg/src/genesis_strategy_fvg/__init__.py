"""Fair value gap strategy for Genesis."""

from genesis_strategy_fvg.strategy import FvgParams, FvgStrategy


__all__ = ["FvgParams", "FvgStrategy"]
