"""The local stack runs real AWS Batch jobs: an image built FROM the base image, pushed to the local
registry, pulled and run by moto's Batch through the container engine, with its output in the moto S3
and its log lines in CloudWatch Logs. Also: what `down`, an interrupted `up` and the base image cache
do to processes and containers."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from batchdeploy.aws import Aws, AwsSettings
from batchdeploy.launch.zipapp import write as write_launcher

from .conftest import ROOT, STACK, process_gone, run_script, script_env, start_stack, wait_for

pytestmark = pytest.mark.engine

QUICKSTART = ROOT / "examples" / "quickstart"
DONE = ("SUCCEEDED", "FAILED")


def load_run():
    spec = importlib.util.spec_from_file_location("quickstart_run", QUICKSTART / "experiment" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Batch:
    """A compute environment, queue and bucket in the stack's moto, and helpers to run jobs there."""

    def __init__(self, stack):
        self.stack = stack
        self.aws = Aws(
            AwsSettings(
                region="us-east-1", endpoint_url=stack.endpoint, access_key_id="testing", secret_access_key="testing"
            )
        )
        self.batch = self.aws.client("batch")
        self.s3 = self.aws.client("s3")
        self.logs = self.aws.client("logs")
        role = self.aws.client("iam").create_role(RoleName=unique("batch"), AssumeRolePolicyDocument="{}")
        # moto's names follow AWS's pattern, ^[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]$
        ce = self.batch.create_compute_environment(
            computeEnvironmentName=unique("ce"), type="UNMANAGED", state="ENABLED", serviceRole=role["Role"]["Arn"]
        )
        self.queue = self.batch.create_job_queue(
            jobQueueName=unique("queue"),
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
        )["jobQueueArn"]
        self.bucket = unique("bucket")
        self.s3.create_bucket(Bucket=self.bucket)

    def job_definition(self, image: str, command: list) -> str:
        # The endpoint goes in the job's environment: bookworm's botocore ignores it, but run.py reads it.
        return self.batch.register_job_definition(
            jobDefinitionName=unique("jd"),
            type="container",
            containerProperties={
                "image": image,
                "vcpus": 1,
                "memory": 256,
                "command": command,
                "environment": [
                    {"name": "AWS_ENDPOINT_URL", "value": self.stack.endpoint},
                    {"name": "AWS_REGION", "value": "us-east-1"},
                    {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
                ],
            },
        )["jobDefinitionArn"]

    def submit(self, job_definition: str, **kwargs) -> str:
        # Credentials reach the container through the job's environment, as a deploy would pass them.
        creds = [{"name": "AWS_ACCESS_KEY_ID", "value": "testing"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "testing"}]
        return self.batch.submit_job(
            jobName=unique("job"),
            jobQueue=self.queue,
            jobDefinition=job_definition,
            containerOverrides={"environment": creds},
            **kwargs,
        )["jobId"]

    def describe(self, job_id: str) -> dict:
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]

    def wait(self, job_id: str, statuses=DONE, timeout=120) -> dict:
        return wait_for(
            lambda: (lambda j: j if j["status"] in statuses else None)(self.describe(job_id)),
            timeout,
            what=f"job {job_id} to reach {statuses}",
        )

    def log_lines(self, job: dict) -> list:
        events = self.logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"])
        return [e["message"] for e in events["events"]]

    def put_experiment(self, name: str, text: str) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=f"experiments/{name}", Body=text.encode())
        return f"s3://{self.bucket}/experiments/{name}"

    def get_json(self, key: str) -> dict:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


@pytest.fixture(scope="module")
def quickstart_image(local_stack, tmp_path_factory):
    """The quickstart image, built FROM the base image and pushed to the local registry; the local
    copy is removed so that moto has to pull it back from the registry. The context is a copy with
    the launcher file in it, as -b writes it for the Dockerfile's `COPY batchdeploy-launch` line."""
    context = tmp_path_factory.mktemp("quickstart") / "context"
    shutil.copytree(QUICKSTART, context, ignore=shutil.ignore_patterns(".batchdeploy", "results", "__pycache__"))
    write_launcher(str(context / "batchdeploy-launch"))
    image = f"{local_stack.registry}/quickstart:{uuid.uuid4().hex[:8]}"
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    local_stack.cli("build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", image, str(context), timeout=300)
    local_stack.cli("push", image, timeout=300)
    local_stack.cli("rmi", image)
    return image


QUICKSTART_COMMAND = ["python3", "/opt/experiment/run.py", "--experiment-file", "Ref::experiment", "--output-path", "Ref::output"]


def test_env_points_at_parts_that_answer(local_stack):
    env = local_stack.env
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["AWS_REGISTRY"].startswith("127.0.0.1:")
    with urllib.request.urlopen(f"http://{env['AWS_REGISTRY']}/v2/", timeout=5) as r:
        assert r.status == 200
    assert local_stack.cli("info").returncode == 0
    if env["CONTAINER_CLI"] == "podman":
        assert env["DOCKER_HOST"] == f"unix://{local_stack.state}/run/podman.sock"
        assert Path(env["CONTAINERS_CONF"]).is_file() and Path(env["CONTAINERS_REGISTRIES_CONF"]).is_file()
    status = run_script(local_stack.state, "status")
    assert status.returncode == 0, status.stdout
    assert "batchdeploy-base:bookworm present" in status.stdout


@pytest.mark.e2e
def test_quickstart_job_runs_in_a_container_and_its_results_are_the_experiments(batch, quickstart_image):
    text = (QUICKSTART / "experiments" / "linear.yaml").read_text()
    jd = batch.job_definition(quickstart_image, QUICKSTART_COMMAND)
    started = time.monotonic()
    job_id = batch.submit(
        jd, parameters={"experiment": batch.put_experiment("linear.yaml", text), "output": f"s3://{batch.bucket}/results/one"}
    )
    job = batch.wait(job_id)
    took = time.monotonic() - started
    lines = batch.log_lines(job)
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), lines)
    run = load_run()
    expected = run.run_experiment(run.parse_experiment(yaml.safe_load(text)))
    _close(batch.get_json("results/one/metrics.json"), expected["metrics"])
    assert "linear: linear model, 300 samples, 3 features, seed 7" in lines
    assert f"epoch 150/150 loss {expected['loss_history'][-1]:.6f}" in lines
    assert f"wrote s3://{batch.bucket}/results/one/report.md" in lines
    report = batch.s3.get_object(Bucket=batch.bucket, Key="results/one/report.md")["Body"].read().decode()
    assert report.startswith("# linear")
    print(f"quickstart job: submit to SUCCEEDED in {took:.1f}s")


def _close(got: dict, want: dict):
    """Same keys, numbers equal to 1e-9 (the container's libm may round a last bit differently)."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, (list, float)):
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert got[key] == value, key


@pytest.mark.e2e
def test_array_children_find_their_index(batch, quickstart_image):
    # run.py reads AWS_BATCH_JOB_ARRAY_INDEX, which the stack sets as AWS does
    text = (QUICKSTART / "experiments" / "logistic.yaml").read_text()
    jd = batch.job_definition(quickstart_image, QUICKSTART_COMMAND)
    parent = batch.submit(
        jd,
        arrayProperties={"size": 2},
        parameters={"experiment": batch.put_experiment("logistic.yaml", text), "output": f"s3://{batch.bucket}/results/arr"},
    )
    children = [batch.wait(f"{parent}:{i}") for i in range(2)]
    assert [c["status"] for c in children] == ["SUCCEEDED", "SUCCEEDED"], [batch.log_lines(c) for c in children]
    run = load_run()
    exp = run.parse_experiment(yaml.safe_load(text))
    for i in range(2):
        got = batch.get_json(f"results/arr/{i}/metrics.json")
        assert got["array_index"] == i and got["seed"] == exp["seed"] + i
        _close(got, run.run_experiment(exp, i)["metrics"])


@pytest.mark.e2e
def test_a_wrong_experiment_fails_the_job_with_the_reason_in_its_log(batch, quickstart_image):
    jd = batch.job_definition(quickstart_image, QUICKSTART_COMMAND)
    experiment = batch.put_experiment("bad.yaml", "model: tree\ndata: {weights: [1]}\n")
    job = batch.wait(batch.submit(jd, parameters={"experiment": experiment, "output": f"s3://{batch.bucket}/bad"}))
    assert job["status"] == "FAILED"
    assert (job["container"]["exitCode"], job["statusReason"]) == (2, "Essential container in task exited")
    summaries = batch.batch.list_jobs(jobQueue=batch.queue, jobStatus="FAILED")["jobSummaryList"]
    assert [s["container"]["exitCode"] for s in summaries if s["jobId"] == job["jobId"]] == [2]
    assert any("model must be one of linear, logistic" in line for line in batch.log_lines(job))


def our_containers(stack, moto_port: str) -> set:
    """Running containers that this stack's moto started (moto puts MOTO_PORT in each job's env)."""
    ids = stack.cli("ps", "-q").stdout.split()
    if not ids:
        return set()
    out = stack.cli("inspect", "-f", "{{.Id}}{{range .Config.Env}} {{.}}{{end}}", *ids, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if f" MOTO_PORT={moto_port} " in f"{line} "}


def test_down_removes_its_own_running_job_containers_and_no_one_elses(local_stack, batch, tmp_path):
    other = start_stack(tmp_path / "second stack")
    try:
        assert other.endpoint != local_stack.endpoint
        other_batch = Batch(other)
        sleeper = ["sleep", "300"]
        base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
        mine = batch.submit(batch.job_definition(base, sleeper))
        other_batch.submit(other_batch.job_definition(base, sleeper))
        my_port = local_stack.endpoint.rsplit(":", 1)[1]
        their_port = other.endpoint.rsplit(":", 1)[1]
        my_containers = wait_for(lambda: our_containers(local_stack, my_port), 60, what="the first stack's job container")
        their_containers = wait_for(lambda: our_containers(other, their_port), 60, what="the second stack's job container")
        pids = other.pids()
    finally:
        done = run_script(other.state, "down")
    assert done.returncode == 0, done.stderr
    assert all(process_gone(pid) for pid in pids.values()), pids
    all_now = set(local_stack.cli("ps", "-aq", "--no-trunc").stdout.split())
    assert not their_containers & all_now
    assert my_containers <= all_now, "down of one stack removed another stack's job container"
    assert batch.describe(mine)["status"] == "RUNNING"
    batch.batch.terminate_job(jobId=mine, reason="test over")
    batch.wait(mine, timeout=60)


def test_an_interrupted_up_stops_what_it_started_and_exits_130(tmp_path):
    state = tmp_path / "interrupted stack"
    proc = subprocess.Popen(
        [*STACK, "up"],
        env=script_env(state, BATCHDEPLOY_SKIP_BASE_IMAGE="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # moto's pid file is written last and moto takes most of a second to answer: interrupt then.
        wait_for(lambda: (state / "run" / "moto.pid").exists() or proc.poll() is not None, 30, interval=0.01)
        pids = {p.stem: int(p.read_text().split()[0]) for p in (state / "run").glob("*.pid")}
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert pids and all(process_gone(pid) for pid in pids.values()), pids
    assert not list((state / "run").glob("*.pid"))


def test_base_image_is_reimported_from_the_cached_tarball_and_its_failures_are_one_line(local_stack, tmp_path):
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    def forget_base_image():
        if local_stack.env["CONTAINER_CLI"] == "podman":
            local_stack.cli("untag", base)
        else:
            local_stack.cli("rmi", "--no-prune", base)

    def base_image():
        started = time.monotonic()
        done = run_script(local_stack.state, "base-image")
        assert done.returncode == 0, done.stderr
        return done, time.monotonic() - started

    try:
        forget_base_image()
        # no tarball and a mirror that refuses: mmdebstrap fails, the line names its log
        failed = run_script(
            local_stack.state,
            "base-image",
            BATCHDEPLOY_BASE_TAR=str(tmp_path / "none.tar"),
            BATCHDEPLOY_DEBIAN_MIRROR="http://127.0.0.1:9/debian",
        )
        assert failed.returncode == 1
        assert failed.stderr.splitlines()[-1].startswith("local-stack: mmdebstrap failed to build the base image (log: ")
        assert not list(tmp_path.glob("none.tar*")), "a failed build leaves no partial tarball"

        garbage = tmp_path / "garbage.tar"
        garbage.write_text("not a tarball")
        failed = run_script(local_stack.state, "base-image", BATCHDEPLOY_BASE_TAR=str(garbage))
        assert failed.returncode == 1
        assert failed.stderr.splitlines()[-1].startswith(f"local-stack: cannot import {garbage} into ")
    finally:
        # Where the image existed before the tarball was ever cached, this builds it (once per machine).
        done, took = base_image()
    if "mmdebstrap" in done.stderr:
        forget_base_image()
        done, took = base_image()
    assert "importing" in done.stderr and "mmdebstrap" not in done.stderr
    assert local_stack.cli("image", "inspect", base).returncode == 0
    print(f"base image re-import from the cached tarball: {took:.1f}s")
    again = run_script(local_stack.state, "base-image")
    assert again.returncode == 0 and "importing" not in again.stderr
