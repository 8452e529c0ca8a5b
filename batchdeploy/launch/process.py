"""The user's command as a child process: its output passed through live, the end of its stderr
kept, signals to the launcher passed on to it, and what its processes used."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from batchdeploy.launch import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND
from batchdeploy.launch.spec import LaunchError

TAIL_BYTES = 64 * 1024
PIPE_GRACE_S = 5.0
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


@dataclass
class Finished:
    exit_code: int  # the command's, or 128+N when signal N ended it (as a shell reports it)
    signal: str | None
    started: float
    ended: float
    stderr_tail: bytes
    max_rss_kib: int  # the largest peak resident size of any one of its processes
    cpu_user_s: float
    cpu_system_s: float
    stdout_tail: bytes = b""  # kept only when asked (a function call's result envelope holds it)


class Tail:
    """The last TAIL_BYTES of a stream."""

    def __init__(self, limit: int = TAIL_BYTES):
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:
            del self.data[: len(self.data) - self.limit]

    def value(self) -> bytes:
        return bytes(self.data[-self.limit :])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:  # the log reader went away: keep draining the child, drop the bytes
            return


def _pump(source, fd: int, tail: Tail | None) -> None:
    with source:
        while True:
            chunk = os.read(source.fileno(), 65536)
            if not chunk:
                return
            _write_all(fd, chunk)
            if tail is not None:
                tail.add(chunk)


def _replay(held, marker: str) -> None:
    """The marker line, then the held stderr, on stdout (as pegasus's own launcher does)."""
    with held:
        held.seek(0)
        _write_all(1, marker.encode() + b"\n")
        while chunk := held.read(65536):
            _write_all(1, chunk)


def start(command: list, env: dict, cwd: str) -> subprocess.Popen:
    try:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    except FileNotFoundError:
        raise LaunchError(EXIT_NOT_FOUND, f"command not found: {command[0]}") from None
    except PermissionError:
        raise LaunchError(EXIT_NOT_EXECUTABLE, f"command cannot be executed (permission denied): {command[0]}") from None
    except OSError as exc:
        raise LaunchError(EXIT_NOT_EXECUTABLE, f"command cannot be executed: {command[0]}: {exc.strerror}") from None


def run(command: list, env: dict, cwd: str, stderr_after: str | None = None, keep_stdout: bool = False) -> Finished:
    """Runs `command` to its end. Signals the launcher gets (SIGTERM from `docker stop` when AWS
    Batch ends a job) go to the command's process group; the launcher then still writes its record.
    With `stderr_after` (a marker line), stderr is held in a temporary file and written to stdout
    after the marker once the command ended, so one log stream holds the two apart. With
    `keep_stdout`, the end of stdout is kept as well as stderr's."""
    started = time.time()
    box: dict = {}  # the command's process once started; a signal before that waits in `early`
    early: list = []

    def forward(signum, _frame):
        if "proc" not in box:
            early.append(signum)
            return
        try:
            os.killpg(box["proc"].pid, signum)
        except OSError:
            pass

    previous = {}  # the handlers go in before the command starts: a SIGTERM that soon is passed on too
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        proc = box["proc"] = start(command, env, cwd)
        for signum in early:
            forward(signum, None)
        tail, out_tail = Tail(), Tail() if keep_stdout else None
        held = tempfile.TemporaryFile() if stderr_after is not None else None
        pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, 1, out_tail), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, held.fileno() if held else 2, tail), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        returncode = proc.wait()
        for pump in pumps:  # a background grandchild may hold a pipe open: do not wait for it forever
            pump.join(timeout=PIPE_GRACE_S)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ended = time.time()
    if held is not None:
        _replay(held, stderr_after)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    name = signal.Signals(-returncode).name if returncode < 0 and -returncode in signal.valid_signals() else None
    return Finished(
        exit_code=returncode if returncode >= 0 else 128 - returncode,
        signal=name,
        started=started,
        ended=ended,
        stderr_tail=tail.value(),
        max_rss_kib=int(usage.ru_maxrss),
        cpu_user_s=round(usage.ru_utime, 3),
        cpu_system_s=round(usage.ru_stime, 3),
        stdout_tail=out_tail.value() if out_tail is not None else b"",
    )
