"""A sweep on the local stack, where its children really run: a 3x2 grid whose children compute from
their own parameters and write to their own outputs, two of them failing; the fix (a new job
definition revision, as -u would record it), `--rerun-failed` of those two only, and `--status` all
green. And a tasks file whose two tasks copy their own inputs in and outputs out. One module, about a dozen
containers: kept small for a 2-core CI."""

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


def definition(batch: Batch, image: str, name: str, script: str, parameters: dict | None = None) -> dict:
    """`python3 -c script Ref::P...` for each of `parameters` (default lr and seed), launcher declared."""
    parameters = parameters or {"lr": "0.1", "seed": "1"}
    env = {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "BATCHDEPLOY_LAUNCHER": "/usr/local/bin/batchdeploy-launch"}
    return batch.batch.register_job_definition(
        jobDefinitionName=name, type="container", parameters=parameters,
        containerProperties={"image": image, "vcpus": 1, "memory": 256,
                             "command": ["python3", "-c", script, *(f"Ref::{p}" for p in parameters)],
                             "environment": [{"name": k, "value": v} for k, v in env.items()]})


def use_project(batch: Batch, project, monkeypatch, name: str, arn: str) -> None:
    """The project on the stack's queue and bucket, `arn` recorded as -u would, this process pointed there."""
    project.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    record_definition(project, name, arn)
    shutil.copy(ROOT / "credentials-filter.example", project.path / "credentials-filter")
    for key, value in {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)


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
    use_project(batch, project, monkeypatch, name, first_jd["jobDefinitionArn"])

    code, out, err = inprocess(["run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait"])
    assert code == 3, out + err
    first = runs.RUN_ID.search(out).group(0)
    failed = out.splitlines()[-2:]
    assert [line.split()[:2] for line in failed] == [["5", "3"], ["6", "3"]]  # exit 3: the API's container.exitCode
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


# Reads its input ($DATA, a local path the launcher filled from S3), writes a summary into its
# recursive output folder ($OUT) and a marker into its own default output folder.
SUMMARIZE = ("import json, os, sys; rows = open(os.environ['DATA']).read().split(); scale = float(sys.argv[1]); "
             "os.makedirs(os.environ['OUT'], exist_ok=True); "
             "json.dump({'rows': len(rows), 'sum': scale * sum(map(float, rows))}, "
             "open(os.path.join(os.environ['OUT'], 'summary.json'), 'w')); "
             "open(os.environ['BATCHDEPLOY_OUTPUT_DIR'] + 'done', 'w').write(os.environ['BATCHDEPLOY_TASK_ID'])")


def test_a_tasks_file_copies_each_tasks_inputs_in_and_its_outputs_out(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    name = unique("tasks")
    jd = definition(batch, launcher_image, name, SUMMARIZE, parameters={"scale": "1"})
    data = {"a.txt": "1\n2\n3\n", "b.txt": "10\n20\n"}
    for key, text in data.items():
        batch.s3.put_object(Bucket=batch.bucket, Key=f"{name}/in/{key}", Body=text.encode())
    b = batch.bucket
    project.write("tasks.tsv", "--param scale\t--input DATA\t--output-recursive OUT\t--label which\n"
                  f"2\ts3://{b}/{name}/in/a.txt\ts3://{b}/{name}/out/a/\tfirst\n"
                  f"0.5\ts3://{b}/{name}/in/b.txt\ts3://{b}/{name}/out/b/\tsecond\n")
    use_project(batch, project, monkeypatch, name, jd["jobDefinitionArn"])

    code, out, err = inprocess(["run", "summarize", "--tasks", "tasks.tsv", "--wait"])
    assert code == 0, out + err
    run_id = runs.RUN_ID.search(out).group(0)

    def got(key: str) -> bytes:
        return batch.s3.get_object(Bucket=b, Key=key)["Body"].read()

    assert json.loads(got(f"{name}/out/a/summary.json")) == {"rows": 3, "sum": 12.0}
    assert json.loads(got(f"{name}/out/b/summary.json")) == {"rows": 2, "sum": 15.0}
    assert [got(f"results/{run_id}/{t}/done") for t in (1, 2)] == [b"1", b"2"]  # each its own default output
    records = runs.task_records(batch.s3, b, "runs", run_id)
    assert sorted(records) == [1, 2] and all(r[-1]["exit_code"] == 0 for r in records.values())
    code, out, err = inprocess(["status", run_id, "--output", "json"])
    assert code == 0, err
    assert {t["task"]: t["state"] for t in json.loads(out)["tasks"]} == {1: "SUCCEEDED", 2: "SUCCEEDED"}
