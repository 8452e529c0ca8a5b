"""init's files (pure) and -u's image check (pure)."""

from __future__ import annotations

import json

import pytest

from batchdeploy import config
from batchdeploy.init.files import clean_name, name_problem, project_files
from batchdeploy.jobdef.images import built_names, image_problems


@pytest.mark.parametrize(
    "folder, name",
    [("My Proj_1", "my-proj-1"), ("quickstart", "quickstart"), ("123abc", "abc"), ("--x--", "x"), ("日本", ""),
     ("a" * 60, "a" * 40)],
)
def test_clean_name(folder, name):
    assert clean_name(folder) == name


def test_name_problem():
    assert name_problem("ok-name") is None
    assert "lowercase" in name_problem("Bad")
    assert name_problem("") and name_problem("x-") and name_problem("a" * 41)


@pytest.mark.parametrize("local", [True, False])
def test_files_agree_every_name_comes_from_the_project_name(local):
    files = project_files("qzx", local)
    assert set(files) >= {".aws_env", "Dockerfile", ".dockerignore", ".gitignore", "job-definition.json",
                          "env-overrides.json", "credentials-filter", "compute-environment.json", "job-queue.json",
                          "experiments/pi.yaml", "experiment/run.py"}
    assert "COPY batchdeploy-launch /usr/local/bin/" in files["Dockerfile"]
    for name in ("job-definition.json", "compute-environment.json", "job-queue.json", "env-overrides.json"):
        json.loads(files[name])
    text = files[".aws_env"]
    # named once (and in the heading comment); every other name derives from it
    assert text.count("qzx") == 2 and "PROJECT_NAME=qzx\n" in text
    assert all("qzx" not in files[f] for f in files if f != ".aws_env")
    assert ("BASE_IMAGE=batchdeploy-base:bookworm" in text) is local
    assert ("AWS_ENDPOINT_URL" in text) is False
    ce = json.loads(files["compute-environment.json"])["computeResources"]
    assert ce["minvCpus"] == 0 and "subnets" not in ce and "securityGroupIds" not in ce


def test_the_env_file_resolves_to_names_create_makes(tmp_path):
    (tmp_path / ".aws_env").write_text(project_files("proj", True)[".aws_env"])
    cfg = config.load(env_file=str(tmp_path / ".aws_env"), environ={}, flags={})
    assert cfg["S3_BUCKET"] == "proj-dev-bucket" and cfg["AWS_JOB_QUEUE"] == "proj-dev-job-queue"
    assert cfg["IMAGES"] == "proj=."
    assert cfg["INSTANCE_ROLE_ARN"] == "arn:aws:iam::123456789012:instance-profile/proj-dev-ecs-instance"


def test_image_problems():
    reg = "localhost:5000"
    assert built_names("a=. b=sub", "p") == ["a", "b"] and built_names(None, "p") == ["p"]
    assert image_problems("jd.json", "busybox:1", reg, ["p"], {}) == []
    assert image_problems("jd.json", f"{reg}/p:c-1", reg, ["p"], {}) == []
    [line] = image_problems("jd.json", f"{reg}/myproj:c-1", reg, ["quickstart"], {})
    assert "'myproj', which -b does not build (IMAGES builds quickstart)" in line and "add myproj=FOLDER" in line
    [line] = image_problems("jd.json", f"{reg}/b@sha256:00", reg, ["a", "b"], {"a": {"tag": "c-1"}})
    assert "'b', which no -b pushed" in line and "run ./deploy.sh -b first" in line


def test_the_next_steps_are_commands_to_paste_quoted_and_named_as_the_user_ran_batchdeploy(tmp_path):
    import shlex
    import sys
    from pathlib import Path

    from batchdeploy.init.verb import next_steps

    folder = tmp_path / "my proj"
    clone = Path(__file__).resolve().parents[2]
    door = shlex.quote(str(clone / "deploy.sh"))
    through_sh = next_steps(folder, "b-dev-bucket", True, {"BATCHDEPLOY_FRONT_DOOR": "deploy.sh"})
    stack = shlex.quote(str(clone / "scripts" / "local-stack.sh"))
    assert through_sh == [f"{stack} up && source <({stack} env)", f"cd '{folder}'",
                          f"{door} --create --yes && {door} -b && {door} -u && {door} --sync-to-s3",
                          f"{door} -r try experiment_file=s3://b-dev-bucket/experiments/pi.yaml "
                          "output_path=s3://b-dev-bucket/results/try --wait"]
    # through `batchdeploy`: ./deploy.sh FLAG is printed as `batchdeploy VERB` (ui.as_run); for AWS, no stack
    direct = next_steps(folder, "b-dev-bucket", False, {})
    assert direct[0] == "set ACCOUNT_ID in .aws_env, and AWS credentials as the AWS CLI finds them"
    assert direct[2] == "./deploy.sh --create --yes && ./deploy.sh -b && ./deploy.sh -u && ./deploy.sh --sync-to-s3"
    assert next_steps(folder, "b", True, {})[0].startswith(f"{shlex.quote(sys.executable)} -m batchdeploy.local up")
