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
