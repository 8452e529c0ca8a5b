"""The manifest's format and the task it gives this container: pure, shared with the client side
(`batchdeploy.manifest` builds what `parse_manifest` reads)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field

from batchdeploy.launch import EXIT_MANIFEST, EXIT_USAGE
from batchdeploy.launch.calls import CALL_FORMAT

MANIFEST_FORMAT = "batchdeploy.manifest/1"
RECORD_FORMAT = "batchdeploy.task-record/1"
MAX_TASKS = 10_000  # AWS Batch's largest array
# pegasus-aws-batch's marker (its CloudWatchLog.TASK_STDERR_SEPARATOR): with `"stderr": "after-marker"` the
# launcher streams the command's stdout live and prints this line, then its stderr, when it ends, so a
# reader of the one log stream can split the two as pegasus's client does.
TASK_STDERR_MARKER = "########################[AWS BATCH] TASK STDERR ########################"
STDERR_MODES = ("live", "after-marker")
SHA256 = re.compile(r"[0-9a-f]{64}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PYTHON = re.compile(r"[0-9]+\.[0-9]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class LaunchError(Exception):
    """A failure of the launcher itself: one line on stderr and `code` as the exit code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_s3_url(url: str, what: str = "URL", code: int = EXIT_USAGE) -> tuple[str, str]:
    """`s3://bucket/key` -> ("bucket", "key"); the key keeps a trailing slash (a prefix)."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise LaunchError(code, f"{what} {url!r} is not an s3:// URL")
    bucket, _, key = url[5:].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise LaunchError(code, f"{what} {url!r} does not name a valid bucket")
    if any(part in (".", "..") for part in key.split("/")):
        raise LaunchError(code, f"{what} {url!r} has '.' or '..' parts")
    return bucket, key


def task_index(environ, explicit: str | None = None) -> int:
    """This container's task: `--task`, else AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch, and the local
    stack, set it in an array child), else 0."""
    for source, value in (("--task", explicit), ("AWS_BATCH_JOB_ARRAY_INDEX", environ.get("AWS_BATCH_JOB_ARRAY_INDEX"))):
        if value not in (None, ""):
            if not str(value).isdigit():
                raise LaunchError(EXIT_USAGE, f"{source} {value!r} is not a task index (0, 1, 2, ...)")
            return int(value)
    return 0


def attempt_number(environ) -> int:
    value = environ.get("AWS_BATCH_JOB_ATTEMPT", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def manifest_sha_from_key(key: str) -> str | None:
    """The sha256 a content-addressed key promises (`.../<sha256>.json`), or None."""
    name = key.rsplit("/", 1)[-1]
    stem = name[: -len(".json")] if name.endswith(".json") else ""
    return stem if SHA256.fullmatch(stem) else None


def canonical_json(obj) -> bytes:
    """The bytes whose sha256 names a manifest: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Task:
    index: int
    command: list
    environment: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    id: int | None = None  # the task's name (records, BATCHDEPLOY_TASK_ID): the manifest's "id", else the index
    stderr: str = "live"  # the manifest's "stderr": STDERR_MODES
    call: dict | None = None  # a function call (batchdeploy.launch.calls) instead of a command

    def __post_init__(self):
        if self.id is None:
            self.id = self.index


def manifest_problems(doc) -> list:
    """Every way `doc` is not a manifest of this format; [] for a good one."""
    if not isinstance(doc, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    if doc.get("format") != MANIFEST_FORMAT:
        problems.append(f"format is {doc.get('format')!r}, not {MANIFEST_FORMAT!r}")
    tasks = doc.get("tasks")
    if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
        problems.append(f"tasks must be a list of 1 to {MAX_TASKS} tasks")
        tasks = []
    bundle = doc.get("bundle")
    if bundle is not None and not (
        isinstance(bundle, dict) and isinstance(bundle.get("url"), str) and SHA256.fullmatch(str(bundle.get("sha256")))
    ):
        problems.append("bundle must be null or {url, sha256 (64 hex digits), size}")
    records = doc.get("records")
    if records is not None and not (isinstance(records, str) and records.startswith("s3://")):
        problems.append("records must be null or an s3:// URL")
    if doc.get("stderr") not in (None, *STDERR_MODES):
        problems.append(f"stderr must be one of {', '.join(STDERR_MODES)}")
    problems += _command_problems(doc.get("command"), "command")
    problems += _env_problems(doc.get("environment"), "environment")
    for i, task in enumerate(tasks):
        problems += [f"task {i}: {p}" for p in task_problems(task, has_default=doc.get("command") is not None)]
    return problems + _id_problems(tasks)


def _id_problems(tasks: list) -> list:
    """Ids name records, so they are unique, and given to every task or none (an index is no id)."""
    given = [t.get("id") for t in tasks if isinstance(t, dict) and t.get("id") is not None]
    if not given:
        return []
    problems = [] if len(given) == len(tasks) else ["some tasks have an id and some do not: give every task one"]
    counts = Counter(i for i in given if isinstance(i, int) and not isinstance(i, bool))
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        problems.append(f"task ids must be unique; given more than once: {', '.join(map(str, repeated))}")
    return problems


def task_problems(task, has_default: bool) -> list:
    if not isinstance(task, dict):
        return ["not a JSON object"]
    problems = _command_problems(task.get("command"), "command")
    call = task.get("call")
    if call is not None:
        problems += call_problems(call)
        if task.get("command") is not None:
            problems.append("has both a command and a call: give one")
    task_id = task.get("id")
    if task_id is not None and (isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 1):
        problems.append(f"id {task_id!r} is not a positive integer")
    if task.get("command") is None and call is None and not has_default:
        problems.append("no command (neither the task's nor the manifest's)")
    problems += _env_problems(task.get("environment"), "environment")
    params = task.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        problems.append("parameters must map names to strings")
    for kind, remote, local in (("inputs", "from", "to"), ("outputs", "to", "from")):
        for n, item in enumerate(task.get(kind) or []):
            if not isinstance(item, dict) or not isinstance(item.get(local), str) or not item.get(local):
                problems.append(f"{kind}[{n}] needs {local!r}, a local path")
            elif not str(item.get(remote, "")).startswith("s3://"):
                problems.append(f"{kind}[{n}] needs {remote!r}, an s3:// URL")
    return problems


def call_problems(call) -> list:
    """Every way `call` is not a call object of batchdeploy.launch.calls's docstring."""
    if not isinstance(call, dict):
        return ["call must be a JSON object"]
    problems = []
    if call.get("format", CALL_FORMAT) != CALL_FORMAT:
        problems.append(f"call format is {call.get('format')!r}, not {CALL_FORMAT!r}")
    for part in ("function", "arguments"):
        ref = call.get(part)
        if not isinstance(ref, dict) or not SHA256.fullmatch(str(ref.get("sha256"))):
            problems.append(f"call {part} must be an object with a sha256 (64 hex digits)")
        elif part == "arguments" and "inline" in ref:
            if not isinstance(ref["inline"], str) or not _BASE64.fullmatch(ref["inline"]) or "url" in ref:
                problems.append("call arguments' inline must be base64 text (and no url beside it)")
        elif not str(ref.get("url", "")).startswith("s3://"):
            problems.append(f"call {part} needs a url, an s3:// URL" + (" (or inline)" if part == "arguments" else ""))
    if not isinstance(call.get("python"), str) or not _PYTHON.fullmatch(call["python"]):
        problems.append("call python must be the client's major.minor version, as \"3.11\"")
    if not str(call.get("result", "")).startswith("s3://"):
        problems.append("call result must be an s3:// URL")
    return problems


def _command_problems(command, what: str) -> list:
    if command is None:
        return []
    if not isinstance(command, list) or not command or not all(isinstance(w, str) for w in command):
        return [f"{what} must be a non-empty list of strings"]
    return []


def _env_problems(env, what: str) -> list:
    if env is None:
        return []
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        return [f"{what} must map names to strings"]
    bad = sorted(k for k in env if not _NAME.fullmatch(str(k)))
    return [f"{what} has names that are not variable names: {', '.join(bad)}"] if bad else []


def parse_manifest(data: bytes, url: str, default_command: list | None = None) -> dict:
    """The checked manifest; `default_command` (the launcher's words after `--`) is the command of a
    manifest that names none."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LaunchError(EXIT_MANIFEST, f"manifest {url} is not JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("command") is None and default_command:
        doc["command"] = list(default_command)
    problems = manifest_problems(doc)
    if problems:
        raise LaunchError(EXIT_MANIFEST, f"manifest {url} is malformed: {'; '.join(problems[:5])}")
    return doc


def select_task(doc: dict, index: int, url: str = "the manifest") -> Task:
    """Task `index` of a checked manifest, its command's Ref:: filled and its environment merged."""
    tasks = doc["tasks"]
    if index >= len(tasks):
        raise LaunchError(EXIT_MANIFEST, f"{url} has {len(tasks)} task(s); there is no task {index}")
    raw = tasks[index]
    params = dict(raw.get("parameters") or {})
    call = raw.get("call")
    command = [] if call is not None else substitute(raw.get("command") or doc.get("command"), params)
    env = {**(doc.get("environment") or {}), **(raw.get("environment") or {})}
    inputs, outputs = list(raw.get("inputs") or []), list(raw.get("outputs") or [])
    return Task(index, command, env, params, inputs, outputs, raw.get("id"), doc.get("stderr") or "live", call)


def substitute(words: list, params: dict) -> list:
    """`Ref::NAME` replaced by the parameter's value, inside any word (as AWS Batch does); a Ref
    to a parameter the task does not have is left as it is, as AWS Batch leaves it."""
    return [_REF.sub(lambda m: params.get(m.group(1), m.group(0)), word) for word in words]
