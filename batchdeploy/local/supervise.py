"""Processes the stack starts and stops: pid files, free ports, the state lock and deadlines.

A pid file holds "PID STARTTIME": the start time (in clock ticks since boot, from /proc) tells our process
apart from an unrelated one that got the same pid after ours died. Every wait takes `clock` and `sleep`,
so tests never sleep for real.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from batchdeploy.errors import OperationError
from batchdeploy.polling import Backoff, wait_until

LOOPBACK = "127.0.0.1"
POLL = 0.1  # seconds between looks while waiting for a part
STOP_GRACE = 10.0  # seconds a part gets to exit after SIGTERM, before SIGKILL

# Answers from our own loopback servers only: never through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def trace(*words) -> None:
    """BATCHDEPLOY_DEBUG=1: one `+ step args` line on stderr per step and per command run."""
    if os.environ.get("BATCHDEPLOY_DEBUG") == "1":
        print("+ " + shlex.join(str(w) for w in words), file=sys.stderr, flush=True)


def proc_starttime(pid: int, proc: Path = Path("/proc")) -> str | None:
    """The process's start time, or None when it is gone. A zombie has exited (this machine's init may
    never reap it), so it counts as gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(") ", 1)[-1].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


class Pids:
    """The pid files in a run folder, one per part: `<run>/<part>.pid`."""

    def __init__(self, run: Path, proc: Path = Path("/proc")):
        self.run = Path(run)
        self.proc = proc

    def file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def live(self, name: str) -> int | None:
        """The pid recorded for `name` when that very process still runs, else None."""
        try:
            pid, start = self.file(name).read_text().split()[:2]
        except (OSError, ValueError):
            return None
        if not pid.isdigit():
            return None
        now = proc_starttime(int(pid), self.proc)
        return int(pid) if now is not None and now == start else None

    def record(self, name: str, pid: int) -> None:
        start = proc_starttime(pid, self.proc) or "gone"
        self.file(name).write_text(f"{pid} {start}\n")

    def forget(self, name: str) -> None:
        self.file(name).unlink(missing_ok=True)


def stop(pids: Pids, name: str, kill=os.kill, sleep=time.sleep, clock=time.monotonic, sig=signal.SIGTERM) -> None:
    """`sig` (SIGTERM) to the recorded process (only if it is still ours), SIGKILL after STOP_GRACE
    seconds, and forget its pid file."""
    pid = pids.live(name)
    if pid is not None:
        trace("stop", name, pid)
        _signal(kill, pid, sig)
        deadline = clock() + STOP_GRACE
        while pids.live(name) is not None and clock() < deadline:
            sleep(POLL)
        if pids.live(name) is not None:
            _signal(kill, pid, signal.SIGKILL)
    pids.forget(name)


def _signal(kill, pid: int, sig) -> None:
    try:
        kill(pid, sig)
    except ProcessLookupError:
        pass


def spawn(argv: list[str], log: Path, env: dict) -> int:
    """Starts a part detached: its own session (a closed terminal or a Ctrl-C elsewhere must not stop
    it), no descriptor of ours (an inherited pipe would keep a caller that captures our output waiting;
    the lock's would hold the lock for as long as the part runs), output into `log`. Its pid."""
    trace(*argv)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            close_fds=True, start_new_session=True, env=env,
        )
    return proc.pid


class NotAnswering(OperationError):
    """A part did not answer in time; `part` names it."""

    def __init__(self, part: str, why: str):
        super().__init__(f"{part} {why}")
        self.part = part


class PartExited(NotAnswering):
    """A part's process ended before it answered: waiting longer cannot help."""


def wait_answering(parts, answers, alive, timeout: float, sleep=time.sleep, clock=time.monotonic) -> None:
    """Waits until `answers(part)` for every part, failing fast when `alive(part)` says one exited.
    Raises NotAnswering naming the part: "P exited before it answered" or "P did not answer within Ns"."""
    pending = list(parts)

    def check():
        still = [p for p in pending if not answers(p)]
        for part in still:
            if not alive(part):
                raise PartExited(part, "exited before it answered")
        pending[:] = still
        return not still, " ".join(still)

    try:
        wait_until(check, "parts", timeout, sleep, clock, Backoff(first=POLL, factor=1.0, cap=POLL))
    except NotAnswering:
        raise
    except OperationError:
        raise NotAnswering(pending[0], f"did not answer within {timeout:g}s") from None


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """A 2xx answer from `url` (what `curl -f` calls success)."""
    try:
        with _OPENER.open(url, timeout=timeout) as answer:
            return 200 <= answer.status < 300
    except (OSError, ValueError):
        return False


def _bind(port: int) -> int:
    with socket.socket() as s:
        # as the servers bind: a port whose old connections linger in TIME_WAIT is still free to them
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, port))
        return s.getsockname()[1]


def pick_port(recorded: str | None = None) -> int:
    """A free loopback port; `recorded` when it is still free, so that exported AWS_ENDPOINT_URL and
    AWS_REGISTRY stay valid across down/up."""
    try:
        return _bind(int(recorded or ""))
    except (ValueError, OSError):
        return _bind(0)


def lock(path: Path, timeout: float, what: str, sleep=time.sleep, clock=time.monotonic) -> int:
    """An exclusive flock on `path`, waiting up to `timeout` seconds; its descriptor (held until the
    process exits, never inherited by what it starts). `what` ends the error line."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    deadline = clock() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            left = deadline - clock()
            if left <= 0:
                os.close(fd)
                raise OperationError(f"{what} (waited {timeout:g}s)") from None
            sleep(min(POLL, left))


def read_text(path: Path) -> str:
    """A small state file's text without its newline; "" when it does not exist."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""
