"""pegasus's own example on the local stack, where its tasks really run: examples/pegasus/ (the seed's
job definition, compute environment, queue and a submit file in its shape, adapted only to the local
account) through `pegasus-aws-batch`, with a fetch-and-run image built FROM the stack's base image and
batchdeploy's launcher as its entry point. One run of two tasks, one of them failing: the exit code,
the `-f` and TRANSFER_INPUT_FILES files reaching the task, each task's stdout and stderr apart, the
merged logs and summary, the jobstate log, and the run-scoped resources gone afterwards. Kept to one
run (two containers) for a 2-core CI."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid

import pytest

from batchdeploy.bags import pegasus
from batchdeploy.launch.zipapp import write as write_launcher
from tests.conftest import ROOT
from tests.run_support import inprocess, record_definition

from .test_launch_stack import launcher_image  # noqa: F401 - the image with the launcher, no entry point
from .test_local_stack import Batch, unique

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

EXAMPLE = ROOT / "examples" / "pegasus"
PREFIX = "pegasus-awsbatch-example"  # the seed's own prefix; the submit file names its bucket
CANARY = "canary-secret-91c4d0e2ab"  # a secret-looking value in the definition: must not reach any file or log


@pytest.fixture(scope="module")
def fetch_and_run_image(local_stack, tmp_path_factory):
    context = tmp_path_factory.mktemp("pegasus image")
    write_launcher(str(context / "batchdeploy-launch"))
    shutil.copy(EXAMPLE / "Dockerfile", context / "Dockerfile")
    image = f"{local_stack.registry}/pegasus-fetch-and-run:{uuid.uuid4().hex[:8]}"
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    local_stack.cli("build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", image, str(context), timeout=300)
    local_stack.cli("push", image, timeout=300)
    return image


def adapted(tmp_path, stack, image):
    """The example as a user's folder: the image and the stack's endpoint filled in, and moto's dummy
    keys (on AWS a jobRoleArn gives the task its credentials)."""
    d = tmp_path / "pegasus example"
    shutil.copytree(EXAMPLE, d)
    jd = json.loads((d / "conf" / "sample-job-definition.json").read_text())
    props = jd["containerProperties"]
    props["image"] = image
    for e in props["environment"]:
        e["value"] = e["value"].replace("LOCAL_ENDPOINT", stack.endpoint)
    props["environment"] += [{"name": "AWS_ACCESS_KEY_ID", "value": "testing"},
                             {"name": "AWS_SECRET_ACCESS_KEY", "value": "testing"},
                             {"name": "API_TOKEN", "value": CANARY}]
    (d / "conf" / "sample-job-definition.json").write_text(json.dumps(jd))
    return d


def names_left(aws) -> list[str]:
    batch = aws.client("batch")
    found = [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]
             if c.get("status") != "DELETED"]
    found += [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"] if q.get("status") != "DELETED"]
    found += [j["jobDefinitionName"] for j in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]]
    found += [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    return [n for n in found if n.startswith(PREFIX)]


def test_the_seeds_example_runs_its_tasks_and_leaves_nothing_behind(local_stack, fetch_and_run_image, tmp_path):
    from batchdeploy.aws import Aws, AwsSettings

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=local_stack.endpoint, access_key_id="testing",
                          secret_access_key="testing"))
    iam = aws.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="AWSBatchServiceRole", AssumeRolePolicyDocument="{}")
    d = adapted(tmp_path, local_stack, fetch_and_run_image)
    environ = {"AWS_ENDPOINT_URL": local_stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = pegasus.main(["--conf", "conf/pegasusrc", "--prefix", PREFIX,
                             "--job-definition", "conf/sample-job-definition.json",
                             "--compute-environment", "conf/sample-compute-env.json",
                             "--job-queue", "conf/sample-job-queue.json",
                             "-f", "pegasus-aws-batch-launch.sh", "--merge-logs", "merged", "example.json"],
                            pegasus.World(cwd=d, environ=environ, home=None))
    log = err.getvalue()
    assert code == 1, log  # one task failed
    out, errs = (d / "merged.out").read_text(), (d / "merged.err").read_text()
    assert "hello from hello_ID0000001\nthe input says: greetings from S3\n" in out  # -f and TRANSFER_INPUT_FILES
    assert "a note on stderr\nPegasusAWSBatchLaunch: exitcode 0\n" in errs  # stderr apart from stdout
    assert "fail.sh: the data is not there\nPegasusAWSBatchLaunch: exitcode 1\n" in errs
    assert 'name="fail_ID0000002"' in out and "state=failed" in out
    assert out.splitlines()[-1].startswith("[cluster-summary tasks=2, succeeded=1, failed=1, duration=")
    states = [line.split()[1:3] for line in (d / f"{PREFIX}.jobstate.log").read_text().splitlines()]
    assert ["hello_ID0000001", "SUCCEEDED"] in states and ["fail_ID0000002", "FAILED"] in states
    assert names_left(aws) == []  # job definition, compute environment, queue and bucket all deleted
    written = log + "".join(p.read_text(errors="replace") for p in d.rglob("*") if p.is_file() and p.suffix != ".json")
    assert CANARY not in written



def test_submit_runs_a_bag_as_one_array_through_the_launcher(local_stack, launcher_image, project,  # noqa: F811
                                                              monkeypatch):
    """`batchdeploy submit` with a definition whose image has the launcher: one array job, each child
    running its own task from the manifest; a failing task is exit 3, and its record says so; each
    task's stderr is in its .err, its stdout in its .out."""
    batch = Batch(local_stack)
    env = {"AWS_ENDPOINT_URL": local_stack.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "BATCHDEPLOY_LAUNCHER": "/usr/local/bin/batchdeploy-launch",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # moto's: the launcher reads S3
    name = unique("bag")
    jd = batch.batch.register_job_definition(
        jobDefinitionName=name, type="container",
        containerProperties={"image": launcher_image, "vcpus": 1, "memory": 256, "command": ["true"],
                             "environment": [{"name": k, "value": v} for k, v in env.items()]})
    project.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    record_definition(project, name, jd["jobDefinitionArn"])
    project.write_json("bag.json", {"SubmitJob": [
        {"jobName": "greet", "executable": "echo", "arguments": "hello from the array"},
        {"jobName": "count", "executable": "ls", "arguments": "/usr/local/bin/batchdeploy-launch"},
        {"jobName": "broken", "executable": "ls", "arguments": "/no/such/file"}]})
    for key, value in {"AWS_ENDPOINT_URL": local_stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)
    code, out, err = inprocess(["submit", "bag.json", "--logs-dir", "logs"])
    assert code == 3, out + err
    assert "as 1 array job" in err
    logs = project.path / "logs"
    assert (logs / "greet.out").read_text().splitlines()[0] == "hello from the array"
    assert (logs / "count.out").read_text().splitlines()[0] == "/usr/local/bin/batchdeploy-launch"
    assert "state=failed" in (logs / "broken.out").read_text()
    # stdout and stderr apart: the launcher holds stderr until the command ends, then prints it after
    # pegasus's marker (the manifest's "stderr": "after-marker"), and the split puts it in .err
    assert "No such file" in (logs / "broken.err").read_text()
    assert "No such file" not in (logs / "broken.out").read_text()
    assert (logs / "greet.err").read_text() == ""
    assert "task broken failed" in err
