"""The submit's pure parts: the job's name, the run options handed to -r's checks, the manifest of calls."""

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.functions import options as o
from batchdeploy.functions import submit

CALL = {"function": {"url": "s3://b/runs/functions/" + "a" * 64 + ".pkl", "sha256": "a" * 64},
        "arguments": {"inline": "gA==", "sha256": "b" * 64}, "python": "3.11",
        "result": "s3://b/runs/r/results/1.pkl"}


def test_the_job_is_named_after_the_function_made_into_a_name_aws_takes():
    def fit():
        pass
    assert submit.job_name(o.parse({}), fit) == "fit"
    assert submit.job_name(o.parse({}), lambda: 1) == "lambda"
    assert submit.job_name(o.parse({"name": "my-fit"}), fit) == "my-fit"
    with pytest.raises(UsageError):
        submit.job_name(o.parse({"name": "bad name"}), fit)


def test_run_options_carry_retries_timeout_tags_and_the_code_choice():
    got = submit.run_options(o.parse({"retries": 3, "timeout": 600, "tags": {"team": "a"}}), "fit", "arn:x")
    assert (got.retries, got.timeout, got.tags, got.job_definition, got.code, got.no_code) == (
        3, 600, ["team=a"], "arn:x", None, False)
    assert submit.run_options(o.parse({"code": False}), "f", "a").no_code is True
    assert submit.run_options(o.parse({"code": "src"}), "f", "a").code == "src"


def test_a_manifest_of_calls_has_each_tasks_id_and_call_and_is_named_by_its_content():
    m = submit.build_manifest([CALL, {**CALL, "result": "s3://b/runs/r/results/2.pkl"}], [1, 2], None, "s3://b/runs/r/")
    assert [t["id"] for t in m.doc["tasks"]] == [1, 2] and m.doc["command"] is None
    assert m.doc["tasks"][1]["call"]["result"].endswith("/2.pkl")
    assert m.sha256 == submit.build_manifest([CALL, {**CALL, "result": "s3://b/runs/r/results/2.pkl"}], [1, 2], None,
                                             "s3://b/runs/r/").sha256
    with pytest.raises(UsageError, match="do not make a manifest"):
        submit.build_manifest([{**CALL, "python": "three"}], [1], None, "s3://b/runs/r/")
