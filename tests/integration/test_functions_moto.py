"""Python functions against the moto server (API level: jobs end at once, no container runs, so no
result is ever written): one job definition per (image, resources) reused across maps, one array job
per map, the run record and --status RUN_ID, -u --prune cleaning function definitions, a lost SubmitJob
answer, a submit killed between run.json and submitted.json, and every refusal before anything is sent.
The API runs in this process as a notebook runs it; nothing of batchdeploy is replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from batchdeploy import runs
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.functions import api, futures
from batchdeploy.functions import options as fopts
from batchdeploy.jobs.prune import function_definitions
from tests.conftest import ROOT
from tests.run_support import JOB_DEFINITION, FakeClock, inprocess, make_batch, setup_project

BUCKET = "fn-bucket"
IMAGE = JOB_DEFINITION["containerProperties"]["image"]  # registry.example/demo:c0ffee12
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def square(x):
    return x * x


def write_images(project, python: str | None = PY, launcher: bool = True) -> None:
    repo, _, tag = IMAGE.rpartition(":")
    entry = {"repository": repo, "tag": tag, "launcher": launcher, **({"python": python} if python else {})}
    (project.path / ".batchdeploy" / "images.json").write_text(json.dumps({"images": {"demo": entry}}))


@pytest.fixture
def fn_project(project, aws, monkeypatch):
    env = make_batch(aws)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    project.write_json("job-definition.json", JOB_DEFINITION)
    write_images(project)
    monkeypatch.chdir(project.path)  # the API finds .aws_env from the working folder, as the CLI does
    return project, env


def remote(fn=square, clock=None, **options):
    t = clock or FakeClock()
    return api.Remote(fn, fopts.parse(options), sleep=t.sleep, clock=t.clock)


def fn_definitions(aws) -> list[dict]:
    return function_definitions(aws.client("batch"), "demo")


def parents(aws, queue) -> list[dict]:
    batch = aws.client("batch")
    ids = [j["jobId"] for s in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
           for j in batch.list_jobs(jobQueue=queue, jobStatus=s)["jobSummaryList"] if ":" not in j["jobId"]]
    return batch.describe_jobs(jobs=ids)["jobs"] if ids else []


def test_two_maps_register_one_definition_and_submit_one_array_each(moto, aws, fn_project, proxy, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    f = remote(vcpus=2, memory=1024)
    first = f.map_async(range(5))
    got = first.results(return_exceptions=True)
    second = f.map_async(range(7))
    assert proxy.count("registerjobdefinition") == 1 and proxy.count("submitjob") == 2
    defs = fn_definitions(aws)
    assert len(defs) == 1 and defs[0]["revision"] == 1 and defs[0]["jobDefinitionName"].startswith("demo-fn-")
    assert defs[0]["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "1024"}]
    sizes = sorted(j["arrayProperties"]["size"] for j in parents(aws, fn_project[1]["queue"]))
    assert sizes == [5, 7]
    # moto runs no container: each call ended with no result, said with AWS's words, none lost
    assert len(got) == 5 and all(isinstance(e, futures.CallFailed) for e in got)
    assert "call 0 (job " in str(got[0]) and "ended with no result: SUCCEEDED" in str(got[0])
    with pytest.raises(futures.MapError) as caught:
        second.results()
    assert len(caught.value.errors) == 7 and caught.value.results == [None] * 7


def test_another_resource_request_is_another_definition_and_a_gpu_is_a_resource_requirement(moto, aws, fn_project):
    remote(gpus=1).submit(3)
    remote(gpus=1).submit(4)
    remote(memory=4096).submit(3)
    defs = fn_definitions(aws)
    assert len(defs) == 2
    gpu = [d for d in defs if any(r["type"] == "GPU" for r in d["containerProperties"]["resourceRequirements"])]
    assert gpu[0]["containerProperties"]["resourceRequirements"][-1] == {"type": "GPU", "value": "1"}


def test_a_function_run_is_a_run_record_and_status_shows_its_calls(moto, aws, fn_project):
    handle = remote().map_async([1, 2, 3])
    s3 = aws.client("s3")
    run = runs.read_run(s3, BUCKET, "runs", handle.run_id)
    assert run["kind"] == "function" and run["state"] == "submitted" and run["job_ids"] == handle.job_ids
    assert run["function"]["name"] == "square" and run["function"]["calls"] == 3 and run["function"]["python"] == PY
    assert run["function"]["results"] == f"s3://{BUCKET}/runs/{handle.run_id}/results/"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=run["manifest"]["url"].split("/", 3)[3])["Body"].read())
    assert [t["id"] for t in manifest["tasks"]] == [1, 2, 3]
    assert manifest["tasks"][0]["call"]["result"] == f"s3://{BUCKET}/runs/{handle.run_id}/results/1.pkl"
    handle.results(return_exceptions=True)
    code, out, err = inprocess(["status", handle.run_id])
    assert code == 0, err
    assert f"run {handle.run_id} (square): 3 tasks: 3 SUCCEEDED" in out
    code, out, _ = inprocess(["status", handle.run_id, "--output", "json"])
    assert [t["job_id"] for t in json.loads(out)["tasks"]] == [f"{handle.job_ids[0]}:{i}" for i in range(3)]


def test_prune_deregisters_function_definitions_no_active_job_uses(moto, aws, fn_project):
    remote().map_async(range(3)).results(return_exceptions=True)
    remote(memory=1024).submit(1).exception()
    assert len(fn_definitions(aws)) == 2
    code, out, err = inprocess(["update-jobs", "--prune", "1"])
    assert code == 0, err
    assert out.count("(function definition)") == 2 and fn_definitions(aws) == []
    remote().submit(2)  # the next call registers it again: one request
    assert len(fn_definitions(aws)) == 1


def test_a_lost_submit_answer_makes_one_job(moto, aws, fn_project, proxy, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    proxy.add(operation="submitjob", nth=1, drop=True)
    future = remote().submit(3)
    assert proxy.count("submitjob") == 1
    assert [j["jobId"] for j in parents(aws, fn_project[1]["queue"])] == [future.job_id]


def test_a_submit_killed_between_run_json_and_submitted_json_is_found_by_its_token(moto, aws, fn_project, proxy):
    project, env = fn_project
    script = "from batchdeploy.functions import batch\nbatch(lambda x: x + 1).map_async(range(4))\n"
    procs = []
    proxy.add(operation="submitjob", nth=1, before=lambda request: procs[0].send_signal(signal.SIGKILL))
    procs.append(subprocess.Popen([sys.executable, "-c", script], cwd=project.path,
                                  env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": proxy.url},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert procs[0].wait(120) == -signal.SIGKILL
    s3 = aws.client("s3")
    (run_id,) = runs.list_run_ids(s3, BUCKET, "runs")
    assert runs.read_run(s3, BUCKET, "runs", run_id)["state"] == "submitting"
    code, out, err = inprocess(["status", run_id, "--output", "json"])
    assert code == 0, err
    tasks = json.loads(out)["tasks"]
    assert len(tasks) == 4 and all(t["job_id"] and t["state"] != "pending" for t in tasks)


def nothing_sent(aws, queue) -> bool:
    return fn_definitions(aws) == [] and parents(aws, queue) == [] and \
        "Contents" not in aws.client("s3").list_objects_v2(Bucket=BUCKET)


def test_an_unpicklable_argument_is_refused_before_anything(moto, aws, fn_project):
    with pytest.raises(UsageError) as caught:
        remote().submit(threading.Lock())
    assert "lock" in caught.value.line().lower() and "\n" not in caught.value.line()
    assert nothing_sent(aws, fn_project[1]["queue"])


def test_a_python_version_mismatch_is_refused_before_anything(moto, aws, fn_project):
    write_images(fn_project[0], python="3.7")
    with pytest.raises(UsageError, match=f"this Python is {PY} and image {IMAGE} has Python 3.7"):
        remote().map([1, 2])
    assert nothing_sent(aws, fn_project[1]["queue"])


def test_an_image_without_a_recorded_version_is_said_and_submitted(moto, aws, fn_project, capsys):
    write_images(fn_project[0], python=None)
    remote().submit(1)
    assert "cannot be checked" in capsys.readouterr().err


def test_no_bucket_and_no_launcher_are_refused_before_anything(moto, aws, fn_project):
    project, env = fn_project
    with pytest.raises(ConfigError, match="configuration"):
        remote(settings={"S3_BUCKET": ""}).submit(1)
    write_images(project, launcher=False)
    with pytest.raises(UsageError, match="a function runs in the launcher"):
        remote().submit(1)
    assert nothing_sent(aws, env["queue"])


def test_no_secret_reaches_the_run_record_the_manifest_or_the_result_objects(moto, aws, fn_project):
    from tests.run_support import DB_CANARY, STS_SECRET

    handle = remote().map_async([1, 2])
    s3 = aws.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        assert DB_CANARY.encode() not in body and STS_SECRET.encode() not in body, item["Key"]
    state = fn_project[0].path / ".batchdeploy"
    for path in state.iterdir():
        assert DB_CANARY not in path.read_text() and STS_SECRET not in path.read_text(), path
    # the canaries were in play: they reach the job through its environment, as -r's do
    job = aws.client("batch").describe_jobs(jobs=handle.job_ids)["jobs"][0]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["POSTGRES_PASSWORD"] == DB_CANARY and env["AWS_SECRET_ACCESS_KEY"] == STS_SECRET
