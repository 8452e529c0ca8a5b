"""issue #21's main path: from an empty folder on the local stack, `--init --local`, then `--create`,
`-b`, `-u`, `--sync-to-s3`, `-r --wait` and `--results` with no edit, to a SUCCEEDED job whose
result is the number its experiment implies; then PROJECT_NAME renamed, the same path again."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess

import pytest

from tests.integration.conftest import ROOT, script_env

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


def printed_steps(made) -> list[str]:
    lines = made.stdout.splitlines()
    return [line.strip() for line in lines[lines.index("next:") + 1:]]


def test_init_local_runs_the_whole_path_with_no_edit_and_after_a_rename(local_stack, tmp_path):
    """The first pass runs the commands init printed, as a person pastes them into bash from another
    folder: the stack's `up` (it is up: nothing started) and `env`, cd, then the verbs; nothing else set."""
    folder = tmp_path / "My New_Project"
    folder.mkdir()
    made = deploy(local_stack, folder, "--init", "--local")
    assert "project my-new-project for the local stack" in made.stdout
    steps = printed_steps(made)
    door, bucket = shlex.quote(str(ROOT / "deploy.sh")), "my-new-project-dev-bucket"
    assert steps[1:] == [f"cd {shlex.quote(str(folder))}",
                         f"{door} --create --yes && {door} -b && {door} -u && {door} --sync-to-s3",
                         f"{door} -r try experiment_file=s3://{bucket}/experiments/pi.yaml "
                         f"output_path=s3://{bucket}/results/try --wait"], steps
    pasted = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(steps)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900, env=script_env(local_stack.state))
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert "SUCCEEDED" in pasted.stdout + pasted.stderr
    deploy(local_stack, folder, "--results")
    metrics = json.loads((folder / "results" / "try" / "metrics.json").read_text())
    assert metrics == {"name": "pi", "samples": 20000, "seed": 7, "estimate": expected_estimate(folder)}

    env_file = folder / ".aws_env"
    env_file.write_text(env_file.read_text().replace("PROJECT_NAME=my-new-project", "PROJECT_NAME=renamed"))
    (folder / "results" / "try" / "metrics.json").unlink()
    metrics = the_whole_path(local_stack, folder, "renamed-dev-bucket")
    assert metrics["estimate"] == expected_estimate(folder)

    for name in ("renamed", "my-new-project"):
        env_file.write_text(env_file.read_text().replace("PROJECT_NAME=renamed", f"PROJECT_NAME={name}"))
        deploy(local_stack, folder, "--delete", "--yes", "--delete-bucket-contents")
