"""Differences between a compute environment or queue file and what AWS describes (pure), and what
an Update* call can change of them.

Job definitions are compared by the job definition model instead (`infra.jobdef.jobdef_differences`):
normalized whole, as `-u` compares them. The two engines answer different questions (here only the
fields a file sets count, roles match by name or ARN; there a whole definition is normalized and
flattened), so they stay two.
"""

from __future__ import annotations

import json
import re

from batchdeploy.aws import shapes
from batchdeploy.infra.model import BATCH_API, NAME_FIELD, name_from_ref

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

