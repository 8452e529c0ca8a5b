"""The pure parts of reading a sweep back: failed-task selection, record naming, a task's job, the
status table's columns (the live display: test_sweeps_display.py)."""

from __future__ import annotations

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.sweeps.rerun import to_rerun
from batchdeploy.sweeps.status import column_value
from batchdeploy.sweeps.tree import TaskState, _job_of


def state(task_id: int, st: str, run_id: str = "R") -> TaskState:
    return TaskState(task_id, {"lr": "0.1"}, {"SEED": "3"}, {"name": "a"}, run_id, state=st)


def test_rerun_takes_failed_and_never_started_tasks():
    states = [state(1, "SUCCEEDED"), state(2, "FAILED"), state(3, "pending"), state(4, "SUCCEEDED")]
    assert [s.id for s in to_rerun(states)] == [2, 3]
    assert to_rerun([state(1, "SUCCEEDED")]) == []


def test_rerun_is_refused_while_a_task_is_still_queued_or_running():
    with pytest.raises(UsageError, match=r"1 tasks are still queued or running \(2\)"):
        to_rerun([state(1, "FAILED"), state(2, "RUNNABLE")])


def test_a_tasks_job_is_its_array_child_or_its_own_job():
    run = {"job_ids": ["P", "Q"], "sweep": {"units": [{"task_ids": [1, 2, 3]}, {"task_ids": [9]}]}}
    assert _job_of(run, 3) == "P:2" and _job_of(run, 9) == "Q" and _job_of(run, 4) is None
    assert _job_of({"sweep": run["sweep"]}, 1) is None  # still "submitting": no job ids yet


def test_status_columns_find_params_env_and_labels():
    s = state(1, "FAILED")
    assert column_value(s, "lr") == "0.1" and column_value(s, "SEED") == "3" and column_value(s, "name") == "a"
    assert column_value(s, "--env SEED") == "3" and column_value(s, "--param SEED") is None


