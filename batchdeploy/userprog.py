"""User programs (jq) run in a child process under limits: wall time, output size and memory.

A jq program a user wrote runs in C with no limit of its own: `def f: f; f`, `repeat(1)` or
`last(range(1e12))` would never end, and in batchdeploy's own process Ctrl-C could not stop them. So
each program runs in a child (`userprog_child.py`, the standard library and the jq bindings only):

- the program and the document go over a pipe, never on a command line; the child's environment is
  empty (jq's `$ENV` sees nothing of ours) and its stderr is thrown away (jq's `debug`);
- the parent stops it at the wall-time limit, when its output passes the size limit, and on Ctrl-C;
  the child's address space is capped, so a program that grows dies there instead of the machine;
- a limit exceeded is a ConfigError (exit 2) built here, never from the program's output, so the
  message holds no secret. jq's own errors come back as `ProgramError` (a ValueError) for the caller,
  which knows whether the document may be quoted.

Starting the child costs a few tens of milliseconds (Python without `site`, then the bindings).
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import ConfigError

CHILD = Path(__file__).with_name("userprog_child.py")
DEFAULT_SECONDS = 10.0
OUTPUT_BYTES = 1 << 20  # 1 MiB of JSON: far more than any environment list
MEMORY_BYTES = 512 << 20  # the child's address space, Python and jq included


@dataclass(frozen=True)
class Limits:
    seconds: float = DEFAULT_SECONDS
    output_bytes: int = OUTPUT_BYTES
    memory_bytes: int = MEMORY_BYTES


class Program:
    """A jq program known to compile, with the limits it runs under. The child that compiled it waits
    for the document (its start-up is paid once); a second run starts a new child."""

    def __init__(self, text: str, label: str, limits: Limits, time_key: str = ""):
        self.text = text
        self.label = label
        self.limits = limits
        self.time_key = time_key  # the configuration key that sets limits.seconds, named in the message
        self._child: _Child | None = None
        self._pending: float | None = None  # when the child was started, until it said "compiled"

    def __repr__(self):
        return f"Program({self.label!r})"

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None
        self._pending = None


class ProgramError(ValueError):
    """jq's own message (it may quote the document the program read)."""

    def __init__(self, message: str, stage: str):
        super().__init__(message)
        self.stage = stage


def compile_program(text: str, label: str, limits: Limits | None = None, time_key: str = "") -> Program:
    """`text` compiled in a child (under the limits): a ProgramError when it does not compile."""
    program = start_program(text, label, limits, time_key)
    wait_compiled(program)
    return program


def start_program(text: str, label: str, limits: Limits | None = None, time_key: str = "") -> Program:
    """The child started and given `text`, not waited for: its start-up (some 30 ms) overlaps
    whatever the caller does before `wait_compiled`. The caller closes the program on every path."""
    program = Program(text, label, limits or Limits(), time_key)
    program._child = _Child()
    program._child.send({"program": text, "memory_bytes": program.limits.memory_bytes,
                         "cpu_seconds": max(1, int(program.limits.seconds) + 1)})
    program._pending = time.monotonic()
    return program


def wait_compiled(program: Program) -> None:
    """The child's word on the program: a ProgramError when it does not compile, a ConfigError past
    the wall-time limit (counted from the start)."""
    if program._pending is None or program._child is None:
        return
    child, limits = program._child, program.limits
    try:
        out, why = child.read(program._pending + limits.seconds, limits.output_bytes, first_line=True)
        _answer(program, child, _parse(out), why, ("compiled", "error"))
    except BaseException:
        program.close()
        raise
    program._pending = None


def run(program: Program, document) -> list:
    """Every output of `program` on `document` (as `jq -c` would print them, parsed)."""
    if program._child is None:  # a second run: a new child
        program._child = start_program(program.text, program.label, program.limits)._child
        program._pending = time.monotonic()
    wait_compiled(program)
    child, program._child = program._child, None
    try:
        child.send({"document": document}, last=True)
        out, why = child.read(time.monotonic() + program.limits.seconds, program.limits.output_bytes)
    finally:
        child.close()
    lines = _answer(program, child, _parse(out), why, ("done", "error"))
    return [line["value"] for line in lines if "value" in line]


def _site_dir() -> str:
    spec = importlib.util.find_spec("jq")
    if spec is None or not spec.origin:
        raise ConfigError("the jq bindings are not installed", hint="pip install jq (make setup does)")
    return str(Path(spec.origin).parent)


class _Child:
    """One child process and its pipes; `close` kills and reaps it, whatever state it is in."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(CHILD), _site_dir()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"LC_ALL": "C.UTF-8"}, close_fds=True,
        )
        self.buffer = b""

    def send(self, obj, last: bool = False) -> None:
        try:
            self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
            self.proc.stdin.flush()
            if last:
                self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it has ended; its exit status says why

    def read(self, deadline: float, limit: int, first_line: bool = False) -> tuple[bytes, str | None]:
        """Its answer, up to end of output (or its first line): (bytes, None), or (bytes so far, why
        it must be stopped: "time" | "output")."""
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not (first_line and b"\n" in self.buffer):
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._take(first_line), "time"
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.buffer += chunk
                if len(self.buffer) > limit + 4096:  # the answer's own framing is a few bytes a line
                    return self._take(first_line), "output"
        return self._take(first_line), None

    def _take(self, first_line: bool) -> bytes:
        if first_line and b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            return line + b"\n"
        out, self.buffer = self.buffer, b""
        return out

    def status(self) -> int | None:
        return self.proc.poll()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


def _answer(program: Program, child: _Child, lines: list[dict], why: str | None, ends) -> list[dict]:
    """`lines` when the child answered in full; else the limit it broke (a ConfigError); jq's own
    error as a ProgramError."""
    code = child.status()
    if code == -signal.SIGINT:  # Ctrl-C at a terminal reaches the child too: it is an interruption
        raise KeyboardInterrupt
    if why is None and code == -signal.SIGXCPU:
        why = "time"
    if why is None and any("memory" in line for line in lines):
        why = "memory"
    if why is None and not any(end in line for line in lines for end in ends):
        if code is None:
            child.close()
            code = child.status()
        crashed = code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS)
        why = "memory" if crashed else "crash"
    if why is not None:
        child.close()
        raise _limit_error(program, why, child.status())
    for line in lines:
        if "error" in line:
            child.close()
            raise ProgramError(line["error"], line.get("stage", "run"))
    return lines


def _parse(out: bytes) -> list[dict]:
    lines = []
    for raw in out.splitlines():
        try:
            lines.append(json.loads(raw))
        except (ValueError, RecursionError):
            break  # a line cut short when the child was stopped (the child refuses deeper ones)
    return lines


def _limit_error(program: Program, why: str, returncode) -> ConfigError:
    limits, label = program.limits, program.label
    seconds = f"{limits.seconds:g} s"
    if why == "time":
        text = f"{label} was stopped: it ran longer than {seconds}"
        hint = "a jq program must end (look for recursion without a base case, repeat or a huge range)"
        if program.time_key:
            hint += f"; {program.time_key} raises the limit"
    elif why == "output":
        text = f"{label} was stopped: its output passed {limits.output_bytes // 1024:,} KiB"
        hint = "it must produce one small object (look for repeat, range or recursion)"
    elif why == "memory":
        text = f"{label} was stopped: it used more than {limits.memory_bytes >> 20} MiB of memory"
        hint = "look for recursion without a base case, or a value that grows without end"
    else:
        text = f"{label} ended abnormally (exit status {returncode})"
        hint = "run it with jq on a sample document to see why"
    return ConfigError(text, hint=hint)
