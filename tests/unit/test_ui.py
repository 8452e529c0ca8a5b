"""What batchdeploy prints: one line per message, whatever a file name or an AWS message holds."""

from __future__ import annotations

import io

import pytest

from batchdeploy.ui import Output, one_line


@pytest.mark.parametrize(
    "text, shown",
    [
        ("a\nb", "a\\nb"),
        ("tab\there", "tab\\there"),
        ("esc\x1b[2J", "esc\\x1b[2J"),
        ("u\u2028v\x85w", "u\\u2028v\\x85w"),
        ("plain é 😀 s3://b/k", "plain é 😀 s3://b/k"),
    ],
)
def test_one_line_escapes_what_would_split_a_message_or_drive_the_terminal(text, shown):
    assert one_line(text) == shown


def test_warnings_errors_and_notes_are_one_line_each():
    err = io.StringIO()
    out = Output(stderr=err, stdout=io.StringIO())
    out.warn("experiments/a\nb.txt: cannot read it")
    out.error("x\ry")
    out.note("upload a\nb")
    assert err.getvalue().splitlines() == [
        "warning: experiments/a\\nb.txt: cannot read it", "error: x\\ry", "upload a\\nb"]


def test_hints_name_the_program_the_user_ran():
    """Issue #20 item 12: hints said ./deploy.sh --logs ... even to a user of the installed `batchdeploy`."""
    from batchdeploy.cli import VERBS
    from batchdeploy.ui import as_run, name_verbs

    name_verbs({flag: name for name, verb in VERBS.items() for flag in verb.flags})
    text = "re-attach: ./deploy.sh --logs j1 --follow; rerun: ./deploy.sh -r --rerun-failed R; see ./deploy.sh -h"
    assert as_run(text, environ={"BATCHDEPLOY_FRONT_DOOR": "deploy.sh"}) == text
    assert as_run(text, environ={}) == ("re-attach: batchdeploy logs j1 --follow; rerun: batchdeploy run --rerun-failed R; "
                                        "see batchdeploy -h")
    assert as_run("./deploy.sh --status-x and ./deploy.sh", environ={}) == "batchdeploy --status-x and batchdeploy"


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_no_color_follows_no_color_org():
    from batchdeploy.ui import console, no_color

    assert no_color({"NO_COLOR": "1"}) and no_color({"NO_COLOR": "0"})
    assert not no_color({"NO_COLOR": ""}) and not no_color({})
    assert console(io.StringIO(), {"NO_COLOR": "1"}).no_color
    assert not console(io.StringIO(), {}).no_color


def test_lines_printed_while_a_live_view_is_drawn_go_above_it_redacted():
    from rich.live import Live

    from batchdeploy.secrets import register_secret
    from batchdeploy.ui import console, text

    register_secret("CANARY-ui-live-91b2")
    err = _Tty()
    out = Output(stdout=_Tty(), stderr=err)
    con = console(err, {})
    live = Live(text("the view"), console=con, auto_refresh=False)
    with live, out.showing(live):
        out.result("log line with CANARY-ui-live-91b2")
        out.warn("careful: ./deploy.sh --status")
    assert out.live is None  # showing ends with the view
    screen = err.getvalue()
    assert "CANARY-ui-live-91b2" not in screen and "log line with" in screen and "warning: careful" in screen
    assert out.stdout.getvalue() == ""  # on the terminal, above the view, not through it
    assert "CANARY-ui-live-91b2" not in text("x CANARY-ui-live-91b2").plain


def test_live_views_only_on_a_terminal_without_quiet_or_json():
    assert Output(stdout=_Tty(), stderr=_Tty()).live_ok()
    assert not Output(stdout=_Tty(), stderr=io.StringIO()).live_ok()
    assert not Output(quiet=True, stdout=_Tty(), stderr=_Tty()).live_ok()
    assert not Output(fmt="json", stdout=_Tty(), stderr=_Tty()).live_ok()
