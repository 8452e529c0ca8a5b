"""bags.arrays.plan: which tasks go as one array through the launcher's manifest, and which stay one
job each (pure: the requests in, the SubmitJobs and manifests out)."""

from __future__ import annotations

from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.bags.arrays import plan
from batchdeploy.bags.execute import Placed, request_for
from batchdeploy.bags.submitfile import BagTask

LAUNCHER = "/usr/local/bin/batchdeploy-launch"


def placed(name: str, jd: str = "jd", queue: str = "q", env: dict | None = None) -> Placed:
    task = BagTask(name, ["run.sh", name])
    return Placed(task, request_for(task, env or {"PEGASUS_JOB_NAME": name}, jd, queue, f"tok-{name}"))


def test_tasks_sharing_a_definition_and_queue_are_one_array_with_their_own_commands_and_environments():
    bag = [placed("a"), placed("b"), placed("c", queue="other"), placed("d")]
    units = plan(bag, {"jd": LAUNCHER}, bucket="bkt", key_prefix="in/", token="tok")
    array, single = units
    assert [p.task.name for p in array.placed] == ["a", "b", "d"] and array.is_array
    assert array.request["arrayProperties"] == {"size": 3}
    assert array.request["containerOverrides"]["command"][:2] == [LAUNCHER, "--manifest"]
    assert array.request["containerOverrides"]["command"][2] == f"s3://bkt/{array.manifest_key}"
    assert array.manifest_key.startswith("in/manifests/")
    assert array.request["tags"][TAG_CLIENT_TOKEN] == "tok-a1"
    tasks = array.manifest.doc["tasks"]
    assert [t["command"] for t in tasks] == [["run.sh", "a"], ["run.sh", "b"], ["run.sh", "d"]]
    assert tasks[2]["environment"] == {"PEGASUS_JOB_NAME": "d"}
    assert not single.is_array and single.request is bag[2].request  # alone on its queue: its own job


def test_without_the_launcher_every_task_is_its_own_job():
    bag = [placed("a"), placed("b")]
    units = plan(bag, {"jd": None}, bucket="bkt", key_prefix="", token="tok")
    assert [u.is_array for u in units] == [False, False]


def test_a_secret_looking_environment_keeps_the_group_out_of_the_manifest_and_says_so():
    bag = [placed("a", env={"API_TOKEN": "x"}), placed("b")]
    notes: list[str] = []
    units = plan(bag, {"jd": LAUNCHER}, bucket="bkt", key_prefix="", token="tok", notes=notes)
    assert [u.is_array for u in units] == [False, False]
    assert "API_TOKEN" in notes[0]
