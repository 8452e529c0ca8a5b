"""User jq programs run in a child process under limits (issue #14): a program that never ends, grows
without end or floods its output is stopped within the limit, as one line with no secret in it, and
Ctrl-C stops it too."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from batchdeploy import userprog
from batchdeploy.errors import ConfigError
from batchdeploy.jobs import credentials_filter as credentials

CANARY = "CANARY-userprog-secret-7a6b5c4d"
DOC = {"Credentials": {"AccessKeyId": "ASIAKEY", "SecretAccessKey": CANARY, "SessionToken": "tok"}}
FAST = userprog.Limits(seconds=1.5)


def run_filter(program: str, limits: userprog.Limits = FAST):
    compiled = userprog.compile_program(program, "credentials-filter", limits, time_key="FILTER_TIMEOUT_S")
    return credentials.reshape(compiled, DOC, "credentials-filter")


@pytest.mark.parametrize(
    "program, words",
    [
        ("def f: f; f", "ran longer than 1.5 s"),
        ("repeat(1)", "ran longer than 1.5 s|its output passed"),
        ("last(range(1e12))", "ran longer than 1.5 s"),
        ("[.Credentials.SecretAccessKey] | repeat(.)", "its output passed|ran longer"),
    ],
)
def test_a_program_that_never_ends_is_stopped_within_the_limit(program, words):
    started = time.monotonic()
    with pytest.raises(ConfigError) as e:
        run_filter(program)
    took = time.monotonic() - started
    assert took < FAST.seconds * 2 + 3, took  # two children (compile, run); a slow shared machine
    line = e.value.line()
    assert "\n" not in line and CANARY not in line and e.value.exit_code == 2
    assert any(w in line for w in words.split("|")), line
    assert line.startswith("credentials-filter was stopped: ")


def test_the_time_limit_names_the_key_that_raises_it():
    with pytest.raises(ConfigError) as e:
        run_filter("last(range(1e12))", userprog.Limits(seconds=0.5))
    assert e.value.line().endswith("; FILTER_TIMEOUT_S raises the limit")


def test_output_beyond_the_limit_is_stopped():
    with pytest.raises(ConfigError, match="its output passed 4 KiB"):
        run_filter('repeat("x" * 100)', userprog.Limits(seconds=20, output_bytes=4096))


def test_memory_beyond_the_limit_is_stopped():
    limits = userprog.Limits(seconds=30, memory_bytes=160 << 20)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="used more than 160 MiB of memory"):
        run_filter("def f: [f, f]; f", limits)
    assert time.monotonic() - started < 25


def test_a_normal_filter_gives_its_environment_and_jq_errors_stay_value_errors():
    env = run_filter(credentials.DEFAULT_FILTER)
    assert [e["name"] for e in env] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
    with pytest.raises(userprog.ProgramError):
        userprog.compile_program("{", "f")
    with pytest.raises(userprog.ProgramError) as e:
        userprog.run(userprog.compile_program("error(.)", "f"), {"a": 1})
    assert e.value.stage == "run"


def test_the_document_never_reaches_a_command_line_or_the_environment(monkeypatch):
    seen = []
    real = subprocess.Popen

    def spy(args, **kwargs):
        seen.append((args, kwargs.get("env")))
        return real(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    run_filter(credentials.DEFAULT_FILTER)
    assert seen and all(CANARY not in " ".join(args) and CANARY not in str(env) for args, env in seen)
    assert all(env == {"LC_ALL": "C.UTF-8"} for _, env in seen)  # jq's $ENV sees none of ours


def test_ctrl_c_stops_a_running_program_and_its_child():
    compiled = userprog.compile_program("last(range(1e12))", "f", userprog.Limits(seconds=60))
    before = set(_children())
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        userprog.run(compiled, DOC)
    assert time.monotonic() - started < 10
    assert set(_children()) - before == set()  # the child was killed and reaped


def _children() -> list[int]:
    path = f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    try:
        with open(path) as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def test_an_output_nested_without_bound_is_a_program_error_not_a_crash():
    with pytest.raises(ConfigError) as e:
        run_filter("reduce range(100000) as $i (1; [.])")
    line = e.value.line()
    assert "nested too deeply" in line or "was stopped" in line, line
    assert CANARY not in line and "\n" not in line


def test_a_child_ended_by_ctrl_c_at_a_terminal_is_an_interruption_not_a_crash():
    """Ctrl-C at a terminal signals the whole process group: the child may die of it first."""
    compiled = userprog.compile_program("last(range(1e12))", "f", userprog.Limits(seconds=60))
    pid = compiled._child.proc.pid
    timer = threading.Timer(0.5, lambda: os.kill(pid, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        userprog.run(compiled, DOC)
