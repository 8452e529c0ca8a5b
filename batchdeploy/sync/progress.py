"""What a sync shows while it copies, fed by the transfers (and by s3transfer's subscriber).

On a terminal (and without --quiet): one rich progress bar on stderr, with files, bytes, the current
rate and the time left. The rate is a moving window (`Rate`, the last `WINDOW_S` seconds), not an
average since the start, so a stall shows at once and the ETA follows the present. Elsewhere (a pipe,
CI): one plain line each `PLAIN_EVERY_S` seconds, so a long sync says a few lines, not one per file.
Per-file lines (`upload: a.txt`) only with --verbose. `clock` is injected: tests never wait."""

from __future__ import annotations

import threading
import time
from collections import deque

from batchdeploy import ui
from batchdeploy.sync.report import human_bytes

WINDOW_S = 5.0
PLAIN_EVERY_S = 10.0
BAR_EVERY_S = 0.1  # the bar's numbers change at most this often (rich redraws it 10 times a second)


class Rate:
    """Bytes per second over the last `window` seconds (a moving window of samples)."""

    def __init__(self, clock, window: float = WINDOW_S):
        self.clock = clock
        self.window = window
        self.start = clock()
        self.samples: deque[tuple[float, int]] = deque([(self.start, 0)])

    def add(self, total: int) -> None:
        now = self.clock()
        self.samples.append((now, total))
        self._prune(now)

    def _prune(self, now: float) -> None:
        # Keep one sample at or before the window's start: the anchor the rate is measured from.
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()

    def per_second(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        self._prune(now)
        t0, b0 = self.samples[0]
        if now - t0 < 0.2:  # too short to say anything
            return 0.0
        return max(self.samples[-1][1] - b0, 0) / (now - t0)


def eta_text(left: int, rate: float) -> str:
    """`ETA 1:02` (h:mm:ss past an hour); `ETA -` while the rate says nothing."""
    if left <= 0:
        return "ETA 0:00"
    if rate <= 0:
        return "ETA -"
    s = int(left / rate + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


def status_text(files: int, total_files: int, nbytes: int, total_bytes: int, rate: float) -> str:
    """`12/3,000 files  1.2 MB/3.0 MB  4.5 MB/s  ETA 0:07`: the plain line, and the bar's words."""
    return (f"{files:,}/{total_files:,} files  {human_bytes(nbytes)}/{human_bytes(total_bytes)}  "
            f"{human_bytes(int(rate))}/s  {eta_text(total_bytes - nbytes, rate)}")


class Progress:
    """The sync's progress: a rich bar on a terminal, a plain line every PLAIN_EVERY_S elsewhere,
    nothing with --quiet. `verbose` adds one line per file. `console`/`live` are for tests."""

    def __init__(self, out, total_files: int, total_bytes: int, clock=time.monotonic, verbose: bool = False,
                 live: bool | None = None, console=None):
        self.out = out
        self.verbose = verbose
        shown = not out.quiet and not out.json and total_files > 0
        self.live_on = (out.live_ok() if live is None else live) and shown
        self.plain_on = shown and not self.live_on
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self.clock = clock
        self.rate = Rate(clock)
        self.last_plain = self.rate.start
        self.last_bar = float("-inf")
        self.lock = threading.Lock()
        self.bar = None
        self.task = None
        self._showing = None
        if self.live_on:
            self._start(console or ui.console(out.stderr))

    def _start(self, console) -> None:
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}", markup=False),
                       console=console, get_time=self.clock, transient=False, redirect_stdout=False,
                       redirect_stderr=False)
        self.task = self.bar.add_task("sync", total=max(self.total_bytes, 1), status=self._status())
        self.bar.start()
        self._showing = self.out.showing(self.bar.live)
        self._showing.__enter__()

    def _status(self) -> str:
        return status_text(self.files, self.total_files, self.bytes, self.total_bytes, self.rate.per_second())

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.bytes += n
            self.rate.add(self.bytes)
            self._draw()

    def file_done(self) -> None:
        with self.lock:
            self.files += 1
            self._draw()

    def copied(self, text: str) -> None:
        """One file copied (`upload: a.txt`): a line only with --verbose."""
        if self.verbose:
            self.out.note(text)
        self.file_done()

    def line(self, text: str) -> None:
        """A whole line (a note) above the bar."""
        self.out.note(text)

    def warn(self, text: str) -> None:
        """A warning above the bar."""
        self.out.warn(text)

    def _draw(self) -> None:
        if self.bar is not None:
            now = self.clock()
            if now - self.last_bar >= BAR_EVERY_S:  # rich's update costs ~0.7 ms: not once per file
                self.last_bar = now
                self.bar.update(self.task, completed=self.bytes, status=self._status())
        elif self.plain_on and self.clock() - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = self.clock()
            self.out.note(f"  {self._status()}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.bytes, status=self._status())
            self.bar.stop()
            self._showing.__exit__(None, None, None)
            self.bar = None

    def subscribers(self) -> list:
        """What a transfer manager's upload or download reports its bytes to (none when not shown)."""
        if not (self.live_on or self.plain_on):
            return []
        from batchdeploy.sync.subscribers import ProgressSubscriber

        return [ProgressSubscriber(self)]
