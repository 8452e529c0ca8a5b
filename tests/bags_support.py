"""What a bag's containers would have written to CloudWatch Logs, on moto's API-only Batch (which runs
no container and writes no log line): a fault-proxy hook on FilterLogEvents puts each requested
stream's lines there first, so batchdeploy's own log reading runs unchanged (nothing of ours patched)."""

from __future__ import annotations

import contextlib
import json
import threading
import time

GROUP = "/aws/batch/job"


def task_name(job: dict) -> str:
    """The bag task a job ran: PEGASUS_JOB_NAME in its environment (one job per task), else, for an
    array child, the task at its index in the bag's order, named t1, t2, ... as the tests name them."""
    env = {e["name"]: e["value"] for e in (job.get("container") or {}).get("environment") or []}
    if env.get("PEGASUS_JOB_NAME"):
        return env["PEGASUS_JOB_NAME"]
    _, sep, index = job["jobId"].rpartition(":")
    return f"t{int(index) + 1}" if sep else job["jobName"]


@contextlib.contextmanager
def logs_written(aws, proxy, monkeypatch, lines_of):
    """Inside: batchdeploy talks to AWS through `proxy`, and job J's stream (moto names it
    `DEFINITION/default/JOB_ID`) holds `lines_of(task_name(J))` when batchdeploy first asks for it.
    The hook's own calls go straight to moto: count batchdeploy's requests on the proxy."""
    logs, batch, done, lock = aws.client("logs"), aws.client("batch"), set(), threading.Lock()

    def put(request):
        with lock:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=GROUP)
            for stream in json.loads(request.body or b"{}").get("logStreamNames") or []:
                if stream in done:
                    continue
                done.add(stream)
                (job,) = batch.describe_jobs(jobs=[stream.rsplit("/", 1)[-1]])["jobs"]
                logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
                now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
                events = [{"timestamp": now + i, "message": m} for i, m in enumerate(lines_of(task_name(job)))]
                logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    rule = proxy.add(operation="FilterLogEvents", before=put)
    try:
        yield proxy
    finally:
        proxy.rules.remove(rule)
