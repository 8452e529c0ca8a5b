"""The tags batchdeploy puts on what it makes, and the one ownership rule read from them.

`batchdeploy:project` marks everything batchdeploy made for a project; `batchdeploy:prefix` narrows it
to one `--create` prefix; `batchdeploy:hash` is a job definition's content hash; `batchdeploy:client-token`
makes a SubmitJob findable again when its answer is lost.
"""

from __future__ import annotations

TAG_NAMESPACE = "batchdeploy:"
TAG_PROJECT = "batchdeploy:project"
TAG_PREFIX = "batchdeploy:prefix"
TAG_HASH = "batchdeploy:hash"
TAG_CLIENT_TOKEN = "batchdeploy:client-token"


def our_tags(project: str, prefix: str) -> dict[str, str]:
    return {TAG_PROJECT: project, TAG_PREFIX: prefix}


def is_ours(tags: dict | None, project: str, prefix: str) -> bool:
    tags = tags or {}
    return tags.get(TAG_PROJECT) == project and tags.get(TAG_PREFIX) == prefix


def whose(tags: dict | None) -> str:
    tags = tags or {}
    if TAG_PROJECT not in tags:
        return f"was not created by batchdeploy (no {TAG_PROJECT} tag)"
    if TAG_PREFIX not in tags:
        return f"belongs to project {tags[TAG_PROJECT]!r} as a whole (no {TAG_PREFIX} tag)"
    return f"belongs to project {tags.get(TAG_PROJECT)!r}, prefix {tags.get(TAG_PREFIX)!r}"


def as_dict(items) -> dict:
    """AWS's `[{"Key": k, "Value": v}]` (S3, ECR use `key`/`value` too) as a plain dict."""
    out = {}
    for item in items or []:
        key = item.get("Key", item.get("key"))
        out[key] = item.get("Value", item.get("value"))
    return out
