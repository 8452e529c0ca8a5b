"""Issue #20, the items a triage user trips over that are not about secrets: -r without -u in this folder
(item 9), -a without a Dockerfile (item 11), --sync-from-s3 as triage documents it and `results RUN_ID`
(item 8), all through the real command line against the moto server."""

from __future__ import annotations

import json

from tests import run_support
from tests.conftest import aws_cli
from tests.run_support import PARAMS


def _job(moto, r) -> dict:
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    return aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0]


def test_run_without_u_uses_the_newest_active_revision_and_says_so(moto, aws, project):
    env = run_support.make_batch(aws)
    run_support.setup_project(project, env)
    (project.path / ".batchdeploy" / "job-definitions.json").unlink()  # no -u ran in this folder
    project.write_json("job-definition.json", {**run_support.JOB_DEFINITION, "jobDefinitionName": "${PROJECT_NAME}-experiment"})
    aws.client("batch").register_job_definition(**{**run_support.JOB_DEFINITION, "jobDefinitionName": "demo-experiment"})
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 0, r.stderr
    line = ("job definition demo-experiment:2: the newest ACTIVE revision in AWS "
            "(./deploy.sh -u has recorded none in this folder)")
    assert line in r.stderr
    assert _job(moto, r)["jobDefinition"].endswith(":job-definition/demo-experiment:2")

    project.write_json("job-definition.json", {**run_support.JOB_DEFINITION, "jobDefinitionName": "nobody"})
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == ""
    assert "job definition nobody has no ACTIVE revision in AWS" in r.stderr


def test_run_takes_a_newer_active_revision_than_the_recorded_one(moto, aws, project):
    env = run_support.make_batch(aws)  # demo-experiment:1, recorded as -u would
    run_support.setup_project(project, env)
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 0 and "the newest ACTIVE revision" not in r.stderr, r.stderr
    assert _job(moto, r)["jobDefinition"] == env["jobdef_arn"]
    newer = aws.client("batch").register_job_definition(**run_support.JOB_DEFINITION)  # someone else's -u
    r = project.deploy("-r", "exp2", *PARAMS)
    assert r.returncode == 0, r.stderr
    assert ("job definition demo-experiment:2: the newest ACTIVE revision, newer than demo-experiment:1 that "
            "-u recorded here") in r.stderr
    assert _job(moto, r)["jobDefinition"] == newer["jobDefinitionArn"]
    assert json.loads((project.path / ".batchdeploy" / "job-definitions.json").read_text())["default"] == "demo-experiment"
