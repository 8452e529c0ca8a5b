"""`--status`, `--logs`, `--cancel`, and following one job to its end (`-r --wait`, `--logs --follow`).

Each verb reads its flags once into a small options object; jobs are found by id, or by the name
this project recorded in `.batchdeploy/jobs.jsonl` (or, for `--status`, the name on AWS_JOB_QUEUE).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass

from batchdeploy import errors
from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import JOB_NAME, QUEUED, TERMINAL
from batchdeploy.doctor import hook as doctor_hook
from batchdeploy.errors import OperationError, TasksFailed, UsageError
from batchdeploy.jobs.job import Job, children_text
from batchdeploy.jobs.submit import named
from batchdeploy.jobs.watch import LogFollower, follow
from batchdeploy.state import JOBS


@dataclass(frozen=True)
class StatusOptions:
    job: str | None = None
    limit: int = 20

    @classmethod
    def from_args(cls, args) -> StatusOptions:
        if args.limit < 1:
            raise UsageError(f"--limit {args.limit} must be at least 1")
        return cls(job=args.job, limit=args.limit)


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


def elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"+{m}m{s:02d}s" if m else f"+{s}s"


def wait(ctx, job_id: str, name: str | None = None, json_extra: dict | None = None,
         cancel_on_interrupt: bool = False, exit_code_from=None) -> int:
    """Follow a job to its end: 0 when it SUCCEEDED, TasksFailed (exit 3) when it FAILED.
    `exit_code_from(job)` reads the exit code elsewhere (the launcher's task record) when the API
    reports none, as the local stack does."""
    out = ctx.out
    batch = ctx.aws.client("batch")
    ctx.cfg.require(optional=("RUNNABLE_WARN_S",))
    label = name or job_id

    def on_change(change):
        done = f" ({children_text(Job(change.job).children)})" if change.progress_only else ""
        out.note(f"[{elapsed(change.at)}] {label}: {change.after}{done}")

    def on_line(event):
        text = event.get("message", "").rstrip("\n")
        (out.note if out.json else out.result)(text)

    try:
        followed = follow(batch, ctx.aws.client("logs"), job_id, sleep=ctx.sleep, clock=ctx.clock,
                          on_change=on_change, on_line=on_line, warn=out.warn,
                          runnable_warn_s=float(ctx.cfg.get("RUNNABLE_WARN_S", "600")), on_stuck=doctor_hook.on_stuck(ctx))
    except KeyboardInterrupt:
        return _interrupted(ctx, batch, job_id, cancel_on_interrupt)
    ok, line = Job(with_exit_code(followed.job, exit_code_from, out)).outcome()
    if out.json:
        out.emit_json({**(json_extra or {}), "job_id": job_id, "status": followed.job.get("status"), "outcome": line})
    if not ok:
        raise TasksFailed(f"job {label} ({job_id}) failed: {line}")
    out.note(f"job {label} ({job_id}) {line}")
    return errors.OK


def with_exit_code(job: dict, exit_code_from, out) -> dict:
    """`job`, its container's exit code filled from `exit_code_from` when the API gave none."""
    if exit_code_from is None or Job(job).exit_code is not None or not Job(job).ended:
        return job
    code = exit_code_from(job)
    if code is None:
        return job
    out.note(f"exit code {code} from the launcher's task record (the API reports none)")
    return {**job, "container": {**(job.get("container") or {}), "exitCode": code}}


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


def _ms(value) -> _dt.datetime | None:
    return _dt.datetime.fromtimestamp(value / 1000, _dt.timezone.utc) if isinstance(value, (int, float)) else None


def _when(value) -> str:
    t = _ms(value)
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _took(job: dict) -> str:
    start, stop = _ms(job.get("startedAt")), _ms(job.get("stoppedAt"))
    if not start:
        return "-"
    end = stop or _dt.datetime.now(_dt.timezone.utc)
    return elapsed((end - start).total_seconds()).lstrip("+")


def _ids_named(ctx, batch, name: str) -> list[str]:
    """Jobs called `name` on AWS_JOB_QUEUE (any status), for a job this project did not record."""
    queue = ctx.cfg.get("AWS_JOB_QUEUE")
    if not queue or not JOB_NAME.fullmatch(name):
        return []
    return named(batch, queue, name)


def _chosen(ctx, opts: StatusOptions):
    """(records to show, newest first; a batch client when one was needed to find them)."""
    records = ctx.state.records(JOBS)
    if not opts.job:
        return list(reversed(records[-opts.limit :])), None
    chosen = [r for r in records if opts.job in (r.get("job_id"), r.get("name"))]
    if chosen:
        return list(reversed(chosen)), None
    # Not recorded here (another machine, or a submit whose answer was lost): ask AWS, by id and,
    # when a queue is configured, by name.
    batch = ctx.aws.client("batch")
    found = [{"job_id": opts.job}] + [{"job_id": i, "name": opts.job} for i in _ids_named(ctx, batch, opts.job)]
    return list(reversed(found)), batch


def why(job: dict) -> str:
    """AWS's statusReason and the container's reason (a job that failed before its command ran, e.g.
    CannotPullContainerError), both when they differ; '' when AWS gives none."""
    status_reason, container = job.get("statusReason") or "", (Job(job).reason or "") if job else ""
    return "; ".join(r for r in dict.fromkeys((status_reason, container)) if r)


def _row(record: dict, job: dict) -> dict:
    code = (job.get("container") or {}).get("exitCode")
    return {
        "job_id": record["job_id"],
        "name": record.get("name") or job.get("jobName", "-"),
        "status": job.get("status", "UNKNOWN (expired?)"),
        "submitted": _when(job.get("createdAt")) if job else (record.get("submitted_at") or "-"),
        "took": _took(job),
        "exit": "-" if code is None else str(code),
        "reason": why(job),
        "parameters": record.get("parameters", job.get("parameters", {})),
        "job_definition": record.get("job_definition", job.get("jobDefinition")),
    }


def status(ctx) -> int:
    opts = StatusOptions.from_args(ctx.args)
    ctx.cfg.require()  # malformed keys are exit 2 even when nothing recorded needs AWS
    out = ctx.out
    chosen, batch = _chosen(ctx, opts)
    if not chosen:
        if out.json:
            out.emit_json([])
        else:
            out.info(f"no jobs recorded yet in {ctx.state.folder / JOBS}; submit one with ./deploy.sh -r NAME")
        return errors.OK
    described = aws_batch.describe_jobs(batch or ctx.aws.client("batch"), [r["job_id"] for r in chosen])
    if opts.job:
        chosen = [r for r in chosen if r["job_id"] in described]
        if not chosen:
            raise UsageError(f"no job {opts.job!r} recorded or known to AWS Batch", hint="./deploy.sh --status lists recent jobs")
    rows = [_row(r, described.get(r["job_id"]) or {}) for r in chosen]
    if out.json:
        out.emit_json(rows)
    elif opts.job and len(rows) == 1:
        _show_one(out, rows[0], described.get(rows[0]["job_id"]) or {})
    else:
        _show_table(out, rows)
    return errors.OK


def _show_one(out, row: dict, record: dict) -> None:
    for key in ("job_id", "name", "status", "submitted", "took", "exit", "reason", "job_definition"):
        out.result(f"{key:<15} {row[key] or '-'}")
    out.result(f"{'parameters':<15} {json.dumps(row['parameters'], sort_keys=True)}")
    job = Job(record)
    targets = job.log_targets()
    if targets:
        out.result(f"{'log stream':<15} {targets[-1][0]} {targets[-1][1]}")
    if record.get("arrayProperties"):
        out.result(f"{'array':<15} size {record['arrayProperties'].get('size')}: {children_text(job.children)}")


def _show_table(out, rows: list[dict]) -> None:
    columns = ("job_id", "name", "status", "submitted", "took", "exit", "reason")
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
