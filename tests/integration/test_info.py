"""`-i` and the error edge, through the real command line against a moto server."""

import json


def test_info_prints_identity_region_endpoint_and_versions(moto, project):
    project.env_file(PROJECT_NAME="demo", S3_BUCKET="demo-bucket")
    r = project.deploy("-i")
    assert r.returncode == 0, r.stderr
    assert "identity:  arn:aws:sts::123456789012:user/moto" in r.stdout
    assert "region:    us-east-1" in r.stdout
    assert f"endpoint:  {moto.url}" in r.stdout
    assert "PROJECT_NAME" in r.stdout and "demo" in r.stdout
    assert "botocore" in r.stdout and "s3transfer" in r.stdout and "awscli" in r.stdout
    assert r.stderr == ""


def test_info_json_is_one_object_with_secrets_masked(moto, project):
    canary = "CANARY-secret-7f3a9b2c"
    project.env_file(PROJECT_NAME="demo", POSTGRES_PASSWORD=canary)
    r = project.run("info", "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["identity"]["account"] == "123456789012"
    assert data["configuration"]["POSTGRES_PASSWORD"]["value"] == "****"
    assert data["configuration"]["PROJECT_NAME"]["from"].endswith(".aws_env")
    assert canary not in r.stdout + r.stderr


def test_info_masks_a_password_inside_a_url_in_text_and_json(moto, project):
    """Issue #20 item 4: masking looked only at key names; triage's POSTGRES_DB is a URL with a password."""
    canary = "pgS3cret-canary-91ab"
    project.env_file(PROJECT_NAME="demo", POSTGRES_DB=f"postgresql://user:{canary}@db.example/dirtyduck")
    for args in (("-i",), ("--info",)):
        r = project.deploy(*args)
        assert r.returncode == 0, r.stderr
        assert "postgresql://user:****@db.example/dirtyduck" in r.stdout
        assert canary not in r.stdout + r.stderr
    r = project.run("info", "--output", "json")
    assert json.loads(r.stdout)["configuration"]["POSTGRES_DB"]["value"] == "postgresql://user:****@db.example/dirtyduck"
    assert canary not in r.stdout + r.stderr


def test_flags_override_environment(moto, project):
    r = project.run("info", "--output", "json", "--region", "eu-west-1")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["region"] == "eu-west-1"
    assert data["configuration"]["AWS_REGION"]["from"] == "flag"


def test_unreachable_endpoint_is_one_line_and_exit_1(moto, project):
    r = project.run("info", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"})
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "cannot get the caller identity" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_region_is_a_configuration_error(moto, project):
    r = project.run("info", env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""})
    assert r.returncode == 2
    assert r.stderr.strip() == "batchdeploy: error: no AWS region; set AWS_REGION in .aws_env or the environment"


def test_bad_env_file_line_is_exit_2(moto, project):
    project.write(".aws_env", "PROJECT_NAME=x\nnot a setting\n")
    r = project.deploy("-i")
    assert r.returncode == 2 and "line 2" in r.stderr and r.stdout == ""


def test_the_aws_cli_sees_the_same_server(moto, aws):
    from tests.conftest import aws_cli

    assert aws_cli(moto, "sts", "get-caller-identity")["Account"] == "123456789012"
    assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_no_credentials_at_all_is_a_configuration_error(moto, project, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # botocore would otherwise ask the EC2 instance metadata service: only loopback traffic here.
    r = project.run("info", env={"AWS_EC2_METADATA_DISABLED": "true"})
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "batchdeploy: error: cannot get the caller identity (sts:GetCallerIdentity): no AWS credentials found; "
        "configure a profile (aws configure / aws sso login) or set AWS_PROFILE"
    )


def test_output_to_a_closed_pipe_is_not_a_traceback(moto, project):
    import subprocess
    import sys

    from tests.conftest import ROOT

    cmd = f"{sys.executable} -m batchdeploy info | head -c 10"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=project.path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert "Traceback" not in done.stderr


def test_info_shows_the_file_not_the_shell_and_expands_the_files_own_keys(moto, project):
    """Issue #20 items 6, 7, 10: ENV=/root/.shrc exported by POSIX sh stays out; triage's
    `S3_BUCKET=${PROJECT_NAME}-bucket` and TRIAGE_VERSION read as triage's `source .aws_env` did."""
    project.write(".aws_env", "PROJECT_NAME=dirtyduck\nTRIAGE_VERSION=3.3.0\nS3_BUCKET=${PROJECT_NAME}-bucket\n")
    r = project.run("info", "--output", "json", env={"ENV": "/root/.shrc", "S3_BUCKET": "from-the-shell"})
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)["configuration"]
    assert shown["ENV"]["value"] == "development" and shown["S3_BUCKET"]["value"] == "dirtyduck-bucket"
    assert shown["VERSION"]["value"] == "3.3.0" and shown["VERSION"]["from"].endswith("(TRIAGE_VERSION)")
    r = project.run("info", "--output", "json", env={"BATCHDEPLOY_ENV": "production"})
    assert json.loads(r.stdout)["configuration"]["ENV"] == {"value": "production", "from": "environment"}
    project.write(".aws_env", "S3_BUCKET=${PROJECT}-bucket\n")
    r = project.deploy("-i")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "line 1: ${PROJECT} names no key set on an earlier line" in r.stderr
