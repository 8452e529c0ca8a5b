"""The pure parts of a sweep's submit: array splitting, the requests of each shape, the pacer, the
watcher's done rule and request counts (against a fake Batch client), the tables."""

from __future__ import annotations

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.jobs import request as req
from batchdeploy.sweeps import plan as plans
from batchdeploy.sweeps.follow import FAILED_COLUMNS, failure_rows, progress_text, table
from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.watch import Failure, SweepWatcher, Tracked, done_from_summary

JD = {
    "jobDefinitionName": "exp", "revision": 3, "jobDefinitionArn": "arn:aws:batch:us-east-1:1:job-definition/exp:3",
    "type": "container", "parameters": {"lr": "0.1", "seed": "1"},
    "containerProperties": {"image": "r/exp:1", "command": ["python3", "train.py", "Ref::lr", "Ref::seed"]},
}


def grid(**axes) -> Sweep:
    """A tiny local grid: the cartesian product, ids from 1."""
    import itertools

    names = list(axes)
    tasks = [SweepTask(id=i, params=dict(zip(names, combo)))
             for i, combo in enumerate(itertools.product(*axes.values()), 1)]
    return Sweep(tasks, names, {"kind": "grid", "grid": axes})


def spec(**kw) -> req.RunSpec:
    return req.RunSpec(name="exp", queue="q", job_definition=JD, client_token="tok",
                       overrides={"environment": [{"name": "A", "value": "1"}]}, **kw)


WHERE = dict(records="s3://b/runs/R/", bucket="b", prefix="runs")


def test_split_keeps_order_and_aws_array_limit():
    ids = list(range(1, 25_002))
    chunks = plans.split(ids)
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_001]
    assert [i for c in chunks for i in c] == ids
    assert plans.split([7]) == [[7]]


def test_arrays_one_manifest_and_one_array_with_ids_and_a_token_each():
    p = plans.plan_arrays(spec(), grid(lr=["0.1", "0.2", "0.3"], seed=["1", "2"]), launcher="batchdeploy-launch",
                          bundle=None, **WHERE)
    assert p.mode == "array" and len(p.units) == 1 and len(p.manifests) == 1
    r = p.units[0].request
    assert r["arrayProperties"] == {"size": 6}
    assert r["containerOverrides"]["command"] == ["batchdeploy-launch", "--manifest", p.manifest_urls[0],
                                                 "--records", "s3://b/runs/R/"]
    assert r["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]
    assert r["tags"]["batchdeploy:client-token"] == "tok-a1"
    tasks = p.manifests[0].doc["tasks"]
    assert [t["id"] for t in tasks] == [1, 2, 3, 4, 5, 6]
    assert p.chunks == [[1, 2, 3, 4, 5, 6]]
    assert tasks[5]["parameters"] == {"lr": "0.3", "seed": "2"}
    assert p.manifests[0].doc["command"] == JD["containerProperties"]["command"]


def test_a_one_task_sweep_is_a_plain_job_on_the_same_manifest():
    p = plans.plan_arrays(spec(), grid(lr=["0.5"]), launcher="L", bundle=None, **WHERE)
    assert "arrayProperties" not in p.units[0].request
    assert p.manifests[0].doc["tasks"][0]["parameters"] == {"lr": "0.5", "seed": "1"}


def test_more_than_10000_tasks_make_several_arrays_each_with_its_own_manifest():
    sweep = Sweep([SweepTask(id=i, params={"seed": str(i)}) for i in range(1, 10_002)], ["seed"], {"kind": "grid"})
    p = plans.plan_arrays(spec(), sweep, launcher="L", bundle=None, **WHERE)
    assert [u.request.get("arrayProperties") for u in p.units] == [{"size": 10_000}, None]
    assert [u.task_ids[:1] for u in p.units] == [[1], [10_001]]
    assert p.manifests[1].doc["tasks"][0]["id"] == 10_001  # index 0 of array 2 is task 10,001
    assert len({u.request["tags"]["batchdeploy:client-token"] for u in p.units}) == 2
    assert p.manifest_urls[0] != p.manifest_urls[1]


def test_per_task_jobs_carry_their_params_and_env_and_their_own_token():
    sweep = Sweep([SweepTask(id=1, params={"lr": "0.2"}, env={"A": "9", "B": "2"}), SweepTask(id=2)], ["lr"], {})
    p = plans.plan_per_task(spec(), sweep, **WHERE)
    one, two = (u.request for u in p.units)
    assert one["jobName"] == "exp-1" and one["parameters"] == {"lr": "0.2"}
    assert one["containerOverrides"]["environment"] == [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]
    assert one["tags"]["batchdeploy:client-token"] == "tok-t1" and two["tags"]["batchdeploy:client-token"] == "tok-t2"
    assert "arrayProperties" not in one


def test_per_task_keeps_the_default_output_for_the_command_and_refuses_others():
    default = {"from": "outputs/task/", "to": "s3://b/results/R/1/", "optional": True}
    sweep = Sweep([SweepTask(id=1, env={"BATCHDEPLOY_OUTPUT": "s3://b/results/R/1/"}, outputs=[default])], [], {})
    p = plans.plan_per_task(spec(), sweep, **WHERE)
    assert p.manifests[0].doc["tasks"][0]["outputs"] == []  # the command writes to BATCHDEPLOY_OUTPUT itself


def test_per_task_refuses_inputs_and_outputs():
    sweep = Sweep([SweepTask(id=1), SweepTask(id=2, outputs=[{"from": "o/", "to": "s3://b/o/"}])], [], {})
    with pytest.raises(UsageError, match="tasks 2 have inputs or outputs, and the image has no launcher"):
        plans.plan_per_task(spec(), sweep, **WHERE)


def test_per_task_overrides_over_8_kib_are_refused_naming_the_task():
    sweep = Sweep([SweepTask(id=1), SweepTask(id=2, env={"BIG": "x" * 9000})], [], {})
    with pytest.raises(UsageError, match="task 2: containerOverrides are 9,"):
        plans.plan_per_task(spec(), sweep, **WHERE)


def test_task_names_stay_within_128_characters():
    assert len(plans.task_name("n" * 128, 10_000)) == 128
    assert plans.task_name("exp", 7) == "exp-7"


def test_pacer_holds_40_per_second():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    pacer = plans.Pacer(40, clock=lambda: now[0], sleep=sleep)
    for _ in range(81):
        pacer.wait()
    assert now[0] == pytest.approx(2.0)  # 81 calls: the 81st at 80/40 s
    assert all(s == pytest.approx(0.025) for s in slept)


def test_pacer_does_not_sleep_when_calls_are_slow_anyway():
    now = [0.0]
    slept = []
    pacer = plans.Pacer(40, clock=lambda: now[0], sleep=slept.append)
    for _ in range(5):
        pacer.wait()
        now[0] += 0.1  # each SubmitJob took 100 ms
    assert slept == []


# ---- watching -------------------------------------------------------------------------------------

def test_done_comes_from_the_summary_not_the_parent_status():
    assert done_from_summary({"SUCCEEDED": 4, "FAILED": 2}, 6)
    assert not done_from_summary({"SUCCEEDED": 4, "RUNNING": 2}, 6)
    t = Tracked("p", [1, 2, 3], {"status": "SUBMITTED", "arrayProperties": {"statusSummary": {
        "SUCCEEDED": 2, "FAILED": 1, "RUNNING": 0}, "size": 3}})
    assert t.done()  # moto leaves a parent whose children failed SUBMITTED


class FakeBatch:
    """A botocore-shaped Batch client: a parent whose summary moves through `steps`, one per call."""

    def __init__(self, steps, failed_children):
        self.steps, self.failed_children = steps, failed_children
        self.calls = {"describe_jobs": 0, "list_jobs": 0}

    def describe_jobs(self, jobs):
        self.calls["describe_jobs"] += 1
        summary = self.steps[min(self.calls["describe_jobs"] - 1, len(self.steps) - 1)]
        return {"jobs": [{"jobId": "p", "status": "SUBMITTED",
                          "arrayProperties": {"statusSummary": summary, "size": 6}}]}

    def get_paginator(self, name):
        fake = self

        class Pages:
            def paginate(self, **kw):
                assert kw == {"arrayJobId": "p", "jobStatus": "FAILED"}
                fake.calls["list_jobs"] += 1
                n = fake.steps[min(fake.calls["describe_jobs"] - 1, len(fake.steps) - 1)].get("FAILED", 0)
                yield {"jobSummaryList": fake.failed_children[:n]}
        return Pages()


def test_one_describe_per_poll_and_a_listing_only_when_the_failed_count_changes():
    steps = [{"RUNNING": 6}, {"RUNNING": 6}, {"RUNNING": 5, "FAILED": 1}, {"RUNNING": 4, "FAILED": 1, "SUCCEEDED": 1},
             {"RUNNING": 4, "FAILED": 1, "SUCCEEDED": 1}, {"FAILED": 2, "SUCCEEDED": 4}]
    children = [{"jobId": "p:4", "status": "FAILED", "container": {"exitCode": 3}, "statusReason": "Essential"},
                {"jobId": "p:0", "status": "FAILED"}]
    batch, now, seen = FakeBatch(steps, children), [0.0], []

    def sleep(s):
        now[0] += s

    w = SweepWatcher(batch, [Tracked("p", [1, 2, 3, 4, 5, 6])], sleep=sleep, clock=lambda: now[0])
    failures = w.run(lambda counts, t: seen.append(counts))
    assert batch.calls == {"describe_jobs": 6, "list_jobs": 2}  # 6 polls; failed count changed twice
    assert sorted(failures) == [1, 5]  # child 0 is task 1, child 4 task 5
    assert failures[5] == Failure(5, "p:4", 3, "Essential")
    assert len(seen) == 4  # a line per change of counts, not per poll


def test_progress_text_has_counts_rate_and_eta():
    text = progress_text({"RUNNING": 2, "SUCCEEDED": 3, "FAILED": 1}, 6, 40)
    assert text == "6 tasks: 2 RUNNING, 3 SUCCEEDED, 1 FAILED; 4/6 done, +40s, 0.10/s, ETA 20s"
    assert progress_text({"SUBMITTED": 1}, 1, 0) == "1 task: 1 SUBMITTED; 0/1 done, +0s"


def test_failed_table_shows_the_api_s_exit_code_and_none_for_a_container_that_never_ran():
    rows = failure_rows({2: Failure(2, "p:1", 3, ""), 1: Failure(1, "p:0", 137, "OutOfMemoryError"),
                         3: Failure(3, "p:2", None, "CannotPullContainerError: x")})
    assert [(r["task"], r["exit_code"]) for r in rows] == [(1, 137), (2, 3), (3, None)]
    lines = table(rows, FAILED_COLUMNS)
    assert lines[0].split() == ["TASK", "EXIT", "REASON", "LOGS"]
    assert lines[2].startswith("2     3") and lines[2].endswith("./deploy.sh --logs p:1")


def test_a_job_aws_never_lists_ends_the_watch_after_the_grace():
    from batchdeploy.errors import OperationError

    class Nothing(FakeBatch):
        def describe_jobs(self, jobs):
            self.calls["describe_jobs"] += 1
            return {"jobs": []}

    now = [0.0]

    def sleep(s):
        now[0] += s

    w = SweepWatcher(Nothing([], []), [Tracked("p", [1, 2])], sleep=sleep, clock=lambda: now[0], missing_grace_s=30)
    with pytest.raises(OperationError, match="job p of the sweep is unknown to AWS Batch"):
        w.run(lambda counts, t: None)
    assert 30 < now[0] < 40
