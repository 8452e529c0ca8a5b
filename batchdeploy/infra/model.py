"""The words of `--create` / `--delete` (pure): the kinds of resource, how each is named, and the
two records the stages pass along, `Wanted` (what the user asked for) and `Action` (one step of a plan)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from batchdeploy.aws.ecr import REPOSITORY_NAME, is_ecr_host

# The order of creating: what fails most (a compute environment AWS finds INVALID, a role it cannot
# pass) first, so that a failure leaves the least behind; a queue after its compute environment; the
# bucket and repositories, which nothing in Batch names, last. Deleting (plan_delete) goes the other way
# for Batch (a queue before its compute environment), and storage last, so results are not lost to a
# teardown that stops half-way.
CREATE_ORDER = ("compute-environment", "job-queue", "job-definition", "ecr-repository", "bucket")
LABEL = {
    "bucket": "S3 bucket",
    "ecr-repository": "ECR repository",
    "compute-environment": "compute environment",
    "job-queue": "job queue",
    "job-definition": "job definition",
    "ssm-parameter": "SSM parameter",  # SECRETS' values (batchdeploy.jobs.secretrefs); deleted only
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
DESCRIBE = {
    "compute-environment": "batch:DescribeComputeEnvironments",
    "job-queue": "batch:DescribeJobQueues",
}


class BatchApi(NamedTuple):
    """Compute environments and job queues go through Batch calls of one shape, named after the kind."""

    field: str  # computeEnvironment: names one in Update*/Delete*; +s lists them, +Arn is its ARN
    action: str  # ComputeEnvironment: CreateComputeEnvironment, batch:DeleteComputeEnvironment
    method: str  # compute_environment: batch.create_compute_environment, describe_compute_environments


BATCH_API = {
    "compute-environment": BatchApi("computeEnvironment", "ComputeEnvironment", "compute_environment"),
    "job-queue": BatchApi("jobQueue", "JobQueue", "job_queue"),
}

PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
DEFAULT_TIMEOUT = 600
CHANGES = ("create", "update", "delete")  # the ops that change AWS


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


def repository_names(registry: str | None, images: str | None, project: str) -> list[str]:
    """The ECR repositories `-b` pushes to: one per image in IMAGES (else PROJECT_NAME), under
    AWS_REGISTRY's path; none when AWS_REGISTRY is not an ECR registry."""
    if not registry:
        return []
    host, _, path = registry.partition("/")
    if not is_ecr_host(host):
        return []
    names = [pair.split("=", 1)[0] for pair in (images or "").split()] or [project]
    return [f"{path.strip('/')}/{n}" if path.strip("/") else n for n in names]


def repository_name_ok(name: str) -> bool:
    """ECR's repository naming: 2-256 characters of the REPOSITORY_NAME grammar."""
    return 2 <= len(name) <= 256 and REPOSITORY_NAME.fullmatch(name) is not None


def queue_ce_names(queue: dict) -> list[str]:
    order = queue.get("computeEnvironmentOrder") or []
    return [
        name_from_ref("compute-environment", i["computeEnvironment"])
        for i in order
        if isinstance(i, dict) and isinstance(i.get("computeEnvironment"), str)
    ]
