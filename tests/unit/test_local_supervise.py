"""batchdeploy.local.supervise: pid files, stopping by recorded pid, waiting with a deadline, the lock
and ports. /proc, kill, clock and sleep are injected: nothing here starts a process or sleeps."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from batchdeploy.errors import OperationError
from batchdeploy.local import supervise
from batchdeploy.local.supervise import (
    NotAnswering,
    PartExited,
    Pids,
    lock,
    pick_port,
    proc_starttime,
    stop,
    wait_answering,
)


class FakeTime:
    """A clock that only the fake sleep moves."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


def stat_line(pid, state="S", start="4242", comm="moto server"):
    # pid (comm) state ppid pgrp ... with starttime the 22nd field
    rest = [state] + ["0"] * 18 + [start, "0", "0"]
    return f"{pid} ({comm}) " + " ".join(rest) + "\n"


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()

    def put(pid, **kwargs):
        (root / str(pid)).mkdir(exist_ok=True)
        (root / str(pid) / "stat").write_text(stat_line(pid, **kwargs))

    put.root = root
    return put


def test_proc_starttime_reads_field_22_even_when_the_name_has_a_parenthesis(proc):
    proc(10, comm="odd) name (x", start="777")
    assert proc_starttime(10, proc.root) == "777"


def test_a_zombie_or_a_missing_process_has_no_start_time(proc):
    proc(11, state="Z")
    assert proc_starttime(11, proc.root) is None
    assert proc_starttime(12, proc.root) is None


def test_a_recorded_pid_is_live_only_while_the_same_process_has_it(tmp_path, proc):
    pids = Pids(tmp_path, proc.root)
    proc(20, start="100")
    pids.record("moto", 20)
    assert pids.file("moto").read_text() == "20 100\n"
    assert pids.live("moto") == 20
    proc(20, start="101")  # the pid went to a stranger
    assert pids.live("moto") is None
    pids.file("moto").write_text("not a pid\n")
    assert pids.live("moto") is None
    pids.forget("moto")
    assert pids.live("moto") is None and not pids.file("moto").exists()


def test_recording_a_process_that_already_exited_records_gone(tmp_path, proc):
    pids = Pids(tmp_path, proc.root)
    pids.record("registry", 30)
    assert pids.file("registry").read_text() == "30 gone\n"
    assert pids.live("registry") is None


def test_stop_sends_term_and_waits_for_the_process_to_go(tmp_path, proc):
    pids, t, sent = Pids(tmp_path, proc.root), FakeTime(), []
    proc(40)
    pids.record("moto", 40)

    def sleep(seconds):  # the process exits during the third wait
        t.sleep(seconds)
        if len(t.slept) == 3:
            (proc.root / "40" / "stat").unlink()

    stop(pids, "moto", kill=lambda pid, sig: sent.append((pid, sig)), sleep=sleep, clock=t.clock)
    assert sent == [(40, signal.SIGTERM)]
    assert len(t.slept) == 3
    assert not pids.file("moto").exists()


def test_stop_kills_a_process_that_ignores_term_after_the_grace_period(tmp_path, proc):
    pids, t, sent = Pids(tmp_path, proc.root), FakeTime(), []
    proc(41)
    pids.record("podman", 41)
    stop(pids, "podman", kill=lambda pid, sig: sent.append(sig), sleep=t.sleep, clock=t.clock)
    assert sent == [signal.SIGTERM, signal.SIGKILL]
    assert sum(t.slept) == pytest.approx(supervise.STOP_GRACE)
    assert not pids.file("podman").exists()


def test_stop_never_signals_a_stranger_that_got_the_recorded_pid(tmp_path, proc):
    pids, t = Pids(tmp_path, proc.root), FakeTime()
    proc(42, start="5")
    pids.file("moto").write_text("42 1\n")

    def kill(pid, sig):
        raise AssertionError("signalled a process that is not ours")

    stop(pids, "moto", kill=kill, sleep=t.sleep, clock=t.clock)
    assert t.slept == [] and not pids.file("moto").exists()


def test_wait_answering_returns_at_once_when_every_part_answers():
    t = FakeTime()
    wait_answering(["registry", "moto"], lambda p: True, lambda p: True, 60, t.sleep, t.clock)
    assert t.slept == []


def test_wait_answering_looks_again_every_tenth_of_a_second_until_all_answer():
    t = FakeTime()
    ready_at = {"registry": 1000.0, "moto": 1000.55}
    wait_answering(["registry", "moto"], lambda p: t.now >= ready_at[p], lambda p: True, 60, t.sleep, t.clock)
    assert t.slept == [pytest.approx(supervise.POLL)] * 6


def test_a_part_that_exits_fails_at_once_and_is_named():
    t = FakeTime()
    with pytest.raises(PartExited) as info:
        wait_answering(["registry", "moto"], lambda p: p == "registry", lambda p: False, 60, t.sleep, t.clock)
    assert info.value.part == "moto" and info.value.message == "moto exited before it answered"
    assert t.slept == []


def test_a_part_that_does_not_answer_in_time_is_named_with_the_deadline():
    t = FakeTime()
    with pytest.raises(NotAnswering) as info:
        wait_answering(["registry", "podman", "moto"], lambda p: p == "registry", lambda p: True, 5, t.sleep, t.clock)
    assert info.value.message == "podman did not answer within 5s"
    assert sum(t.slept) == pytest.approx(5)


def test_a_zero_timeout_looks_once():
    t = FakeTime()
    with pytest.raises(NotAnswering, match=r"^moto did not answer within 0s$"):
        wait_answering(["moto"], lambda p: False, lambda p: True, 0, t.sleep, t.clock)
    assert t.slept == []


def test_the_lock_waits_up_to_its_timeout_then_says_who_holds_it(tmp_path):
    path = tmp_path / "lock"
    held = lock(path, 0, "held")
    try:
        t = FakeTime()
        with pytest.raises(OperationError, match=r"^another command holds it \(waited 2s\)$"):
            lock(path, 2, "another command holds it", sleep=t.sleep, clock=t.clock)
        assert sum(t.slept) == pytest.approx(2)
    finally:
        os.close(held)
    again = lock(path, 0, "free now")
    os.close(again)


def test_the_lock_is_not_inherited_by_what_the_stack_starts(tmp_path):
    fd = lock(tmp_path / "lock", 0, "held")
    try:
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)


def test_pick_port_keeps_a_recorded_port_that_is_still_free_and_replaces_a_taken_one():
    free = pick_port()
    assert pick_port(str(free)) == free
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = pick_port(str(taken))
    assert other != taken and 0 < other < 65536
    assert pick_port("") > 0 and pick_port("garbage") > 0


def test_trace_prints_steps_only_in_debug(monkeypatch, capsys):
    monkeypatch.delenv("BATCHDEPLOY_DEBUG", raising=False)
    supervise.trace("init_state", "/a b")
    monkeypatch.setenv("BATCHDEPLOY_DEBUG", "1")
    supervise.trace("init_state", "/a b")
    assert capsys.readouterr().err == "+ init_state '/a b'\n"
