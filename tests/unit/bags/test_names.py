"""pegasus-aws-batch's resources: names from the prefix, file/ARN/name resolution, the S3 location, the
task environment, and the plan of what a run creates, keeps and deletes. No AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchdeploy import errors
from batchdeploy.bags import names
from batchdeploy.bags.names import S3Location, default_arn, default_name, is_file, parse_s3, plan, resolve
from batchdeploy.bags.pegasus_cli import parse
from batchdeploy.bags.properties import settings
from batchdeploy.errors import BatchdeployError

REGION, ACCOUNT = "us-west-2", "405596411149"
PROPS = {"aws.region": REGION, "aws.account": ACCOUNT}


def refused(fn, *args) -> str:
    with pytest.raises(BatchdeployError) as e:
        fn(*args)
    assert e.value.exit_code == errors.USAGE
    assert "\n" not in e.value.line()
    return e.value.line()


@pytest.fixture
def conf(tmp_path) -> Path:
    """The manual's sample files (seed 003), as the example's conf/ holds them."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "sample-job-definition.json").write_text(json.dumps({
        "containerProperties": {"mountPoints": [], "image": "XXXXXXXXXXX.dkr.ecr.us-west-2.amazonaws.com/awsbatch/fetch_and_run",
                                "jobRoleArn": "batchJobRole", "vcpus": 1, "memory": 500,
                                "command": ["/bin/bash", "-c", "exit $AWS_BATCH_JOB_ATTEMPT"]},
        "retryStrategy": {"attempts": 1}, "parameters": {}, "type": "container"}))
    (tmp_path / "conf" / "sample-compute-env.json").write_text(json.dumps({
        "state": "ENABLED", "type": "MANAGED", "serviceRole": "AWSBatchServiceRole",
        "computeResources": {"subnets": ["subnet-a9bb63cc"], "type": "EC2", "minvCpus": 0, "maxvCpus": 2}}))
    (tmp_path / "conf" / "sample-job-queue.json").write_text(json.dumps({
        "priority": 10, "state": "ENABLED", "computeEnvironmentOrder": [{"order": 1}]}))
    return tmp_path


def plan_of(argv: str, cwd: Path, props=PROPS):
    return plan(settings(parse(argv.split()), props), cwd)


def test_default_names_from_the_prefix():
    assert [default_name("pegasus-awsbatch-example", k) for k in names.SUFFIX] == [
        "pegasus-awsbatch-example-job-definition", "pegasus-awsbatch-example-compute-env",
        "pegasus-awsbatch-example-job-queue", "pegasus-awsbatch-example-bucket"]


@pytest.mark.parametrize("prefix, kind, words", [
    ("Upper_Case", names.S3_BUCKET, "bucket 'Upper_Case-bucket' breaks S3's rules"),
    ("x" * 60, names.S3_BUCKET, "breaks S3's rules"),
    ("-x", names.COMPUTE_ENVIRONMENT, "compute environment name '-x-compute-env' is not one AWS takes"),
    ("a.b", names.JOB_QUEUE, "job queue name 'a.b-job-queue' is not one AWS takes"),
    ("x" * 120, names.JOB_DEFINITION, "job definition name"),
    ("a/b", names.JOB_DEFINITION, "-p/--prefix 'a/b' cannot name files and resources"),
    ("..", names.JOB_DEFINITION, "cannot name files and resources"),
])
def test_a_prefix_that_makes_a_bad_name_is_refused_not_sent(prefix, kind, words):
    assert words in refused(default_name, prefix, kind)


def test_default_arn_as_pegasus_builds_it_with_the_regions_partition():
    assert default_arn(names.JOB_QUEUE, "q", REGION, ACCOUNT) == "arn:aws:batch:us-west-2:405596411149:job-queue/q"
    assert default_arn(names.COMPUTE_ENVIRONMENT, "c", "cn-north-1", "1").startswith("arn:aws-cn:batch:cn-north-1:1:compute-environment/")
    assert default_arn(names.JOB_DEFINITION, "jd:3", "us-gov-west-1", "1").endswith(":job-definition/jd:3")
    assert default_arn(names.JOB_DEFINITION, "jd:3", "us-gov-west-1", "1").startswith("arn:aws-us-gov:")


def test_is_file_as_pegasus_decides(tmp_path):
    (tmp_path / "jd.json").write_text("{}")
    assert is_file("jd.json", tmp_path) and is_file("./missing.json", tmp_path) and is_file("a/b", tmp_path)
    assert not is_file("jd", tmp_path) and not is_file("NULL", tmp_path) and not is_file("null", tmp_path)
    assert not is_file("arn:aws:batch:r:1:job-queue/a/b", tmp_path)


def test_resolve_a_file_an_arn_a_name(conf):
    ref = resolve(names.JOB_DEFINITION, "./conf/sample-job-definition.json", "ex", REGION, ACCOUNT, conf)
    assert (ref.source, ref.name, ref.path.name, ref.arn) == ("file", "ex-job-definition", "sample-job-definition.json", None)
    arn = "arn:aws:batch:us-west-2:1:job-queue/theirs"
    assert resolve(names.JOB_QUEUE, arn, "ex", REGION, ACCOUNT, conf).arn == arn
    ref = resolve(names.COMPUTE_ENVIRONMENT, "ce", "ex", REGION, ACCOUNT, conf)  # an existing name, short is fine
    assert (ref.source, ref.arn) == ("name", f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/ce")
    assert resolve(names.JOB_DEFINITION, "jd:7", "ex", REGION, ACCOUNT, conf).arn.endswith("job-definition/jd:7")
    assert resolve(names.JOB_QUEUE, None, "ex", REGION, ACCOUNT, conf).source == "default"
    assert resolve(names.JOB_QUEUE, "NULL", "ex", REGION, ACCOUNT, conf).name == "ex-job-queue"


def test_a_files_own_name_wins_over_the_prefix(tmp_path):
    (tmp_path / "q.json").write_text(json.dumps({"jobQueueName": "mine", "computeEnvironmentOrder": [{"order": 1}]}))
    assert resolve(names.JOB_QUEUE, "q.json", "ex", REGION, ACCOUNT, tmp_path).name == "mine"


@pytest.mark.parametrize("kind, value, words", [
    (names.JOB_DEFINITION, "./nope.json", "-j ./nope.json names a file that is missing"),
    (names.JOB_DEFINITION, "nope.json", "-j nope.json names a file that is missing"),  # not a name with a dot
    (names.JOB_DEFINITION, "conf", "-j conf names a file that is not a file"),  # a directory
    (names.JOB_QUEUE, "arn:aws:batch:r:1:compute-environment/x", "-q arn:aws:batch:r:1:compute-environment/x is not a job-queue ARN"),
    (names.JOB_QUEUE, "arn:aws:s3:::bucket", "is not a job-queue ARN"),
    (names.COMPUTE_ENVIRONMENT, "bad name!", "compute environment name 'bad name!' is not one AWS takes"),
    (names.JOB_DEFINITION, "jd:x", "job definition name 'jd:x' is not one AWS takes"),
    (names.JOB_DEFINITION, "./conf/list.json", "-j ./conf/list.json is not a JSON object"),
    (names.JOB_DEFINITION, "./conf/named.json", "job definition name 'bad name' is not one AWS takes (1-128 of A-Z a-z 0-9 _ -); fix jobDefinitionName"),
])
def test_bad_values_are_one_line(conf, kind, value, words):
    (conf / "conf" / "list.json").write_text("[]")
    (conf / "conf" / "named.json").write_text('{"jobDefinitionName": "bad name"}')
    assert words in refused(resolve, kind, value, "ex", REGION, ACCOUNT, conf)


@pytest.mark.parametrize("url, bucket, key_prefix, env", [
    ("s3://pegasus-batch-bamboo/mybatch-bucket/run0001", "pegasus-batch-bamboo", "mybatch-bucket/run0001/",
     "s3://pegasus-batch-bamboo/mybatch-bucket/run0001/"),
    ("s3://bkt/run/", "bkt", "run/", "s3://bkt/run/"),
    ("s3://bkt", "bkt", "", "s3://bkt/"),
    ("s3://bkt/", "bkt", "", "s3://bkt/"),  # pegasus makes this the key prefix "/"
])
def test_s3_url_to_bucket_and_key_prefix(url, bucket, key_prefix, env):
    where = parse_s3(url)
    assert (where.bucket, where.key_prefix, where.url) == (bucket, key_prefix, env)
    assert where.key("worker.tar.gz") == key_prefix + "worker.tar.gz"


@pytest.mark.parametrize("url, words", [
    ("mybucket", "-s/--s3 'mybucket' is not an s3:// URL"),
    ("s3://", "bucket '' breaks S3's rules"),
    ("s3://My_Bucket/x", "bucket 'My_Bucket' breaks S3's rules"),
    ("s3://bkt/a//b", "the key prefix has empty, '.' or '..' parts"),
    ("s3://bkt/a/../b", "the key prefix has empty"),
])
def test_bad_s3_urls_are_one_line(url, words):
    assert words in refused(parse_s3, url)


def test_the_task_environment_as_pegasus_submits_it():
    env = names.task_environment({"TRANSFER_INPUT_FILES": "worker.tar.gz,findrange_ID0000002.sh", "K": "V"},
                                 "findrange_ID0000002", S3Location("bkt", "run0001/"), ["/share/pegasus-lite-common.sh"])
    assert env == {"K": "V", "PEGASUS_AWS_BATCH_BUCKET": "s3://bkt/run0001/", "PEGASUS_JOB_NAME": "findrange_ID0000002",
                   "TRANSFER_INPUT_FILES": "worker.tar.gz,findrange_ID0000002.sh,pegasus-lite-common.sh"}
    bare = names.task_environment({}, "t", S3Location("bkt"), [])
    assert bare == {"PEGASUS_AWS_BATCH_BUCKET": "s3://bkt/", "PEGASUS_JOB_NAME": "t"}


def test_the_seeds_create_plans_three_creations_and_no_deletion(conf):
    p = plan_of("--conf ./conf/pegasusrc --prefix pegasus-awsbatch-example --create --compute-environment "
                "./conf/sample-compute-env.json --job-definition ./conf/sample-job-definition.json "
                "--job-queue ./conf/sample-job-queue.json", conf)
    assert p.describe() == [
        f"create job definition pegasus-awsbatch-example-job-definition from {conf}/conf/sample-job-definition.json",
        f"create compute environment pegasus-awsbatch-example-compute-env from {conf}/conf/sample-compute-env.json",
        f"create job queue pegasus-awsbatch-example-job-queue from {conf}/conf/sample-job-queue.json",
    ]
    assert p.teardown == () and p.s3 is None


def test_a_run_deletes_what_it_created_and_keeps_what_existed(conf):
    p = plan_of("-p ex -j ./conf/sample-job-definition.json --ce ./conf/sample-compute-env.json a.json", conf)
    assert p.describe() == [
        f"create job definition ex-job-definition from {conf}/conf/sample-job-definition.json",
        f"create compute environment ex-compute-env from {conf}/conf/sample-compute-env.json",
        "create job queue ex-job-queue",  # no -q: a queue on the run's compute environment
        "create s3 bucket ex-bucket (if-missing)",
        "delete job queue ex-job-queue",
        "delete compute environment ex-compute-env (if-queue-deleted)",
        "delete job definition ex-job-definition",
        "delete s3 bucket ex-bucket (if-created)",
    ]
    p = plan_of("-p ex -j jd:3 --ce ce -q q -s s3://bkt/run a.json", conf)
    assert [s.action for s in p.setup] == ["use", "use", "use", "create"]
    assert p.describe()[-1] == "delete s3 bucket bkt (if-created)" and len(p.teardown) == 1
    assert p.s3 == S3Location("bkt", "run/")


def test_create_and_delete_plans(conf):
    p = plan_of("-c -p ex -s s3://bkt", conf)
    assert p.describe() == ["create s3 bucket bkt (if-missing)"] and p.teardown == ()
    p = plan_of("-d -p ex -j ./conf/sample-job-definition.json --ce ce -q q -s s3://bkt", conf)
    assert p.describe() == [
        f"delete job queue arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/q",
        f"delete compute environment arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/ce (if-queue-deleted)",
        f"delete job definition arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/ex-job-definition",  # what the file made
        "delete s3 bucket bkt",
    ]
    assert plan_of("-d -p ex --ce ce", conf).describe() == [
        f"delete compute environment arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/ce"]


@pytest.mark.parametrize("argv, words", [
    ("-c -p ex", "-c/--create names nothing to create"),
    ("-d -p ex", "-d/--delete names nothing to delete"),
    ("-d -p ex -s s3://bkt/run", "-d -s s3://bkt/run: deleting empties and removes the whole bucket bkt"),
    ("-c -p ex -q ./conf/sample-job-queue.json", "the job queue to create needs a compute environment"),
    ("-c -p ex --ce ce -q ./conf/bad-queue.json", "computeEnvironmentOrder must be a non-empty array"),
    ("-p Ex_1 -j jd --ce ce a.json", "bucket 'Ex_1-bucket' breaks S3's rules"),  # the default bucket
])
def test_bad_plans_are_one_line(conf, argv, words):
    (conf / "conf" / "bad-queue.json").write_text('{"priority": 1}')
    assert words in refused(plan_of, argv, conf)


def test_a_queue_file_naming_its_compute_environment_needs_no_ce(conf):
    (conf / "q.json").write_text(json.dumps({"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "theirs"}]}))
    assert plan_of("-c -p ex -q q.json", conf).describe() == [f"create job queue ex-job-queue from {conf}/q.json"]


def test_a_run_whose_tasks_name_their_own_queue_gets_no_default_queue(conf):
    s = settings(parse(["-p", "ex", "-s", "s3://bkt", "a.json"]), PROPS, every_task_placed=True)
    assert plan(s, conf).describe() == ["create s3 bucket bkt (if-missing)", "delete s3 bucket bkt (if-created)"]
