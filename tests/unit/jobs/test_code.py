"""-r --code's pure parts: which image has the launcher, the task's command, the launcher line."""

import json
from types import SimpleNamespace

import pytest

from batchdeploy import bundle as bundles
from batchdeploy.errors import UsageError
from batchdeploy.images import launcher as image_launcher
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req

IMAGES = {"quickstart": {"repository": "reg/quickstart", "tag": "c-abc", "digest": "sha256:d1", "version": "0.1",
                         "launcher": True},
          "plain": {"repository": "reg/plain", "tag": "c-def", "digest": "sha256:d2", "launcher": False}}


def jd(image="reg/quickstart:c-abc", command=("python3", "run.py", "--in", "Ref::in"), env=()):
    return {"jobDefinitionName": "q", "revision": 2, "jobDefinitionArn": "arn:aws:batch:r:1:job-definition/q:2",
            "type": "container", "parameters": {"in": "s3://b/default"},
            "containerProperties": {"image": image, "command": list(command), "environment": list(env)}}


def test_the_image_is_found_by_tag_version_or_digest():
    for ref in ("reg/quickstart:c-abc", "reg/quickstart:0.1", "reg/quickstart@sha256:d1"):
        assert codes.image_entry(IMAGES, ref)[0] == "quickstart"
    assert codes.image_entry(IMAGES, "reg/quickstart:other") is None


def test_the_launcher_is_known_from_images_json_or_declared_by_the_definition():
    assert codes.launcher_path(jd(), IMAGES) == "batchdeploy-launch"
    declared = jd(image="elsewhere/x:1", env=[{"name": "BATCHDEPLOY_LAUNCHER", "value": "/opt/bl"}])
    assert codes.launcher_path(declared, {}) == "/opt/bl"
    with pytest.raises(UsageError, match="without the launcher line") as built_without:
        codes.launcher_path(jd(image="reg/plain:c-def"), IMAGES)
    assert "COPY batchdeploy-launch /usr/local/bin/" in built_without.value.hint
    with pytest.raises(UsageError, match="did not build it here"):
        codes.launcher_path(jd(image="elsewhere/x:1"), IMAGES)


def test_the_task_runs_what_the_job_would_have_run():
    spec = req.RunSpec(name="n", queue="q", job_definition=jd(), extra_args=["--fast"])
    assert codes.task_command(spec) == ["python3", "run.py", "--in", "Ref::in", "--fast"]
    spec.overrides = {"command": ["sh", "-c", "x"]}
    assert codes.task_command(spec) == ["sh", "-c", "x", "--fast"]
    with pytest.raises(UsageError, match="has no command"):
        codes.task_command(req.RunSpec(name="n", queue="q", job_definition=jd(command=())))


def plan(tmp_path):
    (tmp_path / "run.py").write_text("print(1)\n")
    return codes.CodePlan(tmp_path, bundles.pack(tmp_path), "bkt", "runs")


def ctx(images=IMAGES):
    return SimpleNamespace(state=SimpleNamespace(read=lambda name: {"images": images}),
                           out=SimpleNamespace(warn=print))


def test_apply_swaps_the_command_for_the_launcher_line_and_keeps_the_rest(tmp_path):
    code = plan(tmp_path)
    env = [{"name": "AWS_SECRET_ACCESS_KEY", "value": "canary-secret-value"}]
    spec = req.RunSpec(name="n", queue="q", job_definition=jd(), parameters={"in": "s3://b/x"},
                       overrides={"environment": env}, extra_args=["--fast"], client_token="t")
    request = codes.apply(ctx(), code, spec, "20261130T000000Z-abcdef")
    line = request["containerOverrides"]["command"]
    assert line == ["batchdeploy-launch", "--manifest", code.manifest_url, "--records",
                    "s3://bkt/runs/20261130T000000Z-abcdef/"]
    assert code.manifest_url == f"s3://bkt/runs/manifests/{code.manifest.sha256}.json"
    assert request["containerOverrides"]["environment"] == env and request["parameters"] == {"in": "s3://b/x"}
    task = code.manifest.doc["tasks"][0]
    assert task["command"] == ["python3", "run.py", "--in", "Ref::in", "--fast"]
    assert task["parameters"] == {"in": "s3://b/x"}
    assert code.manifest.doc["bundle"]["sha256"] == code.bundle.sha256
    assert "canary-secret-value" not in code.manifest.data.decode()
    assert spec.extra_args == ["--fast"]  # the caller's spec is left as it was


def test_an_array_job_gets_one_task_per_child(tmp_path):
    code = plan(tmp_path)
    spec = req.RunSpec(name="n", queue="q", job_definition=jd(), array_size=3, client_token="t")
    codes.apply(ctx(), code, spec, "R")
    assert len(code.manifest.doc["tasks"]) == 3


def test_overrides_over_8_kib_are_refused(tmp_path):
    big = [{"name": f"V{i}", "value": "x" * 100} for i in range(90)]
    spec = req.RunSpec(name="n", queue="q", job_definition=jd(), overrides={"environment": big}, client_token="t")
    with pytest.raises(UsageError, match="above AWS's 8,192"):
        codes.apply(ctx(), plan(tmp_path), spec, "R")


def test_the_dry_run_lines_name_what_would_be_uploaded(tmp_path):
    code = plan(tmp_path)
    codes.apply(ctx(), code, req.RunSpec(name="n", queue="q", job_definition=jd(), client_token="t"), "R")
    lines = codes.describe(code)
    assert lines[0].startswith("code bundle: 1 files") and code.bundle.sha256 in lines[0]
    assert json.dumps(code.summary())


@pytest.mark.parametrize("text,wanted", [
    ("FROM x\nCOPY batchdeploy-launch /usr/local/bin/\n", True),
    ("FROM x\nadd  batchdeploy-launch /opt/bin/batchdeploy-launch\n", True),
    ("FROM x\n# COPY batchdeploy-launch /usr/local/bin/\n", False),
    ("FROM x\nCOPY experiment/ /opt/\n", False),
])
def test_b_sees_the_dockerfile_line(tmp_path, text, wanted):
    (tmp_path / "Dockerfile").write_text(text)
    assert image_launcher.wanted(tmp_path / "Dockerfile") is wanted
    assert image_launcher.provide(tmp_path, tmp_path / "Dockerfile") is wanted
    assert (tmp_path / "batchdeploy-launch").is_file() is wanted


def test_b_rewrites_the_launcher_only_when_it_changed(tmp_path):
    (tmp_path / "Dockerfile").write_text("COPY batchdeploy-launch /usr/local/bin/\n")
    image_launcher.provide(tmp_path, tmp_path / "Dockerfile")
    first = (tmp_path / "batchdeploy-launch").stat().st_mtime_ns
    image_launcher.provide(tmp_path, tmp_path / "Dockerfile")
    assert (tmp_path / "batchdeploy-launch").stat().st_mtime_ns == first


def test_an_absolute_path_to_a_bundled_file_is_flagged(tmp_path):
    code = plan(tmp_path)
    assert codes.shadowed(["python3", "/opt/x/run.py", "--out", "/tmp/o"], code.bundle.data) == ["/opt/x/run.py"]
    assert codes.shadowed(["python3", "run.py"], code.bundle.data) == []
