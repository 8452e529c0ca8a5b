"""A step's SubmitJob requests, by shape (pure, no AWS): the executor (pipelines.submit) calls
`plan_step` for each step, with the step's RunSpec already built.

- **job**: a plain step, one request (with `settings: code`, the launcher on a one-task manifest
  that runs the step's command from the bundle, as `-r --code`).
- **array**: a map step on an image with the launcher: one array job through the launcher's
  manifest (sweeps.plan.plan_arrays); a step after it depends on the array parent.
- **per-task**: a map step on an image without the launcher: one job per task, each task's
  parameters as SubmitJob `parameters` (sweeps.plan.plan_per_task, paced at PACED_RATE); a step
  after it depends on every task's job (counted by check.problems against AWS's 20), and N_TO_N
  between two per-task steps of one size becomes task i's job on task i's job.

`settings: code` needs the launcher in every step's image: a step on one without is refused with
the fix (jobs.code.launcher_path's hint), never planned per task (nothing would run the bundle).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from batchdeploy import manifest as manifests
from batchdeploy import runs
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.pipelines.model import Step
from batchdeploy.sweeps import plan as plans

JOB, ARRAY, PER_TASK = "job", "array", "per-task"


@dataclass
class StepPlan:
    step: Step
    request: dict  # without dependsOn: the job ids are known only as the submits answer (per-task: task 1's)
    token: str  # the client token the request carries (per-task: the step's, each task's adds -tID)
    output: str
    definition: dict
    size: int | None = None  # a map step's number of tasks
    manifest: dict | None = None  # a map step's: {"url", "sha256", "task_ids", "records"}
    mode: str = JOB
    units: list | None = None  # per-task: one sweeps.plan.Unit per task to submit, in task order
    tasks: list | None = None  # a map step: the manifest's task entries (what each task runs), in task order
    reused: dict = field(default_factory=dict)  # a map step, on a rerun: {task id: job id} that succeeded before


def launcher_or_none(spec: req.RunSpec, images: dict) -> str | None:
    try:
        return codes.launcher_path(spec.job_definition, images)
    except UsageError:
        return None


def needs_launcher(spec: req.RunSpec, images: dict) -> str:
    """The launcher for `settings: code`, or the refusal naming the fix."""
    try:
        return codes.launcher_path(spec.job_definition, images)
    except UsageError as exc:
        raise UsageError(f"settings: code runs each step through the launcher, and {exc.message.split(', and ', 1)[-1]}",
                         hint=exc.hint) from None


def plan_job(step: Step, spec: req.RunSpec, token: str, output: str, *, images: dict, code, records: str,
             uploads: list) -> StepPlan:
    if code is None:
        request = req.build(spec)
        req.check(request)
        return StepPlan(step, request, token, output, spec.job_definition)
    launcher = needs_launcher(spec, images)
    jd = spec.job_definition
    task = {"command": codes.task_command(spec), "parameters": {**(jd.get("parameters") or {}), **spec.parameters}}
    m = manifests.build([task], bundle=code.bundle_ref())
    url = f"s3://{code.bucket}/{m.key(code.prefix)}"
    uploads.append((m.key(code.prefix), m.data))
    line = [launcher, "--manifest", url, "--records", records]
    request = req.build(replace(spec, extra_args=[], overrides={**(spec.overrides or {}), "command": line}))
    req.check(request)
    size = plans.overrides_size(request)
    if size > codes.MAX_OVERRIDES:
        raise UsageError(f"containerOverrides are {size:,} bytes, above AWS's {codes.MAX_OVERRIDES:,}",
                         hint="shorten the step's environment")
    return StepPlan(step, request, token, output, jd, manifest={"url": url, "sha256": m.sha256, "records": records})


def plan_map(step: Step, spec: req.RunSpec, sweep, output: str, *, images: dict, code, records: str,
             bucket: str, prefix: str, uploads: list) -> StepPlan:
    """`sweep`: the step's tasks, outputs and `{steps.X.output}` already in place."""
    if len(sweep.tasks) > plans.ARRAY_MAX:
        raise UsageError(f"a map step of {len(sweep.tasks)} tasks", hint=f"a map step is one array: at most {plans.ARRAY_MAX}")
    launcher = needs_launcher(spec, images) if code is not None else launcher_or_none(spec, images)
    where = dict(records=records, bucket=bucket, prefix=prefix)
    if launcher is None:
        sp = plans.plan_per_task(spec, sweep, **where)
    else:
        sp = plans.plan_arrays(spec, sweep, launcher=launcher, bundle=code.bundle_ref() if code else None, **where)
    m = sp.manifests[0]
    uploads.append((m.key(prefix), m.data))
    unit = sp.units[0]
    per_task = launcher is None
    return StepPlan(step, unit.request, spec.client_token if per_task else unit.request["tags"][TAG_CLIENT_TOKEN],
                    output, spec.job_definition, size=len(sweep.tasks),
                    manifest={"url": sp.manifest_urls[0], "sha256": m.sha256, "task_ids": sp.chunks[0], "records": records},
                    mode=PER_TASK if per_task else ARRAY, units=sp.units if per_task else None,
                    tasks=m.doc["tasks"])


def records_of(bucket: str, prefix: str, run_id: str, step: Step) -> str:
    """Where the launcher writes a step's task records: `RUN/maps/STEP/` (a plain step's too)."""
    return runs.records_url(bucket, prefix, run_id) + f"maps/{step.name}/"


def units_doc(sp: StepPlan) -> list[dict] | None:
    """run.json's record of a per-task step's jobs: each task's job name and client token, so a run
    killed part-way finds the jobs it made by their tokens."""
    if sp.units is None:
        return None
    return [{"task_id": u.task_ids[0], "job_name": u.request["jobName"], "client_token": u.request["tags"][TAG_CLIENT_TOKEN]}
            for u in sp.units]


def depends_on(step: Step, ids: dict[str, str], tasks: dict[str, dict], position: int | None = None,
               orders: dict[str, list] | None = None) -> list[dict]:
    """AWS's dependsOn for a step's job (a per-task step's task at `position` of its map): one entry per
    job of each dependency submitted in this run (a rerun's steps, and per-task tasks, that succeeded
    before are no dependency: their outputs are there already). `tasks`: the per-task steps' {task id:
    job id} submitted in this run; `orders`: their task ids in map order. On a per-task step: every task's
    job, or with N_TO_N (both per-task, check.problems makes sure) the task at the same position."""
    out = []
    for d in step.depends_on:
        if d.step in tasks:
            if d.type == "N_TO_N":
                partner = tasks[d.step].get((orders or {})[d.step][position])
                out += [{"jobId": partner}] if partner else []
            else:
                out += [{"jobId": j} for j in tasks[d.step].values()]
        elif d.step in ids:
            out.append({"jobId": ids[d.step], **({"type": "N_TO_N"} if d.type == "N_TO_N" else {})})
    return out
