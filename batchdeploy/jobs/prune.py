"""Which ACTIVE revisions `--prune KEEP` may deregister: the plan (pure) and its application.

A revision is kept when it is among the newest KEEP, is the one in force, is not this project's
(the ownership rule: only revisions tagged batchdeploy:project=PROJECT_NAME are ever deregistered, so
one registered by hand or by another project is left alone, with a line saying why) or is used by a
job still active (SUBMITTED..RUNNING) on a queue this project uses.

Function definitions (batchdeploy.functions: one per image and resources, named PROJECT-fn-<hash>,
tagged batchdeploy:kind=function) are a cache: `--prune` deregisters every one of this project's that no
active job uses, whatever KEEP says; the next call that needs one registers it again (one request).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import ACTIVE_JOB_STATES, NAME
from batchdeploy.aws.tags import TAG_PROJECT
from batchdeploy.errors import OperationError
from batchdeploy.state import JOBS

TAG_KIND = "batchdeploy:kind"  # what batchdeploy made a resource for; "function": batchdeploy.functions
KIND_FUNCTION = "function"


def parse_ref(text: str):
    """`NAME:REV` or a job definition ARN -> (NAME, REV); None for anything else."""
    if not isinstance(text, str):
        return None
    if text.startswith("arn:"):
        _, _, text = text.partition(":job-definition/")
    name, sep, rev = text.rpartition(":")
    if not sep or not rev.isdigit() or not NAME.fullmatch(name):
        return None
    return name, int(rev)


@dataclass
class PrunePlan:
    deregister: list[dict] = field(default_factory=list)  # the revisions (DescribeJobDefinitions entries)
    kept_in_use: list[tuple[dict, list[str]]] = field(default_factory=list)  # revision, jobs using it
    foreign: list[dict] = field(default_factory=list)  # not tagged with this project: never touched


def prune_candidates(revisions: list[dict], keep: int, planned_new: bool = False, protect=()) -> list[dict]:
    """ACTIVE revisions of one name older than the newest `keep` (a registration still to come
    counts as the newest), minus the ones in `protect` (revision numbers)."""
    active = sorted((r for r in revisions if r.get("status", "ACTIVE") == "ACTIVE"), key=lambda r: -r["revision"])
    kept = keep - 1 if planned_new else keep
    return [r for r in active[max(kept, 0):] if r["revision"] not in set(protect)]


def plan_prune(revisions: list[dict], keep: int, project: str, in_use: dict, planned_new=False, protect=()):
    """Split the candidates of one name into deregister / in use / another project's.

    `in_use` maps (name, revision) to the ids of active jobs using that revision.
    """
    plan = PrunePlan()
    for rev in prune_candidates(revisions, keep, planned_new, protect):
        owner = (rev.get("tags") or {}).get(TAG_PROJECT)
        users = in_use.get((rev["jobDefinitionName"], rev["revision"]))
        if owner != project:
            plan.foreign.append(rev)
        elif users:
            plan.kept_in_use.append((rev, users))
        else:
            plan.deregister.append(rev)
    return plan


# ---- applying the plan: which revisions active jobs use, then DeregisterJobDefinition ----------


def _queues(ctx, jobs: list[dict]) -> list[str]:
    queues = []
    for q in [ctx.cfg.get("AWS_JOB_QUEUE")] + [j.get("queue") for j in jobs]:
        if isinstance(q, str) and q and q not in queues:
            queues.append(q)
    return queues


def not_ours(rev: dict) -> str:
    """Why a revision is left alone: who it belongs to, as its tags say."""
    owner = (rev.get("tags") or {}).get(TAG_PROJECT)
    if owner is None:
        return f"not registered by batchdeploy (no {TAG_PROJECT} tag)"
    return f"tagged {TAG_PROJECT}={owner}"


def say(out, text: str) -> None:
    """A result line in text mode; --output json prints one object at the end instead."""
    if not out.json:
        out.result(text)


def jobs_using(ctx, batch, candidates: set[tuple[str, int]], jobs: list[dict]) -> dict:
    """(name, revision) -> ids of jobs in SUBMITTED..RUNNING that use it.

    Two sources, both bounded: ListJobs per active status on each queue this project uses
    (AWS_JOB_QUEUE and the queues in jobs.jsonl), and DescribeJobs for the jobs jobs.jsonl
    records against a candidate revision. Jobs submitted by others to other queues are not seen.
    """
    in_use: dict[tuple[str, int], list[str]] = {}

    def note(ref, job_id, status):
        parsed = parse_ref(ref or "")
        if parsed in candidates:
            label = f"{job_id} ({status})"
            if label not in in_use.setdefault(parsed, []):
                in_use[parsed].append(label)

    unknown_def: list[str] = []
    for queue in _queues(ctx, jobs):
        for job in _active_on(ctx, batch, queue):
            if job.get("jobDefinition"):
                note(job["jobDefinition"], job["jobId"], job.get("status"))
            else:
                unknown_def.append(job["jobId"])
    recorded = [
        j["job_id"]
        for j in jobs
        if isinstance(j.get("job_id"), str) and parse_ref(j.get("job_definition") or "") in candidates
    ]
    for job in aws_batch.describe_jobs(batch, unknown_def + recorded).values():
        if job.get("status") in ACTIVE_JOB_STATES:
            note(job.get("jobDefinition"), job["jobId"], job["status"])
    return in_use


def _active_on(ctx, batch, queue: str) -> list[dict]:
    """The active jobs of `queue`; none, with a warning, when the queue does not exist."""
    try:
        return aws_batch.list_jobs(batch, queue)
    except OperationError as exc:
        if "does not exist" in exc.message.lower():
            ctx.out.warn(f"job queue {queue} does not exist; no job of it can use a revision")
            return []
        raise OperationError(f"{exc.message} (nothing was deregistered)", hint=exc.hint) from None


def prune(ctx, batch, items: list, previous: dict, keep: int, dry_run: bool) -> dict:
    """Deregister (or, dry, list) the revisions `keep` allows, for the names of `items` (jobdef.record.Item)
    and those job-definitions.json records."""
    out = ctx.out
    project = ctx.cfg["PROJECT_NAME"]
    gone = "would_deregister" if dry_run else "deregistered"
    result = {gone: [], "kept_in_use": [], "left_alone": [], "skipped": []}
    names = [i.name for i in items] + [n for n in (previous.get("definitions") or {}) if n not in {i.name for i in items}]
    by_name = {i.name: i for i in items}
    per_name = {}
    for name in names:
        item = by_name.get(name)
        planned_new = bool(dry_run and item and item.status == "register")
        # What the plan read is still current unless this run registered a revision since.
        fresh = item is not None and (dry_run or item.status == "unchanged")
        revisions = item.revisions if fresh else aws_batch.active_revisions(batch, name)
        newest_tags = {TAG_PROJECT: project} if planned_new else ((revisions[0].get("tags") or {}) if revisions else {})
        if not revisions and not planned_new:
            continue
        if newest_tags.get(TAG_PROJECT) != project:
            reason = f"its newest ACTIVE revision is not tagged {TAG_PROJECT}={project}"
            result["skipped"].append({"name": name, "reason": reason})
            out.warn(f"not pruning {name}: {reason}")
            continue
        in_force = (previous.get("definitions") or {}).get(name, {}).get("revision")
        protect = [item.revision] if item and item.revision else []
        if in_force and not item:
            protect.append(in_force)
        per_name[name] = (revisions, planned_new, protect)
    candidates = {
        (r["jobDefinitionName"], r["revision"])
        for revisions, planned_new, protect in per_name.values()
        for r in prune_candidates(revisions, keep, planned_new, protect)
    }
    in_use = jobs_using(ctx, batch, candidates, ctx.state.records(JOBS)) if candidates else {}
    verb = "would deregister" if dry_run else "deregistered"
    for name, (revisions, planned_new, protect) in per_name.items():
        p = plan_prune(revisions, keep, project, in_use, planned_new, protect)
        for rev, users in p.kept_in_use:
            ref = f"{name}:{rev['revision']}"
            say(out, f"kept: {ref} (used by {', '.join(users)})")
            result["kept_in_use"].append({"name": name, "revision": rev["revision"], "jobs": users})
        for rev in p.foreign:
            out.note(f"left alone: {name}:{rev['revision']} ({not_ours(rev)})")
            result["left_alone"].append({"name": name, "revision": rev["revision"], "reason": not_ours(rev)})
        for rev in sorted(p.deregister, key=lambda r: r["revision"]):
            ref = f"{name}:{rev['revision']}"
            if not dry_run:
                with translate(f"deregister job definition {ref} (batch:DeregisterJobDefinition)"):
                    batch.deregister_job_definition(jobDefinition=rev["jobDefinitionArn"])
            say(out, f"{verb}: {ref}")
            result[gone].append({"name": name, "revision": rev["revision"], "arn": rev["jobDefinitionArn"]})
    result["functions"] = prune_functions(ctx, batch, dry_run)
    return result


def function_definitions(batch, project: str) -> list[dict]:
    """This project's ACTIVE function definitions (tagged batchdeploy:kind=function)."""
    found = []
    with translate("list the ACTIVE job definitions (batch:DescribeJobDefinitions)"):
        for page in batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
            found += [d for d in page.get("jobDefinitions") or []
                      if (d.get("tags") or {}).get(TAG_KIND) == KIND_FUNCTION
                      and (d.get("tags") or {}).get(TAG_PROJECT) == project]
    return sorted(found, key=lambda d: (d["jobDefinitionName"], d["revision"]))


def prune_functions(ctx, batch, dry_run: bool) -> list[dict]:
    """Deregister (dry: list) the function definitions no active job uses."""
    revisions = function_definitions(batch, ctx.cfg["PROJECT_NAME"])
    candidates = {(r["jobDefinitionName"], r["revision"]) for r in revisions}
    in_use = jobs_using(ctx, batch, candidates, ctx.state.records(JOBS)) if candidates else {}
    done = []
    for rev in revisions:
        ref = f"{rev['jobDefinitionName']}:{rev['revision']}"
        users = in_use.get((rev["jobDefinitionName"], rev["revision"]))
        if users:
            say(ctx.out, f"kept: {ref} (function definition used by {', '.join(users)})")
            continue
        if not dry_run:
            with translate(f"deregister job definition {ref} (batch:DeregisterJobDefinition)"):
                batch.deregister_job_definition(jobDefinition=rev["jobDefinitionArn"])
        say(ctx.out, f"{'would deregister' if dry_run else 'deregistered'}: {ref} (function definition)")
        done.append({"name": rev["jobDefinitionName"], "revision": rev["revision"], "arn": rev["jobDefinitionArn"]})
    return done
