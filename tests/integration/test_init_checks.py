"""`init`'s refusals and -u's image check, through the real command line (-u against moto)."""

from __future__ import annotations

import json

from tests.conftest import ROOT


def error_line(r):
    errors = [x for x in r.stderr.splitlines() if x.startswith(("batchdeploy: error: ", "deploy.sh: error: "))]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    return errors[0]


def test_init_writes_into_a_new_folder_and_refuses_to_overwrite(project):
    r = project.deploy("--init", "sub dir", "--name", "exp")
    assert r.returncode == 0, r.stderr
    made = project.path / "sub dir"
    assert (made / ".aws_env").read_text().count("PROJECT_NAME=exp\n") == 1
    assert (made / ".aws_env").stat().st_mode & 0o777 == 0o600
    (made / "Dockerfile").write_text("mine\n")
    again = project.run("init", "sub dir")
    assert again.returncode == 2
    line = error_line(again)
    assert ".aws_env, Dockerfile," in line and "--force overwrites them" in line
    assert (made / "Dockerfile").read_text() == "mine\n"
    forced = project.run("init", "sub dir", "--force", "--name", "exp", "--output", "json")
    assert forced.returncode == 0 and "batchdeploy-launch" in (made / "Dockerfile").read_text()
    data = json.loads(forced.stdout)
    assert data["project"] == "exp" and data["local"] is False and "experiment/run.py" in data["files"]


def test_init_refuses_a_bad_name_and_a_file_as_folder(project):
    r = project.run("init", "x", "--name", "Bad_Name")
    assert r.returncode == 2 and "--name 'Bad_Name'" in error_line(r)
    assert not (project.path / "x").exists()
    project.write("afile", "")
    r = project.run("init", "afile")
    assert r.returncode == 2 and "is not a folder" in error_line(r)
    (project.path / "123").mkdir()
    r = project.run("init", "123")
    assert r.returncode == 2 and "gives no project name; choose one with --name NAME" in error_line(r)


def test_update_jobs_refuses_an_image_images_does_not_build(moto, project):
    """issue #21: PROJECT_NAME renamed, IMAGES still names the old image: caught before -u's first call."""
    project.write(".aws_env", "PROJECT_NAME=myproj\nAWS_REGION=us-east-1\nIMAGES=quickstart=.\n"
                  "AWS_REGISTRY=localhost:5000\nJOB_ROLE_ARN=arn:aws:iam::123456789012:role/x\n"
                  "S3_BUCKET=my-bucket\nS3_PREFIX=experiments\n")
    project.write("job-definition.json", (ROOT / "job-definition.json.example").read_text())
    before = len(moto.requests())
    r = project.deploy("-u")
    assert r.returncode == 2, r.stderr
    assert "'myproj', which -b does not build (IMAGES builds quickstart)" in r.stderr
    assert len(moto.requests()) == before  # no call made

    # IMAGES builds it, but -b pushed only another image
    project.write(".aws_env", (project.path / ".aws_env").read_text().replace("IMAGES=quickstart=.", "IMAGES=myproj=. other=o"))
    project.write_json(".batchdeploy/images.json", {"images": {"other": {"tag": "c-1"}}})
    r = project.deploy("-u")
    assert r.returncode == 2 and "'myproj', which no -b pushed" in r.stderr and "run ./deploy.sh -b first" in r.stderr
