"""pipelines.rerun.reusable_tasks: which tasks of a rerun's per-task map steps are kept (their job
succeeded, today's file gives them the same entry, nothing they depend on runs again)."""

from __future__ import annotations

from batchdeploy.pipelines.model import Dependency, Step
from batchdeploy.pipelines.rerun import Before, reusable_tasks, whole_arrays


def entries(*seeds) -> list[dict]:
    return [{"id": i, "parameters": {"seed": s}, "environment": {}, "command": None, "inputs": [], "outputs": []}
            for i, s in enumerate(seeds, 1)]


def before(step: str, entries_: list[dict], succeeded, submitted=None) -> Before:
    ids = submitted or [e["id"] for e in entries_]
    return Before({i: f"{step}-j{i}" for i in ids if i in succeeded}, {e["id"]: e for e in entries_})


def test_a_submit_cut_part_way_keeps_the_tasks_it_made_that_succeeded():
    fit = Step("fit", depends_on=[Dependency("prep")])
    today = {"fit": entries("1", "2", "3")}
    was = {"fit": before("fit", today["fit"], {1, 2}, submitted=[1, 2])}
    # prep succeeded before and is not submitted again: no obstacle
    assert reusable_tasks([fit], today, was) == {"fit": {1: "fit-j1", 2: "fit-j2"}}


def test_a_failed_task_and_a_task_whose_entry_changed_today_run_again():
    fit = Step("fit")
    was = {"fit": before("fit", entries("1", "2", "3"), {1, 3})}  # task 2 failed
    today = {"fit": entries("1", "2", "30")}  # task 3's parameters changed in today's file
    assert reusable_tasks([fit], today, was) == {"fit": {1: "fit-j1"}}


def test_a_task_that_depends_on_a_step_submitted_again_runs_again():
    prep, fit = Step("prep"), Step("fit", depends_on=[Dependency("prep")])
    today = {"fit": entries("1", "2")}
    was = {"fit": before("fit", today["fit"], {1, 2})}
    assert reusable_tasks([prep, fit], today, was) == {}


def test_n_to_n_keeps_a_task_whose_partner_at_the_same_position_is_kept():
    fit, score = Step("fit"), Step("score", depends_on=[Dependency("fit", "N_TO_N")])
    today = {"fit": entries("1", "2", "3"), "score": entries("4", "5", "6")}
    was = {"fit": before("fit", today["fit"], {1, 3}),  # fit 2 failed: score 2 never ran
           "score": before("score", today["score"], {1, 3})}
    assert reusable_tasks([fit, score], today, was) == {"fit": {1: "fit-j1", 3: "fit-j3"},
                                                        "score": {1: "score-j1", 3: "score-j3"}}
    # with ALL, every score task waits on fit's task 2 running again
    after_all = Step("score", depends_on=[Dependency("fit")])
    assert "score" not in reusable_tasks([fit, after_all], today, was)


def test_a_step_planned_as_one_array_today_or_with_no_earlier_attempt_keeps_nothing():
    fit = Step("fit")
    was = {"fit": before("fit", entries("1"), {1})}
    assert reusable_tasks([fit], {}, was) == {}  # today's image has the launcher: one array, rerun whole
    assert reusable_tasks([fit], {"fit": entries("1")}, {}) == {}


def test_an_array_paired_n_to_n_with_a_step_submitted_again_is_rerun_whole():
    fit, score, total = Step("fit"), Step("score", depends_on=[Dependency("fit", "N_TO_N")]), Step("sum", depends_on=[
        Dependency("score")])
    assert whole_arrays([fit, score, total], {"fit", "score"}) == {"fit", "score"}
    assert whole_arrays([score, total], {"score"}) == frozenset()  # fit reused whole: no pair submitted now
    assert whole_arrays([fit, score], {"fit"}) == {"fit"}  # score per-task: fit's array still pairs
    today = {"fit": entries("1", "2"), "score": entries("3", "4")}
    was = {"fit": before("fit", today["fit"], {1}), "score": before("score", today["score"], {1})}
    assert reusable_tasks([fit, score], today, was, whole=frozenset({"fit", "score"})) == {}


def test_an_array_childs_index_comes_from_its_array_properties_or_its_id():
    from batchdeploy.pipelines.record import _child_index

    assert _child_index({"jobId": "p:7", "arrayProperties": {"index": 3}}) == 3
    assert _child_index({"jobId": "0a1b-2c:12"}) == 12  # moto lists no arrayProperties
    assert _child_index({"jobId": "0a1b-2c"}) is None
