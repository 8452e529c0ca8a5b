"""pegasus job submit files: read as pegasus reads them (the seed's own example included), and every
way they lose work refused at once, before anything is uploaded or submitted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchdeploy import errors
from batchdeploy.bags.submitfile import load
from batchdeploy.errors import ConfigError


def write(folder: Path, name: str, doc) -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def problems(tmp_path, *docs, common=()) -> str:
    paths = [write(tmp_path, f"f{i}.json", d) for i, d in enumerate(docs)]
    with pytest.raises(ConfigError) as e:
        load(paths, tmp_path, [tmp_path / c for c in common])
    assert e.value.exit_code == errors.USAGE
    assert "\n" not in e.value.line()
    return e.value.line()


def test_the_seeds_example_reads_as_pegasus_reads_it(tmp_path):
    """The submit file of the pegasus manual (seed 003), with its inputs present."""
    (tmp_path / "input" / "00" / "00").mkdir(parents=True)
    (tmp_path / "input" / "worker.tar.gz").write_bytes(b"w")
    (tmp_path / "input" / "00" / "00" / "findrange_ID0000002.sh").write_text("#!/bin/sh\n")
    doc = {"SubmitJob": [{
        "jobName": "findrange_ID0000002",
        "executable": "pegasus-aws-batch-launch.sh",
        "arguments": "findrange_ID0000002.sh",
        "environment": [
            {"name": "S3CFG_aws_batch", "value": "s3://pegasus-batch-bamboo/mybatch-bucket/run0001/.s3cfg"},
            {"name": "TRANSFER_INPUT_FILES",
             "value": f"{tmp_path}/input/worker.tar.gz,input/00/00/findrange_ID0000002.sh"},
            {"name": "BATCH_FILE_TYPE", "value": "script"},
        ],
    }]}
    bag = load([write(tmp_path, "diamond.in", doc)], tmp_path)
    (task,) = bag.tasks
    assert task.name == "findrange_ID0000002"
    assert task.command == ["pegasus-aws-batch-launch.sh", "findrange_ID0000002.sh"]
    assert task.environment["TRANSFER_INPUT_FILES"] == "worker.tar.gz,findrange_ID0000002.sh"
    assert task.environment["BATCH_FILE_TYPE"] == "script"
    assert [p.name for p in task.inputs] == ["worker.tar.gz", "findrange_ID0000002.sh"]
    assert set(bag.uploads()) == {"worker.tar.gz", "findrange_ID0000002.sh"} and bag.warnings == []


def test_keys_in_any_case_scalars_as_text_arguments_one_word_and_several_files_in_order(tmp_path):
    a = write(tmp_path, "a.json", {"submitjob": [{"JOBNAME": "one", "Executable": "run.sh", "arguments": 60},
                                                 {"jobName": "two", "executable": "x", "arguments": "a b  c"}]})
    b = write(tmp_path, "b.json", {"SubmitJob": [{"jobName": "three", "executable": "y", "jobQueue": "q2",
                                                  "jobDefinition": "jd2", "environment": [{"NAME": "K", "value": 1}]}]})
    bag = load([a, b], tmp_path)
    assert [t.name for t in bag.tasks] == ["one", "two", "three"]
    assert [t.command for t in bag.tasks] == [["run.sh", "60"], ["x", "a b  c"], ["y"]]
    assert (bag.tasks[2].job_queue, bag.tasks[2].job_definition, bag.tasks[2].environment) == ("q2", "jd2", {"K": "1"})
    assert bag.tasks[0].job_queue is None


def test_keys_pegasus_ignores_are_ignored_with_a_warning(tmp_path):
    bag = load([write(tmp_path, "a.json", {"SubmitJob": [{"jobName": "a", "executable": "x", "retries": 3}]})], tmp_path)
    assert bag.warnings == ["a.json task 1: ignored key 'retries' (pegasus ignores it too)"]


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"Jobs": []}, "f0.json: SubmitJob value should be of type array"),
        ({"SubmitJob": {"jobName": "a"}}, "f0.json: SubmitJob value should be of type array"),
        ([1, 2], "f0.json: SubmitJob value should be of type array"),
        ({"SubmitJob": []}, "f0.json: SubmitJob holds no tasks"),
        ({"SubmitJob": ["x"]}, "f0.json task 1: a task must be a JSON object"),
        ({"SubmitJob": [{"executable": "x"}]}, "f0.json task 1: no jobName"),
        ({"SubmitJob": [{"jobName": "a"}]}, "f0.json task 1: no executable"),
        ({"SubmitJob": [{"jobName": "a b", "executable": "x"}]}, "jobName 'a b' is not a job name AWS takes"),
        ({"SubmitJob": [{"jobName": "a", "JobName": "b", "executable": "x"}]}, "task 1: jobName given twice"),
        ({"SubmitJob": [{"jobName": "a", "executable": "x", "environment": {"K": "V"}}]},
         "environment must be an array of {name, value}"),
        ({"SubmitJob": [{"jobName": "a", "executable": "x", "environment": [{"value": "V"}]}]},
         "environment entry 1 has no name"),
        ({"SubmitJob": [{"jobName": "a", "executable": "x", "environment": [{"name": "K"}, {"name": "K"}]}]},
         "environment K given twice"),
        ({"SubmitJob": [{"jobName": "a", "executable": "x",
                         "environment": [{"name": "TRANSFER_INPUT_FILES", "value": "nope.txt"}]}]},
         "TRANSFER_INPUT_FILES names nope.txt, which is missing"),
        ("{not json", "invalid JSON at line 1 column 2"),
    ],
)
def test_a_bad_submit_file_is_one_line_exit_2(tmp_path, doc, words):
    assert words in problems(tmp_path, doc)


def test_a_duplicate_job_name_across_files_is_refused(tmp_path):
    line = problems(tmp_path, {"SubmitJob": [{"jobName": "same", "executable": "x"}]},
                    {"SubmitJob": [{"jobName": "same", "executable": "y"}]})
    assert "f1.json task 1: jobName same is also f0.json task 1's" in line


def test_two_files_with_one_basename_are_refused_where_pegasus_overwrites(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.csv").write_text(folder)
    env = [{"name": "TRANSFER_INPUT_FILES", "value": "a/data.csv"}]
    line = problems(tmp_path, {"SubmitJob": [
        {"jobName": "t1", "executable": "x", "environment": env},
        {"jobName": "t2", "executable": "x", "environment": [{"name": "TRANSFER_INPUT_FILES", "value": "b/data.csv"}]},
    ]})
    assert "f0.json task 2: " in line and "share the basename data.csv" in line


def test_one_file_used_by_several_tasks_and_by_f_is_uploaded_once(tmp_path):
    (tmp_path / "common.sh").write_text("x")
    env = [{"name": "TRANSFER_INPUT_FILES", "value": "common.sh"}]
    path = write(tmp_path, "a.json", {"SubmitJob": [{"jobName": f"t{i}", "executable": "x", "environment": env}
                                                   for i in range(3)]})
    bag = load([path], tmp_path, [tmp_path / "common.sh"])
    assert list(bag.uploads()) == ["common.sh"]


def test_an_f_file_colliding_with_a_task_input_or_missing_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "run.sh").write_text("task's")
    (tmp_path / "run.sh").write_text("common")
    env = [{"name": "TRANSFER_INPUT_FILES", "value": "x/run.sh"}]
    line = problems(tmp_path, {"SubmitJob": [{"jobName": "t", "executable": "x", "environment": env}]},
                    common=("run.sh", "gone.txt"))
    assert "-f names" in line and "gone.txt, which is missing" in line and "share the basename run.sh" in line


def test_every_problem_is_listed_at_once_up_to_ten(tmp_path):
    line = problems(tmp_path, {"SubmitJob": [{"jobName": f"bad name {i}"} for i in range(8)]})
    assert line.startswith("16 problem(s) in the job submit files: ") and "(and 6 more)" in line
