"""The launcher's function mode (issue #19) as a process on this machine against a real moto S3: a
call pickled by the client's payload module, run by the launcher, its result envelope read back by the
client's results module. The same in a real job container: test_launch_stack.py."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import traceback

import pytest

from batchdeploy import bundle as bundles
from batchdeploy import manifest as manifests
from batchdeploy.functions import payload, results
from batchdeploy.launch import EXIT_S3
from batchdeploy.launch.calls import (
    CALL_DIED,
    EXIT_CALL_RAISED,
    EXIT_CALL_SETUP,
    LAUNCH_FAILED,
    PYTHON_MISMATCH,
    RESULT_FORMAT,
    RESULT_UNPICKLABLE,
)
from batchdeploy.launch.spec import MANIFEST_FORMAT, canonical_json, sha256_hex

from .conftest import ROOT, wait_for
from .test_launch_host import BUCKET, CANARY, get_record, launch

PREFIX = "bd/functions"


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def put_call(s3, fn, args=(), kwargs=None, *, python=None, bundle=None, task_id=1, tamper=None) -> str:
    """Uploads the call's pickles and a manifest of one call task; returns the manifest's URL."""
    function = payload.pickle_function(fn)
    arguments = payload.pickle_arguments(args, kwargs or {})
    for key, data in payload.uploads(function, arguments, prefix=PREFIX).items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=tamper(data) if tamper else data)
    call = payload.call_object(function, arguments, bucket=BUCKET, prefix=PREFIX,
                               result=f"s3://{BUCKET}/runs/r1/results/{task_id}.pkl", python=python)
    doc = {"format": MANIFEST_FORMAT, "bundle": bundle, "records": f"s3://{BUCKET}/runs/r1/", "command": None,
           "environment": {}, "tasks": [{"id": task_id, "call": call}]}
    data = canonical_json(doc)
    key = f"bd/manifests/{sha256_hex(data)}.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return f"s3://{BUCKET}/{key}"


def get_envelope(s3, task_id=1) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=f"runs/r1/results/{task_id}.pkl")["Body"].read()


class Boom(ValueError):
    pass


def test_a_function_returning_a_value_comes_back_with_its_output_and_a_record(moto, s3):
    def add(a, b, *, scale=1):
        print("adding", a, b)
        return {"sum": (a + b) * scale, "items": [a, b]}

    done = launch(moto.url, "--manifest", put_call(s3, add, (2, 3), {"scale": 10}))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "adding 2 3\n" and done.stderr == ""
    data = get_envelope(s3)
    assert results.read_result(data) == {"sum": 50, "items": [2, 3]}
    envelope = pickle.loads(data)
    assert envelope["format"] == RESULT_FORMAT and envelope["ok"] is True and envelope["stdout"] == "adding 2 3\n"
    assert envelope["python"] == ".".join(map(str, sys.version_info[:3])) and envelope["started"] <= envelope["ended"]
    rec = get_record(s3, task=1)
    assert rec["outcome"] == "succeeded" and rec["exit_code"] == 0 and rec["command"] == []
    assert rec["call"]["result"] == f"s3://{BUCKET}/runs/r1/results/1.pkl" and len(rec["call"]["function"]) == 64


def test_a_function_that_raises_comes_back_with_its_traceback_and_what_it_printed(moto, s3):
    def fails(x):
        print("about to fail on", x)
        inner = {"depth": 1}
        raise Boom(f"bad input {x} {inner}")

    done = launch(moto.url, "--manifest", put_call(s3, fails, ("x7",)))
    assert done.returncode == EXIT_CALL_RAISED
    assert done.stdout == "about to fail on x7\n"
    assert "Traceback (most recent call last)" in done.stderr and "Boom: bad input x7" in done.stderr  # the job's log
    envelope = pickle.loads(get_envelope(s3))
    err = envelope["error"]
    assert (envelope["ok"], err["stage"], err["exit_code"]) == (False, "call", EXIT_CALL_RAISED)
    assert err["type"].endswith(".Boom") and err["message"] == "bad input x7 {'depth': 1}"
    # cloudpickle names a by-value function's file "<dynamic-code>"; its line number and name stay
    line = fails.__code__.co_firstlineno + 3
    assert f'File "<dynamic-code>", line {line}, in fails' in err["traceback"] and "callchild" not in err["traceback"]
    assert envelope["stdout"] == "about to fail on x7\n"
    with pytest.raises(Boom) as raised:
        results.read_result(get_envelope(s3))
    assert str(raised.value) == "bad input x7 {'depth': 1}"
    note = "\n".join(getattr(raised.value, "__notes__", [])) or str(raised.value.__cause__)
    assert "Remote traceback" in note and "in fails" in note and "about to fail on x7" in note
    assert raised.value.remote.stdout == "about to fail on x7\n"
    with pytest.raises(Boom) as raised:
        results.read_result(get_envelope(s3), fails)  # given the function: the client's file and source lines
    assert f'File "{__file__}", line {line}, in fails\n    raise Boom(f"bad input {{x}} {{inner}}")' in raised.value.remote.traceback
    rec = get_record(s3, task=1)
    assert rec["outcome"] == "failed" and rec["exit_code"] == EXIT_CALL_RAISED


def test_a_call_pickled_by_another_python_is_refused_and_the_envelope_says_so(moto, s3):
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    done = launch(moto.url, "--manifest", put_call(s3, abs, (-1,), python=other))
    assert done.returncode == EXIT_CALL_SETUP
    assert done.stderr.splitlines() == [
        f"batchdeploy-launch: the call was pickled by Python {other} and this image runs Python "
        f"{'.'.join(map(str, sys.version_info[:3]))}: pickles do not cross Python versions; call from Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}, or use an image with Python {other}"]
    envelope = pickle.loads(get_envelope(s3))
    assert envelope["error"]["type"] == PYTHON_MISMATCH and envelope["error"]["stage"] == "load"
    with pytest.raises(results.RemoteError) as raised:
        results.read_result(get_envelope(s3))
    assert raised.value.type == PYTHON_MISMATCH and raised.value.exit_code == EXIT_CALL_SETUP
    assert get_record(s3, task=1)["outcome"] == "launcher-failed"


def test_a_function_object_whose_sha256_differs_is_refused(moto, s3):
    done = launch(moto.url, "--manifest", put_call(s3, abs, (-1,), tamper=lambda data: data + b"x"))
    assert done.returncode == EXIT_CALL_SETUP
    assert "has sha256" in done.stderr and "not the manifest's" in done.stderr and len(done.stderr.splitlines()) == 1
    err = pickle.loads(get_envelope(s3))["error"]
    assert err["type"] == LAUNCH_FAILED and "has sha256" in err["message"]


def test_a_missing_function_object_and_denied_s3_have_their_codes(moto, s3, proxy):
    url = put_call(s3, abs, (-1,))
    key = next(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"])
    proxy.add(method="GET", bucket=BUCKET, key=key, status=403, code="AccessDenied", message="Access Denied")
    done = launch(moto.url, "--manifest", url, endpoint=proxy.url)
    assert done.returncode == EXIT_S3 and "AccessDenied" in done.stderr
    s3.delete_object(Bucket=BUCKET, Key=key)
    done = launch(moto.url, "--manifest", url)
    assert done.returncode == EXIT_CALL_SETUP and done.stderr.rstrip().endswith(": no such object")
    assert pickle.loads(get_envelope(s3))["error"]["type"] == LAUNCH_FAILED


def test_a_return_value_that_cannot_be_pickled_is_a_failed_result_naming_why(moto, s3):
    def lock():
        import threading

        return threading.Lock()

    done = launch(moto.url, "--manifest", put_call(s3, lock))
    assert done.returncode == EXIT_CALL_SETUP
    err = pickle.loads(get_envelope(s3))["error"]
    assert err["type"] == RESULT_UNPICKLABLE and err["stage"] == "result"
    assert err["message"].startswith("the function returned a _thread.lock, which cannot be pickled: TypeError:")
    with pytest.raises(results.RemoteError, match="which cannot be pickled"):
        results.read_result(get_envelope(s3))


def test_a_function_from_a_module_in_the_code_bundle_imports_it_from_the_bundle(moto, s3, tmp_path):
    code = tmp_path / "project"
    (code / "fnmod_remote").mkdir(parents=True)
    (code / "fnmod_remote" / "__init__.py").write_text("")
    (code / "fnmod_remote" / "work.py").write_text(
        "import os\n\ndef where(n):\n    return (n * 2, os.path.basename(os.getcwd()), open('data.txt').read())\n")
    (code / "data.txt").write_text("from the bundle")
    sys.path.insert(0, str(code))
    try:
        from fnmod_remote.work import where  # pickled by reference: only its module's name travels

        b = bundles.pack(code)
        ref = manifests.upload_bundle(s3, BUCKET, "bd", b)
        url = put_call(s3, where, (21,), bundle=ref)
    finally:
        sys.path.remove(str(code))
        for name in ("fnmod_remote.work", "fnmod_remote"):
            sys.modules.pop(name, None)
    assert b"fnmod_remote.work" in payload.pickle_function(where) and b"return" not in payload.pickle_function(where)
    done = launch(moto.url, "--manifest", url)
    assert done.returncode == 0, done.stderr
    assert results.read_result(get_envelope(s3)) == (42, "code", "from the bundle")


def test_a_process_that_dies_without_a_result_is_named_and_secrets_stay_out(moto, s3):
    def dies():
        import os
        import signal

        print("token is", os.environ["MY_API_TOKEN"], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    done = launch(moto.url, "--manifest", put_call(s3, dies), env={"MY_API_TOKEN": CANARY})
    assert done.returncode == 137
    data = get_envelope(s3)
    assert CANARY.encode() not in data
    envelope = pickle.loads(data)
    assert envelope["error"]["type"] == CALL_DIED and "signal SIGKILL" in envelope["error"]["message"]
    assert envelope["stdout"] == "token is ****\n"


def test_an_exception_whose_text_holds_a_secret_is_masked(moto, s3):
    def leaks():
        import os

        raise RuntimeError("cannot log in with " + os.environ["DB_PASSWORD"])

    done = launch(moto.url, "--manifest", put_call(s3, leaks), env={"DB_PASSWORD": CANARY})
    assert done.returncode == EXIT_CALL_RAISED
    data = get_envelope(s3)
    assert CANARY.encode() not in data
    err = pickle.loads(data)["error"]
    assert err["message"] == "cannot log in with ****" and err["exception"] is None
    assert "".join(traceback.format_exception_only(RuntimeError, RuntimeError("x")))  # the type still reads


def test_a_function_whose_module_is_not_shipped_fails_to_load_and_says_which_module(moto, s3, tmp_path):
    code = tmp_path / "lib"
    code.mkdir()
    (code / "fnmod_not_shipped.py").write_text("def f():\n    return 1\n")
    sys.path.insert(0, str(code))
    try:
        from fnmod_not_shipped import f

        url = put_call(s3, f)  # no bundle: the module is nowhere in the job
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("fnmod_not_shipped", None)
    done = launch(moto.url, "--manifest", url)
    assert done.returncode == EXIT_CALL_SETUP
    assert "ModuleNotFoundError: No module named 'fnmod_not_shipped'" in done.stderr
    err = pickle.loads(get_envelope(s3))["error"]
    assert (err["type"], err["stage"], err["message"]) == ("ModuleNotFoundError", "load", "No module named 'fnmod_not_shipped'")
    with pytest.raises(ModuleNotFoundError):
        results.read_result(get_envelope(s3))
    assert get_record(s3, task=1)["outcome"] == "failed"


def test_a_call_that_exits_with_0_and_no_result_did_not_return(moto, s3):
    def leaves():
        import os

        os._exit(0)

    done = launch(moto.url, "--manifest", put_call(s3, leaves))
    assert done.returncode == EXIT_CALL_SETUP
    assert done.stderr == "batchdeploy-launch: the call's process ended (exit code 0) without a result: os._exit or a crash\n"
    err = pickle.loads(get_envelope(s3))["error"]
    assert (err["type"], err["stage"], err["exit_code"]) == (CALL_DIED, "process", EXIT_CALL_SETUP)
    assert get_record(s3, task=1)["exit_code"] == EXIT_CALL_SETUP


def test_a_result_that_cannot_be_stored_is_exit_117_and_the_record_says_why(moto, s3, proxy):
    url = put_call(s3, abs, (-4,))
    proxy.add(method="PUT", bucket=BUCKET, key="runs/r1/results/", status=403, code="AccessDenied", message="Access Denied")
    done = launch(moto.url, "--manifest", url, endpoint=proxy.url)
    assert done.returncode == EXIT_CALL_SETUP
    assert done.stderr == (f"batchdeploy-launch: cannot store the call's result s3://{BUCKET}/runs/r1/results/1.pkl: "
                           "AccessDenied: Access Denied\n")
    rec = get_record(s3, task=1)
    assert rec["exit_code"] == EXIT_CALL_SETUP and "cannot store the call's result" in rec["launcher_error"]["message"]


def test_sigterm_to_the_launcher_is_raised_where_the_function_was(moto, s3, tmp_path):
    """AWS Batch ends a job (its timeout, a cancel) with SIGTERM to the launcher, which passes it on:
    the call's result then says where the function was, instead of a job that just vanished."""
    marker = str(tmp_path / "started")

    def sleeper():
        import pathlib
        import threading

        pathlib.Path(marker).touch()
        threading.Event().wait(60)  # blocked until the SIGTERM

    url = put_call(s3, sleeper)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCH"))}
    env.update(PYTHONPATH=str(ROOT), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=moto.url)
    proc = subprocess.Popen([sys.executable, "-m", "batchdeploy.launch", "--manifest", url], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(marker), 30, what="the function to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    err = pickle.loads(get_envelope(s3))["error"]
    assert err["type"] == "batchdeploy.launch.callchild.Terminated" and err["stage"] == "call"
    assert err["message"].startswith("the job was ended by SIGTERM (AWS Batch's timeout")
    assert "in sleeper" in err["traceback"] and "threading.Event().wait(60)" not in err["traceback"]  # by value: no source
    with pytest.raises(results.RemoteError, match="ended by SIGTERM") as raised:  # not a BaseException here
        results.read_result(get_envelope(s3))
    assert "in sleeper" in raised.value.traceback
    assert get_record(s3, task=1)["exit_code"] == 143
