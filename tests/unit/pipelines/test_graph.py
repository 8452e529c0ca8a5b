"""The pure parts of pipelines: step states from DescribeJobs records, the steps a failure stops, what a
rerun submits, the drawn graph, and the dependsOn of a step."""

from __future__ import annotations

import pytest

from batchdeploy.errors import UsageError
from batchdeploy.pipelines import graph
from batchdeploy.pipelines.maps import depends_on
from batchdeploy.pipelines.model import Dependency, Pipeline, Step
from batchdeploy.pipelines.rerun import to_rerun
from batchdeploy.pipelines.submit import check_order


def S(name, *deps, status=None, size=None, summary=None, attempts=True):
    record = {}
    if status:
        record = {"status": status, "attempts": [{}] if attempts else []}
        if summary:
            record["arrayProperties"] = {"statusSummary": summary, "size": size}
    return graph.StepState(name, list(deps), job_id=f"id-{name}", size=size, record=record)


def diamond(b="SUCCEEDED", **kw):
    return [S("a", status="SUCCEEDED"), S("b", "a", status=b, **kw), S("c", "a", status="SUCCEEDED"),
            S("d", "b", "c", status="PENDING")]


def test_a_failed_step_stops_everything_after_it_and_only_that():
    steps = diamond(b="FAILED")
    assert graph.states(steps) == {"a": "SUCCEEDED", "b": "FAILED", "c": "SUCCEEDED", "d": "NOT RUN"}
    assert graph.blocked_by(steps, "b") == ["d"]
    assert graph.blocked_by(steps, "a") == ["b", "c", "d"]


def test_a_job_aws_failed_for_its_dependency_is_not_run_but_one_that_ran_and_failed_is_failed():
    steps = [S("a", status="FAILED"), S("b", "a", status="FAILED", attempts=False)]
    assert graph.states(steps)["b"] == "NOT RUN"
    steps = [S("a", status="FAILED"), S("b", "a", status="FAILED", attempts=True)]
    assert graph.states(steps)["b"] == "FAILED"


def test_a_map_step_is_decided_by_its_children_not_its_parent():
    # moto keeps the parent of failed children SUBMITTED for good
    failed = S("m", status="SUBMITTED", size=3, summary={"SUCCEEDED": 2, "FAILED": 1})
    assert failed.own_state() == "FAILED"
    done = S("m", status="PENDING", size=3, summary={"SUCCEEDED": 3})
    assert done.own_state() == "SUCCEEDED"
    running = S("m", status="PENDING", size=3, summary={"SUCCEEDED": 1, "RUNNING": 1, "PENDING": 1})
    assert running.own_state() == "RUNNING"


def test_a_rerun_takes_the_steps_that_did_not_succeed_and_all_after_them():
    steps = diamond(b="FAILED")
    assert to_rerun(steps, graph.states(steps)) == ["b", "d"]
    steps = diamond()
    steps[3].record = {"status": "SUCCEEDED"}
    assert to_rerun(steps, graph.states(steps)) == []
    steps = [S("a", status="SUCCEEDED"), graph.StepState("b", ["a"]), graph.StepState("c", ["b"])]
    assert graph.states(steps) == {"a": "SUCCEEDED", "b": "NOT SUBMITTED", "c": "NOT SUBMITTED"}
    assert to_rerun(steps, graph.states(steps)) == ["b", "c"]


def test_the_drawn_graph_names_each_steps_state_and_what_it_waits_for():
    steps = diamond(b="FAILED")
    lines = graph.draw(steps, graph.states(steps))
    assert lines[0].split() == ["a", "SUCCEEDED", "id-a"]
    assert lines[3].split() == ["d", "NOT", "RUN", "<-", "b,", "c", "id-d"]


def test_dependson_is_awss_shape_and_leaves_out_steps_not_in_this_submit():
    step = Step("d", depends_on=[Dependency("b"), Dependency("m", "N_TO_N"), Dependency("reused")])
    assert depends_on(step, {"b": "1", "m": "2"}, {}) == [{"jobId": "1"}, {"jobId": "2", "type": "N_TO_N"}]


def test_an_order_with_a_step_before_its_dependency_is_refused():
    p = Pipeline("p", [Step("b", depends_on=[Dependency("a")]), Step("a")])
    with pytest.raises(UsageError, match="step b depends on a, which is not before it"):
        check_order(p, p.steps)
    check_order(p, p.steps[:1], done=("a",))  # a rerun: a succeeded before


def test_the_live_view_draws_the_graph_and_what_will_not_run_and_plain_lines_elsewhere():
    import io

    from rich.console import Console

    from batchdeploy.pipelines.view import GraphView
    from batchdeploy.ui import Output

    steps = diamond(b="FAILED")
    current = graph.states(steps)
    console = Console(record=True, width=100, file=io.StringIO())
    err = io.StringIO()
    with GraphView(Output(stdout=io.StringIO(), stderr=err), "run R", live=True, console=console) as view:
        view.show(steps, current, current)
    drawn = console.export_text()
    assert "run R" in drawn and "d  NOT RUN" in drawn and "b failed: d will not run" in drawn
    assert "━" in drawn and "4 steps: 1 FAILED, 1 NOT RUN, 2 SUCCEEDED; 4/4 ended" in drawn  # the bar and the counts
    assert "step b failed: d will not run" in err.getvalue()
    plain = io.StringIO()
    with GraphView(Output(stdout=plain, stderr=plain), "run R", live=False) as view:
        view.show(steps, current, {"b": "FAILED"})
    assert plain.getvalue().splitlines()[0] == "step b: FAILED"


def test_dependson_on_a_per_task_step_is_each_of_its_jobs_or_with_n_to_n_the_one_at_the_same_place():
    tasks = {"fit": {1: "j1", 2: "j2", 3: "j3"}}
    after = Step("sum", depends_on=[Dependency("fit"), Dependency("prep")])
    assert depends_on(after, {"fit": "j1", "prep": "p"}, tasks) == [{"jobId": j} for j in ("j1", "j2", "j3", "p")]
    paired = Step("score", depends_on=[Dependency("fit", "N_TO_N")])
    orders = {"fit": [1, 2, 3]}
    assert [depends_on(paired, {"fit": "j1"}, tasks, i, orders) for i in range(3)] == [
        [{"jobId": j}] for j in ("j1", "j2", "j3")]


def test_a_rerun_depends_only_on_the_tasks_it_submits_again_and_pairs_n_to_n_by_map_position():
    """fit's tasks 1 and 3 were kept (they succeeded before): only task 2 is submitted now."""
    tasks = {"fit": {2: "j2"}}
    orders = {"fit": [1, 2, 3]}
    assert depends_on(Step("sum", depends_on=[Dependency("fit")]), {"fit": "j2"}, tasks) == [{"jobId": "j2"}]
    paired = Step("score", depends_on=[Dependency("fit", "N_TO_N")])
    assert [depends_on(paired, {"fit": "j2"}, tasks, i, orders) for i in range(3)] == [[], [{"jobId": "j2"}], []]


def per_task(*statuses, attempts=True) -> graph.StepState:
    jobs = {i: f"j{i}" for i in range(1, len(statuses) + 1)}
    records = {f"j{i}": {"status": st, **({"attempts": [{}]} if attempts else {})} for i, st in enumerate(statuses, 1)}
    return graph.StepState("fit", [], job_id="j1", size=len(statuses), tasks=jobs, task_records=records)


@pytest.mark.parametrize("statuses, state", [
    (("SUCCEEDED", "SUCCEEDED"), "SUCCEEDED"),
    (("SUCCEEDED", "FAILED"), "FAILED"),
    (("SUCCEEDED", "RUNNABLE"), "RUNNING"),
    (("PENDING", "RUNNABLE"), "RUNNABLE"),
])
def test_a_per_task_steps_state_comes_from_its_jobs(statuses, state):
    assert per_task(*statuses).own_state() == state


def test_a_per_task_step_after_a_failed_one_is_not_run_and_drawn_with_its_counts():
    fit = per_task("SUCCEEDED", "FAILED")
    after = graph.StepState("sum", ["fit"], job_id="s", record={"status": "FAILED"})
    assert graph.states([fit, after]) == {"fit": "FAILED", "sum": "NOT RUN"}
    line = graph.draw([fit, after], graph.states([fit, after]))[0]
    assert "[map 2, one job per task] (SUCCEEDED 1, FAILED 1)" in line and "j1 ... (2 jobs)" in line
    partly = graph.StepState("fit", [], job_id="j1", size=3, tasks={1: "j1"})
    assert partly.own_state() == "NOT SUBMITTED"  # a submit that stopped inside the step


def test_a_log_line_goes_above_the_live_graph_on_a_terminal_and_to_stdout_as_a_plain_line_elsewhere():
    import io

    from rich.console import Console

    from batchdeploy.pipelines.view import GraphView
    from batchdeploy.ui import Output

    steps = diamond()
    current = graph.states(steps)
    console = Console(record=True, width=100, file=io.StringIO())
    out = io.StringIO()
    with GraphView(Output(stdout=out, stderr=io.StringIO()), "run R", live=True, console=console) as view:
        view.show(steps, current, current)
        view.log("fit[2]: epoch 1")
    assert "fit[2]: epoch 1" in console.export_text() and out.getvalue() == ""
    plain = io.StringIO()
    with GraphView(Output(stdout=plain, stderr=io.StringIO()), "run R", live=False) as view:
        view.log("fit[2]: epoch 1")
    assert plain.getvalue() == "fit[2]: epoch 1\n"
