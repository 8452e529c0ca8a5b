"""Following jobs: --wait's exit codes, live logs with nothing lost or repeated, Ctrl-C, many jobs watched
with ceil(N/100) DescribeJobs, and --status / --logs / --cancel, against moto."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest

from batchdeploy.jobs.watch import JobWatcher, follow
from batchdeploy.polling import Backoff
from tests import run_support
from tests.conftest import REGION, ROOT, RequestCounter
from tests.run_support import (
    PARAMS,
    FakeClock,
    held_job,
    inprocess,
    make_batch,
    records,
    release_jobs,
    set_job_transitions,
    setup_project,
)

batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture


@pytest.fixture
def held(moto):
    """Jobs submitted while this is active stay SUBMITTED (moto's state machine held)."""
    yield
    release_jobs(moto)


def describes(counter) -> int:
    return sum(1 for m, p, _ in counter.since() if p == "/v1/describejobs")


def test_wait_exits_0_when_the_job_succeeds(moto, run_project):
    r = run_project.deploy("-r", "exp1", *PARAMS, "--no-credentials", "--wait")
    assert r.returncode == 0, r.stderr
    job_id = records(run_project)[0]["job_id"]
    assert "exp1: SUCCEEDED" in r.stderr
    assert f"job exp1 ({job_id}) SUCCEEDED" in r.stderr


def test_wait_exits_3_when_the_job_fails(moto, failing_moto, project, monkeypatch):
    from batchdeploy.aws import Aws, AwsSettings

    failing_moto.reset()
    failing_moto.batch_use_docker(False)
    env = make_batch(Aws(AwsSettings(region=REGION, endpoint_url=failing_moto.url)))
    setup_project(project, env)
    r = project.deploy("-r", "exp1", *PARAMS, "--wait", env={"AWS_ENDPOINT_URL": failing_moto.url})
    assert r.returncode == 3  # the job failed; AWS refusing something is 1
    job_id = records(project)[0]["job_id"]
    assert "exp1: FAILED" in r.stderr
    assert r.stderr.splitlines()[-1] == f"batchdeploy: error: job exp1 ({job_id}) failed: FAILED; no container exit code"


def test_an_array_job_is_followed_to_its_end(moto, run_project):
    r = run_project.deploy("-r", "fan", *PARAMS, "--no-credentials", "--array-size", "3", "--wait")
    assert r.returncode == 0, r.stderr
    assert "submitted array job of 3 fan:" in r.stdout
    assert "children: 3 SUCCEEDED" in r.stderr


def test_watching_250_jobs_costs_ceil_n_over_100_describe_calls_per_round(moto, aws, batch_env):
    batch = aws.client("batch")
    ids = [
        batch.submit_job(jobName=f"j{i}", jobQueue=batch_env["queue"], jobDefinition=batch_env["jobdef_arn"],
                         parameters={"experiment_file": "a", "output_path": "b"})["jobId"]
        for i in range(250)
    ]
    counter = RequestCounter(moto)
    t = FakeClock()
    watcher = JobWatcher(batch, ids, sleep=t.sleep, clock=t.clock)
    final = watcher.run()
    assert {j["status"] for j in final.values()} == {"SUCCEEDED"}
    assert watcher.rounds == 1 and watcher.describe_calls == 3 == describes(counter)
    assert t.sleeps == []


class ScriptedBatch:
    """DescribeJobs answers from a script (moto without docker ends jobs at once); one record per round."""

    def __init__(self, job_id, script):
        self.job_id = job_id
        self.script = list(script)
        self.calls = 0

    def describe_jobs(self, jobs):
        self.calls += 1
        status = self.script[min(self.calls, len(self.script)) - 1]
        job = {"jobId": self.job_id, "jobName": "live", "status": status, "attempts": []}
        if status in ("RUNNING", "SUCCEEDED"):
            job["container"] = {"logStreamName": "live/default/" + self.job_id}
        if status == "SUCCEEDED":
            job["container"]["exitCode"] = 0
        return {"jobs": [job]}


def test_the_log_follower_loses_and_repeats_nothing_while_the_stream_is_written(moto, aws):
    logs = aws.client("logs")
    group, stream = "/aws/batch/job", "live/default/job-1"
    logs.create_log_group(logGroupName=group)
    written: list[str] = []
    t0 = int(time.time() * 1000)  # CloudWatch (and moto) refuse events older than 14 days

    def write_between_polls(n):
        # Between polls the job writes a burst of lines. Batch names the stream at RUNNING (4th poll);
        # it exists only from the 5th pause on, and reading it before is not an error.
        if n == 5:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        if n >= 5:
            batch_of = [f"line {len(written) + i}" for i in range(n * 3)]
            logs.put_log_events(
                logGroupName=group, logStreamName=stream,
                logEvents=[{"timestamp": t0 + len(written) + i, "message": m} for i, m in enumerate(batch_of)],
            )
            written.extend(batch_of)

    t = FakeClock(between=write_between_polls)
    script = ["SUBMITTED", "RUNNABLE", "STARTING", *["RUNNING"] * 6, "SUCCEEDED"]
    batch = ScriptedBatch("job-1", script)
    states, lines = [], []
    followed = follow(
        batch, logs, "job-1", sleep=t.sleep, clock=t.clock,
        on_change=lambda c: states.append(c.after), on_line=lambda e: lines.append(e["message"]),
        warn=lambda text: None, log_page_size=4,
    )
    assert states == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    assert len(written) > 40
    assert lines == written  # every line, once, in order, across pages of 4
    assert followed.job["status"] == "SUCCEEDED" and followed.lines == len(written)


def test_logs_prints_a_finished_jobs_lines(moto, aws, run_project):
    r = run_project.deploy("-r", "exp1", *PARAMS, "--no-credentials", "-q")
    job_id = r.stdout.strip()
    stream = aws.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/aws/batch/job")
    logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
    logs.put_log_events(logGroupName="/aws/batch/job", logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000) + i, "message": f"hello {i}"} for i in range(5)])
    r = run_project.deploy("--logs", job_id)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"hello {i}" for i in range(5)]
    r = run_project.deploy("--logs", "exp1", "--follow")  # by name; the job has ended: lines, then its outcome
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"hello {i}" for i in range(5)]


def test_logs_of_an_array_parent_and_of_an_unknown_job(moto, run_project):
    r = run_project.deploy("-r", "fan", *PARAMS, "--no-credentials", "--array-size", "2", "-q")
    parent = r.stdout.strip()
    r = run_project.deploy("--logs", parent)
    assert r.returncode == 2 and f"is an array job: each child has its own log; ./deploy.sh --logs {parent}:0" in r.stderr
    r = run_project.deploy("--logs", "no-such-job")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no job 'no-such-job'" in r.stderr


def test_ctrl_c_while_waiting_leaves_the_job_and_says_how_to_reattach(moto, aws, run_project, batch_env, held,
                                                                     monkeypatch):
    job_id = held_job(aws, moto, batch_env)
    monkeypatch.chdir(run_project.path)
    counter = RequestCounter(moto)

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    code, out, err = inprocess(["logs", job_id, "--follow"], sleep=ctrl_c)
    assert code == 130
    assert f"job {job_id} keeps running; re-attach with: batchdeploy logs {job_id} --follow" in err
    assert not any("terminatejob" in p or "canceljob" in p for _, p, _ in counter.since())


def test_ctrl_c_with_cancel_on_interrupt_terminates_the_job(moto, aws, run_project, batch_env, held, monkeypatch):
    set_job_transitions(moto, {"progression": "manual", "times": 10**9})
    moto.batch_use_docker(True)
    monkeypatch.chdir(run_project.path)
    counter = RequestCounter(moto)

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials", "--wait", "--cancel-on-interrupt"],
                               sleep=ctrl_c)
    assert code == 130, err
    job_id = records(run_project)[0]["job_id"]
    assert f"interrupted: job {job_id} terminated (--cancel-on-interrupt)" in err
    assert sum(1 for _, p, _ in counter.since() if p == "/v1/terminatejob") == 1


def test_a_job_stuck_in_runnable_is_warned_about_once(moto):
    t = FakeClock()

    class Runnable:
        def describe_jobs(self, jobs):
            status = "RUNNABLE" if t.now < 1000 else "SUCCEEDED"
            return {"jobs": [{"jobId": "j", "status": status}]}

    warnings = []
    follow(Runnable(), None, "j", sleep=t.sleep, clock=t.clock, on_change=lambda c: None, on_line=None,
           warn=warnings.append, runnable_warn_s=600, backoff=Backoff(first=2, factor=1.5, cap=5))
    assert len(warnings) == 1 and "has been RUNNABLE for 60" in warnings[0]
    assert max(t.sleeps) == 5  # one DescribeJobs per 5 s at most while nothing changes


def test_status_lists_this_projects_jobs_newest_first(moto, run_project):
    for name in ("first", "second"):
        assert run_project.deploy("-r", name, *PARAMS, "--no-credentials").returncode == 0
    ids = [r["job_id"] for r in records(run_project)]
    r = run_project.deploy("--status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["RUN", "ID", "JOB", "ID", "NAME", "STATUS", "SUBMITTED", "TOOK", "EXIT", "REASON"]
    assert [line.split()[1] for line in lines[1:]] == [ids[1], ids[0]]  # runs from S3, newest first
    assert all("SUCCEEDED" in line for line in lines[1:])
    r = run_project.run("status", "--output", "json", "--limit", "1")
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows] == ["second"]
    assert rows[0]["state"] == "SUCCEEDED" and rows[0]["created_at"].endswith("Z") and rows[0]["reason"] is None
    jsonschema.validate(rows, json.loads((ROOT / "docs" / "status.schema.json").read_text()))
    r = run_project.run("status", "--output", "json", "--state", "failed")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = run_project.deploy("--status", "first")
    assert r.returncode == 0 and f"job_id          {ids[0]}" in r.stdout
    assert '"experiment_file": "s3://bucket/experiments/a.yaml"' in r.stdout


def test_status_with_no_jobs_and_with_an_unknown_one(moto, run_project):
    r = run_project.deploy("--status")
    assert r.returncode == 0 and "no runs yet; submit one with ./deploy.sh -r NAME" in r.stdout
    r = run_project.deploy("--status", "nope")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no job 'nope' recorded or known to AWS Batch" in r.stderr


def test_cancel_a_queued_job_uses_canceljob(moto, aws, run_project, batch_env, held):
    job_id = held_job(aws, moto, batch_env)
    counter = RequestCounter(moto)
    r = run_project.deploy("--cancel", job_id)
    assert r.returncode == 0, r.stderr
    assert f"job {job_id}: cancel requested (was SUBMITTED)" in r.stdout
    paths = [p for _, p, _ in counter.since()]
    assert paths.count("/v1/canceljob") == 1 and "/v1/terminatejob" not in paths


def test_cancel_an_ended_job_does_nothing_and_an_unknown_one_is_exit_2(moto, run_project):
    job_id = run_project.deploy("-r", "exp1", *PARAMS, "--no-credentials", "-q").stdout.strip()
    r = run_project.deploy("--cancel", job_id)
    assert r.returncode == 0 and f"job {job_id} already SUCCEEDED: nothing to cancel" in r.stdout
    r = run_project.deploy("--cancel", "no-such-job")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
