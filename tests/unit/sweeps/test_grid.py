"""--grid: the cartesian product in the order written, its escapes, and each mistake as one line."""

from __future__ import annotations

import itertools

import pytest

from batchdeploy.errors import USAGE, UsageError
from batchdeploy.sweeps.grid import parse_grid, split_values


def refused(words, fixed=None, **kw) -> str:
    with pytest.raises(UsageError) as caught:
        parse_grid(words, fixed, **kw)
    assert "\n" not in caught.value.line() and caught.value.exit_code == USAGE
    return caught.value.line()


def test_the_product_runs_the_last_key_fastest_with_ids_from_1():
    sweep = parse_grid(["lr=0.1,0.01", "seed=1,2,3"], {"epochs": "3"})
    assert [t.id for t in sweep.tasks] == [1, 2, 3, 4, 5, 6]
    assert [(t.params["lr"], t.params["seed"]) for t in sweep.tasks] == list(
        itertools.product(["0.1", "0.01"], ["1", "2", "3"]))
    assert all(t.params["epochs"] == "3" for t in sweep.tasks)
    assert list(sweep.tasks[0].params) == ["epochs", "lr", "seed"]
    assert sweep.varying == ["lr", "seed"]
    assert sweep.source == {"kind": "grid", "grid": {"lr": ["0.1", "0.01"], "seed": ["1", "2", "3"]},
                            "fixed": {"epochs": "3"}}
    assert all(t.env == {} and t.inputs == [] and t.outputs == [] and t.line is None for t in sweep.tasks)


def test_a_key_of_one_value_is_not_varying():
    sweep = parse_grid(["a=1", "b=x,y"])
    assert len(sweep.tasks) == 2 and sweep.varying == ["b"]


@pytest.mark.parametrize("text, values", [
    ("a,b", ["a", "b"]),
    (r"a\,b,c", ["a,b", "c"]),
    ("a\\\\,b", ["a\\", "b"]),
    (r"C:\temp,x\y", [r"C:\temp", r"x\y"]),
    ("s3://b/k=1", ["s3://b/k=1"]),
    ("trailing\\", ["trailing\\"]),
])
def test_a_comma_is_escaped_with_a_backslash(text, values):
    assert split_values(text) == values


def test_an_escaped_value_reaches_the_task():
    assert parse_grid([r"files=a\,b,c"]).tasks[0].params == {"files": "a,b"}


@pytest.mark.parametrize("words, fixed, says", [
    ([], None, "--grid: 1 problem: no key=values given"),
    (["lr"], None, "'lr' is not key=v1,v2,..."),
    (["=1,2"], None, "'=1,2' is not key=v1,v2,..."),
    (["l r=1"], None, "'l r=1' is not key=v1,v2,..."),
    (["lr=1,2", "lr=3"], None, "lr is given twice"),
    (["lr="], None, "lr has no values (lr=)"),
    (["lr=1,,2"], None, "lr has an empty value (lr=1,,2)"),
    (["lr=1,"], None, "lr has an empty value"),
    (["lr=1,2,1"], None, "lr gives '1' twice"),
    (["lr=1,2"], {"lr": "3"}, "lr is both a fixed parameter (lr=3) and in the grid"),
])
def test_each_mistake_is_one_clear_line(words, fixed, says):
    assert says in refused(words, fixed)


def test_all_word_problems_come_at_once():
    assert refused(["x", "a=", "b=1,1"]).startswith("--grid: 3 problems: ")


def test_a_product_over_the_limit_is_refused_before_it_is_built():
    big = ["a=" + ",".join(map(str, range(100_000))), "b=" + ",".join(map(str, range(100_000)))]
    line = refused(big)  # 10^10 tasks: counted, never built
    assert "--grid 100000 x 100000: 10,000,000,000 tasks, above MAX_SWEEP_TASKS=10000" in line
    assert "raise MAX_SWEEP_TASKS to split the sweep into several arrays" in line
    assert len(parse_grid(["a=" + ",".join(map(str, range(100))), "b=" + ",".join(map(str, range(100)))]).tasks) == 10_000
    assert "above MAX_SWEEP_TASKS=5" in refused(["a=1,2,3", "b=1,2"], max_tasks=5)
