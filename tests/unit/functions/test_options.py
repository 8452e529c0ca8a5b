"""Options: ours, covalent's names (one to one), and AWS's limits, each refused in one line."""

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.functions import options as o

COVALENT_CONFIG = {  # the seed's [executors.awsbatch] section, but for the three it refuses
    "profile": "", "s3_bucket_name": "covalent-batch-job-resources", "batch_job_definition_name": "covalent-batch-jobs",
    "batch_queue": "covalent-batch-queue", "batch_execution_role_name": "ecsTaskExecutionRole",
    "batch_job_role_name": "CovalentBatchJobRole", "batch_job_log_group_name": "covalent-batch-job-logs",
    "vcpu": 2, "memory": 3.75, "num_gpus": 0, "retry_attempts": 3, "time_limit": 300, "poll_freq": 10,
}


def test_covalent_settings_map_one_to_one():
    got = o.parse(o.from_covalent(COVALENT_CONFIG))
    assert (got.vcpus, got.memory, got.gpus, got.retries, got.timeout, got.poll) == (2.0, 3840, 0, 3, 300, 10.0)
    assert (got.bucket, got.queue, got.profile) == ("covalent-batch-job-resources", "covalent-batch-queue", None)
    assert (got.definition_prefix, got.job_role, got.execution_role, got.log_group) == (
        "covalent-batch-jobs", "CovalentBatchJobRole", "ecsTaskExecutionRole", "covalent-batch-job-logs")
    assert got.config_flags() == {"S3_BUCKET": "covalent-batch-job-resources", "AWS_JOB_QUEUE": "covalent-batch-queue"}


@pytest.mark.parametrize("name", ["credentials", "ecr_repo_name", "cache_dir"])
def test_covalent_settings_without_a_counterpart_are_refused_with_the_reason(name):
    with pytest.raises(UsageError, match=f"covalent's {name} is not taken: .+"):
        o.from_covalent({name: "x"})
    with pytest.raises(UsageError, match=f"covalent's {name} is not taken"):
        o.parse({name: "x"})


def test_covalent_names_work_in_batch_too_but_memory_is_ours():
    got = o.parse({"vcpu": 4, "num_gpus": 1, "container_image_uri": "r/x:1", "memory": 8192})
    assert (got.vcpus, got.gpus, got.image, got.memory) == (4.0, 1, "r/x:1", 8192)


def refused(given) -> str:
    with pytest.raises(UsageError) as caught:
        o.parse(given)
    return caught.value.line()


def test_a_covalent_memory_in_gb_is_refused_with_the_conversion():
    assert "memory=4 MiB is too little" in refused({"memory": 4}) and "memory=4096" in refused({"memory": 4})
    assert "whole MiB" in refused({"memory": 3.75}) and "memory=3840" in refused({"memory": 3.75})


def test_an_option_given_by_both_names_must_agree():
    assert o.parse({"vcpus": 2, "vcpu": 2}).vcpus == 2
    with pytest.raises(UsageError, match="vcpus is given twice"):
        o.parse({"vcpus": 2, "vcpu": 4})


@pytest.mark.parametrize("given, words", [
    ({"vcpus": 0}, "vcpus=0"), ({"vcpus": 0.3}, "vcpus=0.3"), ({"vcpus": 1.5}, "vcpus=1.5"),
    ({"vcpus": float("nan")}, "vcpus"), ({"gpus": -1}, "gpus=-1"), ({"gpus": 1.5}, "gpus=1.5"),
    ({"retries": 0}, "retries=0"), ({"retries": 11}, "retries=11"), ({"timeout": 59}, "timeout=59"),
    ({"timeout": 60.5}, "timeout=60.5"), ({"queue": "bad queue!"}, "queue="), ({"image": "a b"}, "image="),
    ({"tags": {"aws:x": "1"}}, "reserved"), ({"tags": {"batchdeploy:x": "1"}}, "reserved"),
    ({"tags": {"k": "v" * 257}}, "too long"), ({"tags": {str(i): "v" for i in range(50)}}, "50 tags"),
    ({"poll": 0}, "poll=0"), ({"job_definition": "mine", "vcpus": 2}, "job_definition= with image or resources"),
    ({"definition_prefix": "x" * 120}, "definition_prefix"), ({"colour": "red"}, "unknown option 'colour'"),
])
def test_limits_are_checked_before_any_call(given, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(")) as caught:
        o.parse(given)
    assert "\n" not in caught.value.line()


@pytest.mark.parametrize("vcpus", [0.25, 0.5, 1, 2, 96.0])
def test_good_vcpus(vcpus):
    assert o.parse({"vcpus": vcpus}).vcpus == vcpus


def test_resources_take_ours_then_the_base_definitions_then_defaults():
    base = {"resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "8192"}]}
    assert o.parse({}).resources() == {"VCPU": "1", "MEMORY": "2048"}
    assert o.parse({}).resources(base) == {"VCPU": "4", "MEMORY": "8192"}
    assert o.parse({"memory": 1024, "gpus": 2}).resources(base) == {"VCPU": "4", "MEMORY": "1024", "GPU": "2"}
    assert o.parse({"vcpus": 0.5}).resources() == {"VCPU": "0.5", "MEMORY": "2048"}


def test_settings_and_named_options_become_configuration_flags():
    got = o.parse({"settings": {"RUNS_PREFIX": "r"}, "bucket": "b", "region": "eu-west-1"})
    assert got.config_flags() == {"RUNS_PREFIX": "r", "S3_BUCKET": "b", "AWS_REGION": "eu-west-1"}
