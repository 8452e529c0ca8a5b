"""Differences between a file and what AWS describes, and what an update can change."""

from __future__ import annotations

from batchdeploy.infra import diff
from tests.unit.infra.support import CE_NAME, described, fargate

# --- differences -----------------------------------------------------------------------------


def test_what_aws_adds_or_reorders_is_no_difference():
    want = fargate()
    want["serviceRole"] = "AWSBatchServiceRole"
    assert diff.differences(want, described()) == []
    assert diff.tag_differences(want["tags"], described()["tags"]) == []


def test_differences_name_the_field_and_both_values():
    want = fargate(maxvCpus=8)
    want["state"] = "ENABLED"
    diffs = diff.differences(want, described(state="DISABLED"))
    assert [diff.format_difference(d) for d in diffs] == [
        "computeResources.maxvCpus: file 8, AWS 4",
        'state: file "ENABLED", AWS "DISABLED"',
    ]
    assert diff.not_updatable("compute-environment", diffs) == []
    assert diff.update_request("compute-environment", CE_NAME, want, diffs) == {
        "computeEnvironment": CE_NAME,
        "computeResources": {"maxvCpus": 8},
        "state": "ENABLED",
    }


def test_fields_aws_cannot_update_are_named():
    want = fargate()
    want["type"] = "UNMANAGED"
    diffs = diff.differences(want, described())
    assert diff.not_updatable("compute-environment", diffs) == ["type"]


def test_queue_order_by_name_or_arn_is_the_same():
    want = {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE_NAME}], "priority": 1}
    have = {
        "computeEnvironmentOrder": [
            {"order": 1, "computeEnvironment": f"arn:aws:batch:r:1:compute-environment/{CE_NAME}"}
        ],
        "priority": 1,
    }
    assert diff.differences(want, have) == []
    have["priority"] = 2
    diffs = diff.differences(want, have)
    assert diff.update_request("job-queue", "q", want, diffs) == {"jobQueue": "q", "priority": 1}
