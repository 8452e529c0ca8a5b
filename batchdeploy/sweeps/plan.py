"""A sweep's SubmitJob requests, planned from plain data before anything is sent (pure, no AWS).

Two shapes, chosen by whether the image has the launcher (jobs.code.launcher_path):

- **arrays**: one manifest and one array job per 10,000 tasks (AWS's array size is 2-10,000). Each
  array has its own manifest, holding only its tasks, so a child finds its task by its own array index
  (AWS_BATCH_JOB_ARRAY_INDEX, or the INDEX of PARENT:INDEX) with no offset to pass: array k's child i
  is task `task_ids[i]` of that array. A sweep of one task is a plain job on a one-task manifest. The
  manifest carries each task's permanent id, and the launcher names its record `tasks/<id>/...`, so
  several arrays (and reruns) never share a record name.
- **one job per task** (no launcher): the task's parameters as SubmitJob `parameters`, its environment
  as containerOverrides.environment; inputs and outputs need the launcher and are refused. The
  manifests are still written, as the record of what each task was (for --status and --rerun-failed).

Every request carries its own client token (the run's, then `-a<k>` per array or `-t<id>` per task),
so a lost answer is found again by jobs.submit and never makes a second job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from batchdeploy import manifest as manifests
from batchdeploy.aws.batch import ARRAY_SIZE, SUBMIT_RATE_PER_S
from batchdeploy.errors import UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.sweeps.model import Sweep, SweepTask, to_manifest_tasks
from batchdeploy.sweeps.outputs import OUTPUT_DIR

ARRAY_MAX = ARRAY_SIZE[1]
PACED_RATE = 40  # SubmitJob per second without the launcher: under AWS's 50 per account, room for others
assert PACED_RATE < SUBMIT_RATE_PER_S


@dataclass
class Unit:
    """One SubmitJob: an array (or a one-task job) of `task_ids`, or one task's own job."""

    request: dict
    task_ids: list[int]
    array: int  # which manifest (0-based) holds these tasks


@dataclass
class SweepPlan:
    mode: str  # "array" or "per-task"
    units: list[Unit]
    manifests: list[manifests.Manifest]
    manifest_urls: list[str]
    records: str
    launcher: str | None
    chunks: list[list[int]] = field(default_factory=list)  # task ids of each manifest, in index order



def split(ids: list, size: int = ARRAY_MAX) -> list[list]:
    """Tasks (or their ids) in arrays of at most `size`, in order."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def overrides_size(request: dict) -> int:
    return len(json.dumps(request.get("containerOverrides") or {}, separators=(",", ":")).encode())


def _checked(request: dict, what: str) -> dict:
    req.check(request)
    size = overrides_size(request)
    if size > codes.MAX_OVERRIDES:
        raise UsageError(
            f"{what}: containerOverrides are {size:,} bytes, above AWS's {codes.MAX_OVERRIDES:,}",
            hint="shorten the task's environment or env-overrides.json (or put the launcher in the image: "
            "a task's environment then travels in the manifest)",
        )
    return request


def _manifests(spec: req.RunSpec, sweep: Sweep, bundle: dict | None, records: str, bucket: str, prefix: str):
    command = codes.task_command(spec)
    base = {**(spec.job_definition.get("parameters") or {}), **spec.parameters}
    # the definition's defaults and the run's fixed key=val under each task's own values
    tasks = [replace(t, params={**base, **t.params}) for t in sweep.tasks]
    groups = split(tasks)
    chunks = [[t.id for t in group] for group in groups]
    built = [manifests.build(to_manifest_tasks(Sweep(group, [], {})), command=command, bundle=bundle, records=records)
             for group in groups]
    return chunks, built, [f"s3://{bucket}/{m.key(prefix)}" for m in built]


def plan_arrays(spec: req.RunSpec, sweep: Sweep, *, launcher: str, bundle: dict | None, records: str,
                bucket: str, prefix: str) -> SweepPlan:
    chunks, built, urls = _manifests(spec, sweep, bundle, records, bucket, prefix)
    units = []
    for k, (ids, url) in enumerate(zip(chunks, urls)):
        line = [launcher, "--manifest", url, "--records", records]
        one = replace(spec, extra_args=[], overrides={**(spec.overrides or {}), "command": line},
                      array_size=len(ids) if len(ids) > 1 else None, client_token=f"{spec.client_token}-a{k + 1}")
        units.append(Unit(_checked(req.build(one), f"array {k + 1}"), ids, k))
    return SweepPlan("array", units, built, urls, records, launcher, chunks)


def launcher_outputs(task: SweepTask) -> list[dict]:
    """The task's outputs but the default one (sweeps.outputs: optional, for the launcher to copy if
    the command made it); without the launcher the command writes to BATCHDEPLOY_OUTPUT itself."""
    return [o for o in task.outputs if not (o.get("from") == OUTPUT_DIR and o.get("optional"))]


def refuse_transfers(sweep: Sweep) -> None:
    """Inputs and outputs are copied by the launcher: without it, nothing would copy them."""
    with_io = [t.id for t in sweep.tasks if t.inputs or launcher_outputs(t)]
    if with_io:
        shown = ", ".join(map(str, with_io[:10])) + (" ..." if len(with_io) > 10 else "")
        raise UsageError(
            f"tasks {shown} have inputs or outputs, and the image has no launcher to copy them",
            hint=f"add `{codes.DOCKERFILE_LINE}` to the Dockerfile and run -b and -u",
        )


def task_name(name: str, task_id: int) -> str:
    suffix = f"-{task_id}"
    return name[: 128 - len(suffix)] + suffix


def plan_per_task(spec: req.RunSpec, sweep: Sweep, *, records: str, bucket: str, prefix: str) -> SweepPlan:
    refuse_transfers(sweep)
    sweep = replace(sweep, tasks=[replace(t, outputs=launcher_outputs(t)) for t in sweep.tasks])
    chunks, built, urls = _manifests(spec, sweep, None, records, bucket, prefix)
    where = {i: k for k, ids in enumerate(chunks) for i in ids}
    base_env = list((spec.overrides or {}).get("environment") or [])
    units = []
    for task in sweep.tasks:
        env = [e for e in base_env if e.get("name") not in task.env] + [{"name": k, "value": v} for k, v in task.env.items()]
        overrides = {**(spec.overrides or {}), **({"environment": env} if env else {})}
        one = replace(spec, name=task_name(spec.name, task.id), parameters={**spec.parameters, **task.params},
                      overrides=overrides, array_size=None, client_token=f"{spec.client_token}-t{task.id}")
        units.append(Unit(_checked(req.build(one), f"task {task.id}"), [task.id], where[task.id]))
    return SweepPlan("per-task", units, built, urls, records, None, chunks)


class Pacer:
    """At most `rate` calls per second, with time injected: `wait()` before each call sleeps just
    long enough that call n starts no earlier than n/rate seconds after the first."""

    def __init__(self, rate: float, *, clock, sleep):
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self.start: float | None = None
        self.calls = 0

    def wait(self) -> None:
        now = self.clock()
        if self.start is None:
            self.start = now
        due = self.start + self.calls * self.interval
        if due > now:
            self.sleep(due - now)
        self.calls += 1
