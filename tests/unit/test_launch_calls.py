"""The launcher's function mode, its pure parts: a manifest task with a call (spec), the Python
check, and the result envelope built from what the child wrote and how its process ended."""

from __future__ import annotations

import pickle

import pytest

from batchdeploy.launch import EXIT_S3, spec
from batchdeploy.launch.calls import (
    CALL_DIED,
    EXIT_CALL_RAISED,
    EXIT_CALL_SETUP,
    LAUNCH_FAILED,
    PYTHON_MISMATCH,
    RESULT_FORMAT,
)
from batchdeploy.launch.function import CallError, check_python, envelope
from batchdeploy.launch.process import Finished
from batchdeploy.launch.spec import LaunchError

SHA = "a" * 64


def call(**over):
    base = {"function": {"url": "s3://b/p/functions/f.pkl", "sha256": SHA},
            "arguments": {"inline": "gASVAAAAAAAAAAA=", "sha256": SHA},
            "python": "3.11", "result": "s3://b/p/runs/R/results/1.pkl"}
    return {**base, **over}


def manifest(*tasks, command=None):
    return {"format": spec.MANIFEST_FORMAT, "bundle": None, "records": None, "command": command, "tasks": list(tasks)}


def test_a_task_with_a_call_needs_no_command_and_selects_with_its_call():
    doc = manifest({"id": 4, "call": call()})
    assert spec.manifest_problems(doc) == []
    task = spec.select_task(doc, 0)
    assert (task.id, task.command, task.call) == (4, [], call())
    mixed = manifest({"id": 1, "call": call()}, {"id": 2}, command=["echo", "hi"])  # commands and calls in one array
    assert spec.manifest_problems(mixed) == []
    assert spec.select_task(mixed, 0).command == [] and spec.select_task(mixed, 1).command == ["echo", "hi"]


@pytest.mark.parametrize("bad, problem", [
    ("not a call", "call must be a JSON object"),
    (call(format="batchdeploy.call/9"), "call format is 'batchdeploy.call/9'"),
    (call(function={"url": "s3://b/f.pkl", "sha256": "short"}), "call function must be an object with a sha256"),
    (call(function={"sha256": SHA}), "call function needs a url, an s3:// URL"),
    (call(arguments={"url": "https://x/a.pkl", "sha256": SHA}), "call arguments needs a url, an s3:// URL (or inline)"),
    (call(arguments={"inline": "not base64!", "sha256": SHA}), "call arguments' inline must be base64 text"),
    (call(arguments={"inline": "", "url": "s3://b/a", "sha256": SHA}), "call arguments' inline must be base64 text"),
    (call(python="3"), "call python must be the client's major.minor version"),
    (call(python=3.11), "call python must be the client's major.minor version"),
    (call(result="/tmp/r.pkl"), "call result must be an s3:// URL"),
])
def test_a_malformed_call_is_named(bad, problem):
    problems = spec.manifest_problems(manifest({"call": bad}))
    assert len(problems) == 1 and problems[0].startswith(f"task 0: {problem}"), problems


def test_a_task_with_both_a_command_and_a_call_is_refused():
    problems = spec.manifest_problems(manifest({"call": call(), "command": ["true"]}))
    assert problems == ["task 0: has both a command and a call: give one"]


def test_another_python_minor_is_refused_with_both_versions_named():
    check_python("3.11", (3, 11, 2))
    with pytest.raises(CallError) as err:
        check_python("3.12", (3, 11, 2), "3.11.2")
    assert (err.value.code, err.value.type, err.value.stage) == (EXIT_CALL_SETUP, PYTHON_MISMATCH, "load")
    assert err.value.message.startswith("the call was pickled by Python 3.12 and this image runs Python 3.11.2")


def finished(code=0, signal=None, out=b"", err=b""):
    return Finished(code, signal, 1.0, 2.0, err, 1000, 0.1, 0.0, out)


SECRET = "s3cr3t-value-for-tests"


def test_the_childs_envelope_gets_the_streams_masked_and_the_exit_code():
    child = {"format": RESULT_FORMAT, "ok": False, "python": "3.11.2", "host": "h", "started": "a", "ended": "b",
             "error": {"type": "builtins.ValueError", "message": f"bad {SECRET}", "traceback": f"tb {SECRET}\n",
                       "exception": pickle.dumps(ValueError(f"bad {SECRET}")), "stage": "call"}}
    doc = envelope(child, finished(EXIT_CALL_RAISED, out=f"printed {SECRET}\n".encode(), err=b"e\n"),
                   None, EXIT_CALL_RAISED, [SECRET])
    assert doc["stdout"] == "printed ****\n" and doc["stderr"] == "e\n"
    assert doc["error"]["message"] == "bad ****" and doc["error"]["traceback"] == "tb ****\n"
    assert doc["error"]["exception"] is None and doc["error"]["exit_code"] == EXIT_CALL_RAISED  # it held the secret
    assert SECRET not in repr(doc) and child["error"]["message"] == f"bad {SECRET}"  # the child's dict is left as it was


def test_a_returned_value_is_kept_and_the_streams_tails_are_bounded():
    child = {"format": RESULT_FORMAT, "ok": True, "value": b"v"}
    doc = envelope(child, finished(out=b"x" * (200 * 1024)), None, 0, [])
    assert doc["ok"] and doc["value"] == b"v" and len(doc["stdout"]) == 64 * 1024 and "error" not in doc


def test_without_a_childs_envelope_the_launchers_error_or_the_process_end_is_named():
    refused = envelope(None, None, CallError("no such object"), EXIT_CALL_SETUP, [])
    assert refused["format"] == RESULT_FORMAT and refused["ok"] is False and refused["stdout"] == ""
    assert (refused["error"]["type"], refused["error"]["stage"], refused["error"]["exit_code"]) == (
        LAUNCH_FAILED, "load", EXIT_CALL_SETUP)
    denied = envelope(None, None, LaunchError(EXIT_S3, "cannot fetch: AccessDenied"), EXIT_S3, [])
    assert (denied["error"]["type"], denied["error"]["stage"]) == (LAUNCH_FAILED, "launcher")
    killed = envelope(None, finished(137, "SIGKILL", out=b"last words\n"), None, 137, [])
    assert killed["error"]["type"] == CALL_DIED and "signal SIGKILL" in killed["error"]["message"]
    assert killed["stdout"] == "last words\n" and killed["started"].endswith("Z")


def test_a_launcher_failure_after_a_returned_value_makes_the_result_a_failure():
    child = {"format": RESULT_FORMAT, "ok": True, "value": b"v"}
    doc = envelope(child, finished(), LaunchError(115, "declared output out.csv is missing"), 115, [])
    assert doc["ok"] is False and "value" not in doc and doc["error"]["message"] == "declared output out.csv is missing"
