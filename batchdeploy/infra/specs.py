"""Compute environment and job queue files (pure): the names, tags and defaults a file may leave out,
filled in, and every problem AWS would reject the request for, found before any call."""

from __future__ import annotations

import copy

from batchdeploy.aws import shapes
from batchdeploy.aws.batch import CE_QUEUE_NAME, MAX_TAGS
from batchdeploy.aws.tags import our_tags
from batchdeploy.infra.model import NAME_FIELD, REQUEST_SHAPE, default_name

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

