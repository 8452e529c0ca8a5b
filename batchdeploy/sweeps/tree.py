"""A sweep's run as S3 holds it, with its reruns: what --status RUN_ID shows and --rerun-failed picks from.

Read from the objects alone (runs.py's layout), so a teammate with the same bucket sees the same:
the original's run.json (its `sweep`) and manifests, the reruns listed under `RUN_ID/reruns/`, and the
task records of each. A task belongs to the newest run that ran it (the original, or the latest rerun
that included it); its state is that run's newest record of it, else the state AWS gives that run's
job for it (DescribeJobs of the array child PARENT:INDEX or of the task's own job, 100 per call,
only for tasks with no record), else "pending" (a job never made, or one AWS forgot).

A run still "submitting" (run.json without submitted.json: killed, or still sending) has no job ids;
its jobs are looked up by the client tokens its run.json lists, one per SubmitJob (ListJobs by name,
then the tag: jobs.submit.with_token). A job found is live: its tasks take their state from it, and a
task whose job AWS has made but not yet described (an array's child not listed yet) counts as
SUBMITTED, so a rerun refuses to run it a second time. A task whose SubmitJob never made a job stays
"pending", and a rerun runs it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from batchdeploy import runs
from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws.batch import ACTIVE_JOB_STATES
from batchdeploy.errors import UsageError
from batchdeploy.jobs.job import Job


@dataclass
class TaskState:
    id: int
    params: dict
    env: dict
    labels: dict
    run_id: str  # the run that ran it last
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    job_id: str | None = None
    state: str = "pending"
    exit_code: int | None = None
    duration_s: float | None = None
    peak_memory_kib: int | None = None
    reason: str = ""
    record: dict | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_JOB_STATES


@dataclass
class Tree:
    root: dict  # the original run (read_run, tasks keyed by task id)
    reruns: list[dict]
    manifests: list[dict]  # the original's manifest documents, in run.json's order

    @property
    def run_id(self) -> str:
        return self.root["run_id"]

    @property
    def runs(self) -> list[dict]:
        return [self.root, *self.reruns]


def _read(s3, bucket: str, prefix: str, run_id: str) -> dict | None:
    """A run with its task records, keyed by task id (the launcher names them tasks/<id>/)."""
    return runs.read_run(s3, bucket, prefix, run_id)


def read_tree(s3, bucket: str, prefix: str, run_id: str) -> Tree:
    run = _read(s3, bucket, prefix, run_id)
    if run is None:
        raise UsageError(f"no run {run_id} in s3://{bucket}/{runs.run_key(prefix, '')}",
                         hint="check the run id, S3_BUCKET and RUNS_PREFIX")
    if run.get("rerun_of"):  # a rerun's id reads as its original: the run reads as one
        run = _read(s3, bucket, prefix, run["rerun_of"]) or run
    if "sweep" not in run:
        raise UsageError(f"run {run['run_id']} is one job, not a sweep",
                         hint=f"./deploy.sh --status {(run.get('job_ids') or [run['name']])[0]}")
    reruns = [r for r in (_read(s3, bucket, prefix, i) for i in runs.list_reruns(s3, bucket, prefix, run["run_id"])) if r]
    docs = []
    for m in run["sweep"]["manifests"]:
        bucket_, _, key = m["url"][len("s3://"):].partition("/")
        docs.append(runs.get_json(s3, bucket_, key) or {"tasks": []})
    return Tree(run, reruns, docs)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = lambda t: _dt.datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 1)


def resolve_submitting(run: dict, batch) -> None:
    """A run still "submitting": its job ids from the client tokens in run.json (None where a SubmitJob
    made no job), marked `found_by_token`. The oldest job of a token is the one that counts."""
    if run.get("state") != "submitting" or run.get("job_ids"):
        return
    from batchdeploy.jobs.submit import with_token

    ids = []
    for unit in run["sweep"].get("units") or []:
        found = with_token(batch, run["queue"], unit["job_name"], unit["client_token"])
        ids.append(found[0]["jobId"] if found else None)
    run["job_ids"] = ids
    run["found_by_token"] = True


def _job_of(run: dict, task_id: int) -> str | None:
    """The job (array child PARENT:INDEX, or the task's own job) that ran `task_id` in `run`."""
    ids = run.get("job_ids") or []
    for n, unit in enumerate(run["sweep"]["units"]):
        if task_id in unit["task_ids"] and n < len(ids) and ids[n]:
            index = unit["task_ids"].index(task_id)
            return f"{ids[n]}:{index}" if len(unit["task_ids"]) > 1 else ids[n]
    return None


def task_states(tree: Tree, batch) -> list[TaskState]:
    """Every task of the sweep, its newest run deciding its state (see the module docstring)."""
    tasks = {}
    for doc, entry in zip(tree.manifests, tree.root["sweep"]["manifests"]):
        for n, task in enumerate(doc.get("tasks") or []):
            task_id = task.get("id", entry["task_ids"][n] if n < len(entry["task_ids"]) else n + 1)
            tasks[task_id] = task
    labels = tree.root["sweep"].get("labels") or {}
    for run in tree.runs:
        resolve_submitting(run, batch)
    out = []
    for task_id, task in sorted(tasks.items()):
        last = [r for r in tree.runs if task_id in r["sweep"]["task_ids"]][-1]
        state = TaskState(task_id, task.get("parameters") or {}, task.get("environment") or {},
                          labels.get(str(task_id), {}), last["run_id"], list(task.get("inputs") or []),
                          list(task.get("outputs") or []), _job_of(last, task_id))
        records = last["tasks"].get(task_id) or []
        if records:
            _from_record(state, records[-1])
        out.append(state)
    _from_aws(batch, [s for s in out if s.record is None and s.job_id])
    by_id = {r["run_id"]: r for r in tree.runs}
    for s in out:  # made (found by its token), not yet described: live all the same
        if s.state == "pending" and s.job_id and by_id[s.run_id].get("found_by_token"):
            s.state, s.reason = "SUBMITTED", "found by its client token; AWS has not described it yet"
    return out


def _from_record(state: TaskState, record: dict) -> None:
    state.record = record
    state.exit_code = record.get("exit_code")
    state.state = "SUCCEEDED" if state.exit_code == 0 else "FAILED"
    state.duration_s = _seconds(record.get("started"), record.get("ended"))
    state.peak_memory_kib = (record.get("resources") or {}).get("max_rss_kib")
    state.job_id = record.get("job_id") or state.job_id
    error = record.get("launcher_error") or {}
    state.reason = error.get("message") or ("" if state.exit_code == 0 else record.get("outcome") or "")


def _from_aws(batch, states: list[TaskState]) -> None:
    if not states:
        return
    found = aws_batch.describe_jobs(batch, [s.job_id for s in states])
    for s in states:
        job = found.get(s.job_id)
        if not job:
            continue
        s.state = job.get("status", "pending")
        s.exit_code = Job(job).exit_code
        start, stop = job.get("startedAt"), job.get("stoppedAt")
        s.duration_s = round((stop - start) / 1000, 1) if start and stop else None
        s.reason = job.get("statusReason") or Job(job).reason or ""
