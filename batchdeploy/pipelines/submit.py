"""A pipeline's SubmitJobs: planned from the model (pipelines.model) before anything is sent, then
sent in dependency order, each step's `dependsOn` naming the job ids its dependencies got.

- The AWS reads are `-r`'s (jobs.run.prepare: queue, definition, credentials), once per distinct job
  definition, not once per step; each step's parameters are checked against its own definition, every
  problem at once, before the run record or any submit.
- A plain step is one job; a map step is one array job through the launcher's manifest (sweeps.plan),
  and a step after it depends on the array parent (`N_TO_N`: child i on child i, AWS's type).
- Every SubmitJob goes through jobs.submit.submit_exactly_once with its own client token
  (`RUNTOKEN-STEP`, a map step's `RUNTOKEN-STEP-a1`): a lost answer never makes a second job.
- The run record: run.json (the pipeline, its steps and what each will run, state "submitting") is
  written once before the first submit; then ONE object per step, `steps/STEP.json` (its job id),
  written once after that step's submit. Nothing is ever read, changed and written back, so a run
  killed part-way keeps what it wrote, and the jobs it may have made are found by the tokens run.json lists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from batchdeploy import manifest as manifests
from batchdeploy import runs
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.jobs import run as jobrun
from batchdeploy.jobs.runrecord import image_of, who
from batchdeploy.jobs.submit import submit_exactly_once
from batchdeploy.pipelines import check, maps
from batchdeploy.pipelines.maps import StepPlan
from batchdeploy.pipelines.model import RUN_KIND, Pipeline, Step
from batchdeploy.pipelines.outputs import expand_outputs, step_output_url
from batchdeploy.pipelines.record import step_key
from batchdeploy.secrets import MASK, is_secret, redact
from batchdeploy.state import IMAGES
from batchdeploy.sweeps import plan as plans
from batchdeploy.sweeps.outputs import DEFAULT_OUTPUT_PARAMETER

KIND = RUN_KIND


@dataclass
class PipelinePlan:
    pipeline: Pipeline
    run_id: str
    base_token: str
    queue: str
    steps: list[StepPlan]
    manifests: list  # (key, bytes) uploaded before run.json
    secret_names: set
    code: codes.CodePlan | None = None  # settings: code, uploaded once before run.json
    task_jobs: dict = field(default_factory=dict)  # per-task steps' {step: {task id: job id}} (reused and submitted)

    def per_task(self) -> frozenset:
        return frozenset(sp.step.name for sp in self.steps if sp.mode == maps.PER_TASK)


def check_order(pipeline: Pipeline, order: list[Step], done: tuple = ()) -> None:
    """Each step after everything it depends on (the reader's `order()` gives such an order; this is
    the executor's own guard, so a wrong order is refused before anything is sent)."""
    seen: set[str] = set(done)  # a rerun's steps that succeeded before
    problems = []
    for step in order:
        for dep in step.depends_on:
            if dep.step not in seen:
                problems.append(f"step {step.name} depends on {dep.step}, which is not before it")
        seen.add(step.name)
    if problems:
        raise UsageError(f"pipeline {pipeline.name}: " + "; ".join(problems))


def prepare_definitions(ctx, pipeline: Pipeline, order: list[Step], base: jobrun.RunOptions) -> dict:
    """jobs.run.prepare once per distinct job definition (None: the project's, as -r), then every
    step's parameters against its own (the reader's check.check_parameters: every problem at once)."""
    settings = pipeline.settings
    for key, config_key in (("region", "AWS_REGION"), ("profile", "AWS_PROFILE"), ("role_arn", "CREDENTIALS_ROLE_ARN")):
        if settings.get(key) and settings[key] != ctx.cfg.get(config_key):
            raise UsageError(f"the pipeline's settings: {key} is {settings[key]}, the configuration's {config_key} is "
                             f"{ctx.cfg.get(config_key) or 'unset'}", hint=f"set {config_key}={settings[key]} (or the flag)")
    wanted = list(dict.fromkeys(s.job_definition or settings.get("job_definition") for s in order))
    prepared = {ref: jobrun.prepare(ctx, replace(base, job_definition=ref)) for ref in wanted}
    if settings.get("queue"):
        jobrun.check_queue(ctx.aws.client("batch"), settings["queue"])
        for p in prepared.values():
            p.spec.queue = settings["queue"]
    if settings.get("tags"):
        for p in prepared.values():
            p.spec.tags = {**p.spec.tags, **settings["tags"]}
    # the steps submitted now (a rerun's: not those it reuses)
    check.check_parameters(replace(pipeline, steps=list(order)),
                           {s.name: prepared[s.job_definition or settings.get("job_definition")].spec.job_definition
                            for s in order})
    return prepared


def _overrides(prepared: jobrun.Prepared, step: Step, env_extra: dict) -> dict:
    overrides = dict(prepared.spec.overrides or {})
    env = {**step.environment, **env_extra}
    if env:
        kept = [e for e in overrides.get("environment") or [] if e.get("name") not in env]
        overrides["environment"] = kept + [{"name": k, "value": v} for k, v in env.items()]
    if step.command is not None:
        overrides["command"] = list(step.command)
    return overrides


def plan(ctx, pipeline: Pipeline, order: list[Step], prepared: dict, *, run_id: str, outputs_run_id: str,
         base_token: str, bucket: str, prefix: str, results_prefix: str, code: codes.CodePlan | None = None,
         skip: dict | None = None) -> PipelinePlan:
    """Every step's request, checked, every problem at once; nothing sent. `skip`: a rerun's array map
    steps' {task id: job id} kept from an earlier attempt, left out of the step's array."""
    urls = {s.name: step_output_url(bucket, results_prefix, outputs_run_id, s.name) for s in pipeline.steps}
    output_parameter = ctx.cfg.get("OUTPUT_PARAMETER", DEFAULT_OUTPUT_PARAMETER)

    def expand(value: str) -> str:
        return expand_outputs(value, outputs_run_id, bucket, results_prefix)
    images = ctx.state.read(IMAGES).get("images") or {}
    problems, steps, uploads = [], [], []
    queue = ""
    for step in order:
        p = prepared[step.job_definition or pipeline.settings.get("job_definition")]
        queue = p.spec.queue
        token = f"{base_token}-{step.name}"
        params = {k: expand(v) for k, v in step.parameters.items()}
        if step.map is None and output_parameter in {*req.placeholders(p.spec.job_definition),
                                                     *(p.spec.job_definition.get("parameters") or {})}:
            params.setdefault(output_parameter, urls[step.name].rstrip("/"))  # the step's own output location
        env = {k: expand(v) for k, v in step.environment.items()}
        step_x = replace(step, environment=env, command=[expand(w) for w in step.command] if step.command else step.command)
        spec = replace(p.spec, name=check.job_name(pipeline.name, step.name), parameters=params, extra_args=[],
                       overrides=_overrides(p, step_x, {"BATCHDEPLOY_OUTPUT": urls[step.name]}),
                       vcpus=step.vcpus or p.spec.vcpus, memory=step.memory or p.spec.memory,
                       gpus=step.gpus or p.spec.gpus, timeout=step.timeout if step.timeout is not None else p.spec.timeout,
                       retries=step.retries if step.retries is not None else p.spec.retries,
                       depends_on=[], array_size=None, client_token=token)
        try:
            req.check_options(spec)
            records = maps.records_of(bucket, prefix, run_id, step)
            if step.map is None:
                steps.append(maps.plan_job(step, spec, token, urls[step.name], images=images, code=code,
                                           records=records, uploads=uploads))
            else:
                sweep = _map_sweep(step, spec, expand, outputs_run_id=outputs_run_id, bucket=bucket,
                                   results_prefix=results_prefix, output_parameter=output_parameter)
                kept = (skip or {}).get(step.name) or {}
                if kept:
                    sweep = replace(sweep, tasks=[t for t in sweep.tasks if t.id not in kept])
                steps.append(replace(maps.plan_map(step, spec, sweep, urls[step.name], images=images, code=code,
                                                   records=records, bucket=bucket, prefix=prefix, uploads=uploads),
                                     reused=dict(kept)))
        except UsageError as exc:
            problems.append(f"step {step.name}{_at(step)}: {exc.line() if hasattr(exc, 'line') else exc}")
    if problems:
        raise UsageError(f"pipeline {pipeline.name}: {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                         + "; ".join(problems))
    secrets = set().union(*(p.secret_names for p in prepared.values())) if prepared else set()
    return PipelinePlan(pipeline, run_id, base_token, queue, steps, uploads, secrets, code)


def _at(step: Step) -> str:
    return f" (line {step.line})" if step.line else ""


def _map_sweep(step: Step, spec: req.RunSpec, expand, *, outputs_run_id: str, bucket: str, results_prefix: str,
               output_parameter: str):
    """A map step's sweep with `{steps.X.output}` expanded and each task's own output under the
    step's (`.../STEP/TASK/`, sweeps.outputs)."""
    from batchdeploy.sweeps.outputs import with_outputs

    sweep = replace(step.map, tasks=[replace(t, params={k: expand(v) for k, v in t.params.items()},
                                             env={k: expand(v) for k, v in t.env.items()}) for t in step.map.tasks])
    # the step's own parameters are in every task already (the reader put them there, as a tasks file's fixed ones)
    return with_outputs(sweep, run_id=f"{outputs_run_id}/{step.name}", bucket=bucket, results_prefix=results_prefix,
                        job_definition=spec.job_definition, output_parameter=output_parameter)


def step_doc(sp: StepPlan, secret_names: set) -> dict:
    params = {k: (MASK if is_secret(k.upper()) else redact(v)) for k, v in (sp.request.get("parameters") or {}).items()}
    jd = sp.definition
    return {
        "name": sp.step.name,
        "job_name": sp.request["jobName"],
        "client_token": sp.token,
        "job_definition": {"name": jd.get("jobDefinitionName"), "revision": jd.get("revision"),
                           "arn": jd.get("jobDefinitionArn"), "sha256": runs.definition_sha256(jd)},
        "parameters": params,
        "depends_on": [{"step": d.step, "type": d.type} for d in sp.step.depends_on],
        "output": sp.output,
        "map": None if sp.size is None else {"tasks": sp.size, "mode": sp.mode, **(sp.manifest or {}),
                                             **({"units": maps.units_doc(sp)} if sp.units is not None else {}),
                                             **({"reused": {str(k): v for k, v in sp.reused.items()}} if sp.reused else {})},
        **({"launched": sp.manifest} if sp.size is None and sp.manifest else {}),
        "command": [redact(w) for w in (sp.request.get("containerOverrides") or {}).get("command") or []] or None,
    }


def run_doc(ctx, pp: PipelinePlan, *, rerun_of: str | None, outputs_run_id: str, bucket: str, prefix: str) -> dict:
    first = pp.steps[0].definition
    return {
        "format": runs.FORMAT,
        "kind": KIND,
        "run_id": pp.run_id,
        "state": "submitting",
        "created_at": runs.iso(_now()),
        "who": who(ctx.aws),
        "git": runs.git_state(ctx.cfg.project_dir),
        "project": ctx.cfg.get("PROJECT_NAME"),
        "name": pp.pipeline.name,
        "queue": pp.queue,
        "image": image_of(first, ctx.state.read(IMAGES).get("images") or {}),
        "client_token": pp.base_token,
        "records": runs.records_url(bucket, prefix, pp.run_id),
        "outputs_run_id": outputs_run_id,
        "pipeline": {"name": pp.pipeline.name, "source": pp.pipeline.source,
                     "settings": {k: redact(str(v)) for k, v in pp.pipeline.settings.items()},
                     "steps": [step_doc(sp, pp.secret_names) for sp in pp.steps],
                     "submitted_steps": [sp.step.name for sp in pp.steps]},
        **({"rerun_of": rerun_of} if rerun_of else {}),
        **({"bundle": pp.code.summary()} if pp.code else {}),
    }


def _now():
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc)


def _write_record(ctx, s3, pp: PipelinePlan, *, bucket: str, prefix: str, rerun_of: str | None,
                  outputs_run_id: str | None) -> None:
    """The code bundle and manifests, then run.json (and a rerun's marker), before any SubmitJob."""
    if pp.code is not None:
        sent = manifests.upload_if_absent(s3, bucket, pp.code.bundle.key(prefix), pp.code.bundle.data, "application/gzip")
        ctx.out.note(f"code bundle {pp.code.bundle.sha256[:12]}: " + ("uploaded" if sent else "already in S3"))
    for key, data in pp.manifests:
        manifests.upload_if_absent(s3, bucket, key, data, "application/json")
    doc = run_doc(ctx, pp, rerun_of=rerun_of, outputs_run_id=outputs_run_id or pp.run_id, bucket=bucket, prefix=prefix)
    runs.put(s3, bucket, runs.run_key(prefix, pp.run_id, runs.RUN_FILE), doc)
    ctx.out.note(f"run {pp.run_id}: s3://{bucket}/{runs.run_key(prefix, pp.run_id)}")
    if rerun_of:  # after run.json, so a reader who lists the marker always finds the run
        marker = {"format": runs.FORMAT, "run_id": pp.run_id, "rerun_of": rerun_of, "created_at": doc["created_at"],
                  "steps": [sp.step.name for sp in pp.steps]}
        runs.put(s3, bucket, runs.rerun_key(prefix, rerun_of, pp.run_id), marker)


def submit(ctx, pp: PipelinePlan, *, bucket: str, prefix: str, rerun_of: str | None = None,
           outputs_run_id: str | None = None) -> dict[str, str]:
    """The record, then every step in order; returns {step: job id} (a per-task step: its first task's)."""
    s3 = ctx.aws.client("s3")
    _write_record(ctx, s3, pp, bucket=bucket, prefix=prefix, rerun_of=rerun_of, outputs_run_id=outputs_run_id)
    ids: dict[str, str] = {}
    tasks: dict[str, dict] = {}  # a per-task step's {task id: job id} submitted now: what follows depends on these
    orders = {sp.step.name: sp.manifest["task_ids"] for sp in pp.steps if sp.units is not None}
    pacer = plans.Pacer(plans.PACED_RATE, clock=ctx.clock, sleep=ctx.sleep) if pp.per_task() else None

    def send(sp: StepPlan, request: dict, deps: list, token: str) -> str:
        if deps:
            request = {**request, "dependsOn": deps}
        answer = submit_exactly_once(ctx.aws, request, sleep=ctx.sleep, note=ctx.out.note)
        # this machine's jobs.jsonl, as -r's: --status lists the step, and -u --prune keeps its revision
        jobrun.record(ctx, req.RunSpec(name=request["jobName"], queue=request["jobQueue"], job_definition=sp.definition,
                                       parameters=dict(request.get("parameters") or {}), client_token=token,
                                       array_size=(request.get("arrayProperties") or {}).get("size")),
                      answer["jobId"])
        return answer["jobId"]

    try:
        for sp in pp.steps:
            record = {"format": runs.FORMAT, "run_id": pp.run_id, "step": sp.step.name, "client_token": sp.token}
            if sp.units is None:
                deps = maps.depends_on(sp.step, ids, tasks, orders=orders)
                ids[sp.step.name] = send(sp, sp.request, deps, sp.token)
                record.update(job_id=ids[sp.step.name], depends_on=deps)
            else:
                mine: dict[int, str] = {}
                positions = {tid: k for k, tid in enumerate(orders[sp.step.name])}
                for unit in sp.units:
                    pacer.wait()
                    tid = unit.task_ids[0]
                    mine[tid] = send(sp, unit.request, maps.depends_on(sp.step, ids, tasks, positions[tid], orders),
                                     unit.request["tags"][TAG_CLIENT_TOKEN])
                tasks[sp.step.name] = mine
                made = {**sp.reused, **mine}
                every = {tid: made[tid] for tid in orders[sp.step.name]}
                pp.task_jobs[sp.step.name] = every
                ids[sp.step.name] = next(iter(every.values()))
                first = sp.units[0].task_ids[0] if sp.units else None
                record.update(job_id=ids[sp.step.name], mode=maps.PER_TASK, jobs={str(k): v for k, v in mine.items()},
                              **({"reused": {str(k): v for k, v in sp.reused.items()}} if sp.reused else {}),
                              depends_on=maps.depends_on(sp.step, ids, tasks, positions[first], orders)
                              if first is not None else [])  # its first submitted task's
            runs.put(s3, bucket, step_key(prefix, pp.run_id, sp.step.name),
                     {**record, "submitted_at": runs.iso(_now())})
    except Exception:
        if ids:
            ctx.out.warn(f"{len(ids)} of {len(pp.steps)} steps submitted (run {pp.run_id}); they run on: once they "
                         f"end, `batchdeploy pipeline rerun {pp.run_id}` submits the rest")
        raise
    except KeyboardInterrupt:
        ctx.out.warn(f"interrupted while submitting: {len(ids)} of {len(pp.steps)} steps submitted; run {pp.run_id} "
                     f"keeps them (steps/*.json); the next, if made, carries the tag {TAG_CLIENT_TOKEN}={pp.base_token}-STEP")
        raise
    return ids


def new_token() -> str:
    return uuid.uuid4().hex
