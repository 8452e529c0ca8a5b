"""The pipeline's graph checked whole (pure), its order and dependents, and output locations."""

from __future__ import annotations

import pytest

from batchdeploy.errors import USAGE, BatchdeployError
from batchdeploy.pipelines import check
from batchdeploy.pipelines.model import Dependency, Pipeline, Step
from batchdeploy.pipelines.outputs import expand_outputs, step_output_url
from batchdeploy.sweeps.model import Sweep, SweepTask


def sweep(n: int, **params) -> Sweep:
    return Sweep([SweepTask(i, dict(params)) for i in range(1, n + 1)], [], {"kind": "grid"})


def step(name, *deps, **kw) -> Step:
    return Step(name=name, depends_on=[d if isinstance(d, Dependency) else Dependency(d) for d in deps], **kw)


def pipe(*steps, name="p") -> Pipeline:
    return Pipeline(name, list(steps))


def problems(*steps, **kw) -> list[str]:
    return check.problems(pipe(*steps), **kw)


DIAMOND = pipe(step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"), step("e"))


def test_a_good_pipeline_has_no_problems():
    assert check.problems(DIAMOND) == []
    check.check_pipeline(DIAMOND)


def test_order_is_a_dependency_order_stable_on_the_file():
    p = pipe(step("d", "b", "c"), step("c", "a"), step("b", "a"), step("a"), step("z"))
    assert [s.name for s in check.order(p)] == ["a", "c", "b", "d", "z"]
    assert [s.name for s in check.order(DIAMOND)] == ["a", "b", "c", "d", "e"]


def test_order_puts_a_cycle_last_rather_than_looping():
    p = pipe(step("x", "y"), step("y", "x"), step("a"))
    assert [s.name for s in check.order(p)] == ["a", "x", "y"]


def test_dependents_are_every_step_after():
    assert check.dependents(DIAMOND, "a") == {"b", "c", "d"}
    assert check.dependents(DIAMOND, "b") == {"d"}
    assert check.dependents(DIAMOND, "d") == set()
    assert check.ancestors(DIAMOND, "d") == {"a", "b", "c"}


@pytest.mark.parametrize("steps, expected", [
    ([step("a", "a")], "a cycle: a -> a"),
    ([step("a", "b"), step("b", "c"), step("c", "a")], "a cycle: a -> b -> c -> a (each depends on the next)"),
    ([step("a", "nope")], "step a: depends on nope, which is not a step"),
    ([step("prepare"), step("a", "prepar")], "step a: depends on prepar, which is not a step (did you mean prepare?)"),
    ([step("a"), step("b", "a", "a")], "step b: depends on a 2 times"),
    ([step("a"), step("a")], "step a is given 2 times"),
    ([step("a b")], "the name 'a b' is not one AWS accepts in a job name"),
    ([step("s" * 127)], "is 129 characters, above AWS's 128"),
    ([step("a", vcpus="0")], "step a: vcpus '0' is not a number above 0"),
    ([step("a", memory="1.5")], "step a: memory '1.5' is not a whole number above 0"),
    ([step("a", gpus="x")], "gpus 'x' is not a whole number above 0"),
    ([step("a", timeout=59)], "timeout 59 is too short; AWS Batch needs at least 60 seconds"),
    ([step("a", retries=0)], "retries 0 is out of range; attempts must be 1 to 10"),
    ([step("a", retries=11)], "retries 11 is out of range"),
    ([step("a", parameters={"x": "{steps.zz.output}"})], "step a: {steps.zz.output} names no step"),
    ([step("a"), step("b", parameters={"x": "{steps.a.output}f"})], "step b: {steps.a.output} names a step it does not depend on"),
    ([step("a", "b"), step("b", environment={"X": "{steps.a.output}"})], "{steps.a.output} names a step it does not depend on"),
    ([step("a"), step("b", command=["x", "{steps.a.output}"])], "names a step it does not depend on"),
    ([step("a"), step("b", map=sweep(2, x="{steps.a.output}"))], "names a step it does not depend on"),
    ([step("a", map=sweep(10_001))], "a map of 10,001 tasks; a map step is one array job of 1 to 10,000"),
    ([step("a", map=sweep(0))], "a map of 0 tasks"),
    ([step("a", job_definition="x y")], "step a: job_definition 'x y' is not NAME, NAME:REVISION or an ARN"),
])
def test_each_problem(steps, expected):
    found = problems(*steps)
    assert any(expected in p for p in found), found


def test_an_output_of_an_ancestor_two_steps_back_is_fine():
    assert problems(step("a"), step("b", "a"), step("c", "b", parameters={"x": "{steps.a.output}"})) == []


def test_a_long_pipeline_name_counts_in_the_job_name():
    assert "above AWS's 128" in check.problems(pipe(step("ok"), name="p" * 126))[0]
    assert check.problems(pipe(step("ok"), name="p" * 125)) == []
    assert check.job_name("p", "fit") == "p-fit"


def test_twenty_dependencies_are_fine_twenty_one_are_not():
    deps = [step(f"s{i}") for i in range(21)]
    assert problems(*deps[:20], step("join", *[s.name for s in deps[:20]])) == []
    found = problems(*deps, step("join", *[s.name for s in deps]))
    assert found == ["step join: depends on 21 jobs, above AWS's 20 (add a step that gathers them)"]


def test_a_map_step_is_one_dependency_unless_it_is_submitted_one_job_per_task():
    steps = [step("fit", map=sweep(50)), step("after", "fit")]
    assert problems(*steps) == []
    assert problems(*steps, per_task=frozenset({"fit"})) == [
        "step after: depends on 50 jobs, above AWS's 20 (add a step that gathers them)"]


@pytest.mark.parametrize("a, b, ok", [
    (sweep(4), sweep(4), True),
    (sweep(4), sweep(3), False),
    (None, sweep(4), False),
    (sweep(4), None, False),
    (sweep(1), sweep(1), False),  # a one-task map is a plain job, not an array
])
def test_n_to_n_needs_two_maps_of_one_size(a, b, ok):
    found = problems(step("a", map=a), step("b", Dependency("a", "N_TO_N"), map=b))
    assert (found == []) is ok, found
    if not ok:
        assert "N_TO_N on a needs both to be map steps (arrays) of one size" in found[0]


@pytest.mark.parametrize("per_task", [{"a"}, {"b"}])
def test_n_to_n_between_an_array_and_one_job_per_task_is_refused_with_the_reason(per_task):
    found = problems(step("a", map=sweep(3)), step("b", Dependency("a", "N_TO_N"), map=sweep(3)),
                     per_task=frozenset(per_task))
    assert found == [f"step b: N_TO_N on a pairs one job per task ({per_task.pop()}: its image has no launcher) with an "
                     "array's children, which AWS's dependsOn cannot express (give both images the launcher, or neither)"]


def test_n_to_n_between_two_per_task_steps_is_task_i_on_task_i_so_one_dependency_each():
    both = frozenset({"a", "b"})
    assert problems(step("a", map=sweep(30)), step("b", Dependency("a", "N_TO_N"), map=sweep(30)), per_task=both) == []
    # "all" on the same per-task step is each of its 30 jobs
    found = problems(step("a", map=sweep(30)), step("b", "a", map=sweep(30)), per_task=both)
    assert found == ["step b: depends on 30 jobs, above AWS's 20 (add a step that gathers them)"]


def test_job_definitions_by_name_revision_or_arn():
    for jd in ("exp", "exp:3", "arn:aws:batch:eu-west-1:123456789012:job-definition/exp:3"):
        assert problems(step("a", job_definition=jd)) == []
    assert problems(step("a", job_definition="exp:0")) != []


def test_settings_tags_as_a_job_s():
    p = Pipeline("p", [step("a")], settings={"tags": {f"k{i}": "v" for i in range(50)}})
    assert check.problems(p) == ["settings: 50 tags given; a job takes at most 50 tags, one is batchdeploy's"]


def test_an_empty_pipeline():
    assert check.problems(pipe()) == ["the pipeline has no steps"]


def test_check_pipeline_raises_every_problem_in_one_line():
    p = Pipeline("p", [step("a", "b"), step("b", "a", timeout=1)], source={"file": "p.yaml"})
    with pytest.raises(BatchdeployError) as info:
        check.check_pipeline(p)
    assert info.value.exit_code == USAGE
    assert info.value.line() == ("p.yaml: 2 problems: a cycle: a -> b -> a (each depends on the next); "
                                 "step b: timeout 1 is too short; AWS Batch needs at least 60 seconds")


JD = {"jobDefinitionName": "exp", "revision": 3, "parameters": {"seed": "file", "out": "x"},
      "containerProperties": {"command": ["run", "Ref::seed", "Ref::data", "Ref::out"]}}


def test_check_parameters_against_each_step_s_definition():
    p = Pipeline("p", [step("a", parameters={"data": "d"}), step("b", map=sweep(2, data="d", seed="1")),
                       Step("c", parameters={"nope": "1"}, line=7), step("d", map=sweep(2, seed="2")), step("e")])
    with pytest.raises(BatchdeployError) as info:
        check.check_parameters(p, {"a": JD, "b": JD, "c": JD, "d": JD})
    line = info.value.line()
    assert line.startswith("pipeline p: 3 problems: ")
    assert "line 7: step c: unknown parameter nope for exp:3" in line
    assert "step d: --grid: 2 problems: task 1: exp:3 needs a value for data" in line
    assert "step e: no job definition was described for it" in line
    check.check_parameters(Pipeline("p", p.steps[:2]), {"a": JD, "b": JD})


def test_step_output_url_and_expansion():
    assert step_output_url("b", "results", "r1", "fit") == "s3://b/results/r1/fit/"
    assert step_output_url("b", "", "r1", "fit", task=3) == "s3://b/r1/fit/3/"
    assert step_output_url("b", "/a/b/", "r1", "x") == "s3://b/a/b/r1/x/"
    text = "{steps.prepare.output}experiment.yaml {steps.fit.output} {run_id} {task} {steps.x}"
    assert expand_outputs(text, "r1", "b", "results") == (
        "s3://b/results/r1/prepare/experiment.yaml s3://b/results/r1/fit/ {run_id} {task} {steps.x}")


def test_order_of_a_random_graph_puts_every_step_after_its_dependencies():
    import random

    rng = random.Random(7)
    names = [f"s{i}" for i in range(300)]
    steps = [step(n, *rng.sample(names[:i], min(i, rng.randint(0, 4)))) for i, n in enumerate(names)]
    rng.shuffle(steps)
    placed = {s.name: i for i, s in enumerate(check.order(pipe(*steps)))}
    assert len(placed) == 300
    assert all(placed[d.step] < placed[s.name] for s in steps for d in s.depends_on)


def test_more_steps_than_a_pipeline_may_have():
    assert check.problems(pipe(*[step(f"s{i}") for i in range(1001)])) == [
        "the pipeline has 1,001 steps, above the 1,000 one pipeline may have"]


def test_a_reruns_reused_steps_are_no_dependency_so_neither_counted_nor_paired():
    steps = [step("a", map=sweep(30)), step("b", Dependency("a", "N_TO_N"), map=sweep(30)), step("c", "a")]
    assert problems(*steps, per_task=frozenset({"b"}), reused=frozenset({"a"})) == []
    assert len(problems(*steps, per_task=frozenset({"b"}))) == 1
