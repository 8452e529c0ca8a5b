"""One job definition per distinct (image, resources) request, named by its hash, reused, never one per call.

`request` (pure) builds the RegisterJobDefinition request: the image, the resources as
resourceRequirements (GPU among them when asked), the roles and log group when given (the base
definition's, -u's, otherwise), and the launcher's declaration when the base has one. Its name is
`PREFIX-fn-<first 12 hex of the sha256 of its canonical content>` (PREFIX: PROJECT_NAME, or covalent's
batch_job_definition_name), and it is tagged with the project, the hash and the kind "function", so
`-u --prune` finds and cleans it (jobs.prune.function_definitions).

`ensure` looks the name up (DescribeJobDefinitions) and registers only when no ACTIVE revision carries
the hash: a thousand calls, or two maps, with the same request register once. Retries and the time
limit are not in it: they travel with each SubmitJob, so they never make a new definition.
"""

from __future__ import annotations

import hashlib
import json

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.tags import TAG_HASH, TAG_PROJECT
from batchdeploy.errors import UsageError
from batchdeploy.jobs.code import LAUNCHER_ENV
from batchdeploy.jobs.prune import KIND_FUNCTION, TAG_KIND

HASH_CHARS = 12


def role_arn(value: str | None, account: str | None) -> str | None:
    """A role given by name (covalent's batch_job_role_name) as its ARN in the caller's account."""
    if not value or value.startswith("arn:"):
        return value
    if not account:
        raise UsageError(f"role {value!r} is a name, and the caller's account is unknown", hint="give the role's ARN")
    return f"arn:aws:iam::{account}:role/{value}"


def content(image: str, resources: dict, *, base: dict | None = None, job_role: str | None = None,
            execution_role: str | None = None, log_group: str | None = None) -> dict:
    """What the definition runs: everything its hash covers."""
    props = (base or {}).get("containerProperties") or {}
    container: dict = {
        "image": image,
        "resourceRequirements": [{"type": k, "value": resources[k]} for k in ("VCPU", "MEMORY", "GPU") if k in resources],
    }
    launcher = [e for e in props.get("environment") or [] if e.get("name") == LAUNCHER_ENV]
    if launcher:
        container["environment"] = launcher
    for key, given in (("jobRoleArn", job_role), ("executionRoleArn", execution_role)):
        if given or props.get(key):
            container[key] = given or props[key]
    if log_group:
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": log_group}}
    elif props.get("logConfiguration"):
        container["logConfiguration"] = props["logConfiguration"]
    doc = {"type": "container", "containerProperties": container}
    if (base or {}).get("platformCapabilities"):
        doc["platformCapabilities"] = list(base["platformCapabilities"])
    return doc


def digest(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def name_of(prefix: str, doc: dict) -> str:
    return f"{prefix}-fn-{digest(doc)[:HASH_CHARS]}"


def request(prefix: str, project: str, doc: dict) -> dict:
    """The RegisterJobDefinition request of `doc`, named and tagged."""
    return {"jobDefinitionName": name_of(prefix, doc), **doc,
            "tags": {TAG_PROJECT: project, TAG_HASH: digest(doc), TAG_KIND: KIND_FUNCTION}}


def ensure(batch, wanted: dict, project: str) -> tuple[dict, bool]:
    """(the ACTIVE definition carrying `wanted`'s hash, whether it was registered now)."""
    name, sha = wanted["jobDefinitionName"], wanted["tags"][TAG_HASH]
    revisions = aws_batch.active_revisions(batch, name)
    for rev in revisions:
        tags = rev.get("tags") or {}
        if tags.get(TAG_PROJECT) not in (None, project):
            raise UsageError(f"job definition {name} belongs to project {tags.get(TAG_PROJECT)!r}",
                             hint="set definition_prefix= (or PROJECT_NAME) to a name of this project's own")
        if tags.get(TAG_HASH) == sha:
            return rev, False
    with translate(f"register job definition {name} (batch:RegisterJobDefinition)"):
        made = batch.register_job_definition(**wanted)
    found = aws_batch.job_definition(batch, made["jobDefinitionArn"])
    return found or {**wanted, **made, "status": "ACTIVE"}, True
