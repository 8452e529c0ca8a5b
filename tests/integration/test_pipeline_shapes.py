"""A pipeline's map steps on an image without the launcher (one job per task) and `settings: code`,
against the moto server over HTTP (API level: jobs end without a container; the local stack's own
tests, test_pipeline_stack.py, run them for real): what is submitted with which dependsOn, the run
record, --status and rerun, and the refusals (one line, exit 2, nothing sent)."""

from __future__ import annotations

import json

import pytest

from batchdeploy import runs
from tests.conftest import RequestCounter
from tests.run_support import FakeClock, on_failing_moto

from .test_pipeline_run import BUCKET, DEFINITION, by_name, keys, ops, read

# the same experiment in an image batchdeploy knows no launcher for (no -b record, none declared)
PLAIN = {**DEFINITION, "jobDefinitionName": "pipe-plain",
         "containerProperties": {**DEFINITION["containerProperties"], "environment": []}}

PER_TASK = """\
name: pt
steps:
  prep: {}
  fit:
    job_definition: pipe-plain
    depends_on: [prep]
    map: {grid: {seed: ["1", "2", "3"]}}
  score:
    job_definition: pipe-plain
    depends_on: [{step: fit, type: N_TO_N}]
    map: {grid: {seed: ["4", "5", "6"]}}
    parameters: {inputs: "{steps.fit.output}"}
  sum: {depends_on: [score]}
"""


@pytest.fixture
def pipe_project(project, aws, monkeypatch):
    from .test_pipeline_run import pipe_project as original

    project, env = original.__wrapped__(project, aws, monkeypatch)
    aws.client("batch").register_job_definition(**PLAIN)
    return project, env


def cli(*argv, clock=None):
    from tests.run_support import inprocess

    t = clock or FakeClock()
    return inprocess(list(argv), sleep=t.sleep, clock=t.clock)


def test_a_map_without_the_launcher_is_one_job_per_task_with_dependson_task_by_task(moto, aws, pipe_project):
    project, env = pipe_project
    project.write("pipeline.yaml", PER_TASK)
    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 0, out + err
    assert ops(counter, "submitjob") == 8  # prep, 3 fit, 3 score, sum
    said = [line for line in err.splitlines() if "no launcher" in line]
    assert said == ["no launcher in the image of fit, score: one job per task, paced at 40/s; add `COPY "
                    "batchdeploy-launch /usr/local/bin/` to the Dockerfile (then -b, -u) for one array job"]
    jobs = by_name(aws, env["queue"])
    run_id = runs.RUN_ID.search(out).group(0)
    for i, seed in enumerate("123", 1):
        fit = jobs[f"pt-fit-{i}"]
        assert fit["parameters"]["seed"] == seed and "arrayProperties" not in fit
        assert fit["dependsOn"] == [{"jobId": jobs["pt-prep"]["jobId"]}]
        score = jobs[f"pt-score-{i}"]  # N_TO_N without an array: task i's job on task i's job
        assert score["dependsOn"] == [{"jobId": fit["jobId"]}]
        assert score["parameters"]["inputs"] == f"s3://{BUCKET}/results/{run_id}/fit/"
        env_of = {e["name"]: e["value"] for e in score["container"]["environment"]}
        assert env_of["BATCHDEPLOY_OUTPUT"] == f"s3://{BUCKET}/results/{run_id}/score/{i}/"  # each task its own
    assert jobs["pt-sum"]["dependsOn"] == [{"jobId": jobs[f"pt-score-{i}"]["jobId"]} for i in (1, 2, 3)]
    # the run record as the array shape writes it: run.json first, then one object per step
    assert keys(aws, f"runs/{run_id}/") == sorted([f"runs/{run_id}/run.json"] + [f"runs/{run_id}/steps/{s}.json"
                                                            for s in ("prep", "fit", "score", "sum")])
    step = read(aws, f"runs/{run_id}/steps/fit.json")
    assert step["mode"] == "per-task" and step["jobs"] == {str(i): jobs[f"pt-fit-{i}"]["jobId"] for i in (1, 2, 3)}
    fit_doc = read(aws, f"runs/{run_id}/run.json")["pipeline"]["steps"][1]["map"]
    assert fit_doc["mode"] == "per-task" and [u["job_name"] for u in fit_doc["units"]] == ["pt-fit-1", "pt-fit-2", "pt-fit-3"]

    code, out, err = cli("status", run_id, "--output", "json")
    assert code == 0, err
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert {n: s["state"] for n, s in steps.items()} == dict.fromkeys(("prep", "fit", "score", "sum"), "SUCCEEDED")
    assert steps["score"]["jobs"] == {str(i): jobs[f"pt-score-{i}"]["jobId"] for i in (1, 2, 3)}
    code, out, err = cli("status", run_id)
    assert code == 0 and "[map 3, one job per task]" in out, out + err


def test_a_per_task_map_killed_before_its_step_record_is_found_by_its_tasks_tokens(moto, aws, pipe_project, proxy,
                                                                                  monkeypatch):
    project, env = pipe_project
    project.write("pipeline.yaml", PER_TASK)
    # every PUT of steps/fit.json refused: its three jobs are made, its record never written
    proxy.add(when=lambda r: r.method == "PUT" and r.path.endswith("/steps/fit.json"), status=500, code="InternalError")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials")
    assert code == 1, out + err
    run_id = runs.RUN_ID.search(err).group(0)
    assert f"runs/{run_id}/steps/fit.json" not in keys(aws)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    code, out, err = cli("status", run_id, "--output", "json")
    assert code == 0, err
    fit = {s["name"]: s for s in json.loads(out)["steps"]}["fit"]
    jobs = by_name(aws, env["queue"])
    assert fit["jobs"] == {str(i): jobs[f"pt-fit-{i}"]["jobId"] for i in (1, 2, 3)}


SEEDS_21 = ", ".join(f'"{i}"' for i in range(21))


@pytest.mark.parametrize("text, message", [
    (PER_TASK.replace("job_definition: pipe-plain\n    depends_on: [{step", "depends_on: [{step"),
     "step score: N_TO_N on fit pairs one job per task (fit: its image has no launcher) with an array's children"),
    ("name: pt\nsteps:\n  fit:\n    job_definition: pipe-plain\n    map: {grid: {seed: [" + SEEDS_21 + "]}}\n"
     "  sum: {depends_on: [fit]}\n", "step sum: depends on 21 jobs, above AWS's 20"),
    ("name: pt\nsettings: {code: src}\nsteps:\n  fit:\n    job_definition: pipe-plain\n    map: {grid: {seed: [1, 2]}}\n",
     "settings: code runs each step through the launcher, and registry.example/exp:1 has none"),
    ("name: pt\nsettings: {code: src}\nsteps:\n  a: {job_definition: pipe-plain}\n",
     "step a (line 4): settings: code runs each step through the launcher, and registry.example/exp:1 has none"),
    ("name: pt\nsettings: {code: nope}\nsteps:\n  a: {}\n", "the pipeline's settings: code: nope is not a folder"),
])
def test_what_aws_cannot_express_is_one_line_exit_2_and_nothing_is_sent(moto, aws, pipe_project, text, message):
    project, _ = pipe_project
    project.write("pipeline.yaml", text)
    (project.path / "src").mkdir()
    (project.path / "src" / "step.py").write_text("print('hi')\n")
    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials")
    assert code == 2, out + err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert ops(counter, "submitjob") == 0 and ops(counter, "putobject") == 0 and keys(aws) == []


@pytest.fixture
def failing_pipe(moto, failing_moto, project, monkeypatch):
    project, aws = on_failing_moto(failing_moto, project, monkeypatch, DEFINITION, BUCKET)
    aws.client("batch").register_job_definition(**PLAIN)
    return project, aws


def test_a_failed_per_task_map_stops_what_follows_and_rerun_submits_its_tasks_again(failing_pipe):
    project, aws = failing_pipe
    project.write("pipeline.yaml", "name: pt\nsteps:\n  fit:\n    job_definition: pipe-plain\n"
                  "    map: {grid: {seed: [1, 2]}}\n  sum: {depends_on: [fit]}\n")
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 3, out + err
    assert "step fit failed: sum will not run" in err
    run_id = runs.RUN_ID.search(out).group(0)
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials")
    assert code == 0, err
    assert f"rerun of {run_id}: fit, sum (reusing nothing)" in err
    second = runs.RUN_ID.search(out.split("run:")[1]).group(0)
    assert read(aws, f"runs/{second}/steps/fit.json")["mode"] == "per-task"
    assert "reused" not in read(aws, f"runs/{second}/steps/fit.json") and "are kept" not in err  # none succeeded
    code, out, err = cli("status", run_id, "--output", "json")
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert steps["fit"]["run_id"] == second and len(steps["fit"]["jobs"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--pipeline", "run", "pipeline.yaml", "--logs"], "--logs shows the steps' lines while following the run; add --wait"),
    (["--pipeline", "run", "pipeline.yaml", "--wait", "--logs", "fit,nope"],
     "--logs nope: no such step; the steps are prep, fit, score, sum"),
    (["-r", "pt", "--pipeline", "pipeline.yaml", "--logs"], "--logs shows the steps' lines while following the run; add --wait"),
    (["-r", "pt", "--pipeline", "pipeline.yaml", "--wait", "--logs", "nope"],
     "--logs nope: no such step; the steps are prep, fit, score, sum"),
    (["-r", "pt", "--wait", "--logs"], "-r --logs names the steps of a pipeline whose lines to show; with one job, --wait "
                                       "shows its log lines already; a pipeline: -r --pipeline FILE --wait --logs"),
])
def test_logs_without_wait_or_naming_no_step_is_one_line_exit_2_through_deploy_sh(moto, aws, pipe_project, argv,
                                                                                   message):
    project, _ = pipe_project
    project.write("pipeline.yaml", PER_TASK)
    counter = RequestCounter(moto)
    done = project.deploy(*argv, "--no-credentials")
    assert done.returncode == 2, done.both
    assert done.stdout == "" and done.stderr.strip().splitlines() == [f"batchdeploy: error: {message}"], done.stderr
    assert ops(counter, "submitjob") == 0 and keys(aws) == []


def test_a_per_task_map_killed_mid_submit_is_rerun_task_by_task_and_no_task_runs_twice(moto, aws, pipe_project, proxy):
    """SIGKILLed as fit's 2nd task's SubmitJob leaves (the proxy still forwards it): tasks 1 and 2 were
    made, task 3 and sum never. The rerun finds 1 and 2 by their client tokens, keeps them (they
    succeeded, today's file gives them the same parameters) and submits task 3 and sum only, sum
    depending on task 3 alone; --status then reads fit as its three jobs, each made once."""
    from tests.run_support import all_jobs

    from .test_pipeline_run import killed_at_submit

    project, env = pipe_project
    project.write("pipeline.yaml", "name: pt\nsteps:\n  fit:\n    job_definition: pipe-plain\n"
                  "    map: {grid: {seed: [1, 2, 3]}}\n  sum: {depends_on: [fit]}\n")
    killed_at_submit(project, proxy, 2)
    run_id = runs.RUN_ID.search(keys(aws)[0]).group(0)
    assert sorted(j["jobName"] for j in all_jobs(aws, env["queue"])) == ["pt-fit-1", "pt-fit-2"]
    code, out, err = cli("status", run_id, "--output", "json")
    assert {s["name"]: s["state"] for s in json.loads(out)["steps"]} == {"fit": "NOT SUBMITTED", "sum": "NOT SUBMITTED"}

    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials", "--wait")
    assert code == 0, out + err
    assert "step fit: 2 of 3 tasks succeeded before and are kept (1, 2); 1 submitted" in err
    assert ops(counter, "submitjob") == 2
    made = sorted(j["jobName"] for j in all_jobs(aws, env["queue"]))
    assert made == ["pt-fit-1", "pt-fit-2", "pt-fit-3", "pt-sum"], made
    jobs = by_name(aws, env["queue"])
    assert jobs["pt-sum"]["dependsOn"] == [{"jobId": jobs["pt-fit-3"]["jobId"]}]
    second = runs.RUN_ID.search(out.split("run:")[1]).group(0)
    step = read(aws, f"runs/{second}/steps/fit.json")
    assert step["reused"] == {"1": jobs["pt-fit-1"]["jobId"], "2": jobs["pt-fit-2"]["jobId"]}
    assert step["jobs"] == {"3": jobs["pt-fit-3"]["jobId"]}
    code, out, err = cli("status", run_id, "--output", "json")
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert steps["fit"]["state"] == "SUCCEEDED" and steps["sum"]["state"] == "SUCCEEDED"
    assert steps["fit"]["jobs"] == {str(i): jobs[f"pt-fit-{i}"]["jobId"] for i in (1, 2, 3)}
    # nothing left to do: a second rerun says so and submits nothing
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials")
    assert code == 0 and "every step succeeded; nothing to rerun" in out, out + err

