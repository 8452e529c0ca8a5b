"""`--logs [STEP,...]` with `--wait`: the CloudWatch log lines of a pipeline's steps while the graph is
followed, each line prefixed by its step (`fit[3]: ...` for task 3 of a map step).

Each job's streams are read by jobs.watch.AttemptLogs (GetLogEvents from the head, following
nextForwardToken, so a line is never shown twice), the same reader as `--logs JOB_ID --follow`. A
job is read while it is RUNNING, and twice more once it ended (the poll it is seen ended, and the
next: CloudWatch may still be taking in its last lines, as jobs.watch.follow's final grace); at the
end of the wait, what was not drained yet is read once more after `final_grace_s`. An array map
step's lines are its children's: they are described (100 a call) only while the step runs, and each
child is named by its task id (the manifest's task_ids). Steps not chosen cost no call.
"""

from __future__ import annotations

from typing import Callable

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws.batch import chunks
from batchdeploy.errors import UsageError
from batchdeploy.jobs.watch import AttemptLogs
from batchdeploy.pipelines import graph

STARTED = ("RUNNING", "SUCCEEDED", "FAILED")
READS_AFTER_END = 2


def parse_choice(value: str | None) -> tuple[str, ...] | None:
    """`--logs` alone: every step (an empty tuple); `--logs a,b`: those; no flag: None."""
    if value is None:
        return None
    return tuple(dict.fromkeys(w.strip() for w in value.split(",") if w.strip()))


def check_choice(chosen: tuple[str, ...] | None, names: list[str]) -> None:
    unknown = [n for n in chosen or () if n not in names]
    if unknown:
        raise UsageError(f"--logs {','.join(unknown)}: no such step", hint=f"the steps are {', '.join(names)}")


class StepLogs:
    def __init__(self, batch, logs, chosen: tuple[str, ...], on_line: Callable[[str], None],
                 warn: Callable[[str], None], *, sleep, final_grace_s: float = 1.0, page_size: int | None = None):
        self.batch, self.logs, self.chosen = batch, logs, set(chosen)
        self.on_line, self.warn, self.sleep = on_line, warn, sleep
        self.final_grace_s, self.page_size = final_grace_s, page_size
        self.readers: dict[str, AttemptLogs] = {}  # job id -> its streams
        self.reads_left: dict[str, int] = {}  # job id -> reads after its end
        self.children: dict[str, dict] = {}  # array child id -> its DescribeJobs record
        self.describe_calls = 0
        self.lines = 0

    def wanted(self, step: graph.StepState) -> bool:
        return not step.reused and (not self.chosen or step.name in self.chosen)

    def _jobs(self, step: graph.StepState, state: str) -> list[tuple[str, dict]]:
        """(line prefix, DescribeJobs record) of each job of the step that may have lines."""
        if step.tasks is not None:
            return [(f"{step.name}[{task}]", step.task_records[jid]) for task, jid in step.tasks.items()
                    if jid in step.task_records and not step.task_records[jid].get("kept")]
        if not (step.size and step.size > 1):
            return [(step.name, step.record)] if step.record else []
        if state == "RUNNING" or (state in ("SUCCEEDED", "FAILED") and self._undrained_children(step)):
            self._describe_children(step)
        ids = step.task_ids or list(range(step.size))
        return [(f"{step.name}[{ids[i] if i < len(ids) else i}]", self.children[f"{step.job_id}:{i}"])
                for i in range(step.size) if f"{step.job_id}:{i}" in self.children]

    def _undrained_children(self, step: graph.StepState) -> bool:
        return any(self.reads_left.get(f"{step.job_id}:{i}", 1) > 0 for i in range(step.size or 0))

    def _describe_children(self, step: graph.StepState) -> None:
        ids = [f"{step.job_id}:{i}" for i in range(step.size) if self.reads_left.get(f"{step.job_id}:{i}", 1) > 0]
        for group in chunks(ids):
            self.describe_calls += 1
            self.children.update(aws_batch.describe_jobs(self.batch, group))

    def poll(self, steps: list[graph.StepState], current: dict[str, str]) -> int:
        """New lines of the chosen steps' started jobs, passed on; how many."""
        count = 0
        for step in steps:
            if not self.wanted(step) or not step.job_id or current.get(step.name) in ("NOT RUN", "NOT SUBMITTED"):
                continue
            for label, record in self._jobs(step, current.get(step.name, "")):
                count += self._read(label, record)
        self.lines += count
        return count

    def _read(self, label: str, record: dict, last: bool = False) -> int:
        job_id, status = record.get("jobId"), record.get("status")
        if status not in STARTED or self.reads_left.get(job_id, 1) <= 0:
            return 0
        ended = status in ("SUCCEEDED", "FAILED")
        if ended:
            self.reads_left[job_id] = 0 if last else self.reads_left.get(job_id, READS_AFTER_END) - 1
        reader = self.readers.get(job_id)
        if reader is None:
            reader = self.readers[job_id] = AttemptLogs(
                self.logs, lambda event, label=label: self.on_line(f"{label}: {event.get('message', '').rstrip()}"),
                self.warn, self.page_size)
        return reader.read(record, final=ended and self.reads_left[job_id] == 0)

    def finish(self, steps: list[graph.StepState], current: dict[str, str]) -> int:
        """After the last poll: the lines of ended jobs not yet drained, read once more after a grace."""
        pending = [(label, record) for step in steps if self.wanted(step) and step.job_id
                   for label, record in self._jobs(step, current.get(step.name, ""))
                   if record.get("status") in ("SUCCEEDED", "FAILED") and self.reads_left.get(record.get("jobId"), 1) > 0]
        if not pending:
            return 0
        self.sleep(self.final_grace_s)
        count = sum(self._read(label, record, last=True) for label, record in pending)
        self.lines += count
        return count

    @property
    def log_calls(self) -> int:
        return sum(r.calls for r in self.readers.values())
