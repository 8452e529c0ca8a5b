"""examples/pipeline: the pipeline file passes every pure check against the quickstart's job definition,
and its prepare and summarize steps (examples/quickstart/experiment/pipeline.py) work on local folders."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from batchdeploy.pipelines import check
from batchdeploy.pipelines.model import Dependency
from batchdeploy.pipelines.outputs import expand_outputs
from batchdeploy.pipelines.pipelinefile import read_pipeline_file

ROOT = Path(__file__).resolve().parents[3]
EXPERIMENT = ROOT / "examples" / "quickstart" / "experiment"


def load(name):
    sys.path.insert(0, str(EXPERIMENT))  # pipeline.py imports run.py beside it, as in the image
    try:
        spec = importlib.util.spec_from_file_location(f"quickstart_{name}", EXPERIMENT / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXPERIMENT))


steps = load("pipeline")
run = steps.run


def test_the_example_passes_every_pure_check():
    p = read_pipeline_file(ROOT / "examples" / "pipeline" / "pipeline.yaml")
    assert [s.name for s in check.order(p)] == ["prepare", "fit", "summarize"]
    fit = p.steps[1]
    assert fit.depends_on == [Dependency("prepare")] and len(fit.map.tasks) == 4
    assert check.dependents(p, "prepare") == {"fit", "summarize"}
    jd = json.loads((ROOT / "examples" / "quickstart" / "job-definition.json").read_text())
    check.check_parameters(p, {s.name: jd for s in p.steps})
    assert expand_outputs(fit.map.tasks[0].params["experiment_file"], "r1", "b", "results") == \
        "s3://b/results/r1/prepare/experiment.yaml"


def test_metrics_keys_directly_under_the_prefix_in_task_order():
    keys = ["r/fit/10/metrics.json", "r/fit/2/metrics.json", "r/fit/2/report.md", "r/fit/x/y/metrics.json",
            "r/fit/metrics.json", "r/other/1/metrics.json"]
    assert steps.metrics_keys(keys, "r/fit/") == {"2": "r/fit/2/metrics.json", "10": "r/fit/10/metrics.json"}
    assert steps.metrics_keys(["1/metrics.json"], "") == {"1": "1/metrics.json"}


def test_summarize_puts_the_best_fit_first():
    summary = steps.summarize({"1": {"seed": 1, "learning_rate": 0.05, "final_loss": 0.3, "r2": 0.9},
                               "2": {"seed": 2, "learning_rate": 0.02, "final_loss": 0.1, "r2": 0.95}})
    assert summary["fits"] == 2 and summary["best"]["task"] == "2"
    assert [r["task"] for r in summary["rows"]] == ["2", "1"]
    md = steps.summary_md(summary)
    assert md.splitlines()[0] == "# 2 fits, best: task 2"
    assert "| task | seed | learning_rate | final_loss | r2 |" in md and "accuracy" not in md
    with pytest.raises(run.ExperimentError):
        steps.summarize({})


def test_the_three_steps_on_local_folders(tmp_path, capsys):
    experiment = ROOT / "examples" / "quickstart" / "experiments" / "linear.yaml"
    assert steps.main(["prepare", "--experiment-file", str(experiment), "--output-path", str(tmp_path / "prepare")]) == 0
    frozen = tmp_path / "prepare" / "experiment.yaml"
    assert frozen.read_text() == experiment.read_text()
    for task, (seed, lr) in enumerate([("1", "0.05"), ("2", "0.02")], 1):
        assert run.main(["--experiment-file", str(frozen), "--output-path", str(tmp_path / "fit" / str(task)),
                         "--seed", seed, "--learning-rate", lr], environ={}) == 0
    assert steps.main(["summarize", "--fits", str(tmp_path / "fit"), "--output-path", str(tmp_path / "summarize")]) == 0
    summary = json.loads((tmp_path / "summarize" / "summary.json").read_text())
    assert summary["fits"] == 2 and {r["seed"] for r in summary["rows"]} == {1, 2}
    assert (tmp_path / "summarize" / "summary.md").read_text().startswith("# 2 fits")


def test_a_broken_experiment_fails_prepare_with_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: cubic\ndata: {weights: [1]}\n")
    assert steps.main(["prepare", "--experiment-file", str(bad), "--output-path", str(tmp_path / "o")]) == 2
    assert "model must be one of" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert steps.main(["summarize", "--fits", str(tmp_path), "--output-path", str(tmp_path / "o")]) == 2
