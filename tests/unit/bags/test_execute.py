"""The pure parts of the bag executor: a task's SubmitJob, its log stream, why it failed, and the
requests of a pegasus run (its own jobDefinition/jobQueue honoured, pegasus's variables injected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.bags import names
from batchdeploy.bags.execute import request_for, stream_of, why_failed
from batchdeploy.bags.pegasus import placed_tasks
from batchdeploy.bags.properties import Settings
from batchdeploy.bags.submitfile import Bag, BagTask
from batchdeploy.errors import UsageError


def test_a_request_carries_the_command_as_two_words_the_environment_and_a_client_token():
    t = BagTask("t1", ["myjob.sh", "60 --fast"])
    r = request_for(t, {"K": "V"}, "jd:3", "q", "tok-t1")
    assert r == {"jobName": "t1", "jobQueue": "q", "jobDefinition": "jd:3",
                 "containerOverrides": {"command": ["myjob.sh", "60 --fast"], "environment": [{"name": "K", "value": "V"}]},
                 "tags": {TAG_CLIENT_TOKEN: "tok-t1"}}


def test_a_request_above_awss_payload_limit_is_refused_before_sending():
    with pytest.raises(UsageError, match="30,720"):
        request_for(BagTask("t1", ["x"]), {"BIG": "y" * 40_000}, "jd", "q", "tok")


def test_the_stream_is_the_last_attempts_then_the_jobs_own():
    record = {"attempts": [{"container": {"logStreamName": "a/default/1"}}, {"container": {"logStreamName": "a/default/2"}}],
              "container": {"logStreamName": "a/default/3"}}
    assert stream_of(record) == "a/default/2"
    assert stream_of({"container": {"logStreamName": "a/default/3"}}) == "a/default/3"
    assert stream_of({}) is None


def test_why_a_task_failed_names_its_exit_code_and_reasons_once():
    assert why_failed({"statusReason": "Essential container exited", "container": {"exitCode": 1,
                                                                                  "reason": "Essential container exited"}}) \
        == "exit code 1; Essential container exited"
    assert why_failed({}) == "FAILED (AWS gave no reason)"


def settings(**kw) -> Settings:
    return Settings(mode="run", prefix="p", region="us-east-1", account="123456789012", **kw)


def test_a_tasks_own_definition_and_queue_win_over_the_runs(tmp_path: Path):
    s = settings(job_definition="jd", compute_environment="ce", job_queue="q", files=("common.sh",))
    plan = names.plan(s, tmp_path)
    bag = Bag([BagTask("a", ["x"], {"TRANSFER_INPUT_FILES": "in.txt"}), BagTask("b", ["x"], job_definition="own",
                                                                                job_queue="ownq")], [])
    a, b = placed_tasks(bag, s, plan, {})
    assert (a.request["jobDefinition"], a.request["jobQueue"]) == (
        "arn:aws:batch:us-east-1:123456789012:job-definition/jd", "arn:aws:batch:us-east-1:123456789012:job-queue/q")
    assert (b.request["jobDefinition"], b.request["jobQueue"]) == ("own", "ownq")
    env = {e["name"]: e["value"] for e in a.request["containerOverrides"]["environment"]}
    assert env == {"TRANSFER_INPUT_FILES": "in.txt,common.sh", "PEGASUS_AWS_BATCH_BUCKET": "s3://p-bucket/",
                   "PEGASUS_JOB_NAME": "a"}
    assert a.request["tags"][TAG_CLIENT_TOKEN] != b.request["tags"][TAG_CLIENT_TOKEN]
