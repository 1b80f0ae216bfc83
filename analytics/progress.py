"""A text progress bar on stderr for long commands."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Callable progress(fraction, message) drawing one updating line on stderr."""

    def __init__(self, label: str, width: int = 30, stream=sys.stderr):
        self.label = label
        self.width = width
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.monotonic() - self.started
        line = f"\r{self.label} [{bar}] {fraction:4.0%} {elapsed:5.1f}s {message[:40]:<40}"
        self.stream.write(line)
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()
