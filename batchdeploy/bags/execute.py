"""A bag's tasks on AWS: submitted, followed to their end, their logs fetched into `.out`/`.err`.

The requests are built first (pure, `requests`), then sent: one SubmitJob per task through
jobs.submit.submit_exactly_once (a client-token tag each, so a lost answer never makes a second job),
paced by sweeps.plan.Pacer under AWS's 50 per second. Watching is one DescribeJobs per 100 unfinished
tasks per poll (jobs' Backoff: 2 s after a change, up to 5 s), a `<prefix>.jobstate.log` line for each
task whose state changed. Logs are fetched once every task ended, FilterLogEvents with up to 100 stream
names per call (CloudWatch's limit), and never deleted (pegasus deletes each stream it read; the logs
are the user's, and CloudWatch's retention decides). Time is injected (`sleep`, `clock`, `now`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import TERMINAL, chunks
from batchdeploy.aws.logs import MAX_FILTER_STREAMS, log_group
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.bags import logs as baglogs
from batchdeploy.bags.submitfile import BagTask
from batchdeploy.errors import OperationError
from batchdeploy.jobs import request as req
from batchdeploy.jobs.submit import submit_exactly_once
from batchdeploy.polling import Backoff
from batchdeploy.sweeps.plan import PACED_RATE, Pacer


@dataclass
class Placed:
    """One task, where it goes, and what AWS said of it."""

    task: BagTask
    request: dict
    job_id: str | None = None
    status: str = "UNSUBMITTED"
    record: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass
class Outcome:
    total: int
    succeeded: int
    failed: int
    start: datetime
    end: datetime
    failures: list[tuple[str, str]]  # (jobName, why)

    @property
    def exit_code(self) -> int:
        """pegasus's: 0 all succeeded, 1 a task failed."""
        return baglogs.exit_code(self.total, self.succeeded, self.failed)


def request_for(task: BagTask, environment: dict[str, str], job_definition: str, job_queue: str,
                token: str) -> dict:
    """The SubmitJob of one task: its command as pegasus passes it, its environment, a client token."""
    overrides: dict = {"command": list(task.command)}
    if environment:
        overrides["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    request = {"jobName": task.name, "jobQueue": job_queue, "jobDefinition": job_definition,
               "containerOverrides": overrides, "tags": {TAG_CLIENT_TOKEN: token}}
    req.check(request)
    return request


def new_token() -> str:
    return "bag-" + uuid.uuid4().hex[:16]


def stream_of(record: dict) -> str | None:
    """The last attempt's log stream (what pegasus reads), else the job's own."""
    for attempt in reversed(record.get("attempts") or []):
        name = (attempt.get("container") or {}).get("logStreamName")
        if name:
            return name
    return (record.get("container") or {}).get("logStreamName")


class BagRunner:
    def __init__(self, aws, *, sleep, clock, now, note, logs_dir: Path, jobstate: Path | None = None,
                 backoff: Backoff | None = None):
        self.aws, self.sleep, self.clock, self.now, self.note = aws, sleep, clock, now, note
        self.logs_dir, self.jobstate = logs_dir, jobstate
        self.backoff = backoff or Backoff()
        self.calls = {"SubmitJob": 0, "DescribeJobs": 0, "FilterLogEvents": 0}
        if jobstate is not None:
            jobstate.write_text("", encoding="utf-8")  # truncated per run, as pegasus does

    def _state(self, p: Placed, status: str) -> None:
        p.status = status
        if self.jobstate is not None:
            line = baglogs.jobstate_line(int(self.now().timestamp() * 1000), p.task.name, status, p.job_id)
            with self.jobstate.open("a", encoding="utf-8") as f:
                f.write(line + "\n")

    def submit(self, placed: list[Placed]) -> None:
        pacer = Pacer(PACED_RATE, clock=self.clock, sleep=self.sleep)
        for p in placed:
            pacer.wait()
            self.calls["SubmitJob"] += 1
            answer = submit_exactly_once(self.aws, p.request, sleep=self.sleep, note=self.note)
            p.job_id = answer["jobId"]
            self._state(p, "SUBMITTED")

    def watch(self, placed: list[Placed], missing_grace_s: float = 120.0) -> None:
        batch = self.aws.client("batch")
        start = self.clock()
        self.backoff.reset()
        while True:
            pending = {p.job_id: p for p in placed if not p.done}
            if not pending:
                return
            changed = False
            for group in chunks(list(pending)):
                self.calls["DescribeJobs"] += 1
                for job_id, record in aws_batch.describe_jobs(batch, group).items():
                    p = pending.get(job_id)
                    if p is None:
                        continue
                    p.record = record
                    if record.get("status") and record["status"] != p.status:
                        self._state(p, record["status"])
                        changed = True
            unknown = [p for p in pending.values() if not p.record]
            if unknown and self.clock() - start > missing_grace_s:
                raise OperationError(f"task {unknown[0].task.name} (job {unknown[0].job_id}) is unknown to AWS Batch",
                                     hint="check the region; Batch forgets finished jobs after some days")
            if all(p.done for p in placed):
                return
            if changed:
                self.backoff.reset()
            self.sleep(self.backoff.next())

    def fetch_logs(self, placed: list[Placed]) -> dict[str, list[str]]:
        """stream name -> its messages, in order: FilterLogEvents of up to 100 streams per call."""
        logs = self.aws.client("logs")
        by_group: dict[str, list[str]] = {}
        for p in placed:
            stream = stream_of(p.record)
            if stream:
                by_group.setdefault(log_group(p.record), []).append(stream)
        found: dict[str, list[tuple[int, str]]] = {}
        for group, streams in by_group.items():
            for part in chunks(sorted(set(streams)), MAX_FILTER_STREAMS):
                kwargs = {"logGroupName": group, "logStreamNames": part}
                while True:
                    self.calls["FilterLogEvents"] += 1
                    with translate(f"read the tasks' logs in {group} (logs:FilterLogEvents)"):
                        page = logs.filter_log_events(**kwargs)
                    for event in page.get("events") or []:
                        found.setdefault(event["logStreamName"], []).append(
                            (event.get("timestamp") or 0, event.get("message", "")))
                    token = page.get("nextToken")
                    if not token or not page.get("events"):
                        break
                    kwargs["nextToken"] = token
        # a stable sort by time keeps each stream's own order for events of one millisecond
        return {s: [m.rstrip("\n") for _, m in sorted(events, key=lambda e: e[0])] for s, events in found.items()}

    def write_files(self, placed: list[Placed], messages: dict[str, list[str]]) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for n, p in enumerate(placed, 1):
            state = "succeeded" if p.status == "SUCCEEDED" else "failed"
            record = baglogs.task_record(n, p.task.name, p.job_id, state, p.task.command[0])
            stream = stream_of(p.record)
            lines = messages.get(stream, []) if stream else []
            out, err = baglogs.task_files(lines, record)
            if not stream and p.status == "FAILED":  # it never ran: say why where its stderr would be
                err += f"{why_failed(p.record)}\n"
            (self.logs_dir / baglogs.out_name(p.task.name)).write_text(out, encoding="utf-8")
            (self.logs_dir / baglogs.err_name(p.task.name)).write_text(err, encoding="utf-8")

    def run(self, placed: list[Placed]) -> Outcome:
        start = self.now()
        self.submit(placed)
        self.note(f"submitted {len(placed)} task{'s' if len(placed) != 1 else ''}; following them to their end")
        self.watch(placed)
        self.write_files(placed, self.fetch_logs(placed))
        ok = sum(1 for p in placed if p.status == "SUCCEEDED")
        failures = [(p.task.name, why_failed(p.record)) for p in placed if p.status == "FAILED"]
        return Outcome(len(placed), ok, len(failures), start, self.now(), failures)


def why_failed(record: dict) -> str:
    container = record.get("container") or {}
    parts = []
    if container.get("exitCode") is not None:
        parts.append(f"exit code {container['exitCode']}")
    parts += [p for p in (record.get("statusReason"), container.get("reason")) if p]
    return "; ".join(dict.fromkeys(parts)) or "FAILED (AWS gave no reason)"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
