"""Function mode in the launcher process: a task with a `"call"` (batchdeploy.launch.calls) instead of
a command. In order: refuse a call pickled by another Python major.minor; fetch the function and the
arguments (or decode them from the manifest) and check each sha256; run the call in a child Python
(`callchild`, which alone imports cloudpickle) with its output streamed live to the job's log and the
ends of both streams kept; then store the result envelope at the call's `result` URL, whatever
happened, before the task record is written. The envelope's texts have the job's secrets masked.
"""

from __future__ import annotations

import base64
import os
import pickle
import platform
import shutil
import socket
import sys
import tempfile

from batchdeploy.launch import EXIT_S3, process, record, s3
from batchdeploy.launch.callchild import BOOTSTRAP
from batchdeploy.launch.calls import (
    CALL_DIED,
    EXIT_CALL_SETUP,
    LAUNCH_FAILED,
    PICKLE_PROTOCOL,
    PYTHON_MISMATCH,
    RESULT_FORMAT,
    STREAM_TAIL_BYTES,
)
from batchdeploy.launch.code import file_sha256
from batchdeploy.launch.spec import LaunchError, parse_s3_url

# Where the launcher's own code is: the zip application, or the folder holding the batchdeploy package.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CallError(LaunchError):
    """A call that could not be loaded: EXIT_CALL_SETUP, and its `type` in the envelope's error."""

    def __init__(self, message: str, type_: str = LAUNCH_FAILED, code: int = EXIT_CALL_SETUP, stage: str = "load"):
        super().__init__(code, message)
        self.type, self.stage = type_, stage


def python_version(info=None) -> str:
    info = sys.version_info if info is None else info
    return f"{info[0]}.{info[1]}"


def check_python(wanted: str, info=None, full: str | None = None) -> None:
    have = python_version(info)
    if wanted != have:
        full = full or platform.python_version()
        raise CallError(
            f"the call was pickled by Python {wanted} and this image runs Python {full}: pickles do not cross "
            f"Python versions; call from Python {have}, or use an image with Python {wanted}",
            PYTHON_MISMATCH,
        )


class Call:
    def __init__(self, call: dict, client, secrets: list):
        self.call, self.client, self.secrets = call, client, secrets
        self.scratch = tempfile.mkdtemp(prefix="batchdeploy-call-")
        self.child: dict | None = None  # the child's envelope, when it wrote one

    def record_fields(self) -> dict:
        """What the task record says of the call."""
        return {
            "function": self.call["function"]["sha256"],
            "arguments": self.call["arguments"]["sha256"],
            "python": self.call["python"],
            "result": self.call["result"],
        }

    def fetch(self, part: str) -> str:
        """The function or the arguments pickle as a local file, its sha256 checked."""
        ref, path = self.call[part], os.path.join(self.scratch, f"{part}.pkl")
        if "inline" in ref:
            with open(path, "wb") as out:
                out.write(base64.b64decode(ref["inline"]))
            where = "the manifest's inline arguments"
        else:
            where = ref["url"]
            bucket, key = parse_s3_url(where, f"call {part}", EXIT_CALL_SETUP)
            try:
                with s3.s3_errors(f"fetch the call's {part} {where}", EXIT_CALL_SETUP, "no such object"):
                    s3.download(self.client, bucket, key, path)
            except LaunchError as exc:  # missing: the call's own failure; denied or unreachable: S3's
                raise CallError(exc.message, code=exc.code if exc.code == EXIT_S3 else EXIT_CALL_SETUP) from None
        got = file_sha256(path)
        if got != ref["sha256"]:
            raise CallError(f"the call's {part} ({where}) has sha256 {got}, not the manifest's {ref['sha256']}")
        return path

    def run(self, env: dict, workdir: str, stderr_after: str | None = None) -> process.Finished:
        check_python(self.call["python"])
        function, arguments = self.fetch("function"), self.fetch("arguments")
        envelope_path = os.path.join(self.scratch, "envelope.pkl")
        command = [sys.executable, "-c", BOOTSTRAP, ROOT, workdir, function, arguments, envelope_path]
        finished = process.run(command, env, workdir, stderr_after=stderr_after, keep_stdout=True)
        try:
            with open(envelope_path, "rb") as f:
                self.child = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.child = None
        return finished

    def verdict(self, finished, error: LaunchError | None) -> LaunchError | None:
        """The task's error: a call whose process ended with 0 but wrote no result did not return."""
        if error is None and finished is not None and finished.exit_code == 0 and self.child is None:
            return CallError("the call's process ended (exit code 0) without a result: os._exit or a crash", CALL_DIED,
                             stage="process")
        return error

    def store(self, finished, error: LaunchError | None, exit_code: int) -> LaunchError | None:
        """Writes the envelope to the call's `result`; the failure to, as an error, or None."""
        doc = envelope(self.child, finished, error, exit_code, self.secrets)
        url = self.call["result"]
        try:
            bucket, key = parse_s3_url(url, "call result", EXIT_CALL_SETUP)
            with s3.s3_errors(f"store the call's result {url}", EXIT_CALL_SETUP, "no such bucket"):
                s3.put_bytes(self.client, bucket, key, pickle.dumps(doc, protocol=PICKLE_PROTOCOL),
                             "application/octet-stream")
        except LaunchError as exc:
            return LaunchError(EXIT_CALL_SETUP, exc.message)
        return None

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _text(data: bytes, secrets: list) -> str:
    return record.redact(data[-STREAM_TAIL_BYTES:].decode("utf-8", "replace"), secrets)


def envelope(child: dict | None, finished, error: LaunchError | None, exit_code: int, secrets: list) -> dict:
    """The result envelope (batchdeploy.launch.calls) from what the child wrote (or None), how its
    process ended (process.Finished or None when it never ran) and the launcher's own error."""
    doc = dict(child) if child is not None else {
        "format": RESULT_FORMAT,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "started": record.iso(finished.started if finished else None),
        "ended": record.iso(finished.ended if finished else None),
    }
    if error is not None and (child is None or child.get("ok")):
        doc.pop("value", None)
        doc.update(ok=False, error={"type": getattr(error, "type", LAUNCH_FAILED), "message": error.message,
                                    "traceback": "", "exception": None, "stage": getattr(error, "stage", "launcher")})
    elif child is None:
        how = f"signal {finished.signal}" if finished.signal else f"exit code {finished.exit_code}"
        doc.update(ok=False, error={"type": CALL_DIED, "message": f"the call's process ended ({how}) without a result",
                                    "traceback": "", "exception": None, "stage": "process"})
    doc["stdout"] = _text(finished.stdout_tail, secrets) if finished else ""
    doc["stderr"] = _text(finished.stderr_tail, secrets) if finished else ""
    if not doc.get("ok"):
        err = doc["error"] = dict(doc["error"])
        err["message"] = record.redact(str(err.get("message", "")), secrets)
        err["traceback"] = record.redact(str(err.get("traceback", "")), secrets)
        if err.get("exception") and any(s.encode() in err["exception"] for s in secrets):
            err["exception"] = None
        err["exit_code"] = exit_code
    return doc
