"""The doors of pipelines (issue #18):

    batchdeploy pipeline run FILE [--wait]        ./deploy.sh --pipeline run FILE, or -r NAME --pipeline FILE
    batchdeploy pipeline rerun RUN_ID [--wait]    the steps that did not succeed and those after them
    batchdeploy pipeline status RUN_ID            the graph with each step's state (also --status RUN_ID)

The order is `-r`'s: the file read and its graph checked (the reader, pipelines.pipelinefile and
pipelines.check), then the AWS reads once per job definition and every step's parameters, then the
run record and the submits (pipelines.submit). The command returns once every step is submitted;
`--wait` follows the graph (one DescribeJobs per poll for the whole graph, 100 ids a call).
Exit codes: 0, 1 AWS refused, 2 usage, 3 a step failed, 130 interrupted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from batchdeploy import errors, runs
from batchdeploy.doctor import flags as doctor_flags
from batchdeploy.doctor import hook as doctor_hook
from batchdeploy.doctor import preflight
from batchdeploy.errors import UsageError
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import run as jobrun
from batchdeploy.pipelines import check, graph, maps, record
from batchdeploy.pipelines import logs as plogs
from batchdeploy.pipelines import rerun as reruns
from batchdeploy.pipelines import submit as psubmit
from batchdeploy.pipelines.model import Pipeline, Step
from batchdeploy.pipelines.view import GraphView
from batchdeploy.polling import Backoff
from batchdeploy.sweeps import plan as plans

ACTIONS = ("run", "rerun", "status")


@dataclass(frozen=True)
class PipelineOptions:
    action: str
    target: str  # FILE for run, RUN_ID for rerun and status
    wait: bool = False
    no_credentials: bool = False
    dry_run: bool = False
    logs: tuple | None = None  # --logs: () every step, else the steps named; None: no log lines

    @classmethod
    def from_args(cls, args) -> PipelineOptions:
        action, target = args.action, args.target
        if action not in ACTIONS:
            raise UsageError(f"pipeline {action!r}: not an action", hint="write pipeline run FILE | rerun RUN_ID | status RUN_ID")
        if action != "run" and not runs.RUN_ID.fullmatch(target or ""):
            raise UsageError(f"pipeline {action} {target!r}: not a run id", hint="a run id looks like 20261130T161200Z-3fa9c1")
        return cls(action, target, bool(getattr(args, "wait", False)), bool(getattr(args, "no_credentials", False)),
                   bool(getattr(args, "dry_run", False)), logs_of(args))


def logs_of(args) -> tuple | None:
    """--logs [STEP,...] (pipeline run, pipeline status, -r --pipeline): only while following."""
    logs = plogs.parse_choice(getattr(args, "logs", None))
    if logs is not None and not getattr(args, "wait", False):
        raise UsageError("--logs shows the steps' lines while following the run", hint="add --wait")
    return logs


def load(ctx, path: str) -> tuple[Pipeline, list[Step]]:
    """The pipeline file read and checked by the reader (every problem at once), in dependency order."""
    from batchdeploy.pipelines import check, pipelinefile

    ctx.cfg.require(optional=("MAX_SWEEP_TASKS",))
    file = ctx.cfg.path(path) if not Path(path).is_absolute() else Path(path)
    pipeline = pipelinefile.read_pipeline_file(file, int(ctx.cfg.get("MAX_SWEEP_TASKS", "10000")))
    return pipeline, check.order(pipeline)


def main(ctx) -> int:
    opts = PipelineOptions.from_args(ctx.args)
    if opts.action == "status":
        return status(ctx, opts.target, opts)
    if opts.action == "rerun":
        return rerun(ctx, opts)
    pipeline, order = load(ctx, opts.target)
    return run_pipeline(ctx, pipeline, order, opts)


def from_run(ctx) -> int:
    """`-r NAME --pipeline FILE`: the same as `pipeline run FILE` (NAME, when given, must be the pipeline's)."""
    a = ctx.args
    given = [flag for flag, value in (("--tasks", a.tasks), ("--grid", a.grid), ("--range", a.range),
                                      ("--rerun-failed", a.rerun_failed), ("--array-size", a.array_size),
                                      ("--depends-on", a.depends_on), ("--code", a.code), ("key=val", a.params))
             if value not in (None, [], False)]
    if given:
        raise UsageError(f"-r --pipeline takes its steps from the file, not {given[0]}",
                         hint="put it in the pipeline file (a step's parameters, map:, depends_on:)")
    opts = PipelineOptions("run", a.pipeline, bool(a.wait), bool(a.no_credentials), bool(a.dry_run), logs_of(a))
    pipeline, order = load(ctx, opts.target)
    if ctx.args.name and ctx.args.name != pipeline.name:
        raise UsageError(f"-r {ctx.args.name} --pipeline: the file's pipeline is named {pipeline.name!r}",
                         hint=f"write -r {pipeline.name} --pipeline {opts.target}, or leave NAME out")
    return run_pipeline(ctx, pipeline, order, opts)


def where(ctx) -> tuple[str, str, str]:
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX", "RESULTS_PREFIX"))
    return ctx.cfg["S3_BUCKET"], ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX), ctx.cfg.get("RESULTS_PREFIX", "results")


def base_options(pipeline: Pipeline, opts: PipelineOptions) -> jobrun.RunOptions:
    return jobrun.RunOptions(name=pipeline.name, no_credentials=opts.no_credentials)


def run_pipeline(ctx, pipeline: Pipeline, order: list[Step], opts: PipelineOptions, *, rerun_of: str | None = None,
                 outputs_run_id: str | None = None, reused: list[str] = (), before: dict | None = None) -> int:
    bucket, prefix, results = where(ctx)
    psubmit.check_order(pipeline, order, tuple(reused))
    plogs.check_choice(opts.logs, [s.name for s in pipeline.steps])
    code = pack_code(ctx, pipeline, bucket, prefix)  # before any AWS call, as -r --code
    prepared = psubmit.prepare_definitions(ctx, pipeline, order, base_options(pipeline, opts))
    run_id = runs.new_run_id(psubmit._now())
    pp = psubmit.plan(ctx, pipeline, order, prepared, run_id=run_id, outputs_run_id=outputs_run_id or run_id,
                      base_token=psubmit.new_token(), bucket=bucket, prefix=prefix, results_prefix=results, code=code)
    if before:  # a rerun: the map tasks that succeeded and need not run again
        pp = keep_tasks(ctx, pp, order, before, lambda skip: psubmit.plan(
            ctx, pipeline, order, prepared, run_id=run_id, outputs_run_id=outputs_run_id or run_id, base_token=pp.base_token,
            bucket=bucket, prefix=prefix, results_prefix=results, code=code, skip=skip))
    if pp.per_task():  # now that the shapes are known: a per-task map counts as that many dependencies
        check.check_pipeline(pipeline, max_tasks=int(ctx.cfg.get("MAX_SWEEP_TASKS", "10000")), per_task=pp.per_task(),
                             reused=frozenset(reused))
        ctx.out.note(f"no launcher in the image of {', '.join(sorted(pp.per_task()))}: one job per task, paced at "
                     f"{plans.PACED_RATE}/s; add `{codes.DOCKERFILE_LINE}` to the Dockerfile (then -b, -u) for one array job")
    for p in prepared.values():
        p.later.flush()
    doctor_flags.check_run_flags(ctx.args)
    for sp in pp.steps:  # -r's preflight, per step request (its shape cached: a repeat costs nothing)
        preflight.check(ctx, pp.queue, sp.definition, sp.request)
    if opts.dry_run:
        ctx.out.emit_json({"run_id": run_id, "submits": sum(len(sp.units or [1]) for sp in pp.steps),
                           "steps": [{"name": sp.step.name, "depends_on": [d.step for d in sp.step.depends_on],
                                      "map": sp.size, "mode": sp.mode} for sp in pp.steps]})
        ctx.out.note("dry run: nothing uploaded, nothing submitted")
        return errors.OK
    try:
        ids = psubmit.submit(ctx, pp, bucket=bucket, prefix=prefix, rerun_of=rerun_of, outputs_run_id=outputs_run_id)
    except KeyboardInterrupt:
        return errors.INTERRUPTED
    what = f"rerun of {rerun_of}: " if rerun_of else ""
    if ctx.out.json:
        ctx.out.emit_json({"run_id": run_id, "name": pipeline.name, "rerun_of": rerun_of, "job_ids": ids,
                           "status": f"./deploy.sh --status {rerun_of or run_id}"})
    elif ctx.out.quiet:
        ctx.out.result(run_id)
    else:
        ctx.out.result(f"submitted pipeline {pipeline.name}: {what}{len(ids)} step{'s' if len(ids) != 1 else ''}")
        ctx.out.result(f"  run:     {run_id}")
        ctx.out.result(f"  status:  ./deploy.sh --status {rerun_of or run_id}")
    if not opts.wait:
        return errors.OK
    planned = {sp.step.name: sp for sp in pp.steps}
    steps = [graph.StepState(s.name, [d.step for d in s.depends_on], job_id=ids.get(s.name),
                             size=planned[s.name].size if s.name in planned else len(s.map.tasks) if s.map else None,
                             reused=s.name in reused, tasks=pp.task_jobs.get(s.name),
                             task_ids=(planned[s.name].manifest or {}).get("task_ids") if s.name in planned else None,
                             task_records=_kept_records(pp, s.name),
                             reused_jobs=dict(planned[s.name].reused) if s.name in planned else {})
             for s in _full_order(pipeline, order, reused)]
    return wait(ctx, steps, run_id, logs=opts.logs)


def keep_tasks(ctx, pp: psubmit.PipelinePlan, order: list[Step], before: dict, replan) -> psubmit.PipelinePlan:
    """A rerun's map steps submit only the tasks not kept (each kept task's job succeeded before): a
    per-task step fewer jobs, an array step an array of the others (`replan(skip)` plans it again); an
    array that would keep every task, or is paired N_TO_N with a step submitted now, runs whole."""
    arrays = {sp.step.name for sp in pp.steps if sp.mode == maps.ARRAY}
    sizes = {sp.step.name: sp.size for sp in pp.steps}
    kept = reruns.reusable_tasks(order, {sp.step.name: sp.tasks for sp in pp.steps if sp.tasks is not None}, before,
                                 reruns.whole_arrays(order, arrays))
    kept = {k: v for k, v in kept.items() if k not in arrays or len(v) < sizes[k]}
    if any(k in arrays for k in kept):
        pp = replan({k: v for k, v in kept.items() if k in arrays})
    for sp in pp.steps:
        mine = kept.get(sp.step.name)
        if mine and sp.mode == maps.PER_TASK:
            sp.reused = mine
            sp.units = [u for u in sp.units if u.task_ids[0] not in mine]
        if mine:
            ctx.out.note(f"step {sp.step.name}: {len(mine)} of {sizes[sp.step.name]} tasks succeeded before and are kept "
                         f"({_ids(mine)}); {sizes[sp.step.name] - len(mine)} submitted")
    return pp


def _ids(tasks: dict) -> str:
    shown = list(tasks)[:10]
    return ", ".join(map(str, shown)) + (" ..." if len(tasks) > len(shown) else "")


def _kept_records(pp: psubmit.PipelinePlan, name: str) -> dict:
    """A per-task step's kept jobs read as SUCCEEDED, never described (AWS may have aged them out) nor
    read for logs. (An array step's kept tasks are outside its array: its size counts the others.)"""
    kept = next((sp.reused for sp in pp.steps if sp.step.name == name and sp.mode == maps.PER_TASK), {})
    return {job: {"jobId": job, "status": "SUCCEEDED", "kept": True} for job in kept.values()}


def pack_code(ctx, pipeline: Pipeline, bucket: str, prefix: str):
    """`settings: code: DIR` packed once (a folder relative to the pipeline file), as -r --code DIR."""
    folder = pipeline.settings.get("code")
    if not folder:
        return None
    from batchdeploy import bundle as bundles

    path = Path(folder)
    if not path.is_absolute():
        path = Path(pipeline.source.get("file") or ".").parent / path
    if not path.is_dir():
        raise UsageError(f"the pipeline's settings: code: {folder} is not a folder ({path})",
                         hint="name the folder of the steps' code, relative to the pipeline file")
    ctx.cfg.require(optional=("CODE_SIZE_LIMIT",))
    packed = bundles.pack(path, bundles.parse_size(ctx.cfg.get("CODE_SIZE_LIMIT", "64MiB")))
    return codes.CodePlan(path, packed, bucket, prefix)


def _full_order(pipeline: Pipeline, order: list[Step], reused) -> list[Step]:
    names = {s.name for s in order}
    return [s for s in pipeline.steps if s.name in reused and s.name not in names] + list(order)


def wait(ctx, steps: list[graph.StepState], run_id: str, *, live: bool | None = None, console=None,
         logs: tuple | None = None) -> int:
    """Poll until every step ended: one DescribeJobs (per 100 jobs) a poll, shown by pipelines.view;
    with `logs`, the chosen steps' log lines as they arrive (pipelines.logs)."""
    batch = ctx.aws.client("batch")
    backoff = Backoff()
    last: dict[str, str] = {}
    stuck = doctor_hook.stuck_for(ctx)
    try:
        with GraphView(ctx.out, f"run {run_id}", live=live, console=console) as view:
            lines = None if logs is None else plogs.StepLogs(batch, ctx.aws.client("logs"), logs, view.log,
                                                             ctx.out.warn, sleep=ctx.sleep)
            while True:
                graph.describe(batch, steps)
                current = graph.states(steps)
                changed = {k: v for k, v in current.items() if last.get(k) != v}
                if changed:
                    view.show(steps, current, changed)
                    backoff.reset()
                if lines is not None and lines.poll(steps, current) and not changed:
                    backoff.reset()
                last = current
                for s in steps:  # the doctor, once per step RUNNABLE past RUNNABLE_WARN_S
                    job_id = (s.jobs() or [""])[0]
                    stuck.saw(s.name, current.get(s.name) == "RUNNABLE", job_id, s.task_records.get(job_id) or s.record)
                if all(v in graph.ENDED for v in current.values()):
                    break
                ctx.sleep(backoff.next())
            if lines is not None:
                lines.finish(steps, current)
    except KeyboardInterrupt:
        ctx.out.warn(f"stopped following; the steps run on: ./deploy.sh --status {run_id}")
        return errors.INTERRUPTED
    bad = [k for k, v in current.items() if v != "SUCCEEDED"]
    if bad:
        ctx.out.warn(f"run {run_id}: {len(bad)} step{'s' if len(bad) > 1 else ''} did not succeed: {', '.join(bad)}; "
                     f"after a fix: batchdeploy pipeline rerun {run_id}")
        return errors.TASKS_FAILED
    ctx.out.result(f"run {run_id}: every step succeeded")
    return errors.OK


def read_steps(ctx, run_id: str) -> tuple[dict, list[graph.StepState], dict]:
    """run.json and steps/*.json of a pipeline run (and of its reruns: the latest attempt of each step)."""
    bucket, prefix, _ = where(ctx)
    return record.read(ctx.aws.client("s3"), ctx.aws.client("batch"), bucket, prefix, run_id)


def status(ctx, run_id: str, opts: PipelineOptions | None = None) -> int:
    """The graph with each step's state; with --wait (`pipeline status RUN_ID --wait`), followed to its end."""
    root, steps, attempts = read_steps(ctx, run_id)
    run_id = root["run_id"]  # a rerun's id reads as its original
    if opts is not None and opts.wait:
        plogs.check_choice(opts.logs, [s.name for s in steps])
        return wait(ctx, steps, run_id, logs=opts.logs)
    graph.describe(ctx.aws.client("batch"), steps, only_unfinished=False)
    current = graph.states(steps)
    if ctx.out.json:
        ctx.out.emit_json({"run_id": run_id, "name": root.get("name"), "steps": [
            {"name": s.name, "state": current[s.name], "job_id": s.job_id, "depends_on": s.depends_on,
             "run_id": attempts.get(s.name), "map": s.total(), **({"kept": s.kept} if s.kept else {}),
             **({"jobs": {str(k): v for k, v in s.tasks.items()}} if s.tasks is not None else {})} for s in steps]})
        return errors.OK
    ctx.out.result(f"pipeline {root.get('name')}  run {run_id}  ({len(steps)} steps)")
    for line in graph.draw(steps, current):
        ctx.out.result(line)
    for s in steps:
        if current[s.name] == "FAILED":
            blocked = graph.blocked_by(steps, s.name)
            if blocked:
                ctx.out.result(f"  {s.name} failed: {', '.join(blocked)} will not run")
    return errors.OK


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rerun(ctx, opts) -> int:
    root, steps, _ = read_steps(ctx, opts.target)
    opts = replace(opts, target=root["run_id"])  # a rerun of a rerun is a rerun of the original
    graph.describe(ctx.aws.client("batch"), steps, only_unfinished=False)
    current = graph.states(steps)
    unended = [k for k, v in current.items() if v not in graph.ENDED]
    if unended:
        raise UsageError(f"run {opts.target}: {', '.join(unended)} not ended yet",
                         hint=f"wait for it (./deploy.sh --status {opts.target}), or cancel its jobs")
    names = reruns.to_rerun(steps, current)
    if not names:
        ctx.out.result(f"run {opts.target}: every step succeeded; nothing to rerun")
        return errors.OK
    source = (root["pipeline"].get("source") or {})
    if not source.get("file"):
        raise UsageError(f"run {opts.target} records no pipeline file", hint="run it again with pipeline run FILE")
    pipeline, order = load(ctx, source["file"])
    known = {s.name for s in pipeline.steps}
    gone = [n for n in names if n not in known]
    if gone:
        raise UsageError(f"the pipeline file no longer has step {', '.join(gone)}",
                         hint="a rerun runs the run's steps; start a new run with pipeline run FILE")
    if source.get("sha256") and Path(source["file"]).exists() and file_sha256(Path(source["file"])) != source["sha256"]:
        ctx.out.note(f"{source['file']} changed since run {opts.target}: the rerun uses today's")
    reused = [s.name for s in steps if s.name not in names]
    ctx.out.note(f"rerun of {opts.target}: {', '.join(names)} (reusing {', '.join(reused) or 'nothing'})")
    return run_pipeline(ctx, pipeline, [s for s in order if s.name in names], opts, rerun_of=opts.target,
                        outputs_run_id=root.get("outputs_run_id") or opts.target, reused=reused,
                        before=_before(ctx, [s for s in steps if s.name in names]))


def _before(ctx, steps: list[graph.StepState]) -> dict[str, reruns.Before]:
    """The map steps' latest attempt (described already): their jobs, those that SUCCEEDED (with the
    tasks an earlier rerun kept), and what each task ran (the manifests, one GET per attempt)."""
    out = {}
    for s in steps:
        if s.size is None or not s.job_id:
            continue
        done = record.succeeded(ctx.aws.client("batch"), s)
        if done:
            out[s.name] = reruns.Before(done, record.entries(ctx.aws.client("s3"), s))
    return out
