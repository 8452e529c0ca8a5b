"""The triage chapter experiment's pure part (examples/triage-chapter/experiment/chapter.py): the data it
generates, the experiment file's checks, the grid, the metrics. The database and S3 parts run in a
container on the local stack (tests/integration/test_triage_chapter.py)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triage-chapter"
spec = importlib.util.spec_from_file_location("chapter", EXAMPLE / "experiment" / "chapter.py")
chapter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chapter)


def shipped() -> dict:
    return yaml.safe_load((EXAMPLE / "experiments" / "inspections.yaml").read_text())


def test_the_data_set_is_the_same_for_the_same_seed_and_inside_its_years():
    facilities, inspections = chapter.make_data(50, 3)
    assert (facilities, inspections) == chapter.make_data(50, 3)
    assert chapter.make_data(50, 4) != (facilities, inspections)
    assert [f[0] for f in facilities] == list(range(1, 51))
    assert all(dt.date(2022, 1, 1) <= day < dt.date(2025, 1, 1) for _, day, _, _ in inspections)
    assert {result for _, _, result, _ in inspections} == {"pass", "fail"}
    opened = {f[0]: f[3] for f in facilities}
    assert all(day >= opened[e] for e, day, _, _ in inspections)  # no inspection before a facility opened


def test_the_shipped_experiment_file_is_valid_and_its_grid_has_five_models():
    exp = chapter.parse_experiment(shipped())
    assert list(chapter.grid(exp["grid_config"])) == [
        ("baseline", {"feature": "fails_1y"}),
        ("logistic", {"l2": 0.0, "learning_rate": 0.1}), ("logistic", {"l2": 0.0, "learning_rate": 0.5}),
        ("logistic", {"l2": 0.05, "learning_rate": 0.1}), ("logistic", {"l2": 0.05, "learning_rate": 0.5}),
    ]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("cohort_config"), "cohort_config must be a mapping"),
    (lambda d: d.update(feature_config={}), "feature_config must be a list"),
    (lambda d: d["temporal_config"].update(test_as_of="2023-01-01"), "train_as_of must come before test_as_of"),
    (lambda d: d["grid_config"].update(forest={}), "grid_config names forest; known: logistic, baseline"),
    (lambda d: d["label_config"].update(query=3), "label_config.query must be SQL text"),
    (lambda d: d["feature_config"].append({"name": "x"}), "each feature_config entry needs a query"),
])
def test_a_bad_experiment_file_says_what_is_wrong(change, message):
    doc = shipped()
    change(doc)
    with pytest.raises(chapter.ExperimentError, match=message):
        chapter.parse_experiment(doc)


def test_precision_at_k_and_auc():
    scores, labels = [0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]
    assert chapter.precision_at(scores, labels, 25) == 1.0
    assert chapter.precision_at(scores, labels, 50) == 0.5
    assert chapter.auc(scores, labels) == 0.75
    assert chapter.auc([1, 1], [1, 0]) == 0.5  # ties count a half


def test_the_models_learn_the_signal_in_generated_data():
    train = ([[float(i % 5)] for i in range(200)], [int(i % 5 >= 3) for i in range(200)])
    evaluations = chapter.evaluate(train, train, ["x"], {"logistic": {"learning_rate": [0.5]}, "baseline": {}}, [40])
    assert [ev["metrics"]["auc"] for ev in evaluations] == [1.0, 1.0]
    assert [ev["metrics"]["precision@40%"] for ev in evaluations] == [1.0, 1.0]


def test_a_baseline_on_a_feature_the_queries_do_not_make_is_an_experiment_error():
    with pytest.raises(chapter.ExperimentError, match="baseline feature 'nope' is not among the features: x"):
        chapter.evaluate(([[1.0]], [1]), ([[1.0]], [1]), ["x"], {"baseline": {"feature": ["nope"]}}, [10])
