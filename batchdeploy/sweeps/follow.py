"""`--wait` on a sweep: progress while it runs, the failed tasks' table at its end, and exit code 3.

On a terminal the progress is one live line drawn by rich: tasks per state, elapsed, rate and ETA,
and the failed tasks are a rich table; elsewhere (a pipe, CI) the progress is one plain line each time
the counts change, and the table plain aligned text. A failed task's exit code is the API's (none when
its container never ran).
"""

from __future__ import annotations

from batchdeploy import errors, ui
from batchdeploy.doctor import hook as doctor_hook
from batchdeploy.errors import TasksFailed
from batchdeploy.jobs.waitview import elapsed as elapsed_text
from batchdeploy.secrets import redact
from batchdeploy.sweeps.watch import Failure, SweepWatcher, Tracked


def progress_text(counts: dict[str, int], total: int, seconds: float) -> str:
    """`6 tasks: 2 RUNNING, 3 SUCCEEDED, 1 FAILED; 4/6 done, +1m02s, 0.06/s, ETA 31s`."""
    ended = counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0)
    states = ", ".join(f"{n} {s}" for s, n in counts.items())
    text = f"{total} task{'s' if total != 1 else ''}: {states}; {ended}/{total} done, {elapsed_text(seconds)}"
    if ended and seconds > 0:
        rate = ended / seconds
        text += f", {rate:.2f}/s"
        if ended < total:
            text += f", ETA {elapsed_text((total - ended) / rate).lstrip('+')}"
    return text


STATE_STYLES = ui.STATE_STYLES


def progress_renderable(label: str, counts: dict[str, int], total: int, seconds: float):
    """The live line: a bar of the tasks ended, then the label, each state's count in its colour, done,
    elapsed, rate, ETA (the same words as progress_text, redacted like every line batchdeploy prints)."""
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    ended = counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0)
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=max(total, 1), completed=ended, width=30),
                 progress_words(label, counts, total, seconds))
    return grid


def progress_words(label: str, counts: dict[str, int], total: int, seconds: float):
    from rich.text import Text

    line = Text(redact(label) + ": ", style="bold")
    line.append(f"{total} task{'s' if total != 1 else ''}: ")
    for n, (state, count) in enumerate(counts.items()):
        if n:
            line.append(", ")
        line.append(f"{count} {state}", style=STATE_STYLES.get(state, ""))
    tail = progress_text(counts, total, seconds).split("; ", 1)[1]
    line.append("; " + redact(tail))
    return line


class Display:
    """A live line on a terminal, redrawn in place by rich's Live (counts per state, elapsed, rate, ETA);
    plain lines elsewhere (a pipe, CI, --quiet), one per change. `console` is for tests (rich's
    Console(record=True)); by default rich writes to the output's stderr."""

    def __init__(self, out, label: str, live: bool | None = None, console=None):
        self.out, self.label = out, label
        self.live_on = out.is_terminal() and not out.quiet if live is None else live
        self.console = console
        self.live = None
        self._showing = None

    def __enter__(self):
        if self.live_on:
            from rich.live import Live

            console = self.console or ui.console(self.out.stderr)  # NO_COLOR decided there
            self.live = Live("", console=console, auto_refresh=False, transient=False)
            self.live.__enter__()
            self._showing = self.out.showing(self.live)  # warnings (the doctor's) go above the line
            self._showing.__enter__()
        return self

    def update(self, counts: dict[str, int], total: int, seconds: float) -> None:
        if self.live is not None:
            self.live.update(progress_renderable(self.label, counts, total, seconds), refresh=True)
        else:
            self.out.note(f"[{elapsed_text(seconds)}] {self.label}: {progress_text(counts, total, seconds)}")

    def __exit__(self, *exc):
        if self.live is not None:
            self._showing.__exit__(*exc)
            self.live.__exit__(*exc)


def failure_rows(failures: dict[int, Failure]) -> list[dict]:
    rows = []
    for task_id, f in sorted(failures.items()):
        rows.append({"task": task_id, "exit_code": f.exit_code, "reason": f.reason or "", "job_id": f.job_id,
                     "logs": f"./deploy.sh --logs {f.job_id}"})
    return rows


def table(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """Rows as aligned text: `columns` are (key, heading); None shows as -."""
    cells = [[("-" if r.get(k) is None else str(r.get(k))) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip() for c in cells]
    return lines


FAILED_COLUMNS = [("task", "TASK"), ("exit_code", "EXIT"), ("reason", "REASON"), ("logs", "LOGS")]


def rich_table(rows: list[dict], columns: list[tuple[str, str]], title: str | None = None):
    """The same rows as `table`, as a rich Table for a terminal (values redacted; None shows as -)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for key, heading in columns:
        t.add_column(heading, style="red" if key == "exit_code" else "", overflow="fold")
    for r in rows:
        t.add_row(*(("-" if r.get(k) is None else redact(str(r.get(k)))) for k, _ in columns))
    return t


def print_failed(out, rows: list[dict], console=None) -> None:
    """The failed tasks: a rich table when stdout is a terminal, else the plain aligned lines."""
    if console is None and not _is_tty(out.stdout):
        for line in table(rows, FAILED_COLUMNS):
            out.result(line)
        return
    (console or ui.console(out.stdout)).print(rich_table(rows, FAILED_COLUMNS, title=f"{len(rows)} failed"))


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wait(ctx, *, run_id: str, label: str, tracked: list[Tracked], json_extra=None) -> int:
    """Follow every job of the sweep to its end; 0 when every task succeeded, TasksFailed (3) else."""
    out = ctx.out
    watcher = SweepWatcher(ctx.aws.client("batch"), tracked, sleep=ctx.sleep, clock=ctx.clock,
                           runnable_warn_s=float(ctx.cfg.get("RUNNABLE_WARN_S", "600")),
                           on_stuck=doctor_hook.on_stuck(ctx))
    try:
        with Display(out, label) as display:
            failures = watcher.run(lambda counts, t: display.update(counts, watcher.total, t))
    except KeyboardInterrupt:
        out.warn(f"interrupted: the sweep keeps running; ./deploy.sh --status {run_id} shows its tasks")
        return errors.INTERRUPTED
    rows = failure_rows(failures)
    counts = watcher.counts()
    if out.json:
        out.emit_json({**(json_extra or {}), "run_id": run_id, "counts": counts, "failed": rows})
    elif rows:
        print_failed(out, rows)
    if rows:
        raise TasksFailed(f"{len(rows)} of {watcher.total} tasks of run {run_id} failed",
                          hint=f"fix, then rerun only those: ./deploy.sh -r --rerun-failed {run_id}")
    out.note(f"run {run_id}: all {watcher.total} tasks SUCCEEDED")
    return errors.OK
