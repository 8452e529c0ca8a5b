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
    # What fails most first, so that a failure leaves the least behind; the bucket last.
    assert [(a.op, a.kind) for a in actions] == [
        ("create", "compute-environment"),
        ("create", "job-queue"),
        ("create", "bucket"),
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
        ("ok", "compute-environment"),
        ("differs", "job-queue"),
        ("ok", "bucket"),
    ]
    assert actions[1].diff == ["priority: file 1, AWS 5"]
    actions, _ = plan.plan_create(wanted_all(), observed, "demo", "demo-dev", update=True)
    assert actions[1].op == "update" and actions[1].request == {
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


# --- issue #26: disabled compute environments, shared repositories, what is left alone -------------


def test_a_disabled_compute_environment_of_ours_is_a_problem_unless_update_enables_it():
    observed = {("compute-environment", CE_NAME): described(state="DISABLED")}
    wanted = [w for w in wanted_all() if w.kind == "compute-environment"]
    actions, problems = plan.plan_create(wanted, observed, "demo", "demo-dev", update=False)
    assert actions == [] and len(problems) == 1
    assert f"compute environment {CE_NAME} is ours but DISABLED" in problems[0]
    assert "create --update to enable it again" in problems[0]
    actions, problems = plan.plan_create(wanted, observed, "demo", "demo-dev", update=True)
    assert problems == [] and actions[0].op == "update"
    assert actions[0].request == {"computeEnvironment": CE_NAME, "state": "ENABLED"}
    # A file that asks for DISABLED gets what it asks for.
    wanted[0].request["state"] = "DISABLED"
    actions, problems = plan.plan_create(wanted, observed, "demo", "demo-dev", update=False)
    assert problems == [] and actions[0].op == "ok"


def test_the_last_line_of_a_plan_with_differences_is_not_nothing_to_do():
    from batchdeploy.infra import verbs

    class Out:
        json = False
        lines: list = []

        def info(self, text):
            self.lines.append(text)

        result = info

    class Ctx:
        out = Out()

    differs = model.Action("differs", "compute-environment", CE_NAME, diff=["x"])
    p = type("P", (), {"actions": [differs], "changes": [], "prefix": "demo-dev"})()
    opts = verbs.CreateOptions()
    assert verbs._create_report(Ctx(), opts, p, type("J", (), {"items": []})()) == 0
    assert not any("nothing to do" in line for line in Out.lines)
    assert f"left as it is, differing from its file: compute environment {CE_NAME}" in Out.lines[0]


REPO = {"name": "demo", "arn": "r", "repositoryUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo"}


def _repo_plan(tags, more=None, images=None, delete_images=True):
    found = {"ecr-repository": [{**REPO, "tags": tags, "not_empty": True}], "images": images or [], **(more or {})}
    return [(a.op, a.kind, a.note) for a in plan.plan_delete(found, "demo", "demo-dev", set(), False, delete_images)]


def test_a_repository_is_the_projects_and_goes_with_the_last_prefix():
    project_only = {"batchdeploy:project": "demo"}
    assert _repo_plan(project_only)[0][:2] == ("delete", "ecr-repository")
    assert _repo_plan(project_only, delete_images=False)[0][0] == "keep"
    # Another prefix of the project still stands: its images are not this prefix's to remove.
    other = {"job-queue": [{"name": "demo-prod-job-queue", "arn": "q", "tags": {**OURS, "batchdeploy:prefix": "demo-prod"}}]}
    op, _, note = _repo_plan(project_only, other)[0]
    assert op == "keep" and "prefix demo-prod still has resources" in note
    # A job definition outside this teardown still names one of its images.
    used = [{"arn": "arn:aws:batch:us-east-1:123456789012:job-definition/exp:3", "images": [REPO["repositoryUri"] + ":c-1"]}]
    op, _, note = _repo_plan(project_only, images=used)[0]
    assert op == "keep" and "job definition exp:3 still names its images" in note
    # Another project's, or one made by hand: never.
    assert _repo_plan({"batchdeploy:project": "other"})[0][0] == "keep"
    op, _, note = _repo_plan({})[0]
    assert op == "keep" and "was not created by batchdeploy" in note


def test_delete_says_what_named_like_the_prefix_it_leaves_alone():
    found = {
        "compute-environment": [{"name": "demo-dev-compute-environment", "arn": "c", "tags": {}}],
        "job-queue": [{"name": "demo-dev-job-queue", "arn": "q", "tags": {"batchdeploy:project": "x", "batchdeploy:prefix": "demo-dev"}}],
    }
    actions = plan.plan_delete(found, "demo", "demo-dev", set(), False, False)
    assert [(a.op, a.kind) for a in actions] == [("keep", "compute-environment"), ("keep", "job-queue")]
    assert "was not created by batchdeploy" in actions[0].note
    assert "belongs to project 'x'" in actions[1].note


def test_plan_create_accepts_the_projects_repository_whatever_made_it():
    w = model.Wanted("ecr-repository", "demo", {"repositoryName": "demo"}, "AWS_REGISTRY and IMAGES")
    for tags in ({"batchdeploy:project": "demo"}, {"batchdeploy:project": "demo", "batchdeploy:prefix": "demo-prod"}):
        actions, problems = plan.plan_create([w], {("ecr-repository", "demo"): {"tags": tags}}, "demo", "demo-dev", False)
        assert problems == [] and actions[0].op == "ok"
    _, problems = plan.plan_create([w], {("ecr-repository", "demo"): {"tags": {}}}, "demo", "demo-dev", False)
    assert problems and "was not created by batchdeploy" in problems[0]
