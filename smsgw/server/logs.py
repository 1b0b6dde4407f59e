"""Where the processes' logs go: stderr, from the chosen level up."""

from __future__ import annotations

import sys


def log_to_stderr(level: str) -> None:
    """Start Twisted's logging to stderr at ``level`` (debug, info, warn, error, critical)."""
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [predicate])], redirectStandardIO=False
    )
