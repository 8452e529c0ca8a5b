"""Helpers for the infrastructure tests: a Batch-ready moto account, a snapshot of what the account
holds, and a rewrite for tests/fault_proxy.py that makes every compute environment report a status
(one that never becomes VALID). Real HTTP all the way; nothing of batchdeploy is mocked."""

from __future__ import annotations

READ_ONLY_BATCH = ("/v1/describe", "/v1/listjobs", "/v1/listtagsforresource")


def prepare_account(aws) -> dict:
    """What a Fargate compute environment needs in moto: a subnet, a security group, a service role."""
    ec2 = aws.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    role = aws.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    return {"SUBNET_ID": subnet, "SECURITY_GROUP_ID": group, "SERVICE_ROLE": role}


FARGATE_CE = {
    "type": "MANAGED",
    "state": "ENABLED",
    "computeResources": {
        "type": "FARGATE",
        "maxvCpus": 4,
        "subnets": ["${SUBNET_ID}"],
        "securityGroupIds": ["${SECURITY_GROUP_ID}"],
    },
    "serviceRole": "${SERVICE_ROLE}",
}
QUEUE = {"priority": 1, "state": "ENABLED", "computeEnvironmentOrder": [{"order": 1}]}
JOB_DEFINITION = {
    "type": "container",
    "containerProperties": {
        "image": "busybox:${VERSION}",
        "command": ["echo", "Ref::word"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
    },
    "parameters": {"word": "hello"},
}


def snapshot(aws) -> dict:
    """Everything create/delete could touch, as AWS describes it (ACTIVE job definitions only:
    AWS keeps deregistered revisions as INACTIVE)."""
    batch = aws.client("batch")
    s3 = aws.client("s3")
    ecr = aws.client("ecr")

    def key(items, name):
        return sorted(items, key=lambda d: d[name])

    return {
        "compute_environments": key(
            batch.describe_compute_environments()["computeEnvironments"], "computeEnvironmentName"
        ),
        "job_queues": key(batch.describe_job_queues()["jobQueues"], "jobQueueName"),
        "job_definitions": key(
            batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"], "jobDefinitionArn"
        ),
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "repositories": key(ecr.describe_repositories()["repositories"], "repositoryName"),
    }


def changing_requests(requests) -> list[tuple[str, str, int]]:
    """Requests from the moto log that could change something (Batch and S3 are told apart by path;
    JSON-protocol services such as ECR all POST to /, so they are left out and checked otherwise)."""
    out = []
    for method, path, status in requests:
        if path.startswith("/v1/"):
            if not path.startswith(READ_ONLY_BATCH):
                out.append((method, path, status))
        elif method not in ("GET", "HEAD") and path != "/":
            out.append((method, path, status))
    return out


def ce_status(status: str, reason: str):
    """A rewrite for /v1/describecomputeenvironments: every compute environment reports `status`."""

    def edit(answer):
        for ce in answer.get("computeEnvironments", []):
            ce["status"] = status
            ce["statusReason"] = reason
        return answer

    return edit
