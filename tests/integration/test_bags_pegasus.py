"""pegasus-aws-batch against the in-process moto server (API level: jobs end without a container, so
each task's log lines are written to its stream by the test just before they are fetched): files,
logs, jobstate, merge, run-scoped resources, exit codes, refusals before any change, request counts."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from batchdeploy.bags import pegasus
from batchdeploy.bags.logs import TASK_STDERR_SEPARATOR
from tests.bags_support import logs_written
from tests.conftest import REGION, RequestCounter
from tests.fault_proxy import FaultProxy
from tests.run_support import FakeClock

ACCOUNT = "123456789012"
CANARY = "canary-secret-5f1e9a77c0"
JOB_DEFINITION = {"type": "container", "containerProperties": {
    "image": "registry.example/fetch-and-run:1", "vcpus": 1, "memory": 512, "command": ["myjob.sh"],
    "environment": [{"name": "API_TOKEN", "value": CANARY}]}}


def compute_env(aws) -> dict:
    iam = aws.client("iam")
    try:
        role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="batch-service")["Role"]["Arn"]
    return {"type": "UNMANAGED", "state": "ENABLED", "serviceRole": role}


def task(name: str, args: str = "1", env: dict | None = None) -> dict:
    out = {"jobName": name, "executable": "myjob.sh", "arguments": args}
    if env:
        out["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    return out


@pytest.fixture
def bag_dir(tmp_path, aws, monkeypatch):
    """A pegasus user's folder: job definition and compute environment files, inputs, submit file."""
    d = tmp_path / "pegasus run"
    d.mkdir()
    (d / "jd.json").write_text(json.dumps(JOB_DEFINITION))
    (d / "ce.json").write_text(json.dumps(compute_env(aws)))
    (d / "myjob.sh").write_text("#!/bin/sh\necho hi\n")
    (d / "input-a.txt").write_text("a\n")
    (d / "pegasusrc").write_text(f"pegasus.aws.region={REGION}\npegasus.aws.account={ACCOUNT}\n")
    (d / "submit.json").write_text(json.dumps({"SubmitJob": [
        task("t1", env={"TRANSFER_INPUT_FILES": str(d / "input-a.txt")}), task("t2", "2")]}))
    return d


def run(d: Path, *argv: str, clock: FakeClock | None = None) -> tuple[int, str]:
    clock = clock or FakeClock()
    world = pegasus.World(cwd=d, environ=dict(os.environ), home=None, sleep=clock.sleep, clock=clock.clock)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = pegasus.main(list(argv), world)
    return code, err.getvalue()


def standard_lines(name: str) -> list[str]:
    return [f"out of {name}", TASK_STDERR_SEPARATOR, f"err of {name}", "PegasusAWSBatchLaunch: exitcode 0"]


def leftovers(aws) -> dict:
    batch = aws.client("batch")
    return {
        "ce": [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]
               if c.get("status") != "DELETED"],
        "queues": [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"] if q.get("status") != "DELETED"],
        "jd": [j["jobDefinitionName"] for j in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]],
        "buckets": [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]],
    }


def test_a_run_creates_runs_fetches_and_deletes_what_it_created(aws, moto, bag_dir, proxy, monkeypatch):
    before = leftovers(aws)
    with logs_written(aws, proxy, monkeypatch, standard_lines):
        code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "ce.json",
                        "-f", "myjob.sh", "-m", "merged", "submit.json")
    assert code == 0, err
    assert leftovers(aws) == before  # job definition, compute env, queue and bucket all gone
    merged = (bag_dir / "merged.out").read_text().splitlines()
    assert merged[0] == "out of t1" and merged[1].startswith('[cluster-task id=1, name="t1"')
    assert merged[-1].startswith("[cluster-summary tasks=2, succeeded=2, failed=0, duration=")
    assert (bag_dir / "merged.err").read_text() == "err of t1\nPegasusAWSBatchLaunch: exitcode 0\n" \
        "err of t2\nPegasusAWSBatchLaunch: exitcode 0\n"
    assert not (bag_dir / "t1.out").exists()  # merged, then removed as pegasus does
    states = [line.split()[1:3] for line in (bag_dir / "peg.jobstate.log").read_text().splitlines()]
    assert ["t1", "SUBMITTED"] in states and ["t2", "SUCCEEDED"] in states
    assert proxy.count("submitjob") == 2  # batchdeploy's requests, on the proxy (the log hook's go to moto)
    assert proxy.count("describejobs") == 1  # one poll saw both ended
    assert CANARY not in err


def test_files_are_uploaded_once_content_addressed_and_the_tasks_are_told(aws, moto, bag_dir, proxy, monkeypatch):
    aws.client("s3").create_bucket(Bucket="kept-bucket")
    argv = ("-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "ce.json", "-s", "s3://kept-bucket/in/put",
            "-f", "myjob.sh", "submit.json")
    with logs_written(aws, proxy, monkeypatch, standard_lines):
        code, err = run(bag_dir, *argv)
    sent = proxy.bodies("submitjob")  # what batchdeploy sent AWS, as AWS got it
    assert code == 0, err
    assert "2 uploaded, 0 unchanged" in err
    keys = sorted(o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="kept-bucket")["Contents"])
    assert keys == ["in/put/input-a.txt", "in/put/myjob.sh"]  # the bucket existed: kept, with its files
    env = {e["name"]: e["value"] for e in sent[0]["containerOverrides"]["environment"]}
    assert env == {"TRANSFER_INPUT_FILES": "input-a.txt,myjob.sh", "PEGASUS_AWS_BATCH_BUCKET": "s3://kept-bucket/in/put/",
                   "PEGASUS_JOB_NAME": "t1"}
    assert sent[0]["containerOverrides"]["command"] == ["myjob.sh", "1"]
    with logs_written(aws, proxy, monkeypatch, standard_lines):
        code, err = run(bag_dir, *argv)
    assert code == 0 and "0 uploaded, 2 unchanged" in err
    (bag_dir / "input-a.txt").write_text("changed\n")
    with logs_written(aws, proxy, monkeypatch, standard_lines):
        code, err = run(bag_dir, *argv)
    assert code == 0 and "1 uploaded, 1 unchanged" in err


@pytest.mark.parametrize("submit, problem", [
    ({"SubmitJob": {"jobName": "x"}}, "SubmitJob value should be of type array"),
    ({"SubmitJob": [task("same"), task("same")]}, "jobName same is also"),
    ({"SubmitJob": [task("a", env={"TRANSFER_INPUT_FILES": "missing.txt"})]}, "names missing.txt, which is missing"),
    ({"SubmitJob": [task("a", env={"TRANSFER_INPUT_FILES": "sub/myjob.sh"})]}, "share the basename myjob.sh"),
])
def test_bad_submit_files_are_refused_before_any_change(aws, moto, bag_dir, submit, problem):
    (bag_dir / "sub").mkdir()
    (bag_dir / "sub" / "myjob.sh").write_text("other\n")
    (bag_dir / "bad.json").write_text(json.dumps(submit))
    counter = RequestCounter(moto)
    code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "ce.json",
                    "-f", "myjob.sh", "bad.json")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and problem in err, err
    assert counter.since() == []  # not one request: nothing created, uploaded or submitted


def test_a_failed_task_exits_1_with_its_stderr_in_its_err_and_the_summary_counting_it(
        moto, failing_moto, bag_dir, monkeypatch):
    from batchdeploy.aws import Aws, AwsSettings

    failing_moto.reset()
    failing_moto.batch_use_docker(False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", failing_moto.url)
    aws = Aws(AwsSettings(region=REGION, endpoint_url=failing_moto.url))
    (bag_dir / "ce.json").write_text(json.dumps(compute_env(aws)))
    proxy = FaultProxy(failing_moto.url)
    try:
        with logs_written(aws, proxy, monkeypatch, lambda n: ["starting", TASK_STDERR_SEPARATOR, f"{n}: No such file",
                                                             "exitcode 1"]):
            code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "ce.json", "submit.json")
    finally:
        proxy.close()
    assert code == 1, err
    assert (bag_dir / "t1.err").read_text() == "t1: No such file\nexitcode 1\n"
    assert 'state=failed, status=1' in (bag_dir / "t1.out").read_text()
    assert "[cluster-summary tasks=2, succeeded=0, failed=2, app=pegasus-aws-batch]" in err
    assert leftovers(aws)["queues"] == [] and leftovers(aws)["buckets"] == []


def test_with_the_launcher_a_bag_is_one_array_job_and_each_task_keeps_its_files(aws, moto, bag_dir, proxy, monkeypatch):
    jd = json.loads((bag_dir / "jd.json").read_text())
    jd["containerProperties"]["environment"] = [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/usr/local/bin/batchdeploy-launch"}]
    (bag_dir / "jd.json").write_text(json.dumps(jd))
    (bag_dir / "many.json").write_text(json.dumps({"SubmitJob": [task(f"t{i}", str(i)) for i in range(1, 8)]}))
    clock = FakeClock()
    with logs_written(aws, proxy, monkeypatch, standard_lines):
        code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "ce.json", "many.json",
                        clock=clock)
    assert code == 0, err
    assert "submitted 7 tasks as 1 array job and 0 single" in err
    assert proxy.count("submitjob") == 1
    for i in range(1, 8):
        assert (bag_dir / f"t{i}.out").read_text().startswith(f"out of t{i}\n[cluster-task id={i}, name=\"t{i}\"")
        assert (bag_dir / f"t{i}.err").read_text().startswith(f"err of t{i}\n")
    states = [line.split() for line in (bag_dir / "peg.jobstate.log").read_text().splitlines()]
    assert {s[3].rsplit(":", 1)[1] for s in states if s[2] == "SUCCEEDED"} == {str(i) for i in range(7)}


def test_an_aws_error_is_one_line_exit_2_without_the_secret_key_and_nothing_is_left(aws, moto, bag_dir, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-key-0b7f3e19d2")  # moto takes any key
    (bag_dir / "bad-ce.json").write_text(json.dumps({"type": "UNMANAGED", "state": "ENABLED", "serviceRole": 7}))
    before = leftovers(aws)
    code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-j", "jd.json", "--ce", "bad-ce.json", "submit.json")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("pegasus-aws-batch: error: ")
    assert "canary-key-0b7f3e19d2" not in err
    assert leftovers(aws) == before  # the job definition registered before the failure was deleted


def test_create_that_fails_half_way_deletes_what_it_had_made(aws, moto, bag_dir):
    (bag_dir / "bad-ce.json").write_text(json.dumps({"type": "UNMANAGED", "state": "ENABLED", "serviceRole": 7}))
    before = leftovers(aws)
    code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-c", "-j", "jd.json", "--ce", "bad-ce.json")
    assert code == 2 and "deleted job definition" in err
    assert leftovers(aws) == before
    code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-c", "-j", "jd.json", "--ce", "ce.json")
    assert code == 0, err
    assert "peg-compute-env" in leftovers(aws)["ce"] and "peg-job-definition" in leftovers(aws)["jd"]  # -c keeps them
    code, err = run(bag_dir, "-C", "pegasusrc", "-p", "peg", "-d", "-j", "peg-job-definition", "--ce", "peg-compute-env")
    assert code == 0, err
    assert leftovers(aws) == before
