"""A sweep against its job definition, each task's own output location, and {run_id}/{task}."""

from __future__ import annotations

import pytest

from batchdeploy.errors import USAGE, UsageError
from batchdeploy.sweeps.check import check_against_definition
from batchdeploy.sweeps.grid import parse_grid
from batchdeploy.sweeps.outputs import OUTPUT_DIR, expand, task_output_url, with_outputs
from batchdeploy.sweeps.tasksfile import parse_tasks

JD = {
    "jobDefinitionName": "exp", "revision": 3,
    "parameters": {"seed": "file", "output_path": "s3://bkt/results/default"},
    "containerProperties": {"command": ["run", "--seed", "Ref::seed", "--lr", "Ref::lr", "--out", "Ref::output_path"]},
}


def tsv(*rows: str) -> bytes:
    return "".join(r + "\n" for r in rows).encode()


def refused(call, *args, **kw) -> str:
    with pytest.raises(UsageError) as caught:
        call(*args, **kw)
    assert "\n" not in caught.value.line() and caught.value.exit_code == USAGE
    return caught.value.line()


def outputs(sweep, jd=JD, **kw):
    return with_outputs(sweep, run_id="r-20261130-abc", bucket="bkt", results_prefix="results", job_definition=jd, **kw)


def test_defaults_fill_every_task_and_the_varying_columns_stay():
    sweep = check_against_definition(parse_grid(["lr=0.1,0.2"]), JD)
    assert [t.params for t in sweep.tasks] == [
        {"seed": "file", "output_path": "s3://bkt/results/default", "lr": "0.1"},
        {"seed": "file", "output_path": "s3://bkt/results/default", "lr": "0.2"},
    ]
    assert sweep.varying == ["lr"]


def test_an_unknown_parameter_names_its_column_and_the_valid_ones():
    line = refused(check_against_definition, parse_tasks(tsv("A\t--param lr\t--param epochs", "1\t0.1\t3"), "t.tsv"), JD)
    assert line.startswith("t.tsv: 1 problem: line 1 column 3: unknown parameter epochs for exp:3;")
    assert line.endswith("valid parameters of exp:3: seed, lr, output_path")
    assert "--grid: 1 problem: unknown parameter epochs for exp:3" in refused(
        check_against_definition, parse_grid(["epochs=1,2"], {"lr": "1"}), JD)


def test_a_placeholder_without_a_value_names_each_line_that_lacks_it():
    line = refused(check_against_definition, parse_tasks(tsv("--param lr\tA", "0.1\t1", "\t2", "0.3\t3", "\t4"), "t.tsv"), JD)
    assert "2 problems: line 3: exp:3 needs a value for lr (Ref:: placeholder with no default); line 5: " in line
    assert "task 2: exp:3 needs a value for lr" in refused(check_against_definition, parse_grid(["seed=1,2"]), JD)


def test_task_output_url():
    assert task_output_url("bkt", "results", "r1", 7) == "s3://bkt/results/r1/7/"
    assert task_output_url("bkt", "", "r1", 7) == "s3://bkt/r1/7/"
    assert task_output_url("bkt", "/a/b/", "r1", 7) == "s3://bkt/a/b/r1/7/"


def test_each_task_gets_its_own_output_location_and_the_output_parameter():
    sweep = outputs(parse_grid(["lr=0.1,0.2"]))
    first, second = sweep.tasks
    url = "s3://bkt/results/r-20261130-abc/1/"
    assert first.env == {"BATCHDEPLOY_OUTPUT": url, "BATCHDEPLOY_OUTPUT_DIR": OUTPUT_DIR}
    assert first.outputs == [{"from": "outputs/task/", "to": url, "optional": True}]
    assert first.params["output_path"] == url.rstrip("/")
    assert second.params["output_path"] == "s3://bkt/results/r-20261130-abc/2"
    # the order with the definition check does not matter: the definition's default counts as unset
    checked_first = outputs(check_against_definition(parse_grid(["lr=0.1,0.2"]), JD))
    assert checked_first.tasks[1].params["output_path"] == "s3://bkt/results/r-20261130-abc/2"


def test_a_definition_without_the_parameter_gets_only_the_environment():
    jd = {"jobDefinitionName": "x", "containerProperties": {"command": ["run", "Ref::lr"]}}
    task = outputs(parse_grid(["lr=1,2"]), jd).tasks[0]
    assert "output_path" not in task.params and task.env["BATCHDEPLOY_OUTPUT"].endswith("/1/")
    named = outputs(parse_grid(["lr=1,2"]), {**jd, "parameters": {"dest": "d"}}, output_parameter="dest").tasks[1]
    assert named.params["dest"] == "s3://bkt/results/r-20261130-abc/2"


def test_one_output_value_for_every_task_is_refused_unless_it_names_the_task():
    same = parse_tasks(tsv("--param output_path", "s3://bkt/x", "s3://bkt/x"), "t.tsv")
    line = refused(outputs, same)
    assert "t.tsv: 1 problem: output_path=s3://bkt/x is the output of 2 tasks; put {task} in it" in line
    templated = outputs(parse_tasks(tsv("--param output_path", "s3://bkt/{run_id}/{task}", "s3://bkt/{run_id}/{task}")))
    assert [t.params["output_path"] for t in templated.tasks] == ["s3://bkt/r-20261130-abc/1", "s3://bkt/r-20261130-abc/2"]
    own = outputs(parse_tasks(tsv("--param output_path", "s3://bkt/a", "s3://bkt/b")))
    assert [t.params["output_path"] for t in own.tasks] == ["s3://bkt/a", "s3://bkt/b"]  # set by the sweep: kept
    assert "is the output of 2 tasks" in refused(outputs, parse_grid(["lr=1,2"], {"output_path": "s3://bkt/same"}))


def test_templates_expand_in_params_environment_inputs_and_outputs():
    sweep = parse_tasks(tsv("--param lr\tNAME\t--input I\t--output-recursive O",
                            "{task}\trun {run_id} task {task} {other}\ts3://bkt/in/{task}.csv\ts3://bkt/out/{run_id}/{task}"))
    task = outputs(sweep).tasks[0]
    assert task.params["lr"] == "1" and task.env["NAME"] == "run r-20261130-abc task 1 {other}"
    assert task.env["I"] == "inputs/I/1.csv" and task.inputs == [{"from": "s3://bkt/in/1.csv", "to": "inputs/I/1.csv"}]
    assert task.outputs[0] == {"from": "outputs/O/", "to": "s3://bkt/out/r-20261130-abc/1/"}
    assert expand("{task}{task}{run_id}", "r", 12) == "1212r"


def test_a_column_whose_folder_is_the_default_outputs_is_refused():
    sweep = parse_tasks(tsv("--output-recursive task", "s3://bkt/o/{task}/"), "t.tsv")
    assert "line 2: outputs/task/ is the folder of the task's default output" in refused(outputs, sweep)


def test_fixed_parameters_join_every_task_of_a_tasks_file():
    from batchdeploy.sweeps.check import with_fixed

    sweep = parse_tasks(tsv("--param seed\tA", "1\tx", "2\ty"), "t.tsv")
    fixed = with_fixed(sweep, {"lr": "0.1"})
    assert [t.params for t in fixed.tasks] == [{"lr": "0.1", "seed": "1"}, {"lr": "0.1", "seed": "2"}]
    assert fixed.source["fixed"] == {"lr": "0.1"} and fixed.varying == sweep.varying
    assert with_fixed(sweep, {}) is sweep
    line = refused(with_fixed, sweep, {"seed": "5"})
    assert "t.tsv: 1 problem: line 1 column 1: seed is both a column and a fixed parameter (seed=5)" in line
