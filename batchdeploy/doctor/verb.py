"""`batchdeploy doctor [JOB_ID | RUN_ID]` (`./deploy.sh --doctor`): why a job sits in RUNNABLE.

No target: the project's queue (AWS_JOB_QUEUE, or --queue). A RUN_ID: the jobs its run record lists
(S3_BUCKET). A name: the latest job of that name this project recorded. Exit 0 when nothing found
stops the job for good, 4 (errors.UNSCHEDULABLE) when something does.
"""

from __future__ import annotations

from batchdeploy import errors, runs
from batchdeploy.aws.batch import JOB_ID
from batchdeploy.doctor import render
from batchdeploy.doctor.examine import examine
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.state import JOBS

MAX_RUN_JOBS = 20  # a run's jobs looked at (a sweep is one array per 10,000 tasks)


def main(ctx) -> int:
    target = getattr(ctx.args, "target", None)
    if target and runs.RUN_ID.fullmatch(target):
        ids = _run_jobs(ctx, target)
    elif target:
        ids = [_job_id(ctx, target)]
    else:
        ids = []
    if ids:
        diagnoses = [examine(ctx.aws, job_id=i) for i in ids]
    else:
        queue = getattr(ctx.args, "queue", None)
        if not queue:
            ctx.cfg.require("AWS_JOB_QUEUE")
            queue = ctx.cfg["AWS_JOB_QUEUE"]
        diagnoses = [examine(ctx.aws, queue=queue)]
    if ctx.out.json:
        data = [render.as_json(d) for d in diagnoses]
        ctx.out.emit_json(data[0] if len(data) == 1 else data)
    else:
        for d in diagnoses:
            for line in render.lines(d):
                ctx.out.result(line)
    return errors.UNSCHEDULABLE if any(d.unschedulable for d in diagnoses) else errors.OK


def _job_id(ctx, ref: str) -> str:
    if JOB_ID.fullmatch(ref):
        return ref
    named = [r for r in ctx.state.records(JOBS) if r.get("name") == ref]
    if named:
        return named[-1]["job_id"]
    raise UsageError(f"{ref!r} is not a job id, a run id or a job name this project recorded",
                     hint="give a job id (./deploy.sh --status lists them) or a run id")


def _run_jobs(ctx, run_id: str) -> list[str]:
    bucket = ctx.cfg.get("S3_BUCKET")
    if not bucket:
        raise ConfigError(f"run {run_id}: its record is in S3 and S3_BUCKET is not set", hint="set S3_BUCKET in .aws_env")
    run = runs.read_run(ctx.aws.client("s3"), bucket, ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX), run_id, tasks=False)
    if run is None:
        raise UsageError(f"no run {run_id} in s3://{bucket}", hint="check the run id (-r prints it) and S3_BUCKET")
    ids = run.get("job_ids") or []
    if not ids:
        raise UsageError(f"run {run_id} has no submitted job ({run.get('state', 'submitting')})",
                         hint="./deploy.sh --status " + run_id + " says what happened")
    return ids[:MAX_RUN_JOBS]
