"""SECRETS on the local stack (issue #20): -u stores the value in SSM and registers a definition that
references it; -r's job really runs, and the value reaches the container's environment (ECS resolves
`secrets` at start, here the local stack as AWS documents it), while DescribeJobs shows only the ARN."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from tests.conftest import ROOT
from tests.run_support import inprocess

from .test_local_stack import Batch, unique

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

CANARY = "CANARY-stack-pg-password-4e1b9a"


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


def test_the_secret_reaches_the_job_and_describe_jobs_shows_only_the_reference(batch, local_stack, project, monkeypatch):
    name = unique("secretjob")
    project.env_file(PROJECT_NAME="demo", ENV=name, AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket,
                     SECRETS="POSTGRES_PASSWORD", POSTGRES_PASSWORD=CANARY)
    env = {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    project.write_json("job-definition.json", {
        "jobDefinitionName": name, "type": "container",
        "containerProperties": {
            "image": local_stack.env["BATCHDEPLOY_BASE_IMAGE"], "vcpus": 1, "memory": 256,
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "command": ["sh", "-c", 'printf %s "$POSTGRES_PASSWORD" | sha256sum'],
            "environment": [{"name": k, "value": v} for k, v in env.items()]}})
    shutil.copy(ROOT / "credentials-filter.example", project.path / "credentials-filter")
    for key, value in {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)

    code, out, err = inprocess(["update-jobs"])
    assert code == 0, out + err
    assert f"secret POSTGRES_PASSWORD: created as SSM SecureString /batchdeploy/demo/{name}/POSTGRES_PASSWORD" in err
    code, out, err = inprocess(["run", "exp", "--no-credentials", "--wait"])
    assert code == 0, out + err
    assert hashlib.sha256(CANARY.encode()).hexdigest() in out + err  # the job's log line: the value arrived
    assert CANARY not in out + err

    job_id = next(j["jobId"] for j in batch.batch.list_jobs(jobQueue=batch.queue, jobStatus="SUCCEEDED")["jobSummaryList"]
                  if j["jobName"] == "exp")
    job = batch.batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert CANARY not in json.dumps(job, default=str)
    defn = batch.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"][0]
    assert defn["containerProperties"]["secrets"] == [
        {"name": "POSTGRES_PASSWORD", "valueFrom": f"arn:aws:ssm:us-east-1:123456789012:parameter/batchdeploy/demo/{name}/POSTGRES_PASSWORD"}]
    assert job["container"]["secrets"] == defn["containerProperties"]["secrets"]  # DescribeJobs: the reference
    assert "POSTGRES_PASSWORD" not in {e["name"] for e in job["container"].get("environment") or []}
