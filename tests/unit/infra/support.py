"""What the infra unit tests share: the project's root, our tags, and a Fargate compute environment
as a file gives it and as AWS describes it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OURS = {"batchdeploy:project": "demo", "batchdeploy:prefix": "demo-dev"}
CE_NAME = "demo-dev-compute-environment"


def fargate(**over):
    res = {
        "type": "FARGATE",
        "maxvCpus": 4,
        "subnets": ["subnet-1", "subnet-2"],
        "securityGroupIds": ["sg-1"],
    }
    return {
        "computeEnvironmentName": CE_NAME,
        "type": "MANAGED",
        "computeResources": {**res, **over},
        "tags": dict(OURS),
    }



def described(**over):
    d = fargate(desiredvCpus=2)
    d["computeResources"]["subnets"] = ["subnet-2", "subnet-1"]
    d.update(
        serviceRole="arn:aws:iam::123456789012:role/service-role/AWSBatchServiceRole",
        status="VALID",
        computeEnvironmentArn="arn:...",
        tags={**OURS, "extra": "x"},
    )
    d.update(over)
    return d


