"""`create` / `delete` through the real command line against a moto server over HTTP."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from tests.conftest import ROOT, RequestCounter
from tests.infra_support import (
    FARGATE_CE,
    JOB_DEFINITION,
    QUEUE,
    ce_status,
    changing_requests,
    prepare_account,
    snapshot,
)

CANARY = "CANARY-infra-4d2c9e7f1a"
PREFIX = "demo-test"
CE = f"{PREFIX}-compute-environment"
JQ = f"{PREFIX}-job-queue"
JD = f"{PREFIX}-job-definition"
BUCKET = f"{PREFIX}-bucket"


@pytest.fixture
def infra(moto, aws, project):
    """A project `demo` (ENV test) with a Fargate compute environment file, the queue example and a
    job definition file, in an account that has the network and role they name."""
    values = prepare_account(aws)
    project.env_file(PROJECT_NAME="demo", ENV="test", VERSION="1.0", POSTGRES_PASSWORD=CANARY, **values)
    project.write_json("compute-environment.json", FARGATE_CE)
    project.write("job-queue.json", (ROOT / "job-queue.json.example").read_text())
    project.write_json("jd.json", JOB_DEFINITION)
    return project


def tags_of(aws, arn):
    return aws.client("batch").list_tags_for_resource(resourceArn=arn)["tags"]


def one_line_error(r):
    """The error is one line, the last on stderr (progress notes before it are silenced by --quiet)."""
    errors = [line for line in r.stderr.splitlines() if line.startswith("batchdeploy: error: ")]
    assert len(errors) == 1 and r.stderr.endswith(errors[0] + "\n"), r.stderr
    assert "Traceback" not in r.stderr
    return errors[0]


def test_create_from_files_then_again_creates_nothing(infra, aws, moto):
    r = infra.deploy("--create", "--job-definition", "jd.json", "--ecr-repository", "demo/app", "--yes")
    assert r.returncode == 0, r.stderr
    assert f"AWS_JOB_QUEUE={JQ}" in r.stdout and f"S3_BUCKET={BUCKET}" in r.stdout
    batch = aws.client("batch")
    ce = batch.describe_compute_environments(computeEnvironments=[CE])["computeEnvironments"][0]
    queue = batch.describe_job_queues(jobQueues=[JQ])["jobQueues"][0]
    assert ce["status"] == "VALID" and ce["computeResources"]["type"] == "FARGATE"
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": CE}]
    ours = {"batchdeploy:project": "demo", "batchdeploy:prefix": PREFIX}
    assert tags_of(aws, ce["computeEnvironmentArn"]) == ours
    assert tags_of(aws, queue["jobQueueArn"]) == ours
    jd = batch.describe_job_definitions(jobDefinitionName=JD, status="ACTIVE")["jobDefinitions"]
    assert len(jd) == 1 and jd[0]["containerProperties"]["image"] == "busybox:1.0"
    assert jd[0]["tags"] == {
        **ours,
        "batchdeploy:hash": jd[0]["tags"]["batchdeploy:hash"],
    }  # -u's hash tag too
    bucket_tags = aws.client("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    assert {t["Key"]: t["Value"] for t in bucket_tags} == ours
    repo = aws.client("ecr").describe_repositories(repositoryNames=["demo/app"])["repositories"][0]
    # The repository is the project's, shared by its prefixes (-b pushes every prefix's images to it).
    assert aws.client("ecr").list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [
        {"Key": "batchdeploy:project", "Value": "demo"}
    ]
    state = infra.state("infra.json")["prefixes"][PREFIX]
    assert set(state) == {"bucket", "ecr-repository", "compute-environment", "job-queue", "job-definition"}
    recorded = infra.state("job-definitions.json")  # as -u records it, so -r can use it
    assert recorded["default"] == JD and recorded["definitions"][JD]["arn"] == jd[0]["jobDefinitionArn"]

    before = snapshot(aws)
    counter = RequestCounter(moto)
    again = infra.deploy("--create", "--job-definition", "jd.json", "--ecr-repository", "demo/app")
    assert again.returncode == 0, (
        again.stderr
    )  # nothing to create: no confirmation needed, even without --yes
    assert changing_requests(counter.since()) == []
    assert snapshot(aws) == before  # ECR's createdAt included: the repository was not made again
    assert "nothing to do" in again.stdout
    assert all(line.split()[0] == "ok" for line in again.stderr.splitlines()[1:6]), again.stderr
    assert "ok       " not in again.stdout  # the plan is progress (stderr); stdout holds the names alone
    as_json = infra.run(
        "create", "--job-definition", "jd.json", "--ecr-repository", "demo/app", "--output", "json"
    )
    data = json.loads(as_json.stdout)
    assert data["names"]["AWS_JOB_QUEUE"] == JQ and data["names"]["S3_BUCKET"] == BUCKET
    assert {a["op"] for a in data["plan"]} == {"ok"} and data["done"] == []
    for text in (
        r.stdout,
        r.stderr,
        again.stdout,
        again.stderr,
        as_json.stdout,
        *(p.read_text() for p in (infra.path / ".batchdeploy").iterdir()),
    ):
        assert CANARY not in text


def test_create_then_delete_leaves_the_account_as_it_was(infra, aws, moto):
    # Something of someone else's is there before and must be there after.
    aws.client("s3").create_bucket(Bucket="someone-elses-bucket")
    before = snapshot(aws)
    assert (
        infra.deploy(
            "--create", "--job-definition", "jd.json", "--ecr-repository", "demo/app", "-y"
        ).returncode
        == 0
    )
    assert snapshot(aws) != before
    counter = RequestCounter(moto)
    r = infra.deploy("--delete", "--ecr-repository", "demo/app", "--yes")
    assert r.returncode == 0, r.stderr
    assert snapshot(aws) == before
    order = [p for m, p, s in changing_requests(counter.since())]
    assert order == [
        "/v1/updatejobqueue",
        "/v1/deletejobqueue",
        "/v1/updatecomputeenvironment",
        "/v1/deletecomputeenvironment",
        "/v1/deregisterjobdefinition",
        f"/{BUCKET}",
    ], order
    assert "deleted 5 resource(s)" in r.stdout
    assert infra.state("infra.json") == {"prefixes": {}}
    assert infra.state("job-definitions.json") == {
        "definitions": {}
    }  # -r will not submit to a deregistered one


def test_delete_leaves_another_projects_resources_alone(infra, aws, moto, tmp_path):
    from tests.conftest import Project

    other = Project(tmp_path / "other project")
    other.write(
        ".aws_env", (infra.path / ".aws_env").read_text().replace("PROJECT_NAME=demo", "PROJECT_NAME=other")
    )
    for name in ("compute-environment.json", "job-queue.json", "jd.json"):
        other.write(name, (infra.path / name).read_text())
    assert other.deploy("--create", "--job-definition", "jd.json", "--yes").returncode == 0
    theirs = snapshot(aws)
    assert infra.deploy("--create", "--job-definition", "jd.json", "--yes").returncode == 0

    r = infra.deploy("--delete", "--yes")
    assert r.returncode == 0, r.stderr
    assert snapshot(aws) == theirs
    names = [c["computeEnvironmentName"] for c in theirs["compute_environments"]]
    assert names == ["other-test-compute-environment"]


def test_a_name_of_another_project_is_an_error_and_is_left_alone(infra, aws, moto):
    assert infra.deploy("--create", "--yes").returncode == 0
    before = snapshot(aws)
    infra.write(
        ".aws_env",
        (infra.path / ".aws_env").read_text().replace("PROJECT_NAME=demo", "PROJECT_NAME=intruder"),
    )
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--prefix", PREFIX, "--yes")
    assert r.returncode == 2
    line = one_line_error(r)
    assert f"job queue {JQ} exists but belongs to project 'demo', prefix '{PREFIX}'" in line
    assert f"compute environment {CE} exists but belongs to project 'demo'" in line
    assert changing_requests(counter.since()) == []
    assert snapshot(aws) == before
    # ... and delete, under the intruder's name, finds nothing of its own to delete.
    d = infra.deploy("--delete", "--prefix", PREFIX, "--yes")
    assert d.returncode == 0 and "nothing to delete" in d.stdout
    assert snapshot(aws) == before


def test_dry_run_shows_the_plan_and_changes_nothing(infra, aws, moto):
    before = snapshot(aws)
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--job-definition", "jd.json", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"create   compute environment  {CE}" in r.stderr
    assert f"create   job queue            {JQ}" in r.stderr
    assert f"create   job definition       {JD}" in r.stderr
    assert f"create   S3 bucket            {BUCKET}" in r.stderr
    j = infra.run("create", "--dry-run", "--output", "json")
    plan = json.loads(j.stdout)["plan"]
    queue = next(a for a in plan if a["kind"] == "job-queue")
    assert queue["request"]["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": CE}]
    assert changing_requests(counter.since()) == []
    assert snapshot(aws) == before

    assert infra.deploy("--create", "--job-definition", "jd.json", "--yes").returncode == 0
    made = snapshot(aws)
    counter = RequestCounter(moto)
    d = infra.deploy("--delete", "--dry-run")
    assert d.returncode == 0, d.stderr
    assert f"delete   job queue            {JQ}" in d.stderr
    assert f"delete   compute environment  {CE}" in d.stderr
    assert changing_requests(counter.since()) == []
    assert snapshot(aws) == made


def test_invalid_files_are_reported_at_once_before_any_request(infra, moto):
    infra.write_json(
        "compute-environment.json",
        {
            "computeEnvironmentName": "bad name!",
            "type": "MANAGED",
            "computeResources": {
                "type": "FARGATE",
                "maxvCpus": "4",
                "minvCpus": 0,
                "subnets": ["s"],
                "securityGroupIds": [],
            },
            "colour": "blue",
        },
    )
    infra.write_json(
        "job-queue.json", {"priority": 5000, "computeEnvironmentOrder": [{"order": 1}, {"order": 1}]}
    )
    infra.write_json(
        "jd.json",
        {
            "type": "container",
            "containerProperties": {"image": "x"},
            "timeout": {"attemptDurationSeconds": 5},
        },
    )
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--job-definition", "jd.json", "--bucket", "Bad_Bucket", "--yes")
    assert r.returncode == 2
    line = one_line_error(r)
    for expected in (
        "compute-environment.json: colour: unknown field",
        "compute-environment.json: computeResources.maxvCpus: expected an integer, got a string",
        "compute-environment.json: computeEnvironmentName: 'bad name!' must be 2-128 letters",
        "compute-environment.json: computeResources.minvCpus: not applicable to FARGATE",
        "job-queue.json: priority: 5000 is outside 0-1000",
        "job-queue.json: computeEnvironmentOrder: each `order` must be different",
        "jd.json: timeout.attemptDurationSeconds: 5 is below",
        "jd.json: containerProperties.resourceRequirements: VCPU is required",
        "--bucket: 'Bad_Bucket' breaks S3's naming rules",
    ):
        assert expected in line, expected
    assert counter.since() == []


def test_unknown_placeholder_bad_json_and_a_secret_name_the_file(infra, moto):
    infra.write("compute-environment.json", json.dumps(FARGATE_CE).replace("${SUBNET_ID}", "${NO_SUCH_KEY}"))
    infra.write("job-queue.json", '{"priority": 1,\n  "state": }')
    infra.write_json("jd.json", {**JOB_DEFINITION, "parameters": {"word": "${POSTGRES_PASSWORD}"}})
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--yes", "--job-definition", "jd.json")
    assert r.returncode == 2
    line = one_line_error(r)
    assert "compute-environment.json: ${NO_SUCH_KEY} at computeResources.subnets[0]" in line
    assert "job-queue.json: invalid JSON at line 2 column" in line
    assert "jd.json: ${POSTGRES_PASSWORD} at parameters.word is a secret" in line
    assert CANARY not in r.stdout + r.stderr
    assert counter.since() == []


def test_a_secret_in_a_compute_environment_or_queue_file_is_refused(infra, moto):
    ce = {**FARGATE_CE, "tags": {"db": "${POSTGRES_PASSWORD}"}}
    infra.write_json("compute-environment.json", ce)
    infra.write_json("job-queue.json", {"priority": 1, "tags": {"pw": "${POSTGRES_PASSWORD}"}})
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--yes")
    assert r.returncode == 2
    line = one_line_error(r)
    assert ("compute-environment.json: ${POSTGRES_PASSWORD} at tags.db is a secret, readable by anyone allowed "
            "batch:DescribeComputeEnvironments") in line
    assert "job-queue.json: ${POSTGRES_PASSWORD} at tags.pw is a secret" in line
    assert CANARY not in r.stdout + r.stderr
    assert counter.since() == []


def test_without_a_terminal_and_without_yes_nothing_is_created(infra, aws, moto):
    before = snapshot(aws)
    r = infra.deploy("--create")
    assert r.returncode == 2
    line = one_line_error(r)
    assert "needs confirmation and stdin is not a terminal; run with --yes" in line
    assert f"create   compute environment  {CE}" in r.stderr  # the plan was shown
    assert snapshot(aws) == before
    assert infra.deploy("--create", "--yes").returncode == 0
    made = snapshot(aws)
    d = infra.deploy("--delete")
    assert d.returncode == 2 and "needs confirmation" in d.stderr
    assert snapshot(aws) == made


def _run_on_terminal(project, args, answer: str):
    """The CLI with a pseudo-terminal as stdin (so it asks), answering `answer`."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchdeploy", *args],
        cwd=project.path,
        env=env,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    os.write(leader, answer.encode())
    out, err = proc.communicate(timeout=120)
    os.close(leader)
    return proc.returncode, out, err


def test_on_a_terminal_it_asks_first(infra, aws, moto):
    before = snapshot(aws)
    code, out, err = _run_on_terminal(infra, ["create"], "n\n")
    assert code == 1 and "(compute environments cost money while they run)? [y/N]" in err
    assert "cancelled: nothing was changed" in err
    assert snapshot(aws) == before
    code, out, err = _run_on_terminal(infra, ["create"], "y\n")
    assert code == 0, err
    assert aws.client("batch").describe_compute_environments(computeEnvironments=[CE])["computeEnvironments"]
    code, out, err = _run_on_terminal(infra, ["delete"], "yes\n")
    assert code == 0, err
    assert "delete 3 resource(s) listed above? [y/N]" in err
    assert snapshot(aws) == before


def test_write_env_edits_only_the_names_and_keeps_the_rest(infra):
    text = (infra.path / ".aws_env").read_text()
    infra.write(".aws_env", "# my settings\n" + text + "S3_BUCKET=old-bucket  # where results go\n")
    os.chmod(infra.path / ".aws_env", 0o640)
    r = infra.deploy("--create", "--yes", "--write-env")
    assert r.returncode == 0, r.stderr
    new = (infra.path / ".aws_env").read_text()
    assert new.startswith("# my settings\n" + text)
    assert f"S3_BUCKET={BUCKET}  # where results go\n" in new
    assert new.endswith(f"# written by batchdeploy create (prefix {PREFIX})\nAWS_JOB_QUEUE={JQ}\n")
    assert oct(os.stat(infra.path / ".aws_env").st_mode & 0o777) == "0o640"
    # Without --write-env the file is not touched, and the names are printed all the same.
    again = infra.deploy("--create", "--yes")
    assert (infra.path / ".aws_env").read_text() == new
    assert f"AWS_JOB_QUEUE={JQ}" in again.stdout


def test_existing_resources_given_by_name_are_used_and_never_deleted(infra, aws, moto):
    from tests.conftest import Project  # noqa: F401  (same folder layout as the fixture)

    assert (
        infra.deploy("--create", "--prefix", "shared", "--bucket", "shared-things", "--yes").returncode == 0
    )
    batch = aws.client("batch")
    for arn in (
        batch.describe_compute_environments()["computeEnvironments"][0]["computeEnvironmentArn"],
        batch.describe_job_queues()["jobQueues"][0]["jobQueueArn"],
    ):  # make them nobody's: created by hand, as far as batchdeploy can tell
        batch.untag_resource(resourceArn=arn, tagKeys=["batchdeploy:project", "batchdeploy:prefix"])
    before = snapshot(aws)
    queue_arn = before["job_queues"][0]["jobQueueArn"]
    r = infra.deploy(
        "--create",
        "--compute-environment",
        "shared-compute-environment",
        "--job-queue",
        queue_arn,
        "--bucket",
        "shared-things",
        "--yes",
    )
    assert r.returncode == 0, r.stderr
    assert "use      job queue            shared-job-queue" in r.stderr
    assert "use      compute environment  shared-compute-environment" in r.stderr
    assert "use      S3 bucket            shared-things" in r.stderr
    assert f"AWS_JOB_QUEUE={queue_arn}" not in r.stdout and "AWS_JOB_QUEUE=shared-job-queue" in r.stdout
    assert snapshot(aws) == before
    d = infra.deploy("--delete", "--bucket", "shared-things", "--yes")
    assert d.returncode == 0, d.stderr
    assert snapshot(aws) == before
    missing = infra.deploy("--create", "--job-queue", "no-such-queue", "--yes")
    assert missing.returncode == 2
    assert (
        "job queue no-such-queue does not exist (--job-queue no-such-queue: not a file either)"
        in one_line_error(missing)
    )


def test_differences_are_reported_and_applied_only_with_update(infra, aws, moto):
    assert infra.deploy("--create", "--yes", "--job-definition", "jd.json").returncode == 0
    infra.write_json("job-queue.json", {**QUEUE, "priority": 7})
    infra.write_json(
        "compute-environment.json",
        {**FARGATE_CE, "computeResources": {**FARGATE_CE["computeResources"], "maxvCpus": 8}},
    )
    infra.write_json("jd.json", {**JOB_DEFINITION, "parameters": {"word": "bye"}})
    before = snapshot(aws)
    r = infra.deploy("--create", "--yes", "--job-definition", "jd.json")
    assert r.returncode == 0, r.stderr
    assert "differs  job queue" in r.stderr and "priority: file 7, AWS 1" in r.stderr
    assert "computeResources.maxvCpus: file 8, AWS 4" in r.stderr
    assert "parameters.word hello -> bye" in r.stderr
    assert "--update to apply" in r.stderr
    assert snapshot(aws) == before
    u = infra.deploy("--create", "--yes", "--update", "--job-definition", "jd.json")
    assert u.returncode == 0, u.stderr
    batch = aws.client("batch")
    assert batch.describe_job_queues(jobQueues=[JQ])["jobQueues"][0]["priority"] == 7
    revisions = batch.describe_job_definitions(jobDefinitionName=JD, status="ACTIVE")["jobDefinitions"]
    assert sorted(d["revision"] for d in revisions) == [1, 2]
    again = infra.deploy("--create", "--job-definition", "jd.json")
    # moto does not apply computeResources updates (its UpdateComputeEnvironment ignores them), so the
    # compute environment still differs there; everything else now matches.
    assert "ok       job queue" in again.stderr and "ok       job definition" in again.stderr
    # A field AWS cannot update: reported, and --update refuses before changing anything.
    infra.write_json(
        "compute-environment.json", {**FARGATE_CE, "type": "UNMANAGED", "computeResources": None}
    )
    bad = infra.deploy("--create", "--yes", "--update")
    assert bad.returncode == 2


def test_non_empty_bucket_is_kept_unless_asked(infra, aws, moto):
    assert infra.deploy("--create", "--yes").returncode == 0
    aws.client("s3").put_object(Bucket=BUCKET, Key="results/a.csv", Body=b"1,2\n")
    r = infra.deploy("--delete", "--yes")
    assert r.returncode == 0, r.stderr
    assert f"kept S3 bucket {BUCKET}: not empty (--delete-bucket-contents" in r.stderr
    assert BUCKET in snapshot(aws)["buckets"]
    assert not snapshot(aws)["job_queues"]
    r = infra.deploy("--delete", "--yes", "--delete-bucket-contents")
    assert r.returncode == 0, r.stderr
    assert BUCKET not in snapshot(aws)["buckets"]


def test_access_denied_half_way_reports_what_was_created(infra, aws, proxy):
    proxy.add(path="/v1/createjobqueue", status=403, code="AccessDeniedException",
              message="User: arn:aws:iam::123456789012:user/test is not authorized to perform: batch:CreateJobQueue")
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    line = one_line_error(r)
    assert f"cannot create job queue {JQ} (batch:CreateJobQueue): AccessDeniedException: User:" in line
    # The compute environment first, the bucket last: a failure leaves the least behind, and says how to
    # remove it.
    assert f"(done before the failure: created compute environment {CE})" in line
    assert line.endswith(f"; or remove what it made: --delete --prefix {PREFIX}")
    state = infra.state("infra.json")["prefixes"][PREFIX]
    assert set(state) == {"compute-environment"}
    # Once allowed, create finishes the job and delete removes everything.
    proxy.clear()
    assert infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url}).returncode == 0
    assert infra.deploy("--delete", "--yes").returncode == 0
    assert snapshot(aws)["compute_environments"] == []


def test_an_invalid_compute_environment_stops_with_its_reason(infra, aws, proxy):
    reason = "CLIENT_ERROR - Not authorized to perform sts:AssumeRole"
    proxy.add(path="/v1/describecomputeenvironments", rewrite=ce_status("INVALID", reason))
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    line = one_line_error(r)
    assert f"compute environment {CE} is INVALID: {reason}" in line
    assert f"created compute environment {CE}" in line
    assert not snapshot(aws)["job_queues"]  # the queue was not attempted


def test_a_compute_environment_that_never_becomes_valid_times_out(infra, aws, proxy, monkeypatch, capsys):
    """In-process with a fake clock: the poller waits its whole timeout without sleeping for real."""
    from batchdeploy import cli
    from batchdeploy.errors import OperationError
    from batchdeploy.infra import verbs as infra_module

    proxy.add(path="/v1/describecomputeenvironments", rewrite=ce_status("CREATING", "waiting for capacity"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    now = [1000.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    args = cli.parse(["--env-file", str(infra.path / ".aws_env"), "create", "--yes", "--timeout", "120"])
    ctx = cli.make_context(args)
    ctx.sleep, ctx.clock = sleep, lambda: now[0]
    with pytest.raises(OperationError) as caught:
        infra_module.create(ctx)
    line = caught.value.line()
    assert (
        f"compute environment {CE} to become VALID: not done after 120 s "
        "(status CREATING, state ENABLED: waiting for capacity)" in line
    )
    assert f"created compute environment {CE}" in line
    assert sum(slept) == pytest.approx(120) and max(slept) <= 15 and len(slept) < 20
    describes = [r for r in proxy.requests if r.path == "/v1/describecomputeenvironments"]
    assert len(describes) == len(slept) + 2  # the plan's look, then one poll before each sleep and a last one


def test_a_versioned_bucket_of_1500_versions_is_emptied_in_one_run(infra, aws, moto):
    """DeleteObjects takes 1,000 keys; a listing that pages through what is being deleted stopped half
    way (BucketNotEmpty). 750 keys twice over (1,500 versions) and a delete marker on 300 of them."""
    from concurrent.futures import ThreadPoolExecutor

    s3 = aws.client("s3")  # the bucket alone, as --create makes it (the rest would only take time)
    s3.create_bucket(Bucket=BUCKET)
    ours = [{"Key": "batchdeploy:project", "Value": "demo"}, {"Key": "batchdeploy:prefix", "Value": PREFIX}]
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": ours})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"results/{i:04d}.csv" for i in range(750)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=b"1"), keys * 2))
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[:300]], "Quiet": True})
    r = infra.deploy("--delete", "--yes", "--delete-bucket-contents")
    assert r.returncode == 0, r.stderr
    assert BUCKET not in snapshot(aws)["buckets"]


def test_a_blank_subnet_is_caught_with_the_files_before_any_request(infra, moto):
    """The shipped quickstart .aws_env leaves SUBNET_ID empty: `["${SUBNET_ID}"]` renders as `[""]`."""
    env = (infra.path / ".aws_env").read_text()
    infra.write(".aws_env", "".join(f"{line.split('=')[0]}=\n" if line.startswith(("SUBNET_ID=", "SERVICE_ROLE="))
                                    else line + "\n" for line in env.splitlines()))
    counter = RequestCounter(moto)
    r = infra.deploy("--create", "--yes")
    assert r.returncode == 2
    line = one_line_error(r)
    assert "compute-environment.json: computeResources.subnets[0]: empty (${SUBNET_ID} is empty" in line
    assert "compute-environment.json: serviceRole: empty (${SERVICE_ROLE} is empty" in line
    assert counter.since() == []


def test_every_pre_checkable_problem_is_found_at_once_and_nothing_is_created(infra, aws, moto, proxy):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other_group = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=vpc)["GroupId"]
    aws.client("s3").create_bucket(Bucket=BUCKET)  # made by hand: the default name is taken
    spot = {
        "type": "MANAGED",
        "computeResources": {
            "type": "SPOT",
            "minvCpus": 0,
            "maxvCpus": 4,
            "instanceTypes": ["optimal"],
            "subnets": ["${SUBNET_ID}", "subnet-0123456789abcdef0"],
            "securityGroupIds": [other_group],
            "instanceRole": "no-such-profile",
            "spotIamFleetRole": "arn:aws:iam::123456789012:role/no-such-fleet-role",
        },
        "serviceRole": "arn:aws:iam::999999999999:role/AWSBatchServiceRole",
    }
    infra.write_json("compute-environment.json", spot)
    before = snapshot(aws)
    r = infra.deploy("--create", "--yes", "--ecr-repository", "demo/app", "--job-definition", "jd.json",
                     env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2, r.stderr
    line = one_line_error(r)
    for expected in (
        f"S3 bucket {BUCKET} exists but was not created by batchdeploy",
        "computeResources.subnets: subnet-0123456789abcdef0 does not exist in this account and region",
        "computeResources: the subnets and security groups must sit in one VPC (",
        f"{vpc}: {other_group}",
        "computeResources.instanceRole: the IAM instance profile no-such-profile does not exist",
        "computeResources.spotIamFleetRole: the IAM role arn:aws:iam::123456789012:role/no-such-fleet-role does not exist",
        "serviceRole: arn:aws:iam::999999999999:role/AWSBatchServiceRole is in account 999999999999, not this one "
        "(123456789012)",
        "nothing was changed",
    ):
        assert expected in line, expected
    assert snapshot(aws) == before
    # Without the taken name, the same file alone still stops the run before any write (it used to make
    # the bucket, then a compute environment moto accepted and AWS would find INVALID).
    aws.client("s3").delete_bucket(Bucket=BUCKET)
    before = snapshot(aws)
    again = infra.deploy("--create", "--yes", "--ecr-repository", "demo/app", "--job-definition", "jd.json",
                         env={"AWS_ENDPOINT_URL": proxy.url})
    assert again.returncode == 2 and "does not exist in this account and region" in one_line_error(again)
    writes = [op for op in proxy.operations if op.lower().startswith(("create", "register", "put", "tag", "update"))]
    assert writes == [] and not [q for q in proxy.requests if q.protocol == "s3" and q.method not in ("GET", "HEAD")]
    assert snapshot(aws) == before


def test_a_compute_environment_left_disabled_is_reported_or_enabled_with_update(infra, aws, moto):
    """An interrupted delete disables the queue, deletes it, disables the compute environment: create
    must not put a new queue on the disabled one and call it done."""
    assert infra.deploy("--create", "--yes").returncode == 0
    batch = aws.client("batch")
    batch.update_job_queue(jobQueue=JQ, state="DISABLED")
    batch.delete_job_queue(jobQueue=JQ)
    batch.update_compute_environment(computeEnvironment=CE, state="DISABLED")
    before = snapshot(aws)
    r = infra.deploy("--create", "--yes")
    assert r.returncode == 2
    assert f"compute environment {CE} is ours but DISABLED" in one_line_error(r)
    assert snapshot(aws) == before  # no queue on it
    u = infra.deploy("--create", "--yes", "--update")
    assert u.returncode == 0, u.stderr
    ce = batch.describe_compute_environments(computeEnvironments=[CE])["computeEnvironments"][0]
    assert ce["state"] == "ENABLED"
    assert batch.describe_job_queues(jobQueues=[JQ])["jobQueues"][0]["state"] == "ENABLED"


def test_a_difference_left_as_it_is_is_the_last_line(infra, aws, moto):
    assert infra.deploy("--create", "--yes").returncode == 0
    infra.write_json("job-queue.json", {**QUEUE, "priority": 7})
    r = infra.deploy("--create", "--yes")
    assert r.returncode == 0, r.stderr
    assert "nothing to do" not in r.stdout + r.stderr
    assert f"left as it is, differing from its file: job queue {JQ} (create --update applies" in r.stdout


REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def _push(aws, repo: str, tag: str) -> None:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                           "digest": "sha256:" + "a" * 64}, "layers": []}
    aws.client("ecr").put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)


def test_two_prefixes_share_the_projects_repository_and_only_the_last_delete_removes_it(infra, aws, moto):
    infra.write(".aws_env", (infra.path / ".aws_env").read_text() + f"AWS_REGISTRY={REGISTRY}\n")
    a = infra.deploy("--create", "--prefix", "demo-a", "--yes")
    assert a.returncode == 0, a.stderr
    b = infra.deploy("--create", "--prefix", "demo-b", "--yes")  # was refused: "belongs to prefix demo-a"
    assert b.returncode == 0, b.stderr
    assert "ok       ECR repository       demo  (exists (the project's, shared by all its prefixes))" in b.stderr
    _push(aws, "demo", "c-0123456789abcdef")
    d = infra.deploy("--delete", "--prefix", "demo-b", "--delete-images", "--yes")
    assert d.returncode == 0, d.stderr
    assert "kept ECR repository demo: the project's, shared by all its prefixes: prefix demo-a still has" in d.stderr
    assert aws.client("ecr").list_images(repositoryName="demo")["imageIds"]
    last = infra.deploy("--delete", "--prefix", "demo-a", "--delete-images", "--yes")
    assert last.returncode == 0, last.stderr
    assert snapshot(aws)["repositories"] == [] and snapshot(aws)["compute_environments"] == []


def test_create_update_and_delete_leave_a_hand_made_and_a_foreign_resource_alone(infra, aws, moto):
    """The ownership rule: only what carries this project's tags and this prefix is changed or deleted."""
    assert infra.deploy("--create", "--yes").returncode == 0
    batch, s3, ecr = aws.client("batch"), aws.client("s3"), aws.client("ecr")
    ce = batch.describe_compute_environments(computeEnvironments=[CE])["computeEnvironments"][0]
    queue = batch.describe_job_queues(jobQueues=[JQ])["jobQueues"][0]
    batch.untag_resource(resourceArn=ce["computeEnvironmentArn"], tagKeys=["batchdeploy:project", "batchdeploy:prefix"])
    batch.tag_resource(resourceArn=queue["jobQueueArn"], tags={"batchdeploy:project": "other"})  # foreign
    s3.delete_bucket_tagging(Bucket=BUCKET)  # hand-made, as far as tags tell
    s3.put_object(Bucket=BUCKET, Key="theirs.csv", Body=b"1")
    ecr.create_repository(repositoryName="demo", tags=[{"Key": "batchdeploy:project", "Value": "other"}])
    _push(aws, "demo", "theirs")
    infra.write(".aws_env", (infra.path / ".aws_env").read_text() + f"AWS_REGISTRY={REGISTRY}\n")
    infra.write_json("job-queue.json", {**QUEUE, "priority": 9})  # a difference --update would apply
    before = snapshot(aws)

    u = infra.deploy("--create", "--update", "--yes")
    assert u.returncode == 2
    line = one_line_error(u)
    assert f"compute environment {CE} exists but was not created by batchdeploy" in line
    assert f"job queue {JQ} exists but belongs to project 'other'" in line
    assert f"S3 bucket {BUCKET} exists but was not created by batchdeploy" in line
    assert "ECR repository demo exists but belongs to project 'other'" in line
    assert "it is left alone" in line
    assert snapshot(aws) == before

    d = infra.deploy("--delete", "--yes", "--delete-bucket-contents", "--delete-images")
    assert d.returncode == 0, d.stderr
    assert "nothing to delete for prefix demo-test; kept 4" in d.stdout
    for kept in (f"kept compute environment {CE}: was not created by batchdeploy",
                 f"kept job queue {JQ}: belongs to project 'other'",
                 f"kept S3 bucket {BUCKET}: was not created by batchdeploy",
                 "kept ECR repository demo: belongs to project 'other'"):
        assert kept in d.stderr, kept
    assert snapshot(aws) == before


def test_a_pre_check_the_caller_may_not_read_is_a_warning_not_a_stop(infra, aws, proxy):
    proxy.add(operation="GetRole", status=403, code="AccessDenied",
              message="User: arn:aws:iam::123456789012:user/test is not authorized to perform: iam:GetRole")
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert "warning: cannot check serviceRole" in r.stderr
    assert "(iam:GetRole is not allowed): AWS checks it at creation" in r.stderr
    assert snapshot(aws)["compute_environments"]


def test_a_bucket_that_cannot_be_tagged_is_not_left_behind(infra, aws, proxy):
    """Untagged, delete would never remove it (not ours by its tags): create takes it back."""
    proxy.add(method="PUT", bucket=BUCKET, query={"tagging": ""}, status=403, code="AccessDenied",
              message="not authorized to perform: s3:PutBucketTagging")
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    line = one_line_error(r)
    assert f"cannot tag S3 bucket {BUCKET} (s3:PutBucketTagging): AccessDenied" in line
    assert line.endswith(f"; or remove what it made: --delete --prefix {PREFIX}")
    assert BUCKET not in snapshot(aws)["buckets"]
    assert infra.deploy("--delete", "--yes").returncode == 0
    assert snapshot(aws)["compute_environments"] == [] and snapshot(aws)["job_queues"] == []


def _simulated(decision: str) -> bytes:
    """SimulatePrincipalPolicy's answer (moto has no such call): one result with `decision`."""
    return (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member>"
        "<EvalActionName>iam:PassRole</EvalActionName><EvalResourceName>*</EvalResourceName>"
        f"<EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/>"
        "</member></EvaluationResults></SimulatePrincipalPolicyResult>"
        "<ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
    ).encode()


def test_a_role_the_caller_may_not_pass_stops_create_before_any_write(infra, aws, proxy):
    """CreateComputeEnvironment needs iam:PassRole on the service role: found before anything is made."""
    proxy.add(operation="SimulatePrincipalPolicy", status=200, answer=_simulated("implicitDeny"))
    before = snapshot(aws)
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2, r.stderr
    line = one_line_error(r)
    assert ("serviceRole: the caller (arn:aws:iam::123456789012:user/moto) may not pass "
            "arn:aws:iam::123456789012:role/batch-service (iam:PassRole is implicitDeny); allow iam:PassRole on it") in line
    assert snapshot(aws) == before
    sent = [b for b in proxy.requests if b.operation == "SimulatePrincipalPolicy"]
    assert len(sent) == 1 and b"iam%3APassRole" in sent[0].body


def test_a_role_the_caller_may_pass_is_quiet_and_one_iam_cannot_simulate_is_one_warning(infra, aws, proxy):
    proxy.add(operation="SimulatePrincipalPolicy", status=200, answer=_simulated("allowed"))
    r = infra.deploy("--create", "--yes", "--dry-run", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert "can be passed" not in r.stderr
    proxy.clear()  # moto itself has no SimulatePrincipalPolicy: a warning, and the run goes on
    r = infra.deploy("--create", "--yes", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("cannot check that the roles can be passed (iam:SimulatePrincipalPolicy answered") == 1
    assert snapshot(aws)["compute_environments"]
