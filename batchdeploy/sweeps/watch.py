"""Watching a sweep to its end with as few requests as the answer needs.

One poll is one DescribeJobs of the sweep's jobs not yet done (up to 100 per call: one call for any
sweep of up to a million tasks in arrays). An array parent's `arrayProperties.statusSummary` gives
its children by state, and the array is done when SUCCEEDED + FAILED == size: on moto a parent whose
children fail stays SUBMITTED for good, so the parent's own status cannot decide it (it is used only
when it is terminal, e.g. a cancelled array). The failed children are listed (ListJobs arrayJobId,
jobStatus FAILED, every page) only when an array's failed count changed since the last listing, so
while nothing fails a poll costs one request. A job of one task (a one-task sweep, or one job per
task without the launcher) is its own record in the same DescribeJobs.

Time is injected (`sleep`, `clock`); the pace is jobs.watch's: the backoff restarts after a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import JOB_STATES, TERMINAL, chunks
from batchdeploy.errors import OperationError
from batchdeploy.jobs.job import Job
from batchdeploy.polling import Backoff


@dataclass
class Tracked:
    """One submitted job of the sweep and the tasks it runs (an array's child i runs task_ids[i])."""

    job_id: str
    task_ids: list[int]
    record: dict = field(default_factory=dict)  # the last DescribeJobs record
    failed_seen: int = 0  # the failed count when the children were last listed

    @property
    def is_array(self) -> bool:
        return len(self.task_ids) > 1

    def counts(self) -> dict[str, int]:
        """Tasks by state: an array's statusSummary, or the job's own status for its one task."""
        if not self.record:
            return {"SUBMITTED": len(self.task_ids)}
        if self.is_array:
            summary = (self.record.get("arrayProperties") or {}).get("statusSummary") or {}
            got = {k: int(v) for k, v in summary.items() if v}
            missing = len(self.task_ids) - sum(got.values())
            if missing > 0:  # children AWS has not made yet
                got["SUBMITTED"] = got.get("SUBMITTED", 0) + missing
            return got
        return {self.record.get("status", "SUBMITTED"): 1}

    def done(self) -> bool:
        if not self.record:
            return False
        counts = self.counts()
        ended = counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0)
        return ended == len(self.task_ids) or (self.record.get("status") in TERMINAL and not self.is_array)


@dataclass
class Failure:
    task_id: int
    job_id: str
    exit_code: int | None
    reason: str


def done_from_summary(summary: dict, size: int) -> bool:
    """An array is done when every child SUCCEEDED or FAILED, whatever its parent's status says."""
    return summary.get("SUCCEEDED", 0) + summary.get("FAILED", 0) == size


class SweepWatcher:
    def __init__(self, batch, tracked: list[Tracked], *, sleep, clock, backoff: Backoff | None = None,
                 missing_grace_s: float = 120.0, runnable_warn_s: float | None = None,
                 on_stuck: Callable[[str, dict, float], None] | None = None):
        self.batch, self.tracked = batch, tracked
        self.sleep, self.clock = sleep, clock
        self.backoff = backoff or Backoff()
        self.missing_grace_s = missing_grace_s  # AWS may list a new job late; after this, it is gone
        self.failures: dict[int, Failure] = {}
        self.describe_calls = self.list_calls = 0
        self.start = clock()
        self._last: dict[str, int] | None = None
        # on_stuck(job id, record, seconds): once per job whose tasks have all been RUNNABLE (or waiting)
        # for runnable_warn_s with none started (the doctor, which may end the watch by raising)
        self.runnable_warn_s, self.on_stuck = runnable_warn_s, on_stuck
        self._runnable_since: dict[str, float] = {}
        self._stuck_told: set[str] = set()

    @property
    def total(self) -> int:
        return sum(len(t.task_ids) for t in self.tracked)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tracked:
            for state, n in t.counts().items():
                out[state] = out.get(state, 0) + n
        return {s: out[s] for s in (*JOB_STATES, *sorted(set(out) - set(JOB_STATES))) if out.get(s)}

    def done(self) -> bool:
        return all(t.done() for t in self.tracked)

    def poll(self) -> bool:
        """One round; True when the counts changed."""
        pending = [t for t in self.tracked if not t.done()]
        by_id = {t.job_id: t for t in pending}
        for group in chunks(list(by_id)):
            self.describe_calls += 1
            for job_id, record in aws_batch.describe_jobs(self.batch, group).items():
                if job_id in by_id:
                    by_id[job_id].record = record
        unknown = [t.job_id for t in pending if not t.record]
        if unknown and self.clock() - self.start > self.missing_grace_s:
            raise OperationError(f"job {unknown[0]} of the sweep is unknown to AWS Batch (DescribeJobs)",
                                 hint="check the region; Batch forgets finished jobs after some days")
        for t in pending:
            self._failures_of(t)
            self._stuck(t)
        counts = self.counts()
        changed, self._last = counts != self._last, counts
        return changed

    def _stuck(self, t: Tracked) -> None:
        if self.on_stuck is None or self.runnable_warn_s is None or t.job_id in self._stuck_told:
            return
        counts = t.counts()
        if not counts.get("RUNNABLE") or any(counts.get(s) for s in ("STARTING", "RUNNING", "SUCCEEDED", "FAILED")):
            self._runnable_since.pop(t.job_id, None)
            return
        now = self.clock()
        since = self._runnable_since.setdefault(t.job_id, now)
        if now - since >= self.runnable_warn_s:
            self._stuck_told.add(t.job_id)
            self.on_stuck(t.job_id, t.record, now - since)

    def _failures_of(self, t: Tracked) -> None:
        failed = t.counts().get("FAILED", 0)
        if not t.is_array:
            if failed:
                job = Job(t.record)
                self.failures[t.task_ids[0]] = Failure(t.task_ids[0], t.job_id, job.exit_code, _reason(t.record))
            return
        if failed == t.failed_seen:
            return
        t.failed_seen = failed
        for child in self.failed_children(t.job_id):
            index = (child.get("arrayProperties") or {}).get("index")
            if index is None and ":" in child.get("jobId", ""):
                index = int(child["jobId"].rsplit(":", 1)[1])
            if index is None or not 0 <= index < len(t.task_ids):
                continue
            task = t.task_ids[index]
            code = (child.get("container") or {}).get("exitCode")
            self.failures[task] = Failure(task, child["jobId"], code, _reason(child))

    def failed_children(self, parent: str) -> list[dict]:
        found = []
        with translate(f"list the failed children of array job {parent} (batch:ListJobs)"):
            for page in self.batch.get_paginator("list_jobs").paginate(arrayJobId=parent, jobStatus="FAILED"):
                self.list_calls += 1
                found += page.get("jobSummaryList") or []
        return found

    def run(self, on_change: Callable[[dict, float], None]) -> dict[int, Failure]:
        """Poll until every task ended; `on_change(counts, elapsed)` after each poll that changed them."""
        self.backoff.reset()
        while True:
            if self.poll():
                on_change(self._last, self.clock() - self.start)
                self.backoff.reset()
            if self.done():
                return dict(sorted(self.failures.items()))
            self.sleep(self.backoff.next())


def _reason(record: dict) -> str:
    job = Job(record)
    parts = [p for p in (record.get("statusReason"), job.reason) if p]
    return "; ".join(dict.fromkeys(parts))
