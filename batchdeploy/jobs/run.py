"""`-r` / `run`: submit an experiment, and with `--wait` follow it to its end.

The order is the point: every check that needs no AWS comes first (words, flags, configuration,
files, the jq filter), then the reads (queue, job definition, parameters against its placeholders),
then credentials, then one SubmitJob (`jobs.submit`, exactly once). Anything wrong before that last
step submits nothing.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field

from batchdeploy import config, errors, userjson
from batchdeploy.aws import translate
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.doctor import flags as doctor_flags
from batchdeploy.doctor import preflight
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import credentials_filter as credentials
from batchdeploy.jobs import projectfiles, secretrefs
from batchdeploy.jobs import request as req
from batchdeploy.jobs.commands import wait
from batchdeploy.jobs.runrecord import RunRecorder
from batchdeploy.jobs.submit import submit_exactly_once
from batchdeploy.jobs.which_definition import resolve_definition
from batchdeploy.state import JOBS


@dataclass(frozen=True)
class RunOptions:
    """The flags of `run`, read once."""

    name: str
    params: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # after `--`: appended to the job's command
    job_definition: str | None = None
    vcpus: str | None = None
    memory: str | None = None
    gpus: str | None = None
    timeout: int | None = None
    retries: int | None = None
    tags: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    array_size: int | None = None
    dry_run: bool = False
    wait: bool = False
    no_credentials: bool = False
    cancel_on_interrupt: bool = False
    code: str | None = None  # --code DIR (else CODE_DIR): the job runs this folder's bundle
    no_code: bool = False

    @classmethod
    def from_args(cls, args) -> RunOptions:
        if not args.name:  # NAME is optional on the command line only for --rerun-failed (batchdeploy.sweeps)
            raise UsageError("the job's NAME is missing: run NAME [key=val ...]", hint="see `batchdeploy run --help`")
        return cls(
            name=args.name, params=list(args.params or []), extra=list(getattr(args, "extra", []) or []),
            job_definition=args.job_definition, vcpus=args.vcpus, memory=args.memory, gpus=args.gpus,
            timeout=args.timeout, retries=args.retries, tags=list(args.tags or []),
            depends_on=list(args.depends_on or []), array_size=args.array_size, dry_run=bool(args.dry_run),
            wait=bool(args.wait), no_credentials=bool(args.no_credentials),
            cancel_on_interrupt=bool(args.cancel_on_interrupt),
            code=getattr(args, "code", None), no_code=bool(getattr(args, "no_code", False)),
        )

    def spec(self) -> req.RunSpec:
        """The request's plain data so far (queue and job definition come later), checked."""
        spec = req.RunSpec(
            name=self.name, queue="", job_definition={}, parameters=req.parse_pairs(self.params),
            extra_args=list(self.extra), vcpus=self.vcpus, memory=self.memory, gpus=self.gpus,
            timeout=self.timeout, retries=self.retries, tags=req.parse_pairs(self.tags, "tag"),
            depends_on=list(self.depends_on), array_size=self.array_size, client_token=uuid.uuid4().hex,
        )
        req.check_options(spec)
        return spec


@dataclass
class Prepared:
    """A run's request after every check and AWS read, before anything is uploaded or submitted:
    what `-r` submits, and what a sweep (batchdeploy.sweeps) builds its arrays or jobs from."""

    opts: RunOptions
    spec: req.RunSpec  # queue, job definition, parameters and overrides (credentials merged) filled in
    code: codes.CodePlan | None
    request: dict
    secret_names: set[str]
    later: Later  # progress held until the caller's own checks passed


def prepare(ctx, opts: RunOptions | None = None) -> Prepared:
    """Every check that needs no AWS, then the reads (queue, job definition, parameters), then the
    credentials: the checked SubmitJob request of one job, nothing sent that changes anything."""
    opts = opts or RunOptions.from_args(ctx.args)
    spec = opts.spec()
    if opts.cancel_on_interrupt and not opts.wait:
        raise UsageError("--cancel-on-interrupt needs --wait")
    doctor_flags.check_run_flags(ctx.args)
    ctx.cfg.require("AWS_JOB_QUEUE", optional=("CREDENTIALS_DURATION", "CREDENTIALS_ROLE_ARN", "RUNNABLE_WARN_S",
                                                 "FILTER_TIMEOUT_S"))
    spec.queue = ctx.cfg["AWS_JOB_QUEUE"]
    # Progress is held back until the request has passed every check: a mistake is then one line alone.
    later = Later(ctx.out)
    code = codes.plan(ctx, opts)  # packed before any AWS call: a bundle over the limit submits nothing
    request, secret_names = _prepare(ctx, opts, spec, later)
    return Prepared(opts, spec, code, request, secret_names, later)


def place(ctx, prepared: Prepared) -> None:
    """The preflight (batchdeploy.doctor.preflight), after every other check and before anything is
    uploaded or submitted: can the queue place this request? Cached briefly; --no-preflight skips it."""
    preflight.check(ctx, prepared.spec.queue, prepared.spec.job_definition, prepared.request)


def main(ctx) -> int:
    prepared = prepare(ctx)
    place(ctx, prepared)
    opts, spec, code, request, secret_names = (prepared.opts, prepared.spec, prepared.code, prepared.request,
                                               prepared.secret_names)
    recorder = RunRecorder(ctx, spec, code)
    if code:
        request = codes.apply(ctx, code, spec, recorder.run_id)
    prepared.later.flush()
    if opts.dry_run:
        for line in codes.describe(code) if code else []:
            ctx.out.note(f"would upload {line}" if line.startswith("code bundle") else line)
        ctx.out.emit_json(req.masked(request, secret_names))
        ctx.out.note("dry run: nothing uploaded, nothing submitted")
        return errors.OK
    try:  # the run record (jobs.runrecord) is written before the submit and after it
        answer = recorder.around(ctx.out, lambda: submit_exactly_once(ctx.aws, request, sleep=ctx.sleep, note=ctx.out.note))
    except KeyboardInterrupt:
        ctx.out.warn(
            f"interrupted while submitting: a job may have been made; `./deploy.sh --status {spec.name}` "
            f"finds it (tag {TAG_CLIENT_TOKEN}={spec.client_token})"
        )
        return errors.INTERRUPTED
    record(ctx, spec, answer["jobId"])
    submitted = report_submitted(ctx, spec, answer, print_json=not opts.wait)
    if not opts.wait:
        return errors.OK
    return wait(ctx, answer["jobId"], spec.name, json_extra=submitted, cancel_on_interrupt=opts.cancel_on_interrupt)


def _prepare(ctx, opts: RunOptions, spec: req.RunSpec, later) -> tuple[dict, set[str]]:
    """The SubmitJob request, checked, and the names of the environment entries that hold credentials."""
    compiled = label = None
    overrides_file = projectfiles.overrides_file(ctx.cfg)
    filter_file = None if opts.no_credentials else projectfiles.filter_file(ctx.cfg)
    later.note(projectfiles.used_line(overrides_file, filter_file))
    if filter_file is not None:
        # The filter's child starts now and compiles while the overrides are read (botocore's model).
        program, label = credentials.filter_text(filter_file)
        compiled = credentials.compile_filter(program, label, float(ctx.cfg.get("FILTER_TIMEOUT_S", "10")), wait=False)
    try:
        overrides = load_overrides(ctx, overrides_file)
        overrides = secretrefs.screen_overrides(overrides, secretrefs.listed(ctx.cfg), overrides_file.label, later)
        overrides = with_emulator_endpoint(overrides, ctx.cfg.get("AWS_ENDPOINT_URL"), later)
        if compiled is not None:
            credentials.check_compiled(compiled)
        return _checked_request(ctx, opts, spec, overrides, compiled, label, later)
    finally:
        if compiled is not None:
            compiled.close()  # the filter's child process, when an error came before it ran


def _checked_request(ctx, opts, spec, overrides, compiled, label, later) -> tuple[dict, set[str]]:
    """The AWS reads (queue, job definition), the credentials, and the request built and checked."""
    batch = ctx.aws.client("batch")
    check_queue(batch, spec.queue)
    spec.job_definition = resolve_definition(ctx, batch, opts.job_definition, say=later.note)
    if spec.job_definition.get("type") != "container" or "containerProperties" not in spec.job_definition:
        raise UsageError(f"{req.definition_label(spec.job_definition)} is not a single-container job definition")
    req.check_parameters(spec.parameters, spec.job_definition)

    secret_names: set[str] = set()
    if opts.no_credentials:
        later.note("credentials: none injected (--no-credentials)")
        if not (spec.job_definition.get("containerProperties") or {}).get("jobRoleArn"):
            later.note("note: the job definition has no jobRoleArn, so the job gets no AWS credentials of its own")
    else:
        env = inject(ctx, spec, compiled, label, later)
        secret_names = {e["name"] for e in env}
        overrides = credentials.merge(overrides, env)
    spec.overrides = overrides
    request = req.build(spec)
    req.check(request)
    _store_secrets(ctx, opts, spec.job_definition, later)
    return request, secret_names


def _store_secrets(ctx, opts, definition: dict, later) -> None:
    """SECRETS' values into SSM where they changed, so the next job reads them with no new revision."""
    keys = secretrefs.listed(ctx.cfg)
    if keys:
        secretrefs.store(ctx.aws, ctx.cfg, later, dry_run=opts.dry_run)
        absent = [k for k in keys if k not in secretrefs.referenced(definition)]
        if absent:
            later.warn(f"{req.definition_label(definition)} has no reference for {', '.join(absent)} (SECRETS): "
                       "the job will not get them; run ./deploy.sh -u to register one that has")


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


def load_overrides(ctx, found) -> dict:
    """The overrides file (a containerOverrides object; `projectfiles.overrides_file`) with ${VAR}
    filled; none means no overrides."""
    if found.path is None:
        return {}
    name = found.label
    data = config.render(userjson.load_json(found.path, name), ctx.cfg.variables(), name)
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must be a JSON object", hint='e.g. {"environment": [{"name": "X", "value": "1"}]}')
    from batchdeploy.aws import shapes

    shape = shapes.input_shape("batch", "SubmitJob").members["containerOverrides"]
    problems = shapes.check(shape, data)
    if problems:
        raise ConfigError(f"{name} is not a valid containerOverrides object", problems)
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


def inject(ctx, spec: req.RunSpec, compiled, label: str, out) -> list[dict]:
    """Temporary credentials as environment entries, by the path the caller's credentials allow."""
    timeout, attempts = req.effective_timeout(spec)
    seconds, why, warnings = credentials.duration(ctx.cfg.get("CREDENTIALS_DURATION"), timeout, attempts)
    got = credentials.obtain(
        ctx.aws,
        seconds=seconds,
        role_arn=ctx.cfg.get("CREDENTIALS_ROLE_ARN"),
        session_name=f"batchdeploy-{spec.name}",
        span=timeout * attempts if timeout else None,
    )
    for kind, text in credentials.describe(got, seconds, why, warnings):
        getattr(out, kind)(text)
    if (spec.job_definition.get("containerProperties") or {}).get("jobRoleArn"):
        out.note(
            "note: the job definition has a jobRoleArn; --no-credentials would keep credentials out of the "
            "job's environment, which anyone allowed batch:DescribeJobs can read"
        )
    return credentials.reshape(compiled, got.document, label)


def record(ctx, spec: req.RunSpec, job_id: str) -> None:
    """One line of jobs.jsonl: what `--status`, `--logs` and `-u --prune` know of this job."""
    ctx.state.append(
        JOBS,
        {
            "job_id": job_id,
            "name": spec.name,
            "queue": spec.queue,
            "job_definition": spec.job_definition["jobDefinitionArn"],
            "parameters": spec.parameters,
            "image_tag": req.image_tag(spec.job_definition),
            "submitted_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "client_token": spec.client_token,
            **({"array_size": spec.array_size} if spec.array_size else {}),
        },
    )


def report_submitted(ctx, spec: req.RunSpec, answer: dict, print_json: bool = True) -> dict:
    """Print what was submitted; return it as data (with --wait, --output json prints it at the end)."""
    out = ctx.out
    job_id = answer["jobId"]
    url = req.console_url(ctx.aws.region, job_id)
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
        out.result(f"  definition: {req.definition_label(spec.job_definition)}   queue: {spec.queue}")
        out.result(f"  console:    {url}")
        out.result(f"  follow:     {follow_cmd}   (status: ./deploy.sh --status {job_id})")
    return data
