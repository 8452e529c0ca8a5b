"""One `-r` makes exactly one job, even when SubmitJob's answer is lost: a fault-injecting proxy in front
of moto drops or fails SubmitJob, and the jobs in the queue are counted afterwards."""

from __future__ import annotations

from tests import run_support
from tests.run_support import (
    PARAMS,
    FakeClock,
    all_jobs,
    inprocess,
    records,
)

batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture


def test_the_proxy_reproduces_the_hazard_an_sdk_retry_makes_two_jobs(moto, aws, batch_env, proxy):
    """Control: a plain client with botocore's retries on, through the same proxy, makes two jobs."""
    from batchdeploy.aws import Aws, AwsSettings

    plain = Aws(AwsSettings(region="us-east-1", endpoint_url=proxy.url)).client("batch")
    proxy.add(operation="submitjob", nth=1, drop=True)
    plain.submit_job(jobName="twice", jobQueue=batch_env["queue"], jobDefinition=batch_env["jobdef_arn"],
                     parameters={"experiment_file": "a", "output_path": "b"})
    assert proxy.count("submitjob") == 2
    assert len([j for j in all_jobs(aws, batch_env["queue"]) if j["jobName"] == "twice"]) == 2


def test_a_dropped_submit_answer_still_makes_one_job(moto, aws, run_project, batch_env, proxy):
    proxy.add(operation="submitjob", nth=1, drop=True)
    r = run_project.deploy("-r", "exp1", *PARAMS, env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert "SubmitJob's answer was lost on the way back; found the job it made" in r.stderr
    assert proxy.count("submitjob") == 1
    jobs = all_jobs(aws, batch_env["queue"])
    assert len(jobs) == 1
    assert r.stdout.startswith(f"submitted job exp1: {jobs[0]['jobId']}")
    assert [rec["job_id"] for rec in records(run_project)] == [jobs[0]["jobId"]]


def test_a_5xx_before_the_job_was_made_is_looked_for_then_sent_again(moto, aws, run_project, batch_env, proxy,
                                                                    monkeypatch):
    proxy.add(operation="submitjob", nth=1, status=500)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    t = FakeClock()
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=t.sleep, clock=t.clock)
    assert code == 0, err
    assert proxy.count("submitjob") == 2
    # five looks over 15 s found nothing: sent again; one more look sees the new job and no other
    assert proxy.count("listjobs") == 6
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert "no job was made" not in err  # it could not know that
    assert "no job carries its token after 15 s; submitting again" in err
    assert len(all_jobs(aws, batch_env["queue"])) == 1
    assert len(records(run_project)) == 1


def test_a_throttled_submit_is_sent_again_without_looking(moto, aws, run_project, batch_env, proxy, monkeypatch):
    proxy.add(operation="submitjob", nth=1, status=400, code="ThrottlingException")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    t = FakeClock()
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=t.sleep, clock=t.clock)
    assert code == 0, err
    assert proxy.count("submitjob") == 2 and proxy.count("listjobs") == 0
    assert len(all_jobs(aws, batch_env["queue"])) == 1


def test_when_the_job_cannot_be_looked_for_nothing_is_sent_again(moto, aws, run_project, batch_env, proxy,
                                                                monkeypatch):
    proxy.add(operation="submitjob", nth=1, drop=True)
    proxy.add(operation="listjobs", nth=1, status=503, code="ServiceUnavailable")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.chdir(run_project.path)
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=FakeClock().sleep)
    assert code == 1
    assert err.splitlines()[-1].startswith(
        "batchdeploy: error: SubmitJob's answer was lost and looking for the job failed (ClientError); "
        "check `./deploy.sh --status exp1` before submitting again (the job would carry the tag batchdeploy:client-token="
    )
    assert proxy.count("submitjob") == 1
    made = all_jobs(aws, batch_env["queue"])
    assert len(made) == 1  # the one the lost answer made
    assert records(run_project) == []  # not known to us, so not recorded
    # ... and the command the error names finds it (by name, on the queue)
    proxy.clear()
    code, out, err = inprocess(["status", "exp1"])
    assert code == 0, err
    assert f"job_id          {made[0]['jobId']}" in out


def test_three_lost_answers_and_no_job_is_exit_1(moto, aws, run_project, batch_env, proxy, monkeypatch):
    for n in (1, 2, 3):
        proxy.add(operation="submitjob", nth=n, status=502, code="BadGateway")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=FakeClock().sleep)
    assert code == 1
    assert "cannot submit job exp1 (batch:SubmitJob, 3 attempts): BadGateway" in err.splitlines()[-1]
    assert proxy.count("submitjob") == 3
    assert all_jobs(aws, batch_env["queue"]) == [] and records(run_project) == []


def hide_jobs(answer: dict) -> dict:
    """ListJobs as AWS answers it before a new job is listed."""
    return {**answer, "jobSummaryList": []}


def test_a_lost_answer_and_a_late_listing_still_make_one_job(moto, aws, run_project, batch_env, proxy, monkeypatch):
    """Issue #13: the answer lost and ListJobs late by three looks (7 s): the job is found, not made again."""
    proxy.add(operation="submitjob", nth=1, drop=True)
    proxy.add(operation="listjobs", times=3, rewrite=hide_jobs)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    t = FakeClock()
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=t.sleep, clock=t.clock)
    assert code == 0, err
    assert proxy.count("submitjob") == 1 and t.sleeps == [1.0, 2.0, 4.0]
    assert "no job was made" not in err
    jobs = all_jobs(aws, batch_env["queue"])
    assert len(jobs) == 1
    assert [rec["job_id"] for rec in records(run_project)] == [jobs[0]["jobId"]]


def test_a_listing_later_than_the_wait_ends_with_the_later_job_terminated(moto, aws, run_project, batch_env, proxy,
                                                                        monkeypatch):
    """Listed later than the whole wait: sent again, then both are seen; the later is terminated, said so,
    and the first is the one recorded."""
    proxy.add(operation="submitjob", nth=1, drop=True)
    proxy.add(operation="listjobs", times=5, rewrite=hide_jobs)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=FakeClock().sleep)
    assert code == 0, err
    assert proxy.count("submitjob") == 2
    jobs = aws.client("batch").describe_jobs(jobs=[j["jobId"] for j in all_jobs(aws, batch_env["queue"])])["jobs"]
    first, later = sorted(jobs, key=lambda j: (j["createdAt"], j["jobId"]))
    assert f"terminated the later one ({later['jobId']}); keeping {first['jobId']}, the first made" in err
    assert [b["jobId"] for b in proxy.bodies("terminatejob")] == [later["jobId"]]
    assert [rec["job_id"] for rec in records(run_project)] == [first["jobId"]]
    assert out.startswith(f"submitted job exp1: {first['jobId']}")
