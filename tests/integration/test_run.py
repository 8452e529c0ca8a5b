"""`-r` through the real command line against a moto server: what the job carries, what is printed,
what is recorded, and that secrets appear nowhere batchdeploy writes."""

from __future__ import annotations

import json
import subprocess

from tests import run_support
from tests.conftest import ROOT, RequestCounter, aws_cli
from tests.run_support import (
    DB_CANARY,
    PARAMS,
    STS_KEY_ID,
    STS_SECRET,
    STS_TOKEN,
    inprocess,
    job_env,
    records,
    state_text,
)

batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture

SUBMITS = ("POST", "/v1/submitjob")


def submits(counter) -> int:
    return sum(1 for m, p, _ in counter.since() if (m, p) == SUBMITS)


def test_run_submits_one_job_with_parameters_environment_and_overrides(moto, run_project, batch_env, proxy):
    r = run_project.deploy(
        "-r", "exp1", *PARAMS, "--vcpus", "2", "--memory", "4096", "--gpus", "1", "--timeout", "600",
        "--retries", "2", "--tags", "team=ds", "--tags", "cost=lab,owner=me", "--", "--extra", "x y",
        env={"AWS_ENDPOINT_URL": proxy.url},
    )
    assert r.returncode == 0, r.stderr
    assert proxy.count("submitjob") == 1
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    assert f"console:    https://us-east-1.console.aws.amazon.com/batch/home?region=us-east-1#jobs/detail/{job_id}" in r.stdout
    assert f"./deploy.sh --logs {job_id} --follow" in r.stdout
    assert "credentials: STS GetSessionToken for 50m (2 attempts of 10m plus 30m)" in r.stderr

    # What AWS holds, read back with the real aws CLI.
    job = aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0]
    assert job["parameters"] == {
        "experiment_file": "s3://bucket/experiments/a.yaml",
        "output_path": "s3://bucket/results",
        "replace": "--no-replace",
        "validate": "--validate",
    }
    env = job_env(job)
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["POSTGRES_HOST"] == "db.internal"
    assert env["POSTGRES_PASSWORD"] == DB_CANARY
    assert env["AWS_ACCESS_KEY_ID"] == STS_KEY_ID
    assert env["AWS_SECRET_ACCESS_KEY"] == STS_SECRET
    assert env["AWS_SESSION_TOKEN"].startswith(STS_TOKEN)
    assert env["PROJECT_NAME"] == "demo"  # the definition's own, kept
    assert job["container"]["command"] == [
        "--tb", "Ref::experiment_file", "--project-path", "Ref::output_path", "Ref::replace", "Ref::validate",
        "--extra", "x y",
    ]
    assert job["tags"]["team"] == "ds" and job["tags"]["cost"] == "lab" and job["tags"]["owner"] == "me"
    assert len(job["tags"]["batchdeploy:client-token"]) == 32

    # What was sent (moto's DescribeJobs does not echo resource overrides back): the request itself.
    sent = proxy.bodies("submitjob")[0]
    assert sent["containerOverrides"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}, {"type": "GPU", "value": "1"},
    ]
    assert sent["timeout"] == {"attemptDurationSeconds": 600}
    assert sent["retryStrategy"] == {"attempts": 2}
    assert [e["name"] for e in sent["containerOverrides"]["environment"]] == [
        "AWS_DEFAULT_REGION", "POSTGRES_HOST", "POSTGRES_PASSWORD", "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    ]  # triage's `.environment += creds.environment`: overrides first, credentials appended
    # batchdeploy talks to an emulator here, so the job is pointed at the same one
    assert {"name": "AWS_ENDPOINT_URL", "value": proxy.url} in sent["containerOverrides"]["environment"]

    (rec,) = records(run_project)
    assert rec["job_id"] == job_id and rec["name"] == "exp1" and rec["queue"] == batch_env["queue"]
    assert rec["job_definition"] == batch_env["jobdef_arn"] and rec["image_tag"] == "c0ffee12"
    assert rec["parameters"] == {"experiment_file": "s3://bucket/experiments/a.yaml", "output_path": "s3://bucket/results"}
    assert rec["client_token"] == job["tags"]["batchdeploy:client-token"]
    assert set(rec) == {"job_id", "name", "queue", "job_definition", "parameters", "image_tag", "submitted_at", "client_token"}

    for canary in (STS_SECRET, STS_TOKEN, STS_KEY_ID, DB_CANARY):
        assert canary not in r.stdout + r.stderr
        assert canary not in state_text(run_project)


def test_the_aws_cli_sees_the_job_the_triage_form_submitted(moto, run_project):
    r = run_project.deploy("-r", "exp2", ",".join(PARAMS) + ",replace=--replace", "--no-credentials", "-q")
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    job = aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0]
    assert job["parameters"]["replace"] == "--replace"
    assert job["parameters"]["output_path"] == "s3://bucket/results"
    env = job_env(job)
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    # --quiet: the job id alone; the one warning left is issue #20 item 5's, for the overrides' plain
    # POSTGRES_PASSWORD (run_support.OVERRIDES), which --quiet does not silence
    assert [line.split(" has a value")[0] for line in r.stderr.splitlines()] == [
        "warning: env-overrides.json: POSTGRES_PASSWORD"], r.stderr


def test_options_stand_before_or_after_the_parameters(moto, run_project):
    r = run_project.run("run", "--no-credentials", "exp3", PARAMS[0], "--quiet", PARAMS[1], "--memory", "512")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1


def test_dry_run_prints_the_request_masked_and_submits_nothing(moto, run_project):
    counter = RequestCounter(moto)
    r = run_project.deploy("-r", "exp1", *PARAMS, "--dry-run")
    assert r.returncode == 0, r.stderr
    request = json.loads(r.stdout)
    env = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
    assert env["AWS_SECRET_ACCESS_KEY"] == env["AWS_SESSION_TOKEN"] == env["AWS_ACCESS_KEY_ID"] == "****"
    assert env["POSTGRES_PASSWORD"] == "****" and env["POSTGRES_HOST"] == "db.internal"
    assert request["parameters"]["experiment_file"] == "s3://bucket/experiments/a.yaml"
    assert submits(counter) == 0
    assert records(run_project) == []
    for canary in (STS_SECRET, STS_TOKEN, DB_CANARY):
        assert canary not in r.stdout + r.stderr


def test_json_output_is_one_object(moto, run_project):
    r = run_project.run("run", "exp1", *PARAMS, "--no-credentials", "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    # hints name the program the user ran: `batchdeploy logs`, not deploy.sh's `--logs` (issue #20 item 12)
    assert data["job_name"] == "exp1" and data["follow"] == f"batchdeploy logs {data['job_id']} --follow"
    r = run_project.run("run", "exp1", *PARAMS, "--no-credentials", "--output", "json", "--wait")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)  # still one object: the submission and how it ended
    assert data["status"] == "SUCCEEDED" and data["job_name"] == "exp1"


def test_no_subprocess_ever_sees_a_credential(moto, run_project, monkeypatch):
    """The one child is the credentials filter's (batchdeploy.userprog): it gets the document over a
    pipe, so no secret is on its command line or in its environment (which is empty)."""
    started = []
    real_popen = subprocess.Popen

    def spy(*args, **kwargs):
        started.append((args[0] if args else kwargs.get("args"), kwargs.get("env")))
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    monkeypatch.chdir(run_project.path)
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--wait"])
    assert code == 0, err
    assert [argv[-2].rsplit("/", 1)[-1] for argv, _ in started] == ["userprog_child.py"]
    assert [env for _, env in started] == [{"LC_ALL": "C.UTF-8"}]
    for canary in (STS_SECRET, STS_TOKEN, DB_CANARY):
        assert canary not in out + err
        assert all(canary not in " ".join(argv) for argv, _ in started)


def test_the_cli_process_arguments_hold_no_secret(moto, run_project):
    """The command line batchdeploy is started with (ps shows it) carries names and parameters only."""
    proc = subprocess.Popen(
        [str(ROOT / "deploy.sh"), "-r", "exp1", *PARAMS],
        cwd=run_project.path,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cmdline = open(f"/proc/{proc.pid}/cmdline", "rb").read().decode(errors="replace")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    for canary in (STS_SECRET, STS_TOKEN, DB_CANARY):
        assert canary not in cmdline


def test_temporary_caller_credentials_are_passed_through_and_never_printed(moto, run_project, proxy):
    secret = "CANARY-caller-secret-0a9f8e7d6c5b4a39"
    token = "CANARY-caller-session-token-1b2c3d4e5f60718293a4"
    r = run_project.deploy(
        "-r", "exp1", *PARAMS,
        env={"AWS_ENDPOINT_URL": proxy.url, "AWS_ACCESS_KEY_ID": "ASIACANARYKEY123456", "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_SESSION_TOKEN": token},
    )
    assert r.returncode == 0, r.stderr
    assert proxy.count("getsessiontoken") == 0 and proxy.count("assumerole") == 0
    assert "your own temporary credentials passed through (lifetime left: unknown)" in r.stderr
    assert "how long your temporary credentials last is unknown" in r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    env = job_env(aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0])
    assert env["AWS_SECRET_ACCESS_KEY"] == secret and env["AWS_SESSION_TOKEN"] == token
    for canary in (secret, token, "ASIACANARYKEY123456"):
        assert canary not in r.stdout + r.stderr
        assert canary not in state_text(run_project)


def test_temporary_caller_with_a_role_gets_a_role_session(moto, run_project, proxy, aws):
    role = "arn:aws:iam::123456789012:role/experiment"
    run_project.env_file(
        PROJECT_NAME="demo", AWS_JOB_QUEUE="demo-queue", POSTGRES_HOST="h", POSTGRES_PASSWORD=DB_CANARY,
        CREDENTIALS_ROLE_ARN=role, CREDENTIALS_DURATION="3600",
    )
    r = run_project.deploy(
        "-r", "exp1", *PARAMS,
        env={"AWS_ENDPOINT_URL": proxy.url, "AWS_SESSION_TOKEN": "CANARY-caller-session-token-77aa88bb99cc"},
    )
    assert r.returncode == 0, r.stderr
    assert proxy.count("assumerole") == 1 and proxy.count("getsessiontoken") == 0
    assert "credentials: AssumeRole of CREDENTIALS_ROLE_ARN for 1h" in r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    env = job_env(aws.client("batch").describe_jobs(jobs=[job_id])["jobs"][0])
    assert env["AWS_SESSION_TOKEN"] != "CANARY-caller-session-token-77aa88bb99cc"
    for value in (env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]):
        assert value not in r.stdout + r.stderr and value not in state_text(run_project)


def test_credentials_shorter_than_the_timeout_warn(moto, run_project):
    run_project.env_file(
        PROJECT_NAME="demo", AWS_JOB_QUEUE="demo-queue", POSTGRES_HOST="h", POSTGRES_PASSWORD=DB_CANARY,
        CREDENTIALS_DURATION="900",
    )
    r = run_project.deploy("-r", "exp1", *PARAMS, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "warning: the job's credentials expire after 15m, before its timeout (1h)" in r.stderr


def test_a_job_definition_chosen_by_flag_and_revision(moto, run_project, aws, batch_env):
    second = aws.client("batch").register_job_definition(
        jobDefinitionName="demo-experiment", type="container",
        containerProperties={"image": "x:2", "command": ["echo", "Ref::only"], "vcpus": 1, "memory": 128},
    )
    assert second["revision"] == 2
    r = run_project.deploy("-r", "exp1", "only=1", "--job-definition", "demo-experiment:2", "--no-credentials", "-q")
    assert r.returncode == 0, r.stderr
    job = aws.client("batch").describe_jobs(jobs=[r.stdout.strip()])["jobs"][0]
    assert job["jobDefinition"].endswith("demo-experiment:2")
    # By name alone, the revision -u recorded (1) is the one in force, not the newest.
    r = run_project.deploy("-r", "exp1", "only=1", "--job-definition", "demo-experiment", "--no-credentials")
    assert r.returncode == 2 and "unknown parameter only for demo-experiment:1" in r.stderr


def test_ref_in_file_is_one_parameter_for_update_jobs_and_run(moto, run_project, aws, batch_env):
    # -u and -r read `Ref::in-file` with the one grammar (aws.batch.REF): the parameter `in-file`.
    run_project.write_json("job-definition.json", {
        "jobDefinitionName": "demo-infile", "type": "container", "parameters": {"in-file": "default.yaml"},
        "containerProperties": {"image": "x:1", "command": ["python", "run.py", "--in", "Ref::in-file"],
                                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                         {"type": "MEMORY", "value": "128"}]},
    })
    r = run_project.deploy("-u")
    assert r.returncode == 0, r.stderr
    assert "registered: demo-infile:1 (new)" in r.stdout and "in-file" not in r.stderr  # no unused-parameter warning
    r = run_project.deploy("-r", "x", "in-file=a", "--no-credentials", "-q")
    assert r.returncode == 0, r.stderr
    job = aws.client("batch").describe_jobs(jobs=[r.stdout.strip()])["jobs"][0]
    assert job["jobDefinition"].endswith("demo-infile:1")
    assert job["parameters"] == {"in-file": "a"}
    r = run_project.deploy("-r", "x", "in=a", "--no-credentials")
    assert r.returncode == 2 and "unknown parameter in for demo-infile:1; valid parameters: in-file" in r.stderr


def test_a_job_with_no_timeout_gets_36_hours_of_credentials_and_is_told_when_they_end(moto, aws, project):
    """Issue #20 item 2: triage asked STS for 36 h; with no timeout to go by, batchdeploy asked for STS's
    12 h default and one informational line, so a longer experiment lost AWS access midway."""
    untimed = {k: v for k, v in run_support.JOB_DEFINITION.items() if k != "timeout"}
    run_support.setup_project(project, run_support.make_batch(aws, definition=untimed))
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 0, r.stderr
    assert "credentials: STS GetSessionToken for 36h (the job has no timeout; the longest STS allows)" in r.stderr
    warned = [line for line in r.stderr.splitlines() if "the job has no timeout: its credentials expire at 20" in line]
    assert len(warned) == 1 and "(36h, the longest STS gives)" in warned[0], r.stderr


def test_triages_layout_is_found_and_said_and_a_named_file_must_exist(moto, aws, project):
    """Issue #20 item 3: with triage's infrastructure/aws_batch/triage-overrides.json and its
    credentials.filter, -r said "no env-overrides.json", submitted without POSTGRES_* and used its own
    filter. Now the files are found, one line names them, and keys can name any other place."""
    run_support.setup_project(project, run_support.make_batch(aws))
    (project.path / "env-overrides.json").rename(project.path / "triage-overrides.json")
    (project.path / "credentials-filter").unlink()
    triage = project.path / "infrastructure" / "aws_batch"
    triage.mkdir(parents=True)
    (project.path / "triage-overrides.json").rename(triage / "triage-overrides.json")
    # triage's filter, with one more entry, so the test sees that this file (not the built-in copy) ran
    (triage / "credentials.filter").write_text(
        '{"environment": [{"name": "AWS_ACCESS_KEY_ID", "value": .Credentials.AccessKeyId},'
        ' {"name": "AWS_SECRET_ACCESS_KEY", "value": .Credentials.SecretAccessKey},'
        ' {"name": "AWS_SESSION_TOKEN", "value": .Credentials.SessionToken},'
        ' {"name": "FILTER_USED", "value": "triage"}]}')
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 0, r.stderr
    assert ("project files: overrides infrastructure/aws_batch/triage-overrides.json, credentials filter "
            "infrastructure/aws_batch/credentials.filter (triage's layout)") in r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    env = job_env(aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0])
    assert env["POSTGRES_HOST"] == "db.internal" and env["FILTER_USED"] == "triage"

    with open(project.path / ".aws_env", "a") as f:
        f.write("OVERRIDES_FILE=conf/overrides.json\n")
    r = project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "OVERRIDES_FILE=conf/overrides.json names no file" in r.stderr
    (project.path / "conf").mkdir()
    (project.path / "conf" / "overrides.json").write_text('{"environment": [{"name": "FROM", "value": "conf"}]}')
    r = project.deploy("-r", "exp1", *PARAMS, "--no-credentials")
    assert r.returncode == 0, r.stderr
    assert "project files: overrides conf/overrides.json\n" in r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    assert job_env(aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0])["FROM"] == "conf"


TRIAGE_DEFINITION = {  # the triage chapter's job definition, as it is (six Ref::, no parameters defaults)
    "jobDefinitionName": "triage-cli-experiment", "type": "container", "retryStrategy": {"attempts": 1},
    "containerProperties": {
        "command": ["--tb", "Ref::experiment_file", "--project-path", "Ref::output_path", "Ref::replace",
                    "Ref::save_predictions", "Ref::profile", "Ref::validate"],
        "image": "registry.example/triage:1", "memory": 16000, "vcpus": 1},
}


def test_triages_own_line_runs_with_triages_own_definition_and_a_short_one_says_why_not(moto, aws, project):
    """Issue #20 item 1: the README's "triage's form" must be one that works; leaving a Ref:: unfilled is
    refused, and the message says what AWS would do and how to give defaults."""
    run_support.setup_project(project, run_support.make_batch(aws, definition=TRIAGE_DEFINITION))
    line = ("experiment_file=s3://b/experiments/simple_test_skeleton.yaml,output_path=s3://b/triage,"
            "replace=--no-replace,save_predictions=--no-save-predictions,profile=--profile,validate=--validate")
    r = project.deploy("-r", "exp1", line)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.split(": ", 1)[1].split()[0]
    job = aws_cli(moto, "batch", "describe-jobs", "--jobs", job_id)["jobs"][0]
    assert job["parameters"]["save_predictions"] == "--no-save-predictions" and len(job["parameters"]) == 6
    r = project.deploy("-r", "exp1", "experiment_file=s3://b/e.yaml,output_path=s3://b/triage")
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert ("needs a value for replace, save_predictions, profile, validate: its command has Ref::replace, "
            "Ref::save_predictions, Ref::profile, Ref::validate and no default, and AWS would leave an unfilled "
            "Ref:: in the command as literal text") in r.stderr
    assert 'give each a default in the job definition\'s "parameters" object and run -u' in r.stderr
