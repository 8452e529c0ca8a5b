"""Sweeps against the in-process moto server (API level: jobs end without a container): the submit's
shape and request counts, the watch's requests per poll, exit codes, a lost SubmitJob answer, the
paced one-job-per-task path, the run record, --rerun-failed and --status RUN_ID.

Every sweep is given as a user gives it (`--grid`, a tasks file): the real CLI in this process, from
the argument words to moto's answers; nothing of batchdeploy is replaced."""

from __future__ import annotations

import json
import os
import re

import pytest

from batchdeploy import runs
from tests.conftest import REGION, RequestCounter
from tests.run_support import (
    FakeClock,
    all_jobs,
    inprocess,
    make_batch,
    on_failing_moto,
    release_jobs,
    set_job_transitions,
    setup_project,
)

BUCKET = "sweep-bucket"
DEFINITION = {
    "jobDefinitionName": "sweep-exp",
    "type": "container",
    "parameters": {"lr": "0.1", "seed": "1"},
    "containerProperties": {
        "image": "registry.example/exp:1",
        "command": ["python3", "train.py", "--lr", "Ref::lr", "--seed", "Ref::seed"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        "environment": [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/usr/local/bin/batchdeploy-launch"}],
    },
}
NO_LAUNCHER = {**DEFINITION, "jobDefinitionName": "sweep-plain",
               "containerProperties": {**DEFINITION["containerProperties"], "environment": []}}


@pytest.fixture
def sweep_project(project, aws, monkeypatch):
    env = make_batch(aws, definition=DEFINITION)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.chdir(project.path)
    return project, env


def run(*argv, clock=None):
    t = clock or FakeClock()
    return inprocess(list(argv), sleep=t.sleep, clock=t.clock)


def parents(aws, queue: str) -> list[dict]:
    """Jobs on the queue, array children left out (moto lists them on the queue too)."""
    return [j for j in all_jobs(aws, queue) if ":" not in j["jobId"]]


def ops(counter, name: str) -> int:
    return sum(1 for method, path, _ in counter.since() if path.lower().rstrip("/").endswith(name))


def read(aws, key: str) -> dict:
    return json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def run_id_of(out: str) -> str:
    return runs.RUN_ID.search(out).group(0)


def test_a_grid_is_one_array_job_on_one_manifest_and_its_wait_costs_one_describe_per_poll(moto, aws, sweep_project):
    project, env = sweep_project
    counter = RequestCounter(moto)
    clock = FakeClock()
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials", clock=clock)
    assert code == 0, err
    assert ops(counter, "submitjob") == 1
    # while nothing fails: one DescribeJobs per poll (the first poll, then one per sleep), no ListJobs
    assert ops(counter, "describejobs") == len(clock.sleeps) + 1
    assert ops(counter, "listjobs") == 0
    jobs = parents(aws, env["queue"])
    assert len(jobs) == 1 and jobs[0]["jobName"] == "exp"
    assert "all 6 tasks SUCCEEDED" in err
    run_id = run_id_of(out)
    doc = read(aws, f"runs/{run_id}/run.json")
    assert doc["sweep"]["tasks"] == 6 and doc["sweep"]["mode"] == "array" and doc["sweep"]["varying"] == ["lr", "seed"]
    manifest = read(aws, doc["manifest"]["url"].split("/", 3)[3])
    assert [t["parameters"] for t in manifest["tasks"]][5] == {"lr": "0.3", "seed": "2"}
    submitted = read(aws, f"runs/{run_id}/submitted.json")
    assert submitted["job_ids"] == [jobs[0]["jobId"]]
    described = aws.client("batch").describe_jobs(jobs=[jobs[0]["jobId"]])["jobs"][0]
    assert described["arrayProperties"]["size"] == 6
    assert described["container"]["command"][:2] == ["/usr/local/bin/batchdeploy-launch", "--manifest"]


def test_many_polls_cost_one_describe_each_and_the_failed_children_are_listed_once(moto, aws, sweep_project):
    """moto's state machine held for 4 polls, then its children run (and, with no container engine
    here, fail): every poll is one DescribeJobs; ListJobs comes once, when the failed count changed."""
    set_job_transitions(moto, {"progression": "manual", "times": 10**9})
    moto.batch_use_docker(True)
    counter = RequestCounter(moto)
    clock = FakeClock(between=lambda n: release_jobs(moto) if n == 4 else None)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials", clock=clock)
    assert code == 3, err
    polls = len(clock.sleeps) + 1
    assert polls >= 5
    progress = [line for line in err.splitlines() if "] exp: 6 tasks:" in line]  # a line per change of counts
    failed_counts = {m.group(1) for line in progress for m in [re.search(r"(\d+) FAILED", line)] if m}
    assert ops(counter, "describejobs") == polls
    assert ops(counter, "listjobs") == len(failed_counts) < polls  # once per new failed count, not per poll


@pytest.fixture
def failing_project(moto, failing_moto, project, monkeypatch):
    return on_failing_moto(failing_moto, project, monkeypatch, DEFINITION, BUCKET)


def test_failed_tasks_end_with_their_table_and_exit_3_and_are_listed_only_when_the_count_changes(failing_moto,
                                                                                                failing_project):
    counter = RequestCounter(failing_moto)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials")
    assert code == 3, err
    describes, lists = ops(counter, "describejobs"), ops(counter, "listjobs")
    # moto fails every child at once: one poll sees 6 FAILED, lists them once, and the sweep is done
    # (its parent stays SUBMITTED). tests/unit/test_sweeps_plan.py counts listings over changing counts.
    assert lists == 1 and describes == 1
    lines = out.splitlines()
    assert lines[-7].split()[:4] == ["TASK", "EXIT", "REASON", "LOGS"]
    assert [line.split()[0] for line in lines[-6:]] == ["1", "2", "3", "4", "5", "6"]
    assert lines[-1].endswith(":5")  # task 6 is child 5: ./deploy.sh --logs PARENT:5
    run_id = run_id_of(out)
    assert err.splitlines()[-1] == (f"batchdeploy: error: 6 of 6 tasks of run {run_id} failed; fix, then rerun only "
                                    f"those: ./deploy.sh -r --rerun-failed {run_id}")


def test_rerun_failed_runs_the_failed_tasks_again_under_their_ids_and_status_reads_as_one(failing_moto,
                                                                                         failing_project):
    project, aws = failing_project
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials")
    assert code == 3
    first = run_id_of(out)
    code, out, err = run("run", "--rerun-failed", first, "--no-credentials")
    assert code == 0, err
    second = run_id_of(out)
    assert second != first and f"rerun of {first}: 6 of 6 tasks" in err
    s3 = aws.client("s3")
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=f"runs/{second}/run.json")["Body"].read())
    assert doc["rerun_of"] == first and doc["name"] == "exp" and doc["sweep"]["task_ids"] == [1, 2, 3, 4, 5, 6]
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key=f"runs/{first}/reruns/{second}.json")["Body"].read())
    assert marker["run_id"] == second
    code, out, err = run("status", first, "--output", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["reruns"] == [second]
    assert {t["run_id"] for t in data["tasks"]} == {second}  # each task's newest run decides
    assert [(t["task"], t["lr"], t["seed"]) for t in data["tasks"]][:2] == [(1, "0.1", "1"), (2, "0.1", "2")]


def _write_record(aws, run_id: str, doc: dict, task: int, exit_code: int) -> None:
    name = task  # the launcher names a task's records by its id
    body = json.dumps({"task": name, "attempt": 1, "exit_code": exit_code, "started": "2026-11-30T10:00:00.000Z",
                       "ended": "2026-11-30T10:00:12.500Z", "resources": {"max_rss_kib": 20480}, "job_id": "x"})
    aws.client("s3").put_object(Bucket=BUCKET, Key=f"runs/{run_id}/tasks/{name}/attempt-1.json", Body=body)


def test_rerun_picks_the_tasks_whose_record_is_not_exit_0_and_status_shows_each(moto, aws, sweep_project):
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials")
    assert code == 0, err
    first = run_id_of(out)
    doc = read(aws, f"runs/{first}/run.json")
    # what the launcher would have written: tasks 2 and 5 exited 3, the others 0
    for task in range(1, 7):
        _write_record(aws, first, doc, task, 3 if task in (2, 5) else 0)
    code, out, err = run("status", first)
    assert code == 0, err
    assert out.splitlines()[0] == f"run {first} (exp): 6 tasks: 2 FAILED, 4 SUCCEEDED"
    assert out.splitlines()[1].split() == ["TASK", "LR", "SEED", "STATE", "EXIT", "SECONDS", "PEAK", "MiB"]
    assert out.splitlines()[3].split() == ["2", "0.1", "2", "FAILED", "3", "12.5", "20.0"]
    counter = RequestCounter(moto)
    code, out, err = run("run", "--rerun-failed", first, "--no-credentials", "--output", "json")
    assert code == 0, err
    second = json.loads(out)["run_id"]
    assert json.loads(out)["tasks"] == 2 and ops(counter, "submitjob") == 1
    rerun_doc = read(aws, f"runs/{second}/run.json")
    assert rerun_doc["sweep"]["task_ids"] == [2, 5] and rerun_doc["rerun_of"] == first
    manifest = read(aws, rerun_doc["manifest"]["url"].split("/", 3)[3])
    assert [t["parameters"] for t in manifest["tasks"]] == [{"lr": "0.1", "seed": "2"}, {"lr": "0.3", "seed": "1"}]
    for task in (2, 5):  # the fix worked
        _write_record(aws, second, rerun_doc, task, 0)
    code, out, err = run("status", first)
    assert out.splitlines()[0] == f"run {first} (exp): 6 tasks: 6 SUCCEEDED; reruns: {second}"
    counter = RequestCounter(moto)
    code, out, err = run("run", "--rerun-failed", second)  # a rerun's id reads as its original
    assert code == 0 and out.strip() == f"run {first}: all 6 tasks SUCCEEDED; nothing to rerun"
    assert ops(counter, "submitjob") == 0


def test_an_aws_refusal_is_exit_1_not_3(moto, aws, sweep_project, proxy, monkeypatch):
    proxy.add(operation="submitjob", nth=1, status=400, code="ClientException")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--wait", "--no-credentials")
    assert code == 1
    assert err.splitlines()[-1].startswith("batchdeploy: error: cannot submit job exp (batch:SubmitJob): ClientException")


def test_a_lost_submit_answer_makes_one_array_only(moto, aws, sweep_project, proxy, monkeypatch):
    _, env = sweep_project
    proxy.add(operation="submitjob", nth=1, drop=True)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--no-credentials")
    assert code == 0, err
    assert "found the job it made" in err
    assert proxy.count("submitjob") == 1
    assert len(parents(aws, env["queue"])) == 1


def test_without_the_launcher_one_job_per_task_paced_and_said_once(moto, aws, project, monkeypatch):
    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.chdir(project.path)
    counter = RequestCounter(moto)
    clock = FakeClock()
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--no-credentials", "--wait", clock=clock)
    assert code == 0, err
    assert ops(counter, "submitjob") == 6
    jobs = sorted(parents(aws, env["queue"]), key=lambda j: j["jobName"])
    assert [j["jobName"] for j in jobs] == [f"exp-{i}" for i in range(1, 7)]
    described = aws.client("batch").describe_jobs(jobs=[j["jobId"] for j in jobs])["jobs"]
    assert {d["jobName"]: d["parameters"]["lr"] for d in described}["exp-6"] == "0.3"
    said = [line for line in err.splitlines() if "the image has no launcher" in line]
    assert said == ["the image has no launcher: 6 jobs, one per task, paced at 40/s; add `COPY batchdeploy-launch "
                    "/usr/local/bin/` to the Dockerfile (then -b, -u) for one array job"]
    assert clock.sleeps[:5] == pytest.approx([0.025] * 5)  # paced at 40/s on the injected clock


def test_without_the_launcher_tasks_with_outputs_are_refused_before_anything(moto, aws, project, monkeypatch):
    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.chdir(project.path)
    project.write("t.tsv", f"--param lr\t--output-recursive OUT\n0.1\ts3://{BUCKET}/o/1/\n")
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", "--tasks", "t.tsv", "--no-credentials")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "tasks 1 have inputs or outputs" in err
    assert ops(counter, "submitjob") == 0 and ops(counter, "putobject") == 0


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "a.tsv", "--grid", "lr=1,2"], "--tasks and --grid both given"),
    (["--tasks", "a.tsv", "1-2", "x"], "--tasks takes FILE and an optional RANGE, then key=val words, not 'x'"),
    (["--range", "1-2"], "--range needs --tasks FILE"),
    (["--tasks", "a.tsv", "1-2", "--range", "3"], "two ranges given"),
    (["--grid", "lr=1,2", "--array-size", "3"], "--array-size with a sweep"),
    (["--grid", "lr=1,2", "--cancel-on-interrupt", "--wait"], "--cancel-on-interrupt is for one job"),
    (["--rerun-failed", "yesterday"], "--rerun-failed 'yesterday' is not a run id"),
    (["--rerun-failed", "20261130T161200Z-3fa9c1", "--grid", "a=1"], "--rerun-failed takes its tasks from the run"),
])
def test_sweep_usage_errors_are_one_line_exit_2_and_submit_nothing(moto, sweep_project, argv, message):
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert counter.since() == []


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "missing.tsv"], "missing.tsv does not exist"),
    (["--grid", "lr="], "--grid: 1 problem: lr has no values"),
    (["--grid", "bogus=1,2"], "unknown parameter bogus for sweep-exp:1"),
])
def test_bad_tasks_and_grids_are_one_line_exit_2_and_submit_nothing(moto, sweep_project, monkeypatch, argv, message):
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", *argv, "--no-credentials")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert ops(counter, "submitjob") == 0 and ops(counter, "putobject") == 0


@pytest.mark.parametrize("text, words, message", [
    ("--param lr\t--param seed\n0.1\t1\n0.2\n", [], "line 3: 1 field"),
    ("--param lr\t--flavour x\n0.1\ta\n", [], "line 1 column 2"),
    ("--param lr\t--param epochs\n0.1\t3\n", [], "unknown parameter epochs for sweep-exp:1"),
    ("--param lr\n0.1\n0.2\n", ["3-4"], "3-4"),
    ("--param lr\n" + "0.1\n" * 10_001, [], "10,001"),
], ids=["ragged row", "unknown header", "unknown parameter", "range out of bounds", "10,001 rows"])
def test_a_bad_tasks_file_is_one_line_exit_2_and_nothing_is_sent(moto, sweep_project, text, words, message):
    """The issue's list, through the real CLI: nothing written, nothing submitted (an unknown parameter
    needs the job definition, so that one reads the queue and the definition first; the others read
    nothing at all)."""
    project, _ = sweep_project
    project.write("bad.tsv", text)
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", "--tasks", "bad.tsv", *words, "--no-credentials")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    sent = [path for method, path, _ in counter.since()]
    assert sent == (["/v1/describejobqueues", "/v1/describejobdefinitions"] if "unknown parameter" in message else [])


def test_status_and_rerun_of_an_unknown_run_are_exit_2(moto, sweep_project):
    code, out, err = run("status", "20261130T161200Z-3fa9c1")
    assert code == 2 and "no run 20261130T161200Z-3fa9c1" in err
    code, out, err = run("run", "--rerun-failed", "20261130T161200Z-3fa9c1")
    assert code == 2 and "no run 20261130T161200Z-3fa9c1" in err


def test_a_single_job_run_is_not_a_sweep_for_status_or_rerun(moto, aws, sweep_project):
    code, out, err = run("run", "exp", "lr=0.5", "--no-credentials")
    assert code == 0, err
    run_id = json.loads(aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="runs/")["Contents"][0]["Key"] and "{}")
    assert run_id == {}
    listed = aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="runs/")["Contents"]
    rid = runs.RUN_ID.search(listed[0]["Key"]).group(0)
    code, out, err = run("status", rid)
    assert code == 2 and "is one job, not a sweep" in err



def test_the_real_grid_and_tasks_file_reach_the_submit(moto, aws, sweep_project, monkeypatch):
    project, env = sweep_project
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2", "seed=7", "--no-credentials", "--output", "json")
    assert code == 0, err
    assert json.loads(out)["tasks"] == 2
    project.write("tasks.tsv", "--param lr\n0.1\n0.2\n0.3\n")
    code, out, err = run("run", "exp", "--tasks", "tasks.tsv", "2-3", "seed=3", "--no-credentials", "--output", "json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    doc = read(aws, f"runs/{run_id}/run.json")
    assert doc["sweep"]["task_ids"] == [2, 3] and doc["sweep"]["source"]["range"] == "2-3"
    assert doc["parameters"] == {"seed": "3"}  # the key=val after the range is the run's
    manifest = read(aws, doc["manifest"]["url"].split("/", 3)[3])
    assert [(t["parameters"]["lr"], t["parameters"]["seed"]) for t in manifest["tasks"]] == [("0.2", "3"), ("0.3", "3")]
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", "--tasks", "tasks.tsv", "4", "--no-credentials")
    assert code == 2 and len(err.strip().splitlines()) == 1 and counter.since() == []


def test_a_sweep_dry_run_prints_the_array_request_and_sends_nothing(moto, aws, sweep_project):
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--dry-run", "--no-credentials")
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "array" and data["submits"] == 1
    assert data["requests"][0]["arrayProperties"] == {"size": 6}
    assert "would upload manifest s3://sweep-bucket/runs/manifests/" in err and "(6 tasks)" in err
    assert ops(counter, "submitjob") == 0 and ops(counter, "putobject") == 0


def test_a_sweep_killed_mid_submit_stays_submitting_and_its_jobs_are_found_by_token(moto, aws, project, proxy):
    import signal
    import subprocess
    import sys

    from batchdeploy.jobs.submit import with_token
    from tests.conftest import ROOT

    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    procs = []
    proxy.add(operation="submitjob", nth=3, before=lambda request: procs[0].send_signal(signal.SIGKILL))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "batchdeploy", "run", "exp", "--grid", "lr=0.1,0.2,0.3", "--no-credentials"],
        cwd=project.path, env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": proxy.url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert procs[0].wait(120) == -signal.SIGKILL
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="runs/2")["Contents"]]
    run_id = runs.RUN_ID.search(keys[0]).group(0)
    assert keys == [f"runs/{run_id}/run.json"]  # no submitted.json: a reader sees "submitting"
    s3 = aws.client("s3")
    assert runs.read_run(s3, BUCKET, "runs", run_id)["state"] == "submitting"
    doc = read(aws, f"runs/{run_id}/run.json")
    batch = aws.client("batch")
    found = {u["client_token"]: with_token(batch, env["queue"], u["job_name"], u["client_token"])
             for u in doc["sweep"]["units"]}
    # killed as SubmitJob 3 left: the proxy still forwards it, so AWS made it though no answer came back;
    # each job is found by its own token, once
    assert [len(jobs) for jobs in found.values()] == [1, 1, 1]


def test_a_rerun_killed_mid_submit_is_resolved_by_its_tokens_and_never_submitted_twice(moto, aws, project, proxy,
                                                                                      monkeypatch):
    """A rerun SIGKILLed as its 3rd SubmitJob leaves (the fault proxy still forwards it) stays 'submitting'
    with no job ids; --status and the next --rerun-failed find its 3 jobs by their client tokens and
    take them as live: the tasks show their jobs' state and nothing is submitted again."""
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.chdir(project.path)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "--no-credentials")
    assert code == 0, err
    first = run_id_of(out)
    for task in (1, 2, 3):  # what the launcher would have written: every task exited 3
        _write_record(aws, first, {}, task, 3)
    procs = []
    proxy.add(operation="submitjob", nth=3, before=lambda request: procs[0].send_signal(signal.SIGKILL))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "batchdeploy", "run", "--rerun-failed", first, "--no-credentials"],
        cwd=project.path, env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": proxy.url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert procs[0].wait(120) == -signal.SIGKILL
    (second,) = {k.split("/")[1] for k in (o["Key"] for o in aws.client("s3").list_objects_v2(
        Bucket=BUCKET, Prefix="runs/2")["Contents"]) if k.split("/")[1] != first}
    assert runs.read_run(aws.client("s3"), BUCKET, "runs", second)["state"] == "submitting"
    assert len(parents(aws, env["queue"])) == 6  # the original's 3 and the killed rerun's 3

    code, out, err = run("status", first, "--output", "json")
    assert code == 0, err
    tasks = json.loads(out)["tasks"]
    assert {t["run_id"] for t in tasks} == {second} and {t["state"] for t in tasks} == {"SUCCEEDED"}
    assert all(t["job_id"] for t in tasks)
    counter = RequestCounter(moto)
    code, out, err = run("run", "--rerun-failed", first, "--no-credentials")
    assert code == 0, err
    assert out.strip() == f"run {first}: all 3 tasks SUCCEEDED; nothing to rerun"
    assert ops(counter, "submitjob") == 0 and len(parents(aws, env["queue"])) == 6


def test_a_job_found_by_its_token_but_not_described_yet_is_live_and_not_rerun(moto, aws, sweep_project):
    """An array submitted by a rerun still 'submitting' whose children AWS has not listed: its tasks
    count as SUBMITTED (live), so --rerun-failed refuses them rather than making a second copy."""
    from batchdeploy.sweeps.tree import Tree, task_states

    class Lagging:  # DescribeJobs that knows the parent but not yet its children, as AWS right after submit
        def __init__(self, batch):
            self.batch = batch

        def __getattr__(self, name):
            return getattr(self.batch, name)

        def describe_jobs(self, jobs):
            parents_only = [j for j in jobs if ":" not in j]
            return self.batch.describe_jobs(jobs=parents_only) if parents_only else {"jobs": []}

    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2,0.3", "seed=1,2", "--no-credentials")
    assert code == 0, err
    rid = run_id_of(out)
    s3 = aws.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=f"runs/{rid}/submitted.json")  # as if killed before it was written
    run_doc = runs.read_run(s3, BUCKET, "runs", rid)
    manifests = [read(aws, m["url"].split("/", 3)[3]) for m in run_doc["sweep"]["manifests"]]
    states = task_states(Tree(run_doc, [], manifests), Lagging(aws.client("batch")))
    assert run_doc["found_by_token"] and len(run_doc["job_ids"]) == 1
    assert {s.state for s in states} == {"SUBMITTED"} and all(s.active for s in states)
    from batchdeploy.errors import UsageError
    from batchdeploy.sweeps.rerun import to_rerun

    with pytest.raises(UsageError, match="6 tasks are still queued or running"):
        to_rerun(states)


def test_code_with_an_image_without_the_launcher_is_refused_for_a_sweep_too(moto, aws, project, monkeypatch):
    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    project.write("train.py", "print(1)\n")
    monkeypatch.chdir(project.path)
    counter = RequestCounter(moto)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2", "--code", "--no-credentials")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--code needs the launcher in the image" in err
    assert ops(counter, "submitjob") == 0 and ops(counter, "putobject") == 0


def test_without_the_launcher_a_rerun_reads_each_tasks_own_job(moto, failing_moto, project, monkeypatch):
    from batchdeploy.aws import Aws, AwsSettings

    failing_moto.reset()
    failing_moto.batch_use_docker(False)
    aws = Aws(AwsSettings(region=REGION, endpoint_url=failing_moto.url))
    env = make_batch(aws, definition=NO_LAUNCHER)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", failing_moto.url)
    monkeypatch.chdir(project.path)
    code, out, err = run("run", "exp", "--grid", "lr=0.1,0.2", "--wait", "--no-credentials")
    assert code == 3, err
    first = run_id_of(out)
    assert [line.split()[0] for line in out.splitlines()[-2:]] == ["1", "2"]
    code, out, err = run("status", first, "--output", "json")
    assert [(t["task"], t["state"]) for t in json.loads(out)["tasks"]] == [(1, "FAILED"), (2, "FAILED")]
    counter = RequestCounter(failing_moto)
    code, out, err = run("run", "--rerun-failed", first, "--no-credentials")
    assert code == 0, err
    assert ops(counter, "submitjob") == 2  # one job per task again, each under its task's name
    assert f"rerun of {first}: 2 of 2 tasks (1, 2)" in err
