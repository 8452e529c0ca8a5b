"""The local stack's AWS Batch against AWS's own documented rules (issue #23): one test per behaviour,
each citing the AWS page whose rule it checks. Every job is submitted at once by the module's fixture
(they are independent), so the suite takes about as long as its longest job: the timeout one, since
AWS's smallest attemptDurationSeconds is 60 s. Jobs run on the base image with `sh`; secret values are
checked through their sha256, so that no canary reaches a log line."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from batchdeploy.aws import Aws, AwsSettings

from .conftest import wait_for

pytestmark = [pytest.mark.engine, pytest.mark.e2e]
DONE = ("SUCCEEDED", "FAILED")
CANARY = f"canary-{uuid.uuid4().hex}"
ENV_PRINT = "env | grep ^AWS_BATCH_ | sort"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Stack:
    """Clients on the stack's moto, an UNMANAGED compute environment (no vCPU limit) with its queue,
    and a FARGATE one with maxvCpus 2 and its queue."""

    def __init__(self, local_stack):
        self.local = local_stack
        aws = Aws(AwsSettings(region="us-east-1", endpoint_url=local_stack.endpoint,
                              access_key_id="testing", secret_access_key="testing"))
        self.batch, self.logs = aws.client("batch"), aws.client("logs")
        self.ssm, self.secrets, ec2 = aws.client("ssm"), aws.client("secretsmanager"), aws.client("ec2")
        role = aws.client("iam").create_role(RoleName=unique("batch"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.ce_name = unique("ce")
        ce = self.batch.create_compute_environment(computeEnvironmentName=self.ce_name, type="UNMANAGED",
                                                   state="ENABLED", serviceRole=role)
        self.jq_name = unique("queue")
        self.queue = self.queue_on(self.jq_name, ce["computeEnvironmentArn"])
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        small = self.batch.create_compute_environment(
            computeEnvironmentName=unique("fargate"), type="MANAGED", state="ENABLED", serviceRole=role,
            computeResources={"type": "FARGATE", "maxvCpus": 2, "subnets": [subnet], "securityGroupIds": [group]})
        self.small_queue = self.queue_on(unique("small"), small["computeEnvironmentArn"])

    def queue_on(self, name: str, ce_arn: str) -> str:
        return self.batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1,
                                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}])["jobQueueArn"]

    def definition(self, script: str, image: str | None = None, **props) -> str:
        """A definition running `sh -c SCRIPT`; a prop given as None is left out."""
        container = {"image": image or self.local.env["BATCHDEPLOY_BASE_IMAGE"], "vcpus": 1, "memory": 128,
                     "command": ["sh", "-c", script]}
        container.update(props)
        strategy = container.pop("retryStrategy", None)
        return self.batch.register_job_definition(
            jobDefinitionName=unique("jd"), type="container",
            containerProperties={k: v for k, v in container.items() if v is not None},
            **({"retryStrategy": strategy} if strategy else {}),
        )["jobDefinitionArn"]

    def submit(self, script: str, image: str | None = None, props: dict | None = None, queue=None, **kwargs) -> str:
        return self.batch.submit_job(jobName=unique("job"), jobQueue=queue or self.queue,
                                     jobDefinition=self.definition(script, image, **(props or {})), **kwargs)["jobId"]

    def describe(self, job_id: str) -> dict:
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]

    def wait(self, job_id: str, timeout: float = 150) -> dict:
        return wait_for(lambda: (lambda j: j if j["status"] in DONE else None)(self.describe(job_id)), timeout,
                        what=f"job {job_id} to end")

    def lines(self, stream: str) -> list[str]:
        events = self.logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
        return [e["message"] for e in events]


@pytest.fixture(scope="module")
def stack(local_stack):
    return Stack(local_stack)


@pytest.fixture(scope="module")
def jobs(stack):
    """Every job of the suite, submitted at once; each test waits for its own."""
    s = stack
    s.ssm.put_parameter(Name="/conformance/token", Value=CANARY + "-ssm", Type="SecureString")
    secret_arn = s.secrets.create_secret(Name=unique("db"), SecretString=json.dumps({"password": CANARY + "-asm"}))["ARN"]
    term = "trap 'echo got SIGTERM; exit 143' TERM; echo started; sleep 300 & wait"
    parent_ok = s.submit("echo a-$AWS_BATCH_JOB_ARRAY_INDEX", arrayProperties={"size": 2})
    out = {
        "live": s.submit("echo first-line; sleep 12; echo last-line"),
        "exit3": s.submit("echo failing; exit 3"),
        "exit0": s.submit("echo fine"),
        "no_image": s.submit("true", image=f"{s.local.registry}/no-such-image:{uuid.uuid4().hex[:8]}"),
        "bad_command": s.batch.submit_job(jobName=unique("job"), jobQueue=s.queue, jobDefinition=s.definition("true"),
                                          containerOverrides={"command": ["no-such-command-here"]})["jobId"],
        "env": s.submit(ENV_PRINT, arrayProperties={"size": 2}),
        "parent_ok": parent_ok,
        "n_to_n": s.submit("echo b-$AWS_BATCH_JOB_ARRAY_INDEX", arrayProperties={"size": 2},
                           dependsOn=[{"jobId": parent_ok, "type": "N_TO_N"}]),
        "sequential": s.submit("sleep 1", arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}]),
        "children_fail": s.submit("exit $((AWS_BATCH_JOB_ARRAY_INDEX + 1))", arrayProperties={"size": 2}),
        "retry3": s.submit("echo attempt $AWS_BATCH_JOB_ATTEMPT; exit 3", props={
            "retryStrategy": {"attempts": 3, "evaluateOnExit": [{"onExitCode": "4*", "action": "EXIT"}]}}),
        "exit_on_42": s.submit("exit 42", props={
            "retryStrategy": {"attempts": 3, "evaluateOnExit": [{"onExitCode": "4*", "action": "exit"}]}}),
        "succeeds_second": s.submit('[ "$AWS_BATCH_JOB_ATTEMPT" = 2 ]', retryStrategy={
            "attempts": 3, "evaluateOnExit": [{"onStatusReason": "Essential container*", "onExitCode": "1",
                                               "action": "RETRY"}]}),
        "timeout": s.submit(term, timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 2}),
        "capacity": [s.submit("sleep 4", queue=s.small_queue, props={
            "vcpus": None, "memory": None,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}]})
            for _ in range(3)],
        "secrets": s.submit('for v in "$TOKEN" "$BY_ARN" "$PASSWORD"; do printf %s "$v" | sha256sum; done', props={
            "secrets": [{"name": "TOKEN", "valueFrom": "/conformance/token"},
                        {"name": "BY_ARN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/conformance/token"},
                        {"name": "PASSWORD", "valueFrom": f"{secret_arn}:password::"}]}),
        "secret_missing": s.submit("true", props={"secrets": [{"name": "X", "valueFrom": "/conformance/absent"}]}),
        "asm_missing": s.submit("true", props={"secrets": [
            {"name": "Y", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"}]}),
    }
    out["after_failure"] = s.submit("echo never", dependsOn=[{"jobId": out["exit3"]}])
    return out


def test_log_lines_reach_cloudwatch_logs_while_the_container_runs(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html : a job's container sends its
    output to CloudWatch Logs (awslogs driver) as it writes it; ContainerDetail.logStreamName
    (https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerDetail.html) names the stream
    once the job is RUNNING."""

    def first_line_while_running():
        job = stack.describe(jobs["live"])
        stream = job.get("container", {}).get("logStreamName")
        return (job, stack.lines(stream)) if job["status"] == "RUNNING" and stream and stack.lines(stream) else None

    job, lines = wait_for(first_line_while_running, 60, what="a log line while RUNNING")
    assert lines == ["first-line"]
    done = stack.wait(jobs["live"])
    assert stack.lines(done["container"]["logStreamName"]) == ["first-line", "last-line"]


def test_exit_code_status_reason_and_container_reason_are_aws_s(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/job_states.html and
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html : a job
    whose container exited has container.exitCode and statusReason "Essential container in task exited";
    one whose image cannot be pulled, or whose command cannot start, fails with statusReason "Task failed
    to start" and container.reason "CannotPullContainerError: ..." / "CannotStartContainerError: ..."."""
    failed, ok = stack.wait(jobs["exit3"]), stack.wait(jobs["exit0"])
    assert (failed["status"], failed["container"]["exitCode"], failed["statusReason"]) == (
        "FAILED", 3, "Essential container in task exited")
    assert (ok["status"], ok["container"]["exitCode"], ok["statusReason"]) == (
        "SUCCEEDED", 0, "Essential container in task exited")
    summary = stack.batch.list_jobs(jobQueue=stack.queue, jobStatus="FAILED")["jobSummaryList"]
    assert [s["container"]["exitCode"] for s in summary if s["jobId"] == jobs["exit3"]] == [3]
    pull, start = stack.wait(jobs["no_image"]), stack.wait(jobs["bad_command"])
    for job, prefix in ((pull, "CannotPullContainerError: "), (start, "CannotStartContainerError: ")):
        assert (job["status"], job["statusReason"]) == ("FAILED", "Task failed to start"), job
        assert job["container"]["reason"].startswith(prefix) and "exitCode" not in job["container"], job
    assert "no-such-image" in pull["container"]["reason"]
    assert "no-such-command-here" in start["container"]["reason"]


def test_each_container_gets_aws_batch_s_variables(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html : AWS_BATCH_JOB_ID,
    AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_CE_NAME, AWS_BATCH_JQ_NAME in every job, and
    AWS_BATCH_JOB_ARRAY_INDEX in each array child."""
    parent = jobs["env"]
    for i in range(2):
        job = stack.wait(f"{parent}:{i}")
        assert job["status"] == "SUCCEEDED", job
        assert stack.lines(job["container"]["logStreamName"]) == [
            f"AWS_BATCH_CE_NAME={stack.ce_name}", "AWS_BATCH_JOB_ARRAY_INDEX=" + str(i), "AWS_BATCH_JOB_ATTEMPT=1",
            f"AWS_BATCH_JOB_ID={parent}:{i}", f"AWS_BATCH_JQ_NAME={stack.jq_name}"]
    assert "AWS_BATCH_JOB_ID" not in json.dumps(stack.describe(f"{parent}:0")["container"]["environment"])


def test_dependencies_n_to_n_sequential_and_a_failed_one(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html and
    https://docs.aws.amazon.com/batch/latest/userguide/array_job_dependencies.html : with N_TO_N child i
    waits for child i of the other array; SEQUENTIAL runs an array's children one after another; a job
    whose dependency fails fails too ("Dependent Job failed") without running; an array job whose
    children failed is FAILED, one whose children all succeeded SUCCEEDED (array_jobs.html)."""
    a = [stack.wait(f"{jobs['parent_ok']}:{i}") for i in range(2)]
    b = [stack.wait(f"{jobs['n_to_n']}:{i}") for i in range(2)]
    for first, then in zip(a, b):
        assert first["status"] == then["status"] == "SUCCEEDED"
        assert then["startedAt"] >= first["stoppedAt"]
    seq = [stack.wait(f"{jobs['sequential']}:{i}") for i in range(3)]
    assert [j["status"] for j in seq] == ["SUCCEEDED"] * 3
    assert seq[1]["startedAt"] >= seq[0]["stoppedAt"] and seq[2]["startedAt"] >= seq[1]["stoppedAt"]
    after = stack.wait(jobs["after_failure"])
    assert (after["status"], after["statusReason"], after["attempts"]) == ("FAILED", "Dependent Job failed", [])
    assert stack.wait(jobs["children_fail"])["status"] == "FAILED"
    assert stack.wait(jobs["parent_ok"])["status"] == "SUCCEEDED"


def test_retries_follow_retry_strategy_and_evaluate_on_exit(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html : a failed attempt is
    retried up to `attempts`; the first evaluateOnExit entry whose every condition matches decides
    (globs end with *, actions are case-insensitive), and when none matches the job is retried; each
    attempt is listed in `attempts`; SubmitJob's retryStrategy overrides the definition's."""
    three = stack.wait(jobs["retry3"])
    assert three["status"] == "FAILED" and len(three["attempts"]) == 3
    assert [a["container"]["exitCode"] for a in three["attempts"]] == [3, 3, 3]
    assert [stack.lines(a["container"]["logStreamName"]) for a in three["attempts"]] == [
        ["attempt 1"], ["attempt 2"], ["attempt 3"]]
    once = stack.wait(jobs["exit_on_42"])
    assert (once["status"], len(once["attempts"]), once["container"]["exitCode"]) == ("FAILED", 1, 42)
    second = stack.wait(jobs["succeeds_second"])
    assert (second["status"], [a["container"]["exitCode"] for a in second["attempts"]]) == ("SUCCEEDED", [1, 0])


def test_attempt_duration_terminates_the_attempt_and_is_not_retried(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html : after attemptDurationSeconds
    (at least 60) from the attempt's startedAt, AWS Batch terminates it (SIGTERM, SIGKILL 30 s later);
    a job terminated for its timeout is not retried."""
    job = stack.wait(jobs["timeout"], timeout=200)
    assert (job["status"], job["statusReason"], len(job["attempts"])) == (
        "FAILED", "Job attempt duration exceeded timeout", 1)
    attempt = job["attempts"][0]
    assert attempt["stoppedAt"] - attempt["startedAt"] >= 60_000
    assert stack.lines(job["container"]["logStreamName"]) == ["started", "got SIGTERM"]


def test_jobs_run_concurrently_up_to_max_vcpus(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html : a
    compute environment runs at most maxvCpus vCPUs of jobs at once; the others stay RUNNABLE until
    room frees."""
    ended = [stack.wait(j) for j in jobs["capacity"]]
    assert [j["status"] for j in ended] == ["SUCCEEDED"] * 3
    spans = [(j["attempts"][0]["startedAt"], j["attempts"][0]["stoppedAt"]) for j in ended]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2, spans  # two 1-vCPU jobs at once on maxvCpus 2, never three


def test_secrets_reach_the_container_and_nothing_else(stack, jobs):
    """https://docs.aws.amazon.com/batch/latest/userguide/specifying-sensitive-data.html : `secrets`
    name an SSM parameter (name, or ARN) or a Secrets Manager secret (ARN, with an optional json key),
    injected into the container's environment at start; a missing parameter fails the job at start."""
    job = stack.wait(jobs["secrets"])
    assert job["status"] == "SUCCEEDED", job
    lines = stack.lines(job["container"]["logStreamName"])
    assert [line.split()[0] for line in lines] == [sha(CANARY + "-ssm"), sha(CANARY + "-ssm"), sha(CANARY + "-asm")]
    described = json.dumps(stack.batch.describe_jobs(jobs=[jobs["secrets"]]))
    assert CANARY not in described and CANARY not in (stack.local.state / "log" / "moto.log").read_text()
    missing = stack.wait(jobs["secret_missing"])
    assert missing["status"] == "FAILED"
    assert missing["statusReason"].startswith("ResourceInitializationError: unable to pull secrets or registry auth")
    assert "/conformance/absent" in missing["statusReason"]
    asm = stack.wait(jobs["asm_missing"])
    assert asm["status"] == "FAILED" and "unable to retrieve secret from asm" in asm["statusReason"]
    assert "secret:absent-AbCdEf" in asm["statusReason"] and asm["attempts"][0]["container"].get("exitCode") is None


def test_the_moto_underneath_is_the_one_the_extension_was_written_for(stack):
    """The extension (batchdeploy/local/moto_server.py) replaces parts of moto 5.2.5's Batch: the running
    server says which moto it patched, so a different one fails here, loudly."""
    log = (stack.local.state / "log" / "moto.log").read_text()
    assert "local Batch extension: moto 5.2.5" in log
