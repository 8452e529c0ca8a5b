"""A project `init` wrote, against the moto server over HTTP: `--create` makes the roles, instance
profile and network the files leave to it, a second `--create` changes nothing, `--delete` leaves
no role, profile, queue, compute environment, bucket or repository behind."""

from __future__ import annotations

import json

import pytest

ACCOUNT = "123456789012"  # moto's
PREFIX = "my-project-dev"
ROLES = [f"{PREFIX}-{s}" for s in ("batch-service", "ecs-instance", "job", "execution")]


@pytest.fixture
def made(moto, project):
    r = project.run("init", "--local")
    assert r.returncode == 0, r.stderr
    # The registry is an ECR host, as on AWS, so --create makes (and --delete removes) the repository.
    env = {"AWS_REGISTRY": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"}
    return project, env


def ours(aws):
    iam, batch = aws.client("iam"), aws.client("batch")
    return {
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)),
        "profiles": sorted(p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]),
        "ces": [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]],
        "queues": [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]],
        "buckets": [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]],
        "repos": [r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]],
    }


def test_create_makes_roles_and_network_then_delete_leaves_nothing(made, aws):
    project, env = made
    r = project.deploy("--create", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    have = ours(aws)
    assert have == {
        "roles": sorted(ROLES), "profiles": [f"{PREFIX}-ecs-instance"], "ces": [f"{PREFIX}-compute-environment"],
        "queues": [f"{PREFIX}-job-queue"], "buckets": [f"{PREFIX}-bucket"], "repos": ["my-project"],
    }
    iam = aws.client("iam")
    trust = {n: iam.get_role(RoleName=n)["Role"]["AssumeRolePolicyDocument"] for n in ROLES}
    services = {n: t["Statement"][0]["Principal"]["Service"] for n, t in trust.items()}
    assert services == {
        f"{PREFIX}-batch-service": "batch.amazonaws.com", f"{PREFIX}-ecs-instance": "ec2.amazonaws.com",
        f"{PREFIX}-job": "ecs-tasks.amazonaws.com", f"{PREFIX}-execution": "ecs-tasks.amazonaws.com",
    }
    tags = {t["Key"]: t["Value"] for t in iam.get_role(RoleName=ROLES[2])["Role"]["Tags"]}
    assert tags == {"batchdeploy:project": "my-project", "batchdeploy:prefix": PREFIX}
    policy = iam.get_role_policy(RoleName=f"{PREFIX}-job", PolicyName="bucket-access")["PolicyDocument"]
    resources = [s["Resource"] for s in policy["Statement"]]
    assert resources == [f"arn:aws:s3:::{PREFIX}-bucket", f"arn:aws:s3:::{PREFIX}-bucket/*"]
    # The execution role reads the project's SECRETS parameters (ECS resolves them with it), nothing else.
    policy = iam.get_role_policy(RoleName=f"{PREFIX}-execution", PolicyName="secrets-read")["PolicyDocument"]
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (["ssm:GetParameters"], "arn:aws:ssm:*:*:parameter/batchdeploy/my-project/*")]
    profile = iam.get_instance_profile(InstanceProfileName=f"{PREFIX}-ecs-instance")["InstanceProfile"]
    assert [x["RoleName"] for x in profile["Roles"]] == [f"{PREFIX}-ecs-instance"]
    # The network: the default VPC's default subnets and security group, said in one line.
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    ce = aws.client("batch").describe_compute_environments()["computeEnvironments"][0]
    subnets = ec2.describe_subnets(SubnetIds=ce["computeResources"]["subnets"])["Subnets"]
    assert {s["VpcId"] for s in subnets} == {vpc} and len(subnets) >= 2
    lines = [x for x in r.stderr.splitlines() if x.startswith("network from the default VPC")]
    assert len(lines) == 1 and vpc in lines[0] and ce["computeResources"]["securityGroupIds"][0] in lines[0]

    again = project.deploy("--create", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert "nothing to do: everything exists and matches" in again.stdout
    assert "created" not in again.stderr
    assert ours(aws) == have

    dry = project.deploy("--delete", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"delete   IAM role {PREFIX}-job" in dry.stderr
    assert ours(aws) == have

    gone = project.deploy("--delete", "--yes", env=env)
    assert gone.returncode == 0, gone.stderr
    assert ours(aws) == {"roles": [], "profiles": [], "ces": [], "queues": [], "buckets": [], "repos": []}


def test_roles_left_alone_by_a_stopped_delete_are_asked_for_then_removed(made, aws):
    project, env = made
    assert project.deploy("--create", "--yes", env=env).returncode == 0
    batch = aws.client("batch")  # everything but the roles already gone, as a delete stopped before them
    for q in batch.describe_job_queues()["jobQueues"]:
        batch.update_job_queue(jobQueue=q["jobQueueName"], state="DISABLED")
        batch.delete_job_queue(jobQueue=q["jobQueueName"])
    for c in batch.describe_compute_environments()["computeEnvironments"]:
        batch.update_compute_environment(computeEnvironment=c["computeEnvironmentName"], state="DISABLED")
        batch.delete_compute_environment(computeEnvironment=c["computeEnvironmentName"])
    aws.client("s3").delete_bucket(Bucket=f"{PREFIX}-bucket")
    aws.client("ecr").delete_repository(repositoryName="my-project", force=True)
    r = project.deploy("--delete", env=env)
    assert r.returncode == 2 and "deleting IAM roles needs confirmation" in r.stderr, r.stderr
    assert ours(aws)["roles"] == sorted(ROLES)
    r = project.deploy("--delete", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    assert ours(aws)["roles"] == [] and ours(aws)["profiles"] == []


def test_roles_not_ours_are_used_as_they_are_and_kept(made, aws):
    project, env = made
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    aws.client("iam").create_role(RoleName=f"{PREFIX}-job", AssumeRolePolicyDocument=trust)
    r = project.deploy("--create", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    assert f"IAM role {PREFIX}-job (was not created by batchdeploy" in r.stderr
    assert aws.client("iam").list_role_policies(RoleName=f"{PREFIX}-job")["PolicyNames"] == []
    gone = project.deploy("--delete", "--yes", env=env)
    assert gone.returncode == 0, gone.stderr
    assert f"kept IAM role {PREFIX}-job" in gone.stderr
    assert ours(aws)["roles"] == [f"{PREFIX}-job"]


def test_a_refused_role_names_the_missing_permission_and_changes_nothing_else(made, aws, proxy):
    project, env = made
    proxy.add(operation="CreateRole", status=403, code="AccessDenied", message="not authorized to perform iam:CreateRole")
    r = project.deploy("--create", "--yes", env={**env, "AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1, r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("batchdeploy: error: ")]
    assert len(errors) == 1 and "needs iam:CreateRole" in errors[0] and "AccessDenied" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    have = ours(aws)  # the roles come first: no compute environment, queue, bucket or repository was made
    assert have["ces"] == have["queues"] == have["buckets"] == have["repos"] == have["roles"] == []


def test_a_compute_environment_naming_no_network_in_a_region_without_default_vpc_is_one_line(made, aws):
    project, env = made
    ec2 = aws.client("ec2")
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]:
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
            ec2.delete_subnet(SubnetId=s["SubnetId"])
    r = project.deploy("--create", "--yes", env=env)
    assert r.returncode == 2, r.stderr
    assert "no default VPC with default subnets: add \"subnets\" and \"securityGroupIds\"" in r.stderr
    assert ours(aws)["roles"] == [] and ours(aws)["buckets"] == []


def test_lost_answers_of_role_writes_are_retried_to_the_same_end(made, aws, proxy):
    """CreateRole and CreateInstanceProfile act, then their answers are lost: the retry finds them made
    (EntityAlreadyExists) and goes on; one role each, tagged, and a second --create changes nothing."""
    project, env = made
    for op in ("CreateRole", "CreateInstanceProfile"):
        proxy.add(operation=op, drop=True, times=1)
    r = project.deploy("--create", "--yes", env={**env, "AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert proxy.count("CreateRole") == 5  # four roles, one of them sent twice
    assert ours(aws)["roles"] == sorted(ROLES) and ours(aws)["profiles"] == [f"{PREFIX}-ecs-instance"]
    tags = {t["Key"]: t["Value"] for t in aws.client("iam").get_role(RoleName=ROLES[0])["Role"]["Tags"]}
    assert tags["batchdeploy:prefix"] == PREFIX
    again = project.deploy("--create", "--yes", env=env)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr


def test_blank_network_keys_are_one_line_each_with_the_fix(made, moto):
    project, env = made
    path = project.path / "compute-environment.json"
    doc = json.loads(path.read_text())
    doc["computeResources"].update(subnets=["${SUBNET_ID}"], securityGroupIds=["${SECURITY_GROUP_ID}"])
    path.write_text(json.dumps(doc))
    with open(project.path / ".aws_env", "a") as f:
        f.write("SUBNET_ID=\nSECURITY_GROUP_ID=\n")
    before = len(moto.requests())
    r = project.deploy("--create", "--yes", env=env)
    assert r.returncode == 2, r.stderr
    assert "subnets[0]: empty (${SUBNET_ID} is empty: set SUBNET_ID in .aws_env, or leave subnets out" in r.stderr
    assert "securityGroupIds[0]: empty (${SECURITY_GROUP_ID} is empty: set SECURITY_GROUP_ID in .aws_env, " \
           "or leave securityGroupIds out of the file for the default VPC's)" in r.stderr
    assert len(moto.requests()) == before


def test_without_yes_nothing_is_made_not_even_a_role(made, aws):
    project, env = made
    r = project.deploy("--create", env=env)
    assert r.returncode == 2 and "needs confirmation and stdin is not a terminal" in r.stderr, r.stderr
    assert f"create   IAM role {PREFIX}-job" in r.stderr  # the plan shows them
    assert ours(aws) == {"roles": [], "profiles": [], "ces": [], "queues": [], "buckets": [], "repos": []}


def test_a_role_an_interrupted_create_left_without_its_policy_is_completed(made, aws):
    project, env = made
    assert project.deploy("--create", "--yes", env=env).returncode == 0
    iam = aws.client("iam")
    iam.delete_role_policy(RoleName=f"{PREFIX}-job", PolicyName="bucket-access")
    iam.delete_role_policy(RoleName=f"{PREFIX}-execution", PolicyName="secrets-read")
    iam.remove_role_from_instance_profile(InstanceProfileName=f"{PREFIX}-ecs-instance", RoleName=f"{PREFIX}-ecs-instance")
    r = project.deploy("--create", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    assert f"completed IAM role {PREFIX}-job" in r.stderr and f"completed IAM role {PREFIX}-ecs-instance" in r.stderr
    assert iam.list_role_policies(RoleName=f"{PREFIX}-job")["PolicyNames"] == ["bucket-access"]
    assert f"completed IAM role {PREFIX}-execution" in r.stderr
    assert iam.list_role_policies(RoleName=f"{PREFIX}-execution")["PolicyNames"] == ["secrets-read"]
    profile = iam.get_instance_profile(InstanceProfileName=f"{PREFIX}-ecs-instance")["InstanceProfile"]
    assert [x["RoleName"] for x in profile["Roles"]] == [f"{PREFIX}-ecs-instance"]
