"""SubmitJob exactly once: the one loop batchdeploy adds on top of botocore's retry policy.

SubmitJob is not idempotent (AWS Batch takes no client token), so botocore's retries are off for it
and the request carries a client-token tag. A failure is sorted: one that never reached AWS
(connection refused, throttled) is sent again; one whose answer was lost (connection closed, read
time-out, 5xx) is first looked for (ListJobs by name, then the tag on DescribeJobs), and sent again
only when AWS has no such job. Anything else is translated at once.
"""

from __future__ import annotations

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import error_code, is_retryable, translate
from batchdeploy.aws.errors import THROTTLING
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import BatchdeployError, OperationError

SUBMIT_ATTEMPTS = 3
LOOKUP_WAITS = (0.0, 1.0, 2.0)  # seconds before each look for a job whose SubmitJob answer was lost
MAX_NAMED = 1000  # jobs of one name looked through for the client token


def failure_kind(exc) -> str | None:
    """'unsent' (safe to send again), 'lost' (AWS may have made the job), None (not retryable)."""
    try:
        import botocore.exceptions as bex
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError)):
        return "unsent"
    if isinstance(exc, bex.HTTPClientError):  # connection closed, read timeout: the answer was lost
        return "lost"
    if error_code(exc) in THROTTLING:
        return "unsent"
    if is_retryable(exc):  # 5xx: made or not, it cannot say
        return "lost"
    return None


def named(batch, queue: str, name: str) -> list[str]:
    """Ids of the jobs called `name` on `queue`, any status, array children left out."""
    return [j["jobId"] for j in aws_batch.list_jobs(batch, queue, name=name, max_items=MAX_NAMED)]


def find_by_token(batch, queue: str, name: str, token: str) -> dict | None:
    """The job this client token made, if AWS has it: ListJobs by name, then the tag on DescribeJobs."""
    for job in aws_batch.describe_jobs(batch, named(batch, queue, name)).values():
        if (job.get("tags") or {}).get(TAG_CLIENT_TOKEN) == token:
            return {"jobId": job["jobId"], "jobName": job.get("jobName"), "jobArn": job.get("jobArn")}
    return None


def submit_exactly_once(aws, request: dict, *, sleep, note) -> dict:
    """SubmitJob at most once per job: botocore's retries are off for it; a lost answer is looked for.
    `note` tells the user what happened; `sleep` paces the attempts."""
    sender = aws.client("batch", retries={"total_max_attempts": 1})
    reader = aws.client("batch")
    token = request["tags"][TAG_CLIENT_TOKEN]
    name, queue = request["jobName"], request["jobQueue"]
    delay = 1.0
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return sender.submit_job(**request)
        except Exception as exc:  # noqa: BLE001 - sorted by failure_kind; the rest is translated
            kind = failure_kind(exc)
            if kind is None:
                with translate(f"submit job {name} (batch:SubmitJob)"):
                    raise
            if kind == "lost":
                found = _look_for(reader, queue, name, token, sleep)
                if found:
                    note(f"SubmitJob's answer was lost on the way back; found the job it made ({found['jobId']})")
                    return found
            if attempt == SUBMIT_ATTEMPTS:
                with translate(f"submit job {name} (batch:SubmitJob, {attempt} attempts)"):
                    raise
            note(f"SubmitJob failed ({type(exc).__name__}); no job was made; trying again")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _look_for(reader, queue: str, name: str, token: str, sleep) -> dict | None:
    for wait_s in LOOKUP_WAITS:
        if wait_s:
            sleep(wait_s)
        try:
            found = find_by_token(reader, queue, name, token)
        except Exception as exc:  # noqa: BLE001 - never guess: a second SubmitJob could make a second job
            cause = exc.__context__ if isinstance(exc, BatchdeployError) and exc.__context__ else exc
            raise OperationError(
                f"SubmitJob's answer was lost and looking for the job failed ({type(cause).__name__})",
                hint=f"check `./deploy.sh --status {name}` before submitting again "
                f"(the job would carry the tag {TAG_CLIENT_TOKEN}={token})",
            ) from None
        if found:
            return found
    return None
