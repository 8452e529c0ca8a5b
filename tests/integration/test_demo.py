"""`make demo`'s path end to end on the local stack: scripts/demo.sh runs --create, -b, -u, --sync-to-s3,
-r --wait and --sync-from-s3 on a copy of examples/quickstart, and the results that come back are the
numbers the experiment's parameters imply. The job's log lines are read back from CloudWatch Logs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.integration.conftest import ROOT, script_env
from tests.integration.test_local_stack import QUICKSTART, _close, load_run

pytestmark = [pytest.mark.engine, pytest.mark.e2e]
LAST_LINE = re.compile(r"^demo: job demo-linear \((?P<id>[0-9a-f-]{36})\) (?P<status>[A-Z]+); results in (?P<path>.+)$")


def run_demo(stack, example, timeout=600):
    env = script_env(stack.state, BATCHDEPLOY_EXAMPLE=str(example))
    return subprocess.run(
        [str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo(local_stack, tmp_path_factory):
    example = tmp_path_factory.mktemp("demo") / "quick start"
    shutil.copytree(QUICKSTART, example, ignore=shutil.ignore_patterns(".batchdeploy", "results", "__pycache__"))
    first = run_demo(local_stack, example)
    return example, first


def test_demo_runs_the_job_and_brings_back_its_results(local_stack, demo):
    example, done = demo
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    m = LAST_LINE.match(last)
    assert m, last
    assert m["status"] == "SUCCEEDED"
    results = example / "results" / "demo" / "linear"
    assert m["path"] == str(results)

    run = load_run()
    text = (example / "experiments" / "linear.yaml").read_text()
    expected = run.run_experiment(run.parse_experiment(yaml.safe_load(text)))
    _close(json.loads((results / "metrics.json").read_text()), expected["metrics"])
    assert (results / "report.md").read_text().startswith("# linear")
    assert (results / "loss.svg").read_text().lstrip().startswith("<svg")

    # The log lines the job wrote, read back from CloudWatch Logs through --logs.
    env = {**os.environ, **local_stack.env, "PYTHONPATH": str(ROOT)}
    env.pop("BATCHDEPLOY_ENV_FILE", None)
    logs = subprocess.run(
        [str(ROOT / "deploy.sh"), "--logs", m["id"]], cwd=example, env=env, capture_output=True, text=True, timeout=120
    )
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert "linear: linear model, 300 samples, 3 features, seed 7" in lines
    assert f"epoch 150/150 loss {expected['loss_history'][-1]:.6f}" in lines
    # ... and --wait streamed the same lines while it followed the job
    assert f"epoch 150/150 loss {expected['loss_history'][-1]:.6f}" in done.stdout + done.stderr


def test_the_job_reached_s3_with_the_credentials_run_injected(demo):
    _, done = demo
    assert "credentials: STS GetSessionToken" in done.stderr


def test_a_second_demo_reuses_everything_and_submits_one_new_job(local_stack, demo):
    example, first = demo
    again = run_demo(local_stack, example)
    assert again.returncode == 0, again.stdout + again.stderr
    out = again.stdout + again.stderr
    assert "up to date:" in out  # -b: no build, no push
    assert "unchanged: quickstart-local-experiment:" in out  # -u: no registration
    assert "uploaded 0 (0 B)" in out  # --sync-to-s3: nothing new
    assert "exists and matches" in out and "  create " not in out  # --create: nothing new
    first_id = LAST_LINE.match(first.stdout.strip().splitlines()[-1])["id"]
    second = LAST_LINE.match(again.stdout.strip().splitlines()[-1])
    assert second["status"] == "SUCCEEDED" and second["id"] != first_id
