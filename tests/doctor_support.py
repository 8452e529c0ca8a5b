"""A Batch setup on the moto server that the doctor finds healthy, and the knobs that break one
thing of it at a time (tests/integration/test_doctor.py). Real moto calls only."""

from __future__ import annotations

import json

from tests.run_support import record_definition

ACCOUNT = "123456789012"
REGION = "us-east-1"
REPO = "demo"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPO}:c-0123abcd"


def network(aws, route: bool = True) -> dict:
    """The default VPC's first subnet, with an internet gateway route for 0.0.0.0/0 when `route`."""
    ec2 = aws.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    if route:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=subnet["VpcId"])
        table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])["RouteTables"][0]
        ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    return {"subnet": subnet["SubnetId"], "vpc": subnet["VpcId"], "group": group}


def roles(aws, policy: bool = True) -> dict:
    iam = aws.client("iam")
    service = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    if policy:
        # moto does not load AWS's managed policies: an inline policy stands for AWSBatchServiceRole
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:*", "ecs:*"], "Resource": "*"}]}
        iam.put_role_policy(RoleName="batch-service", PolicyName="batch", PolicyDocument=json.dumps(document))
    iam.create_role(RoleName="ecs-instance", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName="ecs-instance")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="ecs-instance", RoleName="ecs-instance")
    execution = iam.create_role(RoleName="task-execution", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return {"service": service, "profile": profile, "execution": execution}


def image(aws, push: bool = True) -> str:
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName=REPO)
    if push:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                               "digest": "sha256:" + "1" * 64}, "layers": []}
        ecr.put_image(repositoryName=REPO, imageManifest=json.dumps(manifest), imageTag="c-0123abcd")
    return IMAGE


def environment(aws, *, kind: str = "EC2", types=("c5",), max_vcpus: int = 16, route: bool = True,
                policy: bool = True, push: bool = True, vcpus: str = "1", memory: str = "2048",
                queue_state: str = "ENABLED", extra: dict | None = None) -> dict:
    """A queue on one managed compute environment and a job definition: healthy unless told."""
    net, iam, img = network(aws, route), roles(aws, policy), image(aws, push)
    resources = {"type": kind, "maxvCpus": max_vcpus, "subnets": [net["subnet"]], "securityGroupIds": [net["group"]]}
    fargate = kind.startswith("FARGATE")
    if not fargate:
        resources.update(minvCpus=0, instanceTypes=list(types), instanceRole=iam["profile"])
    resources.update(extra or {})
    batch = aws.client("batch")
    ce = batch.create_compute_environment(computeEnvironmentName="demo-ce", type="MANAGED", state="ENABLED",
                                          serviceRole=iam["service"], computeResources=resources)
    batch.create_job_queue(jobQueueName="demo-queue", state=queue_state, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "demo-ce"}])
    container = {"image": img, "command": ["echo", "Ref::word"], "executionRoleArn": iam["execution"],
                 "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]}
    if fargate:
        container["networkConfiguration"] = {"assignPublicIp": "ENABLED"}
    jd = batch.register_job_definition(jobDefinitionName="demo-experiment", type="container", parameters={"word": "hi"},
                                       containerProperties=container,
                                       platformCapabilities=["FARGATE" if fargate else "EC2"])
    return {**net, **iam, "ce_arn": ce["computeEnvironmentArn"], "queue": "demo-queue",
            "jobdef_arn": jd["jobDefinitionArn"], "jobdef_name": jd["jobDefinitionName"]}


def project_for(project, env: dict, **extra) -> object:
    values = {"PROJECT_NAME": "demo", "AWS_JOB_QUEUE": env["queue"], **extra}
    project.env_file(**{k: v for k, v in values.items() if v is not None})
    record_definition(project, env["jobdef_name"], env["jobdef_arn"])
    return project


def runnable(reason: str | None = None, ids: set | None = None):
    """A rewrite for /v1/describejobs: the jobs (all, or `ids`) are RUNNABLE, with `reason` when given."""

    def edit(answer):
        for job in answer.get("jobs", []):
            if ids is None or job["jobId"] in ids:
                job["status"] = "RUNNABLE"
                for key in ("startedAt", "stoppedAt"):
                    job.pop(key, None)
                if reason:
                    job["statusReason"] = reason
                array = job.get("arrayProperties") or {}
                if array.get("size"):  # an array parent: every child RUNNABLE
                    array["statusSummary"] = {"RUNNABLE": array["size"]}
        return answer

    return edit
