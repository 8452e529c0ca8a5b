"""The doors of `run` and `status`: a sweep's flags go here, everything else to batchdeploy.jobs.

    -r NAME --tasks FILE [RANGE] | --range m-n    a dsub tasks file, one task per row
    -r NAME --grid key=v1,v2 [key2=a,b ...]       one task per combination
    -r [NAME] --rerun-failed RUN_ID               the failed and never-started tasks again, same ids
    --status RUN_ID                               a run's tasks (a job id or name: jobs' --status)

The order is `-r`'s: the tasks are read and checked before any AWS call that changes anything
(jobs.run.prepare does the queue, definition and credentials), then the record, then the submits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from batchdeploy import runs
from batchdeploy.errors import UsageError
from batchdeploy.jobs import commands
from batchdeploy.jobs import request as req
from batchdeploy.jobs import run as jobrun
from batchdeploy.sweeps import submit as sweep_submit
from batchdeploy.sweeps.check import check_against_definition, with_fixed
from batchdeploy.sweeps.model import Sweep

RANGE = re.compile(r"\d+(-\d*)?")  # dsub's m, m-, m-n (checked against the file by the tasks file reader)


@dataclass(frozen=True)
class SweepOptions:
    tasks_file: str | None = None
    task_range: str | None = None
    grid: list[str] = field(default_factory=list)
    rerun_failed: str | None = None

    @classmethod
    def from_args(cls, args) -> SweepOptions:
        words = list(args.tasks or [])
        task_range = None
        if len(words) > 1 and RANGE.fullmatch(words[1]):
            task_range = words.pop(1)
        # `--tasks FILE [RANGE] key=val ...`: the words after it are the run's parameters, as without --tasks
        extra = words[1:]
        if any("=" not in w for w in extra):
            raise UsageError(f"--tasks takes FILE and an optional RANGE, then key=val words, not {extra[0]!r}",
                             hint="write --tasks FILE [RANGE] (RANGE: m, m- or m-n)")
        args.params = [*(args.params or []), *extra]
        words = words[:1]
        if args.range is not None:
            if not words:
                raise UsageError("--range needs --tasks FILE")
            if task_range is not None and task_range != args.range:
                raise UsageError(f"two ranges given: {task_range} and --range {args.range}")
            task_range = args.range
        opts = cls(words[0] if words else None, task_range, list(args.grid or []), args.rerun_failed)
        opts.check(args)
        return opts

    def check(self, args) -> None:
        if self.tasks_file and self.grid:
            raise UsageError("--tasks and --grid both given", hint="a sweep comes from one of them")
        if self.rerun_failed and (self.tasks_file or self.grid):
            raise UsageError("--rerun-failed takes its tasks from the run", hint="leave out --tasks and --grid")
        if self.rerun_failed and not runs.RUN_ID.fullmatch(self.rerun_failed):
            raise UsageError(f"--rerun-failed {self.rerun_failed!r} is not a run id",
                             hint="a run id looks like 20261130T161200Z-3fa9c1 (-r prints it)")
        if args.array_size is not None:
            raise UsageError("--array-size with a sweep", hint="a sweep's array size is its number of tasks")
        if args.cancel_on_interrupt:
            raise UsageError("--cancel-on-interrupt is for one job", hint="cancel a sweep's jobs with --cancel JOB_ID")


def is_sweep(args) -> bool:
    return bool(getattr(args, "tasks", None) or getattr(args, "grid", None) or getattr(args, "rerun_failed", None)
                or getattr(args, "range", None) is not None)


def load_sweep(ctx, opts: SweepOptions) -> Sweep:
    """The sweep as its file or grid says, every problem at once; no AWS."""
    ctx.cfg.require(optional=("MAX_SWEEP_TASKS",))
    max_tasks = int(ctx.cfg.get("MAX_SWEEP_TASKS", "10000"))
    if opts.tasks_file:
        from batchdeploy.sweeps.tasksfile import read_tasks_file

        return read_tasks_file(ctx.cfg.path(opts.tasks_file), opts.task_range, max_tasks)
    from batchdeploy.sweeps.grid import parse_grid

    return parse_grid(opts.grid, req.parse_pairs(list(ctx.args.params or [])), max_tasks)


def check_sweep(ctx, sweep: Sweep, prepared: jobrun.Prepared) -> Sweep:
    """The run's fixed key=val in every task of a tasks file (a grid has them already), then every
    task's parameters against the job definition (sweeps.check: every problem at once, with its line
    and column)."""
    if sweep.source.get("kind") == "tasks":
        sweep = with_fixed(sweep, prepared.spec.parameters)
    return check_against_definition(sweep, prepared.spec.job_definition)


def main(ctx) -> int:
    if not is_sweep(ctx.args):
        return jobrun.main(ctx)
    opts = SweepOptions.from_args(ctx.args)
    if opts.rerun_failed:
        from batchdeploy.sweeps import rerun

        return rerun.main(ctx, opts.rerun_failed)
    sweep = load_sweep(ctx, opts)
    prepared = jobrun.prepare(ctx)
    return sweep_submit.submit_and_follow(ctx, prepared, check_sweep(ctx, sweep, prepared), own_outputs=True)


def status(ctx) -> int:
    ref = getattr(ctx.args, "job", None)
    if ref and runs.RUN_ID.fullmatch(ref):
        from batchdeploy.sweeps import status as run_status

        return run_status.main(ctx, ref)
    return commands.status(ctx)
