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
from batchdeploy.bags.arrays import Unit
from batchdeploy.bags.submitfile import BagTask
from batchdeploy.errors import OperationError, UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.jobs.submit import submit_exactly_once
from batchdeploy.manifest import upload_if_absent
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
                 backoff: Backoff | None = None, stuck=None):
        self.aws, self.sleep, self.clock, self.now, self.note = aws, sleep, clock, now, note
        self.stuck = stuck  # doctor.hook.Stuck: the doctor once per unit RUNNABLE past RUNNABLE_WARN_S
        self.progress = None  # progress(counts per state, tasks, seconds): the live view (sweeps.follow.Display)
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

    def submit(self, units: list[Unit]) -> None:
        """Each unit's SubmitJob (an array's manifest uploaded first, content-addressed), paced."""
        pacer = Pacer(PACED_RATE, clock=self.clock, sleep=self.sleep)
        for unit in units:
            if unit.is_array:
                upload_if_absent(self.aws.client("s3"), unit.bucket, unit.manifest_key, unit.manifest.data,
                                 "application/json")
            pacer.wait()
            self.calls["SubmitJob"] += 1
            unit.job_id = submit_exactly_once(self.aws, unit.request, sleep=self.sleep, note=self.note)["jobId"]
            for index, p in enumerate(unit.placed):
                p.job_id = f"{unit.job_id}:{index}" if unit.is_array else unit.job_id
                self._state(p, "SUBMITTED")

    def _describe(self, batch, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for group in chunks(ids):
            self.calls["DescribeJobs"] += 1
            found.update(aws_batch.describe_jobs(batch, group))
        return found

    def _saw(self, p: Placed, record: dict) -> bool:
        p.record = record
        if record.get("status") and record["status"] != p.status:
            self._state(p, record["status"])
            return True
        return False

    def watch(self, units: list[Unit], missing_grace_s: float = 120.0) -> None:
        """One DescribeJobs per 100 unfinished units per poll (an array parent stands for all its
        tasks: done when SUCCEEDED + FAILED is its size, as moto never ends a parent whose children
        failed); an array's children are described once, when it is done."""
        batch = self.aws.client("batch")
        start = self.clock()
        self.backoff.reset()
        while True:
            pending = {u.job_id: u for u in units if not _unit_done(u)}
            changed = False
            for job_id, record in self._describe(batch, list(pending)).items():
                unit = pending[job_id]
                changed |= record != unit.record
                unit.record = record
                if self.stuck is not None:
                    self.stuck.saw(job_id, _runnable(record), job_id, record)
                if not unit.is_array:
                    self._saw(unit.placed[0], record)
                elif _unit_done(unit):
                    children = self._describe(batch, [p.job_id for p in unit.placed])
                    for p in unit.placed:
                        self._saw(p, children.get(p.job_id) or {"status": "FAILED", "statusReason": "not described"})
            unknown = [u for u in pending.values() if not u.record]
            if unknown and self.clock() - start > missing_grace_s:
                raise OperationError(f"job {unknown[0].job_id} ({unknown[0].placed[0].task.name}) is unknown to AWS Batch",
                                     hint="check the region; Batch forgets finished jobs after some days")
            if changed and self.progress is not None:
                self.progress(task_counts(units), sum(len(u.placed) for u in units), self.clock() - start)
            if all(_unit_done(u) for u in units):
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

    def run(self, placed: list[Placed], units: list[Unit] | None = None) -> Outcome:
        """`units` from bags.arrays.plan; without them, one job per task."""
        start = self.now()
        units = units or [Unit(p.request, [p]) for p in placed]
        self.submit(units)
        arrays = sum(1 for u in units if u.is_array)
        how = f" as {arrays} array job{'s' if arrays != 1 else ''} and {len(units) - arrays} single" if arrays else ""
        self.note(f"submitted {len(placed)} task{'s' if len(placed) != 1 else ''}{how}; following them to their end")
        self.watch(units)
        self.write_files(placed, self.fetch_logs(placed))
        ok = sum(1 for p in placed if p.status == "SUCCEEDED")
        failures = [(p.task.name, why_failed(p.record)) for p in placed if p.status == "FAILED"]
        return Outcome(len(placed), ok, len(failures), start, self.now(), failures)


def launchers_for(batch, definitions: set[str], known: dict[str, dict], images: dict) -> dict[str, str | None]:
    """Job definition -> the launcher's command in its image (jobs.code.launcher_path), None without one."""
    out: dict[str, str | None] = {}
    for ref in definitions:
        jd = known.get(ref) or aws_batch.job_definition(batch, ref) or {}
        try:
            out[ref] = codes.launcher_path(jd, images)
        except UsageError:
            out[ref] = None
    return out


def task_counts(units: list[Unit]) -> dict[str, int]:
    """The bag's tasks per state: an array not ended by its parent's statusSummary, else each task's own."""
    counts: dict[str, int] = {}
    for u in units:
        summary = aws_batch.array_summary(u.record) if u.is_array and not _unit_done(u) else {}
        if not summary:
            summary = {}
            for p in u.placed:
                state = p.status or "SUBMITTED"
                summary[state] = summary.get(state, 0) + 1
        for state, n in summary.items():
            counts[state] = counts.get(state, 0) + n
    return counts


def _runnable(record: dict) -> bool:
    """A job (or an array, all of whose started children are) waiting in RUNNABLE for a place."""
    summary = aws_batch.array_summary(record) if (record.get("arrayProperties") or {}).get("size") else {}
    if summary:
        return bool(summary.get("RUNNABLE")) and not any(summary.get(s) for s in ("STARTING", "RUNNING", "SUCCEEDED", "FAILED"))
    return record.get("status") == "RUNNABLE"


def _unit_done(unit: Unit) -> bool:
    if not unit.record:
        return False
    if not unit.is_array:
        return unit.record.get("status") in TERMINAL
    summary = aws_batch.array_summary(unit.record)
    return summary.get("SUCCEEDED", 0) + summary.get("FAILED", 0) >= len(unit.placed) or \
        (unit.record.get("status") == "FAILED")


def why_failed(record: dict) -> str:
    container = record.get("container") or {}
    parts = []
    if container.get("exitCode") is not None:
        parts.append(f"exit code {container['exitCode']}")
    parts += [p for p in (record.get("statusReason"), container.get("reason")) if p]
    return "; ".join(dict.fromkeys(parts)) or "FAILED (AWS gave no reason)"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
