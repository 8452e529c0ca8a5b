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
from batchdeploy.aws.errors import translate
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
    ids, attempts, tasks, latest = {}, {}, {}, {}  # latest: each step's doc in its latest attempt's run.json
    manifests: dict[str, list] = {}
    tried: dict[str, list] = {}
    for rid in [run_id, *runs.list_reruns(s3, bucket, prefix, run_id)]:
        doc = root if rid == run_id else runs.get_json(s3, bucket, runs.run_key(prefix, rid, runs.RUN_FILE)) or {}
        docs = {d["name"]: d for d in (doc.get("pipeline") or {}).get("steps") or []}
        for name in (doc.get("pipeline") or {}).get("submitted_steps") or []:
            got = runs.get_json(s3, bucket, step_key(prefix, rid, name)) or {}
            attempts[name], latest[name] = rid, docs.get(name) or {}
            tried.setdefault(name, []).append(rid)
            mapped = latest[name].get("map") or {}
            if mapped.get("url"):
                manifests.setdefault(name, []).append(mapped["url"])
            if mapped.get("units") is not None:  # a map step submitted one job per task (a rerun's: and those it kept)
                jobs = {int(k): v for k, v in (got.get("jobs") or {}).items()} or {
                    u["task_id"]: found for u in mapped["units"] if (found := by_token(batch, doc, u))}
                jobs.update({int(k): v for k, v in (mapped.get("reused") or {}).items()})
                order = {tid: k for k, tid in enumerate(mapped.get("task_ids") or [])}
                tasks[name] = dict(sorted(jobs.items(), key=lambda kv: order.get(kv[0], len(order))))
                ids[name] = next(iter(tasks[name].values()), None)
            else:
                tasks.pop(name, None)
                ids[name] = got.get("job_id") or by_token(batch, doc, latest[name])
    steps = []
    for d in root["pipeline"]["steps"]:
        doc = latest.get(d["name"]) or d
        mapped = doc.get("map") or {}
        steps.append(graph.StepState(d["name"], [x["step"] for x in d["depends_on"]], job_id=ids.get(d["name"]),
                                     size=mapped.get("tasks"), tasks=tasks.get(d["name"]), task_ids=mapped.get("task_ids"),
                                     manifests=manifests.get(d["name"], []), attempts=tried.get(d["name"], []),
                                     reused_jobs={int(k): v for k, v in (mapped.get("reused") or {}).items()},
                                     doc=doc))
    return root, steps, attempts


def by_token(batch, doc: dict, step: dict) -> str | None:
    """The job a step's (or a per-task map's task's) client token made, if AWS made one (ListJobs by
    name, then the tag)."""
    from batchdeploy.jobs.submit import with_token

    if not step.get("client_token"):
        return None
    found = with_token(batch, doc.get("queue"), step["job_name"], step["client_token"])
    return found[0]["jobId"] if found else None


def succeeded(batch, step: graph.StepState) -> dict[int, str]:
    """A map step's tasks whose job SUCCEEDED, {task id: job id}: a per-task step's from its described
    jobs, an array's from ListJobs of its children (by child index), a one-task step's from its job;
    with the tasks an earlier rerun kept (they had succeeded)."""
    done = dict(step.reused_jobs)
    if step.tasks is not None:
        done.update({t: j for t, j in step.tasks.items()
                     if (step.task_records.get(j) or {}).get("status") == "SUCCEEDED" and t not in done})
    elif (step.size or 0) > 1:
        ids = step.task_ids or []
        with translate(f"list the children of array job {step.job_id} (batch:ListJobs)"):
            for page in batch.get_paginator("list_jobs").paginate(arrayJobId=step.job_id, jobStatus="SUCCEEDED"):
                for child in page.get("jobSummaryList") or []:
                    index = _child_index(child)
                    if index is not None and index < len(ids):
                        done[ids[index]] = child["jobId"]
    elif step.record.get("status") == "SUCCEEDED" and step.task_ids:
        done[step.task_ids[0]] = step.job_id
    return done


def entries(s3, step: graph.StepState) -> dict:
    """What each task of a map step ran, {task id: manifest entry}: every attempt's manifest, the newest
    entry of a task winning (a rerun's array holds only the tasks it ran again)."""
    out: dict = {}
    for url in step.manifests:
        bucket, _, key = url[len("s3://"):].partition("/")
        out.update({t.get("id"): t for t in (runs.get_json(s3, bucket, key) or {}).get("tasks") or []})
    return out


def _child_index(child: dict) -> int | None:
    """An array child's index: its arrayProperties (AWS), else its id PARENT:INDEX (moto lists no
    arrayProperties; AWS names children so too)."""
    index = (child.get("arrayProperties") or {}).get("index")
    if index is None and ":" in child.get("jobId", ""):
        tail = child["jobId"].rsplit(":", 1)[1]
        index = int(tail) if tail.isdigit() else None
    return index
