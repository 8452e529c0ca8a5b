"""Fixtures and helpers for the `-r` / --status / --logs / --cancel tests: a Batch queue and a triage-like
job definition on the moto server, a project that points at them, and ways to look for secrets."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest

from tests.conftest import ROOT

# moto's STS answers GetSessionToken with these fixed values: the canaries of the GetSessionToken path.
STS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
STS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
STS_TOKEN = "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c"  # a prefix of the token
DB_CANARY = "CANARY-db-password-5c1e9d"

JOB_DEFINITION = {
    "jobDefinitionName": "demo-experiment",
    "type": "container",
    "parameters": {"replace": "--no-replace", "validate": "--validate"},
    "containerProperties": {
        "image": "registry.example/demo:c0ffee12",
        "command": ["--tb", "Ref::experiment_file", "--project-path", "Ref::output_path", "Ref::replace", "Ref::validate"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        "environment": [{"name": "PROJECT_NAME", "value": "demo"}],
    },
    "timeout": {"attemptDurationSeconds": 3600},
}
OVERRIDES = {
    "environment": [
        {"name": "AWS_DEFAULT_REGION", "value": "${AWS_REGION}"},
        {"name": "POSTGRES_HOST", "value": "${POSTGRES_HOST}"},
        {"name": "POSTGRES_PASSWORD", "value": "${POSTGRES_PASSWORD}"},
    ]
}
PARAMS = ["experiment_file=s3://bucket/experiments/a.yaml", "output_path=s3://bucket/results"]


def make_batch(aws, queue: str = "demo-queue", state: str = "ENABLED", definition: dict | None = None) -> dict:
    iam, batch = aws.client("iam"), aws.client("batch")
    try:
        role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="batch-service")["Role"]["Arn"]
    ce = f"{queue}-ce"
    batch.create_compute_environment(computeEnvironmentName=ce, type="UNMANAGED", state="ENABLED", serviceRole=role)
    batch.create_job_queue(
        jobQueueName=queue, state=state, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}]
    )
    jd = batch.register_job_definition(**(definition or JOB_DEFINITION))
    return {"queue": queue, "jobdef_arn": jd["jobDefinitionArn"], "jobdef_name": jd["jobDefinitionName"]}


@pytest.fixture
def batch_env(aws):
    return make_batch(aws)


def setup_project(project, env: dict, **extra_config) -> object:
    values = {
        "PROJECT_NAME": "demo",
        "AWS_JOB_QUEUE": env["queue"],
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PASSWORD": DB_CANARY,
        **extra_config,
    }
    project.env_file(**{k: v for k, v in values.items() if v is not None})
    project.write_json("env-overrides.json", OVERRIDES)
    shutil.copy(ROOT / "credentials-filter.example", project.path / "credentials-filter")
    record_definition(project, env["jobdef_name"], env["jobdef_arn"])
    return project


def record_definition(project, name: str, arn: str) -> None:
    """What `-u` records (HELPERS.md's job-definitions.json format)."""
    state = project.path / ".batchdeploy"
    state.mkdir(exist_ok=True)
    (state / "job-definitions.json").write_text(
        json.dumps(
            {
                "default": name,
                "definitions": {
                    name: {
                        "arn": arn,
                        "revision": int(arn.rsplit(":", 1)[1]),
                        "hash": "0" * 64,
                        "file": "job-definition.json",
                        "registered_at": "2026-01-01T00:00:00Z",
                    }
                },
            }
        )
    )


@pytest.fixture
def run_project(project, batch_env):
    return setup_project(project, batch_env)


def job_env(job: dict) -> dict[str, str]:
    """A described job's environment by name (moto repeats AWS_BATCH_JOB_ID on every describe)."""
    out: dict[str, str] = {}
    for e in job["container"]["environment"]:
        out.setdefault(e["name"], e["value"])
    return out


def state_text(project) -> str:
    folder = project.path / ".batchdeploy"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def all_jobs(aws, queue: str) -> list[dict]:
    summaries = aws.client("batch").list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["*"]}])
    return summaries["jobSummaryList"]


def records(project) -> list[dict]:
    p = project.path / ".batchdeploy" / "jobs.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def inprocess(argv: list[str], *, sleep=None, clock=None):
    """The CLI in this process with time injected: (exit code, stdout, stderr)."""
    from batchdeploy import cli, errors

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            args = cli.parse(argv)
            ctx = cli.make_context(args)
            if sleep is not None:
                ctx.sleep = sleep
            if clock is not None:
                ctx.clock = clock
            code = cli.dispatch(ctx, args.verb)
        except errors.BatchdeployError as exc:
            print(f"batchdeploy: error: {exc.line()}", file=stderr)
            code = exc.exit_code
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, stdout.getvalue(), stderr.getvalue()


class FakeClock:
    """Injected time: `sleep` advances `clock` and can run something between polls."""

    def __init__(self, between=None):
        self.now = 0.0
        self.sleeps: list[float] = []
        self.between = between

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.between:
            self.between(len(self.sleeps))


def set_job_transitions(moto_server, progression: dict | None) -> None:
    """moto's state manager for Batch jobs: {"progression": "manual", "times": N} holds jobs in SUBMITTED."""
    if progression is None:
        moto_server.post("/moto-api/state-manager/unset-transition", {"model_name": "batch::job"})
    else:
        moto_server.post("/moto-api/state-manager/set-transition", {"model_name": "batch::job", "transition": progression})


def held_job(aws, moto_server, env: dict, name: str = "held") -> str:
    """A job that stays SUBMITTED (moto with docker on, its state machine held) until `release_jobs`."""
    set_job_transitions(moto_server, {"progression": "manual", "times": 10**9})
    moto_server.batch_use_docker(True)
    job_id = aws.client("batch").submit_job(jobName=name, jobQueue=env["queue"], jobDefinition=env["jobdef_arn"],
                                            parameters={"experiment_file": "x", "output_path": "y"})["jobId"]
    return job_id


def release_jobs(moto_server) -> None:
    set_job_transitions(moto_server, None)
    moto_server.batch_use_docker(False)



def on_failing_moto(failing_moto, project, monkeypatch, definition: dict, bucket: str):
    """`project` set up against the moto server whose Batch fails every job (conftest's failing_moto):
    a queue, `definition` recorded, `bucket`, and AWS_ENDPOINT_URL pointing there. Returns (project, aws)."""
    from batchdeploy.aws import Aws, AwsSettings
    from tests.conftest import REGION

    failing_moto.reset()
    failing_moto.batch_use_docker(False)
    aws = Aws(AwsSettings(region=REGION, endpoint_url=failing_moto.url))
    env = make_batch(aws, definition=definition)
    aws.client("s3").create_bucket(Bucket=bucket)
    setup_project(project, env, S3_BUCKET=bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL", failing_moto.url)
    monkeypatch.chdir(project.path)
    return project, aws
