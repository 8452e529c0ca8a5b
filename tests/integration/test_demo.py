"""`make demo`'s path end to end on the local stack: scripts/demo.sh runs --create, -b, -u, --sync-to-s3,
-r --wait, a sweep of 4 tasks with --status RUN_ID, and --results on a copy of examples/quickstart, and the results that come back are the
numbers the experiment's parameters imply. The job's log lines are read back from CloudWatch Logs."""

from __future__ import annotations

import gzip
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
    last = done.stdout.strip().splitlines()[-2]  # the last: the report's path
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


SWEEP_LINE = re.compile(r"^demo: sweep demo-sweep \((?P<run_id>[0-9TZ]+-[0-9a-f]+)\) exit (?P<code>\d+);")


def test_demo_runs_a_sweep_of_four_tasks_and_prints_its_table(local_stack, demo):
    from batchdeploy import runs

    example, done = demo
    lines = done.stdout.strip().splitlines()
    m = SWEEP_LINE.match(lines[-3])
    assert m and m["code"] == "0", done.stdout + done.stderr
    run_id = m["run_id"]
    # --status RUN_ID's table: one row per task, with the grid's columns
    head = next(i for i, line in enumerate(lines) if line.startswith(f"run {run_id} (demo-sweep): 4 tasks: 4 SUCCEEDED"))
    assert lines[head + 1].split()[:4] == ["TASK", "SEED", "LEARNING_RATE", "STATE"]
    rows = [line.split() for line in lines[head + 2:head + 6]]
    assert [(r[0], r[3]) for r in rows] == [(str(i), "SUCCEEDED") for i in range(1, 5)]
    assert sorted((r[1], r[2]) for r in rows) == [("1", "0.02"), ("1", "0.05"), ("2", "0.02"), ("2", "0.05")]
    # the launcher's task records in S3: one per task, each exit 0, each under its own output
    run = runs.read_run(s3_client(local_stack), "quickstart-local-bucket", "runs", run_id)
    assert run["state"] == "submitted" and run["sweep"]["tasks"] == 4 and len(run["job_ids"]) == 1
    assert sorted(run["tasks"]) == [1, 2, 3, 4]
    assert [records[-1]["exit_code"] for _, records in sorted(run["tasks"].items())] == [0, 0, 0, 0]
    for task in range(1, 5):  # --results brought each task's results home
        assert (example / "results" / run_id / str(task) / "metrics.json").is_file()


def test_demo_ends_with_the_report_of_its_sweep(demo):
    example, done = demo
    lines = done.stdout.strip().splitlines()
    report = example / ".batchdeploy" / "reports" / "demo-sweep.html"
    assert lines[-1] == f"demo: report of the sweep: {report}", lines[-3:]
    html = report.read_text()
    run_id = SWEEP_LINE.match(lines[-3])["run_id"]
    assert f"batchdeploy report: {run_id}" in html and html.count("SUCCEEDED</td>") == 4
    # the quickstart's metrics.json by the grid's two parameters, and the timeline
    assert "final_loss by learning_rate" in html and "final_loss by seed" in html and 'data-plot="timeline"' in html


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
    first_id = LAST_LINE.match(first.stdout.strip().splitlines()[-2])["id"]
    second = LAST_LINE.match(again.stdout.strip().splitlines()[-2])
    assert second["status"] == "SUCCEEDED" and second["id"] != first_id


# ---- -r --code on the demo's project (after the second demo: these edit the experiment code) -------

CANARY = "canary-Zq8v3-never-anywhere-7f1c"


def deploy(local_stack, example, *args, timeout=300, **env_extra):
    env = {**os.environ, **local_stack.env, "PYTHONPATH": str(ROOT), **env_extra}
    env.pop("BATCHDEPLOY_ENV_FILE", None)
    return subprocess.run([str(ROOT / "deploy.sh"), *args], cwd=example, env=env, capture_output=True, text=True,
                          timeout=timeout)


def s3_client(local_stack):
    from batchdeploy.aws import Aws, AwsSettings

    return Aws(AwsSettings(region="us-east-1", endpoint_url=local_stack.endpoint, access_key_id="testing",
                           secret_access_key="testing")).client("s3")


def bucket_keys(local_stack, bucket="quickstart-local-bucket", prefix="runs/") -> set:
    pages = s3_client(local_stack).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for p in pages for o in p.get("Contents") or []}


def read_text(s3, key: str) -> str:
    body = s3.get_object(Bucket="quickstart-local-bucket", Key=key)["Body"].read()
    return (gzip.decompress(body) if key.endswith(".gz") else body).decode("utf-8", "replace")


def params(example):
    return ["experiment_file=s3://quickstart-local-bucket/experiments/linear.yaml",
            "output_path=s3://quickstart-local-bucket/results/code-test"]


def test_an_edited_bundle_changes_the_result_without_b_and_the_run_record_says_so(local_stack, demo):
    from batchdeploy import runs

    example, _ = demo
    run_py = example / "experiment" / "run.py"
    text = run_py.read_text().replace("\nimport argparse\n", '\nimport argparse\nprint("edited without -b", flush=True)\n', 1)
    assert "edited without -b" in text
    run_py.write_text(text)  # one line of the experiment code, as a user edits it
    overrides = example / "env-overrides.json"
    data = json.loads(overrides.read_text())
    data["environment"].append({"name": "DB_PASSWORD", "value": CANARY})
    overrides.write_text(json.dumps(data))
    before = bucket_keys(local_stack)

    done = deploy(local_stack, example, "-r", "code-edit", *params(example), "--code", "--wait", "--output", "json")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "edited without -b" in out  # the job ran the bundle's code, streamed by --wait
    # the exit code and reason are DescribeJobs' own, as on AWS (no task record read for them)
    assert "SUCCEEDED; Essential container in task exited; exit code 0" in done.stderr
    assert "task record" not in done.stderr
    last = json.loads(done.stdout)  # --output json: the one document on stdout
    assert last["status"] == "SUCCEEDED"
    new = bucket_keys(local_stack) - before
    assert any(k.startswith("runs/code/") for k in new) and any(k.startswith("runs/manifests/") for k in new)

    s3 = s3_client(local_stack)
    (run_id,) = {k.split("/")[1] for k in new if runs.RUN_ID.fullmatch(k.split("/")[1])}
    run = runs.read_run(s3, "quickstart-local-bucket", "runs", run_id)
    assert run["state"] == "submitted" and len(run["job_ids"]) == 1
    assert last["job_id"] == run["job_ids"][0]
    assert run["who"]["arn"].startswith("arn:aws:") and run["name"] == "code-edit"
    images = json.loads((example / ".batchdeploy" / "images.json").read_text())["images"]["quickstart"]
    assert run["image"]["digest"] == images["digest"] and run["image"]["launcher"] is True
    assert run["job_definition"]["name"] == "quickstart-local-experiment" and run["job_definition"]["revision"] >= 1
    assert len(run["job_definition"]["sha256"]) == 64 and run["git"] is None  # a copy outside any git tree
    assert run["parameters"]["output_path"].endswith("/results/code-test")
    bundle_key = next(k for k in new if k.startswith("runs/code/"))
    assert run["bundle"]["sha256"] in bundle_key and run["bundle"]["files"] == 2  # run.py and pipeline.py
    assert run["manifest"]["url"].endswith(run["manifest"]["sha256"] + ".json")
    (record,) = run["tasks"][0]
    assert record["exit_code"] == 0 and record["bundle"]["sha256"] == run["bundle"]["sha256"]

    texts = [out, *(read_text(s3, k) for k in new)]
    texts += [p.read_text() for p in (example / ".batchdeploy").glob("*.json*")]
    assert not [t for t in texts if CANARY in t]
    info = deploy(local_stack, example, "-i")
    assert f"code bundle {run['bundle']['sha256']}" in info.stdout and "CODE_DIR=experiment" in info.stdout


def test_a_bundle_over_the_limit_is_refused_before_anything_is_sent(local_stack, demo):
    example, _ = demo
    before = bucket_keys(local_stack)
    done = deploy(local_stack, example, "-r", "too-big", *params(example), "--code", BATCHDEPLOY_CODE_SIZE_LIMIT="1KiB")
    assert done.returncode == 2, done.stdout + done.stderr
    first = done.stderr.strip().splitlines()[0]
    assert "over the 1.0 KiB limit" in first and "run.py" in first
    assert done.stdout == "" and bucket_keys(local_stack) == before


def test_code_with_an_image_without_the_launcher_is_refused(local_stack, demo):
    example, _ = demo
    images_json = example / ".batchdeploy" / "images.json"
    saved = images_json.read_text()
    data = json.loads(saved)
    data["images"]["quickstart"]["launcher"] = False  # as -b records an image whose Dockerfile lacks the line
    images_json.write_text(json.dumps(data))
    before = bucket_keys(local_stack)
    try:
        done = deploy(local_stack, example, "-r", "no-launcher", *params(example), "--code")
        plain = deploy(local_stack, example, "-r", "no-launcher-plain", *params(example), "--no-code", "--dry-run")
    finally:
        images_json.write_text(saved)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--code needs the launcher in the image" in done.stderr and "without the launcher line" in done.stderr
    assert bucket_keys(local_stack) == before
    assert plain.returncode == 0, plain.stderr  # plain -r keeps working with such an image


def test_a_plain_run_is_recorded_too(local_stack, demo):
    from batchdeploy import runs

    example, _ = demo
    before = bucket_keys(local_stack)
    done = deploy(local_stack, example, "-r", "plain-record", *params(example), "--no-code", "-q")
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    new = bucket_keys(local_stack) - before
    assert {k.rsplit("/", 1)[1] for k in new} == {"run.json", "submitted.json"}  # no bundle, no manifest
    run = runs.read_run(s3_client(local_stack), "quickstart-local-bucket", "runs", next(iter(new)).split("/")[1])
    assert run["job_ids"] == [job_id] and run["bundle"] is None and run["manifest"] is None
    assert run["state"] == "submitted" and run["tasks"] == {}


def test_a_code_dry_run_says_what_it_would_upload_and_uploads_nothing(local_stack, demo):
    example, _ = demo
    before = bucket_keys(local_stack)
    done = deploy(local_stack, example, "-r", "dry", *params(example), "--code", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would upload code bundle: 2 files" in done.stderr  # experiment/: run.py and the pipeline's pipeline.py and "dry run: nothing uploaded" in done.stderr
    command = json.loads(done.stdout)["containerOverrides"]["command"]
    assert command[:2] == ["batchdeploy-launch", "--manifest"] and command[3] == "--records"
    assert bucket_keys(local_stack) == before


def test_the_pipeline_example_runs_prepare_a_grid_of_fits_and_the_summary(local_stack, demo):
    """examples/pipeline/pipeline.yaml on the quickstart the demo set up: the whole graph submitted at
    once, Batch starting each step after its dependencies, the summary reading every fit's metrics."""
    example, _ = demo
    shutil.copy(ROOT / "examples" / "pipeline" / "pipeline.yaml", example / "pipeline.yaml")
    done = deploy(local_stack, example, "--pipeline", "run", "pipeline.yaml", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = re.search(r"run:\s+(\S+)", done.stdout)[1]
    keys = bucket_keys(local_stack, prefix="")
    (summary_key,) = [k for k in keys if k.endswith(f"{run_id}/summarize/summary.json")]
    summary = json.loads(s3_client(local_stack).get_object(Bucket="quickstart-local-bucket", Key=summary_key)["Body"].read())
    assert summary["fits"] == 4
    assert {f"{run_id}/steps/{s}.json" for s in ("prepare", "fit", "summarize")} <= {k.split("/", 1)[1] for k in keys}
