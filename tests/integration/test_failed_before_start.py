"""issue #21: a job that fails before its command runs (its image cannot be pulled) shows AWS's
statusReason and the container's reason in --status, --logs and --wait (--logs --follow follows as
-r --wait does). moto never fails a job so; the fault proxy answers DescribeJobs as AWS does then."""

from __future__ import annotations

from tests import doctor_support as ds

STATUS_REASON = "Task failed to start"
CONTAINER_REASON = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"


def failed_before_start(answer):
    for job in answer.get("jobs", []):
        job["status"] = "FAILED"
        job["statusReason"] = STATUS_REASON
        container = job.setdefault("container", {})
        container["reason"] = CONTAINER_REASON
        for key in ("exitCode", "logStreamName"):
            container.pop(key, None)
        job["attempts"] = [{"container": {"reason": CONTAINER_REASON}, "statusReason": STATUS_REASON}]
    return answer


def test_status_logs_and_wait_show_both_reasons(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    job = aws.client("batch").submit_job(jobName="exp1", jobQueue=env["queue"], jobDefinition=env["jobdef_arn"])["jobId"]
    proxy.add(path="/v1/describejobs", rewrite=failed_before_start)
    via = {"AWS_ENDPOINT_URL": proxy.url}
    both = f"{STATUS_REASON}; {CONTAINER_REASON}"

    r = project.deploy("--status", job, env=via)
    assert r.returncode == 0, r.both
    assert [x for x in r.stdout.splitlines() if x.startswith("reason")] == [f"{'reason':<15} {both}"]

    r = project.deploy("--logs", job, env=via)
    assert r.returncode == 0, r.both
    assert f"job {job} has no log stream (FAILED: {both})" in r.stderr

    r = project.deploy("--logs", job, "--follow", env=via)
    assert r.returncode == 3, r.both
    assert STATUS_REASON in r.both and CONTAINER_REASON in r.both
