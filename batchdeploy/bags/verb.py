"""`batchdeploy submit FILE...` (`./deploy.sh --submit FILE...`): pegasus job submit files in
batchdeploy's own configuration: the queue is AWS_JOB_QUEUE (or --queue), the job definition the one
`-u` recorded (or --job-definition), files go to s3://S3_BUCKET/BAGS_PREFIX/ (default `bags/inputs`).
A task's own jobDefinition/jobQueue win. Every task is submitted and followed to its end, and its
`<jobName>.out`/`.err` written in --logs-dir (default: the current folder, as pegasus).

Exit codes are batchdeploy's, as `-r --wait`: 0 every task succeeded, 3 a task failed (its name and
reason on stderr), 1 AWS refused or failed, 2 usage or configuration (nothing changed), 130
interrupted. (`pegasus-aws-batch` keeps pegasus's 0/1/2.)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from batchdeploy import errors
from batchdeploy.bags import arrays, submitfile
from batchdeploy.bags import logs as baglogs
from batchdeploy.bags.execute import BagRunner, Placed, launchers_for, new_token, request_for
from batchdeploy.bags.files import upload
from batchdeploy.bags.names import S3Location, task_environment
from batchdeploy.doctor import hook as doctor_hook
from batchdeploy.doctor import preflight
from batchdeploy.jobs import run as jobrun
from batchdeploy.state import IMAGES
from batchdeploy.sweeps.follow import Display

DEFAULT_PREFIX = "bags/inputs"


def _location(ctx) -> S3Location:
    prefix = ctx.cfg.get("BAGS_PREFIX", DEFAULT_PREFIX).strip("/")
    return S3Location(ctx.cfg.get("S3_BUCKET"), prefix + "/" if prefix else "")


def main(ctx) -> int:
    args = ctx.args
    ctx.cfg.require("S3_BUCKET", optional=("BAGS_PREFIX",))
    cwd = Path.cwd()
    common = [ctx.cfg.path(f) for f in (w.strip() for w in (args.files or "").split(",")) if f]
    bag = submitfile.load([ctx.cfg.path(f) for f in args.submit_files], cwd, common)
    for warning in bag.warnings:
        ctx.out.warn(warning)
    where = _location(ctx)
    names = [p.name for p in common]
    token = new_token()
    # every request built and checked before anything is uploaded or submitted
    batch = ctx.aws.client("batch")
    need_default = [t for t in bag.tasks if not (t.job_definition and t.job_queue)]
    jd = queue = described = None
    if any(not t.job_definition for t in bag.tasks):
        described = jobrun.resolve_definition(ctx, batch, args.job_definition)
        jd = described["jobDefinitionArn"]
    if need_default and any(not t.job_queue for t in bag.tasks):
        ctx.cfg.require("AWS_JOB_QUEUE")
        queue = ctx.cfg.get("AWS_JOB_QUEUE")
        jobrun.check_queue(batch, queue)
    placed = [Placed(t, request_for(t, task_environment(t.environment, t.name, where, names),
                                    t.job_definition or jd, t.job_queue or queue, f"{token}-t{n}"))
              for n, t in enumerate(bag.tasks, 1)]
    for p in placed:  # -r's preflight for the tasks on the project's definition (one look per request shape)
        if described is not None and p.request["jobDefinition"] == jd:
            preflight.check(ctx, p.request["jobQueue"], described, p.request)
    files = {**bag.uploads(), **{p.name: p for p in common}}
    if files:
        sent = upload(ctx.aws.client("s3"), where, files)
        ctx.out.note(f"files at {where.url}: {len(sent.uploaded)} uploaded, {len(sent.unchanged)} unchanged")
    images = ctx.state.read(IMAGES).get("images") or {}
    launchers = launchers_for(batch, {p.request["jobDefinition"] for p in placed}, {}, images)
    notes: list[str] = []
    units = arrays.plan(placed, launchers, bucket=where.bucket, key_prefix=where.key_prefix, token=token, notes=notes)
    for note in notes:
        ctx.out.warn(note)
    logs_dir = ctx.cfg.path(args.logs_dir) if args.logs_dir else cwd
    runner = BagRunner(ctx.aws, sleep=ctx.sleep, clock=ctx.clock, now=lambda: datetime.now().astimezone(),
                       note=ctx.out.note, logs_dir=logs_dir, stuck=doctor_hook.stuck_for(ctx))
    with Display(ctx.out, "bag") as display:  # counts per state with a bar on a terminal; plain lines elsewhere
        runner.progress = display.update
        outcome = runner.run(placed, units)
    if args.merge_logs:
        summary = baglogs.cluster_summary(outcome.total, outcome.succeeded, outcome.failed, outcome.start, outcome.end)
        baglogs.merge_files([p.task.name for p in placed], logs_dir, args.merge_logs, summary)
    ctx.out.result(f"{outcome.succeeded} of {outcome.total} tasks succeeded; logs in {logs_dir}")
    if outcome.failed:
        for name, why in outcome.failures[:10]:
            ctx.out.warn(f"task {name} failed: {why}")
        raise errors.TasksFailed(f"{outcome.failed} of {outcome.total} tasks failed",
                                 hint=f"their stderr is in {logs_dir}/<jobName>.err")
    return errors.OK
