"""A sweep's task ids through the manifest to the launcher: the manifest keeps them, the launcher checks
them, exports BATCHDEPLOY_TASK_ID and names its records by them."""

from __future__ import annotations

import json

import pytest

from batchdeploy import manifest
from batchdeploy.errors import UsageError
from batchdeploy.launch import EXIT_MANIFEST, record, spec
from batchdeploy.launch.main import Launch, Options
from batchdeploy.launch.spec import LaunchError
from batchdeploy.sweeps.grid import parse_grid
from batchdeploy.sweeps.model import to_manifest_tasks
from batchdeploy.sweeps.tasksfile import parse_tasks

TSV = b"--param seed\t--label name\t--output O\n1\ta\ts3://bkt/o/1\n2\tb\ts3://bkt/o/2\n3\tc\ts3://bkt/o/3\n"


def test_to_manifest_tasks_keeps_ids_and_leaves_labels_out():
    tasks = to_manifest_tasks(parse_tasks(TSV, task_range="2-"), ["run", "Ref::seed"])
    assert [t["id"] for t in tasks] == [2, 3]
    assert tasks[0] == {"id": 2, "command": ["run", "Ref::seed"], "parameters": {"seed": "2"},
                        "environment": {"O": "outputs/O/2"}, "inputs": [],
                        "outputs": [{"from": "outputs/O/2", "to": "s3://bkt/o/2"}]}
    assert "name" not in json.dumps(tasks) and to_manifest_tasks(parse_grid(["a=1"]))[0]["command"] is None


def test_ids_round_trip_through_the_manifest_to_the_launchers_task():
    built = manifest.build(to_manifest_tasks(parse_tasks(TSV, task_range="2-")), command=["run", "Ref::seed"])
    assert [t["id"] for t in built.doc["tasks"]] == [2, 3]
    doc = spec.parse_manifest(built.data, "s3://bkt/m.json")
    task = spec.select_task(doc, 1)
    assert (task.index, task.id, task.command) == (1, 3, ["run", "3"])


def test_a_manifest_without_ids_names_tasks_by_index():
    built = manifest.build([{"parameters": {"a": "1"}}, {"parameters": {"a": "2"}}], command=["run"])
    assert "id" not in built.doc["tasks"][0]
    task = spec.select_task(spec.parse_manifest(built.data, "s3://b/m"), 1)
    assert (task.index, task.id) == (1, 1)


@pytest.mark.parametrize("ids, says", [
    ([0, 1], "task 0: id 0 is not a positive integer"),
    ([-1, 1], "id -1 is not a positive integer"),
    (["1", 2], "id '1' is not a positive integer"),
    ([True, 2], "id True is not a positive integer"),
    ([1.0, 2], "id 1.0 is not a positive integer"),
    ([4, 4], "task ids must be unique; given more than once: 4"),
    ([4, None], "some tasks have an id and some do not"),
])
def test_bad_ids_are_refused_by_both_sides(ids, says):
    tasks = [{"parameters": {}} if i is None else {"id": i, "parameters": {}} for i in ids]
    with pytest.raises(UsageError, match="the tasks do not make a manifest") as caught:
        manifest.build(tasks, command=["run"])
    assert says in caught.value.message
    raw = json.dumps({"format": spec.MANIFEST_FORMAT, "command": ["run"], "tasks": tasks}).encode()
    with pytest.raises(LaunchError) as err:
        spec.parse_manifest(raw, "s3://b/m")
    assert err.value.code == EXIT_MANIFEST and says in err.value.message


def test_other_unknown_task_keys_are_still_refused():
    with pytest.raises(UsageError, match="unknown task keys: labels"):
        manifest.build([{"id": 1, "labels": {"a": "b"}}], command=["run"])


def test_the_child_sees_its_id_beside_its_index():
    job = Launch(Options(manifest="s3://b/m"), {}, {"base_env": {"HOME": "/h"}})
    env = job.child_env(spec.Task(4, ["run"], {"X": "1"}, {"a": "1"}, id=17), "/work")
    assert (env["BATCHDEPLOY_TASK_INDEX"], env["BATCHDEPLOY_TASK_ID"], env["X"]) == ("4", "17", "1")
    assert job.child_env(spec.Task(4, ["run"]), "/w")["BATCHDEPLOY_TASK_ID"] == "4"


class Bucket:
    """What the launcher asks of S3 to write a record: put_object, kept in a dict."""

    def __init__(self):
        self.objects = {}

    def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803 (botocore's argument names)
        self.objects[(Bucket, Key)] = Body


def test_the_record_is_keyed_by_the_task_id_and_names_both():
    ctx = {"task": 0, "task_id": 7, "attempt": 2, "started": 1.0, "command": ["run"]}
    job = Launch(Options(manifest="s3://b/m", records="s3://bkt/runs/r1/"), {}, ctx)
    job.client = Bucket()
    assert job.write_record(None, LaunchError(EXIT_MANIFEST, "x")) is None
    [(where, body)] = job.client.objects.items()
    assert where == ("bkt", "runs/r1/tasks/7/attempt-2.json")
    doc = json.loads(body)
    assert (doc["task"], doc["index"]) == (7, 0)


def test_before_the_manifest_is_read_the_record_falls_back_to_the_index():
    assert record.task_id({"task": 5}) == 5 and record.task_id({"task": 5, "task_id": 9}) == 9
    assert record.build_record({"task": 5, "attempt": 1})["task"] == 5
