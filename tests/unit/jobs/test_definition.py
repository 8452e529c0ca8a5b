"""jobdef_model: the validator, normalization (what counts as a change), the diff and prune planning."""

import copy
import json

import pytest

from batchdeploy.aws.batch import MAX_JOB_DEFINITION_BYTES
from batchdeploy.aws.tags import TAG_PROJECT
from batchdeploy.jobdef import check as model
from batchdeploy.jobdef import compare
from batchdeploy.jobs import prune

ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/demo-run:{}"


def definition(**over):
    d = {
        "jobDefinitionName": "demo-run",
        "type": "container",
        "parameters": {"experiment_file": "s3://b/e.yaml"},
        "containerProperties": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo:abc123",
            "command": ["run", "Ref::experiment_file"],
            "jobRoleArn": "arn:aws:iam::123456789012:role/demo",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "16000"}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        },
        "retryStrategy": {
            "attempts": 2,
            "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}],
        },
        "timeout": {"attemptDurationSeconds": 3600},
        "tags": {"team": "ml"},
        "propagateTags": True,
    }
    d.update(over)
    return d


def request(**over):
    d = model.build_request(definition(**over), "demo")
    return model.build_request(d, "demo", compare.content_hash(d))


def problems(defn, project="demo"):
    return model.check(model.tidy(defn), project).problems


def with_container(**over):
    d = definition()
    d["containerProperties"].update(over)
    return d


# ---------------------------------------------------------------------------------------------
# validator
# ---------------------------------------------------------------------------------------------


def test_a_good_definition_has_no_problem_and_no_warning():
    found = model.check(model.tidy(definition()), "demo")
    assert found.problems == [] and found.warnings == []


def test_every_problem_is_reported_at_once_with_its_json_path():
    d = definition(jobDefinitionName="bad name!", timeout={"attemptDurationSeconds": 30})
    d["containerProperties"]["resourceRequirements"][0]["value"] = 1
    d["containerProperties"]["environment"].append({"name": "AWS_BATCH_JOB_ID", "value": "x"})
    d["retryStrategy"]["attempts"] = 11
    found = problems(d)
    assert "containerProperties.resourceRequirements[0].value: expected a string, got a number" in found
    assert any(p.startswith("jobDefinitionName: 'bad name!' must be 1 to 128") for p in found)
    assert any(p.startswith("timeout.attemptDurationSeconds: 30 is below") for p in found)
    assert any(p.startswith("containerProperties.environment[2].name: 'AWS_BATCH_JOB_ID'") for p in found)
    assert "retryStrategy.attempts: 11 is outside 1..10" in found
    assert len(found) == 5


@pytest.mark.parametrize(
    "name, ok",
    [("a", True), ("A_b-9", True), ("x" * 128, True), ("x" * 129, False), ("a.b", False), ("a b", False), ("", False)],
)
def test_names_are_at_most_128_letters_digits_hyphens_underscores(name, ok):
    assert (problems(definition(jobDefinitionName=name)) == []) is ok


@pytest.mark.parametrize("seconds, ok", [(59, False), (60, True), (14400, True)])
def test_timeout_is_at_least_60_seconds(seconds, ok):
    assert (problems(definition(timeout={"attemptDurationSeconds": seconds})) == []) is ok


@pytest.mark.parametrize("attempts, ok", [(0, False), (1, True), (10, True), (11, False)])
def test_attempts_between_1_and_10(attempts, ok):
    assert (problems(definition(retryStrategy={"attempts": attempts})) == []) is ok


def test_retry_rules_at_most_5_need_attempts_and_well_formed_patterns():
    rules = [{"onExitCode": "1*", "action": "retry"}] * 6
    assert "retryStrategy.evaluateOnExit: 6 rules, AWS allows at most 5" in problems(
        definition(retryStrategy={"attempts": 2, "evaluateOnExit": rules})
    )
    assert "retryStrategy.attempts: required when evaluateOnExit is given" in problems(
        definition(retryStrategy={"evaluateOnExit": rules[:1]})
    )
    bad = problems(definition(retryStrategy={"attempts": 2, "evaluateOnExit": [
        {"onExitCode": "1a", "action": "EXIT"}, {"onReason": "Out of memory!", "action": "EXIT"}]}))
    assert any(p.startswith("retryStrategy.evaluateOnExit[0].onExitCode: '1a'") for p in bad)
    assert any(p.startswith("retryStrategy.evaluateOnExit[1].onReason: 'Out of memory!'") for p in bad)


def test_retry_action_is_case_insensitive_as_for_aws():
    d = definition(retryStrategy={"attempts": 2, "evaluateOnExit": [{"onReason": "*", "action": "exit"}]})
    assert problems(d) == []
    assert model.tidy(d)["retryStrategy"]["evaluateOnExit"][0]["action"] == "EXIT"
    assert d["retryStrategy"]["evaluateOnExit"][0]["action"] == "exit"  # tidy copies


def test_tags_count_ours_toward_the_limit_of_50():
    assert problems(definition(tags={f"k{i}": "v" for i in range(48)})) == []
    found = problems(definition(tags={f"k{i}": "v" for i in range(49)}))
    assert found == ["tags: 49 tags plus batchdeploy's 2 (batchdeploy:project, batchdeploy:hash) exceed AWS's limit of 50"]


def test_reserved_and_malformed_tags():
    found = problems(definition(tags={"aws:x": "1", "batchdeploy:hash": "h", "ok": "bad*value", "k" * 129: "v"}))
    assert "tags key 'aws:x': the aws: prefix is reserved for AWS" in found
    assert "tags key 'batchdeploy:hash': the batchdeploy: prefix is batchdeploy's own" in found
    assert any(p.startswith("tags.ok: 'bad*value'") for p in found)
    assert any("is above the maximum of 128" in p for p in found)


def test_request_larger_than_24_kib_is_refused():
    d = definition()
    d["containerProperties"]["command"] = ["x" * 1000] * 25
    (found,) = problems(d)
    assert found.startswith("(top): the request is ") and "above AWS Batch's limit of 24576 (24 KiB)" in found


def test_request_size_counts_our_tags():
    d = definition()
    base = model.request_size(model.build_request(d, "demo", "0" * 64))
    # Swap the command for one string that brings the request to exactly 24 KiB.
    d["containerProperties"]["command"] = ["y" * (MAX_JOB_DEFINITION_BYTES - base + len('"run","Ref::experiment_file"') - 2)]
    assert model.request_size(model.build_request(d, "demo", "0" * 64)) == MAX_JOB_DEFINITION_BYTES
    assert model.check(d, "demo").problems == []
    d["containerProperties"]["command"][0] += "y"
    assert len(model.check(d, "demo").problems) == 1


def test_environment_names_reserved_and_unique_everywhere():
    d = with_container(environment=[{"name": "X", "value": "1"}, {"name": "X", "value": "2"}],
                       secrets=[{"name": "AWS_BATCH_CE_NAME", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/p"}])
    found = problems(d)
    assert "containerProperties.environment[1].name: 'X' is given twice" in found
    assert any(p.startswith("containerProperties.secrets[0].name: 'AWS_BATCH_CE_NAME'") for p in found)


def test_resources_are_required_and_well_formed():
    found = problems(with_container(resourceRequirements=[{"type": "MEMORY", "value": "lots"}, {"type": "GPU", "value": "0.5"},
                                                          {"type": "MEMORY", "value": "2"}]))
    assert "containerProperties.resourceRequirements[0].value: MEMORY 'lots' must be a whole number of MiB, at least 4" in found
    assert "containerProperties.resourceRequirements[1].value: GPU '0.5' must be a whole number, at least 1" in found
    assert "containerProperties.resourceRequirements[2]: MEMORY is given twice" in found
    assert "containerProperties.resourceRequirements: VCPU is required by AWS Batch" in found


def test_deprecated_vcpus_memory_warn_but_pass_and_conflict_with_resource_requirements():
    d = with_container(vcpus=1, memory=16000)
    d["containerProperties"].pop("resourceRequirements")
    found = model.check(d, "demo")
    assert found.problems == []
    assert found.warnings == [
        'containerProperties.vcpus is deprecated; use resourceRequirements [{"type": "VCPU", "value": "1"}] instead',
        'containerProperties.memory is deprecated; use resourceRequirements [{"type": "MEMORY", "value": "16000"}] instead',
    ]
    both = problems(with_container(memory=16000))
    assert both == ["containerProperties.memory: give MEMORY only once, in resourceRequirements (not also memory)"]


def test_top_level_fields_that_belong_elsewhere_say_where():
    d = definition(vcpus=1, image="x", revision=3)
    found = problems(d)
    assert any(p.startswith("vcpus: unknown field") and p.endswith("use containerProperties.resourceRequirements (VCPU)") for p in found)
    assert any(p.startswith("image: unknown field") and p.endswith("it belongs in containerProperties") for p in found)
    assert any(p.startswith("revision: unknown field") and "output of DescribeJobDefinitions" in p for p in found)


def test_fargate_rules():
    d = with_container(resourceRequirements=[{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "4096"},
                                             {"type": "GPU", "value": "1"}])
    d["platformCapabilities"] = ["FARGATE"]
    found = problems(d)
    assert "containerProperties.executionRoleArn: required for jobs that run on Fargate" in found
    assert "containerProperties.resourceRequirements[2].value: GPUs are not available on Fargate" in found
    assert any("Fargate with VCPU 0.25 takes MEMORY 512..2048" in p for p in found)
    ok = with_container(resourceRequirements=[{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "2048"}],
                        executionRoleArn="arn:aws:iam::123456789012:role/exec")
    ok["platformCapabilities"] = ["FARGATE"]
    assert problems(ok) == []


def test_type_and_properties_must_agree():
    assert "nodeProperties: required for type multinode" in problems(definition(type="multinode"))
    d = definition()
    d.pop("containerProperties")
    assert problems(d)[0].startswith("containerProperties: required for type container")


def test_other_documented_limits():
    assert problems(definition(schedulingPriority=10000)) == ["schedulingPriority: 10000 is outside 0..9999"]
    assert problems(with_container(image="my image")) == [
        "containerProperties.image: 'my image' must be 1 to 255 letters, digits and - _ : . / # @ (no spaces)"]
    assert problems(with_container(jobRoleArn="")) == ["containerProperties.jobRoleArn: empty (is its placeholder set in .aws_env?)"]
    assert problems(with_container(image="r/x@sha256:" + "a" * 64)) == []


def test_warnings_for_what_aws_accepts_but_is_likely_wrong():
    d = with_container(environment=[{"name": "DB_PASSWORD", "value": "hunter22"}, {"name": "EMPTY", "value": ""},
                                    {"name": "F", "value": "Ref::experiment_file"}])
    d["parameters"]["unused"] = "1"
    found = model.check(d, "demo")
    assert found.problems == []
    text = "\n".join(found.warnings)
    assert "DB_PASSWORD: looks like a secret" in text and "hunter22" not in text
    assert "EMPTY: empty value; AWS Batch drops empty variables" in text
    assert "F: AWS Batch fills Ref:: placeholders only in command" in text
    assert "parameters.unused: no Ref::unused in any command uses it" in text


def test_not_an_object_at_all():
    assert model.check([1], "demo").problems == ["(top): expected a JSON object, got an array"]


def test_ref_names_in_order():
    assert model.ref_names(definition()) == ["experiment_file"]


def test_a_hyphen_belongs_to_the_parameter_name():
    d = with_container(command=["run", "--in", "Ref::in-file", "--out=Ref::out_dir"])
    d["parameters"] = {"in-file": "a.yaml", "out_dir": "o"}
    assert model.ref_names(d) == ["in-file", "out_dir"]
    assert not [w for w in model.check(d, "demo").warnings if "parameters." in w]


# ---------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------

# What moto 5 answers DescribeJobDefinitions with, for `request()` registered as revision 4.
def moto_described():
    req = request()
    c = copy.deepcopy(req["containerProperties"])
    c.update(volumes=[], mountPoints=[], ulimits=[], secrets=[])
    c["resourceRequirements"] = [{"value": r["value"], "type": r["type"]} for r in c["resourceRequirements"]]
    return {
        "jobDefinitionArn": ARN.format(4),
        "jobDefinitionName": "demo-run",
        "parameters": req["parameters"],
        "revision": 4,
        "status": "ACTIVE",
        "type": "container",
        "tags": dict(reversed(list(req["tags"].items()))),
        "platformCapabilities": None,
        "retryStrategy": {"attempts": 2, "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "retry"}, {"onReason": "*", "action": "exit"}]},
        "propagateTags": True,
        "containerProperties": c,
        "timeout": {"attemptDurationSeconds": 3600},
    }


# What AWS answers (fields as in the DescribeJobDefinitions reference): defaults filled in, an
# output-only orchestration type, lists in another order.
def aws_described():
    d = moto_described()
    d.pop("platformCapabilities")
    d["containerOrchestrationType"] = "ECS"
    d["platformCapabilities"] = ["EC2"]
    d["retryStrategy"]["evaluateOnExit"][0]["action"] = "RETRY"
    d["retryStrategy"]["evaluateOnExit"][1]["action"] = "EXIT"
    c = d["containerProperties"]
    c["environment"] = list(reversed(c["environment"]))
    c["resourceRequirements"] = list(reversed(c["resourceRequirements"]))
    c["privileged"] = False
    c["readonlyRootFilesystem"] = False
    return d


def test_what_moto_returns_is_the_same_definition():
    assert compare.same(moto_described(), request())
    assert compare.changes(moto_described(), request()) == []


def test_what_aws_returns_is_the_same_definition():
    assert compare.same(aws_described(), request())


def test_normalize_does_not_touch_its_input():
    d = moto_described()
    before = json.dumps(d, sort_keys=True)
    compare.normalize(d)
    assert json.dumps(d, sort_keys=True) == before


def test_environment_order_does_not_matter_command_order_does():
    a = with_container(environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    b = with_container(environment=[{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
    assert compare.same(a, b)
    assert not compare.same(with_container(command=["a", "b"]), with_container(command=["b", "a"]))


def test_retry_rule_order_matters_first_match_wins():
    rules = [{"onReason": "*", "action": "EXIT"}, {"onStatusReason": "Host EC2*", "action": "RETRY"}]
    assert not compare.same(definition(), definition(retryStrategy={"attempts": 2, "evaluateOnExit": rules}))


def test_defaults_mean_the_same_as_absent():
    assert compare.same(definition(retryStrategy={"attempts": 1}), definition(retryStrategy={}))
    assert compare.same(definition(propagateTags=False, parameters={}, tags={}), {
        k: v for k, v in definition().items() if k not in ("propagateTags", "parameters", "tags")})
    assert not compare.same(definition(retryStrategy={"attempts": 1}), definition())


def test_empty_environment_values_are_dropped_as_aws_does():
    a = with_container(environment=[{"name": "A", "value": "1"}, {"name": "E", "value": ""}])
    assert compare.same(a, with_container(environment=[{"name": "A", "value": "1"}]))


def test_deprecated_vcpus_memory_equal_resource_requirements():
    old = with_container(vcpus=1, memory=16000)
    old["containerProperties"].pop("resourceRequirements")
    assert compare.same(old, definition())
    assert not compare.same(old, with_container(resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "8000"}]))


def test_hash_tag_is_ignored_other_tags_count():
    assert compare.same(request(), model.build_request(request(), "demo", "something else"))
    assert not compare.same(request(), request(tags={"team": "data"}))
    assert not compare.same(request(), model.build_request(definition(), "another-project"))


def test_fargate_defaults_aws_fills_in():
    d = definition(platformCapabilities=["FARGATE"])
    filled = copy.deepcopy(d)
    filled["containerProperties"].update(
        fargatePlatformConfiguration={"platformVersion": "LATEST"}, networkConfiguration={"assignPublicIp": "DISABLED"},
        runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"})
    assert compare.same(d, filled)
    filled["containerProperties"]["networkConfiguration"] = {"assignPublicIp": "ENABLED"}
    assert not compare.same(d, filled)


def test_content_hash_is_stable_for_equivalent_definitions():
    assert compare.content_hash(request()) == compare.content_hash(aws_described()) == compare.content_hash(moto_described())
    assert compare.content_hash(request()) != compare.content_hash(request(timeout={"attemptDurationSeconds": 7200}))
    assert len(compare.content_hash(request())) == 64


# ---------------------------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------------------------


def test_memory_change_reads_as_one_line():
    after = request()
    after["containerProperties"]["resourceRequirements"][1]["value"] = "32000"
    (change,) = compare.changes(moto_described(), after)
    assert compare.format_change(change) == "containerProperties.resourceRequirements MEMORY 16000 -> 32000"
    assert change.as_json() == {"path": "containerProperties.resourceRequirements MEMORY", "before": "16000", "after": "32000"}


def test_added_removed_and_list_changes():
    after = request(timeout={"attemptDurationSeconds": 7200})
    c = after["containerProperties"]
    c["environment"] = [{"name": "A", "value": "1"}, {"name": "DEBUG", "value": "yes please"}]
    c["command"] = ["run", "--fast", "Ref::experiment_file"]
    lines = [compare.format_change(x) for x in compare.changes(moto_described(), after)]
    assert lines == [
        'containerProperties.command ["run", "Ref::experiment_file"] -> ["run", "--fast", "Ref::experiment_file"]',
        "containerProperties.environment B 2 -> (none)",
        'containerProperties.environment DEBUG (none) -> "yes please"',
        "timeout.attemptDurationSeconds 3600 -> 7200",
    ]


def test_secret_looking_environment_values_are_masked_in_the_diff():
    before = with_container(environment=[{"name": "DB_PASSWORD", "value": "old-secret-1"}])
    after = with_container(environment=[{"name": "DB_PASSWORD", "value": "new-secret-2"}])
    (change,) = compare.changes(before, after)
    assert compare.format_change(change) == "containerProperties.environment DB_PASSWORD **** -> ****"


def test_a_new_definition_is_all_additions():
    lines = [compare.format_change(x) for x in compare.changes(None, request())]
    assert "jobDefinitionName (none) -> demo-run" in lines
    assert "tags.batchdeploy:project (none) -> demo" in lines
    assert not any("batchdeploy:hash" in x for x in lines)


# ---------------------------------------------------------------------------------------------
# prune
# ---------------------------------------------------------------------------------------------


def revs(*numbers, project="demo"):
    return [{"jobDefinitionName": "demo-run", "revision": n, "status": "ACTIVE", "jobDefinitionArn": ARN.format(n),
             "tags": {TAG_PROJECT: project} if project else {}} for n in numbers]


def test_keep_the_newest_n():
    plan = prune.plan_prune(revs(1, 2, 3, 4, 5), 2, "demo", {})
    assert [r["revision"] for r in plan.deregister] == [3, 2, 1]


def test_a_registration_to_come_counts_among_the_kept():
    assert [r["revision"] for r in prune.prune_candidates(revs(1, 2, 3), 2, planned_new=True)] == [2, 1]
    assert [r["revision"] for r in prune.prune_candidates(revs(1, 2, 3), 1, planned_new=True)] == [3, 2, 1]


def test_in_use_foreign_and_protected_revisions_are_kept():
    rows = revs(5, 4) + revs(3, project="other") + revs(2, 1, project=None)
    plan = prune.plan_prune(rows, 1, "demo", {("demo-run", 2): ["job-1 (RUNNING)"]}, protect=[4])
    assert plan.deregister == []
    assert [(r["revision"], users) for r, users in plan.kept_in_use] == []  # 2 is not ours: left alone first
    assert [r["revision"] for r in plan.foreign] == [3, 2, 1]
    assert [prune.not_ours(r) for r in plan.foreign] == [
        "tagged batchdeploy:project=other", "not registered by batchdeploy (no batchdeploy:project tag)",
        "not registered by batchdeploy (no batchdeploy:project tag)"]


def test_only_this_projects_revisions_are_deregistered_and_in_use_ones_kept():
    rows = revs(5, 4, 3, 2, 1)
    plan = prune.plan_prune(rows, 1, "demo", {("demo-run", 2): ["job-1 (RUNNING)"]}, protect=[4])
    assert [r["revision"] for r in plan.deregister] == [3, 1]
    assert [(r["revision"], users) for r, users in plan.kept_in_use] == [(2, ["job-1 (RUNNING)"])]
    assert plan.foreign == []


def test_inactive_revisions_are_not_candidates():
    rows = revs(1, 2, 3)
    rows[0]["status"] = "INACTIVE"
    assert [r["revision"] for r in prune.prune_candidates(rows, 1)] == [2]


@pytest.mark.parametrize(
    "text, parsed",
    [("demo-run:3", ("demo-run", 3)), (ARN.format(12), ("demo-run", 12)), ("demo-run", None), ("a:b", None), ("", None)],
)
def test_parse_ref(text, parsed):
    assert prune.parse_ref(text) == parsed
