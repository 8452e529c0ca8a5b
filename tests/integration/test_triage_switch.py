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


def _bucket(aws, name="demo-bucket"):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    return s3


def test_sync_from_s3_gets_the_experiments_back_and_results_has_its_own_verb(moto, aws, project):
    """Item 8: triage documents --sync-from-s3 as "gets the experiments and configuration files from
    s3://your_project"; results come home by `results RUN_ID` (./deploy.sh --results RUN_ID)."""
    from batchdeploy import runs

    s3 = _bucket(aws)
    run_support.setup_project(project, run_support.make_batch(aws), S3_BUCKET="demo-bucket")
    s3.put_object(Bucket="demo-bucket", Key="experiments/a.yaml", Body=b"model: 1\n")
    s3.put_object(Bucket="demo-bucket", Key="experiments/conf/b.yaml", Body=b"model: 2\n")
    s3.put_object(Bucket="demo-bucket", Key="results/old/metrics.json", Body=b"{}")
    r = project.deploy("--sync-from-s3")
    assert r.returncode == 0, r.stderr
    assert (project.path / "experiments" / "conf" / "b.yaml").read_bytes() == b"model: 2\n"
    assert not (project.path / "results").exists()

    r = project.deploy("-r", "exp1", "experiment_file=s3://demo-bucket/experiments/a.yaml",
                       "output_path=s3://demo-bucket/triage/exp1")
    assert r.returncode == 0, r.stderr
    (run_id,) = runs.list_run_ids(s3, "demo-bucket", "runs")
    s3.put_object(Bucket="demo-bucket", Key="triage/exp1/matrices/m1.csv", Body=b"1,2\n")
    s3.put_object(Bucket="demo-bucket", Key="triage/exp10/not-this-run.csv", Body=b"x")
    r = project.deploy("--results", run_id)
    assert r.returncode == 0, r.stderr
    home = project.path / "results" / run_id / "demo-bucket" / "triage" / "exp1"
    assert (home / "matrices" / "m1.csv").read_bytes() == b"1,2\n"
    assert not (project.path / "results" / run_id / "demo-bucket" / "triage" / "exp10").exists()
    assert f"s3://demo-bucket/triage/exp1/ -> results/{run_id}/demo-bucket/triage/exp1" in r.stderr

    r = project.deploy("--results")  # no RUN_ID: every result, as --sync-from-s3 did before
    assert r.returncode == 0, r.stderr
    assert (project.path / "results" / "old" / "metrics.json").is_file()
    r = project.deploy("--results", "20990101T000000Z-abcdef")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no run 20990101T000000Z-abcdef" in r.stderr
    r = project.deploy("--results", "last-week")
    assert r.returncode == 2 and "'last-week' is not a run id" in r.stderr


def test_all_without_a_dockerfile_skips_images_and_goes_on(moto, aws, project):
    """Item 11: -a built images first, so without a Dockerfile it stopped before -u and the sync."""
    _bucket(aws)
    run_support.setup_project(project, run_support.make_batch(aws), S3_BUCKET="demo-bucket")
    (project.path / ".batchdeploy" / "job-definitions.json").unlink()
    project.write_json("job-definition.json", run_support.JOB_DEFINITION)
    project.write("experiments/a.yaml", "model: 1\n")
    r = project.deploy("-a")
    assert r.returncode == 0, r.stderr
    assert "==> images skipped: no Dockerfile in the IMAGES context folders, nothing for -b to build" in r.stderr
    assert "==> update-jobs" in r.stderr and "==> sync-to-s3" in r.stderr
    assert project.state("job-definitions.json")["default"] == "demo-experiment"
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="demo-bucket")["Contents"]]
    assert "experiments/a.yaml" in keys
