"""The pure parts of create/delete: names, checks, differences, the plans, .aws_env edits, waiting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batchdeploy import config, infra
from batchdeploy.errors import OperationError

ROOT = Path(__file__).resolve().parents[2]
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


# --- names -----------------------------------------------------------------------------------


def test_default_names_come_from_the_prefix_and_the_bucket_is_lowercase():
    assert infra.default_name("job-queue", "Demo_Dev") == "Demo_Dev-job-queue"
    assert infra.default_name("bucket", "Demo_Dev") == "demo-dev-bucket"
    assert infra.default_prefix("demo", "development") == "demo-development"


@pytest.mark.parametrize(
    "name, ok",
    [
        ("demo-dev-bucket", True),
        ("ab", False),
        ("a" * 64, False),
        ("my..bucket", False),
        ("192.168.1.1", False),
        ("xn--abc", False),
        ("abc-s3alias", False),
        ("Upper", False),
        ("-dash", False),
    ],
)
def test_bucket_names_follow_s3s_rules(name, ok):
    assert (infra.bucket_problems(name) == []) is ok


def test_name_from_ref_understands_arns_and_revisions():
    arn = "arn:aws:batch:us-east-1:123456789012:job-queue/q1"
    assert infra.name_from_ref("job-queue", arn) == "q1"
    assert infra.name_from_ref("job-definition", "jd:3") == "jd"
    assert infra.name_from_ref("job-definition", "arn:aws:batch:us-east-1:1:job-definition/jd:3") == "jd"


def test_repositories_only_for_an_ecr_registry():
    ecr = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    assert infra.repository_names(ecr, None, "demo") == ["demo"]
    assert infra.repository_names(ecr, "app=. worker=worker", "demo") == ["app", "worker"]
    assert infra.repository_names(ecr + "/team", "app=.", "demo") == ["team/app"]
    assert infra.repository_names("127.0.0.1:5000", "app=.", "demo") == []
    assert infra.repository_names(None, "app=.", "demo") == []


# --- filling and checking --------------------------------------------------------------------


def test_fill_names_tags_and_the_queues_compute_environment():
    docs = infra.fill_specs(
        {"compute-environment": {"type": "MANAGED", "tags": {"team": "ml"}}, "job-queue": {"priority": 1}},
        "demo-dev",
        "demo",
    )
    assert docs["compute-environment"]["computeEnvironmentName"] == CE_NAME
    assert docs["compute-environment"]["tags"] == {"team": "ml", **OURS}
    queue = infra.fill_queue_order(docs["job-queue"], CE_NAME)
    assert queue["jobQueueName"] == "demo-dev-job-queue"
    assert queue["state"] == "ENABLED"
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": CE_NAME}]
    named = infra.fill_queue_order(
        {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "x"}]}, CE_NAME
    )
    assert named["computeEnvironmentOrder"][0]["computeEnvironment"] == "x"


def test_the_example_files_are_valid_requests():
    variables = {"SUBNET_ID": "subnet-1", "SECURITY_GROUP_ID": "sg-1", "PREFIX": "demo-dev"}
    docs = {
        "compute-environment": config.render(
            config.load_json(ROOT / "compute-environment.json.example"), variables, "ce"
        ),
        "job-queue": config.render(config.load_json(ROOT / "job-queue.json.example"), variables, "q"),
    }
    docs = infra.fill_specs(docs, "demo-dev", "demo")
    docs["job-queue"] = infra.fill_queue_order(docs["job-queue"], CE_NAME)
    assert docs["compute-environment"]["computeResources"]["minvCpus"] == 0
    for kind, doc in docs.items():
        assert infra.spec_problems(kind, doc, "demo", "demo-dev") == [], kind


def test_every_problem_of_a_compute_environment_at_once():
    doc = fargate(minvCpus=0, instanceTypes=["optimal"], maxvCpus="4")
    doc["computeEnvironmentName"] = "-bad"
    doc["tags"]["aws:x"] = "1"
    doc["tags"]["batchdeploy:project"] = "other"
    problems = infra.spec_problems("compute-environment", doc, "demo", "demo-dev")
    assert "computeResources.maxvCpus: expected an integer, got a string" in problems
    assert any(p.startswith("computeEnvironmentName: '-bad' must be 2-128") for p in problems)
    assert "computeResources.minvCpus: not applicable to FARGATE; remove it" in problems
    assert "computeResources.instanceTypes: not applicable to FARGATE; remove it" in problems
    assert "tags.aws:x: keys starting with aws: are reserved by AWS" in problems
    assert "tags.batchdeploy:project: batchdeploy sets this tag; remove it from the file" in problems


def test_ec2_compute_resources_limits():
    doc = fargate(type="EC2", minvCpus=8, maxvCpus=4, desiredvCpus=9, bidPercentage=120)
    problems = infra.spec_problems("compute-environment", doc, "demo", "demo-dev")
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
    problems = infra.spec_problems("job-queue", doc, "demo", "demo-dev")
    assert "priority: 1001 is outside 0-1000" in problems
    assert "computeEnvironmentOrder: 4 compute environments; AWS allows 3" in problems
    assert "computeEnvironmentOrder: each `order` must be different" in problems
    assert any(p.startswith("computeEnvironmentOrder[0].computeEnvironment: missing") for p in problems)


def test_job_definitions_are_checked_and_tagged_the_way_update_jobs_does_it(tmp_path):
    from batchdeploy.aws.tags import TAG_HASH
    from batchdeploy.jobs import compare

    (tmp_path / ".aws_env").write_text("PROJECT_NAME=demo\n")
    cfg = config.load(environ={}, cwd=tmp_path)

    def request_for(doc):  # a file of project demo, prefix demo-dev
        (tmp_path / "jd.json").write_text(json.dumps(doc))
        return infra.jobdef_request(cfg, tmp_path / "jd.json", "jd.json", "demo-dev", "1.0", "VERSION")

    doc = {
        "type": "container",
        "containerProperties": {"image": "busybox"},
        "tags": {"batchdeploy:mine": "x"},
    }
    request, problems, _ = request_for(doc)
    assert request is None
    assert any("VCPU is required" in p for p in problems)
    assert any("batchdeploy:mine" in p for p in problems)
    good = {
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        "tags": {"team": "ml"},
    }
    request, problems, _ = request_for(good)
    assert problems == []
    assert request["jobDefinitionName"] == "demo-dev-job-definition"
    tags = request["tags"]
    assert (
        tags["team"] == "ml"
        and tags["batchdeploy:project"] == "demo"
        and tags["batchdeploy:prefix"] == "demo-dev"
    )
    assert tags[TAG_HASH] == compare.content_hash(request)


def test_the_prefix_tag_counts_towards_the_tag_limit(tmp_path):
    (tmp_path / ".aws_env").write_text("PROJECT_NAME=demo\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    doc = {
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        "tags": {f"t{i}": "x" for i in range(48)},  # -u's check allows 48 beside its project and hash tags
    }
    (tmp_path / "jd.json").write_text(json.dumps(doc))
    request, problems, _ = infra.jobdef_request(cfg, tmp_path / "jd.json", "jd.json", "p", "1.0", "VERSION")
    assert request is None
    assert problems == ["jd.json: tags: with batchdeploy's prefix tag, above AWS's limit of 50"]


# --- differences -----------------------------------------------------------------------------


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


def test_what_aws_adds_or_reorders_is_no_difference():
    want = fargate()
    want["serviceRole"] = "AWSBatchServiceRole"
    assert infra.differences(want, described()) == []
    assert infra.tag_differences(want["tags"], described()["tags"]) == []


def test_differences_name_the_field_and_both_values():
    want = fargate(maxvCpus=8)
    want["state"] = "ENABLED"
    diffs = infra.differences(want, described(state="DISABLED"))
    assert [infra.format_difference(d) for d in diffs] == [
        "computeResources.maxvCpus: file 8, AWS 4",
        'state: file "ENABLED", AWS "DISABLED"',
    ]
    assert infra.not_updatable("compute-environment", diffs) == []
    assert infra.update_request("compute-environment", CE_NAME, want, diffs) == {
        "computeEnvironment": CE_NAME,
        "computeResources": {"maxvCpus": 8},
        "state": "ENABLED",
    }


def test_fields_aws_cannot_update_are_named():
    want = fargate()
    want["type"] = "UNMANAGED"
    diffs = infra.differences(want, described())
    assert infra.not_updatable("compute-environment", diffs) == ["type"]


def test_queue_order_by_name_or_arn_is_the_same():
    want = {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_NAME}], "priority": 1}
    have = {
        "computeEnvironmentOrder": [
            {"order": 1, "computeEnvironment": f"arn:aws:batch:r:1:compute-environment/{CE_NAME}"}
        ],
        "priority": 1,
    }
    assert infra.differences(want, have) == []
    have["priority"] = 2
    diffs = infra.differences(want, have)
    assert infra.update_request("job-queue", "q", want, diffs) == {"jobQueue": "q", "priority": 1}


# --- plans -----------------------------------------------------------------------------------


def wanted_all():
    queue = infra.fill_queue_order(
        {"jobQueueName": "demo-dev-job-queue", "priority": 1, "tags": dict(OURS)}, CE_NAME
    )
    return [
        infra.Wanted("job-queue", "demo-dev-job-queue", queue, "job-queue.json"),
        infra.Wanted("compute-environment", CE_NAME, fargate(), "compute-environment.json"),
        infra.Wanted("bucket", "demo-dev-bucket", {"Bucket": "demo-dev-bucket"}, "prefix"),
    ]


def test_plan_creates_what_is_missing_in_dependency_order():
    actions, problems = infra.plan_create(wanted_all(), {}, "demo", "demo-dev", update=False)
    assert problems == []
    assert [(a.op, a.kind) for a in actions] == [
        ("create", "bucket"),
        ("create", "compute-environment"),
        ("create", "job-queue"),
    ]


def test_plan_leaves_what_matches_and_reports_what_differs():
    observed = {
        ("compute-environment", CE_NAME): described(),
        ("job-queue", "demo-dev-job-queue"): {
            "priority": 5,
            "state": "ENABLED",
            "tags": OURS,
            "arn": "q",
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_NAME}],
        },
        ("bucket", "demo-dev-bucket"): {"tags": OURS, "arn": "b"},
    }
    actions, problems = infra.plan_create(wanted_all(), observed, "demo", "demo-dev", update=False)
    assert problems == []
    assert [(a.op, a.kind) for a in actions] == [
        ("ok", "bucket"),
        ("ok", "compute-environment"),
        ("differs", "job-queue"),
    ]
    assert actions[2].diff == ["priority: file 1, AWS 5"]
    actions, _ = infra.plan_create(wanted_all(), observed, "demo", "demo-dev", update=True)
    assert actions[2].op == "update" and actions[2].request == {
        "jobQueue": "demo-dev-job-queue",
        "priority": 1,
    }


def test_plan_refuses_a_name_of_another_project_and_a_missing_reference():
    observed = {
        ("compute-environment", CE_NAME): described(
            tags={"batchdeploy:project": "other", "batchdeploy:prefix": "o"}
        )
    }
    wanted = wanted_all() + [infra.Wanted("job-definition", "jd", None, "--job-definition jd", ref="jd")]
    _, problems = infra.plan_create(wanted, observed, "demo", "demo-dev", update=False)
    assert any("exists but belongs to project 'other', prefix 'o'" in p for p in problems)
    assert "job definition jd does not exist (--job-definition jd: not a file either)" in problems


def test_plan_uses_an_explicit_bucket_without_our_tags_but_not_a_default_one():
    w = infra.Wanted("bucket", "b-1", {"Bucket": "b-1"}, "--bucket", adopt=True)
    actions, problems = infra.plan_create([w], {("bucket", "b-1"): {"tags": {}}}, "demo", "demo-dev", False)
    assert problems == [] and actions[0].op == "use"
    w.adopt = False
    _, problems = infra.plan_create([w], {("bucket", "b-1"): {"tags": {}}}, "demo", "demo-dev", False)
    assert problems and "was not created by batchdeploy" in problems[0]


def test_delete_plan_takes_only_ours_in_order():
    other = {"batchdeploy:project": "other", "batchdeploy:prefix": "x"}
    found = {
        "compute-environment": [
            {"name": CE_NAME, "arn": "ce1", "tags": OURS, "state": "ENABLED"},
            {"name": "theirs", "arn": "ce2", "tags": other, "state": "ENABLED"},
            {"name": "shared-ce", "arn": "ce3", "tags": OURS, "state": "DISABLED"},
        ],
        "job-queue": [
            {
                "name": "q",
                "arn": "q1",
                "tags": OURS,
                "state": "ENABLED",
                "active_jobs": 2,
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_NAME}],
            },
            {
                "name": "their-q",
                "arn": "q2",
                "tags": other,
                "state": "ENABLED",
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "shared-ce"}],
            },
        ],
        "job-definition": [
            {"name": "jd", "arn": "jd:1", "tags": OURS},
            {"name": "jd", "arn": "jd:2", "tags": OURS},
            {"name": "demo-experiment", "arn": "e:1", "tags": {"batchdeploy:project": "demo"}},
        ],
        "bucket": [{"name": "demo-dev-bucket", "arn": "b", "tags": OURS, "not_empty": True}],
        "ecr-repository": [{"name": "app", "arn": "r", "tags": OURS}],
    }
    actions = infra.plan_delete(
        found, "demo", "demo-dev", keep=set(), delete_contents=False, delete_images=False
    )
    assert [(a.op, a.kind, a.name) for a in actions] == [
        ("delete", "job-queue", "q"),
        ("delete", "compute-environment", CE_NAME),
        ("keep", "compute-environment", "shared-ce"),
        ("delete", "job-definition", "jd"),
        ("keep", "job-definition", "demo-experiment"),
        ("delete", "ecr-repository", "app"),
        ("keep", "bucket", "demo-dev-bucket"),
    ]
    assert "2 unfinished job(s) will be terminated" in actions[0].note
    assert "still used by job queue their-q" in actions[2].note
    assert actions[3].details["revisions"] == ["jd:1", "jd:2"]
    again = infra.plan_delete(
        found, "demo", "demo-dev", keep={"q"}, delete_contents=True, delete_images=False
    )
    assert ("keep", "compute-environment", CE_NAME) in [(a.op, a.kind, a.name) for a in again]
    assert ("delete", "bucket", "demo-dev-bucket") in [(a.op, a.kind, a.name) for a in again]


def test_plan_lines_show_op_kind_name_and_differences():
    a = infra.Action("differs", "job-queue", "q", diff=["priority: file 1, AWS 5"], note="--update to apply")
    assert infra.plan_lines([a], "plan:") == [
        "plan:",
        "  differs  job queue            q  (--update to apply)",
        "             priority: file 1, AWS 5",
    ]
    assert json.dumps(a.as_dict())


# --- .aws_env ----------------------------------------------------------------------------------


def test_env_edit_keeps_comments_order_and_other_lines():
    text = "# settings\nPROJECT_NAME=demo\nexport S3_BUCKET=old # results\r\n# AWS_JOB_QUEUE=commented\nX='a # b'  # c\n"
    new = infra.edit_env_text(text, {"S3_BUCKET": "new-b", "AWS_JOB_QUEUE": "q", "X": "y"}, "written by test")
    assert new == (
        "# settings\nPROJECT_NAME=demo\nexport S3_BUCKET=new-b # results\r\n# AWS_JOB_QUEUE=commented\nX=y  # c\n"
        "# written by test\nAWS_JOB_QUEUE=q\n"
    )
    assert infra.edit_env_text("A=1", {"B": "2"}) == "A=1\nB=2\n"
    assert infra.edit_env_text("", {"B": "2"}) == "B=2\n"


def test_write_env_is_atomic_keeps_the_mode_and_follows_a_symlink(tmp_path):
    real = tmp_path / "real.env"
    real.write_text("A=1\n")
    os.chmod(real, 0o640)
    link = tmp_path / ".aws_env"
    link.symlink_to(real)
    infra.write_env(link, {"A": "2"})
    assert link.is_symlink() and real.read_text() == "A=2\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".real")] == []
    fresh = infra.write_env(tmp_path / "new.env", {"A": "1"})
    assert fresh.stat().st_mode & 0o777 == 0o600


# --- waiting -----------------------------------------------------------------------------------


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, s):
        self.slept.append(s)
        self.now += s

    def clock(self):
        return self.now


def test_wait_returns_as_soon_as_done():
    t = FakeTime()
    answers = iter([(False, "CREATING"), (False, "CREATING"), (True, "VALID")])
    infra.wait_until(lambda: next(answers), "ce", 600, t.sleep, t.clock)
    assert t.slept == [2.0, 3.0]


def test_wait_is_bounded_and_says_the_last_status():
    t = FakeTime()
    with pytest.raises(OperationError) as caught:
        infra.wait_until(
            lambda: (False, "status CREATING: no capacity"), "ce X to become VALID", 100, t.sleep, t.clock
        )
    assert caught.value.message == "ce X to become VALID: not done after 100 s (status CREATING: no capacity)"
    assert sum(t.slept) == pytest.approx(100) and max(t.slept) <= 15


def test_wait_stops_at_once_on_a_failure_the_check_raises():
    t = FakeTime()

    def check():
        raise OperationError("compute environment X is INVALID: CLIENT_ERROR")

    with pytest.raises(OperationError, match="INVALID"):
        infra.wait_until(check, "ce", 100, t.sleep, t.clock)
    assert t.slept == []
