"""`--create` / `--delete`: the project's S3 bucket, ECR repositories, compute environment, job queue and
job definition, from files in AWS's own request shapes (pegasus-aws-batch style), planned first and then
executed (chalice's deployer style).

    wanted (pure: files + flags)  ->  observed (Describe*)  ->  plan (pure)  ->  confirm  ->  execute

Everything this creates carries two tags, `batchdeploy:project` = PROJECT_NAME and `batchdeploy:prefix`
= PREFIX; `delete` and `status` find resources by them, and nothing without both is ever changed or
deleted. A resource given by name or ARN is used as it is: never created, updated, tagged or deleted.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from batchdeploy import config
from batchdeploy.aws import error_code, shapes, translate
from batchdeploy.errors import ConfigError, OperationError, UsageError
from batchdeploy.polling import wait_until
from batchdeploy.state import atomic_write

TAG_PROJECT = "batchdeploy:project"
TAG_PREFIX = "batchdeploy:prefix"
STATE_FILE = "infra.json"

# Dependency order for creating. Deleting (plan_delete) goes the other way for Batch (a queue before
# its compute environment), and storage last, so results are not lost to a teardown that stops half-way.
CREATE_ORDER = ("bucket", "ecr-repository", "compute-environment", "job-queue", "job-definition")
LABEL = {
    "bucket": "S3 bucket",
    "ecr-repository": "ECR repository",
    "compute-environment": "compute environment",
    "job-queue": "job queue",
    "job-definition": "job definition",
}
FLAG = {
    "compute-environment": "--compute-environment",
    "job-queue": "--job-queue",
    "job-definition": "--job-definition",
}
REQUEST_SHAPE = {
    "compute-environment": "CreateComputeEnvironment",
    "job-queue": "CreateJobQueue",
    "job-definition": "RegisterJobDefinition",
}
NAME_FIELD = {
    "compute-environment": "computeEnvironmentName",
    "job-queue": "jobQueueName",
    "job-definition": "jobDefinitionName",
}
DEFAULT_FILES = {"compute-environment": "compute-environment.json", "job-queue": "job-queue.json"}


class BatchApi(NamedTuple):
    """Compute environments and job queues go through Batch calls of one shape, named after the kind."""

    field: str  # computeEnvironment: names one in Update*/Delete*; +s lists them, +Arn is its ARN
    action: str  # ComputeEnvironment: CreateComputeEnvironment, batch:DeleteComputeEnvironment
    method: str  # compute_environment: batch.create_compute_environment, describe_compute_environments


BATCH_API = {
    "compute-environment": BatchApi("computeEnvironment", "ComputeEnvironment", "compute_environment"),
    "job-queue": BatchApi("jobQueue", "JobQueue", "job_queue"),
}

# AWS's documented limits that botocore's model does not carry (moto enforces the first one too).
CE_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]")
PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
ECR_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
ECR_HOST = re.compile(r"\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
MAX_TAGS = 50
# Fields AWS says "don't specify" for Fargate compute resources; AWS rejects the request if they are set.
NOT_FOR_FARGATE = (
    "allocationStrategy",
    "minvCpus",
    "desiredvCpus",
    "instanceTypes",
    "imageId",
    "ec2KeyPair",
    "instanceRole",
    "tags",
    "placementGroup",
    "bidPercentage",
    "spotIamFleetRole",
    "launchTemplate",
    "ec2Configuration",
)
ACTIVE_JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
DEFAULT_TIMEOUT = 600


# ---------------------------------------------------------------------------------------------
# What the user wants (pure)


@dataclass
class Wanted:
    """One resource as the user asked for it."""

    kind: str
    name: str
    request: dict | None = None  # the Create*/Register* request; None: an existing one, used as it is
    source: str = ""  # where it came from, for messages
    adopt: bool = False  # an existing one without our tags is used as it is (an explicitly named bucket)
    ref: str | None = None  # the name or ARN given on the command line (job definitions: NAME[:REV])

    @property
    def label(self) -> str:
        return f"{LABEL[self.kind]} {self.name}"


def our_tags(project: str, prefix: str) -> dict[str, str]:
    return {TAG_PROJECT: project, TAG_PREFIX: prefix}


def is_ours(tags: dict | None, project: str, prefix: str) -> bool:
    tags = tags or {}
    return tags.get(TAG_PROJECT) == project and tags.get(TAG_PREFIX) == prefix


def whose(tags: dict | None) -> str:
    tags = tags or {}
    if TAG_PROJECT not in tags:
        return "was not created by batchdeploy (no batchdeploy:project tag)"
    if TAG_PREFIX not in tags:
        return f"belongs to project {tags[TAG_PROJECT]!r} as a whole (update-jobs registered it; no batchdeploy:prefix tag)"
    return f"belongs to project {tags.get(TAG_PROJECT)!r}, prefix {tags.get(TAG_PREFIX)!r}"


def default_prefix(project: str, env: str) -> str:
    return f"{project}-{env}"


def default_name(kind: str, prefix: str) -> str:
    if kind == "bucket":
        # S3 names are lowercase, without underscores; the other names keep the prefix as it is.
        return f"{prefix}-bucket".lower().replace("_", "-")
    return f"{prefix}-{kind}"


def name_from_ref(kind: str, ref: str) -> str:
    """`arn:aws:batch:r:a:job-queue/NAME` -> NAME; `NAME:3` (a job definition revision) -> NAME."""
    if ref.startswith("arn:"):
        ref = ref.split("/", 1)[-1]
    if kind == "job-definition":
        ref = ref.split(":", 1)[0]
    return ref


def bucket_problems(name: str) -> list[str]:
    """S3's naming rules (general purpose buckets)."""
    if not BUCKET_NAME.fullmatch(name):
        return ["3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"]
    problems = []
    if ".." in name:
        problems.append("no two adjacent dots")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        problems.append("not formatted like an IP address")
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        problems.append("no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3)")
    return problems


def repository_names(registry: str | None, images: str | None, project: str) -> list[str]:
    """The ECR repositories `-b` pushes to: one per image in IMAGES (else PROJECT_NAME), under
    AWS_REGISTRY's path; none when AWS_REGISTRY is not an ECR registry."""
    if not registry:
        return []
    host, _, path = registry.partition("/")
    if not ECR_HOST.fullmatch(host):
        return []
    names = [pair.split("=", 1)[0] for pair in (images or "").split()] or [project]
    return [f"{path.strip('/')}/{n}" if path.strip("/") else n for n in names]


def fill_specs(docs: dict, prefix: str, project: str) -> dict:
    """Names, tags and defaults a compute environment or queue file may leave out, filled in (a copy;
    `docs` is kind -> request; job definitions are `jobdef_request`'s business).

    - the name: PREFIX-compute-environment, PREFIX-job-queue;
    - the tags: batchdeploy:project and batchdeploy:prefix beside the file's own;
    - a queue's `state` (AWS's default, ENABLED: moto insists on it) and `computeEnvironmentOrder`
      entries without a `computeEnvironment` (pegasus' files leave it out): the compute environment of
      this run, whether created from a file or given by name.
    """
    out = {}
    for kind, doc in docs.items():
        if not isinstance(doc, dict):
            out[kind] = doc
            continue
        doc = copy.deepcopy(doc)
        doc.setdefault(NAME_FIELD[kind], default_name(kind, prefix))
        tags = doc.get("tags")
        if tags is None or isinstance(tags, dict):
            doc["tags"] = {**(tags or {}), **our_tags(project, prefix)}
        out[kind] = doc
    return out


def fill_queue_order(queue: dict, ce_name: str | None) -> dict:
    queue = copy.deepcopy(queue)
    queue.setdefault("state", "ENABLED")
    if "computeEnvironmentOrder" not in queue and "serviceEnvironmentOrder" not in queue:
        queue["computeEnvironmentOrder"] = [{"order": 1}]
    order = queue.get("computeEnvironmentOrder")
    if ce_name and isinstance(order, list):
        for item in order:
            if isinstance(item, dict) and "computeEnvironment" not in item:
                item["computeEnvironment"] = ce_name
    return queue


def spec_problems(kind: str, doc, project: str, prefix: str) -> list[str]:
    """Every problem AWS would reject a compute environment or queue request for: botocore's model,
    then the documented limits the model does not carry."""
    if not isinstance(doc, dict):
        return [f"(top): expected an object, got {type(doc).__name__}"]
    problems = shapes.request("batch", REQUEST_SHAPE[kind], doc)
    name = doc.get(NAME_FIELD[kind])
    if isinstance(name, str) and not CE_QUEUE_NAME.fullmatch(name):
        problems.append(
            f"{NAME_FIELD[kind]}: {name!r} must be 2-128 letters, digits, '-' and '_', "
            "starting and ending with a letter or digit"
        )
    tags = doc.get("tags")
    if isinstance(tags, dict):
        if len(tags) > MAX_TAGS:
            problems.append(f"tags: {len(tags)} tags with batchdeploy's two; AWS allows {MAX_TAGS}")
        for key in tags:
            if key.lower().startswith("aws:"):
                problems.append(f"tags.{key}: keys starting with aws: are reserved by AWS")
        for key, value in our_tags(project, prefix).items():
            if tags.get(key) != value:
                problems.append(f"tags.{key}: batchdeploy sets this tag; remove it from the file")
    if kind == "compute-environment":
        problems += _ce_limits(doc)
    elif kind == "job-queue":
        problems += _queue_limits(doc)
    return problems


def _ce_limits(doc: dict) -> list[str]:
    problems = []
    res = doc.get("computeResources")
    if doc.get("type") == "MANAGED" and res is None:
        problems.append("computeResources: required for a MANAGED compute environment")
    if doc.get("type") == "UNMANAGED" and res is not None:
        problems.append("computeResources: not allowed for an UNMANAGED compute environment")
    if not isinstance(res, dict):
        return problems
    rtype = res.get("type")
    if rtype in ("FARGATE", "FARGATE_SPOT"):
        for key in NOT_FOR_FARGATE:
            if key in res:
                problems.append(f"computeResources.{key}: not applicable to {rtype}; remove it")
    else:
        if rtype in ("EC2", "SPOT"):
            for key in ("minvCpus", "instanceTypes", "instanceRole"):
                if key not in res:
                    problems.append(f"computeResources.{key}: required for {rtype} compute resources")
        lo, want, hi = res.get("minvCpus"), res.get("desiredvCpus"), res.get("maxvCpus")
        nums = [v for v in (lo, want, hi) if isinstance(v, int) and not isinstance(v, bool)]
        if len(nums) == len([v for v in (lo, want, hi) if v is not None]):
            if lo is not None and lo < 0:
                problems.append("computeResources.minvCpus: must be 0 or more")
            if lo is not None and hi is not None and lo > hi:
                problems.append(f"computeResources.minvCpus: {lo} is above maxvCpus {hi}")
            if want is not None and ((lo is not None and want < lo) or (hi is not None and want > hi)):
                problems.append(f"computeResources.desiredvCpus: {want} is outside minvCpus..maxvCpus")
        bid = res.get("bidPercentage")
        if isinstance(bid, int) and not 0 <= bid <= 100:
            problems.append(f"computeResources.bidPercentage: {bid} is outside 0-100")
    if rtype in ("FARGATE", "FARGATE_SPOT") and not res.get("subnets"):
        problems.append("computeResources.subnets: required for Fargate compute resources")
    hi = res.get("maxvCpus")
    if isinstance(hi, int) and not isinstance(hi, bool) and hi < 0:
        problems.append("computeResources.maxvCpus: must be 0 or more")
    return problems


def _queue_limits(doc: dict) -> list[str]:
    problems = []
    priority = doc.get("priority")
    if isinstance(priority, int) and not isinstance(priority, bool) and not 0 <= priority <= 1000:
        problems.append(f"priority: {priority} is outside 0-1000")
    order = doc.get("computeEnvironmentOrder")
    if isinstance(order, list):
        if not order:
            problems.append("computeEnvironmentOrder: at least one compute environment")
        if len(order) > 3:
            problems.append(f"computeEnvironmentOrder: {len(order)} compute environments; AWS allows 3")
        orders = [i.get("order") for i in order if isinstance(i, dict)]
        if len(set(orders)) != len(orders):
            problems.append("computeEnvironmentOrder: each `order` must be different")
        for i, item in enumerate(order):
            if isinstance(item, dict) and "computeEnvironment" not in item:
                problems.append(
                    f"computeEnvironmentOrder[{i}].computeEnvironment: missing, and no compute environment "
                    "is given (--compute-environment FILE|NAME|ARN, or compute-environment.json)"
                )
    return problems


def queue_ce_names(queue: dict) -> list[str]:
    order = queue.get("computeEnvironmentOrder") or []
    return [
        name_from_ref("compute-environment", i["computeEnvironment"])
        for i in order
        if isinstance(i, dict) and isinstance(i.get("computeEnvironment"), str)
    ]


# ---------------------------------------------------------------------------------------------
# Differences between a file and what AWS describes (pure)

_MISSING = object()
# Batch moves desiredvCpus itself as it scales; it is not the file's business after creation.
_IGNORED = {"computeResources.desiredvCpus", "tags"}
_UNORDERED = {
    "computeResources.subnets",
    "computeResources.securityGroupIds",
    "computeResources.instanceTypes",
}
# AWS answers with the ARN where a file may give a role's name.
_ROLES = {"serviceRole", "computeResources.instanceRole", "computeResources.spotIamFleetRole"}


def _show(value) -> str:
    if value is _MISSING:
        return "(not set)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _same_scalar(path: str, want, have) -> bool:
    if path in _ROLES and isinstance(want, str) and isinstance(have, str) and not want.startswith("arn:"):
        return have == want or have.endswith("/" + want)
    return want == have


def differences(want, have, path: str = "") -> list[tuple[str, object, object]]:
    """(json path, file's value, AWS's value) for every field the file sets that AWS has otherwise.

    Only what the file sets is compared: AWS fills in defaults the file need not repeat.
    """
    if path in _IGNORED or path in NAME_FIELD.values():
        return []
    if path == "computeEnvironmentOrder" and isinstance(want, list) and isinstance(have, list):

        def norm(items):
            return sorted(
                (i.get("order"), name_from_ref("compute-environment", str(i.get("computeEnvironment"))))
                for i in items
                if isinstance(i, dict)
            )

        return [] if norm(want) == norm(have) else [(path, want, have)]
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [(path, want, have)]
        out = []
        for key, value in want.items():
            out += differences(value, have.get(key, _MISSING), f"{path}.{key}" if path else key)
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [(path, want, have)]
        if path in _UNORDERED:
            return [] if sorted(map(str, want)) == sorted(map(str, have)) else [(path, want, have)]
        out = []
        for i, (w, h) in enumerate(zip(want, have)):
            out += differences(w, h, f"{path}[{i}]")
        # A list element that differs is shown whole: "environment[1].value" alone says little.
        return [(path, want, have)] if out and path else out
    return [] if _same_scalar(path, want, have) else [(path, want, have)]


def tag_differences(want: dict | None, have: dict | None) -> list[tuple[str, object, object]]:
    have = have or {}
    return [(f"tags.{k}", v, have.get(k, _MISSING)) for k, v in (want or {}).items() if have.get(k) != v]


def jobdef_differences(want: dict, have: dict):
    """A job definition compared as -u compares it: normalized, so what AWS adds or reorders is no
    change. (diffs, lines shown as `path AWS -> file`)."""
    from batchdeploy.jobs import compare

    found = compare.changes(have, want)
    return [(c.path, c.after, c.before) for c in found], [compare.format_change(c) for c in found]


def format_difference(item) -> str:
    path, want, have = item
    return f"{path or '(top)'}: file {_show(want)}, AWS {_show(have)}"


def _update_fields(kind: str) -> tuple[set[str], set[str]]:
    """Top-level fields of Update*, and computeResources fields UpdateComputeEnvironment takes."""
    if kind == "compute-environment":
        shape = shapes.input_shape("batch", "UpdateComputeEnvironment")
        return set(shape.members) - {"computeEnvironment"}, set(shape.members["computeResources"].members)
    if kind == "job-queue":
        shape = shapes.input_shape("batch", "UpdateJobQueue")
        return set(shape.members) - {"jobQueue"}, set()
    return set(), set()


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def not_updatable(kind: str, diffs) -> list[str]:
    """Paths AWS cannot change in place (a job definition changes by a new revision: always possible)."""
    if kind == "job-definition":
        return []
    top_ok, res_ok = _update_fields(kind)
    bad = []
    for path, _, _ in diffs:
        top = _top(path)
        if top == "tags":
            continue  # TagResource
        if top == "computeResources" and path != "computeResources":
            if _top(path[len("computeResources.") :]) not in res_ok:
                bad.append(path)
        elif top not in top_ok:
            bad.append(path)
    return bad


def update_request(kind: str, name: str, want: dict, diffs) -> dict:
    """The Update* request that makes AWS match the file on the fields that differ (tags aside)."""
    if kind == "job-definition":
        return want
    req: dict = {BATCH_API[kind].field: name}
    for path, _, _ in diffs:
        top = _top(path)
        if top == "tags":
            continue
        if top == "computeResources" and path != "computeResources":
            sub = _top(path[len("computeResources.") :])
            req.setdefault("computeResources", {})[sub] = want["computeResources"][sub]
        else:
            req[top] = want[top]
    return req


# ---------------------------------------------------------------------------------------------
# The plan (pure)


@dataclass
class Action:
    op: str  # create | update | ok | differs | use | delete | keep
    kind: str
    name: str
    arn: str | None = None
    request: dict | None = None
    diff: list[str] = field(default_factory=list)
    note: str = ""
    details: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{LABEL[self.kind]} {self.name}"

    def as_dict(self) -> dict:
        d = {"op": self.op, "kind": self.kind, "name": self.name, "arn": self.arn}
        if self.request is not None:
            d["request"] = self.request
        if self.diff:
            d["diff"] = self.diff
        if self.note:
            d["note"] = self.note
        if self.details:
            d["details"] = self.details
        return d


CHANGES = ("create", "update", "delete")


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
            for ce in queue_ce_names(w.request):
                if ce not in creating_ce and observed.get(("compute-environment", ce)) is None:
                    problems.append(
                        f"{w.label}: computeEnvironmentOrder names compute environment {ce}, which does not exist"
                    )
        file = {"file": w.source} if w.kind == "job-definition" else {}
        if have is None:
            actions.append(
                Action("create", w.kind, w.name, request=w.request, note=f"from {w.source}", details=file)
            )
            continue
        if not is_ours(have.get("tags"), project, prefix):
            if w.adopt:
                actions.append(
                    _on_existing("use", w, have, note="exists (not made by batchdeploy): used as it is")
                )
            else:
                problems.append(
                    f"{w.label} exists but {whose(have.get('tags'))}: it is left alone; "
                    f"choose another --prefix or name, or give it by name to use it as it is"
                )
            continue
        if w.kind in ("bucket", "ecr-repository"):
            actions.append(_on_existing("ok", w, have, note="exists"))
            continue
        if w.kind == "job-definition":
            diffs, shown = jobdef_differences(w.request, have)
        else:
            diffs = differences(w.request, have) + tag_differences(w.request.get("tags"), have.get("tags"))
            shown = [format_difference(d) for d in diffs]
        if not diffs:
            actions.append(_on_existing("ok", w, have, note="exists and matches"))
            continue
        fixed = not_updatable(w.kind, diffs)
        if update and fixed:
            problems.append(
                f"{w.label}: AWS cannot update {', '.join(fixed)}; delete it (batchdeploy delete) and create it again"
            )
        elif update:
            req = update_request(w.kind, w.name, w.request, diffs)
            tags = {p[len("tags.") :]: v for p, v, _ in diffs if p.startswith("tags.")}
            actions.append(
                _on_existing("update", w, have, request=req, diff=shown, details={"tags": tags, **file})
            )
        else:
            note = (
                "--update to apply"
                if not fixed
                else f"AWS cannot update {', '.join(fixed)}: delete and create it again"
            )
            actions.append(_on_existing("differs", w, have, diff=shown, note=note))
    return actions, problems


def _on_found(op: str, kind: str, d: dict, **more) -> Action:
    """An action on one of `plan_delete`'s descriptions (`name`, `arn`)."""
    return Action(op, kind, d["name"], d.get("arn"), **more)


def plan_delete(
    found: dict, project: str, prefix: str, keep: set, delete_contents: bool, delete_images: bool
):
    """What `delete` does, in order. `found` holds everything described: `compute-environment` and
    `job-queue` (all of the account's), `job-definition` (this project's ACTIVE revisions), `bucket` and
    `ecr-repository` (the candidates by name), each a list of descriptions with `name`, `arn`, `tags`."""
    actions = []
    queues = [
        q for q in found.get("job-queue", []) if is_ours(q["tags"], project, prefix) and q["name"] not in keep
    ]
    gone_queues = {q["name"] for q in queues}
    for q in queues:
        note = "disable, wait, delete"
        if q.get("active_jobs"):
            note += f"; its {q['active_jobs']} unfinished job(s) will be terminated by AWS"
        actions.append(
            _on_found("delete", "job-queue", q, note=note, details={"disable": q.get("state") != "DISABLED"})
        )
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
        actions.append(
            _on_found("delete", "compute-environment", ce, note="disable, wait, delete", details=disable)
        )
    by_name: dict[str, list[str]] = {}
    by_update_jobs: dict[str, int] = {}
    for jd in found.get("job-definition", []):
        if is_ours(jd["tags"], project, prefix) and jd["name"] not in keep:
            by_name.setdefault(jd["name"], []).append(jd["arn"])
        elif jd["tags"].get(TAG_PROJECT) == project and TAG_PREFIX not in jd["tags"]:
            by_update_jobs[jd["name"]] = by_update_jobs.get(jd["name"], 0) + 1
    for name, arns in sorted(by_name.items()):
        actions.append(
            Action(
                "delete",
                "job-definition",
                name,
                note=f"deregister {len(arns)} revision(s)",
                details={"revisions": sorted(arns)},
            )
        )
    for name, n in sorted(by_update_jobs.items()):
        # -u tags the project only: the same name serves every ENV, so a prefix's teardown leaves it.
        actions.append(
            Action(
                "keep",
                "job-definition",
                name,
                note=f"{n} revision(s) registered by update-jobs for the whole project: left alone "
                "(update-jobs --prune manages them)",
            )
        )
    for kind, flag, ok in (
        ("ecr-repository", "--delete-images", delete_images),
        ("bucket", "--delete-bucket-contents", delete_contents),
    ):
        for item in found.get(kind, []):
            full = bool(item.get("not_empty"))
            if not is_ours(item["tags"], project, prefix):
                actions.append(_on_found("keep", kind, item, note=f"{whose(item['tags'])}: left alone"))
            elif full and not ok:
                what = "images" if kind == "ecr-repository" else "objects"
                actions.append(
                    _on_found("keep", kind, item, note=f"not empty ({flag} deletes it with its {what})")
                )
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


# ---------------------------------------------------------------------------------------------
# .aws_env (pure edit, atomic write)

_ENV_LINE = re.compile(
    r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<eq>\s*=\s*)(?P<rest>.*?)(?P<eol>\r?\n?)$"
)


def _trailing_comment(rest: str) -> str:
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        tail = rest[end + 1 :] if end > 0 else ""
    else:
        m = re.search(r"\s+#", rest)
        tail = rest[m.start() :] if m else ""
    return tail if tail.strip().startswith("#") else ""


def edit_env_text(text: str, values: dict[str, str], comment: str = "") -> str:
    """`text` with each KEY=... line of `values` set to the new value (comments, order, other lines and
    a trailing `# comment` kept); keys it lacks are appended at the end."""
    out, seen = [], set()
    for line in text.splitlines(keepends=True):
        m = _ENV_LINE.match(line)
        if m and m["key"] in values:
            seen.add(m["key"])
            line = f"{m['lead']}{m['key']}{m['eq']}{values[m['key']]}{_trailing_comment(m['rest'])}{m['eol'] or ''}"
        out.append(line)
    missing = [k for k in values if k not in seen]
    if missing:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        if comment:
            out.append(f"# {comment}\n")
        out += [f"{k}={values[k]}\n" for k in missing]
    return "".join(out)


def write_env(path: Path, values: dict[str, str], comment: str = "") -> Path:
    path = Path(path).resolve()  # a symlinked .aws_env keeps its link; its target is edited
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        text, mode = "", 0o600
    return atomic_write(path, edit_env_text(text, values, comment), mode=mode)


# ---------------------------------------------------------------------------------------------
# Waiting (time injected)


# ---------------------------------------------------------------------------------------------
# Inputs: files and flags -> wanted


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _input(kind: str, value: str | None, project_dir: Path) -> tuple[str, object]:
    """('file', Path) | ('existing', name or ARN) | ('none', None)."""
    if value is None:
        default = project_dir / DEFAULT_FILES[kind] if kind in DEFAULT_FILES else None
        return ("file", default) if default and default.is_file() else ("none", None)
    if value.startswith("arn:"):
        return "existing", value
    path = Path(value).expanduser()
    if path.is_file() or value.endswith(".json") or os.sep in value or path.is_dir():
        return "file", path
    return "existing", value


def _given(ctx) -> tuple[dict, dict]:
    """--compute-environment, --job-queue and --job-definition (else the default files) as
    (kind -> name or ARN of an existing one, kind -> file)."""
    existing, files = {}, {}
    for kind in FLAG:
        how, value = _input(kind, getattr(ctx.args, kind.replace("-", "_")), ctx.cfg.project_dir)
        if how == "existing":
            existing[kind] = value
        elif how == "file":
            files[kind] = value
    return existing, files


def jobdef_request(cfg, path: Path, shown: str, prefix: str, image_tag: str | None, image_tag_origin: str):
    """A job definition file as the RegisterJobDefinition request `create` sends: read, rendered and
    checked by -u's own loading (jobs.files.load_file: named PREFIX-job-definition when the file leaves
    the name out, `${PREFIX}` beside the configuration), with the prefix tag beside -u's project and
    hash tags. Returns (request, problems, warnings), each line naming the file."""
    from batchdeploy.jobs import compare, definition, files

    project = cfg["PROJECT_NAME"]
    src, problems, warnings = files.load_file(
        cfg,
        path,
        image_tag,
        image_tag_origin,
        shown=shown,
        variables={"PREFIX": prefix},
        default_name=default_name("job-definition", prefix),
    )
    if src is None or problems:
        return None, problems, warnings
    tags = src.definition.get("tags") or {}
    if len(tags) + len(our_tags(project, prefix)) + 1 > MAX_TAGS:
        problems = [f"{shown}: tags: with batchdeploy's prefix tag, above AWS's limit of {MAX_TAGS}"]
        return None, problems, warnings
    doc = {**src.definition, "tags": {**tags, TAG_PREFIX: prefix}}
    base = definition.build_request(doc, project)
    return definition.build_request(doc, project, compare.content_hash(base)), [], warnings


DESCRIBE = {
    "compute-environment": "batch:DescribeComputeEnvironments",
    "job-queue": "batch:DescribeJobQueues",
}


def gather_wanted(ctx, prefix: str, project: str) -> list[Wanted]:
    """Files read, rendered, filled and checked; every problem of every file at once (exit 2)."""
    from batchdeploy.jobs.files import resolve_image_tag
    from batchdeploy.state import IMAGES

    args = ctx.args
    existing, files = _given(ctx)
    sources = {kind: _display(path, ctx.cfg.project_dir) for kind, path in files.items()}
    images = (ctx.state.read(IMAGES) or {}).get("images") or {}
    image_tag, tag_origin = resolve_image_tag(ctx.cfg, images)
    # What `${VAR}` may name in the files: the configuration, PREFIX, and IMAGE_TAG as -u resolves it.
    variables = {**ctx.cfg.variables(), "PREFIX": prefix}
    if image_tag is not None:
        variables["IMAGE_TAG"] = image_tag
    problems: list[str] = []
    docs: dict = {}
    for kind in ("compute-environment", "job-queue"):
        if kind not in files:
            continue
        try:
            raw = config.load_json(files[kind], f"{LABEL[kind]} file")
            docs[kind] = config.render(raw, variables, sources[kind], readable_by=f"anyone allowed {DESCRIBE[kind]}")
        except ConfigError as exc:
            found = [f"{sources[kind]}: {p}" for p in exc.problems] if exc.problems else [exc.line()]
            problems += [f"{p} ({tag_origin})" if "${IMAGE_TAG}" in p else p for p in found]
    docs = fill_specs(docs, prefix, project)
    ce_name = None
    if "compute-environment" in existing:
        ce_name = name_from_ref("compute-environment", existing["compute-environment"])
    elif isinstance(docs.get("compute-environment"), dict):
        ce_name = docs["compute-environment"].get("computeEnvironmentName")
    if isinstance(docs.get("job-queue"), dict):
        docs["job-queue"] = fill_queue_order(docs["job-queue"], ce_name)
    for kind, doc in docs.items():
        problems += [f"{sources[kind]}: {p}" for p in spec_problems(kind, doc, project, prefix)]
    if "job-definition" in files:
        docs["job-definition"], found, warnings = jobdef_request(
            ctx.cfg, files["job-definition"], sources["job-definition"], prefix, image_tag, tag_origin
        )
        problems += found
        for w in warnings:
            ctx.out.warn(w)

    wanted: list[Wanted] = []
    bucket = args.bucket or default_name("bucket", prefix)
    for p in bucket_problems(bucket):
        source = (
            "--bucket"
            if args.bucket
            else f"the bucket name made from the prefix ({bucket}); pass --bucket NAME"
        )
        problems.append(f"{source}: {bucket!r} breaks S3's naming rules: {p}")
    wanted.append(
        Wanted(
            "bucket",
            bucket,
            {"Bucket": bucket},
            "--bucket" if args.bucket else "a name made from the prefix",
            adopt=bool(args.bucket),
        )
    )
    repos = args.ecr_repository or repository_names(
        ctx.cfg.get("AWS_REGISTRY"), ctx.cfg.get("IMAGES"), project
    )
    for repo in repos:
        if not (2 <= len(repo) <= 256 and ECR_NAME.fullmatch(repo)):
            problems.append(
                f"ECR repository name {repo!r}: 2-256 of a-z, 0-9, '.', '_', '-' and '/' (namespaces)"
            )
        wanted.append(
            Wanted(
                "ecr-repository",
                repo,
                {"repositoryName": repo},
                "--ecr-repository" if args.ecr_repository else "AWS_REGISTRY and IMAGES",
                adopt=bool(args.ecr_repository),
            )
        )
    for kind, ref in existing.items():
        wanted.append(Wanted(kind, name_from_ref(kind, ref), None, f"{FLAG[kind]} {ref}", ref=ref))
    for kind, doc in docs.items():
        name = doc.get(NAME_FIELD[kind]) if isinstance(doc, dict) else None
        wanted.append(Wanted(kind, str(name), doc, sources[kind]))
    if problems:
        raise ConfigError(
            "cannot create from these inputs",
            problems,
            hint="fix them (the files use AWS's request shapes: CreateComputeEnvironment, CreateJobQueue, RegisterJobDefinition)",
        )
    return wanted


# ---------------------------------------------------------------------------------------------
# What AWS has


def _tags_list_to_dict(items) -> dict:
    return {t["Key"]: t["Value"] for t in items or []}


def _with(desc: dict, name_key: str, arn_key: str) -> dict:
    d = dict(desc)
    d["name"], d["arn"] = desc.get(name_key), desc.get(arn_key)
    d["tags"] = desc.get("tags") or {}
    return d


def describe_batch(batch, kind: str, names: list[str] | None = None) -> list[dict]:
    """The account's compute environments or job queues (all, or those `names` names), DELETED ones
    left out."""
    api = BATCH_API[kind]
    listed = f"{api.field}s"  # computeEnvironments: the request's filter and the answer's list
    with translate(f"describe {LABEL[kind]}s (batch:Describe{api.action}s)"):
        pages = batch.get_paginator(f"describe_{api.method}s").paginate(**({listed: names} if names else {}))
        out = [_with(d, NAME_FIELD[kind], f"{api.field}Arn") for page in pages for d in page[listed]]
    return [d for d in out if d.get("status") != "DELETED"]


def describe_job_definition(batch, ref: str) -> dict | None:
    """The newest ACTIVE revision of a name (read as -u reads it), or the revision `name:N` / ARN names."""
    from batchdeploy.aws.batch import active_revisions

    if ":" in ref:
        with translate(f"describe job definition {ref} (batch:DescribeJobDefinitions)"):
            found = batch.describe_job_definitions(jobDefinitions=[ref])["jobDefinitions"]
        found = sorted((d for d in found if d.get("status") == "ACTIVE"), key=lambda d: -d.get("revision", 0))
    else:
        found = active_revisions(batch, ref)
    return _with(found[0], "jobDefinitionName", "jobDefinitionArn") if found else None


def describe_bucket(s3, name: str) -> dict | None:
    import botocore.exceptions

    try:
        s3.head_bucket(Bucket=name)
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return None
        if status in (301, 400, 403):
            return {"name": name, "arn": f"arn:aws:s3:::{name}", "tags": {}, "forbidden": True}
        with translate(f"look at S3 bucket {name} (s3:ListBucket)"):
            raise
    try:
        tags = _tags_list_to_dict(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "NoSuchTagSet":
            with translate(f"read the tags of S3 bucket {name} (s3:GetBucketTagging)"):
                raise
        tags = {}
    return {"name": name, "arn": f"arn:aws:s3:::{name}", "tags": tags}


def bucket_has_objects(s3, name: str) -> bool:
    with translate(f"list S3 bucket {name} (s3:ListBucketVersions)"):
        page = s3.list_object_versions(Bucket=name, MaxKeys=1)
    return bool(page.get("Versions") or page.get("DeleteMarkers"))


def describe_repository(ecr, name: str) -> dict | None:
    import botocore.exceptions

    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return None
        with translate(f"describe ECR repository {name} (ecr:DescribeRepositories)"):
            raise
    with translate(f"read the tags of ECR repository {name} (ecr:ListTagsForResource)"):
        tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags")
    d = _with(repo, "repositoryName", "repositoryArn")
    d["tags"] = _tags_list_to_dict(tags)
    return d


def repository_has_images(ecr, name: str) -> bool:
    with translate(f"list the images of ECR repository {name} (ecr:ListImages)"):
        return bool(ecr.list_images(repositoryName=name, maxResults=1).get("imageIds"))


def observe_create(ctx, wanted: list[Wanted]) -> dict:
    observed: dict = {}
    aws = ctx.aws
    ce_names = sorted(
        {w.name for w in wanted if w.kind == "compute-environment"}
        | {n for w in wanted if w.kind == "job-queue" and w.request for n in queue_ce_names(w.request)}
    )
    queue_names = sorted({w.name for w in wanted if w.kind == "job-queue"})
    for kind, names in (("compute-environment", ce_names), ("job-queue", queue_names)):
        if names:
            found = {d["name"]: d for d in describe_batch(aws.client("batch"), kind, names)}
            for n in names:
                observed[(kind, n)] = found.get(n)
    for w in wanted:
        if w.kind == "job-definition":
            observed[(w.kind, w.name)] = describe_job_definition(aws.client("batch"), w.ref or w.name)
        elif w.kind == "bucket":
            observed[(w.kind, w.name)] = describe_bucket(aws.client("s3"), w.name)
        elif w.kind == "ecr-repository":
            observed[(w.kind, w.name)] = describe_repository(aws.client("ecr"), w.name)
    return observed


def _active_jobs(batch, queue: str) -> int:
    n = 0
    with translate(f"list the jobs of job queue {queue} (batch:ListJobs)"):
        for status in ACTIVE_JOB_STATES:
            for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                n += len(page.get("jobSummaryList", []))
    return n


def observe_delete(ctx, project: str, prefix: str, buckets: list[str], repos: list[str]) -> dict:
    batch = ctx.aws.client("batch")
    found: dict = {
        "compute-environment": describe_batch(batch, "compute-environment"),
        "job-queue": describe_batch(batch, "job-queue"),
    }
    for q in found["job-queue"]:
        if is_ours(q["tags"], project, prefix):
            q["active_jobs"] = _active_jobs(batch, q["name"])
    jobdefs = []
    with translate("describe job definitions (batch:DescribeJobDefinitions)"):
        for page in batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
            jobdefs += [_with(d, "jobDefinitionName", "jobDefinitionArn") for d in page["jobDefinitions"]]
    found["job-definition"] = [
        d for d in jobdefs if d.get("status") == "ACTIVE" and d["tags"].get(TAG_PROJECT) == project
    ]
    found["bucket"] = []
    for name in dict.fromkeys(buckets):
        d = describe_bucket(ctx.aws.client("s3"), name)
        if d and not d.get("forbidden"):
            if is_ours(d["tags"], project, prefix):
                d["not_empty"] = bucket_has_objects(ctx.aws.client("s3"), name)
            found["bucket"].append(d)
    found["ecr-repository"] = []
    for name in dict.fromkeys(repos):
        d = describe_repository(ctx.aws.client("ecr"), name)
        if d:
            if is_ours(d["tags"], project, prefix):
                d["not_empty"] = repository_has_images(ctx.aws.client("ecr"), name)
            found["ecr-repository"].append(d)
    return found


# ---------------------------------------------------------------------------------------------
# Doing it


class Journal:
    """What has been changed so far, so a failure half-way leaves nothing unknown."""

    def __init__(self, ctx, prefix: str, verb: str):
        self.ctx = ctx
        self.prefix = prefix
        self.verb = verb
        self.done: list[str] = []
        self.items: list[dict] = []

    def record(self, op: str, kind: str, name: str, arn: str | None = None, text: str | None = None) -> None:
        self.done.append(text or f"{op} {LABEL[kind]} {name}")
        self.items.append({"op": op, "kind": kind, "name": name, "arn": arn})
        self.ctx.out.note(f"  {op} {LABEL[kind]} {name}")
        self._state(op, kind, name, arn)

    def _state(self, op, kind, name, arn):
        data = self.ctx.state.read(STATE_FILE) or {}
        mine = data.setdefault("prefixes", {}).setdefault(self.prefix, {})
        entries = mine.setdefault(kind, {})
        if op in ("deleted", "deregistered"):
            entries.pop(name, None)
            if not entries:
                mine.pop(kind, None)
            if not mine:
                data["prefixes"].pop(self.prefix, None)
        elif op == "created" or name not in entries:
            entries[name] = {"arn": arn, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self.ctx.state.write(STATE_FILE, data)

    def run(self, execute, actions: list[Action], timeout: float) -> None:
        """`execute(ctx, actions, journal, timeout)`; a failure or an interrupt says what was done before it."""
        try:
            execute(self.ctx, actions, self, timeout)
        except OperationError as exc:
            raise self.failed(exc) from None
        except KeyboardInterrupt:
            self.ctx.out.warn(f"interrupted; done so far: {'; '.join(self.done) or 'nothing'}")
            raise

    def failed(self, exc: OperationError) -> OperationError:
        so_far = ", ".join(self.done) if self.done else "nothing"
        nxt = f"fix the cause and run {self.verb} again (it picks up where this stopped)"
        return OperationError(f"{exc.message} (done before the failure: {so_far})", hint=exc.hint or nxt)


def _describe_one(batch, kind: str, name: str) -> dict | None:
    found = describe_batch(batch, kind, [name])
    return found[0] if found else None


def _valid_check(batch, kind: str, name: str, want_state: str | None = None):
    """For wait_until: done once VALID (and in `want_state`); INVALID or gone ends the wait."""
    label = f"{LABEL[kind]} {name}"

    def check():
        d = _describe_one(batch, kind, name)
        if d is None:
            raise OperationError(f"{label} disappeared while waiting for it")
        status, reason = d.get("status"), d.get("statusReason") or "no reason given"
        if status == "INVALID":
            hint = "fix the file (roles, subnets, security groups) and run create --update"
            raise OperationError(
                f"{label} is INVALID: {reason}", hint=hint if kind == "compute-environment" else None
            )
        ok = status == "VALID" and (want_state is None or d.get("state") == want_state)
        return ok, f"status {status}, state {d.get('state')}: {reason}"

    return check


def _gone_check(batch, kind: str, name: str):
    def check():
        d = _describe_one(batch, kind, name)
        return (
            d is None,
            f"status {d and d.get('status')}: {(d or {}).get('statusReason') or 'no reason given'}",
        )

    return check


def _wait(ctx, check, what: str, timeout: float) -> None:
    start = ctx.clock()
    wait_until(check, what, timeout, ctx.sleep, ctx.clock)
    took = ctx.clock() - start
    if took >= 1:
        ctx.out.note(f"  ({what}: {took:.0f} s)")


def execute_create(ctx, actions: list[Action], journal: Journal, timeout: float) -> None:
    aws = ctx.aws
    region = aws.region
    owner = our_tags(ctx.cfg.get("PROJECT_NAME"), journal.prefix)
    tag_list = [{"Key": k, "Value": v} for k, v in owner.items()]  # S3's and ECR's shape of tags
    for a in actions:
        if a.op not in ("create", "update"):
            continue
        if a.kind == "bucket":
            kwargs = {"Bucket": a.name}
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with translate(f"create S3 bucket {a.name} (s3:CreateBucket)"):
                aws.client("s3").create_bucket(**kwargs)
            journal.record("created", a.kind, a.name, f"arn:aws:s3:::{a.name}")
            with translate(f"tag S3 bucket {a.name} (s3:PutBucketTagging)"):
                aws.client("s3").put_bucket_tagging(Bucket=a.name, Tagging={"TagSet": tag_list})
        elif a.kind == "ecr-repository":
            with translate(f"create ECR repository {a.name} (ecr:CreateRepository)"):
                repo = aws.client("ecr").create_repository(repositoryName=a.name, tags=tag_list)["repository"]
            a.arn = repo["repositoryArn"]
            a.details["uri"] = repo.get("repositoryUri")
            journal.record("created", a.kind, a.name, a.arn)
        elif a.kind in BATCH_API:
            batch, api = aws.client("batch"), BATCH_API[a.kind]
            if a.op == "create":
                with translate(f"create {a.label} (batch:Create{api.action})"):
                    a.arn = getattr(batch, f"create_{api.method}")(**a.request)[f"{api.field}Arn"]
                journal.record("created", a.kind, a.name, a.arn)
            else:
                _update_batch(batch, a)
                journal.record("updated", a.kind, a.name, a.arn)
            _wait(ctx, _valid_check(batch, a.kind, a.name), f"{a.label} to become VALID", timeout)
        elif a.kind == "job-definition":
            a.arn = register_job_definition(ctx, a)
            journal.record("registered", a.kind, a.name, a.arn, text=f"registered job definition {a.arn}")


def _update_batch(batch, a: Action) -> None:
    api = BATCH_API[a.kind]
    if set(a.request) - {api.field}:  # more than the name: some field differs, not only the tags
        with translate(f"update {a.label} (batch:Update{api.action})"):
            getattr(batch, f"update_{api.method}")(**a.request)
    tags = a.details.get("tags")
    if tags:
        with translate(f"tag {a.label} (batch:TagResource)"):
            batch.tag_resource(resourceArn=a.arn, tags=tags)


def register_job_definition(ctx, a: Action) -> str:
    """Register as -u does, and record NAME:REVISION in job-definitions.json so `-r` can use it
    (it becomes -r's default only when -u has not set one)."""
    from batchdeploy.aws.tags import TAG_HASH
    from batchdeploy.jobs import register
    from batchdeploy.jobs.files import Source
    from batchdeploy.state import JOB_DEFINITIONS

    file = a.details.get("file", "")
    source = Source(
        Path(file),
        file,
        definition=a.request,
        request=a.request,
        content_hash=a.request.get("tags", {}).get(TAG_HASH, ""),
    )
    item = register.Item(source, status="register")
    register.register(ctx.aws.client("batch"), item)
    previous = ctx.state.read(JOB_DEFINITIONS) or {}
    register.record(ctx, previous, [item], previous.get("default") or item.name)
    return item.arn


def forget_job_definition(ctx, name: str, arns: list[str]) -> None:
    """Drop a deregistered definition from job-definitions.json, so `-r` does not submit to it."""
    from batchdeploy.state import JOB_DEFINITIONS

    data = ctx.state.read(JOB_DEFINITIONS) or {}
    definitions = data.get("definitions") or {}
    if (definitions.get(name) or {}).get("arn") not in arns:
        return
    definitions.pop(name)
    if data.get("default") == name:
        data["default"] = next(iter(sorted(definitions)), None)
        if data["default"] is None:
            data.pop("default")
    ctx.state.write(JOB_DEFINITIONS, data)


def execute_delete(ctx, actions: list[Action], journal: Journal, timeout: float) -> None:
    aws = ctx.aws
    for a in actions:
        if a.op != "delete":
            continue
        if a.kind in BATCH_API:
            _disable_and_delete(ctx, aws.client("batch"), a, journal, timeout)
        elif a.kind == "job-definition":
            batch = aws.client("batch")
            for arn in a.details["revisions"]:
                with translate(f"deregister job definition {arn} (batch:DeregisterJobDefinition)"):
                    batch.deregister_job_definition(jobDefinition=arn)
                journal.done.append(f"deregistered {arn}")
            forget_job_definition(ctx, a.name, a.details["revisions"])
            journal.record("deregistered", a.kind, a.name, None, text=f"deregistered job definition {a.name}")
        elif a.kind == "ecr-repository":
            with translate(f"delete ECR repository {a.name} (ecr:DeleteRepository)"):
                aws.client("ecr").delete_repository(repositoryName=a.name, force=bool(a.details.get("empty")))
            journal.record("deleted", a.kind, a.name, a.arn)
        elif a.kind == "bucket":
            if a.details.get("empty"):
                n = empty_bucket(aws.client("s3"), a.name)
                journal.done.append(f"emptied S3 bucket {a.name} ({n} object versions)")
            with translate(f"delete S3 bucket {a.name} (s3:DeleteBucket)"):
                aws.client("s3").delete_bucket(Bucket=a.name)
            journal.record("deleted", a.kind, a.name, a.arn)


def _disable_and_delete(ctx, batch, a: Action, journal: Journal, timeout: float) -> None:
    """Disable (unless it already is) and wait, then delete and wait until it is gone: AWS deletes only
    a DISABLED job queue or compute environment, and either stays (DELETING) a while after the call."""
    api = BATCH_API[a.kind]
    if a.details.get("disable"):
        with translate(f"disable {a.label} (batch:Update{api.action})"):
            getattr(batch, f"update_{api.method}")(**{api.field: a.name, "state": "DISABLED"})
        journal.record("disabled", a.kind, a.name, a.arn)
        _wait(ctx, _valid_check(batch, a.kind, a.name, "DISABLED"), f"{a.label} to be disabled", timeout)
    with translate(f"delete {a.label} (batch:Delete{api.action})"):
        getattr(batch, f"delete_{api.method}")(**{api.field: a.name})
    _wait(ctx, _gone_check(batch, a.kind, a.name), f"{a.label} to be deleted", timeout)
    journal.record("deleted", a.kind, a.name, a.arn)


def empty_bucket(s3, name: str) -> int:
    n = 0
    with translate(
        f"empty S3 bucket {name} (s3:ListBucketVersions, s3:DeleteObject, s3:DeleteObjectVersion)"
    ):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            items = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for i in range(0, len(items), 1000):
                chunk = items[i : i + 1000]
                answer = s3.delete_objects(Bucket=name, Delete={"Objects": chunk, "Quiet": True})
                if answer.get("Errors"):
                    err = answer["Errors"][0]
                    raise OperationError(
                        f"cannot empty S3 bucket {name}: {err.get('Code')}: {err.get('Message')} ({err.get('Key')})"
                    )
                n += len(chunk)
    return n


# ---------------------------------------------------------------------------------------------
# Confirmation


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(ctx, question: str, why: str) -> None:
    """Ask on a terminal; refuse without --yes elsewhere, before anything changed (exit 2)."""
    if ctx.args.yes:
        return
    if not stdin_is_terminal():
        raise UsageError(
            f"{why} needs confirmation and stdin is not a terminal",
            hint="run with --yes to go ahead (--dry-run shows the plan)",
        )
    print(f"{question} [y/N] ", end="", file=ctx.out.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise OperationError("cancelled: nothing was changed")


# ---------------------------------------------------------------------------------------------
# The verbs


def _setup(ctx) -> tuple[str, str, float]:
    ctx.cfg.require("PROJECT_NAME", optional=("ENV", "AWS_REGISTRY", "IMAGES"))
    project = ctx.cfg["PROJECT_NAME"]
    prefix = ctx.args.prefix or default_prefix(project, ctx.cfg.get("ENV", "development"))
    if not PREFIX_RE.fullmatch(prefix):
        raise UsageError(
            f"--prefix {prefix!r}: 1-100 letters, digits, '-' and '_', starting with a letter or digit"
        )
    timeout = ctx.args.timeout
    if timeout is not None and timeout < 0:
        raise UsageError("--timeout: 0 or more seconds")
    return project, prefix, float(DEFAULT_TIMEOUT if timeout is None else timeout)


def show_plan(ctx, actions: list[Action], title: str, prefix: str, project: str) -> bool:
    """With --dry-run the plan is the result (text or JSON) and True is returned; otherwise it is shown
    as progress (stderr) before the work."""
    out = ctx.out
    if not ctx.args.dry_run:
        for line in plan_lines(actions, title):
            out.info(line)
        return False
    if out.json:
        plan = [a.as_dict() for a in actions]
        out.emit_json({"prefix": prefix, "project": project, "dry_run": True, "plan": plan})
    else:
        for line in plan_lines(actions, title):
            out.result(line)
    return True


def outcome(prefix: str, project: str, actions: list[Action], journal: Journal, **more) -> dict:
    """--output json after the work: the plan and what was done."""
    return {
        "prefix": prefix,
        "project": project,
        "plan": [a.as_dict() for a in actions],
        "done": journal.items,
        **more,
    }


ENV_KEYS = {"job-queue": "AWS_JOB_QUEUE", "bucket": "S3_BUCKET"}


def names_used(actions: list[Action]) -> dict[str, str]:
    names: dict[str, str] = {}
    for a in actions:
        if a.kind in ENV_KEYS:
            names[ENV_KEYS[a.kind]] = a.name
    ce = [a.name for a in actions if a.kind == "compute-environment"]
    if ce:
        names["BATCH_COMPUTE_ENVIRONMENT"] = ce[0]
    jd = [a for a in actions if a.kind == "job-definition"]
    if jd:
        names["BATCH_JOB_DEFINITION"] = jd[0].arn or jd[0].name
    repos = [a.details.get("uri") or a.name for a in actions if a.kind == "ecr-repository"]
    if repos:
        names["ECR_REPOSITORIES"] = " ".join(repos)
    return names


def create(ctx) -> int:
    project, prefix, timeout = _setup(ctx)
    out = ctx.out
    wanted = gather_wanted(ctx, prefix, project)
    observed = observe_create(ctx, wanted)
    actions, problems = plan_create(wanted, observed, project, prefix, ctx.args.update)
    if problems:
        raise ConfigError("cannot create", problems, hint="nothing was changed")
    if show_plan(ctx, actions, f"plan for prefix {prefix} (project {project}):", prefix, project):
        return 0
    changes = [a for a in actions if a.op in CHANGES]
    for a in actions:
        if a.op == "differs":
            out.warn(f"{a.label} differs from its file: {'; '.join(a.diff)} ({a.note})")
    costly = [a.label for a in changes if a.kind == "compute-environment"]
    if costly:
        confirm(
            ctx,
            f"create or update {', '.join(costly)} (compute environments cost money while they run)?",
            f"creating or updating {', '.join(costly)}",
        )
    journal = Journal(ctx, prefix, "create")
    if changes:
        journal.run(execute_create, actions, timeout)
    else:
        out.info("nothing to do: everything exists and matches")
    names = names_used(actions)
    env_values = {k: v for k, v in names.items() if k in ENV_KEYS.values()}  # what --write-env writes
    written = None
    if ctx.args.write_env:
        target = ctx.cfg.env_file or (ctx.cfg.project_dir / config.DEFAULT_ENV_FILE)
        comment = f"written by batchdeploy create (prefix {prefix})"
        written = str(write_env(target, env_values, comment=comment))
    if out.json:
        out.emit_json(outcome(prefix, project, actions, journal, names=names, env_file_written=written))
        return 0
    out.info("names used:" if written else "names used (add them to .aws_env, or run create --write-env):")
    for key, value in names.items():
        out.result(f"{key}={value}")
    if written:
        out.info(f"wrote {', '.join(env_values)} into {written}")
    return 0


def delete(ctx) -> int:
    project, prefix, timeout = _setup(ctx)
    out = ctx.out
    args = ctx.args
    keep = {name_from_ref(kind, ref) for kind, ref in _given(ctx)[0].items()}
    recorded = ((ctx.state.read(STATE_FILE) or {}).get("prefixes") or {}).get(prefix) or {}
    buckets = [args.bucket] if args.bucket else [*recorded.get("bucket", {}), default_name("bucket", prefix)]
    repos = list(args.ecr_repository or []) or [
        *recorded.get("ecr-repository", {}),
        *repository_names(ctx.cfg.get("AWS_REGISTRY"), ctx.cfg.get("IMAGES"), project),
    ]
    found = observe_delete(ctx, project, prefix, buckets, repos)
    actions = plan_delete(found, project, prefix, keep, args.delete_bucket_contents, args.delete_images)
    title = f"delete plan for prefix {prefix} (project {project}; only what carries its tags):"
    if show_plan(ctx, actions, title, prefix, project):
        return 0
    changes = [a for a in actions if a.op == "delete"]
    kept = [a for a in actions if a.op == "keep"]
    and_kept = f"; kept {len(kept)}" if kept else ""
    journal = Journal(ctx, prefix, "delete")
    if changes:
        confirm(
            ctx, f"delete {len(changes)} resource(s) listed above?", f"deleting {len(changes)} resource(s)"
        )
        journal.run(execute_delete, actions, timeout)
    else:
        out.result(f"nothing to delete for prefix {prefix}{and_kept}")
    for a in kept:
        out.warn(f"kept {a.label}: {a.note}")
    if out.json:
        out.emit_json(outcome(prefix, project, actions, journal))
    elif changes:
        out.result(f"deleted {len(changes)} resource(s) of prefix {prefix}{and_kept}")
    return 0
