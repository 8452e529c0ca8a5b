"""One job definition per (image, resources): its content, name, hash and tags (pure)."""

import pytest

from batchdeploy.aws import shapes
from batchdeploy.aws.batch import NAME
from batchdeploy.aws.tags import TAG_HASH, TAG_PROJECT
from batchdeploy.errors import UsageError
from batchdeploy.functions import jobdefs, pyversion
from batchdeploy.jobs.prune import KIND_FUNCTION, TAG_KIND

BASE = {"containerProperties": {
    "image": "r/app:1", "jobRoleArn": "arn:aws:iam::123456789012:role/job",
    "environment": [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/opt/bdl"}, {"name": "SECRETISH", "value": "x"}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}}}


def doc(image="r/app:1", **resources):
    return jobdefs.content(image, {"VCPU": "1", "MEMORY": "2048", **resources})


def test_the_same_request_is_the_same_name_and_a_different_one_is_not():
    assert jobdefs.name_of("demo", doc()) == jobdefs.name_of("demo", doc())
    names = {jobdefs.name_of("demo", d) for d in (doc(), doc(VCPU="2"), doc(MEMORY="4096"), doc(GPU="1"), doc("r/app:2"))}
    assert len(names) == 5
    name = jobdefs.name_of("demo", doc())
    assert name.startswith("demo-fn-") and len(name) == len("demo-fn-") + 12 and NAME.fullmatch(name)


def test_gpus_are_resource_requirements_and_the_request_is_valid_for_aws():
    wanted = jobdefs.request("demo", "demo", doc(GPU="2"))
    assert wanted["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}, {"type": "GPU", "value": "2"}]
    assert wanted["tags"] == {TAG_PROJECT: "demo", TAG_HASH: jobdefs.digest(doc(GPU="2")), TAG_KIND: KIND_FUNCTION}
    assert shapes.request("batch", "RegisterJobDefinition", wanted) == []


def test_the_base_definition_gives_roles_logs_and_the_launcher_but_no_other_environment():
    got = jobdefs.content("r/app:1", {"VCPU": "1", "MEMORY": "2048"}, base=BASE)["containerProperties"]
    assert got["jobRoleArn"] == "arn:aws:iam::123456789012:role/job"
    assert got["environment"] == [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/opt/bdl"}]
    assert got["logConfiguration"]["options"]["awslogs-group"] == "g"
    mine = jobdefs.content("r/app:1", {"VCPU": "1", "MEMORY": "2048"}, base=BASE, log_group="covalent-logs",
                           job_role="arn:aws:iam::123456789012:role/other")["containerProperties"]
    assert mine["logConfiguration"]["options"]["awslogs-group"] == "covalent-logs"
    assert mine["jobRoleArn"].endswith("role/other")


def test_a_role_name_becomes_an_arn_in_the_callers_account():
    assert jobdefs.role_arn("CovalentBatchJobRole", "123456789012") == "arn:aws:iam::123456789012:role/CovalentBatchJobRole"
    assert jobdefs.role_arn("arn:aws:iam::1:role/x", None) == "arn:aws:iam::1:role/x"
    with pytest.raises(UsageError, match="account is unknown"):
        jobdefs.role_arn("x", None)


IMAGES = {"app": {"repository": "r/app", "tag": "1", "python": "3.11"},
          "old": {"repository": "r/old", "tag": "1"}}


def test_python_versions_compared_by_major_minor():
    assert pyversion.problem("3.11", "3.11.2", "r/app:1") is None
    assert pyversion.problem("3.12", None, "r/x:1") is None
    line = pyversion.problem("3.12", "3.11.2", "r/app:1")
    assert "this Python is 3.12 and image r/app:1 has Python 3.11" in line


def test_a_mismatch_is_refused_and_an_unknown_version_is_said():
    with pytest.raises(UsageError, match="has Python 3.11"):
        pyversion.check("r/app:1", IMAGES, client="3.12")
    pyversion.check("r/app:1", IMAGES, client="3.11")
    said = []
    pyversion.check("r/old:1", IMAGES, said.append, client="3.12")
    pyversion.check("elsewhere/x:1", IMAGES, said.append, client="3.12")
    assert len(said) == 2 and all("cannot be checked" in s for s in said)
