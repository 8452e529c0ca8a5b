"""Pipelines against the in-process moto server (API level: jobs end without a container): every step
submitted once with dependsOn, the run record (run.json, then one object per step), --wait in one
DescribeJobs per poll, a lost SubmitJob answer, and bad graphs refused before anything is sent.

The pipeline is built as the model's objects (the file reader is pipelines.pipelinefile's, tested
with it); from there on it is the real executor against moto over HTTP, nothing replaced."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from batchdeploy import errors, runs
from batchdeploy.pipelines.model import Dependency, Pipeline, Step
from batchdeploy.sweeps.model import Sweep, SweepTask
from tests.conftest import RequestCounter
from tests.run_support import FakeClock, all_jobs, make_batch, on_failing_moto, setup_project

BUCKET = "pipe-bucket"
DEFINITION = {
    "jobDefinitionName": "pipe-exp",
    "type": "container",
    "parameters": {"inputs": "-", "seed": "1"},
    "containerProperties": {
        "image": "registry.example/exp:1",
        "command": ["python3", "step.py", "Ref::inputs", "Ref::seed"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        "environment": [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/usr/local/bin/batchdeploy-launch"}],
    },
}


@pytest.fixture
def pipe_project(project, aws, monkeypatch):
    env = make_batch(aws, definition=DEFINITION)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    monkeypatch.chdir(project.path)
    return project, env


def diamond() -> Pipeline:
    out = "{steps.%s.output}"
    return Pipeline("dia", [
        Step("a"),
        Step("b", parameters={"inputs": out % "a"}, depends_on=[Dependency("a")]),
        Step("c", parameters={"inputs": out % "a"}, depends_on=[Dependency("a")]),
        Step("d", parameters={"inputs": f"{out % 'b'},{out % 'c'}"}, depends_on=[Dependency("b"), Dependency("c")]),
    ], source={"file": "pipeline.yaml", "sha256": "0" * 64})


def sweep(n: int) -> Sweep:
    return Sweep([SweepTask(i, {"seed": str(i)}) for i in range(1, n + 1)], ["seed"], {"kind": "grid"})


def execute(pipeline: Pipeline, *argv, clock=None):
    """The executor behind `pipeline run FILE`, from a context the real CLI made: (code, out, err)."""
    from batchdeploy import cli
    from batchdeploy.pipelines import verb

    t = clock or FakeClock()
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            args = cli.parse(["pipeline", "run", "pipeline.yaml", "--no-credentials", *argv])
            ctx = cli.make_context(args)
            ctx.sleep, ctx.clock = t.sleep, t.clock
            code = verb.run_pipeline(ctx, pipeline, list(pipeline.steps), verb.PipelineOptions.from_args(args))
        except errors.BatchdeployError as exc:
            print(f"batchdeploy: error: {exc.line()}", file=stderr)
            code = exc.exit_code
    return code, stdout.getvalue(), stderr.getvalue()


def ops(counter, name: str) -> int:
    return sum(1 for _, path, _ in counter.since() if path.lower().rstrip("/").endswith(name))


def keys(aws, prefix: str = "runs/") -> list[str]:
    return sorted(o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def read(aws, key: str) -> dict:
    return json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def by_name(aws, queue: str) -> dict[str, dict]:
    batch = aws.client("batch")
    ids = [j["jobId"] for j in all_jobs(aws, queue) if ":" not in j["jobId"]]
    return {j["jobName"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}


def test_a_diamond_is_four_submits_with_dependson_and_one_object_per_step(moto, aws, pipe_project):
    project, env = pipe_project
    counter = RequestCounter(moto)
    code, out, err = execute(diamond())
    assert code == 0, err
    assert ops(counter, "submitjob") == 4
    run_id = runs.RUN_ID.search(out).group(0)
    assert keys(aws) == [f"runs/{run_id}/run.json"] + [f"runs/{run_id}/steps/{s}.json" for s in "abcd"]
    jobs = by_name(aws, env["queue"])
    ids = {s: read(aws, f"runs/{run_id}/steps/{s}.json")["job_id"] for s in "abcd"}
    assert {s: jobs[f"dia-{s}"]["jobId"] for s in "abcd"} == ids
    assert jobs["dia-a"].get("dependsOn", []) == []
    assert [d["jobId"] for d in jobs["dia-d"]["dependsOn"]] == [ids["b"], ids["c"]]
    # d reads b's and c's outputs: the original run's locations, in the parameter AWS substitutes
    assert jobs["dia-d"]["parameters"]["inputs"] == f"s3://{BUCKET}/results/{run_id}/b/,s3://{BUCKET}/results/{run_id}/c/"
    doc = read(aws, f"runs/{run_id}/run.json")
    assert doc["kind"] == "pipeline" and [s["name"] for s in doc["pipeline"]["steps"]] == list("abcd")
    assert doc["pipeline"]["steps"][3]["depends_on"] == [{"step": "b", "type": "all"}, {"step": "c", "type": "all"}]
    tokens = {s["client_token"] for s in doc["pipeline"]["steps"]}
    assert tokens == {j["tags"]["batchdeploy:client-token"] for j in jobs.values()} and len(tokens) == 4
    # this machine's jobs.jsonl knows each step's job, as -r's (what --status lists and -u --prune keeps)
    recorded = [json.loads(line) for line in (project.path / ".batchdeploy" / "jobs.jsonl").read_text().splitlines()]
    assert [r["job_id"] for r in recorded] == [ids[s] for s in "abcd"]


def test_one_definition_is_described_once_for_every_step(moto, aws, pipe_project):
    counter = RequestCounter(moto)
    code, _, err = execute(diamond(), "--dry-run")
    assert code == 0, err
    assert ops(counter, "describejobdefinitions") == 1
    assert ops(counter, "submitjob") == 0 and keys(aws) == []


def test_wait_follows_the_graph_with_one_describe_per_poll_and_exit_0(moto, aws, pipe_project):
    counter = RequestCounter(moto)
    clock = FakeClock()
    code, out, err = execute(diamond(), "--wait", clock=clock)
    assert code == 0, err
    assert "every step succeeded" in out
    assert ops(counter, "describejobs") == len(clock.sleeps) + 1  # one per poll for the whole graph


def test_a_map_then_an_n_to_n_step_are_two_arrays_paired_child_by_child(moto, aws, pipe_project):
    _, env = pipe_project
    p = Pipeline("mapn", [Step("fit", map=sweep(3)),
                          Step("score", map=sweep(3), depends_on=[Dependency("fit", "N_TO_N")]),
                          Step("sum", depends_on=[Dependency("score")])])
    counter = RequestCounter(moto)
    code, out, err = execute(p, "--wait")
    assert code == 0, err
    assert ops(counter, "submitjob") == 3
    jobs = by_name(aws, env["queue"])
    assert jobs["mapn-fit"]["arrayProperties"]["size"] == 3
    assert jobs["mapn-score"]["dependsOn"] == [{"jobId": jobs["mapn-fit"]["jobId"], "type": "N_TO_N"}]
    assert jobs["mapn-sum"]["dependsOn"] == [{"jobId": jobs["mapn-score"]["jobId"]}]
    run_id = runs.RUN_ID.search(out).group(0)
    fit = read(aws, f"runs/{run_id}/run.json")["pipeline"]["steps"][0]["map"]
    assert fit["tasks"] == 3 and fit["url"].startswith(f"s3://{BUCKET}/")


def test_a_lost_submit_answer_makes_one_job_per_step(moto, aws, pipe_project, proxy, monkeypatch):
    _, env = pipe_project
    proxy.add(operation="submitjob", nth=2, drop=True)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = execute(diamond())
    assert code == 0, err
    assert "found the job it made" in err
    assert proxy.count("submitjob") == 4
    assert sorted(by_name(aws, env["queue"])) == ["dia-a", "dia-b", "dia-c", "dia-d"]


def test_an_aws_refusal_mid_graph_is_exit_1_and_keeps_what_was_written(moto, aws, pipe_project, proxy, monkeypatch):
    proxy.add(operation="submitjob", nth=3, status=400, code="ClientException")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, out, err = execute(diamond())
    assert code == 1
    assert err.splitlines()[-1].startswith("batchdeploy: error: cannot submit job dia-c (batch:SubmitJob): ClientException")
    assert "2 of 4 steps submitted" in err  # said before the error: the rest is a rerun's
    written = keys(aws)
    assert [k.rsplit("/", 1)[1] for k in written] == ["run.json", "a.json", "b.json"]


@pytest.mark.parametrize("pipeline, message", [
    (Pipeline("bad", [Step("b", depends_on=[Dependency("a")]), Step("a")]),
     "step b depends on a, which is not before it"),
    (Pipeline("bad", [Step("a", parameters={"nope": "1"}), Step("b", parameters={"also": "2"})]),
     "2 problems: step a: unknown parameter nope"),
    (Pipeline("bad", [Step("a", timeout=5)]), "step a"),
])
def test_a_bad_graph_is_one_line_exit_2_and_nothing_is_sent(moto, aws, pipe_project, pipeline, message):
    counter = RequestCounter(moto)
    code, out, err = execute(pipeline)
    assert code == 2
    assert err.splitlines()[-1].startswith("batchdeploy: error:") and message in err.splitlines()[-1], err
    assert ops(counter, "submitjob") == 0 and keys(aws) == []


# ---- through the real CLI words, from a pipeline file ---------------------------------------------

DIAMOND_YAML = """\
name: dia
steps:
  a: {parameters: {seed: "1"}}
  b: {depends_on: [a], parameters: {inputs: "{steps.a.output}x"}}
  c: {depends_on: [a], parameters: {inputs: "{steps.a.output}x"}}
  d: {depends_on: [b, c], parameters: {inputs: "{steps.b.output}x,{steps.c.output}x"}}
"""


def cli(*argv, clock=None):
    from tests.run_support import inprocess

    t = clock or FakeClock()
    return inprocess(list(argv), sleep=t.sleep, clock=t.clock)


def test_pipeline_run_file_and_r_pipeline_file_submit_the_graph_and_status_draws_it(moto, aws, pipe_project):
    project, env = pipe_project
    project.write("pipeline.yaml", DIAMOND_YAML)
    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 0, err
    assert ops(counter, "submitjob") == 4
    run_id = runs.RUN_ID.search(out).group(0)
    assert read(aws, f"runs/{run_id}/run.json")["pipeline"]["source"]["file"].endswith("pipeline.yaml")
    code, out, err = cli("status", run_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"pipeline dia  run {run_id}  (4 steps)"
    assert [line.split()[:2] for line in lines[1:]] == [["a", "SUCCEEDED"], ["b", "SUCCEEDED"], ["c", "SUCCEEDED"],
                                                         ["d", "SUCCEEDED"]]
    assert "<- b, c" in lines[4]
    code, out, err = cli("run", "--pipeline", "pipeline.yaml", "--no-credentials")
    assert code == 0, err
    assert ops(counter, "submitjob") == 8
    code, out, err = cli("run", "other", "--pipeline", "pipeline.yaml", "--no-credentials")
    assert code == 2 and "the file's pipeline is named 'dia'" in err
    code, out, err = cli("run", "dia", "--pipeline", "pipeline.yaml", "--grid", "seed=1,2")
    assert code == 2 and "-r --pipeline takes its steps from the file, not --grid" in err
    assert ops(counter, "submitjob") == 8


def twenty_one() -> str:
    names = [f"s{i}" for i in range(21)]
    return "name: p\nsteps:\n" + "".join(f"  {n}: {{}}\n" for n in names) + f"  join: {{depends_on: [{', '.join(names)}]}}\n"


@pytest.mark.parametrize("text, message", [
    ("name: p\nsteps:\n  a: {depends_on: [b]}\n  b: {depends_on: [a]}\n", "a cycle"),
    ("name: p\nsteps:\n  a: {depends_on: [nope]}\n", "nope"),
    (twenty_one(), "21"),
    ("name: p\nsteps:\n  f: {map: {grid: {seed: [1, 2, 3]}}}\n"
     "  g: {depends_on: [{step: f, type: N_TO_N}], map: {grid: {seed: [1, 2]}}}\n", "N_TO_N"),
])
def test_a_bad_pipeline_file_is_one_line_exit_2_and_nothing_is_sent(moto, aws, pipe_project, text, message):
    project, _ = pipe_project
    project.write("pipeline.yaml", text)
    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert counter.since() == [] and keys(aws) == []


@pytest.mark.parametrize("argv, message", [
    (["pipeline", "walk", "x"], "not an action"),
    (["pipeline", "rerun", "yesterday"], "not a run id"),
    (["pipeline", "status", "20261130T161200Z-3fa9c1"], "no run 20261130T161200Z-3fa9c1"),
    (["pipeline", "run", "missing.yaml"], "missing.yaml"),
])
def test_pipeline_usage_errors_are_one_line_exit_2(moto, aws, pipe_project, argv, message):
    code, out, err = cli(*argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


@pytest.fixture
def failing_pipe(moto, failing_moto, project, monkeypatch):
    return on_failing_moto(failing_moto, project, monkeypatch, DEFINITION, BUCKET)


def test_a_failed_step_names_what_will_not_run_exits_3_and_rerun_submits_it_and_what_follows(failing_pipe):
    project, aws = failing_pipe
    project.write("pipeline.yaml", "name: chain\nsteps:\n  a: {}\n  b: {depends_on: [a]}\n  c: {depends_on: [b]}\n")
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 3, out + err
    assert "step a failed: b, c will not run" in err
    run_id = runs.RUN_ID.search(out).group(0)
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials")
    assert code == 0, err
    assert f"rerun of {run_id}: a, b, c (reusing nothing)" in err
    second = runs.RUN_ID.search(out.split("run:")[1]).group(0)
    assert read(aws, f"runs/{run_id}/reruns/{second}.json")["steps"] == ["a", "b", "c"]
    doc = read(aws, f"runs/{second}/run.json")
    assert doc["rerun_of"] == run_id and doc["outputs_run_id"] == run_id
    code, out, err = cli("status", run_id, "--output", "json")
    assert code == 0, err
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert {s["run_id"] for s in steps.values()} == {second}
    code, again, err = cli("status", second, "--output", "json")  # a rerun's id reads as its original
    assert code == 0 and json.loads(again) == json.loads(out), err


def test_a_pipeline_killed_mid_submit_keeps_what_it_wrote_and_its_jobs_are_found_by_token(moto, aws, pipe_project,
                                                                                         proxy):
    """SIGKILLed as its 3rd SubmitJob leaves (the proxy still forwards it, so AWS makes c): run.json and
    steps/a.json, steps/b.json stay; --status finds c's job by its client token, and a rerun, once the
    jobs ended, submits only d: c is never submitted twice."""
    project, env = pipe_project
    project.write("pipeline.yaml", DIAMOND_YAML)
    killed_at_submit(project, proxy, 3)
    written = keys(aws)
    run_id = runs.RUN_ID.search(written[0]).group(0)
    assert written == [f"runs/{run_id}/run.json", f"runs/{run_id}/steps/a.json", f"runs/{run_id}/steps/b.json"]
    code, out, err = cli("status", run_id, "--output", "json")
    assert code == 0, err
    states = {s["name"]: (s["state"], bool(s["job_id"])) for s in json.loads(out)["steps"]}
    assert states == {"a": ("SUCCEEDED", True), "b": ("SUCCEEDED", True), "c": ("SUCCEEDED", True),
                      "d": ("NOT SUBMITTED", False)}
    counter = RequestCounter(moto)
    code, out, err = cli("pipeline", "rerun", run_id, "--no-credentials")
    assert code == 0, err
    assert f"rerun of {run_id}: d (reusing a, b, c)" in err
    assert ops(counter, "submitjob") == 1
    assert sorted(by_name(aws, env["queue"])) == ["dia-a", "dia-b", "dia-c", "dia-d"]


def killed_at_submit(project, proxy, nth: int) -> None:
    """`pipeline run pipeline.yaml` in its own process, SIGKILLed as its `nth` SubmitJob leaves (the
    proxy still forwards that request, so AWS makes the job)."""
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    procs = []
    proxy.add(operation="submitjob", nth=nth, before=lambda request: procs[0].send_signal(signal.SIGKILL))
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "batchdeploy", "pipeline", "run", "pipeline.yaml", "--no-credentials"],
        cwd=project.path, env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": proxy.url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert procs[0].wait(120) == -signal.SIGKILL


def test_output_json_is_one_document_with_the_run_and_its_job_ids(moto, aws, pipe_project):
    project, _ = pipe_project
    project.write("pipeline.yaml", DIAMOND_YAML)
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--output", "json")
    assert code == 0, err
    data = json.loads(out)
    assert sorted(data["job_ids"]) == list("abcd") and runs.RUN_ID.fullmatch(data["run_id"])


@pytest.mark.parametrize("name", ["cycle", "unknown-dependency", "21-dependencies", "map-size-mismatch"])
def test_the_issues_bad_files_through_deploy_sh_are_one_line_exit_2_and_nothing_is_sent(moto, aws, pipe_project, name):
    """The reader's own bad files (tests/unit/pipelines/bad/), through the shell door."""
    import shutil

    from tests.conftest import ROOT

    project, _ = pipe_project
    shutil.copy(ROOT / "tests" / "unit" / "pipelines" / "bad" / f"{name}.yaml", project.path / "bad.yaml")
    counter = RequestCounter(moto)
    done = project.deploy("--pipeline", "run", "bad.yaml", "--no-credentials")
    assert done.returncode == 2, done.both
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert counter.since() == [] and keys(aws) == []
