"""A call's result, on the client: the envelope the launcher stored (batchdeploy.launch.calls) read
back into the function's value, or its exception raised here as it was raised remotely.

    value = read_result(envelope_bytes, fn) # or raises the remote exception / RemoteError / ResultUnreadable

When the function raised and its exception unpickles here, that exception is raised, with the
remote traceback and the end of the call's output added as a note (Python 3.11's `add_note`; on
older Pythons as its `__cause__`, a RemoteError) and the RemoteError kept as its `remote` attribute.
Otherwise (a class this side does not have, an exception that did not pickle, the launcher's own
failure, a Python version refused, and a remote SystemExit, KeyboardInterrupt or SIGTERM, which
must not end this process) a `RemoteError` carries the type, message, remote traceback,
stdout and stderr. The envelope is a pickle: read only envelopes from your own bucket.
"""

from __future__ import annotations

import linecache
import pickle
import re

from batchdeploy.errors import OperationError
from batchdeploy.launch.calls import RESULT_FORMAT

NOTE_LINES = 20  # of stdout and of stderr, in the note added to a re-raised exception
_DYNAMIC = re.compile(r'^(  File )"<dynamic-code>"(, line (\d+), in (\S+))$', re.MULTILINE)


class ResultUnreadable(OperationError):
    """The envelope, or the value in it, cannot be read on this side."""


class RemoteError(Exception):
    """A call that failed remotely: `type` ("module.QualName"), `message`, `traceback` (the remote
    text), `stdout`, `stderr` (their ends), `stage` and `exit_code` (see batchdeploy.launch.calls)."""

    def __init__(self, type: str, message: str, traceback: str = "", stdout: str = "", stderr: str = "",
                 stage: str | None = None, exit_code: int | None = None, host: str | None = None):
        self.type, self.message, self.traceback = type, message, traceback
        self.stdout, self.stderr, self.stage, self.exit_code, self.host = stdout, stderr, stage, exit_code, host
        super().__init__(f"{type}: {message}")

    def details(self) -> str:
        """The remote traceback and the end of the call's output, as a note or this error's text."""
        where = f" (on {self.host})" if self.host else ""
        parts = [f"Remote traceback{where}:\n{self.traceback.rstrip()}"] if self.traceback else []
        stderr = self.stderr
        if self.traceback and stderr.rstrip().endswith(self.traceback.rstrip()):  # the child printed it too
            stderr = stderr.rstrip()[: -len(self.traceback.rstrip())]
        for name, text in (("stdout", self.stdout), ("stderr", stderr)):
            lines = text.rstrip().splitlines()[-NOTE_LINES:]
            if lines:
                parts.append(f"Remote {name} (last {len(lines)} lines):\n" + "\n".join(lines))
        return "\n".join(parts)

    def __str__(self) -> str:
        details = self.details()
        return f"{self.type}: {self.message}" + (f"\n{details}" if details else "")


def read_envelope(data: bytes) -> dict:
    """The envelope as a dict, checked for its format; ResultUnreadable otherwise."""
    try:
        envelope = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - anything unpickling raises means the bytes are not an envelope
        raise ResultUnreadable(f"the call's result is not a result envelope: {type(exc).__name__}: {exc}") from None
    if not isinstance(envelope, dict) or envelope.get("format") != RESULT_FORMAT or "ok" not in envelope:
        raise ResultUnreadable(f"the call's result is not a {RESULT_FORMAT} envelope")
    return envelope


def _code_names(code, found: set) -> set:
    found.add(code.co_name)
    for const in code.co_consts:
        if hasattr(const, "co_name"):
            _code_names(const, found)
    return found


def localize(traceback: str, function) -> str:
    """The remote traceback with the client's file and source lines where cloudpickle, which ships a
    function of a script or notebook by value, named the file "<dynamic-code>": for frames of
    `function`, the functions it defines, and the functions of its file it calls by name."""
    code = getattr(function, "__code__", None)
    if code is None or "<dynamic-code>" not in traceback:
        return traceback
    filename, names = code.co_filename, _code_names(code, set())
    for name, value in (getattr(function, "__globals__", None) or {}).items():
        if getattr(getattr(value, "__code__", None), "co_filename", None) == filename:
            names.add(name)

    def fix(m: re.Match) -> str:
        if m[4] not in names:
            return m[0]
        source = linecache.getline(filename, int(m[3])).strip()
        return f'{m[1]}"{filename}"{m[2]}' + (f"\n    {source}" if source else "")

    return _DYNAMIC.sub(fix, traceback)


def remote_error(envelope: dict, function=None) -> RemoteError:
    err = envelope.get("error") or {}
    return RemoteError(
        str(err.get("type", "")), str(err.get("message", "")), localize(str(err.get("traceback") or ""), function),
        str(envelope.get("stdout") or ""), str(envelope.get("stderr") or ""), err.get("stage"), err.get("exit_code"),
        envelope.get("host"),
    )


def exception_of(envelope: dict, function=None) -> BaseException:
    """What to raise for a failed call: its own exception when it unpickles here, else a RemoteError."""
    remote = remote_error(envelope, function)
    data = (envelope.get("error") or {}).get("exception")
    try:
        exc = pickle.loads(data) if data else None
    except Exception:  # noqa: BLE001 - a class this side lacks: the RemoteError still says everything
        exc = None
    if not isinstance(exc, Exception):  # SystemExit, KeyboardInterrupt, a SIGTERM: not to end this process
        return remote
    try:
        exc.remote = remote
    except AttributeError:
        pass
    if hasattr(exc, "add_note"):
        exc.add_note(remote.details())
    else:
        exc.__cause__ = remote
    return exc


def read_result(data: bytes, function=None):
    """The function's return value; raises its exception (see the module docstring) when it failed.
    Given the `function` that was called, the remote traceback names its file and source lines
    (`localize`)."""
    envelope = read_envelope(data)
    if not envelope["ok"]:
        raise exception_of(envelope, function)
    try:
        return pickle.loads(envelope["value"])
    except Exception as exc:  # noqa: BLE001
        raise ResultUnreadable(
            f"the call returned a value that cannot be unpickled here: {type(exc).__name__}: {exc}",
            hint="import the module that defines its class, with the versions the image has",
        ) from None


value = read_result  # the name batchdeploy.functions.futures reads results with
