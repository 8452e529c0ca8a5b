"""The one module of the report that reads: run records and task records in S3 (batchdeploy.runs,
sweeps.tree for a sweep's tasks and reruns, pipelines.record for a pipeline's steps and reruns),
DescribeJobs for tasks without a record, and each task's `metrics.json` / `metrics.jsonl` in its output
location."""

from __future__ import annotations

import json

from batchdeploy import runs
from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws.errors import error_code, translate
from batchdeploy.aws.s3 import parse_s3_url
from batchdeploy.errors import UsageError
from batchdeploy.jobs.job import Job
from batchdeploy.jobs.runlist import iso_ms
from batchdeploy.pipelines.model import RUN_KIND
from batchdeploy.report.model import Run, Task, metrics_of, series_of
from batchdeploy.secrets import is_secret, mask, mask_url_passwords
from batchdeploy.sweeps.outputs import DEFAULT_OUTPUT_PARAMETER, task_output_url
from batchdeploy.sweeps.tree import read_tree, task_states

METRICS, SERIES = "metrics.json", "metrics.jsonl"
_NOT_THERE = {"404", "NoSuchKey", "NotFound", "AccessDenied"}


def _text(s3, url: str) -> str | None:
    bucket, key = parse_s3_url(url)
    with translate(f"read {url}"):
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
        except Exception as exc:
            if error_code(exc) in _NOT_THERE:
                return None
            raise


def with_metrics(s3, task: Task, output: str | None) -> Task:
    """The task with what its output location holds: metrics.json's numbers, metrics.jsonl's rows."""
    if not output or not output.startswith("s3://"):
        return task
    base = output.rstrip("/") + "/"
    text = _text(s3, base + METRICS)
    if text:
        try:
            task.metrics = metrics_of(json.loads(text))
        except ValueError:
            task.reason = (task.reason + "; " if task.reason else "") + f"{base}{METRICS} is not JSON"
    series = _text(s3, base + SERIES)
    if series:
        task.series = series_of(series)
    return task


def shown(values: dict) -> dict:
    """Parameters and environment as a page may show them: values of secret-looking names masked,
    passwords in URLs too (the page is a file people pass around)."""
    return {k: mask(str(v)) if is_secret(k) else mask_url_passwords(str(v)) for k, v in values.items()}


def _from_record(task: Task, record: dict | None) -> Task:
    if not record:
        return task
    resources = record.get("resources") or {}
    task.started_at, task.ended_at = record.get("started") or task.started_at, record.get("ended") or task.ended_at
    if resources.get("max_rss_kib"):
        task.peak_memory_mib = round(resources["max_rss_kib"] / 1024, 1)
    if resources.get("cpu_user_s") is not None:
        task.cpu_s = round((resources.get("cpu_user_s") or 0) + (resources.get("cpu_system_s") or 0), 2)
    task.stderr_tail = list(record.get("stderr_tail") or [])
    return task


def _sweep(s3, batch, bucket: str, prefix: str, results_prefix: str, run: dict) -> list[Task]:
    tree = read_tree(s3, bucket, prefix, run["run_id"])
    out = []
    for s in task_states(tree, batch):
        task = Task(run_id=run["run_id"], task=s.id, params=shown({**s.params, **s.env}), state=s.state,
                    exit_code=s.exit_code, reason=s.reason, queued_at=run.get("created_at"))
        _from_record(task, s.record)
        # a rerun keeps the original run's output location for each task (sweeps.outputs)
        output = s.params.get(DEFAULT_OUTPUT_PARAMETER) or task_output_url(bucket, results_prefix, run["run_id"], s.id)
        out.append(with_metrics(s3, task, output))
    return out


def _job(s3, batch, run: dict) -> list[Task]:
    jobs = aws_batch.describe_jobs(batch, run.get("job_ids") or [])
    job = jobs.get((run.get("job_ids") or [None])[0]) or {}
    params = shown(run.get("parameters") or {})
    records = run.get("tasks") or {}
    out = []
    for number in sorted(records) or [0]:
        last = (records.get(number) or [None])[-1]
        code = last.get("exit_code") if last else Job(job).exit_code
        state = ("SUCCEEDED" if code == 0 else "FAILED") if last else (job.get("status") or run.get("state") or "UNKNOWN")
        reason = ((last.get("launcher_error") or {}).get("message") or ("" if code == 0 else last.get("outcome") or "")
                  if last else job.get("statusReason") or Job(job).reason or "")
        task = Task(run_id=run["run_id"], task=number, params=params, state=state, exit_code=code, reason=reason,
                    queued_at=run.get("created_at") or iso_ms(job.get("createdAt")),
                    started_at=iso_ms(job.get("startedAt")), ended_at=iso_ms(job.get("stoppedAt")))
        out.append(with_metrics(s3, _from_record(task, last), params.get(DEFAULT_OUTPUT_PARAMETER)))
    return out


def _step_rows(s3, bucket: str, prefix: str, s) -> list[tuple]:
    """A step's rows: (step, task entry or None, job id, launcher record). A map task's entry and
    record come from the newest attempt that ran it (a rerun's array holds only what it ran again); its
    job is the array child PARENT:INDEX, the one job of a one-task step, or its own per-task job."""
    from batchdeploy.pipelines import record

    records: dict = {}
    for rid in s.attempts:  # the launcher's records, where the step ran through it
        records.update(runs.task_records(s3, bucket, prefix, f"{rid}/maps/{s.name}"))
    if s.size is None:
        return [(s, None, s.job_id, next(iter(records.values()), [None])[-1])]
    if s.tasks is not None:
        jobs = dict(s.tasks)
    else:
        jobs = {tid: f"{s.job_id}:{i}" if s.size > 1 else s.job_id for i, tid in enumerate(s.task_ids or []) if s.job_id}
        jobs.update(s.reused_jobs)
    entries = record.entries(s3, s)
    order = list(entries) + [t for t in jobs if t not in entries]
    return [(s, entries.get(tid, {"id": tid}), jobs.get(tid), (records.get(tid) or [None])[-1]) for tid in order]


def _task_params(doc: dict, entry: dict | None) -> dict:
    """A plain step's parameters (run.json's, masked already), or a map task's parameters and
    environment, masked, without batchdeploy's own BATCHDEPLOY_* plumbing."""
    if entry is None:
        return dict(doc.get("parameters") or {})
    env = {k: v for k, v in (entry.get("environment") or {}).items() if not k.startswith("BATCHDEPLOY_")}
    return shown({**(entry.get("parameters") or {}), **env})


def _pipeline(s3, batch, bucket: str, prefix: str, run: dict) -> list[Task]:
    """A pipeline run as rows: a plain step is one, a map step one per task, each with a `step`
    parameter; a step's latest attempt (a rerun's, if any) decides its rows. States as `pipeline
    status` gives them (a step after a failed one is NOT RUN), exit codes and times from AWS, resources
    from the launcher's records where the step ran through it, metrics from each output location."""
    from batchdeploy.pipelines import graph, record

    _, steps, _ = record.read(s3, batch, bucket, prefix, run["run_id"])
    graph.describe(batch, steps, only_unfinished=False)
    current = graph.states(steps)
    rows: list[tuple] = []  # (step state, task entry or None, job id, launcher record)
    for s in steps:
        rows += _step_rows(s3, bucket, prefix, s)
    children = aws_batch.describe_jobs(batch, [j for s, e, j, _ in rows if e is not None and s.tasks is None and j])
    out = []
    for n, (s, entry, job_id, last) in enumerate(rows, 1):
        job = (s.task_records.get(job_id) if s.tasks is not None else children.get(job_id) if entry is not None
               else s.record) or {}
        state = current[s.name] if entry is None or not job else job.get("status") or current[s.name]
        if current[s.name] == "NOT RUN":  # a dependency failed: AWS fails the step's jobs without running them
            state = "NOT RUN"
        params = {"step": s.name, **_task_params(s.doc, entry)}
        code = Job(job).exit_code if job else None
        reason = (job.get("statusReason") or Job(job).reason or "") if job and state != "SUCCEEDED" else ""
        if state == "NOT RUN":
            reason = "not run: " + ", ".join(d for d in s.depends_on if current[d] in ("FAILED", "NOT RUN")) + " did not succeed"
        task = Task(run_id=run["run_id"], task=n, params=params, state=state, exit_code=code, reason=reason,
                    queued_at=iso_ms(job.get("createdAt")) or run.get("created_at"),
                    started_at=iso_ms(job.get("startedAt")), ended_at=iso_ms(job.get("stoppedAt")))
        output = s.doc.get("output") if entry is None else (entry.get("environment") or {}).get("BATCHDEPLOY_OUTPUT")
        out.append(with_metrics(s3, _from_record(task, last), output))
    return out


def read_runs(s3, batch, bucket: str, prefix: str, results_prefix: str, run_ids: list[str]) -> list[Run]:
    out = []
    for run_id in run_ids:
        run = runs.read_run(s3, bucket, prefix, run_id)
        if run is None:
            raise UsageError(f"no run {run_id} in s3://{bucket}/{runs.run_key(prefix, run_id)}",
                             hint="./deploy.sh --status lists recent runs")
        if run.get("kind") == RUN_KIND:
            tasks = _pipeline(s3, batch, bucket, prefix, run)
        elif "sweep" in run:
            tasks = _sweep(s3, batch, bucket, prefix, results_prefix, run)
        else:
            tasks = _job(s3, batch, run)
        out.append(Run(run_id=run_id, run=run, tasks=tasks))
    return out
