"""Watching jobs and following their logs, with time injected.

`JobWatcher` watches any number of job ids at once: one round (`poll`) is ceil(pending/100)
DescribeJobs calls, jobs that ended drop out of later rounds, and `run` paces rounds with a backoff
that settles at one round per `Backoff.cap` seconds while nothing changes. `LogFollower` reads one
CloudWatch log stream from its head, following `nextForwardToken` until the token repeats, so a line
is never lost or read twice; a stream that does not exist yet is simply empty. `follow` joins the two
for one job: state changes and log lines as they come, until the job ends.

No call is retried here: botocore's own policy (standard or adaptive, AWS_MAX_ATTEMPTS) retries
throttling and 5xx inside each call. A log read that still fails that way is simply read again on the
next poll. `sleep` and `clock` are arguments so tests never wait for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import convert, error_code, is_retryable
from batchdeploy.aws.batch import TERMINAL, array_summary, chunks
from batchdeploy.errors import OperationError
from batchdeploy.jobs.job import log_targets
from batchdeploy.polling import QUICK, Backoff


@dataclass
class Change:
    job_id: str
    before: str | None  # status before (None: first sight)
    after: str
    job: dict  # the DescribeJobs record
    at: float  # seconds since the watcher started (its clock)

    @property
    def progress_only(self) -> bool:
        return self.before == self.after


class JobWatcher:
    """The states of many jobs, one round of DescribeJobs at a time."""

    def __init__(
        self,
        batch,
        job_ids,
        *,
        sleep,
        clock,
        runnable_warn_s: float | None = None,
        warn: Callable[[str, dict, float], None] | None = None,
        backoff: Backoff | None = None,
        missing_grace_s: float = 120.0,
    ):
        self.batch = batch
        self.ids = list(dict.fromkeys(job_ids))
        self.sleep = sleep
        self.clock = clock
        self.runnable_warn_s = runnable_warn_s
        self.warn = warn
        self.backoff = backoff or Backoff()
        self.missing_grace_s = missing_grace_s
        self.jobs: dict[str, dict] = {}
        self.describe_calls = 0
        self.rounds = 0
        self._key: dict[str, tuple] = {}
        self._runnable_since: dict[str, float] = {}
        self._warned: set[str] = set()
        self._missing_since: dict[str, float] = {}
        self.start = clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    @property
    def pending(self) -> list[str]:
        return [i for i in self.ids if (self.jobs.get(i) or {}).get("status") not in TERMINAL]

    def done(self) -> bool:
        return not self.pending

    def _describe(self, ids: list[str]) -> dict[str, dict]:
        self.describe_calls += 1  # ids are at most 100: one DescribeJobs call
        return aws_batch.describe_jobs(self.batch, ids)

    def poll(self) -> list[Change]:
        """One round: describe every job not yet ended; return what changed."""
        self.rounds += 1
        changes: list[Change] = []
        for batch_ids in chunks(self.pending):
            wanted = set(batch_ids)
            found = {k: j for k, j in self._describe(batch_ids).items() if k in wanted}
            now = self.elapsed()
            for job_id in batch_ids:
                job = found.get(job_id)
                if job is None:
                    first = self._missing_since.setdefault(job_id, now)
                    if now - first > self.missing_grace_s:
                        raise OperationError(
                            f"job {job_id} is unknown to AWS Batch (DescribeJobs)",
                            hint="check the id and the region; Batch forgets finished jobs after some days",
                        )
                    continue
                self._missing_since.pop(job_id, None)
                changes += self._observe(job_id, job, now)
        return changes

    def _observe(self, job_id: str, job: dict, now: float) -> list[Change]:
        before = (self.jobs.get(job_id) or {}).get("status")
        self.jobs[job_id] = job
        status = job.get("status", "?")
        key = (status, tuple(sorted(array_summary(job).items())))
        out = []
        if self._key.get(job_id) != key:
            self._key[job_id] = key
            out.append(Change(job_id, before, status, job, now))
        if status == "RUNNABLE":
            since = self._runnable_since.setdefault(job_id, now)
            if (
                self.runnable_warn_s is not None
                and now - since >= self.runnable_warn_s
                and job_id not in self._warned
                and self.warn is not None
            ):
                self._warned.add(job_id)
                self.warn(job_id, job, now - since)
        else:
            self._runnable_since.pop(job_id, None)
        return out

    def run(self, on_change: Callable[[Change], None] | None = None) -> dict[str, dict]:
        """Poll until every job has ended; return the last record of each."""
        self.backoff.reset()
        while True:
            changes = self.poll()
            for change in changes:
                if on_change:
                    on_change(change)
            if self.done():
                return {i: self.jobs[i] for i in self.ids}
            if changes:
                self.backoff.reset()
            self.sleep(self.backoff.next())


class LogFollower:
    """One CloudWatch log stream from its head; each `poll` returns only lines not returned before."""

    MAX_PAGES = 50  # per poll, so one very long backlog cannot starve state polling

    def __init__(self, logs, group: str, stream: str, page_size: int | None = None):
        self.logs = logs
        self.group = group
        self.stream = stream
        self.page_size = page_size  # GetLogEvents' limit (AWS: up to 10,000 events or 1 MB a page)
        self.token: str | None = None
        self.calls = 0
        self.exists = False  # the stream has been seen (GetLogEvents answered)
        self.broken: str | None = None  # a reason, once reading failed for good

    def poll(self) -> list[dict]:
        events: list[dict] = []
        if self.broken:
            return events
        for _ in range(self.MAX_PAGES):
            kwargs = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
            if self.token:
                kwargs["nextToken"] = self.token
            if self.page_size:
                kwargs["limit"] = self.page_size
            self.calls += 1
            try:
                page = self.logs.get_log_events(**kwargs)
            except Exception as exc:  # noqa: BLE001 - sorted below
                if error_code(exc) == "ResourceNotFoundException":
                    return events  # no stream (or group) yet: the job has not written anything
                if is_retryable(exc):
                    return events  # the token is unchanged: the next poll starts where this one stopped
                converted = convert(exc, f"read log stream {self.stream} (logs:GetLogEvents)")
                if converted is None:
                    raise
                self.broken = converted.line()
                return events
            self.exists = True
            events += page.get("events") or []
            nxt = page.get("nextForwardToken")
            if not nxt or nxt == self.token:
                return events
            self.token = nxt
        return events


@dataclass
class Followed:
    job: dict
    lines: int
    log_calls: int
    describe_calls: int


class AttemptLogs:
    """The log streams of one job's attempts, each read once from its head, in order: an earlier
    attempt's stream is read to its end (it gets nothing new once the next began), then left."""

    def __init__(self, logs, on_line: Callable[[dict], None], warn: Callable[[str], None], page_size: int | None):
        self.logs = logs
        self.on_line = on_line
        self.warn = warn
        self.page_size = page_size
        self.followers: dict[tuple[str, str], LogFollower] = {}
        self.drained: set[tuple[str, str]] = set()
        self.reported: set[tuple[str, str]] = set()

    def read(self, job: dict, final: bool) -> int:
        """New lines of `job`'s streams passed to `on_line`; how many. `final`: the job has ended."""
        count = 0
        targets = log_targets(job)
        for i, target in enumerate(targets):
            if target in self.drained:
                continue
            follower = self.followers.get(target)
            if follower is None:
                follower = self.followers[target] = LogFollower(self.logs, *target, self.page_size)
            for event in follower.poll():
                self.on_line(event)
                count += 1
            if follower.broken and target not in self.reported:
                self.reported.add(target)
                self.warn(f"cannot follow the log: {follower.broken}")
            if i < len(targets) - 1 or final:
                self.drained.add(target)
        return count

    @property
    def seen(self) -> bool:
        return any(f.exists for f in self.followers.values())

    @property
    def calls(self) -> int:
        return sum(f.calls for f in self.followers.values())


def follow(
    batch,
    logs,
    job_id: str,
    *,
    sleep,
    clock,
    on_change: Callable[[Change], None],
    on_line: Callable[[dict], None],
    warn: Callable[[str], None],
    runnable_warn_s: float | None = None,
    backoff: Backoff | None = None,
    final_grace_s: float = 1.0,
    log_page_size: int | None = None,
    on_stuck: Callable[[str, dict, float], None] | None = None,
) -> Followed:
    """State changes and log lines of one job as they happen, until it ends. A new state restarts the
    looks at `polling.QUICK` (a short job's end is seen about half a second after it); array progress and
    log lines restart them at the backoff's `first` (2 s), so a chatty job is not looked at faster than
    before; nothing changing settles at one look per `cap` seconds. `on_stuck(job_id, job, seconds)` runs once when the
    job has been RUNNABLE `runnable_warn_s` (the doctor, which may end the wait by raising)."""
    pace = backoff or Backoff(quick=QUICK)

    def slow(job_id_, job, waited):
        warn(
            f"job {job_id_} has been RUNNABLE for {int(waited)} s: the queue's compute environments cannot place "
            "it (check their state, maximum vCPUs and instance types against the job's vcpus/memory/gpus)"
        )
        if on_stuck is not None:
            on_stuck(job_id_, job, waited)

    watcher = JobWatcher(
        batch, [job_id], sleep=sleep, clock=clock, runnable_warn_s=runnable_warn_s, warn=slow, backoff=pace
    )
    streams = AttemptLogs(logs, on_line, warn, log_page_size)
    lines = 0
    while True:
        changes = watcher.poll()
        for change in changes:
            on_change(change)
        job = watcher.jobs.get(job_id)
        got = streams.read(job, final=False) if job else 0
        lines += got
        if watcher.done():
            if streams.seen:
                sleep(final_grace_s)  # CloudWatch may still be taking in the last lines when Batch reports the end
            lines += streams.read(job, final=True)
            break
        if any(not c.progress_only for c in changes):
            pace.reset(quick=True)
        elif changes or got:
            pace.reset()
        sleep(pace.next())
    return Followed(job, lines, streams.calls, watcher.describe_calls)
