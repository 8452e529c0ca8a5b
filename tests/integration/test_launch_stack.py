"""The launcher in real job containers on the local AWS Batch (moto's Batch running podman containers).

How the launcher gets into the image: the one Dockerfile line docs/launcher.md documents,
`COPY batchdeploy-launch /usr/local/bin/`, on a context that holds only the launcher file
(`batchdeploy.launch.zipapp` writes it from batchdeploy/launch alone), FROM the stack's base image
(Debian's python3 and botocore 1.29, which ignores AWS_ENDPOINT_URL). Nothing else of batchdeploy is
in the image, so these runs also prove the launcher needs nothing but the standard library and botocore.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import uuid
import zipfile

import pytest

from batchdeploy import bundle as bundles
from batchdeploy import manifest as manifests
from batchdeploy.functions import payload, results
from batchdeploy.launch import EXIT_MANIFEST, EXIT_S3
from batchdeploy.launch.calls import EXIT_CALL_RAISED
from batchdeploy.launch.spec import MANIFEST_FORMAT, canonical_json, sha256_hex
from batchdeploy.launch.zipapp import write as write_launcher
from tests.fault_proxy import FaultProxy

from .test_local_stack import Batch, unique

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

LAUNCH = ["batchdeploy-launch", "--manifest", "Ref::manifest", "--records", "Ref::records"]


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


@pytest.fixture(scope="module")
def launcher_image(local_stack, tmp_path_factory):
    context = tmp_path_factory.mktemp("launcher image")
    write_launcher(str(context / "batchdeploy-launch"))
    (context / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY batchdeploy-launch /usr/local/bin/\n")
    image = f"{local_stack.registry}/launcher-test:{uuid.uuid4().hex[:8]}"
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    local_stack.cli("build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", image, str(context), timeout=300)
    local_stack.cli("push", image, timeout=300)
    return image


def job_definition(batch: Batch, image: str, command: list, endpoint: str | None = None) -> str:
    env = {
        "AWS_ENDPOINT_URL": endpoint or batch.stack.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return batch.batch.register_job_definition(
        jobDefinitionName=unique("launch"),
        type="container",
        containerProperties={
            "image": image,
            "vcpus": 1,
            "memory": 256,
            "command": command,
            "environment": [{"name": k, "value": v} for k, v in env.items()],
        },
    )["jobDefinitionArn"]


def run_manifest(batch: Batch, jd: str, tasks: list, run: str, **kwargs) -> tuple[str, str]:
    """Uploads the manifest and submits one job (an array when there are several tasks)."""
    m = manifests.build(tasks, **kwargs)
    url = manifests.upload_manifest(batch.s3, batch.bucket, "bd", m)
    array = {"arrayProperties": {"size": len(tasks)}} if len(tasks) > 1 else {}
    params = {"manifest": url, "records": f"s3://{batch.bucket}/runs/{run}/"}
    return batch.submit(jd, parameters=params, **array), url


def task_record(batch: Batch, run: str, task: int = 0) -> dict:
    return batch.get_json(f"runs/{run}/tasks/{task}/attempt-1.json")


def test_array_children_read_their_own_rows(batch, launcher_image):
    jd = job_definition(batch, launcher_image, LAUNCH)
    script = "import sys; print('row', sys.argv[1]); open('out.txt', 'w').write(sys.argv[1] * 2)"
    tasks = [
        {"parameters": {"word": w}, "outputs": [{"from": "out.txt", "to": f"s3://{batch.bucket}/rows/{i}.txt"}]}
        for i, w in enumerate(["alpha", "beta"])
    ]
    parent, _ = run_manifest(batch, jd, tasks, "array", command=["python3", "-c", script, "Ref::word"])
    children = [batch.wait(f"{parent}:{i}") for i in range(2)]
    assert [c["status"] for c in children] == ["SUCCEEDED"] * 2, [batch.log_lines(c) for c in children]
    for i, word in enumerate(["alpha", "beta"]):
        assert batch.s3.get_object(Bucket=batch.bucket, Key=f"rows/{i}.txt")["Body"].read().decode() == word * 2
        assert batch.log_lines(children[i]) == [f"row {word}"]
        rec = task_record(batch, "array", i)
        assert rec["exit_code"] == 0 and rec["job_id"] == f"{parent}:{i}" and rec["host"]


def test_a_changed_code_bundle_changes_the_result_with_no_rebuild(batch, launcher_image, tmp_path):
    jd = job_definition(batch, launcher_image, LAUNCH)
    code = tmp_path / "project"
    code.mkdir()
    # 10 MB that does not compress: the overhead the bench asks about, measured in the container
    (code / "weights.bin").write_bytes(os.urandom(10 * 1024 * 1024))
    results = []
    for n, answer in enumerate(["41", "42"]):
        (code / "experiment.py").write_text(f"print('answer', {answer})\n")
        b = bundles.pack(code)
        ref = manifests.upload_bundle(batch.s3, batch.bucket, "bd", b)
        job_id, _ = run_manifest(batch, jd, [{"command": ["python3", "experiment.py"]}], f"code{n}", bundle=ref)
        job = batch.wait(job_id)
        assert job["status"] == "SUCCEEDED", batch.log_lines(job)
        rec = task_record(batch, f"code{n}")
        assert rec["bundle"]["sha256"] == b.sha256
        results.append((batch.log_lines(job), b.sha256, rec["overhead_s"]))
    assert [r[0] for r in results] == [["answer 41"], ["answer 42"]]
    assert results[0][1] != results[1][1]
    before, after = results[1][2]["before_command"], results[1][2]["after_command"]
    phases = task_record(batch, "code1")["phases_s"]
    print(f"launcher overhead with a 10 MB bundle: start->command {before:.3f}s, command end->record {after:.3f}s; {phases}")
    assert before < 10 and after < 5


def test_a_failing_command_has_its_exit_code_in_the_task_record(batch, launcher_image):
    jd = job_definition(batch, launcher_image, LAUNCH)
    job_id, _ = run_manifest(batch, jd, [{"command": ["sh", "-c", "echo broken >&2; exit 3"]}], "failing")
    job = batch.wait(job_id)
    assert job["status"] == "FAILED"
    assert (job["container"]["exitCode"], job["statusReason"]) == (3, "Essential container in task exited")
    rec = task_record(batch, "failing")
    assert (rec["exit_code"], rec["outcome"], rec["stderr_tail"]) == (3, "failed", ["broken"])


def test_a_missing_manifest_fails_with_the_launchers_code_and_one_line(batch, launcher_image):
    jd = job_definition(batch, launcher_image, LAUNCH)
    url = f"s3://{batch.bucket}/bd/manifests/{'0' * 64}.json"
    job = batch.wait(batch.submit(jd, parameters={"manifest": url, "records": f"s3://{batch.bucket}/runs/missing/"}))
    assert job["status"] == "FAILED"
    assert batch.log_lines(job) == [f"batchdeploy-launch: cannot read the manifest {url}: no such object"]
    summaries = batch.batch.list_jobs(jobQueue=batch.queue, jobStatus="FAILED")["jobSummaryList"]
    assert [s["container"]["exitCode"] for s in summaries if s["jobId"] == job["jobId"]] == [EXIT_MANIFEST]
    assert task_record(batch, "missing")["exit_code"] == EXIT_MANIFEST


def test_s3_denied_through_the_fault_proxy_is_the_launchers_code_and_one_line(batch, launcher_image):
    proxy = FaultProxy(batch.stack.endpoint)
    try:
        proxy.add(method="GET", bucket=batch.bucket, key="manifests/", status=403, code="AccessDenied", message="Access Denied")
        jd = job_definition(batch, launcher_image, LAUNCH, endpoint=proxy.url)
        job_id, url = run_manifest(batch, jd, [{"command": ["true"]}], "denied")
        job = batch.wait(job_id)
    finally:
        proxy.close()
    assert job["status"] == "FAILED"
    assert batch.log_lines(job) == [f"batchdeploy-launch: cannot read the manifest {url}: AccessDenied: Access Denied"]
    summaries = batch.batch.list_jobs(jobQueue=batch.queue, jobStatus="FAILED")["jobSummaryList"]
    assert [s["container"]["exitCode"] for s in summaries if s["jobId"] == job_id] == [EXIT_S3]


def fetch_and_run(batch: Batch, jd: str, kind: str, url: str) -> dict:
    env = [{"name": "BATCH_FILE_TYPE", "value": kind}, {"name": "BATCH_FILE_S3_URL", "value": url}]
    creds = [{"name": "AWS_ACCESS_KEY_ID", "value": "testing"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "testing"}]
    job_id = batch.batch.submit_job(
        jobName=unique("far"), jobQueue=batch.queue, jobDefinition=jd, containerOverrides={"environment": env + creds}
    )["jobId"]
    return batch.wait(job_id)


def test_fetch_and_run_with_a_script_and_with_a_zip(batch, launcher_image):
    jd = job_definition(batch, launcher_image, ["batchdeploy-launch", "job.sh", "one", "two"])
    batch.s3.put_object(Bucket=batch.bucket, Key="far/job.sh", Body=b'#!/bin/sh\necho "script args: $*"\n')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("job.sh", '#!/bin/sh\necho "zip args: $*, beside: $(cat data.txt)"\n')
        z.writestr("data.txt", "from the zip")
    batch.s3.put_object(Bucket=batch.bucket, Key="far/job.zip", Body=buf.getvalue())
    script = fetch_and_run(batch, jd, "script", f"s3://{batch.bucket}/far/job.sh")
    packed = fetch_and_run(batch, jd, "zip", f"s3://{batch.bucket}/far/job.zip")
    assert (script["status"], batch.log_lines(script)) == ("SUCCEEDED", ["script args: one two"])
    assert (packed["status"], batch.log_lines(packed)) == ("SUCCEEDED", ["zip args: one two, beside: from the zip"])
    missing = fetch_and_run(batch, jd, "script", f"s3://{batch.bucket}/far/absent.sh")
    assert missing["status"] == "FAILED"
    assert batch.log_lines(missing) == ["batchdeploy-launch - Failed to download S3 script."]



def test_function_calls_run_in_the_bookworm_image_with_the_launchers_own_cloudpickle(batch, launcher_image, tmp_path):
    """Two calls as one array job: one returns (a closure over a local value, so pickled by value),
    one raises; the image has no cloudpickle but the one in the launcher's zip."""
    image_python = batch.stack.cli("run", "--rm", "--entrypoint", "python3", launcher_image, "-c",
                                   "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()
    if image_python != payload.client_python():
        pytest.skip(f"the image's Python is {image_python} and this one {payload.client_python()}: pickles do not cross")
    offset = 100

    def compute(x):
        import cloudpickle

        print("computing", x, "with cloudpickle from", cloudpickle.__file__, flush=True)
        if x < 0:
            raise ArithmeticError(f"negative input {x}")
        return {"square": x * x + offset}

    function = payload.pickle_function(compute)
    prefix = payload.functions_prefix("bd")
    tasks = []
    for n, x in enumerate([7, -1], 1):
        arguments = payload.pickle_arguments((x,), {})
        for key, data in payload.uploads(function, arguments, prefix=prefix).items():
            batch.s3.put_object(Bucket=batch.bucket, Key=key, Body=data)
        result = f"s3://{batch.bucket}/runs/calls/results/{n}.pkl"
        tasks.append({"id": n, "call": payload.call_object(function, arguments, bucket=batch.bucket, prefix=prefix,
                                                            result=result)})
    doc = {"format": MANIFEST_FORMAT, "bundle": None, "records": None, "command": None, "environment": {}, "tasks": tasks}
    data = canonical_json(doc)
    key = f"bd/manifests/{sha256_hex(data)}.json"
    batch.s3.put_object(Bucket=batch.bucket, Key=key, Body=data)
    jd = job_definition(batch, launcher_image, LAUNCH)
    params = {"manifest": f"s3://{batch.bucket}/{key}", "records": f"s3://{batch.bucket}/runs/calls/"}
    parent = batch.submit(jd, parameters=params, arrayProperties={"size": 2})
    ok, failed = (batch.wait(f"{parent}:{i}") for i in range(2))

    def envelope(n):
        return batch.s3.get_object(Bucket=batch.bucket, Key=f"runs/calls/results/{n}.pkl")["Body"].read()

    assert ok["status"] == "SUCCEEDED", batch.log_lines(ok)
    assert results.read_result(envelope(1)) == {"square": 149}
    assert batch.log_lines(ok) == ["computing 7 with cloudpickle from /usr/local/bin/batchdeploy-launch/cloudpickle/__init__.py"]
    assert pickle.loads(envelope(1))["python"].startswith("3.11.")
    assert failed["status"] == "FAILED"
    with pytest.raises(ArithmeticError, match="negative input -1") as raised:
        results.read_result(envelope(2))
    assert "in compute" in raised.value.remote.traceback and raised.value.remote.stdout.startswith("computing -1")
    assert "ArithmeticError: negative input -1" in batch.log_lines(failed)  # the traceback in the job's log too
    assert task_record(batch, "calls", 2)["exit_code"] == EXIT_CALL_RAISED
    rec = task_record(batch, "calls", 1)
    print(f"function call in the container: start->call process {rec['overhead_s']['before_command']:.3f}s, "
          f"call process {rec['resources']['wall_s']:.3f}s, its end->record {rec['overhead_s']['after_command']:.3f}s")
    assert sys.version_info[:2] == (3, 11)  # this test ran a 3.11 pickle in the image
