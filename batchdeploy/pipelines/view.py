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
            self.live.update(ui.text("\n".join(lines)), refresh=True)  # redacted like every line
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
