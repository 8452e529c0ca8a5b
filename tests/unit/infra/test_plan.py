"""The plans of create and delete, and their lines."""

from __future__ import annotations

import json

from batchdeploy.infra import model, plan, specs
from tests.unit.infra.support import CE_NAME, OURS, described, fargate

# --- plans -----------------------------------------------------------------------------------


def wanted_all():
    queue = specs.fill_queue_order(
        {"jobQueueName": "demo-dev-job-queue", "priority": 1, "tags": dict(OURS)}, CE_NAME
    )
    return [
        model.Wanted("job-queue", "demo-dev-job-queue", queue, "job-queue.json"),
        model.Wanted("compute-environment", CE_NAME, fargate(), "compute-environment.json"),
        model.Wanted("bucket", "demo-dev-bucket", {"Bucket": "demo-dev-bucket"}, "prefix"),
    ]


def test_plan_creates_what_is_missing_in_dependency_order():
    actions, problems = plan.plan_create(wanted_all(), {}, "demo", "demo-dev", update=False)
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
    actions, problems = plan.plan_create(wanted_all(), observed, "demo", "demo-dev", update=False)
    assert problems == []
    assert [(a.op, a.kind) for a in actions] == [
        ("ok", "bucket"),
        ("ok", "compute-environment"),
        ("differs", "job-queue"),
    ]
    assert actions[2].diff == ["priority: file 1, AWS 5"]
    actions, _ = plan.plan_create(wanted_all(), observed, "demo", "demo-dev", update=True)
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
    wanted = wanted_all() + [model.Wanted("job-definition", "jd", None, "--job-definition jd", ref="jd")]
    _, problems = plan.plan_create(wanted, observed, "demo", "demo-dev", update=False)
    assert any("exists but belongs to project 'other', prefix 'o'" in p for p in problems)
    assert "job definition jd does not exist (--job-definition jd: not a file either)" in problems


def test_plan_uses_an_explicit_bucket_without_our_tags_but_not_a_default_one():
    w = model.Wanted("bucket", "b-1", {"Bucket": "b-1"}, "--bucket", adopt=True)
    actions, problems = plan.plan_create([w], {("bucket", "b-1"): {"tags": {}}}, "demo", "demo-dev", False)
    assert problems == [] and actions[0].op == "use"
    w.adopt = False
    _, problems = plan.plan_create([w], {("bucket", "b-1"): {"tags": {}}}, "demo", "demo-dev", False)
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
    actions = plan.plan_delete(
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
    again = plan.plan_delete(
        found, "demo", "demo-dev", keep={"q"}, delete_contents=True, delete_images=False
    )
    assert ("keep", "compute-environment", CE_NAME) in [(a.op, a.kind, a.name) for a in again]
    assert ("delete", "bucket", "demo-dev-bucket") in [(a.op, a.kind, a.name) for a in again]


def test_plan_lines_show_op_kind_name_and_differences():
    a = model.Action("differs", "job-queue", "q", diff=["priority: file 1, AWS 5"], note="--update to apply")
    assert plan.plan_lines([a], "plan:") == [
        "plan:",
        "  differs  job queue            q  (--update to apply)",
        "             priority: file 1, AWS 5",
    ]
    assert json.dumps(a.as_dict())
