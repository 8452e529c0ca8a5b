"""The report's pure parts: metrics, varying parameters, ticks, plots and the page."""

import re
import xml.etree.ElementTree as ET

from batchdeploy.report import model, page, svg
from batchdeploy.report.model import Run, Task


def sweep() -> Run:
    tasks = []
    for n, (lr, seed) in enumerate([(0.05, 1), (0.02, 1), (0.05, 2), (0.02, 2)], start=1):
        t = Task(run_id="20261130T220000Z-aaaaaa", task=n, params={"lr": str(lr), "seed": str(seed), "epochs": "50",
                 "output_path": f"s3://b/results/r/{n}"}, state="SUCCEEDED" if n != 4 else "FAILED",
                 exit_code=0 if n != 4 else 3, reason="" if n != 4 else "failed",
                 queued_at="2026-11-30T22:00:00Z", started_at=f"2026-11-30T22:00:0{n}Z", ended_at=f"2026-11-30T22:00:2{n}Z",
                 peak_memory_mib=20.0 + n, cpu_s=1.5 * n, metrics={"final_loss": 1.0 / n, "r2": 0.9 - n / 100, "lr": lr, "n_samples": 300},
                 series=[{"epoch": e, "loss": 1.0 / (e + n)} for e in range(50)],
                 stderr_tail=["Traceback", "ValueError: <bad>"] if n == 4 else [])
        tasks.append(t)
    run = {"run_id": "20261130T220000Z-aaaaaa", "name": "demo-sweep", "created_at": "2026-11-30T22:00:00Z",
           "image": {"reference": "reg/quickstart:c-1", "digest": "sha256:" + "d" * 64},
           "job_definition": {"name": "quickstart", "revision": 4}, "git": {"commit": "c" * 40, "dirty": True},
           "bundle": {"url": "s3://b/runs/code/x.tar.gz", "sha256": "e" * 64}, "who": {"arn": "arn:aws:iam::1:user/ana"}}
    return Run(run_id=run["run_id"], run=run, tasks=tasks)


def test_metrics_are_the_numbers_flattened():
    assert model.metrics_of({"loss": 0.5, "ok": True, "name": "x", "eval": {"acc": 1}, "w": [1, 2]}) == {
        "loss": 0.5, "eval.acc": 1}
    assert model.series_of('{"epoch": 1, "loss": 2}\nnot json\n{"epoch": 2, "loss": 1}\n') == [
        {"epoch": 1, "loss": 2}, {"epoch": 2, "loss": 1}]


def test_varying_leaves_out_constants_and_output_locations():
    assert model.varying(sweep().tasks) == ["lr", "seed"]


def test_ticks_are_round_and_cover_the_range():
    assert svg.ticks(0.013, 0.97) == [0.2, 0.4, 0.6, 0.8]
    assert svg.ticks(-0.05, 1.05) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.ticks(0, 40_000) == [0, 10_000, 20_000, 30_000, 40_000]
    assert svg.ticks(5, 5)[0] < 5 < svg.ticks(5, 5)[-1]


def test_a_long_curve_is_thinned_to_the_plot_width_keeping_its_extremes():
    points = [(float(i), float(i % 7)) for i in range(40_000)]
    thinned = svg.thin(points)
    assert len(thinned) <= 2 * svg.W and min(p[1] for p in thinned) == 0 and max(p[1] for p in thinned) == 6


def test_the_page_has_what_ran_the_table_every_plot_and_the_failure():
    html = page.html([sweep()], "2026-11-30T22:05:00Z")
    assert "sha256:" + "d" * 64 in html and "quickstart:4" in html and "c" * 12 + " (dirty)" in html
    assert html.count('data-plot="scatter"') == 2 * 2 + 2  # 2 metrics x 2 params, memory, CPU
    assert html.count('data-plot="lines"') == 1 and html.count('data-plot="timeline"') == 1
    assert "ValueError: &lt;bad&gt;" in html and "<bad>" not in html  # escaped
    assert not re.search(r"(src|href)=\"?(https?:)?//", html)  # nothing fetched
    assert re.search(r"<th>lr</th><th>seed</th>", html) and "<th>final_loss</th>" in html
    # a parameter echoed back is not a metric; a constant is said once, not plotted
    assert html.count("<th>lr</th>") == 1 and "<th>n_samples</th>" not in html
    assert "The same in every task: n_samples = 300." in html
    for plot in re.findall(r"<svg .*?</svg>", html):
        ET.fromstring(plot)  # each plot is well-formed XML


def test_two_runs_side_by_side_and_the_terminal_table():
    a, b = sweep(), sweep()
    b.run_id = "20261130T230000Z-bbbbbb"
    for t in b.tasks:
        t.run_id = b.run_id
    html = page.html([a, b], "now")
    assert html.count('class="what-ran"') == 2 and ">20261130T230000Z-bbbbbb</td>" in html
    lines = model.table([a, b])
    assert lines[0].split() == ["RUN", "TASK", "LR", "SEED", "STATE", "FINAL_LOSS", "R2"]
    assert len(lines) == 9 and lines[4].split()[:5] == ["20261130T220000Z-aaaaaa", "4", "0.02", "2", "FAILED"]


def test_a_run_with_nothing_to_plot_still_makes_a_page():
    run = Run(run_id="20261130T220000Z-cccccc", run={}, tasks=[Task(run_id="20261130T220000Z-cccccc", task=0,
                                                                    params={}, state="RUNNING")])
    html = page.html([run], "now")
    assert html.count("Nothing to plot.") == 4 and "No task failed." in html


def test_secret_looking_parameters_never_reach_the_page():
    from batchdeploy.report.read import shown

    canary = "canary-7f3a9e"
    values = shown({"API_TOKEN": canary, "db": f"postgres://u:{canary}@h/db", "lr": "0.1"})
    assert canary not in str(values) and values["lr"] == "0.1"


def pipeline_run() -> Run:
    """prep -> fit (a map of 2, one failed) -> score; prep -> side; score never ran."""
    rows = [("prep", "SUCCEEDED"), ("fit", "SUCCEEDED"), ("fit", "FAILED"), ("score", "NOT RUN"), ("side", "SUCCEEDED")]
    tasks = [Task(run_id="20261130T230000Z-bbbbbb", task=n, params={"step": step}, state=state,
                  queued_at="2026-11-30T23:00:00Z", started_at=f"2026-11-30T23:00:0{n}Z" if state != "NOT RUN" else None,
                  ended_at=f"2026-11-30T23:00:1{n}Z" if state != "NOT RUN" else None)
             for n, (step, state) in enumerate(rows, 1)]
    steps = [{"name": "prep", "depends_on": []}, {"name": "fit", "depends_on": [{"step": "prep"}], "map": {"tasks": 2}},
             {"name": "score", "depends_on": [{"step": "fit"}]}, {"name": "side", "depends_on": [{"step": "prep"}]}]
    run = {"run_id": "20261130T230000Z-bbbbbb", "kind": "pipeline", "name": "pp", "pipeline": {"steps": steps}}
    return Run(run_id=run["run_id"], run=run, tasks=tasks)


def test_a_pipeline_run_draws_its_steps_as_a_graph_coloured_by_state():
    drawn = page.graph_plot(pipeline_run())
    root = ET.fromstring(drawn)
    boxes = {g.get("data-step"): g.get("data-state") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert boxes == {"prep": "SUCCEEDED", "fit": "FAILED", "score": "NOT RUN", "side": "SUCCEEDED"}
    assert len(list(root.iter("{http://www.w3.org/2000/svg}line"))) == 3  # prep->fit, fit->score, prep->side
    xs = {g.get("data-step"): float(g.find("{http://www.w3.org/2000/svg}rect").get("x"))
          for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert xs["prep"] < xs["fit"] < xs["score"] and xs["fit"] == xs["side"]  # a column per depth
    assert "fit: FAILED; 2 tasks" in drawn
    html = page.html([pipeline_run()], "2026-11-30T23:01:00Z")
    assert "<h2>Pipeline</h2>" in html and 'data-plot="graph"' in html and ">fit 3<" in html  # timeline by step
    assert page.graph_plot(sweep()) is None and "<h2>Pipeline</h2>" not in page.html([sweep()], "x")


def test_a_metric_one_task_wrote_is_a_column_not_the_same_in_every_task():
    tasks = [Task(run_id="r", task=n, params={"step": s}, state="SUCCEEDED", metrics=m)
             for n, (s, m) in enumerate([("prep", {"rows": 10, "n": 3}), ("fit", {"auc": 0.8, "n": 3})], 1)]
    assert model.constant_metrics(tasks) == {"n": 3}
    assert model.metric_names(tasks) == ["rows", "auc"]
