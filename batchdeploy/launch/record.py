"""The task record: how one attempt of one task ended, as one JSON object in S3 that nobody rewrites.

Pure but for the clock and /proc readings it is handed; `build_record` lists every field.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from datetime import datetime, timezone

from batchdeploy.launch import VERSION
from batchdeploy.launch.spec import RECORD_FORMAT

TAIL_LINES = 50
MASK = "****"
_SECRET_NAMES = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|_KEY$|^AWS_ACCESS_KEY_ID$")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_id(ctx: dict) -> int:
    """The task's name: the manifest's id for it, else (no id, or the manifest never read) its index."""
    found = ctx.get("task_id")
    return ctx["task"] if found is None else found


def record_key(prefix: str, task: int, attempt: int) -> str:
    """`<prefix>/tasks/<task id>/attempt-<n>.json`; `prefix` has no edge slashes."""
    base = f"{prefix}/" if prefix else ""
    return f"{base}tasks/{task}/attempt-{attempt}.json"


def secret_values(environ) -> list:
    """Values of variables whose names say they are secret (long enough not to mask ordinary words)."""
    return sorted({v for k, v in environ.items() if _SECRET_NAMES.search(k.upper()) and len(v) >= 8}, key=len, reverse=True)


def redact(text: str, secrets: list) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def tail_lines(data: bytes, secrets: list, lines: int = TAIL_LINES) -> list:
    text = redact(data.decode("utf-8", "replace"), secrets)
    return text.splitlines()[-lines:]


def process_started(now: float | None = None) -> float:
    """When this process started (from /proc, to 10 ms), so the record counts Python's own start-up
    in the launcher's overhead; the time of the call where /proc cannot tell."""
    now = time.time() if now is None else now
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
        return now - age if 0 <= age < 3600 else now
    except (OSError, ValueError, IndexError):
        return now


def build_record(ctx: dict, finished=None, error=None, copied=None, ended: float | None = None) -> dict:
    """The record of one attempt. `ctx` holds what the launcher learned before the command: task,
    attempt, job_id, manifest {url, sha256}, bundle {url, sha256, bytes} or None, command, started
    (process start), command_started, secrets (values to mask); `finished` is process.Finished or
    None when the command never ran; `error` a LaunchError of the launcher's own, or None."""
    copied = copied or {}
    secrets = ctx.get("secrets") or []
    exit_code = error.code if error is not None and (finished is None or finished.exit_code == 0) else None
    if exit_code is None and finished is not None:
        exit_code = finished.exit_code
    record = {
        "format": RECORD_FORMAT,
        "task": task_id(ctx),  # the task's id (its index when the manifest gives none)
        "index": ctx["task"],  # the array index this attempt ran as
        "attempt": ctx["attempt"],
        "job_id": ctx.get("job_id"),
        "host": socket.gethostname(),
        "launcher": VERSION,
        "manifest": ctx.get("manifest"),
        "bundle": ctx.get("bundle"),
        "command": [redact(w, secrets) for w in ctx.get("command") or []],
        "call": ctx.get("call"),  # a function call's {function, arguments (sha256), python, result}, or None
        "exit_code": exit_code,  # the launcher's, so the container's
        "command_exit_code": finished.exit_code if finished else None,
        "signal": finished.signal if finished else None,
        "outcome": _outcome(finished, error),
        "launcher_error": {"exit_code": error.code, "message": redact(error.message, secrets)} if error else None,
        "started": iso(ctx.get("started")),
        "command_started": iso(finished.started if finished else None),
        "command_ended": iso(finished.ended if finished else None),
        "ended": iso(ended),
        "resources": _resources(finished),
        "stderr_tail": tail_lines(finished.stderr_tail, secrets) if finished else [],
        "copied": {"bundle_bytes": (ctx.get("bundle") or {}).get("bytes", 0), **copied},
        "overhead_s": _overhead(ctx, finished, ended),
        "phases_s": dict(ctx.get("phases") or {}),  # process start to the end of: client, manifest, bundle, inputs
    }
    return record


def _outcome(finished, error) -> str:
    if finished is None:
        return "launcher-failed"
    if finished.exit_code != 0:
        return "failed"
    return "launcher-failed" if error is not None else "succeeded"


def _resources(finished) -> dict | None:
    if finished is None:
        return None
    return {
        "max_rss_kib": finished.max_rss_kib,
        "cpu_user_s": finished.cpu_user_s,
        "cpu_system_s": finished.cpu_system_s,
        "wall_s": round(finished.ended - finished.started, 3),
    }


def _overhead(ctx: dict, finished, ended: float | None) -> dict:
    """The launcher's own time: process start to the command's start, and the command's end to
    the record's write (outputs included; `ended` is taken just before the record's PUT)."""
    if finished is None:
        return {"before_command": None, "after_command": None}
    before = round(finished.started - ctx["started"], 3) if ctx.get("started") else None
    after = round(ended - finished.ended, 3) if ended else None
    return {"before_command": before, "after_command": after}


def encode(record: dict) -> bytes:
    return (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8")
