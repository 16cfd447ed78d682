"""Download progress on a terminal, silence everywhere else.

`rich` is imported only when stderr is a terminal: piped output and CI logs stay free of progress
bars, and a non-interactive run does not pay for the import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just received; must be cheap and thread-safe."""


def _ignore(_: int) -> None:
    return None


class PullProgress:
    """Hands out one callback per blob; a no-op unless it wraps a live `rich` display."""

    def __init__(self, display: Any = None) -> None:
        self._display = display
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._display is not None

    def blob(self, name: str, total: int) -> ProgressCallback:
        if self._display is None:
            return _ignore
        display = self._display
        with self._lock:
            task = display.add_task(name, total=total)

        def advance(count: int) -> None:
            display.advance(task, count)

        return advance


@contextmanager
def pull_progress(stream: TextIO | None = None, enabled: bool | None = None) -> Iterator[PullProgress]:
    """Progress bars on `stream` (default stderr) when it is a terminal, unless `enabled` says."""
    stream = stream if stream is not None else sys.stderr
    if enabled is None:
        isatty = getattr(stream, "isatty", None)
        enabled = bool(isatty and isatty())
    if not enabled:
        yield PullProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    display = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), console=Console(file=stream), transient=True)
    with display:
        yield PullProgress(display)
