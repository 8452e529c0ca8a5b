"""Submitting calls: one array job (one per 10,000 calls) running the launcher's function mode on one
manifest, with the run record and SubmitJob exactly once, as a sweep submits.

The order keeps `-r`'s promise (nothing is submitted until every check passed): the configuration
(a bucket, a queue, a project), the pickles (payload.py: what cannot be pickled is named, arguments
over the limit refused), the image and its Python version against this one, the launcher in it; then
the function definition (found by its hash, registered only when absent: jobdefs), the checks and
credentials of `-r` (jobs.run.prepare, on that definition), the manifests, and the requests, each
checked. Then the uploads (content-addressed), run.json, the SubmitJobs (each with its own client
token), submitted.json, and one line per job in jobs.jsonl (so `-u --prune` keeps what runs).

run.json is a sweep's (sweeps.submit), plus `"kind": "function"` and a `function` object, so
`--status RUN_ID` shows a function run's calls as a sweep's tasks, and a run killed between run.json
and submitted.json is found again by its client tokens.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, replace

from batchdeploy import manifest as manifests
from batchdeploy import runs
from batchdeploy.errors import UsageError
from batchdeploy.functions import jobdefs, pyversion, shipping
from batchdeploy.functions.options import Options
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.jobs import run as jobrun
from batchdeploy.jobs.runrecord import who
from batchdeploy.launch import spec as launch_spec
from batchdeploy.state import IMAGES
from batchdeploy.sweeps import plan as plans
from batchdeploy.sweeps import submit as sweep_submit
from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.submit import SweepRecorder

RUN_KIND = "function"


@dataclass
class Submitted:
    """What a submit made: enough for a Future to follow it and read its results."""

    run_id: str
    name: str
    bucket: str
    prefix: str
    queue: str
    units: list  # [(job id, [task ids])], one per array (or one-call job)
    result_urls: dict  # task id -> s3:// URL of its result envelope
    definition: str  # the job definition's ARN
    registered: bool  # the definition was registered by this submit


class FunctionRecorder(SweepRecorder):
    """A sweep's run record, marked as a function run."""

    def __init__(self, ctx, spec, code, sweep, function: dict):
        super().__init__(ctx, spec, code, sweep)
        self.function = function

    def document(self) -> dict:
        doc = super().document()
        doc["kind"] = RUN_KIND
        doc["function"] = {**self.function, "results": runs.records_url(self.bucket, self.prefix, self.run_id) + "results/"}
        return doc


def job_name(options: Options, fn) -> str:
    """The job's name: name=, else the function's, made into one AWS takes."""
    name = options.name or re.sub(r"[^A-Za-z0-9_-]", "-", getattr(fn, "__name__", "function")).strip("-_") or "function"
    return req.check_name(name[:128] if options.name is None else name)


def base_definition(ctx, batch) -> dict | None:
    """The project's job definition in force (-u's), whose image, roles and log set-up a function's
    definition starts from; None when -u recorded none."""
    try:
        return jobrun.resolve_definition(ctx, batch, None)
    except UsageError:
        return None


def target_definition(ctx, batch, options: Options) -> tuple[dict, bool]:
    """(the definition the calls run on, registered now?): job_definition= as it is, else the hash-named
    one for (image, resources), found or registered."""
    if options.job_definition:
        return jobrun.resolve_definition(ctx, batch, options.job_definition), False
    base = base_definition(ctx, batch)
    image = options.image or ((base or {}).get("containerProperties") or {}).get("image")
    if not image:
        raise UsageError("no image to run the function in",
                         hint="give image= (container_image_uri=), or run ./deploy.sh -b and -u for the project's")
    account = who(ctx.aws).get("account") if (options.job_role or options.execution_role) else None
    doc = jobdefs.content(image, options.resources((base or {}).get("containerProperties")), base=base,
                          job_role=jobdefs.role_arn(options.job_role, account),
                          execution_role=jobdefs.role_arn(options.execution_role, account), log_group=options.log_group)
    images = ctx.state.read(IMAGES).get("images") or {}
    pyversion.check(image, images, ctx.out.warn)  # before anything is registered
    launcher(doc, images)
    project = ctx.cfg["PROJECT_NAME"]
    return jobdefs.ensure(batch, jobdefs.request(options.definition_prefix or project, project, doc), project)


def launcher(definition: dict, images: dict) -> str:
    try:
        return codes.launcher_path(definition, images)
    except UsageError as exc:
        image = (definition.get("containerProperties") or {}).get("image")
        raise UsageError(f"a function runs in the launcher, and image {image} has none that batchdeploy knows of",
                         hint=exc.hint) from None


def build_manifest(calls: list[dict], ids: list[int], bundle: dict | None, records: str) -> manifests.Manifest:
    doc = {"format": launch_spec.MANIFEST_FORMAT, "bundle": bundle, "records": records, "command": None,
           "environment": {}, "tasks": [{"id": i, "call": calls[i - 1]} for i in ids]}
    problems = launch_spec.manifest_problems(doc)
    if problems:
        raise UsageError("the calls do not make a manifest: " + "; ".join(problems[:5]))
    data = launch_spec.canonical_json(doc)
    return manifests.Manifest(doc, data, launch_spec.sha256_hex(data))


def plan(prepared: jobrun.Prepared, packed: shipping.Packed, *, launcher_cmd: str, bucket: str, prefix: str,
         records: str) -> plans.SweepPlan:
    """One manifest and one SubmitJob per 10,000 calls (a single call: a plain job), each checked."""
    spec = prepared.spec
    chunks = plans.split(list(range(1, len(packed.calls) + 1)))
    bundle = prepared.code.bundle_ref() if prepared.code else None
    built = [build_manifest(packed.calls, ids, bundle, records) for ids in chunks]
    urls = [f"s3://{bucket}/{m.key(prefix)}" for m in built]
    units = []
    for k, (ids, url) in enumerate(zip(chunks, urls)):
        line = [launcher_cmd, "--manifest", url, "--records", records]
        one = replace(spec, extra_args=[], overrides={**(spec.overrides or {}), "command": line},
                      array_size=len(ids) if len(ids) > 1 else None, client_token=f"{spec.client_token}-a{k + 1}")
        request = req.build(one)
        req.check(request)
        size = plans.overrides_size(request)
        if size > codes.MAX_OVERRIDES:
            raise UsageError(f"containerOverrides are {size:,} bytes, above AWS's {codes.MAX_OVERRIDES:,}",
                             hint="shorten env-overrides.json")
        units.append(plans.Unit(request, ids, k))
    return plans.SweepPlan("array", units, built, urls, records, launcher_cmd, chunks)


def run_options(options: Options, name: str, definition_arn: str) -> jobrun.RunOptions:
    code = options.code
    return jobrun.RunOptions(
        name=name, job_definition=definition_arn, timeout=options.timeout, retries=options.retries,
        tags=[f"{k}={v}" for k, v in options.tags.items()], no_credentials=False,
        code=None if code is None or code is True else (code or None), no_code=code is False)


def submit(ctx, options: Options, fn, arguments: list[tuple[tuple, dict]]) -> Submitted:
    """Every check, then upload, record and submit (see the module docstring)."""
    ctx.cfg.require("PROJECT_NAME", "S3_BUCKET", "AWS_JOB_QUEUE", optional=("RUNS_PREFIX",))
    if not arguments:
        raise UsageError("nothing to run: no calls given")
    name = job_name(options, fn)
    bucket, prefix = ctx.cfg["S3_BUCKET"], ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX)
    run_id = runs.new_run_id(_dt.datetime.now(_dt.timezone.utc))
    packed = shipping.pack(fn, arguments, bucket=bucket, prefix=prefix, run_id=run_id)  # before any AWS call
    batch = ctx.aws.client("batch")
    definition, registered = target_definition(ctx, batch, options)
    images = ctx.state.read(IMAGES).get("images") or {}
    if options.job_definition:
        pyversion.check((definition.get("containerProperties") or {}).get("image") or "", images, ctx.out.warn)
    launcher_cmd = launcher(definition, images)
    prepared = jobrun.prepare(ctx, run_options(options, name, definition["jobDefinitionArn"]))
    sweep = Sweep([SweepTask(i) for i in range(1, len(arguments) + 1)], [], {"kind": RUN_KIND, "function": name})
    function = {"name": getattr(fn, "__qualname__", name), "module": getattr(fn, "__module__", None),
                "sha256": packed.function_sha256, "python": shipping.client_python(), "calls": len(arguments)}
    recorder = FunctionRecorder(ctx, prepared.spec, prepared.code, sweep, function)
    recorder.run_id = run_id  # the one the result URLs name
    records = runs.records_url(bucket, prefix, recorder.run_id)
    recorder.plan = the_plan = plan(prepared, packed, launcher_cmd=launcher_cmd, bucket=bucket, prefix=prefix,
                                    records=records)
    prepared.later.flush()
    s3 = ctx.aws.client("s3")
    for key, data in packed.uploads.items():
        manifests.upload_if_absent(s3, bucket, key, data, "application/octet-stream")

    sweep_submit.send(ctx, prepared, recorder, the_plan.units)
    return Submitted(recorder.run_id, name, bucket, prefix, prepared.spec.queue,
                     [(a["jobId"], u.task_ids) for a, u in zip(recorder.answers, the_plan.units)],
                     {i: c["result"] for i, c in enumerate(packed.calls, 1)}, definition["jobDefinitionArn"], registered)
