"""The plans (pure): what `create` and `delete` would do, given what the user wants and what AWS has,
and the plan as lines for a person. No AWS call and no I/O here (chalice's PlanStage)."""

from __future__ import annotations

from batchdeploy.aws.tags import TAG_PREFIX, TAG_PROJECT, is_ours, whose
from batchdeploy.infra.diff import (
    differences,
    format_difference,
    not_updatable,
    tag_differences,
    update_request,
)
from batchdeploy.infra.jobdef import jobdef_differences
from batchdeploy.infra.model import CREATE_ORDER, LABEL, Action, Wanted, queue_ce_names


def _on_existing(op: str, w: Wanted, have: dict, **more) -> Action:
    """An action on what AWS already has (it carries the ARN AWS described)."""
    return Action(op, w.kind, w.name, have.get("arn"), **more)


def plan_create(wanted: list[Wanted], observed: dict, project: str, prefix: str, update: bool):
    """Actions in dependency order, and the problems that stop the run before any change.

    `observed` maps (kind, name) to what AWS describes (with `tags` as a dict and `arn`), or to None.
    """
    actions, problems = [], []
    creating_ce = {w.name for w in wanted if w.kind == "compute-environment"}
    for w in sorted(wanted, key=lambda w: CREATE_ORDER.index(w.kind)):
        have = observed.get((w.kind, w.name))
        if have and have.get("forbidden"):
            problems.append(
                f"{w.label} exists but this account cannot use it (S3 names are global; it may be another "
                "account's): choose another with --bucket"
            )
            continue
        if w.request is None:
            if have is None:
                problems.append(f"{w.label} does not exist ({w.source}: not a file either)")
            else:
                actions.append(
                    _on_existing("use", w, have, note=f"given by name ({w.source}): used as it is")
                )
            continue
        if w.kind == "job-queue":
            problems += _missing_ces(w, creating_ce, observed)
        _plan_one(w, have, project, prefix, update, actions, problems)
    return actions, problems


def _missing_ces(w: Wanted, creating_ce: set, observed: dict) -> list[str]:
    return [
        f"{w.label}: computeEnvironmentOrder names compute environment {ce}, which does not exist"
        for ce in queue_ce_names(w.request)
        if ce not in creating_ce and observed.get(("compute-environment", ce)) is None
    ]


def _plan_one(w: Wanted, have, project: str, prefix: str, update: bool, actions: list, problems: list) -> None:
    """One resource the user gave a request for: create it, or compare it with what AWS has."""
    file = {"file": w.source} if w.kind == "job-definition" else {}
    if have is None:
        actions.append(Action("create", w.kind, w.name, request=w.request, note=f"from {w.source}", details=file))
        return
    if not is_ours(have.get("tags"), project, prefix):
        if w.adopt:
            actions.append(_on_existing("use", w, have, note="exists (not made by batchdeploy): used as it is"))
        else:
            problems.append(
                f"{w.label} exists but {whose(have.get('tags'))}: it is left alone; "
                f"choose another --prefix or name, or give it by name to use it as it is"
            )
        return
    if w.kind in ("bucket", "ecr-repository"):
        actions.append(_on_existing("ok", w, have, note="exists"))
        return
    if w.kind == "job-definition":
        diffs, shown = jobdef_differences(w.request, have)
    else:
        diffs = differences(w.request, have) + tag_differences(w.request.get("tags"), have.get("tags"))
        shown = [format_difference(d) for d in diffs]
    if not diffs:
        actions.append(_on_existing("ok", w, have, note="exists and matches"))
        return
    fixed = not_updatable(w.kind, diffs)
    if update and fixed:
        problems.append(
            f"{w.label}: AWS cannot update {', '.join(fixed)}; delete it (batchdeploy delete) and create it again"
        )
    elif update:
        req = update_request(w.kind, w.name, w.request, diffs)
        tags = {p[len("tags.") :]: v for p, v, _ in diffs if p.startswith("tags.")}
        actions.append(_on_existing("update", w, have, request=req, diff=shown, details={"tags": tags, **file}))
    else:
        note = "--update to apply" if not fixed else f"AWS cannot update {', '.join(fixed)}: delete and create it again"
        actions.append(_on_existing("differs", w, have, diff=shown, note=note))


def _on_found(op: str, kind: str, d: dict, **more) -> Action:
    """An action on one of `plan_delete`'s descriptions (`name`, `arn`)."""
    return Action(op, kind, d["name"], d.get("arn"), **more)


def plan_delete(
    found: dict, project: str, prefix: str, keep: set, delete_contents: bool, delete_images: bool
):
    """What `delete` does, in order. `found` holds everything described: `compute-environment` and
    `job-queue` (all of the account's), `job-definition` (this project's ACTIVE revisions), `bucket` and
    `ecr-repository` (the candidates by name), each a list of descriptions with `name`, `arn`, `tags`."""
    actions, gone_queues = _delete_queues(found, project, prefix, keep)
    actions += _delete_ces(found, project, prefix, keep, gone_queues)
    actions += _delete_job_definitions(found, project, prefix, keep)
    for kind, flag, ok in (
        ("ecr-repository", "--delete-images", delete_images),
        ("bucket", "--delete-bucket-contents", delete_contents),
    ):
        actions += _delete_storage(found, kind, flag, ok, project, prefix)
    return actions


def _delete_queues(found: dict, project: str, prefix: str, keep: set) -> tuple[list[Action], set]:
    queues = [
        q for q in found.get("job-queue", []) if is_ours(q["tags"], project, prefix) and q["name"] not in keep
    ]
    actions = []
    for q in queues:
        note = "disable, wait, delete"
        if q.get("active_jobs"):
            note += f"; its {q['active_jobs']} unfinished job(s) will be terminated by AWS"
        actions.append(
            _on_found("delete", "job-queue", q, note=note, details={"disable": q.get("state") != "DISABLED"})
        )
    return actions, {q["name"] for q in queues}


def _delete_ces(found: dict, project: str, prefix: str, keep: set, gone_queues: set) -> list[Action]:
    actions = []
    for ce in found.get("compute-environment", []):
        if not is_ours(ce["tags"], project, prefix) or ce["name"] in keep:
            continue
        users = [
            q["name"]
            for q in found.get("job-queue", [])
            if q["name"] not in gone_queues and ce["name"] in queue_ce_names(q)
        ]
        if users:
            note = f"still used by job queue {', '.join(users)}, which is not being deleted"
            actions.append(_on_found("keep", "compute-environment", ce, note=note))
            continue
        disable = {"disable": ce.get("state") != "DISABLED"}
        actions.append(_on_found("delete", "compute-environment", ce, note="disable, wait, delete", details=disable))
    return actions


def _delete_job_definitions(found: dict, project: str, prefix: str, keep: set) -> list[Action]:
    by_name: dict[str, list[str]] = {}
    by_update_jobs: dict[str, int] = {}
    for jd in found.get("job-definition", []):
        if is_ours(jd["tags"], project, prefix) and jd["name"] not in keep:
            by_name.setdefault(jd["name"], []).append(jd["arn"])
        elif jd["tags"].get(TAG_PROJECT) == project and TAG_PREFIX not in jd["tags"]:
            by_update_jobs[jd["name"]] = by_update_jobs.get(jd["name"], 0) + 1
    actions = [
        Action(
            "delete",
            "job-definition",
            name,
            note=f"deregister {len(arns)} revision(s)",
            details={"revisions": sorted(arns)},
        )
        for name, arns in sorted(by_name.items())
    ]
    # -u tags the project only: the same name serves every ENV, so a prefix's teardown leaves it.
    actions += [
        Action(
            "keep",
            "job-definition",
            name,
            note=f"{n} revision(s) registered by update-jobs for the whole project: left alone "
            "(update-jobs --prune manages them)",
        )
        for name, n in sorted(by_update_jobs.items())
    ]
    return actions


def _delete_storage(found: dict, kind: str, flag: str, ok: bool, project: str, prefix: str) -> list[Action]:
    actions = []
    for item in found.get(kind, []):
        full = bool(item.get("not_empty"))
        if not is_ours(item["tags"], project, prefix):
            actions.append(_on_found("keep", kind, item, note=f"{whose(item['tags'])}: left alone"))
        elif full and not ok:
            what = "images" if kind == "ecr-repository" else "objects"
            actions.append(_on_found("keep", kind, item, note=f"not empty ({flag} deletes it with its {what})"))
        else:
            note = "empty it, then delete" if full else "delete"
            actions.append(_on_found("delete", kind, item, note=note, details={"empty": full}))
    return actions


def plan_lines(actions: list[Action], title: str) -> list[str]:
    lines = [title]
    if not actions:
        lines.append("  (nothing)")
    for a in actions:
        text = f"  {a.op:<8} {LABEL[a.kind]:<20} {a.name}"
        if a.note:
            text += f"  ({a.note})"
        lines.append(text)
        lines += [f"             {d}" for d in a.diff]
    return lines
