"""The quickstart experiment's pure part (examples/quickstart/experiment/run.py), and its command line
on local files. The same functions recompute, in the e2e test, what a job wrote from a container."""

from __future__ import annotations

import importlib.util
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "quickstart"


def load_run():
    spec = importlib.util.spec_from_file_location("quickstart_run", EXAMPLE / "experiment" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run()


def experiment(**over):
    doc = {"name": "t", "seed": 3, "model": "linear", "data": {"n_samples": 50, "weights": [1.0, -2.0], "bias": 0.5}}
    doc.update(over)
    return run.parse_experiment(doc)


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "4", "AWS_BATCH_JOB_ID": "abc:9"}, 4),
        ({"AWS_BATCH_JOB_ID": "6f1c-22:7"}, 7),
        ({"AWS_BATCH_JOB_ID": "6f1c-22"}, None),
        ({"AWS_BATCH_JOB_ID": "6f1c-22#1"}, None),
        ({"AWS_BATCH_JOB_ID": "abc:x"}, None),
        ({}, None),
    ],
)
def test_array_index_from_aws_variable_or_from_the_child_job_id(environ, expected):
    assert run.array_index(environ) == expected


def test_the_examples_experiments_parse():
    names = sorted(p.name for p in (EXAMPLE / "experiments").glob("*.yaml"))
    assert len(names) >= 2
    for name in names:
        exp = run.parse_experiment(yaml.safe_load((EXAMPLE / "experiments" / name).read_text()))
        assert exp["model"] in run.MODELS


def test_defaults_are_filled_in():
    exp = run.parse_experiment({"data": {"weights": [1]}})
    assert exp == {
        "name": "experiment",
        "seed": 0,
        "model": "linear",
        "n_samples": 200,
        "weights": [1.0],
        "bias": 0.0,
        "noise": 0.1,
        "learning_rate": 0.1,
        "epochs": 200,
        "log_every": 50,
    }


@pytest.mark.parametrize(
    "doc, message",
    [
        ([1, 2], "must be a mapping"),
        ({"data": [1]}, "data and fit must be mappings"),
        ({"model": "tree", "data": {"weights": [1]}}, "model must be one of linear, logistic"),
        ({"data": {}}, "data.weights must be a non-empty list"),
        ({"data": {"weights": [1, "x"]}}, "data.weights must be a non-empty list"),
        ({"data": {"weights": [1], "n_samples": 1}}, "n_samples must be at least 2"),
        ({"data": {"weights": [1], "n_samples": 2.5}}, "n_samples must be an integer"),
        ({"seed": True, "data": {"weights": [1]}}, "seed must be an integer"),
        ({"data": {"weights": [1]}, "fit": {"epochs": 0}}, "epochs must be at least 1"),
    ],
)
def test_a_wrong_experiment_names_what_is_wrong(doc, message):
    with pytest.raises(run.ExperimentError, match=message):
        run.parse_experiment(doc)


def test_data_depends_on_the_seed_alone():
    exp = experiment()
    assert run.make_data(exp, 1) == run.make_data(exp, 1)
    assert run.make_data(exp, 1) != run.make_data(exp, 2)


def test_noiseless_least_squares_recovers_the_true_weights():
    exp = experiment(data={"n_samples": 20, "weights": [1.5, -2.0, 0.25], "bias": 0.75, "noise": 0})
    w, b = run.least_squares(*run.make_data(exp, 5))
    assert w == pytest.approx([1.5, -2.0, 0.25], abs=1e-9)
    assert b == pytest.approx(0.75, abs=1e-9)


def test_collinear_features_are_an_experiment_error():
    with pytest.raises(run.ExperimentError, match="collinear"):
        run.least_squares([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]], [1.0, 2.0, 3.0])


def test_gradient_descent_lowers_the_loss_and_reaches_least_squares():
    exp = experiment(fit={"learning_rate": 0.1, "epochs": 400})
    xs, ys = run.make_data(exp, exp["seed"])
    lines = []
    w, b, history = run.gradient_descent("linear", xs, ys, 0.1, 400, log_every=100, progress=lines.append)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(history, history[1:]))
    ols_w, ols_b = run.least_squares(xs, ys)
    assert w == pytest.approx(ols_w, abs=1e-6) and b == pytest.approx(ols_b, abs=1e-6)
    assert lines == [f"epoch {e}/400 loss {history[e - 1]:.6f}" for e in (100, 200, 300, 400)]


def test_logistic_model_separates_the_classes():
    exp = run.parse_experiment(yaml.safe_load((EXAMPLE / "experiments" / "logistic.yaml").read_text()))
    m = run.run_experiment(exp)["metrics"]
    assert m["accuracy"] > 0.8
    assert m["weights"][0] > 0 > m["weights"][1]
    assert "r2" not in m


def test_an_array_child_uses_seed_plus_index():
    exp = experiment()
    child = run.run_experiment(exp, 2)["metrics"]
    assert child["seed"] == exp["seed"] + 2 and child["array_index"] == 2
    plain = run.run_experiment({**exp, "seed": exp["seed"] + 2})["metrics"]
    assert {**child, "array_index": None} == plain
    assert child["final_loss"] != run.run_experiment(exp)["metrics"]["final_loss"]


SVG = "{http://www.w3.org/2000/svg}"


def _svg(history, **kw):
    root = ET.fromstring(run.loss_svg(history, **kw))
    texts = [t.text for t in root.iter(SVG + "text")]
    ticks = {c: [t for t in root.iter(SVG + "line") if t.get("class") == f"tick {c}"] for c in "xy"}
    points = root.find(SVG + "polyline").get("points").split()
    return root, texts, ticks, points


def test_the_loss_curve_is_well_formed_svg_with_a_title_axes_ticks_and_labels():
    root, texts, ticks, points = _svg([3.0, 2.0, 1.5, 1.4], title="exp <1> & co")
    assert root.tag == SVG + "svg" and len(points) == 4
    assert "exp <1> & co" in texts and root.find(SVG + "title").text == "exp <1> & co"  # escaped, and back
    assert "epoch" in texts and "loss" in texts
    assert len(ticks["x"]) >= 2 and len(ticks["y"]) >= 3
    assert {"1", "4"} <= set(texts)  # the first and last epoch are ticks
    tick_values = [float(t) for t in texts if t.replace(".", "", 1).isdigit() and "." in t]
    assert tick_values and all(1.4 <= v <= 3.0 for v in tick_values)
    assert run.loss_svg([1.0]) and run.loss_svg([2.0, 2.0])  # one epoch, a flat loss: no division by zero


def test_forty_thousand_epochs_make_a_small_svg_that_keeps_the_curve_shape():
    history = [10.0 / (1 + e / 50) + (5.0 if e == 20_000 else 0.0) for e in range(40_000)]
    svg = run.loss_svg(history)
    assert len(svg.encode()) < 30_000  # was 474 kB
    _, texts, ticks, points = _svg(history)
    assert len(points) <= run.MAX_PLOT_POINTS
    spike = max(history[19_990:20_010])
    assert any(abs(v - spike) < 1e-9 for _, v in run.downsample(history))  # the spike is kept
    assert "40000" in texts and len(ticks["x"]) >= 3  # the x ticks reach the last epoch


def test_a_loss_spanning_decades_gets_a_log_scale_said_on_the_axis():
    _, texts, ticks, _ = _svg([100 * 0.8 ** e for e in range(60)])  # 100 down to 0.0018
    assert "loss (log scale)" in texts
    assert {"100", "10", "1", "0.1", "0.01"} <= set(texts)
    _, texts, _, _ = _svg([3.0, 2.0, 1.5])
    assert "loss (log scale)" not in texts


@pytest.mark.parametrize("lo, hi, expected", [(0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (1, 40_000, [10_000, 20_000, 30_000, 40_000]),
                                              (1.4, 3.0, [1.5, 2.0, 2.5, 3.0])])
def test_nice_ticks(lo, hi, expected):
    assert run.nice_ticks(lo, hi) == expected


def test_main_writes_metrics_report_and_plot_to_a_local_folder(tmp_path, capsys):
    out = tmp_path / "out dir"
    rc = run.main(["--experiment-file", str(EXAMPLE / "experiments" / "linear.yaml"), "--output-path", str(out)], environ={})
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    exp = run.parse_experiment(yaml.safe_load((EXAMPLE / "experiments" / "linear.yaml").read_text()))
    expected = run.run_experiment(exp)["metrics"]
    assert metrics == expected
    assert metrics["r2"] > 0.9
    assert all(math.isclose(a, b, abs_tol=0.05) for a, b in zip(metrics["weights"], metrics["ols_weights"]))
    assert "| w0 |" in (out / "report.md").read_text()
    assert (out / "loss.svg").read_text().startswith("<svg")
    series = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert series[0]["epoch"] == 1 and series[-1] == {"epoch": 150, "loss": metrics["final_loss"]}
    stdout = capsys.readouterr().out
    assert "epoch 150/150 loss" in stdout and "done: final loss" in stdout


def test_main_as_an_array_child_writes_under_its_index(tmp_path):
    out = tmp_path / "out"
    exp_file = str(EXAMPLE / "experiments" / "logistic.yaml")
    assert run.main(["--experiment-file", exp_file, "--output-path", str(out)], environ={"AWS_BATCH_JOB_ID": "p:1"}) == 0
    assert json.loads((out / "1" / "metrics.json").read_text())["array_index"] == 1


def test_main_on_a_wrong_experiment_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: tree\ndata: {weights: [1]}\n")
    assert run.main(["--experiment-file", str(bad), "--output-path", str(tmp_path / "o")], environ={}) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model must be one of" in err
    assert not (tmp_path / "o").exists()


def test_main_on_a_missing_experiment_file_is_one_line_and_exit_1(tmp_path, capsys):
    assert run.main(["--experiment-file", str(tmp_path / "none.yaml"), "--output-path", str(tmp_path)], environ={}) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err


def test_main_on_an_unwritable_output_is_one_line_and_exit_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    exp_file = str(EXAMPLE / "experiments" / "linear.yaml")
    assert run.main(["--experiment-file", exp_file, "--output-path", str(blocker / "sub")], environ={}) == 1
    assert "cannot write to" in capsys.readouterr().err


def test_an_s3_address_without_a_bucket_is_an_experiment_error():
    with pytest.raises(run.ExperimentError, match="not an s3://BUCKET/KEY"):
        run.read_text("s3:///key.yaml")


# ---------------------------------------------------------------------------------------------
# Sweepable by parameters: --seed and --learning-rate, the job definition's seed and learning_rate


def test_file_keeps_the_experiment_files_values():
    exp = experiment(fit={"learning_rate": 0.2})
    assert run.with_overrides(exp) == exp
    assert run.with_overrides(exp, "file", "file") == exp


def test_a_seed_and_learning_rate_replace_the_files():
    exp = run.with_overrides(experiment(), "11", "0.05")
    assert (exp["seed"], exp["learning_rate"]) == (11, 0.05)
    assert run.run_experiment(exp, index=4)["metrics"]["seed"] == 11  # the task's own seed: no index added
    assert run.run_experiment(experiment(), index=4)["metrics"]["seed"] == 7  # the file's seed + the index


@pytest.mark.parametrize("seed, rate, says", [
    ("x", "file", "--seed must be an integer or file"),
    ("1.5", "file", "--seed must be an integer"),
    ("file", "0", "--learning-rate must be a number above 0"),
    ("file", "-1", "--learning-rate must be a number above 0"),
    ("file", "inf", "--learning-rate must be a number above 0"),
    ("file", "nan", "--learning-rate must be a number above 0"),
    ("file", "fast", "--learning-rate must be a number above 0 or file, not 'fast'"),
])
def test_bad_overrides_name_the_flag(seed, rate, says):
    with pytest.raises(run.ExperimentError, match=says):
        run.with_overrides(experiment(), seed, rate)


def test_an_array_child_writes_under_its_index_unless_a_sweep_gave_it_a_location():
    assert run.output_location("s3://b/r", None, {}) == "s3://b/r"
    assert run.output_location("s3://b/r/", 3, {}) == "s3://b/r/3"
    assert run.output_location("s3://b/r/7", 3, {"BATCHDEPLOY_OUTPUT": "s3://b/r/7/"}) == "s3://b/r/7"


def test_main_takes_the_seed_and_learning_rate(tmp_path):
    out = tmp_path / "out"
    args = ["--experiment-file", str(EXAMPLE / "experiments" / "linear.yaml"), "--output-path", str(out),
            "--seed", "5", "--learning-rate", "0.05"]
    assert run.main(args, environ={}) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["seed"], metrics["learning_rate"]) == (5, 0.05)
    assert run.main([*args[:4], "--seed", "x"], environ={}) == 2


def test_the_job_definition_passes_seed_and_learning_rate_with_file_as_default():
    jd = json.loads((EXAMPLE / "job-definition.json").read_text())
    assert jd["parameters"]["seed"] == jd["parameters"]["learning_rate"] == "file"
    command = jd["containerProperties"]["command"]
    assert command[command.index("--seed") + 1] == "Ref::seed"
    assert command[command.index("--learning-rate") + 1] == "Ref::learning_rate"


def test_the_example_sweep_is_valid_against_the_job_definition():
    from batchdeploy.sweeps.check import check_against_definition
    from batchdeploy.sweeps.outputs import with_outputs
    from batchdeploy.sweeps.tasksfile import read_tasks_file

    jd = json.loads((EXAMPLE / "job-definition.json").read_text())
    sweep = read_tasks_file(EXAMPLE / "sweep.tsv")
    assert 3 <= len(sweep.tasks) <= 4 and sweep.varying == ["seed", "learning_rate", "--label name"]
    sweep = check_against_definition(with_outputs(sweep, run_id="r1", bucket="bkt", results_prefix="results",
                                                  job_definition=jd), jd)
    assert [t.params["output_path"] for t in sweep.tasks] == [f"s3://bkt/results/r1/{i}" for i in (1, 2, 3, 4)]
    for task in sweep.tasks:
        run.with_overrides(experiment(), task.params["seed"], task.params["learning_rate"])
