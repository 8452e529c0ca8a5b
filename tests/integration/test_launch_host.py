"""The launcher as a process on this machine against a real moto S3 (and the fault proxy): every path
of its order of work, in well under a second each. The same launcher in real job containers on the
local AWS Batch: test_launch_stack.py."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from batchdeploy import bundle as bundles
from batchdeploy import manifest as manifests
from batchdeploy.launch import EXIT_BUNDLE, EXIT_INPUT, EXIT_MANIFEST, EXIT_OUTPUT, EXIT_RECORD, EXIT_S3
from batchdeploy.launch.spec import TASK_STDERR_MARKER

from .conftest import ROOT, wait_for

BUCKET = "launch-bucket"
CANARY = "canary-secret-value-0123456789"


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def launch(moto_url, *args, env=None, cwd=None, endpoint=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCH"))}
    full.update(
        PYTHONPATH=str(ROOT),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint or moto_url,
    )
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "batchdeploy.launch", *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def put_manifest(s3, tasks, **kwargs) -> str:
    m = manifests.build(tasks, records=f"s3://{BUCKET}/runs/r1/", **kwargs)
    return manifests.upload_manifest(s3, BUCKET, "bd", m)


def get_record(s3, task=0, attempt=1) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=f"runs/r1/tasks/{task}/attempt-{attempt}.json")["Body"].read())


PY = sys.executable


def test_a_task_with_a_bundle_inputs_and_outputs_runs_and_leaves_its_record(moto, s3, tmp_path):
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "work.py").write_text(
        "import json, os, sys\n"
        "data = open('data/in.txt').read()\n"
        "os.makedirs('out', exist_ok=True)\n"
        "open('out/result.txt', 'w').write(data.upper() + sys.argv[1] + os.environ['GREETING'])\n"
        "print('to stdout'); print('to stderr', file=sys.stderr)\n"
    )
    b = bundles.pack(code)
    ref = manifests.upload_bundle(s3, BUCKET, "bd", b)
    s3.put_object(Bucket=BUCKET, Key="data/in.txt", Body=b"hello ")
    s3.put_object(Bucket=BUCKET, Key="data/set/a.txt", Body=b"a")
    s3.put_object(Bucket=BUCKET, Key="data/set/sub/b.txt", Body=b"bb")
    task = {
        "command": [PY, "pkg/work.py", "Ref::suffix"],
        "parameters": {"suffix": "!"},
        "environment": {"GREETING": " hi"},
        "inputs": [{"from": f"s3://{BUCKET}/data/in.txt", "to": "data/in.txt"}, {"from": f"s3://{BUCKET}/data/set/", "to": "set/"}],
        "outputs": [{"from": "out/", "to": f"s3://{BUCKET}/results/0/"}],
    }
    url = put_manifest(s3, [task], bundle=ref)
    done = launch(moto.url, "--manifest", url, env={"AWS_BATCH_JOB_ID": "abc"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "to stdout\n" and done.stderr == "to stderr\n"
    got = s3.get_object(Bucket=BUCKET, Key="results/0/result.txt")["Body"].read()
    assert got == b"HELLO ! hi"
    rec = get_record(s3)
    assert rec["exit_code"] == 0 and rec["outcome"] == "succeeded" and rec["signal"] is None
    assert rec["bundle"]["sha256"] == b.sha256 and rec["manifest"]["url"] == url
    assert rec["stderr_tail"] == ["to stderr"] and rec["job_id"] == "abc"
    assert rec["copied"]["inputs"][1] == {"from": f"s3://{BUCKET}/data/set/", "to": "set/", "objects": 2, "bytes": 3}
    assert rec["copied"]["outputs"][0]["bytes"] == len(got)
    assert rec["resources"]["max_rss_kib"] > 1000 and rec["resources"]["cpu_user_s"] >= 0
    assert 0 <= rec["overhead_s"]["before_command"] < 5 and 0 <= rec["overhead_s"]["after_command"] < 5


def test_array_children_pick_their_rows_and_a_failure_is_recorded(moto, s3):
    tasks = [{"parameters": {"code": str(c)}} for c in (0, 3)]
    url = put_manifest(s3, tasks, command=[PY, "-c", "import sys; print('row', sys.argv[1]); sys.exit(int(sys.argv[1]))", "Ref::code"])
    first = launch(moto.url, "--manifest", url, env={"AWS_BATCH_JOB_ID": "p:0"})
    second = launch(moto.url, env={"BATCHDEPLOY_MANIFEST": url, "AWS_BATCH_JOB_ARRAY_INDEX": "1", "AWS_BATCH_JOB_ATTEMPT": "2"})
    assert (first.returncode, first.stdout) == (0, "row 0\n")
    assert (second.returncode, second.stdout) == (3, "row 3\n")
    rec = get_record(s3, task=1, attempt=2)
    assert rec["exit_code"] == 3 and rec["outcome"] == "failed" and rec["attempt"] == 2


def test_stderr_after_the_marker_keeps_the_two_streams_apart_in_one_log(moto, s3):
    """A bag's manifest ("stderr": "after-marker"): stdout live, then pegasus's marker, then stderr,
    all on stdout (the one log stream a bag's reader splits); the record still keeps stderr's tail."""
    script = "import sys; print('out 1', flush=True); print('err 1', file=sys.stderr, flush=True); print('out 2')"
    url = put_manifest(s3, [{}], command=[PY, "-c", script], stderr="after-marker")
    done = launch(moto.url, "--manifest", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"out 1\nout 2\n{TASK_STDERR_MARKER}\nerr 1\n"
    assert "err 1" not in done.stderr
    assert get_record(s3)["stderr_tail"] == ["err 1"]


def test_a_signal_ends_the_command_and_the_record_says_which(moto, s3):
    url = put_manifest(s3, [{"command": [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]}])
    done = launch(moto.url, "--manifest", url)
    assert done.returncode == 137
    rec = get_record(s3)
    assert rec["signal"] == "SIGKILL" and rec["exit_code"] == 137


def test_secrets_in_the_environment_stay_out_of_the_record(moto, s3):
    key_canary, token_canary = CANARY + "-key", CANARY + "-token"
    command = ["sh", "-c", 'echo "leak $MY_API_TOKEN $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN" >&2; exit 1']
    url = put_manifest(s3, [{"command": command}])
    env = {"MY_API_TOKEN": CANARY, "AWS_SECRET_ACCESS_KEY": key_canary, "AWS_SESSION_TOKEN": token_canary}
    done = launch(moto.url, "--manifest", url, env=env)
    # The job's log is the command's own output, untouched; the launcher adds no line of its own.
    assert done.returncode == 1 and done.stderr == f"leak {CANARY} {key_canary} {token_canary}\n"
    raw = s3.get_object(Bucket=BUCKET, Key="runs/r1/tasks/0/attempt-1.json")["Body"].read().decode()
    assert CANARY not in raw and "leak **** **** ****" in raw


def test_a_record_that_cannot_be_written_fails_a_successful_command(moto, s3):
    m = manifests.build([{"command": ["true"]}], records="s3://no-such-records-bucket/runs/")
    done = launch(moto.url, "--manifest", manifests.upload_manifest(s3, BUCKET, "bd", m))
    assert done.returncode == EXIT_RECORD
    assert done.stderr.startswith("batchdeploy-launch: cannot write the task record s3://no-such-records-bucket/runs/tasks/0/")


def test_help_prints_the_launchers_documentation(moto):
    done = launch(moto.url, "--help")
    assert done.returncode == 0 and "Exit codes of the launcher's own failures" in done.stdout


def test_a_missing_manifest_is_one_line_and_its_own_exit_code(moto, s3):
    done = launch(moto.url, "--manifest", f"s3://{BUCKET}/bd/manifests/{'0' * 64}.json", "--records", f"s3://{BUCKET}/runs/r1/")
    assert done.returncode == EXIT_MANIFEST
    assert done.stderr.splitlines() == [f"batchdeploy-launch: cannot read the manifest s3://{BUCKET}/bd/manifests/{'0' * 64}.json: no such object"]
    rec = get_record(s3)
    assert rec["outcome"] == "launcher-failed" and rec["exit_code"] == EXIT_MANIFEST and rec["resources"] is None


def test_s3_denied_is_one_line_and_its_own_exit_code(moto, s3, proxy):
    url = put_manifest(s3, [{"command": ["true"]}])
    proxy.add(method="GET", bucket=BUCKET, status=403, code="AccessDenied", message="Access Denied")
    done = launch(moto.url, "--manifest", url, endpoint=proxy.url)
    assert done.returncode == EXIT_S3
    assert done.stderr.splitlines() == [f"batchdeploy-launch: cannot read the manifest {url}: AccessDenied: Access Denied"]


def test_a_bundle_whose_hash_differs_is_refused(moto, s3, tmp_path):
    (tmp_path / "a.py").write_text("print(1)\n")
    b = bundles.pack(tmp_path)
    ref = manifests.upload_bundle(s3, BUCKET, "bd", b)
    s3.put_object(Bucket=BUCKET, Key=b.key("bd"), Body=b.data + b"x")
    done = launch(moto.url, "--manifest", put_manifest(s3, [{"command": ["true"]}], bundle=ref))
    assert done.returncode == EXIT_BUNDLE
    assert "has sha256" in done.stderr and len(done.stderr.splitlines()) == 1


def test_missing_input_and_missing_output_have_their_codes(moto, s3):
    missing_in = [{"command": ["true"], "inputs": [{"from": f"s3://{BUCKET}/nope.txt", "to": "x"}]}]
    done = launch(moto.url, "--manifest", put_manifest(s3, missing_in))
    assert done.returncode == EXIT_INPUT and "nope.txt: no such object" in done.stderr
    missing_out = [{"command": ["true"], "outputs": [{"from": "never.txt", "to": f"s3://{BUCKET}/o/"}]}]
    done = launch(moto.url, "--manifest", put_manifest(s3, missing_out))
    assert done.returncode == EXIT_OUTPUT and "never.txt" in done.stderr
    assert get_record(s3)["command_exit_code"] == 0


def test_fetch_and_run_a_script_and_a_zip(moto, s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="s.sh", Body=b"#!/bin/sh\necho script got \"$@\"\nexit 4\n")
    env = {"BATCH_FILE_TYPE": "script", "BATCH_FILE_S3_URL": f"s3://{BUCKET}/s.sh"}
    done = launch(moto.url, "s.sh", "a", "b c", env=env)
    assert (done.returncode, done.stdout) == (4, "script got a b c\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("run.sh", "#!/bin/sh\necho zip got \"$1\" in $(basename $(pwd))\n")
    s3.put_object(Bucket=BUCKET, Key="z.zip", Body=buf.getvalue())
    done = launch(moto.url, "run.sh", "x", env={"BATCH_FILE_TYPE": "zip", "BATCH_FILE_S3_URL": f"s3://{BUCKET}/z.zip"})
    assert done.returncode == 0 and done.stdout.startswith("zip got x in tmp.")
    done = launch(moto.url, "nothere.sh", env={"BATCH_FILE_TYPE": "zip", "BATCH_FILE_S3_URL": f"s3://{BUCKET}/z.zip"})
    assert done.returncode == 1 and "Did not find specified script './nothere.sh' in zip from" in done.stderr
    done = launch(moto.url, "s", env={"BATCH_FILE_TYPE": "script", "BATCH_FILE_S3_URL": f"s3://{BUCKET}/absent"})
    assert (done.returncode, done.stderr) == (1, "batchdeploy.launch - Failed to download S3 script.\n")


def test_a_sigterm_to_the_launcher_reaches_the_command_and_the_record_is_still_written(moto, s3, tmp_path):
    # AWS Batch ends a job with `docker stop`: SIGTERM to the launcher (PID 1), which passes it on.
    marker = tmp_path / "started"
    url = put_manifest(s3, [{"command": ["sh", "-c", f"touch '{marker}'; exec sleep 30"]}])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCH"))}
    env.update(PYTHONPATH=str(ROOT), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=moto.url)
    proc = subprocess.Popen([sys.executable, "-m", "batchdeploy.launch", "--manifest", url], env=env)
    try:
        wait_for(marker.exists, 30, what="the command to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    rec = get_record(s3)
    assert (rec["signal"], rec["exit_code"]) == ("SIGTERM", 143)


def test_fetch_and_run_leaves_the_scripts_environment_as_the_job_had_it(moto, s3):
    s3.put_object(Bucket=BUCKET, Key="env.sh", Body=b"echo metadata=${AWS_EC2_METADATA_DISABLED:-unset}\n")  # no #! line
    done = launch(moto.url, "env.sh", env={"BATCH_FILE_TYPE": "script", "BATCH_FILE_S3_URL": f"s3://{BUCKET}/env.sh"})
    assert (done.returncode, done.stdout) == (0, "metadata=unset\n")
