"""Candle history: a SQLite cache with coverage (venue gaps vs never fetched), a resumable
downloader that works through any data source supporting history, and CSV import/export."""

from genesis_core.history.cache import (
    DEFAULT_PATH,
    CandleCache,
    Gaps,
    Grid,
    HistoryError,
    Span,
    write_csv,
)
from genesis_core.history.download import (
    DEFAULT_CHUNK_BARS,
    SETTLE_MS,
    DownloadResult,
    Progress,
    download,
    plan_chunks,
    print_progress,
)


__all__ = [
    "DEFAULT_CHUNK_BARS",
    "DEFAULT_PATH",
    "SETTLE_MS",
    "CandleCache",
    "DownloadResult",
    "Gaps",
    "Grid",
    "HistoryError",
    "Progress",
    "Span",
    "download",
    "plan_chunks",
    "print_progress",
    "write_csv",
]
