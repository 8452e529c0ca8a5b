"""`report RUN_ID` of a pipeline run, against the moto server over HTTP (API level: jobs end without a
container, so the metrics a task would write are put where its output location is): one row per plain
step and per map task (array children and per-task jobs alike), each with its `step`, its state as
`pipeline status` gives it, and the metrics of its own output; a failed step's tasks FAILED and what
follows NOT RUN; a rerun's steps read from the rerun. test_report_stack.py opens a report in a browser."""

from __future__ import annotations

import json
import re

import pytest

from batchdeploy import runs
from tests.browser import open_page

from . import test_pipeline_shapes as shapes
from .test_pipeline_run import BUCKET
from .test_pipeline_shapes import cli

PIPE = """\
name: rp
steps:
  prep: {parameters: {seed: "7"}}
  fit:
    depends_on: [prep]
    map: {grid: {seed: ["1", "2"]}}
  score:
    job_definition: pipe-plain
    depends_on: [fit]
    map: {grid: {seed: ["3", "4"]}}
"""


@pytest.fixture
def pipe_project(project, aws, monkeypatch):
    return shapes.pipe_project.__wrapped__(project, aws, monkeypatch)


@pytest.fixture
def failing_pipe(moto, failing_moto, project, monkeypatch):
    return shapes.failing_pipe.__wrapped__(moto, failing_moto, project, monkeypatch)


def put_metrics(aws, key: str, doc: dict) -> None:
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())


def rows(run_id: str) -> list[dict]:
    code, out, err = cli("report", run_id, "--output", "json")
    assert code == 0, out + err
    return json.loads(out)["runs"][0]["tasks"]


def test_a_pipeline_report_has_a_row_per_step_and_map_task_with_its_metrics(moto, aws, pipe_project):
    project, _ = pipe_project
    project.write("pipeline.yaml", PIPE)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 0, out + err
    run_id = runs.RUN_ID.search(out).group(0)
    put_metrics(aws, f"results/{run_id}/prep/metrics.json", {"rows": 10})
    put_metrics(aws, f"results/{run_id}/fit/1/metrics.json", {"loss": 0.5})
    put_metrics(aws, f"results/{run_id}/score/2/metrics.json", {"eval": {"auc": 0.8}})

    got = rows(run_id)
    assert [(t["params"]["step"], t["params"].get("seed"), t["state"]) for t in got] == [
        ("prep", "7", "SUCCEEDED"), ("fit", "1", "SUCCEEDED"), ("fit", "2", "SUCCEEDED"),
        ("score", "3", "SUCCEEDED"), ("score", "4", "SUCCEEDED")]
    assert [t["metrics"] for t in got] == [{"rows": 10}, {"loss": 0.5}, {}, {}, {"eval.auc": 0.8}]
    assert all(t["started_at"] and t["ended_at"] for t in got), got  # (no exit code: moto ran no container)
    code, out, err = cli("report", run_id)
    assert code == 0, err
    page = project.path / ".batchdeploy" / "reports" / f"{run_id}.html"
    # in a real browser with no network: the graph of the three steps, the table, no script error
    opened = open_page(page, project.path / "browser")
    assert 'data-js="ok"' in opened.dom and 'id="script-error"' not in opened.dom and opened.console_errors == []
    graph = re.search(r'<svg[^>]*data-plot="graph".*?</svg>', opened.dom, re.S).group(0)
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', graph) == [
        ("prep", "SUCCEEDED"), ("fit", "SUCCEEDED"), ("score", "SUCCEEDED")]
    table = re.search(r'<table class="sortable" id="tasks">.*?</table>', opened.dom, re.S).group(0)
    assert table.count("<tr>") == 1 + 5 and "<th>step</th>" in table and "BATCHDEPLOY_" not in table
    assert "<th>eval.auc</th>" in table and "The same in every task" not in opened.dom  # each written by one task


def test_a_failed_step_reports_its_tasks_failed_and_what_follows_as_pipeline_status_does(failing_pipe):
    """This moto fails every job it is given, dependents included (with an attempt, as if they ran):
    `pipeline status` says fit NOT RUN (its array never ran a child) and score FAILED; the report's rows
    say the same, task by task."""
    project, aws = failing_pipe
    project.write("pipeline.yaml", PIPE)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 3, out + err
    run_id = runs.RUN_ID.search(out).group(0)
    code, out, err = cli("status", run_id, "--output", "json")
    status = {s["name"]: s["state"] for s in json.loads(out)["steps"]}
    assert status == {"prep": "FAILED", "fit": "NOT RUN", "score": "FAILED"}, status
    got = rows(run_id)
    assert [(t["params"]["step"], t["state"]) for t in got] == [
        ("prep", "FAILED"), ("fit", "NOT RUN"), ("fit", "NOT RUN"), ("score", "FAILED"), ("score", "FAILED")]
    assert got[1]["reason"] == got[2]["reason"] == "not run: prep did not succeed"


def test_a_rerun_reads_as_one_run_each_step_from_its_latest_attempt(moto, aws, pipe_project, proxy, monkeypatch):
    """AWS refuses score's 2nd task's SubmitJob: the rerun keeps score's task 1 and submits task 2; the
    report of either run id shows every row SUCCEEDED, score's task 1 from the original's job."""
    project, env = pipe_project
    project.write("pipeline.yaml", PIPE)
    proxy.add(operation="submitjob", nth=4, status=400, code="ClientException")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 1, out + err
    run_id = runs.RUN_ID.search(err).group(0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials", "--wait")
    assert code == 0, out + err
    assert "step score: 1 of 2 tasks succeeded before and are kept (1); 1 submitted" in err
    second = runs.RUN_ID.search(out.split("run:")[1]).group(0)
    got = rows(second)
    assert [(t["params"]["step"], t["state"]) for t in got] == [
        ("prep", "SUCCEEDED"), ("fit", "SUCCEEDED"), ("fit", "SUCCEEDED"), ("score", "SUCCEEDED"), ("score", "SUCCEEDED")]
    same = [{k: v for k, v in t.items() if k != "run_id"} for t in got]
    assert [{k: v for k, v in t.items() if k != "run_id"} for t in rows(run_id)] == same


def test_steps_never_submitted_are_a_row_each(moto, aws, pipe_project, proxy, monkeypatch):
    """AWS refuses fit's SubmitJob: prep ran; fit and score (maps whose manifests run.json names) were never
    submitted: a row per task each, NOT SUBMITTED."""
    project, _ = pipe_project
    project.write("pipeline.yaml", PIPE)
    proxy.add(operation="submitjob", nth=2, status=400, code="ClientException")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials")
    assert code == 1, out + err
    run_id = runs.RUN_ID.search(err).group(0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    assert [(t["params"]["step"], t["state"]) for t in rows(run_id)] == [
        ("prep", "SUCCEEDED"), ("fit", "NOT SUBMITTED"), ("fit", "NOT SUBMITTED"), ("score", "NOT SUBMITTED"),
        ("score", "NOT SUBMITTED")]
