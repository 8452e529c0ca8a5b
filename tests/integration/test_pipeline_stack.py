"""Pipelines on the local stack, where the steps really run and Batch itself starts each one when its
dependencies succeed (moto with the dependsOn patch of batchdeploy/local/moto_server.py): a diamond
whose last step reads its two parents' outputs; a map followed by an N_TO_N map and a summary; a
failing middle step that stops what follows (exit 3), then a rerun after the fix that runs only it and
what follows. One module, a dozen small containers: kept small for a 2-core CI."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from batchdeploy import errors, runs
from batchdeploy.pipelines.model import Dependency, Pipeline, Step
from batchdeploy.sweeps.model import Sweep, SweepTask
from tests.run_support import record_definition

from .test_launch_stack import launcher_image  # noqa: F401 - the module's image with the launcher
from .test_local_stack import Batch, unique

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

# A step: reads each of its inputs (comma-separated S3 URLs, "-" for none), then writes
# WORD(input+input) to its own output (BATCHDEPLOY_OUTPUT, an S3 folder: a map step's task has its own,
# .../STEP/TASK/) as out.txt. WORD "fail" exits 3 before writing. bookworm's botocore needs the endpoint passed.
STEP = ("import os, sys, boto3; s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL']); "
        "split = lambda u: u[5:].partition('/')[::2]; "
        "got = [s3.get_object(Bucket=b, Key=k)['Body'].read().decode() "
        "for b, k in (split(u) for u in sys.argv[1].split(',') if u != '-')]; "
        "word = sys.argv[2]; print('step', word, got, flush=True); "
        "word == 'fail' and sys.exit(3); "
        "b, k = split(os.environ['BATCHDEPLOY_OUTPUT']); "
        "s3.put_object(Bucket=b, Key=k + 'out.txt', "
        "Body=(word + '(' + '+'.join(got) + ')').encode())")
OUT = "{steps.%s.output}"


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


@pytest.fixture
def pipe(batch, launcher_image, project, monkeypatch):  # noqa: F811
    name = unique("pipe")
    env = {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
           "BATCHDEPLOY_LAUNCHER": "/usr/local/bin/batchdeploy-launch"}
    jd = batch.batch.register_job_definition(
        jobDefinitionName=name, type="container", parameters={"inputs": "-", "word": "x"},
        containerProperties={"image": launcher_image, "vcpus": 1, "memory": 256,
                             "command": ["python3", "-c", STEP, "Ref::inputs", "Ref::word"],
                             "environment": [{"name": k, "value": v} for k, v in env.items()]})
    project.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    record_definition(project, name, jd["jobDefinitionArn"])
    for key, value in {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)
    return project


def execute(pipeline: Pipeline, *argv):
    from batchdeploy import cli
    from batchdeploy.pipelines import verb

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            args = cli.parse(["pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait", *argv])
            ctx = cli.make_context(args)
            code = verb.run_pipeline(ctx, pipeline, list(pipeline.steps), verb.PipelineOptions.from_args(args))
        except errors.BatchdeployError as exc:
            print(f"batchdeploy: error: {exc.line()}", file=stderr)
            code = exc.exit_code
    return code, stdout.getvalue(), stderr.getvalue()


def text(batch: Batch, run_id: str, step: str, name: str = "out") -> str | None:
    try:
        return batch.s3.get_object(Bucket=batch.bucket, Key=f"results/{run_id}/{step}/{name}.txt")["Body"].read().decode()
    except batch.s3.exceptions.NoSuchKey:
        return None


def test_a_diamond_runs_each_step_after_its_parents_and_d_reads_b_and_c(batch, pipe):
    p = Pipeline("dia", [
        Step("a", parameters={"word": "a"}),
        Step("b", parameters={"inputs": OUT % "a" + "out.txt", "word": "b"}, depends_on=[Dependency("a")]),
        Step("c", parameters={"inputs": OUT % "a" + "out.txt", "word": "c"}, depends_on=[Dependency("a")]),
        Step("d", parameters={"inputs": f"{OUT % 'b'}out.txt,{OUT % 'c'}out.txt", "word": "d"},
             depends_on=[Dependency("b"), Dependency("c")]),
    ])
    code, out, err = execute(p)
    assert code == 0, out + err
    run_id = runs.RUN_ID.search(out).group(0)
    assert text(batch, run_id, "d") == "d(b(a())+c(a()))"


def test_a_map_then_an_n_to_n_map_then_a_summary(batch, pipe):
    fit = Sweep([SweepTask(i, {"word": f"f{i}"}) for i in (1, 2)], ["word"], {"kind": "grid"})
    score = Sweep([SweepTask(i, {"word": f"s{i}", "inputs": f"{OUT % 'fit'}{i}/out.txt"}) for i in (1, 2)], ["word"],
                  {"kind": "grid"})
    p = Pipeline("mapn", [
        Step("fit", map=fit),
        Step("score", map=score, depends_on=[Dependency("fit", "N_TO_N")]),
        Step("sum", parameters={"inputs": f"{OUT % 'score'}1/out.txt,{OUT % 'score'}2/out.txt", "word": "sum"},
             depends_on=[Dependency("score")]),
    ])
    code, out, err = execute(p, "--logs", "score")
    assert code == 0, out + err
    run_id = runs.RUN_ID.search(out).group(0)
    assert text(batch, run_id, "sum") == "sum(s1(f1())+s2(f2()))"
    # --logs score: the array's children's lines, each named by its task; no other step's
    logged = [line for line in out.splitlines() if ": step " in line]
    assert sorted(logged) == ["score[1]: step s1 ['f1()']", "score[2]: step s2 ['f2()']"], out


def cli(*argv):
    from tests.run_support import inprocess

    return inprocess(list(argv))


CHAIN = """\
name: chain
steps:
  a: {parameters: {word: a}}
  b: {depends_on: [a], parameters: {inputs: "{steps.a.output}out.txt", word: WORD}}
  c: {depends_on: [b], parameters: {inputs: "{steps.b.output}out.txt", word: c}}
"""


def test_a_failing_middle_step_stops_what_follows_and_rerun_after_the_fix_runs_only_it_and_after(batch, pipe):
    pipe.write("pipeline.yaml", CHAIN.replace("WORD", "fail"))
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 3, out + err
    assert "step b failed: c will not run" in err
    first = runs.RUN_ID.search(out).group(0)
    assert text(batch, first, "a") == "a()" and text(batch, first, "c") is None

    pipe.write("pipeline.yaml", CHAIN.replace("WORD", "b"))  # the fix
    code, out, err = cli("pipeline", "rerun", first, "--no-credentials", "--wait")
    assert code == 0, out + err
    assert f"rerun of {first}: b, c (reusing a)" in err
    # the rerun's steps write to the original run's locations, and read a's output from there
    assert text(batch, first, "c") == "c(b(a()))"
    code, out, err = cli("status", first)
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines()[1:4]] == ["SUCCEEDED"] * 3


LATE = """\
name: late
steps:
  fit: {map: {tasks: fit.tsv}}
  sum:
    depends_on: [fit]
    parameters: {inputs: "{steps.fit.output}1/out.txt,{steps.fit.output}2/out.txt,{steps.fit.output}3/out.txt", word: sum}
"""


def test_a_rerun_runs_again_only_the_map_tasks_that_did_not_succeed(batch, pipe):
    """fit is one array of three; task 2 reads an input that is not there yet and fails, so sum does not
    run. Once the input is there, the rerun keeps tasks 1 and 3 (they succeeded; today's file gives them
    the same entries) and runs task 2 alone, then sum, which reads all three where the first run wrote them."""
    late = f"{unique('late')}/in.txt"
    pipe.write("pipeline.yaml", LATE)
    pipe.write("fit.tsv", f"--param word\t--param inputs\nf1\t-\nf2\ts3://{batch.bucket}/{late}\nf3\t-\n")
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
    assert code == 3, out + err
    first = runs.RUN_ID.search(out).group(0)
    assert text(batch, first, "fit/1") == "f1()" and text(batch, first, "fit/2") is None

    batch.s3.put_object(Bucket=batch.bucket, Key=late, Body=b"in")  # the fix
    code, out, err = cli("pipeline", "rerun", first, "--no-credentials", "--wait")
    assert code == 0, out + err
    assert "step fit: 2 of 3 tasks succeeded before and are kept (1, 3); 1 submitted" in err
    assert text(batch, first, "sum") == "sum(f1()+f2(in)+f3())"
    second = runs.RUN_ID.search(out.split("run:")[1]).group(0)
    # the launcher ran task 2 alone in the rerun: its records hold no other task
    listed = batch.s3.list_objects_v2(Bucket=batch.bucket, Prefix=f"runs/{second}/maps/fit/tasks/").get("Contents", [])
    assert {o["Key"].split("/tasks/")[1].split("/")[0] for o in listed} == {"2"}
    code, out, err = cli("status", first, "--output", "json")
    fit = next(s for s in json.loads(out)["steps"] if s["name"] == "fit")
    assert fit["state"] == "SUCCEEDED" and fit["map"] == 3 and fit["kept"] == 2, fit
    # the report reads the three tasks, the kept ones from the first run
    code, out, err = cli("report", first, "--output", "json")
    rows = json.loads(out)["runs"][0]["tasks"]
    assert [(t["params"]["step"], t["params"]["word"], t["state"]) for t in rows] == [
        ("fit", "f1", "SUCCEEDED"), ("fit", "f2", "SUCCEEDED"), ("fit", "f3", "SUCCEEDED"), ("sum", "sum", "SUCCEEDED")]

def plain_definition(batch: Batch, image: str, name: str, command: list) -> str:
    """`command` on `image`, the launcher not declared (the base image has none): what -u registers for
    an image built without the launcher line."""
    env = {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
    return batch.batch.register_job_definition(
        jobDefinitionName=name, type="container", parameters={"inputs": "-", "word": "x"},
        containerProperties={"image": image, "vcpus": 1, "memory": 256, "command": command,
                             "environment": [{"name": k, "value": v} for k, v in env.items()]})["jobDefinitionName"]


PER_TASK = """\
name: pt
steps:
  fit:
    job_definition: PLAIN
    map: {grid: {word: [f1, f2]}}
  score:
    job_definition: PLAIN
    depends_on: [{step: fit, type: N_TO_N}]
    map: {tasks: score.tsv}
  sum:
    depends_on: [score]
    parameters: {inputs: "{steps.score.output}1/out.txt,{steps.score.output}2/out.txt", word: sum}
"""


def test_a_map_on_an_image_without_the_launcher_runs_one_job_per_task_and_n_to_n_task_by_task(batch, pipe, local_stack):
    plain = plain_definition(batch, local_stack.env["BATCHDEPLOY_BASE_IMAGE"], unique("plain"),
                             ["python3", "-c", STEP, "Ref::inputs", "Ref::word"])
    pipe.write("pipeline.yaml", PER_TASK.replace("PLAIN", plain))
    pipe.write("score.tsv", "--param word\t--param inputs\n"
               "s1\t{steps.fit.output}1/out.txt\ns2\t{steps.fit.output}2/out.txt\n")
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait", "--logs", "fit")
    assert code == 0, out + err
    assert "no launcher in the image of fit, score: one job per task" in err
    assert sorted(line for line in out.splitlines() if ": step " in line) == ["fit[1]: step f1 []", "fit[2]: step f2 []"]
    run_id = runs.RUN_ID.search(out).group(0)
    assert text(batch, run_id, "sum") == "sum(s1(f1())+s2(f2()))"
    code, out, err = cli("status", run_id)
    assert code == 0, err
    assert "[map 2, one job per task] (SUCCEEDED 2)" in out, out


CODE = """\
name: coded
settings: {code: src}
steps:
  a: {command: [python3, step.py, Ref::inputs, Ref::word], parameters: {word: a}}
  b:
    depends_on: [a]
    command: [python3, step.py, Ref::inputs, Ref::word]
    parameters: {inputs: "{steps.a.output}out.txt", word: b}
"""


def test_settings_code_runs_each_step_from_the_bundle_and_a_change_needs_no_image_rebuild(batch, pipe):
    """The pipe's definition declares the launcher (as an image built elsewhere would); step.py is only
    in the bundle, and its second version runs with no image rebuilt and no definition registered."""
    results = []
    for version in ("v1", "v2"):
        pipe.write("src/step.py", STEP.replace("word + '('", f"'{version}:' + word + '('") + "\n")
        pipe.write("pipeline.yaml", CODE)
        code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait")
        assert code == 0, out + err
        assert "code bundle" in err
        results.append(text(batch, runs.RUN_ID.search(out).group(0), "b"))
    assert results == ["v1:b(v1:a())", "v2:b(v2:a())"]


def test_logs_prints_the_steps_lines_as_plain_lines_prefixed_by_the_step_and_status_wait_follows_too(batch, pipe):
    """Not a terminal (a pipe): each log line one plain line on stdout. The local stack's containers send
    their lines to CloudWatch when they end (moto's docker runner), so a step's lines come at its end;
    on AWS they come while it runs."""
    pipe.write("pipeline.yaml", CHAIN.replace("WORD", "b"))
    code, out, err = cli("pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait", "--logs")
    assert code == 0, out + err
    logged = [line for line in out.splitlines() if ": step " in line]
    assert logged == ["a: step a []", "b: step b ['a()']", "c: step c ['b(a())']"], out
    run_id = runs.RUN_ID.search(out).group(0)
    code, out, err = cli("pipeline", "status", run_id, "--wait", "--logs", "b")
    assert code == 0, out + err
    assert [line for line in out.splitlines() if ": step " in line] == ["b: step b ['a()']"], out
    # -r NAME --pipeline FILE takes --logs too (deploy.sh's -r form of `pipeline run`)
    code, out, err = cli("run", "chain", "--pipeline", "pipeline.yaml", "--no-credentials", "--wait", "--logs", "c")
    assert code == 0, out + err
    assert [line for line in out.splitlines() if ": step " in line] == ["c: step c ['b(a())']"], out
