"""SECRETS (issue #20): values stored as SSM SecureString parameters and given to the job by reference,
against the moto server through the fault proxy (which records every request body)."""

from __future__ import annotations

import json

from tests import run_support
from tests.conftest import aws_cli
from tests.run_support import DB_CANARY, PARAMS, job_env, state_text

PARAMETER = "/batchdeploy/demo/development/POSTGRES_PASSWORD"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
DEFINITION = {**run_support.JOB_DEFINITION,
              "containerProperties": {**run_support.JOB_DEFINITION["containerProperties"], "executionRoleArn": ROLE}}
NEW_CANARY = "CANARY-new-db-password-77a0"


def _project(project, aws, **extra):
    env = run_support.make_batch(aws)
    run_support.setup_project(project, env, **{"SECRETS": "POSTGRES_PASSWORD", "AWS_REGION": "us-east-1", **extra})
    project.write_json("job-definition.json", DEFINITION)
    return env


def _set_password(project, value: str) -> None:
    text = (project.path / ".aws_env").read_text().replace(DB_CANARY, value)
    (project.path / ".aws_env").write_text(text)


def _no_canary_but_put_parameter(proxy, canary: str) -> None:
    leaked = [r.operation for r in proxy.requests
              if canary.encode() in r.body and r.operation.lower() != "putparameter"]
    assert leaked == []


def test_secrets_are_stored_once_updated_when_changed_and_jobs_see_only_the_reference(moto, aws, project, proxy):
    _project(project, aws)
    via = {"AWS_ENDPOINT_URL": proxy.url}
    r = project.deploy("-u", env=via)
    assert r.returncode == 0, r.stderr
    assert f"secret POSTGRES_PASSWORD: created as SSM SecureString {PARAMETER}" in r.stderr
    assert proxy.count("PutParameter") == 1 and DB_CANARY not in r.stdout + r.stderr
    put = proxy.bodies("PutParameter")[0]
    assert put["Type"] == "SecureString" and {"Key": "batchdeploy:project", "Value": "demo"} in put["Tags"]
    ssm = aws.client("ssm")
    arn = ssm.get_parameter(Name=PARAMETER)["Parameter"]["ARN"]
    assert ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"] == DB_CANARY

    defn = aws_cli(moto, "batch", "describe-job-definitions", "--job-definition-name", "demo-experiment",
                   "--status", "ACTIVE")["jobDefinitions"]
    newest = max(defn, key=lambda d: d["revision"])
    assert newest["containerProperties"]["secrets"] == [{"name": "POSTGRES_PASSWORD", "valueFrom": arn}]

    r = project.deploy("-u", env=via)  # unchanged: nothing written, nothing registered
    assert r.returncode == 0, r.stderr
    assert proxy.count("PutParameter") == 1 and "secret POSTGRES_PASSWORD" not in r.stderr
    assert "unchanged: demo-experiment:" in r.stdout

    reads = proxy.count("GetParameters")
    r = project.deploy("-r", "exp1", *PARAMS, env=via)  # the overrides' ${POSTGRES_PASSWORD}: left out
    assert r.returncode == 0, r.stderr
    assert proxy.count("PutParameter") == 1 and proxy.count("GetParameters") == reads + 1  # -r's cost: one read
    assert DB_CANARY not in r.stdout + r.stderr
    assert "POSTGRES_PASSWORD left out of the job's environment: SECRETS gives it by reference" in r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    job = aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0]
    assert "POSTGRES_PASSWORD" not in job_env(job)
    assert DB_CANARY not in json.dumps(job)
    assert job["container"]["secrets"] == [{"name": "POSTGRES_PASSWORD", "valueFrom": arn}]  # the reference only

    _set_password(project, NEW_CANARY)  # a changed value reaches the next job with no new revision
    r = project.deploy("-r", "exp2", *PARAMS, env=via)
    assert r.returncode == 0, r.stderr
    assert f"secret POSTGRES_PASSWORD: updated as SSM SecureString {PARAMETER}" in r.stderr
    assert proxy.count("PutParameter") == 2 and proxy.count("RegisterJobDefinition") == 1
    assert NEW_CANARY not in r.stdout + r.stderr and DB_CANARY not in r.stdout + r.stderr
    assert ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"] == NEW_CANARY

    for canary in (DB_CANARY, NEW_CANARY):
        _no_canary_but_put_parameter(proxy, canary)
        assert canary not in state_text(project)
    r = project.deploy("-r", "exp3", *PARAMS, "--dry-run", env=via)
    assert r.returncode == 0 and NEW_CANARY not in r.stdout + r.stderr


def test_the_definition_needs_an_execution_role_and_every_value(moto, aws, project, proxy):
    _project(project, aws)
    project.write_json("job-definition.json", run_support.JOB_DEFINITION)  # no executionRoleArn
    r = project.deploy("-u", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "SECRETS needs an executionRoleArn in job-definition.json" in r.stderr
    assert "ssm:GetParameters" in r.stderr and "kms:Decrypt" in r.stderr
    project.write_json("job-definition.json", DEFINITION)
    with open(project.path / ".aws_env", "a") as f:
        f.write("SECRETS=POSTGRES_PASSWORD,API_TOKEN\n")
    r = project.deploy("-u", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "SECRETS lists API_TOKEN but it has no value" in r.stderr, r.stderr
    assert proxy.count("PutParameter") == 0 and proxy.count("RegisterJobDefinition") == 0


def test_a_plain_secret_in_the_overrides_warns_and_points_to_secrets(moto, aws, project):
    run_support.setup_project(project, run_support.make_batch(aws))  # no SECRETS: the placeholder stays plain
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 0, r.stderr
    assert ("env-overrides.json: POSTGRES_PASSWORD has a value, and a job's environment is readable by anyone "
            "allowed batch:DescribeJobs; list it in SECRETS (SECRETS=POSTGRES_PASSWORD)") in r.stderr
    assert DB_CANARY not in r.stderr + r.stdout


def test_delete_removes_the_projects_parameters(moto, aws, project):
    _project(project, aws)
    assert project.deploy("-u").returncode == 0
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/batchdeploy/other/development/X", Value="v", Type="SecureString")
    r = project.deploy("--delete", "--yes")
    assert r.returncode == 0, r.stderr
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert PARAMETER not in names and "/batchdeploy/other/development/X" in names


def test_info_masks_the_value_of_a_key_secrets_names_whatever_it_is_called(moto, aws, project):
    _project(project, aws, SECRETS="DB_DSN", DB_DSN="host=db user=u sslmode=require CANARY-dsn-91c")
    r = project.deploy("-i")
    assert r.returncode == 0, r.stderr
    assert "DB_DSN" in r.stdout + r.stderr and "CANARY-dsn-91c" not in r.stdout + r.stderr
