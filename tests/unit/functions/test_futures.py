"""Futures on an injected clock: states, timeouts, the pace of looks, cancel, and map's gathering.
The AWS clients are stand-ins (no network); nothing sleeps."""

from types import SimpleNamespace

import pytest

from batchdeploy.functions import futures
from batchdeploy.functions.submit import Submitted


class FakeBatch:
    def __init__(self, states):
        self.states = states  # job id -> list of statuses, one per look (the last repeats)
        self.looks, self.terminated = [], []

    def describe_jobs(self, jobs):
        self.looks.append(list(jobs))
        out = []
        for j in jobs:
            seq = self.states[j]
            out.append({"jobId": j, "status": seq.pop(0) if len(seq) > 1 else seq[0], "statusReason": "Essential container exited"})
        return {"jobs": out}

    def terminate_job(self, jobId, reason):
        self.terminated.append(jobId)


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def tracker(states, units, poll=10.0, results=None):
    batch, clock = FakeBatch(states), Clock()
    aws = SimpleNamespace(client=lambda name, **_: batch)
    ctx = SimpleNamespace(aws=aws, clock=clock, sleep=clock.sleep)
    sub = Submitted("20261130T000000Z-abcdef", "f", "b", "runs", "q", units,
                    {i: f"s3://b/runs/r/results/{i}.pkl" for _, ids in units for i in ids}, "arn", False)
    t = futures.Tracker(ctx, sub, poll)
    if results is not None:
        t.outcome = lambda task: results[task]
    return t, batch, clock


def test_done_looks_once_and_not_again_after_the_end():
    t, batch, _ = tracker({"j1": ["RUNNABLE", "SUCCEEDED"]}, [("j1", [1])])
    f = futures.Future(t)
    assert f.job_id == "j1" and f.run_id == "20261130T000000Z-abcdef"
    assert f.done() is False
    assert f.done() is True
    assert f.done() is True and len(batch.looks) == 2


def test_result_waits_with_a_backoff_capped_by_poll_and_never_really_sleeps():
    t, batch, clock = tracker({"j1": ["RUNNABLE"] * 12 + ["SUCCEEDED"]}, [("j1", [1])], poll=3.0,
                              results={1: (True, 42)})
    assert futures.Future(t).result() == 42
    assert clock.slept[0] == futures.FIRST_LOOK_S and max(clock.slept) == 3.0
    assert len(batch.looks) == 13


def test_result_times_out_on_the_injected_clock():
    t, _, clock = tracker({"j1": ["RUNNING"]}, [("j1", [1])], poll=5.0)
    with pytest.raises(TimeoutError, match="not done after 20 s"):
        futures.Future(t).result(timeout=20)
    assert clock.now == pytest.approx(20.0)


def test_a_failed_call_raises_its_exception_and_exception_returns_it():
    t, _, _ = tracker({"j1": ["FAILED"]}, [("j1", [1])], results={1: (False, ZeroDivisionError("remote"))})
    f = futures.Future(t)
    with pytest.raises(ZeroDivisionError, match="remote"):
        f.result()
    assert isinstance(f.exception(), ZeroDivisionError)


def test_cancel_terminates_a_live_job_and_not_an_ended_one():
    t, batch, _ = tracker({"j1": ["RUNNING"], "j2": ["SUCCEEDED"]}, [("j1", [1]), ("j2", [2])])
    assert futures.Future(t, 1).cancel() is True and batch.terminated == ["j1"]
    assert futures.Future(t, 2).cancel() is False and batch.terminated == ["j1"]


def test_map_children_are_parent_index_and_only_parents_are_looked_at():
    t, batch, _ = tracker({"p": ["RUNNING", "FAILED"]}, [("p", [1, 2, 3])],
                          results={1: (True, 1), 2: (False, ValueError("two")), 3: (True, 9)})
    assert [futures.Future(t, i).job_id for i in (1, 2, 3)] == ["p:0", "p:1", "p:2"]
    with pytest.raises(futures.MapError) as caught:
        futures.gather(t, 3, None, return_exceptions=False)
    assert caught.value.results == [1, None, 9] and list(caught.value.errors) == [1]
    assert "1 of 3 calls failed (first: call 1: ValueError: two)" in str(caught.value)
    assert batch.looks == [["p"], ["p"]]
    got = futures.gather(t, 3, None, return_exceptions=True)
    assert got[0] == 1 and isinstance(got[1], ValueError) and got[2] == 9


def test_a_call_with_no_result_says_what_aws_said():
    t, _, _ = tracker({"j1": ["FAILED"]}, [("j1", [1])])
    t.look(["j1"])
    err = t.no_results([1])[1]
    assert "call 0 (job j1) ended with no result: FAILED; Essential container exited" in err.message
    assert err.hint == "./deploy.sh --logs j1"


def test_a_maps_calls_with_no_result_are_explained_with_one_describe_per_hundred():
    t, batch, _ = tracker({"p": ["FAILED"], **{f"p:{i}": ["FAILED"] for i in range(150)}}, [("p", list(range(1, 151)))],
                          results={i: (False, None) for i in range(1, 151)})
    got = futures.gather(t, 150, None, return_exceptions=True)
    assert all(isinstance(e, futures.CallFailed) for e in got) and "call 149 (job p:149)" in str(got[149])
    assert [len(look) for look in batch.looks] == [1, 100, 50]


def test_an_array_whose_children_all_ended_has_ended_whatever_its_parents_status():
    summary = {"size": 3, "statusSummary": {"SUCCEEDED": 2, "FAILED": 1}}
    assert futures.job_ended({"status": "SUBMITTED", "arrayProperties": summary})
    assert not futures.job_ended({"status": "RUNNING", "arrayProperties": {"size": 3, "statusSummary": {"SUCCEEDED": 2}}})
    assert futures.job_ended({"status": "FAILED"}) and not futures.job_ended({"status": "RUNNING"})


def test_a_map_is_cancelled_by_terminating_its_array_while_it_runs():
    from batchdeploy.functions.api import MapFuture

    t, batch, _ = tracker({"p": ["RUNNING"], "q": ["SUCCEEDED"]}, [("p", [1, 2]), ("q", [3, 4])])
    assert MapFuture(t, 4).cancel() is True and batch.terminated == ["p"]
    assert [f.job_id for f in MapFuture(t, 4).futures()] == ["p:0", "p:1", "q:0", "q:1"]
