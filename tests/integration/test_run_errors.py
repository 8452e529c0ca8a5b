"""Every bad input of `-r`: one line on stderr, the right exit code, and no job submitted (no SubmitJob
request reaches the server, nothing recorded)."""

from __future__ import annotations

import json

import pytest

from tests import run_support
from tests.conftest import RequestCounter
from tests.run_support import (
    DB_CANARY,
    PARAMS,
    STS_SECRET,
    inprocess,
    records,
)

batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture

ENV_BASE = {"PROJECT_NAME": "demo", "AWS_JOB_QUEUE": "demo-queue", "POSTGRES_HOST": "h", "POSTGRES_PASSWORD": DB_CANARY}


def no_submit(counter) -> bool:
    return not any(p == "/v1/submitjob" for _, p, _ in counter.since())


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("batchdeploy: error: ") and "Traceback" not in err
    return err


def bad_filter(text):
    def setup(project, aws):
        project.write("credentials-filter", text)

    return setup


def config(**values):
    def setup(project, aws):
        project.env_file(**{k: v for k, v in {**ENV_BASE, **values}.items() if v is not None})

    return setup


def overrides(text):
    def setup(project, aws):
        project.write("env-overrides.json", text)

    return setup


def no_state(project, aws):
    (project.path / ".batchdeploy" / "job-definitions.json").unlink()


def deregistered(project, aws):
    aws.client("batch").deregister_job_definition(jobDefinition="demo-experiment:1")


def disabled_queue(project, aws):
    from tests.run_support import make_batch

    make_batch(aws, queue="off-queue", state="DISABLED")
    config(AWS_JOB_QUEUE="off-queue")(project, aws)


def nothing(project, aws):
    pass


CASES = [
    # (id, setup, argv after NAME-less "run", exit code, text in the line)
    ("malformed-pair", nothing, ["exp1", "experiment_file"], 2, "malformed parameter 'experiment_file'"),
    ("malformed-tag", nothing, ["exp1", *PARAMS, "--tags", "nokey"], 2, "malformed tag 'nokey'"),
    ("twice", nothing, ["exp1", *PARAMS, "output_path=s3://other"], 2, "parameter 'output_path' is given twice"),
    ("bad-name", nothing, ["bad name!", *PARAMS], 2, "job name 'bad name!' is not one AWS accepts"),
    ("long-name", nothing, ["a" * 129, *PARAMS], 2, "is not one AWS accepts"),
    ("name-is-a-pair", nothing, [PARAMS[0], PARAMS[1]], 2, "looks like a parameter; give the job's name first"),
    ("unknown-param", nothing, ["exp1", *PARAMS, "bogus=1"], 2,
     "unknown parameter bogus for demo-experiment:1; valid parameters: experiment_file, output_path, replace, validate"),
    ("missing-value", nothing, ["exp1", PARAMS[0]], 2, "needs a value for output_path"),
    ("no-queue", config(AWS_JOB_QUEUE=None), ["exp1", *PARAMS], 2, "AWS_JOB_QUEUE is missing"),
    ("queue-not-found", config(AWS_JOB_QUEUE="nope"), ["exp1", *PARAMS], 2, "job queue 'nope' does not exist"),
    ("queue-disabled", disabled_queue, ["exp1", *PARAMS], 2, "job queue 'off-queue' is DISABLED and accepts no jobs"),
    ("no-definition", no_state, ["exp1", *PARAMS], 2, "no job definition registered yet: -u recorded none here and no job definition file names one; run ./deploy.sh -u"),
    ("unknown-definition", nothing, ["exp1", *PARAMS, "--job-definition", "nope"], 2,
     "job definition nope is not registered; run ./deploy.sh -u"),
    ("bad-revision", nothing, ["exp1", *PARAMS, "--job-definition", "demo-experiment:x"], 2, "the revision must be a number"),
    ("deregistered", deregistered, ["exp1", *PARAMS], 2, "is INACTIVE (deregistered); run ./deploy.sh -u"),
    ("jq-syntax", bad_filter("{environment: [.Credentials"), ["exp1", *PARAMS], 2, "credentials-filter: jq: error: syntax error"),
    ("jq-no-environment", bad_filter('{"env": []}'), ["exp1", *PARAMS], 2, "credentials-filter yields no `environment` array"),
    ("jq-nothing", bad_filter("empty"), ["exp1", *PARAMS], 2, "credentials-filter yields 0 values"),
    ("jq-null", bad_filter('{"environment": [{"name": "X", "value": .Credentials.Nope}]}'), ["exp1", *PARAMS], 2,
     "environment[0] (X) has a null value"),
    ("jq-error", bad_filter(".Credentials.SecretAccessKey + 1"), ["exp1", *PARAMS], 2,
     'credentials-filter fails: string ("<Credentials') ,
    ("jq-error-on-values", bad_filter(
        'if (.Credentials.SecretAccessKey | startswith("<")) then {"environment": []} '
        "else error(.Credentials.SecretAccessKey) end"), ["exp1", *PARAMS], 2, "jq's message is withheld"),
    ("duration", config(CREDENTIALS_DURATION="100"), ["exp1", *PARAMS], 2, "CREDENTIALS_DURATION=100 is out of range"),
    ("overrides-json", overrides('{"environment": [}'), ["exp1", *PARAMS], 2, "invalid JSON at line 1 column 18"),
    ("overrides-placeholder", overrides('{"environment": [{"name": "A", "value": "${NOPE}"}]}'), ["exp1", *PARAMS], 2,
     "unknown placeholder: ${NOPE} at environment[0].value"),
    ("overrides-shape", overrides('{"environment": [{"name": "A", "value": 3}]}'), ["exp1", *PARAMS], 2,
     "environment[0].value: expected a string"),
    ("overrides-clash", overrides('{"environment": [{"name": "AWS_SESSION_TOKEN", "value": "x"}]}'), ["exp1", *PARAMS], 2,
     "env-overrides.json and credentials-filter both set AWS_SESSION_TOKEN"),
    ("timeout", nothing, ["exp1", *PARAMS, "--timeout", "59"], 2, "--timeout 59 is too short"),
    ("retries", nothing, ["exp1", *PARAMS, "--retries", "11"], 2, "--retries 11 is out of range"),
    ("array-size", nothing, ["exp1", *PARAMS, "--array-size", "1"], 2, "--array-size 1 is out of range"),
    ("depends-on", nothing, ["exp1", *PARAMS, *[x for i in range(21) for x in ("--depends-on", f"j{i}")]], 2,
     "21 --depends-on given"),
    ("tags", nothing, ["exp1", *PARAMS, "--tags", ",".join(f"k{i}=v" for i in range(50))], 2, "50 tags given"),
    ("reserved-tag", nothing, ["exp1", *PARAMS, "--tags", "aws:x=1"], 2, "tag key 'aws:x' is reserved"),
    ("vcpus", nothing, ["exp1", *PARAMS, "--vcpus", "lots"], 2, "--vcpus 'lots' is not a number above 0"),
    ("memory", nothing, ["exp1", *PARAMS, "--memory", "0"], 2, "--memory '0' is not a whole number above 0"),
    ("cancel-without-wait", nothing, ["exp1", *PARAMS, "--cancel-on-interrupt"], 2, "--cancel-on-interrupt needs --wait"),
    ("payload", nothing, ["exp1", *PARAMS, "--", *(["x" * 1000] * 31)], 2, "above AWS's 30,720"),
]


@pytest.mark.parametrize("setup, argv, code, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_submits_nothing(moto, aws, run_project, monkeypatch, setup, argv, code, text):
    setup(run_project, aws)
    monkeypatch.chdir(run_project.path)
    counter = RequestCounter(moto)
    got, out, err = inprocess(["run", *argv])
    assert got == code, err
    assert text in one_line(err)
    assert no_submit(counter)
    assert records(run_project) == []
    assert "wJalrXUtnF" not in err  # not even the prefix jq would quote


def test_the_real_edge_prints_one_line_too(moto, run_project):
    counter = RequestCounter(moto)
    r = run_project.deploy("-r", "exp1", *PARAMS, "bogus=1")
    assert r.returncode == 2 and r.stdout == ""
    assert one_line(r.stderr).strip().endswith("valid parameters: experiment_file, output_path, replace, validate")
    assert no_submit(counter)


def test_sts_refusing_is_exit_1_and_submits_nothing(moto, run_project, proxy):
    proxy.add(operation="getsessiontoken", nth=1, status=403, code="AccessDenied")
    r = run_project.deploy("-r", "exp1", *PARAMS, env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1, r.stderr
    assert "cannot get temporary credentials for the job (sts:GetSessionToken, 5400 s): AccessDenied" in one_line(r.stderr)
    assert proxy.count("submitjob") == 0
    assert records(run_project) == []


def test_a_submit_aws_refuses_is_exit_1(moto, run_project, aws, proxy):
    # moto accepts almost any SubmitJob that passed our checks, so AWS's refusal is injected: a 400.
    proxy.add(operation="submitjob", nth=1, status=400, code="ClientException")
    r = run_project.deploy("-r", "exp1", *PARAMS, "--no-credentials", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    # progress came first (the request had passed every check); the failure is the one last line
    assert r.stderr.splitlines()[-1].startswith("batchdeploy: error: cannot submit job exp1 (batch:SubmitJob): ClientException")
    assert proxy.count("submitjob") == 1  # a 400 is not retried
    assert records(run_project) == []


def test_jq_debug_writes_nothing_to_stderr(moto, run_project, capfd):
    run_project.write(
        "credentials-filter", '.Credentials | debug | {"environment": [{"name": "K", "value": .SecretAccessKey}]}'
    )
    r = run_project.deploy("-r", "exp1", *PARAMS, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert STS_SECRET not in r.stdout + r.stderr and "wJalrXUtnF" not in r.stderr
    assert json.loads(r.stdout)["containerOverrides"]["environment"][-1] == {"name": "K", "value": "****"}
