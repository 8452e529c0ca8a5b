"""The local stack's moto patch (batchdeploy/local/moto_server.py): a dependency on an array is decided
by its children, N_TO_N pairs children by index, a failed dependency fails the waiting job."""

from __future__ import annotations

from types import SimpleNamespace as NS

from batchdeploy.local.moto_server import dependency_state, wait_for_dependencies


def array(*states):
    return NS(status="SUBMITTED", _child_jobs=[NS(status=s) for s in states])


def test_an_array_dependency_is_decided_by_its_children_and_its_parent_status_set():
    jobs = {"p": array("SUCCEEDED", "RUNNING")}
    job = NS(array_properties=None)
    assert dependency_state(job, {"jobId": "p"}, jobs) is None
    jobs["p"]._child_jobs[1].status = "FAILED"
    assert dependency_state(job, {"jobId": "p"}, jobs) == "FAILED" and jobs["p"].status == "FAILED"
    jobs = {"p": array("SUCCEEDED", "SUCCEEDED")}
    assert dependency_state(job, {"jobId": "p"}, jobs) == "SUCCEEDED" and jobs["p"].status == "SUCCEEDED"


def test_n_to_n_waits_for_the_child_of_the_same_index_only():
    jobs = {"p": array("SUCCEEDED", "RUNNING")}
    first, second = NS(array_properties={"index": 0}), NS(array_properties={"index": 1})
    assert dependency_state(first, {"jobId": "p", "type": "N_TO_N"}, jobs) == "SUCCEEDED"
    assert dependency_state(second, {"jobId": "p", "type": "N_TO_N"}, jobs) is None


def test_a_failed_dependency_stops_the_waiting_job_without_running_it():
    stopped = []
    job = NS(depends_on=[{"jobId": "a"}], all_jobs={"a": NS(status="FAILED")}, stop=False,
             _mark_stopped=lambda success: stopped.append(success))
    assert wait_for_dependencies(job) is False and stopped == [False]
    job = NS(depends_on=[{"jobId": "a"}], all_jobs={"a": NS(status="SUCCEEDED")}, stop=False, _mark_stopped=None)
    assert wait_for_dependencies(job) is True
