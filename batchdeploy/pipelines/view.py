"""What `--wait` shows while it follows a pipeline: on a terminal, the graph redrawn in place by rich's
Live (each step, its state, what it waits for); elsewhere (a pipe, CI, --quiet), one plain line per
step whose state changed. `log` shows a step's log line (--logs, pipelines.logs). A failed step's "will not run" line is in the live view and, at the end,
on stderr in either case. `console` is for tests (rich's Console(record=True))."""

from __future__ import annotations

from batchdeploy import ui
from batchdeploy.pipelines import graph


class GraphView:
    def __init__(self, out, title: str, live: bool | None = None, console=None):
        self.out, self.title = out, title
        self.live_on = out.is_terminal() and not out.quiet and not out.json if live is None else live
        self.console = console
        self.live = None
        self.blocked: dict[str, list[str]] = {}
        self._showing = None

    def __enter__(self):
        if self.live_on:
            from rich.live import Live

            self.live = Live("", console=self.console or ui.console(self.out.stderr), auto_refresh=False,
                             transient=False)
            self.live.__enter__()
            self._showing = self.out.showing(self.live)  # every Output line goes above the graph
            self._showing.__enter__()
        return self

    def show(self, steps: list[graph.StepState], current: dict[str, str], changed: dict[str, str]) -> None:
        for name, state in changed.items():
            if state == "FAILED" and name not in self.blocked:
                self.blocked[name] = graph.blocked_by(steps, name)
        if self.live is not None:
            lines = [self.title, *graph.draw(steps, current)]
            lines += [f"  {n} failed: {', '.join(b)} will not run" for n, b in self.blocked.items() if b]
            self.live.update(progress(lines, current), refresh=True)
            return
        for name, state in changed.items():
            self.out.info(f"step {name}: {state}")

    def log(self, line: str) -> None:
        """A step's log line (--logs): above the live graph on a terminal, else one plain line on stdout."""
        if self.live is not None:
            self.live.console.print(ui.text(line), soft_wrap=True)  # redacted and named as run, like Output
        elif self.out.json:
            self.out.note(line)
        else:
            self.out.result(line)

    def __exit__(self, *exc):
        if self.live is not None:
            self._showing.__exit__(*exc)
            self.live.__exit__(*exc)
        for name, blocked in self.blocked.items():
            if blocked:
                self.out.warn(f"step {name} failed: {', '.join(blocked)} will not run")


def progress(lines: list[str], current: dict[str, str]):
    """The graph's lines (redacted like every line), then a bar of the steps ended and the steps per state."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    counts: dict[str, int] = {}
    for state in current.values():
        counts[state] = counts.get(state, 0) + 1
    ended = sum(n for state, n in counts.items() if state in graph.ENDED)
    words = ui.text(f"{len(current)} steps: ")
    for n, (state, count) in enumerate(sorted(counts.items())):
        words.append_text(ui.text(", " if n else ""))
        words.append_text(ui.text(f"{count} {state}", ui.STATE_STYLES.get(state, "")))
    words.append_text(ui.text(f"; {ended}/{len(current)} ended"))
    bar = Table.grid(padding=(0, 1))
    bar.add_row(ProgressBar(total=max(len(current), 1), completed=ended, width=30), words)
    return Group(ui.text("\n".join(lines)), bar)
