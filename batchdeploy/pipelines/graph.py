"""A pipeline run's steps and their states, from DescribeJobs (pure but for `describe`): used by
`--wait` (pipelines.watch) and `--status RUN_ID` (pipelines.status).

A step's state is its job's, but for a map step it comes from the array parent's statusSummary
(done when SUCCEEDED + FAILED == size, FAILED when any child failed: on moto a parent whose children
fail stays SUBMITTED for good). A step not ended whose dependency failed is "NOT RUN": on AWS Batch it
goes FAILED itself; on moto a dependent of an array never learns (moto reads the parent's status,
which it updates only when the parent is described), so the watcher decides for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws.batch import chunks

ENDED = ("SUCCEEDED", "FAILED", "NOT RUN", "NOT SUBMITTED")  # NOT SUBMITTED: a submit that stopped part-way
WAITING = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING")  # a per-task step shows the furthest its jobs got


@dataclass
class StepState:
    name: str
    depends_on: list[str]
    job_id: str | None = None
    size: int | None = None  # a map step's tasks
    record: dict = field(default_factory=dict)
    reused: bool = False  # a rerun's step that had succeeded: its output is the original's
    tasks: dict | None = None  # a map step submitted one job per task: {task id: job id}
    task_records: dict = field(default_factory=dict)  # job id -> DescribeJobs record, per-task
    task_ids: list | None = None  # an array map step's task id of each child index (its manifest's)
    attempts: list = field(default_factory=list)  # the run ids that submitted the step, oldest first
    manifests: list = field(default_factory=list)  # a map step's manifest of each attempt (s3:// URLs), oldest first
    reused_jobs: dict = field(default_factory=dict)  # a rerun's map step: {task id: job id} kept from an earlier attempt
    doc: dict = field(default_factory=dict, repr=False)  # the step as its latest attempt's run.json records it

    @property
    def kept(self) -> int:
        """Tasks a rerun kept (an array's size counts only the others)."""
        return len(self.reused_jobs)

    def total(self) -> int | None:
        """A map step's tasks, kept ones included."""
        return None if self.size is None else self.size + (self.kept if self.tasks is None else 0)

    def summary(self) -> dict[str, int]:
        """A map step's jobs by state: the array parent's statusSummary, or the per-task jobs' counted."""
        if self.tasks is None:
            return aws_batch.array_summary(self.record)
        counts: dict[str, int] = {}
        for job_id in self.tasks.values():
            status = (self.task_records.get(job_id) or {}).get("status", "SUBMITTED")
            counts[status] = counts.get(status, 0) + 1
        return counts

    def jobs(self) -> list[str]:
        return list(self.tasks.values()) if self.tasks is not None else [self.job_id] if self.job_id else []

    def own_state(self) -> str:
        if self.reused:
            return "SUCCEEDED"
        if not self.job_id or (self.tasks is not None and len(self.tasks) < (self.size or 0)):
            return "NOT SUBMITTED"
        if self.tasks is not None:
            summary = self.summary()
            ok, bad = summary.get("SUCCEEDED", 0), summary.get("FAILED", 0)
            if ok + bad >= len(self.tasks):
                return "FAILED" if bad else "SUCCEEDED"
            if summary.get("RUNNING") or ok or bad:
                return "RUNNING"
            return max(summary, key=lambda k: WAITING.index(k) if k in WAITING else 0)
        if not self.record:
            return "SUBMITTED"
        status = self.record.get("status", "SUBMITTED")
        if self.size and self.size > 1:
            summary = aws_batch.array_summary(self.record)
            ok, bad = summary.get("SUCCEEDED", 0), summary.get("FAILED", 0)
            if ok + bad >= self.size:
                return "FAILED" if bad else "SUCCEEDED"
            if status in ("SUCCEEDED", "FAILED"):
                return status
            return "RUNNING" if summary.get("RUNNING") or ok or bad else status
        return status


def states(steps: list[StepState]) -> dict[str, str]:
    """Each step's state, in the given (dependency) order; a step after a failed one is NOT RUN."""
    out: dict[str, str] = {}
    for s in steps:
        own = s.own_state()
        if own not in ("SUCCEEDED",) and any(out.get(d) in ("FAILED", "NOT RUN") for d in s.depends_on):
            own = "NOT RUN" if own != "FAILED" or _failed_by_dependency(s) else own
        out[s.name] = own
    return out


def _failed_by_dependency(s: StepState) -> bool:
    # AWS fails a job whose dependency failed without running it (no container, no attempts)
    records = [s.record] if s.tasks is None else list(s.task_records.values())
    return not any(r.get("attempts") for r in records)


def blocked_by(steps: list[StepState], failed: str) -> list[str]:
    """The steps that will not run because `failed` failed (every step after it, transitively)."""
    hit, out = {failed}, []
    for s in steps:
        if any(d in hit for d in s.depends_on):
            hit.add(s.name)
            out.append(s.name)
    return out


def describe(batch, steps: list[StepState], *, only_unfinished: bool = True) -> int:
    """DescribeJobs for the steps' jobs, 100 ids a call; returns the number of calls."""
    current = states(steps)
    wanted = [s for s in steps if s.job_id and not s.reused and (not only_unfinished or current[s.name] not in ENDED)]
    by_id = {}
    for s in wanted:
        for job_id in s.jobs():
            record = s.task_records.get(job_id) if s.tasks is not None else None
            if not (only_unfinished and record and record.get("status") in ("SUCCEEDED", "FAILED")):
                by_id[job_id] = s
    calls = 0
    for group in chunks(list(by_id)):
        calls += 1
        for job_id, record in aws_batch.describe_jobs(batch, group).items():
            if job_id in by_id:
                s = by_id[job_id]
                if s.tasks is None:
                    s.record = record
                else:
                    s.task_records[job_id] = record
    return calls


def draw(steps: list[StepState], current: dict[str, str]) -> list[str]:
    """The graph as text lines, in dependency order: each step, its state, and what it waits for."""
    width = max((len(s.name) for s in steps), default=4)
    lines = []
    for s in steps:
        after = f"  <- {', '.join(s.depends_on)}" if s.depends_on else ""
        kind = (f" [map {s.total()}{', one job per task' if s.tasks is not None else ''}"
                f"{f', {s.kept} kept' if s.kept else ''}]") if s.size else ""
        extra = ""
        if s.size and s.size > 1 and (s.record or s.task_records):
            summary = s.summary()
            extra = " (" + ", ".join(f"{k} {v}" for k, v in summary.items() if v) + ")" if summary else ""
        reused = " (reused)" if s.reused else ""
        job = f"  {s.job_id}" + (f" ... ({len(s.tasks)} jobs)" if s.tasks and len(s.tasks) > 1 else "") if s.job_id else ""
        lines.append(f"  {s.name:<{width}}  {current[s.name]:<13}{kind}{extra}{reused}{after}{job}")
    return lines
