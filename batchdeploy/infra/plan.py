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
from batchdeploy.infra.model import BATCH_API, CREATE_ORDER, LABEL, Action, Wanted, queue_ce_names

SHARED_REPOSITORY = "the project's, shared by all its prefixes"


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
    if w.kind == "ecr-repository" and (have.get("tags") or {}).get(TAG_PROJECT) == project:
        actions.append(_on_existing("ok", w, have, note=f"exists ({SHARED_REPOSITORY})"))
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
    want = w.request
    if w.kind == "job-definition":
        diffs, shown = jobdef_differences(w.request, have)
    else:
        if have.get("state") == "DISABLED" and "state" not in w.request:
            want = {**w.request, "state": "ENABLED"}  # AWS's default, which the file leaves to it
        diffs = differences(want, have) + tag_differences(w.request.get("tags"), have.get("tags"))
        shown = [format_difference(d) for d in diffs]
        if _disabled(w, want, have, update, problems):
            return
    if not diffs:
        actions.append(_on_existing("ok", w, have, note="exists and matches"))
        return
    fixed = not_updatable(w.kind, diffs)
    if update and fixed:
        problems.append(
            f"{w.label}: AWS cannot update {', '.join(fixed)}; delete it (batchdeploy delete) and create it again"
        )
    elif update:
        req = update_request(w.kind, w.name, want, diffs)
        tags = {p[len("tags.") :]: v for p, v, _ in diffs if p.startswith("tags.")}
        actions.append(_on_existing("update", w, have, request=req, diff=shown, details={"tags": tags, **file}))
    else:
        note = "--update to apply" if not fixed else f"AWS cannot update {', '.join(fixed)}: delete and create it again"
        actions.append(_on_existing("differs", w, have, diff=shown, note=note))


def _disabled(w: Wanted, want: dict, have: dict, update: bool, problems: list) -> bool:
    """A compute environment or queue of ours that is DISABLED while its file wants it ENABLED (what an
    interrupted `delete` leaves): a problem without --update, since a queue on it runs nothing."""
    if w.kind not in BATCH_API or have.get("state") != "DISABLED" or want.get("state") != "ENABLED" or update:
        return False
    problems.append(
        f"{w.label} is ours but DISABLED (an interrupted delete leaves it so; it runs no jobs): "
        "run create --update to enable it again, or delete to finish removing it"
    )
    return True


def _on_found(op: str, kind: str, d: dict, **more) -> Action:
    """An action on one of `plan_delete`'s descriptions (`name`, `arn`)."""
    return Action(op, kind, d["name"], d.get("arn"), **more)


def plan_delete(
    found: dict, project: str, prefix: str, keep: set, delete_contents: bool, delete_images: bool
):
    """What `delete` does, in order. `found` holds everything described: `compute-environment` and
    `job-queue` (all of the account's), `job-definition` (this project's ACTIVE revisions), `bucket` and
    `ecr-repository` (the candidates by name), each a list of descriptions with `name`, `arn`, `tags`;
    `images` (every ACTIVE job definition's ARN and the images it names)."""
    actions, gone_queues = _delete_queues(found, project, prefix, keep)
    actions += _delete_ces(found, project, prefix, keep, gone_queues)
    actions += _delete_job_definitions(found, project, prefix, keep)
    gone = {arn for a in actions if a.op == "delete" for arn in a.details.get("revisions", [])}
    actions += _delete_parameters(found, project, prefix)
    actions += _delete_repositories(found, project, prefix, delete_images, gone)
    actions += _delete_bucket(found, delete_contents, project, prefix)
    return actions + _left_alone(found, project, prefix)


def _left_alone(found: dict, project: str, prefix: str) -> list[Action]:
    """Batch resources named like this prefix's (PREFIX-...) that do not carry its tags: kept, and why."""
    actions = []
    for kind in ("compute-environment", "job-queue"):
        for d in found.get(kind, []):
            if d["name"].startswith(f"{prefix}-") and not is_ours(d["tags"], project, prefix):
                actions.append(_on_found("keep", kind, d, note=f"{whose(d['tags'])}: left alone"))
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


def _other_prefixes(found: dict, project: str, prefix: str) -> list[str]:
    """This project's other prefixes that still have a compute environment, queue or job definition."""
    tags = [d["tags"] for kind in ("compute-environment", "job-queue", "job-definition") for d in found.get(kind, [])]
    return sorted(
        {t[TAG_PREFIX] for t in tags if t.get(TAG_PROJECT) == project and t.get(TAG_PREFIX, prefix) != prefix}
    )


def _image_users(found: dict, repo: dict, gone: set) -> list[str]:
    """ACTIVE job definitions (those this run does not deregister) whose images are in `repo`."""
    uri = repo.get("repositoryUri")
    if not uri:
        return []
    return sorted(
        jd["arn"].rsplit("/", 1)[-1]
        for jd in found.get("images", [])
        if jd["arn"] not in gone and any(i == uri or i.startswith((uri + ":", uri + "@")) for i in jd["images"])
    )


def _delete_repositories(found: dict, project: str, prefix: str, ok: bool, gone: set) -> list[Action]:
    """ECR repositories are the project's, shared by its prefixes (-b pushes every prefix's images to one):
    one goes with the last prefix's delete, once no job definition still names its images."""
    actions, others = [], _other_prefixes(found, project, prefix)
    for repo in found.get("ecr-repository", []):
        users = _image_users(found, repo, gone)
        note = None
        if repo["tags"].get(TAG_PROJECT) != project:
            note = f"{whose(repo['tags'])}: left alone"
        elif others:
            note = f"{SHARED_REPOSITORY}: prefix {', '.join(others)} still has resources; the last prefix's delete removes it"
        elif users:
            note = f"job definition {', '.join(users[:3])}{' ...' if len(users) > 3 else ''} still names its images"
        elif repo.get("not_empty") and not ok:
            note = "not empty (--delete-images deletes it with its images)"
        if note:
            actions.append(_on_found("keep", "ecr-repository", repo, note=note))
        else:
            full = bool(repo.get("not_empty"))
            note = "empty it, then delete" if full else "delete"
            actions.append(_on_found("delete", "ecr-repository", repo, note=note, details={"empty": full}))
    return actions


def _delete_parameters(found: dict, project: str, prefix: str) -> list[Action]:
    """SECRETS' parameters: this prefix's (PROJECT-ENV when -u or -r stored them) go; others are kept."""
    actions = []
    for item in found.get("ssm-parameter", []):
        if is_ours(item["tags"], project, prefix):
            actions.append(_on_found("delete", "ssm-parameter", item, note="SECRETS value (ssm:DeleteParameters)"))
        else:
            actions.append(_on_found("keep", "ssm-parameter", item, note=f"{whose(item['tags'])}: left alone"))
    return actions


def _delete_bucket(found: dict, ok: bool, project: str, prefix: str) -> list[Action]:
    actions = []
    for item in found.get("bucket", []):
        full = bool(item.get("not_empty"))
        if not is_ours(item["tags"], project, prefix):
            actions.append(_on_found("keep", "bucket", item, note=f"{whose(item['tags'])}: left alone"))
        elif full and not ok:
            note = "not empty (--delete-bucket-contents deletes it with its objects)"
            actions.append(_on_found("keep", "bucket", item, note=note))
        else:
            note = "empty it, then delete" if full else "delete"
            actions.append(_on_found("delete", "bucket", item, note=note, details={"empty": full}))
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
