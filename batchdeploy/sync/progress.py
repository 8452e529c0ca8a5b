"""One self-rewriting progress line on stderr, fed by the transfers (and by s3transfer's subscriber)."""

from __future__ import annotations

import threading
import time

from batchdeploy.sync.report import human_bytes


class Progress:
    """One self-rewriting line on stderr (files, bytes, rate), only on a terminal and without --quiet."""

    def __init__(self, out, total_files: int, total_bytes: int, clock=time.monotonic):
        self.out = out
        self.enabled = out.is_terminal() and not out.quiet and total_files > 0
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self.clock = clock
        self.start = clock()
        self.last = 0.0
        self.lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.bytes += n
            self._draw()

    def file_done(self) -> None:
        with self.lock:
            self.files += 1
            self._draw()

    def line(self, text: str) -> None:
        """A whole line (one transfer, a warning) above the progress line."""
        with self.lock:
            if self.enabled:
                self.out.stderr.write("\r\033[K")
            self.out.note(text)
            self.last = 0.0
            self._draw()

    def warn(self, text: str) -> None:
        """A warning above the progress line."""
        with self.lock:
            if self.enabled:
                self.out.stderr.write("\r\033[K")
            self.out.warn(text)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        rate = self.bytes / max(now - self.start, 1e-6)
        self.out.stderr.write(
            f"\r\033[K  {self.files:,}/{self.total_files:,} files  "
            f"{human_bytes(self.bytes)}/{human_bytes(self.total_bytes)}  {human_bytes(int(rate))}/s"
        )
        self.out.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.stderr.write("\r\033[K")
            self.out.stderr.flush()

    def subscribers(self) -> list:
        """What a transfer manager's upload or download reports its bytes to (none when not shown)."""
        if not self.enabled:
            return []
        from batchdeploy.sync.subscribers import ProgressSubscriber

        return [ProgressSubscriber(self)]
