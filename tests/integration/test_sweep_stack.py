"""A sweep on the local stack, where its children really run: a 3x2 grid whose children compute from
their own parameters and write to their own outputs, two of them failing; the fix (a new job
definition revision, as -u would record it), `--rerun-failed` of those two only, and `--status` all
green. One module, one grid, about ten containers: kept small for a 2-core CI."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

from batchdeploy import runs
from tests.conftest import ROOT
from tests.run_support import inprocess, record_definition

from .test_launch_stack import launcher_image  # noqa: F401 - the module's image with the launcher
from .test_local_stack import Batch, unique

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

# The experiment: result = lr * seed, written to the task's own output folder (BATCHDEPLOY_OUTPUT_DIR,
# which the launcher copies to s3://BUCKET/results/RUN_ID/TASK/); version 1 has a bug for lr=0.3.
TRAIN = ("import json, os, sys; lr, seed = float(sys.argv[1]), int(sys.argv[2]); "
         "out = os.environ['BATCHDEPLOY_OUTPUT_DIR']; os.makedirs(out, exist_ok=True); "
         "print('task', os.environ['BATCHDEPLOY_TASK_ID'], 'lr', lr, 'seed', seed, flush=True); "
         "{bug}"
         "json.dump({{'lr': lr, 'seed': seed, 'result': lr * seed}}, open(out + 'result.json', 'w'))")
BUGGY = TRAIN.format(bug="lr == 0.3 and sys.exit(3); ")
FIXED = TRAIN.format(bug="")


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


def definition(batch: Batch, image: str, name: str, script: str) -> dict:
    env = {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "BATCHDEPLOY_LAUNCHER": "/usr/local/bin/batchdeploy-launch"}
    return batch.batch.register_job_definition(
        jobDefinitionName=name, type="container", parameters={"lr": "0.1", "seed": "1"},
        containerProperties={"image": image, "vcpus": 1, "memory": 256,
                             "command": ["python3", "-c", script, "Ref::lr", "Ref::seed"],
                             "environment": [{"name": k, "value": v} for k, v in env.items()]})


def result(batch: Batch, run_id: str, task: int) -> dict | None:
    try:
        body = batch.s3.get_object(Bucket=batch.bucket, Key=f"results/{run_id}/{task}/result.json")["Body"].read()
    except batch.s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def test_a_grid_runs_two_tasks_fail_the_fix_reruns_only_them_and_status_is_all_green(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    name = unique("sweep")
    first_jd = definition(batch, launcher_image, name, BUGGY)
    project.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    record_definition(project, name, first_jd["jobDefinitionArn"])
    shutil.copy(ROOT / "credentials-filter.example", project.path / "credentials-filter")
    for key, value in {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)

    code, out, err = inprocess(["run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait"])
    assert code == 3, out + err
    first = runs.RUN_ID.search(out).group(0)
    failed = out.splitlines()[-2:]
    assert [line.split()[:2] for line in failed] == [["5", "3"], ["6", "3"]]  # exit 3 from the task records
    for task, (lr, seed) in enumerate(itertools.product([0.1, 0.2, 0.3], [1, 2]), 1):
        got = result(batch, first, task)
        assert (got is None) if lr == 0.3 else got == {"lr": lr, "seed": seed, "result": lr * seed}

    fixed = definition(batch, launcher_image, name, FIXED)  # the fix, a new revision as -u records it
    record_definition(project, name, fixed["jobDefinitionArn"])
    code, out, err = inprocess(["run", "--rerun-failed", first, "--wait"])
    assert code == 0, out + err
    second = runs.RUN_ID.search(out).group(0)
    assert f"rerun of {first}: 2 of 6 tasks (5, 6)" in err
    # the rerun keeps each task's output location: the original run's, under its task id
    assert result(batch, first, 6) == {"lr": 0.3, "seed": 2, "result": 0.3 * 2}

    code, out, err = inprocess(["status", first, "--output", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["counts"] == {"SUCCEEDED": 6} and data["reruns"] == [second]
    by_task = {t["task"]: t for t in data["tasks"]}
    assert by_task[5]["run_id"] == second and by_task[1]["run_id"] == first
    assert all(t["exit_code"] == 0 and t["peak_memory_mib"] for t in data["tasks"])
    doc = json.loads(batch.s3.get_object(Bucket=batch.bucket, Key=f"runs/{second}/run.json")["Body"].read())
    assert doc["job_definition"]["arn"] == fixed["jobDefinitionArn"] and doc["rerun_of"] == first
