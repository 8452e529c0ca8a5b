"""SubmitJob exactly once: the one loop batchdeploy adds on top of botocore's retry policy.

AWS Batch takes no idempotency token for SubmitJob, so no design can make a second SubmitJob harmless;
what this module guarantees is that at most one job *runs on*, and that it says what it did:

- botocore's retries are off for SubmitJob (an SDK retry after a lost answer makes a second job);
- every request carries a client-token tag (`batchdeploy:client-token`) unique to this `-r`;
- a failure is sorted (aws.errors.failure_kind): one that never reached AWS (connection refused,
  throttled) is sent again, and only then is "no job was made" said; one whose answer was lost
  (connection closed, read time-out, 5xx) is looked for by name and tag for LOOKUP_WAITS (AWS lists
  a new job late, often by seconds), and sent again only when no job carries the tag by then;
- after any second send, the jobs carrying the tag are looked for until the new one is listed; when
  two are, the later is terminated (TerminateJob: before it runs, when it is still queued) and the
  earlier kept and recorded, and the user is told.
"""

from __future__ import annotations

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.errors import failure_kind
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import BatchdeployError, OperationError

SUBMIT_ATTEMPTS = 3
# Seconds before each look for a job whose SubmitJob answer was lost (15 s in all): how long a new
# job may take to appear in ListJobs. The same waits bound the look for a duplicate after a resend.
LOOKUP_WAITS = (0.0, 1.0, 2.0, 4.0, 8.0)
MAX_NAMED = 1000  # jobs of one name looked through for the client token


def named(batch, queue: str, name: str) -> list[str]:
    """Ids of the jobs called `name` on `queue`, any status, array children left out."""
    return [j["jobId"] for j in aws_batch.list_jobs(batch, queue, name=name, max_items=MAX_NAMED)]


def with_token(batch, queue: str, name: str, token: str) -> list[dict]:
    """The jobs this client token made, oldest first: ListJobs by name, then the tag on DescribeJobs."""
    found = [
        job for job in aws_batch.describe_jobs(batch, named(batch, queue, name)).values()
        if (job.get("tags") or {}).get(TAG_CLIENT_TOKEN) == token
    ]
    return sorted(found, key=lambda j: (j.get("createdAt") or 0, j["jobId"]))


def _summary(job: dict) -> dict:
    return {"jobId": job["jobId"], "jobName": job.get("jobName"), "jobArn": job.get("jobArn")}


def submit_exactly_once(aws, request: dict, *, sleep, note) -> dict:
    """SubmitJob so that one job runs: botocore's retries are off for it; a lost answer is looked for,
    and a duplicate made by a resend is terminated. `note` tells the user what happened; `sleep`
    paces the attempts and the looks (injected: tests pass a fake clock)."""
    sender = aws.client("batch", retries={"total_max_attempts": 1})
    reader = aws.client("batch")
    token = request["tags"][TAG_CLIENT_TOKEN]
    where = (reader, request["jobQueue"], request["jobName"], token)
    delay, uncertain = 1.0, False  # uncertain: an earlier attempt may have made a job
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            answer = sender.submit_job(**request)
        except Exception as exc:  # noqa: BLE001 - sorted by failure_kind; the rest is translated
            kind = failure_kind(exc)
            if kind is None:
                with translate(f"submit job {request['jobName']} (batch:SubmitJob)"):
                    raise
            if kind == "lost":
                found = _look_for(where, sleep, until=lambda jobs: bool(jobs))
                if found:
                    note(f"SubmitJob's answer was lost on the way back; found the job it made ({found[0]['jobId']})")
                    return _keep_first(where, found, note) if uncertain else _summary(found[0])
                uncertain = True
            if attempt == SUBMIT_ATTEMPTS:
                with translate(f"submit job {request['jobName']} (batch:SubmitJob, {attempt} attempts)"):
                    raise
            if kind == "lost":
                note(f"SubmitJob's answer was lost and no job carries its token after {sum(LOOKUP_WAITS):.0f} s; "
                     f"submitting again (a duplicate listed later is terminated)")
            else:
                note(f"SubmitJob did not reach AWS ({type(exc).__name__}); no job was made; trying again")
                sleep(delay)
                delay *= 2
            continue
        return _confirm(where, answer, sleep, note) if uncertain else answer
    raise AssertionError("unreachable")  # pragma: no cover


def _confirm(where, answer: dict, sleep, note) -> dict:
    """After a second send: wait until AWS lists the job just made, then keep the first of those
    carrying the token (an earlier attempt's job may have been listed late)."""
    try:
        found = _look_for(where, sleep, until=lambda jobs: any(j["jobId"] == answer["jobId"] for j in jobs))
    except OperationError:
        found = []
    if not any(j["jobId"] == answer["jobId"] for j in found):
        note(f"AWS does not list job {answer['jobId']} yet, so no duplicate could be ruled out; "
             f"`./deploy.sh --status {where[2]}` shows every job of the name")
        return answer
    return _keep_first(where, found, note)


def _keep_first(where, found: list[dict], note) -> dict:
    """Of several jobs with one client token, the first made runs; the later ones are terminated."""
    reader, _, name, token = where
    keep, extra = found[0], found[1:]
    for job in extra:
        with translate(f"terminate the duplicate job {job['jobId']} (batch:TerminateJob)"):
            reader.terminate_job(jobId=job["jobId"], reason=f"duplicate of {keep['jobId']} (same {TAG_CLIENT_TOKEN})")
        note(f"two jobs carry client token {token}: terminated the later one ({job['jobId']}); "
             f"keeping {keep['jobId']}, the first made")
    return _summary(keep)


def _look_for(where, sleep, until) -> list[dict]:
    """The jobs with the token, looked for at LOOKUP_WAITS until `until(jobs)` holds; the last look's
    jobs otherwise. A failure to look is an error: a guess could make a second job."""
    reader, queue, name, token = where
    found: list[dict] = []
    for wait_s in LOOKUP_WAITS:
        if wait_s:
            sleep(wait_s)
        try:
            found = with_token(reader, queue, name, token)
        except Exception as exc:  # noqa: BLE001 - never guess: a second SubmitJob could make a second job
            cause = exc.__context__ if isinstance(exc, BatchdeployError) and exc.__context__ else exc
            raise OperationError(
                f"SubmitJob's answer was lost and looking for the job failed ({type(cause).__name__})",
                hint=f"check `./deploy.sh --status {name}` before submitting again "
                f"(the job would carry the tag {TAG_CLIENT_TOKEN}={token})",
            ) from None
        if until(found):
            return found
    return found
