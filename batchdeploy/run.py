"""`-r` and the verbs around a run: submit an experiment, follow it, list, read logs, cancel.

The order of `-r` is the point: every check that needs no AWS comes first (words, flags,
configuration, files, the jq filter), then the reads (queue, job definition, parameters against its
placeholders), then credentials, then one SubmitJob. Anything wrong before that last step submits
nothing. SubmitJob itself is sent with botocore's retries off and a client-token tag, so a response
lost on the way back is looked for (ListJobs by name, then the tag) before any second attempt.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid

from batchdeploy import config, credentials, errors, submit
from batchdeploy.aws import error_code, is_retryable, translate
from batchdeploy.aws.errors import THROTTLING
from batchdeploy.errors import ConfigError, OperationError, UsageError
from batchdeploy.watch import (
    QUEUED,
    TERMINAL,
    LogFollower,
    array_summary,
    chunks,
    follow,
    log_targets,
    outcome,
    with_retries,
)

JOBS_FILE = "jobs.jsonl"
JOBDEFS_FILE = "job-definitions.json"
OVERRIDES_FILE = "env-overrides.json"
SUBMIT_ATTEMPTS = 3
LOOKUP_WAITS = (0.0, 1.0, 2.0)  # seconds before each look for a job whose SubmitJob answer was lost


# ---- -r ------------------------------------------------------------------------------------------


def main(ctx) -> int:
    args, out = ctx.args, ctx.out
    spec = submit.RunSpec(
        name=args.name,
        queue="",
        job_definition={},
        parameters=submit.parse_pairs(args.params),
        extra_args=list(getattr(args, "extra", []) or []),
        vcpus=args.vcpus,
        memory=args.memory,
        gpus=args.gpus,
        timeout=args.timeout,
        retries=args.retries,
        tags=submit.parse_pairs(args.tags, "tag"),
        depends_on=list(args.depends_on),
        array_size=args.array_size,
        client_token=uuid.uuid4().hex,
    )
    submit.check_options(spec)
    if args.cancel_on_interrupt and not args.wait:
        raise UsageError("--cancel-on-interrupt needs --wait")
    ctx.cfg.require("AWS_JOB_QUEUE", optional=("CREDENTIALS_DURATION", "CREDENTIALS_ROLE_ARN", "RUNNABLE_WARN_S"))
    spec.queue = ctx.cfg["AWS_JOB_QUEUE"]
    # Progress is held back until the request has passed every check: a mistake is then one line alone.
    later = Later(out)
    overrides = with_emulator_endpoint(load_overrides(ctx, later), ctx.cfg.get("AWS_ENDPOINT_URL"), later)
    compiled = label = None
    if not args.no_credentials:
        program, label = credentials.filter_text(ctx.cfg.project_dir)
        compiled = credentials.compile_filter(program, label)

    batch = ctx.aws.client("batch")
    check_queue(batch, spec.queue)
    spec.job_definition = resolve_definition(ctx, batch)
    if spec.job_definition.get("type") != "container" or "containerProperties" not in spec.job_definition:
        raise UsageError(f"{submit.definition_label(spec.job_definition)} is not a single-container job definition")
    submit.check_parameters(spec.parameters, spec.job_definition)

    secret_names: set[str] = set()
    if args.no_credentials:
        later.note("credentials: none injected (--no-credentials)")
        if not (spec.job_definition.get("containerProperties") or {}).get("jobRoleArn"):
            later.note("note: the job definition has no jobRoleArn, so the job gets no AWS credentials of its own")
    else:
        env = inject(ctx, spec, compiled, label, later)
        secret_names = {e["name"] for e in env}
        overrides = credentials.merge(overrides, env)
    spec.overrides = overrides

    request = submit.build(spec)
    submit.check(request)
    later.flush()
    if args.dry_run:
        out.emit_json(submit.masked(request, secret_names))
        out.note("dry run: nothing submitted")
        return errors.OK

    try:
        answer = submit_exactly_once(ctx, request)
    except KeyboardInterrupt:
        out.warn(
            f"interrupted while submitting: a job may have been made; `./deploy.sh --status {spec.name}` "
            f"finds it (tag {submit.TOKEN_TAG}={spec.client_token})"
        )
        return errors.INTERRUPTED
    job_id = answer["jobId"]
    ctx.state.append(
        JOBS_FILE,
        {
            "job_id": job_id,
            "name": spec.name,
            "queue": spec.queue,
            "job_definition": spec.job_definition["jobDefinitionArn"],
            "parameters": spec.parameters,
            "image_tag": submit.image_tag(spec.job_definition),
            "submitted_at": _now_iso(),
            "client_token": spec.client_token,
            **({"array_size": spec.array_size} if spec.array_size else {}),
        },
    )
    submitted = report_submitted(ctx, spec, answer, print_json=not args.wait)
    if not args.wait:
        return errors.OK
    return wait(ctx, job_id, spec.name, json_extra=submitted)


class Later:
    """notes and warnings held until `flush`."""

    def __init__(self, out):
        self.out = out
        self.held: list[tuple[str, str]] = []

    def note(self, text: str) -> None:
        self.held.append(("note", text))

    def warn(self, text: str) -> None:
        self.held.append(("warn", text))

    def flush(self) -> None:
        for kind, text in self.held:
            getattr(self.out, kind)(text)
        self.held.clear()


def load_overrides(ctx, out) -> dict:
    """env-overrides.json (a containerOverrides object) with ${VAR} filled; absent means none."""
    path = ctx.cfg.path(OVERRIDES_FILE)
    if not path.exists():
        out.note(f"no {OVERRIDES_FILE} in the project: no environment overrides")
        return {}
    data = config.render(config.load_json(path, OVERRIDES_FILE), ctx.cfg.variables(), OVERRIDES_FILE)
    if not isinstance(data, dict):
        raise ConfigError(f"{OVERRIDES_FILE} must be a JSON object", hint='e.g. {"environment": [{"name": "X", "value": "1"}]}')
    from batchdeploy.aws import shapes

    shape = shapes.input_shape("batch", "SubmitJob").members["containerOverrides"]
    problems = shapes.check(shape, data)
    if problems:
        raise ConfigError(f"{OVERRIDES_FILE} is not a valid containerOverrides object", problems)
    return data


def with_emulator_endpoint(overrides: dict, endpoint: str | None, out) -> dict:
    """When batchdeploy talks to an emulator (AWS_ENDPOINT_URL), the job must reach the same one, or its
    S3 calls would go to real AWS. On AWS the key is unset and nothing is added."""
    environment = list(overrides.get("environment") or [])
    if not endpoint or any(e.get("name") == "AWS_ENDPOINT_URL" for e in environment):
        return overrides
    out.note(f"AWS_ENDPOINT_URL={endpoint} passed to the job (batchdeploy itself talks to that endpoint)")
    return {**overrides, "environment": environment + [{"name": "AWS_ENDPOINT_URL", "value": endpoint}]}


def check_queue(batch, queue: str) -> dict:
    with translate(f"describe job queue {queue} (batch:DescribeJobQueues)"):
        found = batch.describe_job_queues(jobQueues=[queue]).get("jobQueues") or []
    if not found:
        raise ConfigError(
            f"job queue {queue!r} does not exist",
            hint="check AWS_JOB_QUEUE (or --queue) and the region; ./deploy.sh --create makes one",
        )
    q = found[0]
    if q.get("state") != "ENABLED":
        raise ConfigError(
            f"job queue {queue!r} is {q.get('state')} and accepts no jobs",
            hint=f"enable it (aws batch update-job-queue --job-queue {queue} --state ENABLED) or choose another with --queue",
        )
    return q


def resolve_definition(ctx, batch) -> dict:
    """The job definition in force: --job-definition NAME[:REV]|ARN, else the one -u recorded."""
    recorded = ctx.state.read(JOBDEFS_FILE)
    known = recorded.get("definitions") or {}
    wanted = ctx.args.job_definition
    if not wanted:
        default = recorded.get("default")
        if not default:
            raise UsageError("no job definition registered yet", hint="run ./deploy.sh -u")
        entry = known.get(default) or {}
        ref = entry.get("arn") or (f"{default}:{entry['revision']}" if entry.get("revision") else default)
        return _describe_definition(batch, ref, recorded_by_u=True)
    if not wanted.startswith("arn:") and ":" not in wanted and (known.get(wanted) or {}).get("arn"):
        return _describe_definition(batch, known[wanted]["arn"], recorded_by_u=True)
    return _describe_definition(batch, wanted, recorded_by_u=False)


def _describe_definition(batch, ref: str, recorded_by_u: bool) -> dict:
    where = " (the revision -u recorded)" if recorded_by_u else ""
    doing = f"describe job definition {ref} (batch:DescribeJobDefinitions)"
    if ref.startswith("arn:"):
        with translate(doing):
            found = batch.describe_job_definitions(jobDefinitions=[ref]).get("jobDefinitions") or []
        name, revision = ref, None
    else:
        name, _, rev = ref.partition(":")
        if rev and not rev.isdigit():
            raise UsageError(f"--job-definition {ref!r}: the revision must be a number", hint="write NAME or NAME:REV")
        revision = int(rev) if rev else None
        found = []
        with translate(doing):
            for page in batch.get_paginator("describe_job_definitions").paginate(jobDefinitionName=name):
                found += page.get("jobDefinitions") or []
        if revision is not None:
            found = [d for d in found if d.get("revision") == revision]
        else:
            found = [d for d in found if d.get("status") == "ACTIVE"]
            found = sorted(found, key=lambda d: d.get("revision", 0))[-1:]
    if not found:
        raise UsageError(f"job definition {ref}{where} is not registered", hint="run ./deploy.sh -u")
    jd = max(found, key=lambda d: d.get("revision", 0))
    if jd.get("status") != "ACTIVE":
        raise UsageError(
            f"job definition {submit.definition_label(jd)}{where} is {jd.get('status')} (deregistered)",
            hint="run ./deploy.sh -u",
        )
    return jd


def inject(ctx, spec: submit.RunSpec, compiled, label: str, out) -> list[dict]:
    """Temporary credentials as environment entries, by the path the caller's credentials allow."""
    timeout, attempts = submit.effective_timeout(spec)
    seconds, why, warnings = credentials.duration(ctx.cfg.get("CREDENTIALS_DURATION"), timeout, attempts)
    span = timeout * attempts if timeout else None
    got = credentials.obtain(
        ctx.aws,
        seconds=seconds,
        role_arn=ctx.cfg.get("CREDENTIALS_ROLE_ARN"),
        session_name=f"batchdeploy-{spec.name}",
        span=span,
    )
    if got.path == "GetSessionToken":
        out.note(f"credentials: STS GetSessionToken for {credentials.human(seconds)} ({why})")
    elif got.path == "AssumeRole":
        out.note(f"credentials: AssumeRole of CREDENTIALS_ROLE_ARN for {credentials.human(got.lifetime_s)}")
    else:
        left = "unknown" if got.lifetime_s is None else credentials.human(max(got.lifetime_s, 0))
        out.note(f"credentials: your own temporary credentials passed through (lifetime left: {left})")
    for text in got.notes:
        out.note(f"note: {text}")
    if got.path == "GetSessionToken":
        for text in warnings:
            out.warn(text)
    for text in got.warnings:
        out.warn(text)
    if (spec.job_definition.get("containerProperties") or {}).get("jobRoleArn"):
        out.note(
            "note: the job definition has a jobRoleArn; --no-credentials would keep credentials out of the "
            "job's environment, which anyone allowed batch:DescribeJobs can read"
        )
    return credentials.reshape(compiled, got.document, label)


# ---- exactly-once SubmitJob --------------------------------------------------------------------


def _failure_kind(exc) -> str | None:
    """'unsent' (safe to send again), 'lost' (AWS may have made the job), None (not retryable)."""
    try:
        import botocore.exceptions as bex
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError)):
        return "unsent"
    if isinstance(exc, bex.HTTPClientError):  # connection closed, read timeout: the answer was lost
        return "lost"
    if error_code(exc) in THROTTLING:
        return "unsent"
    if is_retryable(exc):  # 5xx: made or not, it cannot say
        return "lost"
    return None


def list_named(batch, queue: str, name: str) -> list[str]:
    """Ids of the jobs called `name` on `queue`, any status (a JOB_NAME filter lists every status)."""
    ids: list[str] = []
    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}], PaginationConfig={"MaxItems": 1000}
    )
    for page in pages:
        ids += [j["jobId"] for j in page.get("jobSummaryList") or [] if ":" not in j["jobId"]]  # not array children
    return ids


def find_by_token(batch, queue: str, name: str, token: str) -> dict | None:
    """The job this client token made, if AWS has it: ListJobs by name, then the tag on DescribeJobs."""
    ids = list_named(batch, queue, name)
    for batch_ids in chunks(ids):
        for job in batch.describe_jobs(jobs=batch_ids).get("jobs") or []:
            if (job.get("tags") or {}).get(submit.TOKEN_TAG) == token:
                return {"jobId": job["jobId"], "jobName": job.get("jobName"), "jobArn": job.get("jobArn")}
    return None


def submit_exactly_once(ctx, request: dict) -> dict:
    """SubmitJob at most once per job: botocore's retries are off for it; a lost answer is looked for."""
    sender = ctx.aws.client("batch", retries={"total_max_attempts": 1})
    reader = ctx.aws.client("batch")
    token = request["tags"][submit.TOKEN_TAG]
    name, queue = request["jobName"], request["jobQueue"]
    delay = 1.0
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return sender.submit_job(**request)
        except Exception as exc:  # noqa: BLE001 - sorted by _failure_kind; the rest is translated
            kind = _failure_kind(exc)
            if kind is None:
                with translate(f"submit job {name} (batch:SubmitJob)"):
                    raise
            if kind == "lost":
                found = _look_for(ctx, reader, queue, name, token)
                if found:
                    ctx.out.note(f"SubmitJob's answer was lost on the way back; found the job it made ({found['jobId']})")
                    return found
            if attempt == SUBMIT_ATTEMPTS:
                with translate(f"submit job {name} (batch:SubmitJob, {attempt} attempts)"):
                    raise
            ctx.out.note(f"SubmitJob failed ({type(exc).__name__}); no job was made; trying again")
            ctx.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _look_for(ctx, reader, queue, name, token):
    for wait_s in LOOKUP_WAITS:
        if wait_s:
            ctx.sleep(wait_s)
        try:
            found = find_by_token(reader, queue, name, token)
        except Exception as exc:  # noqa: BLE001 - never guess: a second SubmitJob could make a second job
            raise OperationError(
                f"SubmitJob's answer was lost and looking for the job failed ({type(exc).__name__})",
                hint=f"check `./deploy.sh --status {name}` before submitting again "
                f"(the job would carry the tag {submit.TOKEN_TAG}={token})",
            ) from None
        if found:
            return found
    return None


def report_submitted(ctx, spec: submit.RunSpec, answer: dict, print_json: bool = True) -> dict:
    """Print what was submitted; return it as data (with --wait, --output json prints it at the end)."""
    out = ctx.out
    job_id = answer["jobId"]
    url = submit.console_url(ctx.aws.region, job_id)
    follow_cmd = f"./deploy.sh --logs {job_id} --follow"
    data = {
        "job_id": job_id,
        "job_name": spec.name,
        "job_arn": answer.get("jobArn"),
        "queue": spec.queue,
        "job_definition": spec.job_definition["jobDefinitionArn"],
        "console_url": url,
        "follow": follow_cmd,
    }
    if out.json:
        if print_json:
            out.emit_json(data)
    elif out.quiet:
        out.result(job_id)
    else:
        kind = f"array job of {spec.array_size}" if spec.array_size else "job"
        out.result(f"submitted {kind} {spec.name}: {job_id}")
        out.result(f"  definition: {submit.definition_label(spec.job_definition)}   queue: {spec.queue}")
        out.result(f"  console:    {url}")
        out.result(f"  follow:     {follow_cmd}   (status: ./deploy.sh --status {job_id})")
    return data


# ---- following -----------------------------------------------------------------------------------


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"+{m}m{s:02d}s" if m else f"+{s}s"


def wait(ctx, job_id: str, name: str | None = None, json_extra: dict | None = None) -> int:
    """Follow a job to its end: 0 when it SUCCEEDED, an OperationError (exit 1) when it FAILED."""
    out = ctx.out
    batch = ctx.aws.client("batch")
    logs = ctx.aws.client("logs")
    ctx.cfg.require(optional=("RUNNABLE_WARN_S",))
    warn_s = float(ctx.cfg.get("RUNNABLE_WARN_S", "600"))
    label = name or job_id

    def on_change(change):
        if change.progress_only:
            done = ", ".join(f"{n} {s}" for s, n in sorted(array_summary(change.job).items()))
            out.note(f"[{_elapsed(change.at)}] {label}: {change.after} ({done})")
        else:
            out.note(f"[{_elapsed(change.at)}] {label}: {change.after}")

    def on_line(event):
        text = event.get("message", "").rstrip("\n")
        if out.json:
            out.note(text)
        else:
            out.result(text)

    try:
        followed = follow(
            batch,
            logs,
            job_id,
            sleep=ctx.sleep,
            clock=ctx.clock,
            on_change=on_change,
            on_line=on_line,
            warn=out.warn,
            runnable_warn_s=warn_s,
        )
    except KeyboardInterrupt:
        return _interrupted(ctx, batch, job_id)
    ok, line = outcome(followed.job)
    if out.json:
        out.emit_json({**(json_extra or {}), "job_id": job_id, "status": followed.job.get("status"), "outcome": line})
    if not ok:
        raise OperationError(f"job {label} ({job_id}) failed: {line}")
    out.note(f"job {label} ({job_id}) {line}")
    return errors.OK


def _interrupted(ctx, batch, job_id: str) -> int:
    if getattr(ctx.args, "cancel_on_interrupt", False):
        with translate(f"terminate job {job_id} (batch:TerminateJob)"):
            batch.terminate_job(jobId=job_id, reason="interrupted: batchdeploy --cancel-on-interrupt")
        ctx.out.warn(f"interrupted: job {job_id} terminated (--cancel-on-interrupt)")
    else:
        ctx.out.warn(
            f"interrupted: job {job_id} keeps running; re-attach with: ./deploy.sh --logs {job_id} --follow"
        )
    return errors.INTERRUPTED


# ---- --status, --logs, --cancel ------------------------------------------------------------------


def _describe_all(ctx, batch, ids: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for batch_ids in chunks(list(dict.fromkeys(ids))):
        answer = with_retries(
            lambda b=batch_ids: batch.describe_jobs(jobs=b), "describe jobs (batch:DescribeJobs)", ctx.sleep
        )
        for job in answer.get("jobs") or []:
            found[job["jobId"]] = job
    return found


def _one_job(ctx, batch, ref: str) -> dict:
    """A job by id, or by the name of the latest job this project recorded."""
    records = ctx.state.records(JOBS_FILE)
    named = [r for r in records if r.get("name") == ref]
    job_id = named[-1]["job_id"] if named and not any(r.get("job_id") == ref for r in records) else ref
    job = _describe_all(ctx, batch, [job_id]).get(job_id)
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
    return _elapsed((end - start).total_seconds()).lstrip("+")


def status(ctx) -> int:
    out, args = ctx.out, ctx.args
    if args.limit < 1:
        raise UsageError(f"--limit {args.limit} must be at least 1")
    records = ctx.state.records(JOBS_FILE)
    batch = None
    if args.job:
        chosen = [r for r in records if args.job in (r.get("job_id"), r.get("name"))]
        if not chosen:
            # Not recorded here (another machine, or a submit whose answer was lost): ask AWS, by id
            # and, when a queue is configured, by name.
            batch = ctx.aws.client("batch")
            chosen = [{"job_id": args.job}] + [{"job_id": i, "name": args.job} for i in _ids_named(ctx, batch, args.job)]
    else:
        chosen = records[-args.limit :]
    chosen = list(reversed(chosen))
    if not chosen:
        if out.json:
            out.emit_json([])
        else:
            out.info(f"no jobs recorded yet in {ctx.state.folder / JOBS_FILE}; submit one with ./deploy.sh -r NAME")
        return errors.OK
    batch = batch or ctx.aws.client("batch")
    described = _describe_all(ctx, batch, [r["job_id"] for r in chosen])
    if args.job and not any(r["job_id"] in described for r in chosen):
        raise UsageError(f"no job {args.job!r} recorded or known to AWS Batch", hint="./deploy.sh --status lists recent jobs")
    if args.job:
        chosen = [r for r in chosen if r["job_id"] in described]
    rows = []
    for r in chosen:
        job = described.get(r["job_id"]) or {}
        ok, line = outcome(job) if job.get("status") in TERMINAL else (None, "")
        code = (job.get("container") or {}).get("exitCode")
        rows.append(
            {
                "job_id": r["job_id"],
                "name": r.get("name") or job.get("jobName", "-"),
                "status": job.get("status", "UNKNOWN (expired?)"),
                "submitted": _when(job.get("createdAt")) if job else (r.get("submitted_at") or "-"),
                "took": _took(job),
                "exit": "-" if code is None else str(code),
                "reason": job.get("statusReason") or "",
                "parameters": r.get("parameters", job.get("parameters", {})),
                "job_definition": r.get("job_definition", job.get("jobDefinition")),
            }
        )
    if out.json:
        out.emit_json(rows)
        return errors.OK
    if args.job and len(rows) == 1:
        row, job = rows[0], described.get(rows[0]["job_id"]) or {}
        for key in ("job_id", "name", "status", "submitted", "took", "exit", "reason", "job_definition"):
            out.result(f"{key:<15} {row[key] or '-'}")
        out.result(f"{'parameters':<15} {json.dumps(row['parameters'], sort_keys=True)}")
        targets = log_targets(job)
        if targets:
            out.result(f"{'log stream':<15} {targets[-1][0]} {targets[-1][1]}")
        if job.get("arrayProperties"):
            summary = ", ".join(f"{n} {s}" for s, n in sorted(array_summary(job).items()))
            out.result(f"{'array':<15} size {job['arrayProperties'].get('size')}: {summary}")
        return errors.OK
    columns = ("job_id", "name", "status", "submitted", "took", "exit", "reason")
    table = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(columns)]
    out.result("  ".join(c.upper().replace("_", " ").ljust(w) for c, w in zip(columns, widths)).rstrip())
    for t in table:
        out.result("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
    return errors.OK


def _ids_named(ctx, batch, name: str) -> list[str]:
    queue = ctx.cfg.get("AWS_JOB_QUEUE")
    if not queue or not submit.NAME_RE.fullmatch(name):
        return []
    with translate(f"list jobs named {name} (batch:ListJobs)"):
        return list_named(batch, queue, name)


def logs(ctx) -> int:
    out, args = ctx.out, ctx.args
    batch = ctx.aws.client("batch")
    job = _one_job(ctx, batch, args.job)
    job_id = job["jobId"]
    if job.get("arrayProperties", {}).get("size") and ":" not in job_id:
        raise UsageError(f"{job_id} is an array job: each child has its own log", hint=f"./deploy.sh --logs {job_id}:0")
    if args.follow:
        return wait(ctx, job_id, job.get("jobName"))
    targets = log_targets(job)
    if not targets:
        out.note(f"job {job_id} has no log stream yet ({job.get('status')})")
        return errors.OK
    client = ctx.aws.client("logs")
    for n, (group, stream) in enumerate(targets, 1):
        if len(targets) > 1:
            out.note(f"== attempt {n}: {group} {stream}")
        follower = LogFollower(client, group, stream)
        while True:
            events = follower.poll()
            for event in events:
                out.result(event.get("message", "").rstrip("\n"))
            if not events:
                break
        if follower.broken:
            raise OperationError(follower.broken)
    return errors.OK


def cancel_action(status: str | None) -> str | None:
    """CancelJob while queued, TerminateJob once placed, nothing when it already ended."""
    if status in QUEUED:
        return "cancel"
    if status in ("STARTING", "RUNNING"):
        return "terminate"
    return None


def cancel(ctx) -> int:
    out, args = ctx.out, ctx.args
    batch = ctx.aws.client("batch")
    job = _one_job(ctx, batch, args.job)
    job_id, state = job["jobId"], job.get("status")
    action = cancel_action(state)
    if action is None:
        out.result(f"job {job_id} already {state}: nothing to cancel")
        return errors.OK
    if action == "cancel":
        with translate(f"cancel job {job_id} (batch:CancelJob)"):
            batch.cancel_job(jobId=job_id, reason=args.reason)
        # CancelJob does nothing to a job that was placed meanwhile: look once more.
        now = _describe_all(ctx, batch, [job_id]).get(job_id) or {}
        if cancel_action(now.get("status")) == "terminate":
            action = "terminate"
    if action == "terminate":
        with translate(f"terminate job {job_id} (batch:TerminateJob)"):
            batch.terminate_job(jobId=job_id, reason=args.reason)
    out.result(f"job {job_id}: {'cancel' if action == 'cancel' else 'terminate'} requested (was {state})")
    return errors.OK


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
