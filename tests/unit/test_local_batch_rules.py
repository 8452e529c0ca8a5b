"""The local stack's AWS Batch rules (batchdeploy/local/batch_rules.py), pure: evaluateOnExit's globs
and first-match rule, attempts, environments, secrets' valueFrom, vCPU limits, log lines, and
dependencies on arrays (N_TO_N, SEQUENTIAL, failure); and the guard that the moto underneath is the
one the extension (moto_server.py) was written for."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from batchdeploy.local import batch_rules as rules
from batchdeploy.local import moto_server


@pytest.mark.parametrize("pattern, value, matches", [
    (None, None, True), ("3", 3, True), ("3", 30, False), ("3*", 30, True), ("*", 7, True),
    ("4*", 3, False), ("Essential*", "Essential container in task exited", True),
    ("CannotPull*", "Essential container in task exited", False), ("1", None, False),
])
def test_a_glob_is_exact_or_a_prefix_before_its_final_star(pattern, value, matches):
    assert rules.glob_matches(pattern, value) is matches


def test_the_first_entry_whose_every_condition_matches_decides_else_retry():
    entries = [{"onExitCode": "4*", "onStatusReason": "Essential*", "action": "exit"},
               {"onReason": "CannotPull*", "action": "EXIT"}, {"onExitCode": "*", "action": "RETRY"}]
    assert rules.retry_action(entries, rules.EXITED, None, 42) == "EXIT"
    assert rules.retry_action(entries, rules.NOT_STARTED, "CannotPullContainerError: x", None) == "EXIT"
    assert rules.retry_action(entries, rules.EXITED, None, 3) == "RETRY"
    assert rules.retry_action([{"onExitCode": "4*", "action": "EXIT"}], rules.EXITED, None, 3) == "RETRY"
    assert rules.retry_action(None, None, None, None) == "RETRY"


def test_attempts_come_from_submit_over_definition_within_1_to_10():
    assert rules.attempts_allowed(rules.retry_strategy({"attempts": 3}, {"attempts": 5})) == 3
    assert rules.attempts_allowed(rules.retry_strategy(None, {"attempts": 5})) == 5
    assert rules.attempts_allowed({}) == 1 and rules.attempts_allowed({"attempts": 99}) == 10
    assert rules.attempts_allowed({"attempts": "x"}) == 1


def test_overrides_replace_definition_variables_and_aws_batch_variables_are_set():
    env = rules.merged_environment([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], [{"name": "B", "value": "3"}])
    assert env == {"A": "1", "B": "3"}
    assert rules.batch_variables("p:4", 2, "ce", "jq", 4) == {
        "AWS_BATCH_JOB_ID": "p:4", "AWS_BATCH_JOB_ATTEMPT": "2", "AWS_BATCH_CE_NAME": "ce",
        "AWS_BATCH_JQ_NAME": "jq", "AWS_BATCH_JOB_ARRAY_INDEX": "4"}
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in rules.batch_variables("j", 1, "ce", "jq", None)


def test_value_from_names_an_ssm_parameter_or_a_secret_with_its_json_key():
    assert rules.parse_value_from("/app/token", "us-east-1", "1") == rules.SecretRef("ssm", "us-east-1", "1", "/app/token")
    arn = "arn:aws:ssm:eu-west-1:222:parameter/app/token"
    assert rules.parse_value_from(arn, "us-east-1", "1") == rules.SecretRef("ssm", "eu-west-1", "222", arn)
    secret = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf"
    assert rules.parse_value_from(secret, "us-east-1", "1") == rules.SecretRef("secretsmanager", "us-east-1", "1", secret)
    assert rules.parse_value_from(secret + ":password:AWSCURRENT:", "us-east-1", "1") == rules.SecretRef(
        "secretsmanager", "us-east-1", "1", secret, "password", "AWSCURRENT", "")
    assert rules.json_key('{"password": "x", "n": 3}', "password") == "x"
    assert rules.json_key('{"n": 3}', "n") == "3" and rules.json_key("not json", "n") is None
    assert rules.ssm_missing(["/a"]).startswith("ResourceInitializationError: unable to pull secrets or registry auth")


def test_a_managed_environment_runs_up_to_max_vcpus_an_unmanaged_one_its_own():
    assert rules.vcpu_limit("MANAGED", {"maxvCpus": 4}) == 4.0
    assert rules.vcpu_limit("UNMANAGED", None) is None and rules.vcpu_limit("UNMANAGED", None, 8) == 8.0


def test_a_docker_log_line_becomes_a_cloudwatch_event():
    assert rules.parse_log_line("2026-11-30T21:54:40Z hello world", 5) == (1796075680000, "hello world")
    assert rules.parse_log_line("2026-11-30T21:54:40.123456789Z x\r", 5) == (1796075680123, "x")
    assert rules.parse_log_line("no time here", 5) == (5, "no time here")


def array(*states):
    return NS(status="SUBMITTED", _child_jobs=[NS(status=s) for s in states])


def test_an_array_dependency_is_decided_by_all_its_children():
    jobs, job = {"p": array("SUCCEEDED", "RUNNING")}, NS(job_id="j", array_properties=None)
    assert rules.dependency_state(job, {"jobId": "p"}, jobs) is None
    jobs["p"]._child_jobs[1].status = "FAILED"
    assert rules.dependency_state(job, {"jobId": "p"}, jobs) == "FAILED"
    assert rules.dependency_state(job, {"jobId": "p"}, {"p": array("SUCCEEDED", "SUCCEEDED")}) == "SUCCEEDED"


def test_n_to_n_waits_for_the_child_of_the_same_index_only():
    jobs = {"p": array("SUCCEEDED", "RUNNING")}
    first, second = NS(job_id="q:0", array_properties={"index": 0}), NS(job_id="q:1", array_properties={"index": 1})
    assert rules.dependency_state(first, {"jobId": "p", "type": "N_TO_N"}, jobs) == "SUCCEEDED"
    assert rules.dependency_state(second, {"jobId": "p", "type": "N_TO_N"}, jobs) is None


def test_sequential_children_wait_for_the_one_before():
    jobs = {"q:0": NS(status="SUCCEEDED"), "q:1": NS(status="RUNNING")}
    child = lambda i: NS(job_id=f"q:{i}", array_properties={"index": i})  # noqa: E731
    assert rules.dependency_state(child(0), {"type": "SEQUENTIAL"}, jobs) == "SUCCEEDED"
    assert rules.dependency_state(child(1), {"type": "SEQUENTIAL"}, jobs) == "SUCCEEDED"
    assert rules.dependency_state(child(2), {"type": "SEQUENTIAL"}, jobs) is None
    jobs["q:1"].status = "FAILED"
    assert rules.dependency_state(child(2), {"type": "SEQUENTIAL", "jobId": "q"}, jobs) == "FAILED"


def test_a_failed_dependency_stops_the_waiting_job_with_aws_s_reason():
    stopped = []
    job = NS(job_id="j", array_properties=None, depends_on=[{"jobId": "a"}], all_jobs={"a": NS(status="FAILED")},
             stop=False, job_stopped_reason=None, _mark_stopped=lambda success: stopped.append(success))
    assert moto_server.wait_for_dependencies(job) is False and stopped == [False]
    assert job.job_stopped_reason == "Dependent Job failed"
    job = NS(job_id="j", array_properties=None, depends_on=[{"jobId": "a"}], all_jobs={"a": NS(status="SUCCEEDED")},
             stop=False, _mark_stopped=None)
    assert moto_server.wait_for_dependencies(job) is True


def test_the_installed_moto_is_the_one_the_extension_was_written_for():
    """Fails loudly when constraints.txt's moto changes: re-read moto's batch models, then bump MOTO_VERSION."""
    moto_server.check_moto()


def test_another_moto_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(moto_server, "MOTO_VERSION", "0.0.1")
    monkeypatch.setattr(moto_server, "MOTO_NAMES", (*moto_server.MOTO_NAMES, "_no_such_method"))
    with pytest.raises(RuntimeError, match=r"written for 0\.0\.1.*has no _no_such_method.*re-read"):
        moto_server.check_moto()
