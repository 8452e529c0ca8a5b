"""What `-r --wait` and `--logs --follow` show while one job runs.

On a terminal (and without --quiet or --output json): a live view on stderr drawn by rich, redrawn four
times a second: a spinner, the job's state and the time spent in each state so far (`RUNNABLE 0:12,
RUNNING 0:31`, the current one still counting), and for an array job its children as counts per state
with a bar, the way a sweep's `--wait` shows its tasks. The job's log lines scroll above the view as
they arrive. Elsewhere (a pipe, CI): one plain line per change of state (`[+43s] exp1: SUCCEEDED;
SUBMITTED 0:01, RUNNABLE 0:12, RUNNING 0:31`), the log lines as plain lines. Times come from the
watcher's injected clock (`Change.at`) and, for the state still counting, from `clock`.
"""

from __future__ import annotations

import threading

from batchdeploy import ui
from batchdeploy.aws.batch import TERMINAL, array_summary
from batchdeploy.jobs.job import children_text


def elapsed(seconds: float) -> str:
    """`+7s`, `+1m02s`: the bracket of a plain line (as a sweep's --wait writes it)."""
    m, s = divmod(int(seconds), 60)
    return f"+{m}m{s:02d}s" if m else f"+{s}s"


def clock_text(seconds: float) -> str:
    """`0:07`, `1:02`, `1:00:05`: minutes and seconds (hours past an hour)."""
    s = max(int(seconds), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StateTimes:
    """The time one job spent in each state, from the changes the watcher saw (in order of first sight)."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.state: str | None = None
        self.since = 0.0

    def enter(self, state: str, at: float) -> None:
        if state == self.state:
            return
        if self.state is not None:
            self.spent[self.state] = self.spent.get(self.state, 0.0) + max(at - self.since, 0.0)
        self.state, self.since = state, at
        self.spent.setdefault(state, 0.0)

    def items(self, now: float) -> list[tuple[str, float]]:
        """(state, seconds) so far; the current state counts up to `now` unless the job has ended."""
        running = self.state is not None and self.state not in TERMINAL
        return [(s, t + (max(now - self.since, 0.0) if running and s == self.state else 0.0))
                for s, t in self.spent.items() if not (s in TERMINAL and s == self.state)]

    def text(self, now: float) -> str:
        return ", ".join(f"{s} {clock_text(t)}" for s, t in self.items(now))


class WaitView:
    """The live view of one job (see the module's docstring); `live`/`console` are for tests."""

    def __init__(self, out, label: str, clock, live: bool | None = None, console=None):
        self.out, self.label, self.clock = out, label, clock
        self.live_on = out.live_ok() if live is None else live
        self.console = console
        self.start = clock()
        self.times = StateTimes()
        self.children: dict[str, int] = {}
        self.size = 0
        self.live = None
        self._showing = None
        self.lock = threading.Lock()  # rich redraws from its own thread while the watcher's changes arrive

    def __enter__(self):
        if self.live_on:
            from rich.live import Live

            self.live = Live(self, console=self.console or ui.console(self.out.stderr), refresh_per_second=4,
                             transient=False, redirect_stdout=False, redirect_stderr=False)
            self.live.__enter__()
            self._showing = self.out.showing(self.live)
            self._showing.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.refresh()
            self._showing.__exit__(*exc)
            self.live.__exit__(*exc)
            self.live = None

    def now(self) -> float:
        return self.clock() - self.start

    def change(self, change) -> None:
        """A change of state (or of an array's children) seen by the watcher."""
        with self.lock:
            self.times.enter(change.after, change.at)
            self.children = array_summary(change.job)
            self.size = int((change.job.get("arrayProperties") or {}).get("size") or 0)
        if self.live is not None:
            self.live.refresh()
            return
        if change.progress_only:
            self.out.note(f"[{elapsed(change.at)}] {self.label}: {change.after} ({children_text(self.children)})")
            return
        line = f"[{elapsed(change.at)}] {self.label}: {change.after}"
        spent = self.times.text(change.at)
        if change.after in TERMINAL and spent:
            line += f"; {spent}"
        self.out.note(line)

    def line(self, event: dict) -> None:
        """One log line: a result on stdout (on stderr with --output json), above the live view."""
        text = event.get("message", "").rstrip("\n")
        (self.out.note if self.out.json else self.out.result)(text)

    def __rich__(self):
        with self.lock:
            return self._render()

    def _render(self):
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table

        state = self.times.state or "SUBMITTED"
        ended = state in TERMINAL
        head = ui.text(f"{self.label}: ", "bold")
        head.append_text(ui.text(state, ui.STATE_STYLES.get(state, "")))
        spent = self.times.text(self.now())
        if spent:
            head.append_text(ui.text(f"  {spent}", "dim"))
        grid = Table.grid(padding=(0, 1))
        grid.add_row(ui.text("✓" if state == "SUCCEEDED" else "✗", ui.STATE_STYLES[state]) if ended
                     else Spinner("dots", style="cyan"), head)
        if not self.size:
            return grid
        return Group(grid, ui.counts_line(self.children, self.size))
