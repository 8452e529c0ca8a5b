"""`--status`, `--logs`, `--cancel`, and following one job to its end (`-r --wait`, `--logs --follow`).

Each verb reads its flags once into a small options object; jobs are found by id, or by the name
this project recorded in `.batchdeploy/jobs.jsonl` (or, for `--status`, the name on AWS_JOB_QUEUE).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass

from batchdeploy import errors, runs
from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import JOB_NAME, QUEUED, TERMINAL
from batchdeploy.doctor import hook as doctor_hook
from batchdeploy.errors import OperationError, TasksFailed, UsageError
from batchdeploy.jobs import runlist
from batchdeploy.jobs.job import Job, children_text
from batchdeploy.jobs.submit import named
from batchdeploy.jobs.waitview import WaitView
from batchdeploy.jobs.watch import LogFollower, follow
from batchdeploy.state import JOBS


@dataclass(frozen=True)
class StatusOptions:
    job: str | None = None
    run: str | None = None
    state: str | None = None
    since: _dt.datetime | None = None
    limit: int = 20

    @classmethod
    def from_args(cls, args, now: _dt.datetime) -> StatusOptions:
        if args.limit < 1:
            raise UsageError(f"--limit {args.limit} must be at least 1")
        run = getattr(args, "run", None)
        if run is not None and not runs.RUN_ID.fullmatch(run):
            raise UsageError(f"--run {run}: not a run id", hint="a run id looks like 20261130T161200Z-3fa9c1")
        if run and args.job:
            raise UsageError("give one job or --run RUN_ID, not both", hint="./deploy.sh --status RUN_ID shows a sweep's tasks")
        return cls(job=args.job, run=run, state=runlist.parse_state(getattr(args, "state", None)),
                   since=runlist.parse_since(getattr(args, "since", None), now), limit=args.limit)


@dataclass(frozen=True)
class LogsOptions:
    job: str
    follow: bool = False

    @classmethod
    def from_args(cls, args) -> LogsOptions:
        return cls(job=args.job, follow=bool(args.follow))


@dataclass(frozen=True)
class CancelOptions:
    job: str
    reason: str

    @classmethod
    def from_args(cls, args) -> CancelOptions:
        return cls(job=args.job, reason=args.reason)


# ---- following one job ---------------------------------------------------------------------------


def wait(ctx, job_id: str, name: str | None = None, json_extra: dict | None = None,
         cancel_on_interrupt: bool = False) -> int:
    """Follow a job to its end: 0 when it SUCCEEDED, TasksFailed (exit 3) when it FAILED."""
    out = ctx.out
    batch = ctx.aws.client("batch")
    ctx.cfg.require(optional=("RUNNABLE_WARN_S",))
    label = name or job_id
    try:  # on a terminal a live view (spinner, time per state, an array's bar), else plain lines (jobs.waitview)
        with WaitView(out, label, ctx.clock) as view:
            followed = follow(batch, ctx.aws.client("logs"), job_id, sleep=ctx.sleep, clock=ctx.clock,
                              on_change=view.change, on_line=view.line, warn=out.warn,
                              runnable_warn_s=float(ctx.cfg.get("RUNNABLE_WARN_S", "600")),
                              on_stuck=doctor_hook.on_stuck(ctx))
    except KeyboardInterrupt:
        return _interrupted(ctx, batch, job_id, cancel_on_interrupt)
    ok, line = Job(followed.job).outcome()
    if out.json:
        out.emit_json({**(json_extra or {}), "job_id": job_id, "status": followed.job.get("status"), "outcome": line})
    if not ok:
        raise TasksFailed(f"job {label} ({job_id}) failed: {line}")
    out.note(f"job {label} ({job_id}) {line}")
    return errors.OK


def _interrupted(ctx, batch, job_id: str, cancel_on_interrupt: bool) -> int:
    if cancel_on_interrupt:
        with translate(f"terminate job {job_id} (batch:TerminateJob)"):
            batch.terminate_job(jobId=job_id, reason="interrupted: batchdeploy --cancel-on-interrupt")
        ctx.out.warn(f"interrupted: job {job_id} terminated (--cancel-on-interrupt)")
    else:
        ctx.out.warn(
            f"interrupted: job {job_id} keeps running; re-attach with: ./deploy.sh --logs {job_id} --follow"
        )
    return errors.INTERRUPTED


# ---- --status ------------------------------------------------------------------------------------


def _one_job(ctx, batch, ref: str) -> dict:
    """A job by id, or by the name of the latest job this project recorded."""
    records = ctx.state.records(JOBS)
    named = [r for r in records if r.get("name") == ref]
    job_id = named[-1]["job_id"] if named and not any(r.get("job_id") == ref for r in records) else ref
    job = aws_batch.describe_jobs(batch, [job_id]).get(job_id)
    if job is None:
        raise UsageError(f"no job {ref!r}", hint="give a job id (./deploy.sh --status lists this project's jobs)")
    return job


def _ids_named(ctx, batch, name: str) -> list[str]:
    """Jobs called `name` on AWS_JOB_QUEUE (any status), for a job this project did not record."""
    queue = ctx.cfg.get("AWS_JOB_QUEUE")
    if not queue or not JOB_NAME.fullmatch(name):
        return []
    return named(batch, queue, name)


def _chosen(ctx, opts: StatusOptions):
    """(records of `opts.job`, newest first; a batch client when one was needed to find them)."""
    records = ctx.state.records(JOBS)
    chosen = [r for r in records if opts.job in (r.get("job_id"), r.get("name"))]
    if chosen:
        return list(reversed(chosen)), None
    # Not recorded here (another machine, or a submit whose answer was lost): ask AWS, by id and,
    # when a queue is configured, by name.
    batch = ctx.aws.client("batch")
    found = [{"job_id": opts.job}] + [{"job_id": i, "name": opts.job} for i in _ids_named(ctx, batch, opts.job)]
    return list(reversed(found)), batch


def _recent(ctx, opts: StatusOptions) -> list[dict]:
    """Recent runs from the run records in S3 (every clone's), else this project's jobs.jsonl."""
    bucket = ctx.cfg.get("S3_BUCKET")
    if bucket:
        return runlist.read_rows(ctx.aws.client("s3"), ctx.aws.client("batch"), bucket,
                                 ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX), run_id=opts.run,
                                 state=opts.state, since=opts.since, limit=opts.limit)
    records = [r for r in reversed(ctx.state.records(JOBS)) if opts.run in (None, r.get("run_id"))]
    described = aws_batch.describe_jobs(ctx.aws.client("batch"), [r["job_id"] for r in records]) if records else {}
    rows = [runlist.job_row(r, described.get(r["job_id"]) or {}) for r in records]
    rows = [r for r in rows if (opts.state in (None, r["state"]))
            and (opts.since is None or (r["created_at"] or "") >= opts.since.strftime("%Y-%m-%dT%H:%M:%SZ"))]
    return rows[: opts.limit]


def why(job: dict) -> str:
    """AWS's statusReason and the container's reason (a job that failed before its command ran, e.g.
    CannotPullContainerError), both when they differ; '' when AWS gives none."""
    status_reason, container = job.get("statusReason") or "", (Job(job).reason or "") if job else ""
    return "; ".join(r for r in dict.fromkeys((status_reason, container)) if r)


def status(ctx) -> int:
    opts = StatusOptions.from_args(ctx.args, _dt.datetime.now(_dt.timezone.utc))
    ctx.cfg.require()  # malformed keys are exit 2 even when nothing recorded needs AWS
    out = ctx.out
    if not opts.job:
        rows = _recent(ctx, opts)
        if out.json:
            out.emit_json(rows)
        elif not rows:
            where = "matching those filters" if (opts.run or opts.state or opts.since) else "yet"
            out.info(f"no runs {where}; submit one with ./deploy.sh -r NAME")
        else:
            _show_table(out, runlist.text_rows(rows))
        return errors.OK
    chosen, batch = _chosen(ctx, opts)
    described = aws_batch.describe_jobs(batch or ctx.aws.client("batch"), [r["job_id"] for r in chosen])
    chosen = [r for r in chosen if r["job_id"] in described]
    if not chosen:
        raise UsageError(f"no job {opts.job!r} recorded or known to AWS Batch", hint="./deploy.sh --status lists recent runs")
    rows = [runlist.job_row(r, described[r["job_id"]]) for r in chosen]
    if out.json:
        out.emit_json(rows)
    elif len(rows) == 1:
        _show_one(out, rows[0], described[rows[0]["job_id"]])
    else:
        _show_table(out, runlist.text_rows(rows))
    return errors.OK


def _show_one(out, row: dict, record: dict) -> None:
    shown = runlist.text_rows([row])[0]
    for key in ("job_id", "name", "status", "submitted", "took", "exit", "reason"):
        out.result(f"{key:<15} {shown[key] or '-'}")
    out.result(f"{'job_definition':<15} {row['job_definition'] or '-'}")
    out.result(f"{'parameters':<15} {json.dumps(row['parameters'], sort_keys=True)}")
    job = Job(record)
    targets = job.log_targets()
    if targets:
        out.result(f"{'log stream':<15} {targets[-1][0]} {targets[-1][1]}")
    if record.get("arrayProperties"):
        out.result(f"{'array':<15} size {record['arrayProperties'].get('size')}: {children_text(job.children)}")


def _show_table(out, rows: list[dict]) -> None:
    columns = ("run_id", "job_id", "name", "status", "submitted", "took", "exit", "reason")
    table = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(columns)]
    out.result("  ".join(c.upper().replace("_", " ").ljust(w) for c, w in zip(columns, widths)).rstrip())
    for t in table:
        out.result("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())


# ---- --logs --------------------------------------------------------------------------------------


def logs(ctx) -> int:
    opts = LogsOptions.from_args(ctx.args)
    out = ctx.out
    job = _one_job(ctx, ctx.aws.client("batch"), opts.job)
    job_id = job["jobId"]
    if job.get("arrayProperties", {}).get("size") and ":" not in job_id:
        raise UsageError(f"{job_id} is an array job: each child has its own log", hint=f"./deploy.sh --logs {job_id}:0")
    if opts.follow:
        return wait(ctx, job_id, job.get("jobName"))
    targets, reason = Job(job).log_targets(), why(job)
    because = f": {reason}" if reason else ""
    if not targets:
        out.note(f"job {job_id} has no log stream {'yet ' if job.get('status') not in TERMINAL else ''}({job.get('status')}{because})")
        return errors.OK
    client = ctx.aws.client("logs")
    for n, (group, stream) in enumerate(targets, 1):
        if len(targets) > 1:
            out.note(f"== attempt {n}: {group} {stream}")
        _print_stream(out, LogFollower(client, group, stream))
    if job.get("status") == "FAILED" and reason:
        out.note(f"job {job_id} FAILED: {reason}")
    return errors.OK


def _print_stream(out, follower: LogFollower) -> None:
    """Every line the stream has now, from its head."""
    while True:
        events = follower.poll()
        for event in events:
            out.result(event.get("message", "").rstrip("\n"))
        if not events:
            break
    if follower.broken:
        raise OperationError(follower.broken)


# ---- --cancel ------------------------------------------------------------------------------------


def cancel_action(status: str | None) -> str | None:
    """CancelJob while queued, TerminateJob once placed, nothing when it already ended."""
    if status in QUEUED:
        return "cancel"
    if status in ("STARTING", "RUNNING"):
        return "terminate"
    return None


def cancel(ctx) -> int:
    opts = CancelOptions.from_args(ctx.args)
    out = ctx.out
    batch = ctx.aws.client("batch")
    job = _one_job(ctx, batch, opts.job)
    job_id, state = job["jobId"], job.get("status")
    action = cancel_action(state)
    if action is None:
        out.result(f"job {job_id} already {state}: nothing to cancel")
        return errors.OK
    if action == "cancel":
        with translate(f"cancel job {job_id} (batch:CancelJob)"):
            batch.cancel_job(jobId=job_id, reason=opts.reason)
        # CancelJob does nothing to a job that was placed meanwhile: look once more.
        now = aws_batch.describe_jobs(batch, [job_id]).get(job_id) or {}
        if cancel_action(now.get("status")) == "terminate":
            action = "terminate"
    if action == "terminate":
        with translate(f"terminate job {job_id} (batch:TerminateJob)"):
            batch.terminate_job(jobId=job_id, reason=opts.reason)
    out.result(f"job {job_id}: {'cancel' if action == 'cancel' else 'terminate'} requested (was {state})")
    return errors.OK
