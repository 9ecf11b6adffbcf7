"""Progress on stderr for long runs: a bar on a terminal, plain lines otherwise (one at each
tenth of the way, so logs stay short). Thread-safe: workers call :meth:`Progress.advance`."""

from __future__ import annotations

import threading
import time
from typing import IO

WIDTH = 30


class Progress:
    def __init__(self, stream: IO[str], total: int, label: str, tty: bool | None = None,
                 enabled: bool = True) -> None:
        self.stream, self.total, self.label = stream, max(total, 0), label
        self.tty = _isatty(stream) if tty is None else tty
        self.enabled = enabled and total > 0
        self.done = 0
        self._shown_tenths = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
            if self.enabled:
                self._draw()

    def _draw(self) -> None:
        if self.tty:
            filled = WIDTH * self.done // self.total
            bar = "#" * filled + "." * (WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()
            return
        tenths = 10 * self.done // self.total
        if tenths > self._shown_tenths:
            self._shown_tenths = tenths
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            if self.enabled and self.tty:
                elapsed = time.monotonic() - self._start
                self.stream.write(f"\r{self.label}: {self.done}/{self.total} "
                                  f"({elapsed:.1f}s){' ' * WIDTH}\n")
                self.stream.flush()
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
