"""What `-r --wait` shows: time per state, the live view (spinner, states, an array's bar) on a terminal,
plain lines elsewhere; with injected time."""

from __future__ import annotations

import re

from batchdeploy.jobs.waitview import StateTimes, WaitView, clock_text
from batchdeploy.jobs.watch import Change
from batchdeploy.secrets import register_secret
from batchdeploy.ui import Output
from tests.terminal_support import COLOUR, ESCAPE, Clock, Stream


def test_clock_text():
    assert [clock_text(s) for s in (0, 7.9, 62, 3605)] == ["0:00", "0:07", "1:02", "1:00:05"]


def test_time_per_state_counts_the_current_state_until_the_job_ends():
    t = StateTimes()
    t.enter("SUBMITTED", 0)
    t.enter("RUNNABLE", 1)
    t.enter("RUNNABLE", 5)  # the same state again (an array's progress) changes nothing
    t.enter("RUNNING", 13)
    assert t.text(20) == "SUBMITTED 0:01, RUNNABLE 0:12, RUNNING 0:07"
    t.enter("SUCCEEDED", 44)
    assert t.text(100) == "SUBMITTED 0:01, RUNNABLE 0:12, RUNNING 0:31"


def _job(status, size=0, summary=None):
    job = {"jobId": "j-1", "status": status}
    if size:
        job["arrayProperties"] = {"size": size, "statusSummary": summary or {}}
    return job


def _changes(view, steps):
    before = None
    for at, status, *rest in steps:
        job = _job(status, *rest)
        view.change(Change("j-1", before, status, job, at))
        before = status


def test_plain_lines_off_a_terminal_say_each_state_and_the_times_at_the_end():
    out = Output(stdout=Stream(False), stderr=Stream(False))
    with WaitView(out, "exp1", Clock(50.0)) as view:
        _changes(view, [(0, "SUBMITTED"), (1, "RUNNABLE"), (13, "RUNNING"), (44, "SUCCEEDED")])
        view.line({"message": "epoch 1 loss 0.5\n"})
    err = out.stderr.getvalue()
    assert err.splitlines() == ["[+0s] exp1: SUBMITTED", "[+1s] exp1: RUNNABLE", "[+13s] exp1: RUNNING",
                                "[+44s] exp1: SUCCEEDED; SUBMITTED 0:01, RUNNABLE 0:12, RUNNING 0:31"]
    assert out.stdout.getvalue() == "epoch 1 loss 0.5\n"
    assert "\x1b" not in err


def _live(monkeypatch, no_color: str):
    monkeypatch.setenv("NO_COLOR", no_color)
    from batchdeploy.ui import console

    out = Output(stdout=Stream(True), stderr=Stream(True))
    con = console(out.stderr)
    con._force_terminal = True
    return out, con


def test_on_a_terminal_a_live_view_with_a_spinner_the_times_and_the_log_above(monkeypatch):
    out, con = _live(monkeypatch, "")
    clock = Clock(50.0)
    with WaitView(out, "exp1", clock, console=con) as view:
        assert view.live_on
        _changes(view, [(0, "SUBMITTED"), (1, "RUNNABLE"), (13, "RUNNING")])
        clock.now += 20  # the running state keeps counting between changes
        view.live.refresh()
        screen = out.stderr.getvalue()
        assert "RUNNING" in screen and "RUNNABLE 0:12" in screen and "RUNNING 0:07" in screen
        assert re.search("[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]", screen)  # rich's "dots" spinner
        view.line({"message": "epoch 1 loss 0.5"})
        _changes(view, [(44, "SUCCEEDED")])
    screen = out.stderr.getvalue()
    assert "epoch 1 loss 0.5" in screen and "✓" in screen and "RUNNING 0:31" in screen
    assert COLOUR.search(screen)


def test_no_color_keeps_the_view_and_drops_the_colour(monkeypatch):
    out, con = _live(monkeypatch, "1")
    with WaitView(out, "exp1", Clock(50.0), console=con) as view:
        _changes(view, [(0, "RUNNING"), (3, "FAILED")])
    screen = out.stderr.getvalue()
    assert "FAILED" in screen and "✗" in screen and not COLOUR.search(screen)


def test_an_array_shows_counts_per_state_and_a_bar(monkeypatch):
    out, con = _live(monkeypatch, "")
    with WaitView(out, "fan", Clock(50.0), console=con) as view:
        _changes(view, [(0, "PENDING", 3, {"RUNNING": 1, "SUCCEEDED": 2})])
        view.live.refresh()
        screen = out.stderr.getvalue()
    assert "3 tasks: 1 RUNNING, 2 SUCCEEDED; 2/3 done" in ESCAPE.sub("", screen) and "━" in screen


def test_a_secret_in_a_log_line_or_the_label_is_redacted_in_the_live_view(monkeypatch):
    register_secret("CANARY-live-view-7f3a")
    out, con = _live(monkeypatch, "")
    with WaitView(out, "exp-CANARY-live-view-7f3a", Clock(50.0), console=con) as view:
        _changes(view, [(0, "RUNNING")])
        view.line({"message": "password=CANARY-live-view-7f3a"})
        view.live.refresh()
    assert "CANARY-live-view-7f3a" not in out.stderr.getvalue() + out.stdout.getvalue()


def test_quiet_and_json_draw_no_live_view():
    for out in (Output(quiet=True, stdout=Stream(True), stderr=Stream(True)),
                Output(fmt="json", stdout=Stream(True), stderr=Stream(True))):
        with WaitView(out, "exp1", Clock(50.0)) as view:
            assert not view.live_on
            _changes(view, [(0, "RUNNING"), (3, "SUCCEEDED")])
        assert "\x1b" not in out.stderr.getvalue()
