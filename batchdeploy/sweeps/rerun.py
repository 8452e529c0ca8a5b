"""`-r --rerun-failed RUN_ID`: a new run of only the tasks of RUN_ID (and its earlier reruns) whose
latest attempt did not exit 0 or that never started, with the same ids, parameters, environment,
inputs and outputs as the original manifest has them.

What changed since is the point of a rerun, so it uses today's job definition (the one -u recorded, or
--job-definition) and today's code (--code, or CODE_DIR; a run that had a bundle gets one again), and
its run.json says which, beside `"rerun_of": ORIGINAL`. Before it submits, it writes the marker
ORIGINAL/reruns/NEW_RUN_ID.json once, so reading ORIGINAL finds every rerun without rewriting
anything. A rerun of a rerun is a rerun of the original: the run reads as one.
"""

from __future__ import annotations

from batchdeploy import errors, runs
from batchdeploy.errors import UsageError
from batchdeploy.jobs import run as jobrun
from batchdeploy.secrets import MASK
from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.submit import submit_and_follow
from batchdeploy.sweeps.tree import TaskState, Tree, read_tree, task_states


def to_rerun(states: list[TaskState]) -> list[TaskState]:
    """The tasks to run again: every one not SUCCEEDED. Refused while any is still queued or running
    (it has no record yet, and a second copy of it would race the first)."""
    active = [s for s in states if s.active]
    if active:
        ids = ", ".join(str(s.id) for s in active[:10])
        raise UsageError(f"{len(active)} tasks are still queued or running ({ids})",
                         hint=f"wait for them (./deploy.sh --status {active[0].run_id}), then rerun")
    return [s for s in states if s.state != "SUCCEEDED"]


def rerun_sweep(tree: Tree, chosen: list[TaskState]) -> Sweep:
    tasks = [SweepTask(id=s.id, params=dict(s.params), env=dict(s.env), labels=dict(s.labels),
                       inputs=list(s.inputs), outputs=list(s.outputs)) for s in chosen]
    return Sweep(tasks, list(tree.root["sweep"].get("varying") or []),
                 {"kind": "rerun", "rerun_of": tree.run_id, "tasks": [s.id for s in chosen]})


def _defaults_from(tree: Tree, args) -> None:
    """The original's name, fixed parameters (masked ones left out) and extra words, unless given;
    its code again when it ran a bundle and neither --code nor --no-code says otherwise."""
    root = tree.root
    args.name = args.name or root.get("name")
    if not args.params:
        args.params = [f"{k}={v}" for k, v in (root.get("parameters") or {}).items() if v != MASK]
    if not getattr(args, "extra", None):
        args.extra = list(root.get("extra_args") or [])
    if root.get("bundle") and args.code is None and not args.no_code:
        args.code = ""


def main(ctx, run_id: str) -> int:
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX",))
    bucket, prefix = ctx.cfg["S3_BUCKET"], ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX)
    tree = read_tree(ctx.aws.client("s3"), bucket, prefix, run_id)
    states = task_states(tree, ctx.aws.client("batch"))
    chosen = to_rerun(states)
    if not chosen:
        ctx.out.result(f"run {tree.run_id}: all {len(states)} tasks SUCCEEDED; nothing to rerun")
        return errors.OK
    _defaults_from(tree, ctx.args)
    prepared = jobrun.prepare(ctx)
    shown = ", ".join(str(s.id) for s in chosen[:20]) + (" ..." if len(chosen) > 20 else "")
    prepared.later.note(f"rerun of {tree.run_id}: {len(chosen)} of {len(states)} tasks ({shown})")
    return submit_and_follow(ctx, prepared, rerun_sweep(tree, chosen), rerun_of=tree.run_id)
