"""The doctor during `--wait`: when a followed job stays RUNNABLE past RUNNABLE_WARN_S, it looks once
and prints its findings; a cause that never resolves ends the wait with exit 4 (and, with
`--cancel-unschedulable`, terminates the job first). The watcher's injected clock decides when, so
it acts within the poll that crossed the threshold."""

from __future__ import annotations

from typing import Callable

from batchdeploy.aws import translate
from batchdeploy.doctor import render
from batchdeploy.doctor.examine import examine
from batchdeploy.errors import BatchdeployError, Unschedulable

REASON = "batchdeploy doctor: the job can never run as things stand (--cancel-unschedulable)"


def on_stuck(ctx, cancel: bool | None = None) -> Callable[[str, dict, float], None]:
    """The watcher's callback: (job id, its DescribeJobs record, seconds RUNNABLE)."""
    if cancel is None:
        cancel = bool(getattr(ctx.args, "cancel_unschedulable", False))

    def look(job_id: str, job: dict, waited: float) -> None:
        out = ctx.out
        out.warn(f"job {job_id} has been RUNNABLE for {int(waited)} s; the doctor looks at why")
        try:
            diagnosis = examine(ctx.aws, job=job)
        except BatchdeployError as exc:  # the doctor's own trouble never ends a wait
            out.warn(f"the doctor could not look: {exc.line()}")
            return
        for line in render.lines(diagnosis):
            out.warn(line)
        if not diagnosis.unschedulable:
            return
        first = diagnosis.blocking[0]
        if cancel:
            with translate(f"terminate job {job_id} (batch:TerminateJob)"):
                ctx.aws.client("batch").terminate_job(jobId=job_id, reason=REASON)
            out.warn(f"job {job_id} terminated (--cancel-unschedulable)")
        else:
            out.warn(f"job {job_id} is left in the queue; --cancel-unschedulable would have terminated it")
        raise Unschedulable(f"job {job_id} can never run: {first.what}", hint=f"fix: {first.fix}")

    return look


class Stuck:
    """When to call the doctor: `saw(key, ...)` once a poll per followed thing (a job, a step); the
    first time `key` has been RUNNABLE for `after` seconds by `clock`, `on_stuck` runs, once per key."""

    def __init__(self, clock, after: float, on_stuck: Callable[[str, dict, float], None]):
        self.clock, self.after, self.on_stuck = clock, after, on_stuck
        self.since: dict[str, float] = {}
        self.told: set[str] = set()

    def saw(self, key: str, runnable: bool, job_id: str, record: dict) -> None:
        if not runnable or key in self.told:
            self.since.pop(key, None)
            return
        now = self.clock()
        waited = now - self.since.setdefault(key, now)
        if waited >= self.after:
            self.told.add(key)
            self.on_stuck(job_id, record, waited)


def stuck_for(ctx) -> Stuck:
    """The doctor's Stuck for a verb's --wait: RUNNABLE_WARN_S, the injected clock, --cancel-unschedulable."""
    return Stuck(ctx.clock, float(ctx.cfg.get("RUNNABLE_WARN_S", "600")), on_stuck(ctx))
