"""The child process of a function call (batchdeploy.launch.calls): it unpickles the function and its
arguments, calls it, and writes what came back to a local file the launcher then stores in S3.

    python3 -c BOOTSTRAP ROOT WORKDIR FUNCTION.pkl ARGUMENTS.pkl ENVELOPE.pkl

`ROOT` is where the launcher's own code is (the zip application, or the folder holding the
`batchdeploy` package), put first on `sys.path` only long enough to import this module and
cloudpickle; then `WORKDIR` (the code bundle's folder, the working folder) goes first, ROOT second,
so a function whose module lives in the project's code imports it from the bundle, and the
project's code never loads another cloudpickle than the one the client pickled with.

This is the one launcher module that imports cloudpickle (it travels in the zip application, see
`zipapp`), inside `main`, which runs in the child alone: the launcher process reads only BOOTSTRAP
here and never needs cloudpickle. stdout and stderr are the
function's; the child adds only, when the call fails, the traceback on stderr as Python prints an
uncaught exception's, so the job's log shows it. The envelope it writes lacks the stream tails, which
only the launcher, reading the pipes, has. Exit codes: 0 returned, EXIT_CALL_RAISED raised,
EXIT_CALL_SETUP could not load the call or pickle its value, 143 ended by SIGTERM (`Terminated`,
raised inside the function, so the result has the traceback of where it was).
"""

from __future__ import annotations

import os
import pickle
import platform
import signal
import socket
import sys
import traceback
from datetime import datetime, timezone

from batchdeploy.launch.calls import (
    EXIT_CALL_RAISED,
    EXIT_CALL_SETUP,
    PICKLE_PROTOCOL,
    RESULT_FORMAT,
    RESULT_UNPICKLABLE,
)

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from batchdeploy.launch.callchild import main; sys.exit(main(sys.argv[1:]))"
)


class Terminated(BaseException):
    """SIGTERM reached the call (AWS Batch ending the job: its timeout, a cancel, a terminate), raised
    where the function was, so its result says where that was; the child then exits 143 (128+15)."""


def _terminated(signum, _frame):
    raise Terminated(f"the job was ended by {signal.Signals(signum).name} (AWS Batch's timeout, a cancel or a "
                     "terminate) while the function ran")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(obj) -> str:
    """`a module.QualName`, as an error names what could not be pickled."""
    kind = type(obj)
    return f"a {kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else f"a {kind.__qualname__}"


def type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def exception_bytes(exc: BaseException, cloudpickle) -> bytes | None:
    """The exception cloudpickled, when it pickles and unpickles again here (so a client with the
    same code can re-raise it); None otherwise: the envelope's text still says what it was."""
    try:
        data = cloudpickle.dumps(exc, protocol=PICKLE_PROTOCOL)
        pickle.loads(data)
    except Exception:
        return None
    return data


def error(exc: BaseException, stage: str, cloudpickle, skip_frames: int = 0, type_: str | None = None,
          message: str | None = None) -> dict:
    tb = exc.__traceback__
    for _ in range(skip_frames):  # this module's own frames above the user's code
        tb = tb.tb_next if tb is not None and tb.tb_next is not None else tb
    return {
        "type": type_ or type_name(exc),
        "message": str(exc) if message is None else message,
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
        "exception": exception_bytes(exc, cloudpickle) if cloudpickle is not None else None,
        "stage": stage,
    }


def show(error_: dict) -> None:
    """The traceback on stderr, as Python prints an uncaught exception, so the job's log has it too."""
    sys.stderr.write(error_["traceback"] or f"{error_['type']}: {error_['message']}\n")
    sys.stderr.flush()


def write(path: str, envelope: dict) -> None:
    partial = f"{path}.partial"
    with open(partial, "wb") as out:
        pickle.dump(envelope, out, protocol=PICKLE_PROTOCOL)
    os.replace(partial, path)


def order_path(root: str, workdir: str) -> None:
    """The bundle's folder first, the launcher's code second, then the interpreter's own."""
    rest = [p for p in sys.path if p not in ("", root, workdir, os.getcwd())]
    sys.path[:] = [workdir, root, *rest]


def load(function_path: str, arguments_path: str):
    with open(function_path, "rb") as f:
        function = pickle.load(f)
    with open(arguments_path, "rb") as f:
        arguments = pickle.load(f)
    if not callable(function):
        raise TypeError(f"the function object unpickles to {describe(function)}, which is not callable")
    if not (isinstance(arguments, tuple) and len(arguments) == 2 and isinstance(arguments[0], tuple)
            and isinstance(arguments[1], dict)):
        raise TypeError("the arguments object is not an (args tuple, kwargs dict) pair")
    return function, arguments[0], arguments[1]


def main(argv: list) -> int:
    root, workdir, function_path, arguments_path, envelope_path = argv
    envelope = {"format": RESULT_FORMAT, "python": platform.python_version(), "host": socket.gethostname(),
                "started": now()}
    cloudpickle = None
    for stream in (sys.stdout, sys.stderr):  # whole lines reach the job's log as they are printed
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    try:
        import cloudpickle  # from ROOT: the copy the zip application carries

        order_path(root, workdir)
        function, args, kwargs = load(function_path, arguments_path)
    except BaseException as exc:  # noqa: B036 - whatever unpickling raises is the call's setup failure
        envelope.update(ok=False, error=error(exc, "load", cloudpickle), ended=now())
        show(envelope["error"])
        write(envelope_path, envelope)
        return EXIT_CALL_SETUP
    try:
        signal.signal(signal.SIGTERM, _terminated)
        value = function(*args, **kwargs)
    except BaseException as exc:  # noqa: B036 - SystemExit and KeyboardInterrupt are the function's too
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        envelope.update(ok=False, error=error(exc, "call", cloudpickle, skip_frames=1), ended=now())
        show(envelope["error"])
        write(envelope_path, envelope)
        return 128 + signal.SIGTERM if isinstance(exc, Terminated) else EXIT_CALL_RAISED
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    envelope["ended"] = now()
    try:
        envelope.update(ok=True, value=cloudpickle.dumps(value, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        why = f"the function returned {describe(value)}, which cannot be pickled: {type_name(exc)}: {exc}"
        envelope.update(ok=False, error=error(exc, "result", cloudpickle, type_=RESULT_UNPICKLABLE, message=why))
        envelope["error"]["exception"] = None
        show(envelope["error"])
        write(envelope_path, envelope)
        return EXIT_CALL_SETUP
    write(envelope_path, envelope)
    return 0
