"""AWS Batch: its documented limits and grammar, and every call batchdeploy makes more than once.

The facts here are AWS's, written once; moto accepts requests that break most of them, so
batchdeploy enforces them itself. The calls are the ones several capabilities need: DescribeJobs in
groups of 100, the newest ACTIVE revision of a job definition, the jobs still active on a queue.
Each takes a client as its argument and translates botocore's errors at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from batchdeploy.aws.errors import translate

# ---- job states --------------------------------------------------------------------------------
JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
ACTIVE_JOB_STATES = JOB_STATES[:5]  # what ListJobs must be asked for one by one to find live jobs
TERMINAL = frozenset({"SUCCEEDED", "FAILED"})
QUEUED = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})

# ---- limits (SubmitJob, RegisterJobDefinition, the Batch user guide) ----------------------------
DESCRIBE_JOBS_MAX = 100  # DescribeJobs ids per call
MAX_TAGS = 50  # tags on any Batch resource
MAX_DEPENDS_ON = 20
ARRAY_SIZE = (2, 10_000)
ATTEMPTS = (1, 10)  # retryStrategy.attempts
MAX_EVALUATE_ON_EXIT = 5
MAX_SCHEDULING_PRIORITY = 9999
MIN_TIMEOUT_S = 60  # attemptDurationSeconds
MAX_SUBMIT_PAYLOAD = 30 * 1024  # a SubmitJob request, bytes
MAX_JOB_DEFINITION_BYTES = 24 * 1024  # a RegisterJobDefinition request, bytes
SUBMIT_RATE_PER_S = 50  # SubmitJob per account

# Job and job definition names: up to 128 letters, digits, hyphens and underscores.
NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")  # a job's name must start alphanumeric
# Compute environment and job queue names (the pattern moto enforces, which AWS documents as "up to
# 128 letters, numbers, hyphens and underscores"; the first and last must be alphanumeric).
CE_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]")
# A job id is a UUID; an array child's is PARENT:INDEX.
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:\d{1,5})?")

# ---- Ref:: parameter substitution ----------------------------------------------------------------
# Batch replaces `Ref::NAME` in a container's command with the parameter NAME (SubmitJob's value, else
# the job definition's default). One grammar for `-u` and `-r`: a parameter name is letters, digits,
# `_` and `-`, so `Ref::in-file` is the parameter `in-file`.
REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_-]+")


def ref_names(text: str) -> list[str]:
    """The parameter names `Ref::` placeholders in `text` use, in order, each once."""
    return list(dict.fromkeys(REF.findall(text)))


def chunks(items: list, size: int = DESCRIBE_JOBS_MAX) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def array_summary(job: dict) -> dict[str, int]:
    """An array parent's children by state, zero counts left out."""
    summary = (job.get("arrayProperties") or {}).get("statusSummary") or {}
    return {k: v for k, v in summary.items() if v}


# ---- calls ---------------------------------------------------------------------------------------


def describe_jobs(batch, ids: Iterable[str]) -> dict[str, dict]:
    """DescribeJobs for any number of ids, 100 per call; returns id -> record (unknown ids absent).

    botocore's retry policy (standard or adaptive) covers throttling and 5xx; there is no loop here."""
    found: dict[str, dict] = {}
    for group in chunks(list(dict.fromkeys(ids))):
        with translate("describe jobs (batch:DescribeJobs)"):
            answer = batch.describe_jobs(jobs=group)
        for job in answer.get("jobs") or []:
            found[job["jobId"]] = job
    return found


def active_revisions(batch, name: str) -> list[dict]:
    """Every ACTIVE revision of job definition `name`, newest first."""
    out: list[dict] = []
    with translate(f"describe job definition {name} (batch:DescribeJobDefinitions)"):
        for page in batch.get_paginator("describe_job_definitions").paginate(jobDefinitionName=name, status="ACTIVE"):
            out += page.get("jobDefinitions") or []
    return sorted((d for d in out if d.get("status", "ACTIVE") == "ACTIVE"), key=lambda d: -d["revision"])


def newest_active(batch, name: str) -> dict | None:
    """The newest ACTIVE revision of `name`, or None when it has none."""
    found = active_revisions(batch, name)
    return found[0] if found else None


def job_definition(batch, ref: str) -> dict | None:
    """The job definition `ref` names: `NAME` (its newest ACTIVE revision), `NAME:REV` or an ARN (that
    revision, whatever its status). None when AWS has no such definition."""
    doing = f"describe job definition {ref} (batch:DescribeJobDefinitions)"
    if ref.startswith("arn:"):
        with translate(doing):
            found = batch.describe_job_definitions(jobDefinitions=[ref]).get("jobDefinitions") or []
        return max(found, key=lambda d: d.get("revision", 0)) if found else None
    name, _, rev = ref.partition(":")
    if not rev:
        return newest_active(batch, ref)
    # NAME:REV is read through jobDefinitionName: AWS also takes it in jobDefinitions, moto does not.
    with translate(doing):
        pages = batch.get_paginator("describe_job_definitions").paginate(jobDefinitionName=name)
        found = [d for page in pages for d in page.get("jobDefinitions") or [] if str(d.get("revision")) == rev]
    return found[0] if found else None


def list_jobs(batch, queue: str, *, states: Iterable[str] = ACTIVE_JOB_STATES, name: str | None = None,
              max_items: int | None = None) -> list[dict]:
    """Job summaries on `queue`: those in `states`, or, given `name`, every job of that name in any
    state (ListJobs' JOB_NAME filter ignores jobStatus). Array children are left out."""
    paginator = batch.get_paginator("list_jobs")
    config = {"PaginationConfig": {"MaxItems": max_items}} if max_items else {}
    out: list[dict] = []
    with translate(f"list the jobs of job queue {queue} (batch:ListJobs)"):
        if name is not None:
            pages = paginator.paginate(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}], **config)
            out += [j for page in pages for j in page.get("jobSummaryList") or []]
        else:
            for state in states:
                pages = paginator.paginate(jobQueue=queue, jobStatus=state, **config)
                out += [j for page in pages for j in page.get("jobSummaryList") or []]
    return [j for j in out if ":" not in j.get("jobId", "")]
