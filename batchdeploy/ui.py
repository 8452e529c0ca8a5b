"""Everything batchdeploy prints goes through here, and every line through `secrets.redact` first, and
through `as_run`, which names the program the way the user ran it.

Live views (rich) are made here too, so one place decides how they look: `console(stream)` is the rich
Console every view draws with (colour off when NO_COLOR is set and not empty, https://no-color.org), and
`text(line)` is the only way a line becomes rich Text (redacted and named as run, like every other line).
While a live view is on screen, `Output.showing(live)` sends every line Output prints to the terminal
above the view instead of through it; views are only drawn on a terminal and without --quiet
(`Output.live_ok`), elsewhere the same views print plain lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys

from batchdeploy.secrets import redact

# What would break a message over several lines, or drive the terminal: C0 and C1 controls, DEL, and
# the characters str.splitlines() and Unicode take for line ends.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every control character escaped (\\n, \\t, \\x1b, \\u2028): a file name
    with a newline in it cannot split a message."""

    def escape(m):
        return m.group(0).encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(escape, text)


# Hints are written as `./deploy.sh FLAG ...`; run as `batchdeploy` (or `python -m batchdeploy`), they
# say `batchdeploy VERB ...`. deploy.sh exports FRONT_DOOR so the Python core knows it was the door.
FRONT_DOOR = "BATCHDEPLOY_FRONT_DOOR"
_DEPLOY = re.compile(r"\./deploy\.sh(?: (-[A-Za-z]|--[a-z][a-z0-9-]*)(?![\w-]))?")


_VERB_OF_FLAG: dict[str, str] = {}  # deploy.sh's flag -> batchdeploy's verb; the command layer fills it


def name_verbs(verb_of_flag: dict[str, str]) -> None:
    _VERB_OF_FLAG.update(verb_of_flag)


def as_run(text: str, environ=None) -> str:
    """`text` with each `./deploy.sh FLAG` named as the user ran batchdeploy: unchanged through
    deploy.sh, else `batchdeploy VERB` (the verb of that flag; other flags kept as they are)."""
    if (os.environ if environ is None else environ).get(FRONT_DOOR) == "deploy.sh" or "./deploy.sh" not in text:
        return text
    verbs = _VERB_OF_FLAG
    return _DEPLOY.sub(lambda m: "batchdeploy" + (f" {verbs.get(m.group(1), m.group(1))}" if m.group(1) else ""), text)


def no_color(environ=None) -> bool:
    """NO_COLOR (https://no-color.org): set and not empty turns colour off."""
    return bool((os.environ if environ is None else environ).get("NO_COLOR"))


def console(stream, environ=None):
    """The rich Console a live view draws on `stream` with; the one place colour is decided."""
    from rich.console import Console

    return Console(file=stream, no_color=no_color(environ), highlight=False, emoji=False, markup=False)


# The colour of each job state, in every view (a colour is dropped with NO_COLOR; the words stay).
STATE_STYLES = {"SUCCEEDED": "green", "FAILED": "bold red", "RUNNING": "cyan", "STARTING": "cyan",
                "RUNNABLE": "yellow", "PENDING": "yellow", "SUBMITTED": "dim"}


def counts_line(counts: dict[str, int], total: int, what: str = "task"):
    """`[bar] 3 tasks: 1 RUNNING, 2 SUCCEEDED; 2/3 done`: counts per state in colour, with a bar of the
    ended ones (the view of an array job's children)."""
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    ended = counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0)
    line = text(f"{total} {what}{'s' if total != 1 else ''}: ")
    for n, (state, count) in enumerate(sorted(counts.items())):
        line.append_text(text(", " if n else ""))
        line.append_text(text(f"{count} {state}", STATE_STYLES.get(state, "")))
    line.append_text(text(f"; {ended}/{total} done"))
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=max(total, 1), completed=ended, width=30), line)
    return grid


def safe(text: str) -> str:
    """`text` as every printed line is: secrets redacted, the program named as the user ran it."""
    return as_run(redact(text))


def text(line: str, style: str = ""):
    """`line` as rich Text, redacted and named as run: what a live view may show of any string."""
    from rich.text import Text

    return Text(safe(line), style=style)


class Output:
    """stdout for results, stderr for progress, warnings and errors; `quiet` keeps stdout to results."""

    def __init__(self, quiet: bool = False, fmt: str = "text", stdout=None, stderr=None):
        self.quiet = quiet
        self.fmt = fmt
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.live = None  # the rich Live on screen, if any: lines go above it

    def live_ok(self) -> bool:
        """Whether a live view may be drawn: stderr is a terminal, and neither --quiet nor --output json."""
        return self.is_terminal() and not self.quiet and not self.json

    @contextlib.contextmanager
    def showing(self, live):
        """While `live` is drawn, the lines printed through this Output go above it (on a terminal)."""
        before, self.live = self.live, live
        try:
            yield live
        finally:
            self.live = before

    def _print(self, stream, line: str) -> None:
        if self.live is not None and _tty(stream):
            from rich.text import Text

            self.live.console.print(Text(line), soft_wrap=True)  # already redacted by the caller
        else:
            print(line, file=stream, flush=True)

    @property
    def json(self) -> bool:
        return self.fmt == "json"

    def is_terminal(self) -> bool:
        return _tty(self.stderr)

    def result(self, text: str = "") -> None:
        """A result line: always printed (it is what the user asked for)."""
        self._print(self.stdout, as_run(redact(text)))

    def info(self, text: str = "") -> None:
        """Progress for a person: stdout, silenced by --quiet and by --output json."""
        if not self.quiet and not self.json:
            self._print(self.stdout, as_run(redact(text)))

    def note(self, text: str) -> None:
        """Progress on stderr (keeps stdout clean for piping), silenced by --quiet; one line."""
        if not self.quiet:
            self._print(self.stderr, one_line(as_run(redact(text))))

    def warn(self, text: str) -> None:
        self._print(self.stderr, one_line(as_run(redact(f"warning: {text}"))))

    def error(self, text: str) -> None:
        self._print(self.stderr, one_line(as_run(redact(f"error: {text}"))))

    def emit_json(self, obj) -> None:
        print(as_run(redact(json.dumps(obj, indent=2, sort_keys=True, default=str))), file=self.stdout, flush=True)


def _tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
