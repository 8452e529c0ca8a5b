"""A sweep's display through rich, as a terminal shows it (rich's Console with record=True and
force_terminal) and as a pipe gets it (plain lines, unchanged): the live line's counts per state,
elapsed, rate and ETA; the failed-tasks table; secrets redacted in both."""

from __future__ import annotations

import io

from rich.console import Console

from batchdeploy.secrets import MASK, redact, register_secret
from batchdeploy.sweeps import follow
from batchdeploy.ui import Output


def terminal(width: int = 160) -> Console:
    return Console(record=True, force_terminal=True, width=width, file=io.StringIO(), color_system="standard")


def test_the_live_line_on_a_terminal_has_counts_per_state_elapsed_rate_and_eta():
    console = terminal()
    out = Output(stderr=io.StringIO(), stdout=io.StringIO())
    with follow.Display(out, "exp", live=True, console=console) as display:
        display.update({"RUNNING": 2, "SUCCEEDED": 3, "FAILED": 1}, 6, 40)
        display.update({"SUCCEEDED": 5, "FAILED": 1}, 6, 60)
    text = console.export_text()
    assert "exp: 6 tasks: 5 SUCCEEDED, 1 FAILED; 6/6 done, +1m00s, 0.10/s" in text
    raw = console.file.getvalue()
    assert "\x1b[" in raw  # drawn in place, in colour: a terminal's escape codes
    assert "2 RUNNING" in raw and "ETA 20s" in raw  # the first frame, redrawn by the second
    assert out.stderr.getvalue() == ""  # nothing went around rich


def test_the_live_line_has_a_bar_of_the_tasks_ended():
    console = terminal()
    console.print(follow.progress_renderable("exp", {"SUCCEEDED": 3, "FAILED": 1, "RUNNING": 4}, 8, 5))
    shown = console.export_text(clear=False)
    assert "━" in shown and "exp: 8 tasks: 3 SUCCEEDED, 1 FAILED, 4 RUNNING; 4/8 done" in shown


def test_each_state_has_its_colour():
    console = terminal()
    console.print(follow.progress_renderable("exp", {"SUCCEEDED": 1, "FAILED": 1}, 2, 5))
    assert "1 SUCCEEDED" in console.export_text(clear=False)
    html = console.export_html(inline_styles=True)
    assert "color: #008000" in html and "color: #800000" in html  # green, red


def test_not_a_terminal_gets_one_plain_line_per_change():
    err = io.StringIO()
    out = Output(stderr=err, stdout=io.StringIO())
    with follow.Display(out, "exp") as display:  # a StringIO is not a terminal
        display.update({"SUCCEEDED": 2}, 2, 10)
    assert err.getvalue() == "[+10s] exp: 2 tasks: 2 SUCCEEDED; 2/2 done, +10s, 0.20/s\n"


def test_quiet_on_a_terminal_draws_nothing_live():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Output(quiet=True, stderr=Tty(), stdout=io.StringIO())
    with follow.Display(out, "exp") as display:
        display.update({"SUCCEEDED": 1}, 1, 1)
    assert out.stderr.getvalue() == ""


ROWS = [{"task": 1, "exit_code": 137, "reason": "OutOfMemoryError", "job_id": "p:0", "logs": "./deploy.sh --logs p:0"},
        {"task": 2, "exit_code": None, "reason": "token=s3cr3t-sweep-display-9f2", "job_id": "p:1",
         "logs": "./deploy.sh --logs p:1"}]


def test_the_failed_table_on_a_terminal_is_a_rich_table_with_secrets_masked():
    register_secret("s3cr3t-sweep-display-9f2")
    console = terminal()
    follow.print_failed(Output(stdout=io.StringIO(), stderr=io.StringIO()), ROWS, console=console)
    lines = [line.rstrip() for line in console.export_text().splitlines() if line.strip()]
    assert lines[0] == "2 failed"
    assert lines[1].split() == ["TASK", "EXIT", "REASON", "LOGS"]
    assert lines[2].split()[:3] == ["1", "137", "OutOfMemoryError"] and lines[2].endswith("./deploy.sh --logs p:0")
    assert lines[3].split()[:2] == ["2", "-"]
    assert "s3cr3t-sweep-display-9f2" not in console.export_text() and "token=" + MASK in lines[3]


def test_the_failed_table_elsewhere_stays_plain_text(monkeypatch):
    monkeypatch.setenv("BATCHDEPLOY_FRONT_DOOR", "deploy.sh")  # as run through deploy.sh: its hints kept
    stdout = io.StringIO()
    follow.print_failed(Output(stdout=stdout, stderr=io.StringIO()), ROWS)
    lines = stdout.getvalue().splitlines()
    assert lines == [redact(line) for line in follow.table(ROWS, follow.FAILED_COLUMNS)]
    assert "\x1b[" not in stdout.getvalue()
