"""The SubmitJob request builder and its checks: pure functions, no AWS."""

from __future__ import annotations

import json

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.jobs import request

JD = {
    "jobDefinitionName": "demo",
    "jobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/demo:3",
    "revision": 3,
    "type": "container",
    "parameters": {"replace": "--no-replace", "extra_default": "x"},
    "containerProperties": {
        "image": "123.dkr.ecr.us-east-1.amazonaws.com/demo:abc123",
        "command": ["--tb", "Ref::experiment_file", "--out=Ref::output_path", "Ref::replace", "Ref::experiment_file"],
    },
    "timeout": {"attemptDurationSeconds": 7200},
    "retryStrategy": {"attempts": 2},
}


def spec(**kw):
    base = {"name": "exp1", "queue": "q", "job_definition": JD, "client_token": "t" * 32}
    return request.RunSpec(**{**base, **kw})


JOB_A = "5a3c9e2b-1f4d-4c8a-9b6e-0d7f2a1c3e5b"
JOB_B = "0e1d2c3b-4a59-4687-a5b4-c3d2e1f0a9b8"


@pytest.mark.parametrize(
    "words, expected",
    [
        (["a=1", "b=2"], {"a": "1", "b": "2"}),
        (["a=1,b=2"], {"a": "1", "b": "2"}),  # the triage form
        (["f=s3://x/a,b.yaml,out=s3://y"], {"f": "s3://x/a,b.yaml", "out": "s3://y"}),  # commas inside values stay
        (["replace=--no-replace"], {"replace": "--no-replace"}),
        (["k=v=w"], {"k": "v=w"}),
        (["a=1", "a=1"], {"a": "1"}),
        ([], {}),
    ],
)
def test_parse_pairs(words, expected):
    assert request.parse_pairs(words) == expected


@pytest.mark.parametrize("word", ["novalue", "=v", "bad key=v", "-x=1", ""])
def test_malformed_pairs_are_usage_errors(word):
    with pytest.raises(UsageError, match="malformed parameter"):
        request.parse_pairs([word])


@pytest.mark.parametrize("words", [["replace="], ["a=1,replace="], ["replace=", "a=1"]])
def test_an_empty_parameter_value_is_refused_not_a_silent_replacement_of_the_default(words):
    """Before: `replace=` sent "" and silently replaced the definition's default ('--no-replace')."""
    with pytest.raises(UsageError) as e:
        request.parse_pairs(words)
    assert e.value.line().startswith("parameter 'replace' has an empty value (replace=)")
    assert "leave replace out to keep the default" in e.value.line()


def test_a_tag_may_have_an_empty_value_as_aws_allows():
    assert request.parse_pairs(["team="], "tag") == {"team": ""}


def test_a_key_given_twice_with_different_values_is_an_error():
    with pytest.raises(UsageError, match="'a' is given twice"):
        request.parse_pairs(["a=1", "a=2"])


def test_tag_keys_may_hold_what_aws_allows():
    assert request.parse_pairs(["team:ml/owner@x=me,cost=1"], "tag") == {"team:ml/owner@x": "me", "cost": "1"}


@pytest.mark.parametrize("name", ["a", "exp1", "A-b_c", "1" + "x" * 127])
def test_good_names(name):
    assert request.check_name(name) == name


@pytest.mark.parametrize("name, text", [("", "not one AWS"), ("-x", "not one AWS"), ("a b", "not one AWS"),
                                        ("x" * 129, "not one AWS"), ("é", "not one AWS"), ("k=v", "looks like a parameter")])
def test_bad_names(name, text):
    with pytest.raises(UsageError, match=text):
        request.check_name(name)


def test_placeholders_in_order_once_even_inside_words():
    assert request.placeholders(JD) == ["experiment_file", "output_path", "replace"]


def test_ref_in_file_is_the_parameter_in_file_as_update_jobs_reads_it():
    # One Ref:: grammar (aws.batch.REF) for -u and -r: a hyphen belongs to the name.
    from batchdeploy.jobdef import check as definition

    jd = {"jobDefinitionName": "demo", "revision": 1, "containerProperties": {"command": ["run", "Ref::in-file"]}}
    assert request.placeholders(jd) == ["in-file"] == definition.ref_names(jd)
    assert request.check_parameters({"in-file": "a"}, jd) == {"in-file": "a"}
    with pytest.raises(UsageError) as e:
        request.check_parameters({}, jd)
    assert e.value.line().startswith("demo:1 needs a value for in-file: its command has Ref::in-file and no default, "
                                     "and AWS would leave an unfilled Ref:: in the command as literal text")


def test_parameters_are_checked_against_placeholders_and_defaults():
    got = request.check_parameters({"experiment_file": "f", "output_path": "o"}, JD)
    assert got == {"replace": "--no-replace", "extra_default": "x", "experiment_file": "f", "output_path": "o"}
    with pytest.raises(UsageError) as e:
        request.check_parameters({"experiment_file": "f", "output_path": "o", "bogus": "1", "nope": "2"}, JD)
    assert e.value.line() == (
        "unknown parameter bogus, nope for demo:3; valid parameters: experiment_file, output_path, replace, extra_default"
    )
    with pytest.raises(UsageError) as e:
        request.check_parameters({"replace": "--replace"}, JD)
    assert e.value.line() == (
        "demo:3 needs a value for experiment_file, output_path: its command has Ref::experiment_file, "
        "Ref::output_path and no default, and AWS would leave an unfilled Ref:: in the command as literal text; "
        'pass experiment_file=... output_path=..., or give each a default in the job definition\'s "parameters" '
        "object and run -u"
    )


def test_a_definition_without_parameters_says_so():
    bare = {"jobDefinitionName": "bare", "containerProperties": {"command": ["echo"]}}
    with pytest.raises(UsageError) as e:
        request.check_parameters({"a": "1"}, bare)
    assert e.value.line().endswith("valid parameters: none: it takes no parameters")


def test_build_minimal():
    assert request.build(spec()) == {
        "jobName": "exp1",
        "jobQueue": "q",
        "jobDefinition": JD["jobDefinitionArn"],
        "tags": {"batchdeploy:client-token": "t" * 32},
    }


def test_build_everything():
    s = spec(
        parameters={"experiment_file": "f"},
        extra_args=["--flag", "v"],
        overrides={"environment": [{"name": "A", "value": "1"}], "resourceRequirements": [{"type": "VCPU", "value": "8"}]},
        vcpus="2", memory="4096", gpus="1", timeout=600, retries=3, tags={"team": "ds"},
        depends_on=[JOB_A, JOB_B + ":3"], array_size=10,
    )
    r = request.build(s)
    assert r["parameters"] == {"experiment_file": "f"}
    # the definition's command with its Ref:: placeholders kept (Batch substitutes them in an override), then the extras
    assert r["containerOverrides"]["command"] == [*JD["containerProperties"]["command"], "--flag", "v"]
    assert r["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]
    assert r["containerOverrides"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}, {"type": "GPU", "value": "1"}
    ]
    assert r["timeout"] == {"attemptDurationSeconds": 600}
    assert r["retryStrategy"] == {"attempts": 3}
    assert r["dependsOn"] == [{"jobId": JOB_A}, {"jobId": JOB_B + ":3"}]
    assert r["arrayProperties"] == {"size": 10}
    assert r["tags"] == {"team": "ds", "batchdeploy:client-token": "t" * 32}
    assert s.overrides["resourceRequirements"] == [{"type": "VCPU", "value": "8"}]  # the caller's copy untouched
    request.check(r)


def test_check_reports_the_models_problems_and_the_size_limit():
    r = request.build(spec())
    r["containerOverrides"] = {"environment": [{"name": "A", "value": 1}], "bogus": True}
    with pytest.raises(UsageError) as e:
        request.check(r)
    assert "containerOverrides.environment[0].value: expected a string" in e.value.line()
    assert "containerOverrides.bogus: unknown field" in e.value.line()
    big = request.build(spec(extra_args=["x" * 31_000]))
    with pytest.raises(UsageError, match="above AWS's 30,720"):
        request.check(big)


@pytest.mark.parametrize(
    "kw, text",
    [
        ({"timeout": 59}, "--timeout 59 is too short"),
        ({"retries": 0}, "--retries 0 is out of range"),
        ({"retries": 11}, "--retries 11 is out of range"),
        ({"array_size": 1}, "--array-size 1 is out of range"),
        ({"array_size": 10_001}, "--array-size 10001 is out of range"),
        ({"depends_on": [f"j{i}" for i in range(21)]}, "21 --depends-on given"),
        ({"depends_on": ["bad id"]}, "is not a job id"),
        ({"depends_on": ["notajobid"]}, "--depends-on 'notajobid' is not a job id"),
        ({"depends_on": [JOB_A.upper()]}, "is not a job id"),
        ({"depends_on": [JOB_A + ":x"]}, "is not a job id"),
        ({"depends_on": [JOB_A + "\n"]}, "is not a job id"),
        ({"depends_on": ["demo-queue/" + JOB_A]}, "is not a job id"),
        ({"tags": {f"k{i}": "v" for i in range(50)}}, "50 tags given"),
        ({"tags": {"aws:x": "1"}}, "reserved"),
        ({"tags": {"batchdeploy:client-token": "1"}}, "reserved"),
        ({"tags": {"k" * 129: "1"}}, "too long"),
        ({"vcpus": "0"}, "--vcpus '0' is not a number above 0"),
        ({"vcpus": "-1"}, "not a number above 0"),
        ({"memory": "1.5"}, "--memory '1.5' is not a whole number above 0"),
        ({"gpus": "x"}, "--gpus 'x' is not a whole number above 0"),
    ],
)
def test_limits_aws_has_and_moto_does_not_enforce(kw, text):
    with pytest.raises(UsageError, match=text.replace("(", r"\(").replace(")", r"\)")):
        request.check_options(spec(**kw))


def test_limits_at_their_edges_pass():
    s = spec(timeout=60, retries=10, array_size=10_000, depends_on=[f"{JOB_A[:-2]}{i:02d}" for i in range(20)],
             tags={f"k{i}": "v" for i in range(49)}, vcpus="0.25", memory="512", gpus="1")
    request.check_options(s)
    request.check(request.build(s))
    assert s.vcpus == "0.25"


def test_masked_hides_credential_and_secret_looking_values_only():
    r = request.build(spec(overrides={"environment": [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "s"}, {"name": "DB_PASSWORD", "value": "p"},
        {"name": "HOST", "value": "h"}, {"name": "K", "value": "k"}]}))
    m = request.masked(r, {"K", "AWS_SECRET_ACCESS_KEY"})
    assert [e["value"] for e in m["containerOverrides"]["environment"]] == ["****", "****", "h", "****"]
    assert r["containerOverrides"]["environment"][0]["value"] == "s"  # the request itself is untouched
    json.dumps(m)


def test_effective_timeout_image_tag_and_console_url():
    assert request.effective_timeout(spec()) == (7200, 2)
    assert request.effective_timeout(spec(timeout=60, retries=1)) == (60, 1)
    assert request.effective_timeout(spec(job_definition={"jobDefinitionArn": "x"})) == (None, 1)
    assert request.image_tag(JD) == "abc123"
    assert request.image_tag({"containerProperties": {"image": "host:5000/repo@sha256:ab"}}) == "sha256:ab"
    assert request.image_tag({"containerProperties": {"image": "host:5000/repo"}}) is None
    assert request.console_url("eu-west-1", "J") == (
        "https://eu-west-1.console.aws.amazon.com/batch/home?region=eu-west-1#jobs/detail/J"
    )
