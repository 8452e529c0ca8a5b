"""Describing, once, everything the checks look at, through batchdeploy.aws. Read-only: every call
here is a Describe*, Get* or List* (the README's IAM list is this module's calls).

A core read AWS refuses (the job, the queue, its compute environments) is an error (exit 1); a
peripheral one refused for lack of permission (EC2, IAM, ECR) is noted in `Facts.unchecked` and the
rest of the diagnosis goes on. "Does not exist" answers are facts (a missing role is a finding).
"""

from __future__ import annotations

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import convert, error_code, translate
from batchdeploy.aws.ecr import ECR_HOST
from batchdeploy.aws.errors import USER_ERRORS
from batchdeploy.doctor import limits
from batchdeploy.doctor.diagnose import shape_of
from batchdeploy.doctor.model import Facts, InstanceType, Shape
from batchdeploy.errors import ConfigError, UsageError

RUNNING_STATES = ("RUNNING", "STARTING")
_MISSING = {"NoSuchEntity", "NoSuchEntityException", "ImageNotFoundException", "RepositoryNotFoundException"}


def _soft(facts: Facts, doing: str, call):
    """(answer, missing): `missing` when AWS says the thing does not exist; (None, None) when the caller
    may not look (noted in facts.unchecked). Anything else is translated and raised."""
    try:
        return call(), False
    except Exception as exc:  # noqa: BLE001 - sorted below
        code = error_code(exc)
        if code in _MISSING:
            return None, True
        if code in USER_ERRORS:
            facts.unchecked.append(f"{doing}: {code}")
            return None, None
        converted = convert(exc, doing)
        if converted is None:
            raise
        raise converted from None


def job_and_definition(batch, job_id: str) -> tuple[dict, dict | None]:
    job = aws_batch.describe_jobs(batch, [job_id]).get(job_id)
    if job is None:
        raise UsageError(f"no job {job_id!r} in this region", hint="give a job id or a run id (./deploy.sh --status lists them)")
    return job, definition_of(batch, job.get("jobDefinition"))


def definition_of(batch, ref: str | None) -> dict | None:
    if not ref:
        return None
    with translate(f"describe job definition {ref} (batch:DescribeJobDefinitions)"):
        found = batch.describe_job_definitions(jobDefinitions=[ref]).get("jobDefinitions") or []
    return found[0] if found else None


def job_shape(job: dict, definition: dict | None) -> Shape:
    container = job.get("container") or (definition or {}).get("containerProperties")
    return shape_of(container, job.get("platformCapabilities") or (definition or {}).get("platformCapabilities"))


def queue_and_ces(batch, queue: str) -> tuple[dict, list[dict]]:
    with translate(f"describe job queue {queue} (batch:DescribeJobQueues)"):
        found = batch.describe_job_queues(jobQueues=[queue]).get("jobQueues") or []
    if not found:
        raise ConfigError(f"job queue {queue!r} does not exist", hint="check AWS_JOB_QUEUE (or --queue) and the region")
    q = found[0]
    order = sorted(q.get("computeEnvironmentOrder") or [], key=lambda e: e.get("order", 0))
    names = [e["computeEnvironment"] for e in order]
    ces: list[dict] = []
    if names:
        with translate("describe compute environments (batch:DescribeComputeEnvironments)"):
            ces = batch.describe_compute_environments(computeEnvironments=names).get("computeEnvironments") or []
    return q, ces


def instance_types(ec2, facts: Facts) -> None:
    patterns: list[str] = []
    for ce in facts.ces:
        r = ce.get("computeResources") or {}
        if r and r.get("type") not in limits.FARGATE_TYPES:
            patterns += limits.type_patterns(r.get("instanceTypes") or [])
    patterns = list(dict.fromkeys(patterns))
    if not patterns:
        return

    def read():
        pages = ec2.get_paginator("describe_instance_types").paginate(
            Filters=[{"Name": "instance-type", "Values": patterns}])
        return [t for page in pages for t in page.get("InstanceTypes") or []]

    found, _ = _soft(facts, "describe instance types (ec2:DescribeInstanceTypes)", read)
    for t in found or []:
        gpus = sum(g.get("Count", 0) for g in (t.get("GpuInfo") or {}).get("Gpus") or [])
        facts.instance_types[t["InstanceType"]] = InstanceType(
            t["InstanceType"], int((t.get("VCpuInfo") or {}).get("DefaultVCpus", 0)),
            int((t.get("MemoryInfo") or {}).get("SizeInMiB", 0)), gpus)


def used_vcpus(batch, facts: Facts) -> None:
    """Per compute environment, the vCPUs of RUNNING/STARTING jobs in every queue that uses it."""
    ours = {ce.get("computeEnvironmentArn"): ce.get("computeEnvironmentName") for ce in facts.ces}
    with translate("describe job queues (batch:DescribeJobQueues)"):
        queues = [q for page in batch.get_paginator("describe_job_queues").paginate() for q in page.get("jobQueues") or []]
    for q in queues:
        shared = [arn for arn, name in ours.items()
                  if any(e.get("computeEnvironment") in (arn, name) for e in q.get("computeEnvironmentOrder") or [])]
        if not shared:
            continue
        ids = [j["jobId"] for j in aws_batch.list_jobs(batch, q["jobQueueArn"], states=RUNNING_STATES)]
        total = sum(shape_of(j.get("container")).vcpus for j in aws_batch.describe_jobs(batch, ids).values()
                    if j.get("status") in RUNNING_STATES)
        for arn in shared:
            facts.used_vcpus[arn] = facts.used_vcpus.get(arn, 0.0) + total
    for arn in ours:
        facts.used_vcpus.setdefault(arn, 0.0)


def network(ec2, facts: Facts) -> None:
    ids = sorted({s for ce in facts.ces for s in (ce.get("computeResources") or {}).get("subnets") or []})
    if not ids:
        return
    doing = "describe subnets, route tables and VPC endpoints (ec2:DescribeSubnets, DescribeRouteTables, DescribeVpcEndpoints)"
    subnets, _ = _soft(facts, doing, lambda: ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": ids}])["Subnets"])
    if subnets is None:
        return
    facts.network.subnets = {s["SubnetId"]: s for s in subnets}
    for vpc in sorted({s["VpcId"] for s in subnets}):
        where = [{"Name": "vpc-id", "Values": [vpc]}]
        tables, _ = _soft(facts, doing, lambda w=where: ec2.describe_route_tables(Filters=w)["RouteTables"])
        ends, _ = _soft(facts, doing, lambda w=where: ec2.describe_vpc_endpoints(Filters=w)["VpcEndpoints"])
        facts.network.route_tables[vpc] = tables or []
        facts.network.endpoints[vpc] = ends or []


def iam(client, facts: Facts) -> None:
    for ce in facts.ces:
        r = ce.get("computeResources") or {}
        profile = r.get("instanceRole")
        if profile and r.get("type") not in limits.FARGATE_TYPES and profile not in facts.profiles:
            got, missing = _soft(facts, f"read instance profile {profile} (iam:GetInstanceProfile)",
                                 lambda p=profile: client.get_instance_profile(InstanceProfileName=p.rsplit("/", 1)[-1]))
            facts.profiles[profile] = None if missing else (got or {}).get("InstanceProfile", {})
        role = ce.get("serviceRole")
        if role and "aws-service-role" not in role:
            _role(client, facts, role, policies=True)
    execution = ((facts.job_definition or {}).get("containerProperties") or {}).get("executionRoleArn")
    if execution:
        _role(client, facts, execution, policies=False)


def _role(client, facts: Facts, arn: str, policies: bool) -> None:
    if arn in facts.roles:
        return
    name = arn.rsplit("/", 1)[-1]
    got, missing = _soft(facts, f"read role {name} (iam:GetRole)", lambda: client.get_role(RoleName=name))
    if missing:
        facts.roles[arn] = None
        return
    if got is None:
        return
    record: dict = {"arn": got["Role"].get("Arn")}
    if policies:
        attached, _ = _soft(facts, f"list the policies of role {name} (iam:ListAttachedRolePolicies)",
                            lambda: client.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
        inline, _ = _soft(facts, f"list the policies of role {name} (iam:ListRolePolicies)",
                          lambda: client.list_role_policies(RoleName=name)["PolicyNames"])
        record["policies"] = [p["PolicyArn"] for p in attached or []] if attached is not None else ["?"]
        record["inline"] = list(inline or [])
    facts.roles[arn] = record


def image(ecr, facts: Facts) -> None:
    """Whether an ECR image exists (images elsewhere are not looked at)."""
    ref = facts.image or ""
    host, _, rest = ref.partition("/")
    if not ECR_HOST.fullmatch(host) or not rest:
        return
    if "@" in rest:
        repo, _, digest = rest.partition("@")
        ids = [{"imageDigest": digest}]
    else:
        repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
        ids = [{"imageTag": tag}]
    got, missing = _soft(facts, f"describe image {ref} (ecr:DescribeImages)",
                         lambda: ecr.describe_images(repositoryName=repo, imageIds=ids))
    facts.image_found = False if missing else (True if got is not None else None)
