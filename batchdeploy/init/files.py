"""The files of a new project (pure): its name, cleaned, and each file's text.

Every name is a `${...}` placeholder over PROJECT_NAME and ENV, filled by batchdeploy when it reads the
files, so the files agree with each other and with what `--create` makes (PREFIX = PROJECT_NAME-ENV):
the queue and bucket (`infra.model.default_name`), the roles (`infra.roles`) and the image `-b` builds
(IMAGES = PROJECT_NAME=.). The compute environment names no network: `--create` takes the default VPC's.
"""

from __future__ import annotations

import json
import re

from batchdeploy.init.example import EXPERIMENT_YAML, RUN_PY

MAX_NAME = 40  # PROJECT-ENV-bucket stays within S3's 63 characters
LOCAL_ACCOUNT = "123456789012"  # the local stack's (moto's) account
LOCAL_BASE = "batchdeploy-base:bookworm"


def clean_name(text: str) -> str:
    """A folder's name as a project name: lowercase letters, digits and '-', starting with a letter;
    '' when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)
    return name[:MAX_NAME].rstrip("-")


def name_problem(name: str) -> str | None:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name or "") or len(name) > MAX_NAME or name.endswith("-"):
        return f"--name {name!r}: 1-{MAX_NAME} lowercase letters, digits and '-', starting with a letter"
    return None


def _aws_env(name: str, local: bool) -> str:
    if local:
        head = (
            "# For the local stack: its `env` (python -m batchdeploy.local env) supplies the endpoint, dummy\n"
            "# credentials and AWS_REGISTRY, which override this file. For AWS: run init without --local.\n"
        )
        account = f"ACCOUNT_ID={LOCAL_ACCOUNT}\n"
        registry = f"BUILD_ARGS=BASE_IMAGE={LOCAL_BASE}\n"
    else:
        head = "# For AWS: credentials come from your AWS profile or environment, never from this file.\n"
        account = (
            "# Your 12-digit account (aws sts get-caller-identity --query Account --output text)\n"
            "ACCOUNT_ID=\n"
        )
        registry = "AWS_REGISTRY=${ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com\n"
    return (
        f"# batchdeploy configuration of project {name} (KEY=value; read as data, never sourced).\n"
        + head
        + f"PROJECT_NAME={name}\nENV=dev\nVERSION=0.1.0\nAWS_REGION=us-east-1\n"
        + account
        + "\n# What --create makes, named from PROJECT_NAME-ENV (its prefix)\n"
        "AWS_JOB_QUEUE=${PROJECT_NAME}-${ENV}-job-queue\n"
        "S3_BUCKET=${PROJECT_NAME}-${ENV}-bucket\n"
        "SERVICE_ROLE_ARN=arn:aws:iam::${ACCOUNT_ID}:role/${PROJECT_NAME}-${ENV}-batch-service\n"
        "INSTANCE_ROLE_ARN=arn:aws:iam::${ACCOUNT_ID}:instance-profile/${PROJECT_NAME}-${ENV}-ecs-instance\n"
        "JOB_ROLE_ARN=arn:aws:iam::${ACCOUNT_ID}:role/${PROJECT_NAME}-${ENV}-job\n"
        "\n# Experiment files (--sync-to-s3) and results (--sync-from-s3)\n"
        "S3_PREFIX=experiments\nEXPERIMENTS_DIR=experiments\nRESULTS_PREFIX=results\nRESULTS_DIR=results\n"
        "\n# -b builds one image from this folder, named after the project; -r sends experiment/ as a code\n"
        "# bundle the launcher runs, so a code edit needs no -b or -u\n"
        "IMAGES=${PROJECT_NAME}=.\n" + registry + "CODE_DIR=experiment\n"
    )


DOCKERFILE = """\
# The experiment's image. The local stack builds it with --build-arg BASE_IMAGE=batchdeploy-base:bookworm
# (BUILD_ARGS in .aws_env): Debian's Python with boto3 and PyYAML, since nothing can be pulled offline.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
RUN python3 -c "import boto3, yaml" 2>/dev/null \\
    || pip install --no-cache-dir "boto3>=1.34,<2" "PyYAML>=6,<7"

# The launcher: -b writes batchdeploy-launch into this folder because this line names it.
COPY batchdeploy-launch /usr/local/bin/

WORKDIR /opt/experiment
COPY experiment/ /opt/experiment/
CMD ["python3", "run.py", "--help"]
"""

DOCKERIGNORE = "__pycache__/\n*.pyc\n.aws_env\n.batchdeploy/\nresults/\nexperiments/\n"
GITIGNORE = "__pycache__/\n*.pyc\n.aws_env\n.batchdeploy/\nresults/\nbatchdeploy-launch\n"

CREDENTIALS_FILTER = """\
{
  "environment": [
    {"name": "AWS_ACCESS_KEY_ID", "value": .Credentials.AccessKeyId},
    {"name": "AWS_SECRET_ACCESS_KEY", "value": .Credentials.SecretAccessKey},
    {"name": "AWS_SESSION_TOKEN", "value": .Credentials.SessionToken}
  ]
}
"""


def _json(doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


def _job_definition() -> dict:
    return {
        "jobDefinitionName": "${PROJECT_NAME}-${ENV}-experiment",
        "type": "container",
        "parameters": {
            "experiment_file": "s3://${S3_BUCKET}/${S3_PREFIX}/pi.yaml",
            "output_path": "s3://${S3_BUCKET}/${RESULTS_PREFIX}/default",
        },
        "containerProperties": {
            "image": "${AWS_REGISTRY}/${PROJECT_NAME}:${IMAGE_TAG}",
            "command": ["python3", "run.py", "--experiment-file", "Ref::experiment_file",
                        "--output-path", "Ref::output_path"],
            "jobRoleArn": "${JOB_ROLE_ARN}",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            "environment": [{"name": "AWS_DEFAULT_REGION", "value": "${AWS_REGION}"}],
        },
        "retryStrategy": {"attempts": 1},
        "timeout": {"attemptDurationSeconds": 600},
        "tags": {"project": "${PROJECT_NAME}", "env": "${ENV}"},
        "propagateTags": True,
    }


def _compute_environment() -> dict:
    # minvCpus 0: no instance runs (or bills) while no job waits. No subnets or security groups:
    # --create takes the default VPC's and says which.
    return {
        "type": "MANAGED",
        "state": "ENABLED",
        "serviceRole": "${SERVICE_ROLE_ARN}",
        "computeResources": {
            "type": "EC2",
            "allocationStrategy": "BEST_FIT_PROGRESSIVE",
            "minvCpus": 0,
            "maxvCpus": 4,
            "instanceTypes": ["optimal"],
            "instanceRole": "${INSTANCE_ROLE_ARN}",
        },
    }


def project_files(name: str, local: bool) -> dict[str, str]:
    """{relative path: text} of a new project named `name`."""
    return {
        ".aws_env": _aws_env(name, local),
        "Dockerfile": DOCKERFILE,
        ".dockerignore": DOCKERIGNORE,
        ".gitignore": GITIGNORE,
        "job-definition.json": _json(_job_definition()),
        "env-overrides.json": _json({"environment": [{"name": "EXPERIMENT_PROJECT", "value": "${PROJECT_NAME}"}]}),
        "credentials-filter": CREDENTIALS_FILTER,
        "compute-environment.json": _json(_compute_environment()),
        "job-queue.json": _json({"priority": 1, "state": "ENABLED", "computeEnvironmentOrder": [{"order": 1}]}),
        "experiments/pi.yaml": EXPERIMENT_YAML,
        "experiment/run.py": RUN_PY,
    }
