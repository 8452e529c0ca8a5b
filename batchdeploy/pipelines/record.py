"""A pipeline run as S3 holds it: run.json, one steps/STEP.json per step submitted, and its reruns
(`RUN_ID/reruns/`), each step read from its latest attempt. Read by `pipeline status` and `rerun`
(pipelines.verb) and by the report (report.read), from the objects alone, so a teammate with the same
bucket reads the same run.

A step with no steps/STEP.json (its submit was killed or refused there) is looked for by the client
token run.json lists for it (and for each task of a per-task map): the job AWS made, if any, so
nothing is ever submitted twice. A rerun's per-task step adds the tasks it kept (run.json's `reused`).
"""

from __future__ import annotations

from batchdeploy import runs
from batchdeploy.errors import UsageError
from batchdeploy.pipelines import graph
from batchdeploy.pipelines.model import RUN_KIND

STEPS_DIR = "steps/"


def step_key(prefix: str, run_id: str, step: str) -> str:
    return runs.run_key(prefix, run_id, f"{STEPS_DIR}{step}.json")


def read(s3, batch, bucket: str, prefix: str, run_id: str) -> tuple[dict, list[graph.StepState], dict]:
    """(the original's run.json, its steps in order, {step: the run id of its latest attempt})."""
    root = runs.get_json(s3, bucket, runs.run_key(prefix, run_id, runs.RUN_FILE))
    if root is None:
        raise UsageError(f"no run {run_id} in s3://{bucket}/{runs.run_key(prefix, '')}", hint="check S3_BUCKET and the run id")
    if root.get("kind") != RUN_KIND:
        raise UsageError(f"run {run_id} is not a pipeline run", hint=f"./deploy.sh --status {run_id}")
    if root.get("rerun_of"):  # a rerun's id reads as its original: one run, as sweeps' reruns
        return read(s3, batch, bucket, prefix, root["rerun_of"])
    ids, attempts, tasks, manifests = {}, {}, {}, {}  # manifests: a per-task step's latest, for a rerun
    for rid in [run_id, *runs.list_reruns(s3, bucket, prefix, run_id)]:
        doc = root if rid == run_id else runs.get_json(s3, bucket, runs.run_key(prefix, rid, runs.RUN_FILE)) or {}
        docs = {d["name"]: d for d in (doc.get("pipeline") or {}).get("steps") or []}
        for name in (doc.get("pipeline") or {}).get("submitted_steps") or []:
            got = runs.get_json(s3, bucket, step_key(prefix, rid, name)) or {}
            attempts[name] = rid
            units = ((docs.get(name) or {}).get("map") or {}).get("units")
            if units is not None:  # a map step submitted one job per task (a rerun's: and those it kept)
                mapped = (docs.get(name) or {}).get("map") or {}
                jobs = {int(k): v for k, v in (got.get("jobs") or {}).items()} or {
                    u["task_id"]: found for u in units if (found := by_token(batch, doc, u))}
                jobs.update({int(k): v for k, v in (mapped.get("reused") or {}).items()})
                order = {tid: k for k, tid in enumerate(mapped.get("task_ids") or [])}
                tasks[name] = dict(sorted(jobs.items(), key=lambda kv: order.get(kv[0], len(order))))
                ids[name] = next(iter(tasks[name].values()), None)
                manifests[name] = mapped.get("url")
            else:
                tasks.pop(name, None)
                manifests.pop(name, None)
                ids[name] = got.get("job_id") or by_token(batch, doc, docs.get(name) or {})
    steps = [graph.StepState(d["name"], [x["step"] for x in d["depends_on"]], job_id=ids.get(d["name"]),
                             size=(d.get("map") or {}).get("tasks"), tasks=tasks.get(d["name"]),
                             task_ids=(d.get("map") or {}).get("task_ids"), manifest=manifests.get(d["name"]))
             for d in root["pipeline"]["steps"]]
    return root, steps, attempts


def by_token(batch, doc: dict, step: dict) -> str | None:
    """The job a step's (or a per-task map's task's) client token made, if AWS made one (ListJobs by
    name, then the tag)."""
    from batchdeploy.jobs.submit import with_token

    if not step.get("client_token"):
        return None
    found = with_token(batch, doc.get("queue"), step["job_name"], step["client_token"])
    return found[0]["jobId"] if found else None
