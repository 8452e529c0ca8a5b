"""issue #21's main path: from an empty folder on the local stack, `--init --local`, then `--create`,
`-b`, `-u`, `--sync-to-s3`, `-r --wait` and `--results` with no edit, to a SUCCEEDED job whose
result is the number its experiment implies; then PROJECT_NAME renamed, the same path again."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import pytest

from tests.integration.conftest import ROOT

pytestmark = [pytest.mark.engine, pytest.mark.e2e]


def deploy(stack, folder, *args, timeout=600):
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT)}
    env.pop("BATCHDEPLOY_ENV_FILE", None)
    done = subprocess.run(
        [str(ROOT / "deploy.sh"), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


def the_whole_path(stack, folder, bucket: str) -> dict:
    deploy(stack, folder, "--create", "--yes")
    deploy(stack, folder, "-b")
    deploy(stack, folder, "-u")
    deploy(stack, folder, "--sync-to-s3")
    run = deploy(
        stack, folder, "-r", "try", f"experiment_file=s3://{bucket}/experiments/pi.yaml",
        f"output_path=s3://{bucket}/results/try", "--wait",
    )
    assert "SUCCEEDED" in run.stdout + run.stderr
    deploy(stack, folder, "--results")
    return json.loads((folder / "results" / "try" / "metrics.json").read_text())


def expected_estimate(folder) -> float:
    spec = importlib.util.spec_from_file_location("init_run", folder / "experiment" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.estimate(20000, 7)


def test_init_local_runs_the_whole_path_with_no_edit_and_after_a_rename(local_stack, tmp_path):
    folder = tmp_path / "My New_Project"
    folder.mkdir()
    made = deploy(local_stack, folder, "--init", "--local")
    assert "project my-new-project for the local stack" in made.stdout
    metrics = the_whole_path(local_stack, folder, "my-new-project-dev-bucket")
    assert metrics == {"name": "pi", "samples": 20000, "seed": 7, "estimate": expected_estimate(folder)}

    env_file = folder / ".aws_env"
    env_file.write_text(env_file.read_text().replace("PROJECT_NAME=my-new-project", "PROJECT_NAME=renamed"))
    (folder / "results" / "try" / "metrics.json").unlink()
    metrics = the_whole_path(local_stack, folder, "renamed-dev-bucket")
    assert metrics["estimate"] == expected_estimate(folder)

    for name in ("renamed", "my-new-project"):
        env_file.write_text(env_file.read_text().replace("PROJECT_NAME=renamed", f"PROJECT_NAME={name}"))
        deploy(local_stack, folder, "--delete", "--yes", "--delete-bucket-contents")
