"""Submitting a sweep: the plan (sweeps.plan) from a prepared run (jobs.run.prepare), its run record,
and the SubmitJobs, each through jobs.submit.submit_exactly_once with its own client token.

The run record is jobs.runrecord's, with the sweep's own parts: run.json (written before the first
SubmitJob, state "submitting") holds a `sweep` object (tasks, mode, source, varying columns, labels,
and each SubmitJob's task ids and client token) and the manifests; submitted.json holds every job id,
in the order of run.json's `sweep.units`. A run killed part-way keeps run.json alone: its jobs are
found by the client tokens it lists. A rerun (`--rerun-failed`) also writes its marker under the
original run (runs.rerun_key) once, before submitting.
"""

from __future__ import annotations

from dataclasses import replace

from batchdeploy import errors, runs
from batchdeploy import manifest as manifests
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.jobs import run as jobrun
from batchdeploy.jobs.runrecord import RunRecorder, image_of, who
from batchdeploy.jobs.submit import submit_exactly_once
from batchdeploy.secrets import MASK, is_secret, redact
from batchdeploy.state import IMAGES
from batchdeploy.sweeps import follow
from batchdeploy.sweeps import plan as plans
from batchdeploy.sweeps.model import Sweep
from batchdeploy.sweeps.outputs import DEFAULT_OUTPUT_PARAMETER, with_outputs
from batchdeploy.sweeps.watch import Tracked


def sweep_doc(sweep: Sweep, plan: plans.SweepPlan) -> dict:
    """run.json's `sweep`: what a reader needs to map a job (or array child) back to its task."""
    labels = {str(t.id): t.labels for t in sweep.tasks if t.labels}
    return {
        "tasks": len(sweep.tasks),
        "task_ids": [t.id for t in sweep.tasks],
        "mode": plan.mode,
        "source": sweep.source,
        "varying": list(sweep.varying),
        "labels": labels,
        "manifests": [{"url": u, "sha256": m.sha256, "task_ids": ids}
                      for u, m, ids in zip(plan.manifest_urls, plan.manifests, plan.chunks)],
        "units": [{"task_ids": u.task_ids, "manifest": u.array, "job_name": u.request["jobName"],
                   "client_token": u.request["tags"][TAG_CLIENT_TOKEN]} for u in plan.units],
    }


class SweepRecorder(RunRecorder):
    """jobs.runrecord's writer, for many jobs or arrays and several manifests."""

    def __init__(self, ctx, spec: req.RunSpec, code, sweep: Sweep, *, rerun_of: str | None = None):
        super().__init__(ctx, spec, code)
        self.sweep, self.rerun_of = sweep, rerun_of
        self.plan: plans.SweepPlan | None = None
        self.answers: list[dict] = []

    def document(self) -> dict:
        spec, code, plan = self.spec, self.code, self.plan
        params = {k: (MASK if is_secret(k.upper()) else redact(v)) for k, v in spec.parameters.items()}
        doc = runs.build_run(
            run_id=self.run_id, created_at=runs.iso(self.now()), who=who(self.ctx.aws),
            git=runs.git_state(self.ctx.cfg.project_dir), name=spec.name, queue=spec.queue,
            job_definition=spec.job_definition,
            image=image_of(spec.job_definition, self.ctx.state.read(IMAGES).get("images") or {}),
            parameters=params, extra_args=[redact(w) for w in spec.extra_args], array_size=None,
            client_token=spec.client_token, records=plan.records,
            manifest={"url": plan.manifest_urls[0], "sha256": plan.manifests[0].sha256},
            bundle=code.summary() if code else None, project=self.ctx.cfg.get("PROJECT_NAME"),
        )
        doc["sweep"] = sweep_doc(self.sweep, plan)
        if self.rerun_of:
            doc["rerun_of"] = self.rerun_of
        return doc

    def start(self, out) -> dict:
        self.s3 = self.ctx.aws.client("s3")
        if self.code:
            sent = manifests.upload_if_absent(self.s3, self.bucket, self.code.bundle.key(self.prefix),
                                              self.code.bundle.data, "application/gzip")
            out.note(f"code bundle {self.code.bundle.sha256[:12]}: " + ("uploaded" if sent else "already in S3"))
        for m in self.plan.manifests:
            manifests.upload_if_absent(self.s3, self.bucket, m.key(self.prefix), m.data, "application/json")
        doc = self.publish(out, self.document())
        if self.rerun_of:  # after run.json, so a reader who lists the marker always finds the run
            marker = {"format": runs.FORMAT, "run_id": self.run_id, "rerun_of": self.rerun_of,
                      "created_at": doc["created_at"], "task_ids": doc["sweep"]["task_ids"]}
            runs.put(self.s3, self.bucket, runs.rerun_key(self.prefix, self.rerun_of, self.run_id), marker)
        return doc

    def finish(self, answer=None, error: BaseException | None = None) -> None:
        text = None if error is None else redact(f"{type(error).__name__}: {error}")[:2000]
        ids = [a["jobId"] for a in self.answers]
        doc = runs.build_submitted(run_id=self.run_id, at=runs.iso(self.now()), job_id=ids[0] if ids else None,
                                   error=text, job_ids=ids)
        runs.put(self.s3, self.bucket, runs.run_key(self.prefix, self.run_id, runs.SUBMITTED_FILE), doc)


def build_plan(ctx, prepared: jobrun.Prepared, sweep: Sweep, recorder: SweepRecorder) -> plans.SweepPlan:
    """Arrays through the launcher when the image has it, else one job per task (said in one line)."""
    spec, code = prepared.spec, prepared.code
    try:
        launcher = codes.launcher_path(spec.job_definition, ctx.state.read(IMAGES).get("images") or {})
    except UsageError:
        if code:
            raise  # --code needs the launcher: the same refusal as a plain -r --code
        launcher = None
    where = dict(records=runs.records_url(recorder.bucket, recorder.prefix, recorder.run_id),
                 bucket=recorder.bucket, prefix=recorder.prefix)
    if launcher:
        return plans.plan_arrays(spec, sweep, launcher=launcher, bundle=code.bundle_ref() if code else None, **where)
    plan = plans.plan_per_task(spec, sweep, **where)
    prepared.later.note(
        f"the image has no launcher: {len(plan.units)} jobs, one per task, paced at {plans.PACED_RATE}/s; "
        f"add `{codes.DOCKERFILE_LINE}` to the Dockerfile (then -b, -u) for one array job")
    return plan


def submit(ctx, prepared: jobrun.Prepared, sweep: Sweep, *, rerun_of: str | None = None, own_outputs: bool = False):
    """Plan, record, submit. Returns (recorder, plan), or None after a dry run. `own_outputs`: give each
    task its own output location under this run's id (sweeps.outputs); a rerun keeps the original's."""
    # the manifests and the run record live in S3_BUCKET; results under RESULTS_PREFIX
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX", "RESULTS_PREFIX", "OUTPUT_PARAMETER"))
    recorder = SweepRecorder(ctx, prepared.spec, prepared.code, sweep, rerun_of=rerun_of)
    if own_outputs:
        recorder.sweep = sweep = with_outputs(
            sweep, run_id=recorder.run_id, bucket=recorder.bucket, results_prefix=ctx.cfg.get("RESULTS_PREFIX", "results"),
            job_definition=prepared.spec.job_definition,
            output_parameter=ctx.cfg.get("OUTPUT_PARAMETER", DEFAULT_OUTPUT_PARAMETER))
    recorder.plan = plan = build_plan(ctx, prepared, sweep, recorder)
    jobrun.place(ctx, prepared)  # the preflight: can the queue place it?
    prepared.later.flush()
    if prepared.opts.dry_run:
        _dry_run(ctx, prepared, plan, recorder.run_id)
        return None
    pacer = plans.Pacer(plans.PACED_RATE, clock=ctx.clock, sleep=ctx.sleep) if plan.mode == "per-task" else None
    send(ctx, prepared, recorder, plan.units, pacer)
    return recorder, plan


def send(ctx, prepared: jobrun.Prepared, recorder, units, pacer=None) -> None:
    """Each unit's SubmitJob exactly once (its client token), inside the recorder (the run record before,
    the answers after), paced by `pacer` when given; an interrupt says how many jobs were made and the tag
    the others carry. Each job is then recorded as -r records it. Shared by sweeps and functions."""

    def send_all():
        for unit in units:
            if pacer:
                pacer.wait()
            recorder.answers.append(submit_exactly_once(ctx.aws, unit.request, sleep=ctx.sleep, note=ctx.out.note))
        return recorder.answers

    try:
        recorder.around(ctx.out, send_all)
    except KeyboardInterrupt:
        ctx.out.warn(f"interrupted while submitting: {len(recorder.answers)} of {len(units)} jobs made; run "
                     f"{recorder.run_id} stays 'submitting'; the others, if made, carry the tag {TAG_CLIENT_TOKEN}="
                     f"{prepared.spec.client_token}-*")
        raise
    for unit, answer in zip(units, recorder.answers):
        jobrun.record(ctx, replace(prepared.spec, name=unit.request["jobName"],
                                   array_size=(unit.request.get("arrayProperties") or {}).get("size")), answer["jobId"])


def _dry_run(ctx, prepared, plan: plans.SweepPlan, run_id: str) -> None:
    if prepared.code:
        ctx.out.note(f"would upload {codes.describe(prepared.code)[0]}")  # its first line is the bundle's
    for url, ids in zip(plan.manifest_urls, plan.chunks):
        ctx.out.note(f"would upload manifest {url} ({len(ids)} tasks)")
    shown = plan.units[:3]
    ctx.out.emit_json({"run_id": run_id, "mode": plan.mode, "submits": len(plan.units),
                       "requests": [req.masked(u.request, prepared.secret_names) for u in shown]})
    more = len(plan.units) - len(shown)
    ctx.out.note("dry run: nothing uploaded, nothing submitted" + (f" ({more} more requests not shown)" if more else ""))


def report(ctx, recorder: SweepRecorder, plan: plans.SweepPlan, print_json: bool = True) -> dict:
    out, n = ctx.out, len(recorder.sweep.tasks)
    ids = [a["jobId"] for a in recorder.answers]
    data = {"run_id": recorder.run_id, "name": recorder.spec.name, "tasks": n, "mode": plan.mode, "job_ids": ids,
            "status": f"./deploy.sh --status {recorder.run_id}"}
    if out.json:
        if print_json:
            out.emit_json(data)
    elif out.quiet:
        out.result(recorder.run_id)
    else:
        kind = (f"{len(ids)} array job{'s' if len(ids) > 1 else ''}" if plan.mode == "array"
                else f"{len(ids)} jobs, one per task")
        out.result(f"submitted sweep {recorder.spec.name}: {n} task{'s' if n != 1 else ''} as {kind}")
        out.result(f"  run:     {recorder.run_id}" + (f" (rerun of {recorder.rerun_of})" if recorder.rerun_of else ""))
        out.result(f"  jobs:    {' '.join(ids[:5])}" + (f" ... ({len(ids)})" if len(ids) > 5 else ""))
        out.result(f"  status:  ./deploy.sh --status {recorder.run_id}")
    return data


def submit_and_follow(ctx, prepared: jobrun.Prepared, sweep: Sweep, rerun_of: str | None = None,
                      own_outputs: bool = False) -> int:
    done = submit(ctx, prepared, sweep, rerun_of=rerun_of, own_outputs=own_outputs)
    if done is None:
        return errors.OK
    recorder, plan = done
    data = report(ctx, recorder, plan, print_json=not prepared.opts.wait)
    if not prepared.opts.wait:
        return errors.OK
    tracked = [Tracked(answer["jobId"], unit.task_ids) for unit, answer in zip(plan.units, recorder.answers)]
    return follow.wait(ctx, run_id=recorder.run_id, label=prepared.spec.name, tracked=tracked, json_extra=data)
