"""The sync's progress: a rich bar on a terminal, a few plain lines elsewhere, per-file lines only with
--verbose, nothing with --quiet; the rate is a moving window, with injected time."""

from __future__ import annotations

import re

from batchdeploy.sync.progress import PLAIN_EVERY_S, Progress, Rate, eta_text, status_text
from batchdeploy.ui import Output
from tests.terminal_support import COLOUR, Clock, Stream


def test_the_rate_is_a_moving_window_not_an_average_since_the_start():
    clock = Clock()
    rate = Rate(clock, window=5)
    for _ in range(10):  # 10 s at 1 MB/s
        clock.now += 1
        rate.add(int((clock.now - 100) * 1_000_000))
    assert abs(rate.per_second() - 1_000_000) < 1
    total = 10_000_000
    for _ in range(10):  # then 10 s at 100 kB/s: an average since the start would still say 550 kB/s
        clock.now += 1
        total += 100_000
        rate.add(total)
    assert abs(rate.per_second() - 100_000) < 1
    clock.now += 20  # a stall: the rate falls to 0 (no sample in the window moved)
    assert rate.per_second() == 0


def test_eta_and_the_status_words():
    assert eta_text(0, 0) == "ETA 0:00" and eta_text(10, 0) == "ETA -"
    assert eta_text(62_000, 1000) == "ETA 1:02" and eta_text(3_600_000, 1000) == "ETA 1:00:00"
    assert status_text(1, 3000, 1000, 2000, 500) == "1/3,000 files  1.0 kB/2.0 kB  500 B/s  ETA 0:02"


def _tty_output(**kw):
    return Output(stdout=Stream(False), stderr=Stream(True), **kw)


def test_on_a_terminal_one_bar_with_files_bytes_rate_and_eta_and_no_per_file_lines():
    clock = Clock()
    out = _tty_output()
    p = Progress(out, 2, 2000, clock=clock)
    assert p.live_on and not p.plain_on
    clock.now += 1
    p.add_bytes(1000)
    p.copied("upload: a.txt")
    p.close()
    err = out.stderr.getvalue()
    assert "1/2 files" in err and "1.0 kB/2.0 kB" in err and "1.0 kB/s" in err and "ETA 0:01" in err
    assert "━" in err  # the bar
    assert "upload: a.txt" not in err


def test_verbose_adds_a_line_per_file_above_the_bar():
    out = _tty_output()
    p = Progress(out, 2, 2000, clock=Clock(), verbose=True)
    p.copied("upload: a.txt")
    p.close()
    assert "upload: a.txt" in out.stderr.getvalue()


def test_no_color_takes_the_colour_out_of_the_bar(monkeypatch):
    for value, coloured in (("", True), ("1", False)):
        monkeypatch.setenv("NO_COLOR", value)
        monkeypatch.setenv("TERM", "xterm-256color")
        out = _tty_output()
        from batchdeploy.ui import console

        con = console(out.stderr)
        con._force_terminal = True
        p = Progress(out, 1, 10, clock=Clock(), console=con)
        p.add_bytes(5)
        p.close()
        assert bool(COLOUR.search(out.stderr.getvalue())) is coloured


def test_elsewhere_a_plain_line_every_few_seconds_not_one_per_file():
    clock = Clock()
    out = Output(stdout=Stream(False), stderr=Stream(False))
    p = Progress(out, 1000, 1_000_000, clock=clock)
    assert p.plain_on and not p.live_on
    for _ in range(1000):  # 1000 files over 30 s
        clock.now += 0.03
        p.add_bytes(1000)
        p.copied("upload: x")
    p.close()
    lines = out.stderr.getvalue().splitlines()
    assert 2 <= len(lines) <= 30 // PLAIN_EVERY_S  # a line each PLAIN_EVERY_S, not 1000
    assert all(re.fullmatch(r"  \d[\d,]*/1,000 files  .*B/s  ETA \d+:\d\d", line) for line in lines), lines
    assert "\x1b" not in out.stderr.getvalue() and "\r" not in out.stderr.getvalue()


def test_quiet_and_json_show_nothing():
    clock = Clock()
    for out in (Output(quiet=True, stdout=Stream(False), stderr=Stream(True)),
                Output(fmt="json", stdout=Stream(False), stderr=Stream(False))):
        p = Progress(out, 2, 2000, clock=clock, verbose=False)
        clock.now += 60
        p.add_bytes(5)
        p.copied("upload: a.txt")
        p.close()
        assert out.stderr.getvalue() == "" and p.subscribers() == []
