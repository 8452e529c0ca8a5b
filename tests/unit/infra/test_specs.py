"""Compute environment and queue files: filled in and checked before any call."""

from __future__ import annotations

from batchdeploy import config, userjson
from batchdeploy.infra import specs
from tests.unit.infra.support import CE_NAME, OURS, ROOT, fargate

# --- filling and checking --------------------------------------------------------------------


def test_fill_names_tags_and_the_queues_compute_environment():
    docs = specs.fill_specs(
        {"compute-environment": {"type": "MANAGED", "tags": {"team": "ml"}}, "job-queue": {"priority": 1}},
        "demo-dev",
        "demo",
    )
    assert docs["compute-environment"]["computeEnvironmentName"] == CE_NAME
    assert docs["compute-environment"]["tags"] == {"team": "ml", **OURS}
    queue = specs.fill_queue_order(docs["job-queue"], CE_NAME)
    assert queue["jobQueueName"] == "demo-dev-job-queue"
    assert queue["state"] == "ENABLED"
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": CE_NAME}]
    named = specs.fill_queue_order(
        {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "x"}]}, CE_NAME
    )
    assert named["computeEnvironmentOrder"][0]["computeEnvironment"] == "x"


def test_the_example_files_are_valid_requests():
    variables = {"SUBNET_ID": "subnet-1", "SECURITY_GROUP_ID": "sg-1", "PREFIX": "demo-dev"}
    docs = {
        "compute-environment": config.render(
            userjson.load_json(ROOT / "compute-environment.json.example"), variables, "ce"
        ),
        "job-queue": config.render(userjson.load_json(ROOT / "job-queue.json.example"), variables, "q"),
    }
    docs = specs.fill_specs(docs, "demo-dev", "demo")
    docs["job-queue"] = specs.fill_queue_order(docs["job-queue"], CE_NAME)
    assert docs["compute-environment"]["computeResources"]["minvCpus"] == 0
    for kind, doc in docs.items():
        assert specs.spec_problems(kind, doc, "demo", "demo-dev") == [], kind


def test_every_problem_of_a_compute_environment_at_once():
    doc = fargate(minvCpus=0, instanceTypes=["optimal"], maxvCpus="4")
    doc["computeEnvironmentName"] = "-bad"
    doc["tags"]["aws:x"] = "1"
    doc["tags"]["batchdeploy:project"] = "other"
    problems = specs.spec_problems("compute-environment", doc, "demo", "demo-dev")
    assert "computeResources.maxvCpus: expected an integer, got a string" in problems
    assert any(p.startswith("computeEnvironmentName: '-bad' must be 2-128") for p in problems)
    assert "computeResources.minvCpus: not applicable to FARGATE; remove it" in problems
    assert "computeResources.instanceTypes: not applicable to FARGATE; remove it" in problems
    assert "tags.aws:x: keys starting with aws: are reserved by AWS" in problems
    assert "tags.batchdeploy:project: batchdeploy sets this tag; remove it from the file" in problems


def test_ec2_compute_resources_limits():
    doc = fargate(type="EC2", minvCpus=8, maxvCpus=4, desiredvCpus=9, bidPercentage=120)
    problems = specs.spec_problems("compute-environment", doc, "demo", "demo-dev")
    assert "computeResources.minvCpus: 8 is above maxvCpus 4" in problems
    assert "computeResources.desiredvCpus: 9 is outside minvCpus..maxvCpus" in problems
    assert "computeResources.instanceTypes: required for EC2 compute resources" in problems
    assert "computeResources.bidPercentage: 120 is outside 0-100" in problems


def test_queue_limits():
    doc = {
        "jobQueueName": "q1",
        "priority": 1001,
        "computeEnvironmentOrder": [{"order": i} for i in (1, 1, 2, 3)],
        "tags": dict(OURS),
    }
    problems = specs.spec_problems("job-queue", doc, "demo", "demo-dev")
    assert "priority: 1001 is outside 0-1000" in problems
    assert "computeEnvironmentOrder: 4 compute environments; AWS allows 3" in problems
    assert "computeEnvironmentOrder: each `order` must be different" in problems
    assert any(p.startswith("computeEnvironmentOrder[0].computeEnvironment: missing") for p in problems)


def test_blank_subnets_groups_and_roles_are_named_by_their_placeholder():
    from batchdeploy.infra.precheck import blank_problems

    raw = {"serviceRole": "${SERVICE_ROLE_ARN}", "computeResources": {"subnets": ["${SUBNET_ID}"],
           "securityGroupIds": ["sg-1", " "], "instanceRole": ""}}
    doc = {"serviceRole": "", "computeResources": {"subnets": [""], "securityGroupIds": ["sg-1", " "], "instanceRole": ""}}
    assert blank_problems(doc, raw) == [
        "computeResources.subnets[0]: empty (${SUBNET_ID} is empty: set SUBNET_ID in .aws_env, "
        "or leave subnets out of the file for the default VPC's)",
        "computeResources.securityGroupIds[1]: empty",
        "serviceRole: empty (${SERVICE_ROLE_ARN} is empty: set SERVICE_ROLE_ARN in .aws_env)",
        "computeResources.instanceRole: empty",
    ]
    assert blank_problems({"computeResources": {"subnets": ["subnet-1"]}}) == []


def test_the_principal_simulate_principal_policy_takes():
    from batchdeploy.infra.precheck import principal_arn

    assert principal_arn("arn:aws:iam::123456789012:user/alice") == "arn:aws:iam::123456789012:user/alice"
    assert principal_arn("arn:aws:sts::123456789012:assumed-role/Deployer/s1") == "arn:aws:iam::123456789012:role/Deployer"
    assert principal_arn("arn:aws:sts::123456789012:federated-user/bob") is None and principal_arn(None) is None


def test_a_failed_compute_environment_file_adds_no_follow_on_queue_errors():
    """Before: a compute environment file that did not load left the queue without a compute
    environment, and two more errors (the model's `required`, and `missing`) followed the real one."""
    from batchdeploy.infra import inputs

    sources = {"compute-environment": "compute-environment.json", "job-queue": "job-queue.json"}
    for failed in ({}, {"compute-environment": ["not", "an", "object"]}):
        problems: list[str] = []
        docs = inputs._fill_and_check({**failed, "job-queue": {"priority": 1}}, {}, sources, "demo-dev", "demo", problems)
        assert not [p for p in problems if p.startswith("job-queue.json")], problems
        assert docs["job-queue"]["computeEnvironmentOrder"] == [
            {"order": 1, "computeEnvironment": "demo-dev-compute-environment"}]
    problems = []
    inputs._fill_and_check({"job-queue": {"priority": 1}}, {}, {"job-queue": "job-queue.json"}, "demo-dev", "demo",
                           problems)
    assert any("no compute environment is given" in p for p in problems)  # none given at all: still said
