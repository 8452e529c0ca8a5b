"""A pipeline checked whole before any call (pure): every problem at once, each with its step and line.

`problems(pipeline)` lists them and `check_pipeline` raises them as one UsageError (exit 2): unknown or
repeated steps in depends_on, cycles (named `a -> b -> a`), more than AWS's 20 dependencies on a step
(as the executor submits them: a map step is one array job, so one dependency; a step submitted one
job per task counts each, but for N_TO_N between two such steps, where task i waits on task i only),
N_TO_N between steps that are not map steps of one size, or between an array and a per-task step, `{steps.X.output}`
naming a step that is unknown or not an ancestor (its output would not exist yet), job names AWS
would refuse, duplicate names, an empty pipeline, maps above MAX_SWEEP_TASKS or AWS's 10,000, and
resources, timeout and retries outside `-r`'s limits. `check_parameters` does the one check that needs
the job definitions (described by the executor). `order` and `dependents` walk the graph.
"""

from __future__ import annotations

import difflib
import heapq
import re
from collections import Counter

from batchdeploy.aws.batch import ARRAY_SIZE, MAX_DEPENDS_ON, NAME
from batchdeploy.config import KEYS
from batchdeploy.errors import BatchdeployError
from batchdeploy.jobs.request import RunSpec, check_options
from batchdeploy.jobs.request import check_parameters as check_run_parameters
from batchdeploy.pipelines.model import Pipeline, Step
from batchdeploy.sweeps.check import check_against_definition
from batchdeploy.sweeps.problems import DEFAULT_MAX_TASKS, raise_problems

OUTPUT_REF = re.compile(r"\{steps\.([^.{}]*)\.output\}")
MAX_STEPS = 1000  # far more than a pipeline submitted at once needs; the checks stay quick below it
STEP_NAME = re.compile(r"[A-Za-z0-9_-]+")
# What SubmitJob's jobDefinition takes: NAME, NAME:REVISION or an ARN.
DEFINITION = re.compile(rf"{NAME.pattern}(:[1-9]\d*)?|{KEYS['ROLE_ARN'].pattern}")


def job_name(pipeline_name: str, step_name: str) -> str:
    """A step's job name: `PIPELINE-STEP` (a map step's per-task jobs add `-TASK`, as sweeps do)."""
    return f"{pipeline_name}-{step_name}"


def _at(step: Step) -> str:
    return f"line {step.line}: step {step.name}" if step.line else f"step {step.name}"


def texts(step: Step) -> list[str]:
    """Every value of the step a `{steps.X.output}` may be written in."""
    out = [*step.parameters.values(), *step.environment.values(), *(step.command or [])]
    for task in (step.map.tasks if step.map else []):
        out += [*task.params.values(), *task.env.values()]
        out += [v for item in (*task.inputs, *task.outputs) for v in item.values() if isinstance(v, str)]
    return out


def references(step: Step) -> list[str]:
    """The steps whose outputs the step names, in order, each once."""
    return list(dict.fromkeys(name for text in texts(step) for name in OUTPUT_REF.findall(text)))


def order(pipeline: Pipeline) -> list[Step]:
    """The steps in a dependency order, stable: among the steps ready, the earliest in the file first.
    Steps in a cycle (which `problems` names) come last, in file order; unknown dependencies are ignored."""
    index = {s.name: i for i, s in enumerate(pipeline.steps)}
    waiting = {s.name: {d.step for d in s.depends_on if d.step in index and d.step != s.name} for s in pipeline.steps}
    after: dict[str, list[str]] = {}
    for name, deps in waiting.items():
        for dep in deps:
            after.setdefault(dep, []).append(name)
    ready = [i for i, s in enumerate(pipeline.steps) if not waiting[s.name]]
    heapq.heapify(ready)
    done: list[Step] = []
    while ready:
        step = pipeline.steps[heapq.heappop(ready)]
        done.append(step)
        for nxt in after.get(step.name, []):
            waiting[nxt].discard(step.name)
            if not waiting[nxt]:
                heapq.heappush(ready, index[nxt])
    seen = {s.name for s in done}
    return done + [s for s in pipeline.steps if s.name not in seen]


def dependents(pipeline: Pipeline, step: str) -> set[str]:
    """Every step that runs after `step` (depends on it, directly or not): those a failure of `step`
    stops, and those a rerun of it must run again."""
    after: dict[str, set[str]] = {}
    for s in pipeline.steps:
        for d in s.depends_on:
            after.setdefault(d.step, set()).add(s.name)
    found, stack = set(), [step]
    while stack:
        for nxt in after.get(stack.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    found.discard(step)
    return found


def ancestors(pipeline: Pipeline, step: str) -> set[str]:
    """Every step `step` runs after."""
    by_name = {s.name: s for s in pipeline.steps}
    found, stack = set(), [step]
    while stack:
        current = by_name.get(stack.pop())
        for d in (current.depends_on if current else []):
            if d.step not in found:
                found.add(d.step)
                stack.append(d.step)
    found.discard(step)
    return found


def cycles(pipeline: Pipeline) -> list[list[str]]:
    """Each cycle once, as the path that closes it: ["a", "b", "a"]."""
    by_name = {s.name: s for s in pipeline.steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []
    for start in by_name:
        if start in state:
            continue
        path, stack = [start], [iter([d.step for d in by_name[start].depends_on])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif nxt in by_name and state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt in by_name and nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter([d.step for d in by_name[nxt].depends_on]))
    return found


def map_size(step: Step) -> int | None:
    return len(step.map.tasks) if step.map is not None else None


def _dependency_problems(pipeline: Pipeline, step: Step, per_task: frozenset, reused: frozenset = frozenset()) -> list[str]:
    by_name = {s.name: s for s in pipeline.steps}
    at, out = _at(step), []
    for name, n in Counter(d.step for d in step.depends_on).items():
        if n > 1:
            out.append(f"{at}: depends on {name} {n} times")
    for d in step.depends_on:
        if d.step not in by_name:
            near = difflib.get_close_matches(d.step, list(by_name), n=1, cutoff=0.6)
            out.append(f"{at}: depends on {d.step}, which is not a step" + (f" (did you mean {near[0]}?)" if near else ""))
        elif d.type == "N_TO_N":
            mine, theirs = map_size(step), map_size(by_name[d.step])
            shapes = per_task & {step.name, d.step}
            if mine is None or theirs is None or mine != theirs or mine < ARRAY_SIZE[0]:
                out.append(f"{at}: N_TO_N on {d.step} needs both to be map steps (arrays) of one size: "
                           f"{_size(mine)} and {_size(theirs)}")
            elif len(shapes) == 1 and d.step not in reused:  # task i's job on array child i: no such dependsOn entry
                one = next(iter(shapes))
                out.append(f"{at}: N_TO_N on {d.step} pairs one job per task ({one}: its image has no launcher) with "
                           f"an array's children, which AWS's dependsOn cannot express (give both images the launcher, "
                           f"or neither)")
    # a per-task dependency is each of its jobs, but with N_TO_N between two per-task steps: the one task's
    jobs = sum(map_size(by_name[d.step]) if d.step in per_task and not (d.type == "N_TO_N" and step.name in per_task)
               else 1 for d in {d.step: d for d in step.depends_on}.values() if d.step in by_name and d.step not in reused)
    if jobs > MAX_DEPENDS_ON:
        out.append(f"{at}: depends on {jobs} jobs, above AWS's {MAX_DEPENDS_ON} (add a step that gathers them)")
    return out


def _size(size: int | None) -> str:
    return "not a map" if size is None else f"{size} task{'s' if size != 1 else ''}"


def _option_problems(pipeline: Pipeline, step: Step) -> list[str]:
    """`-r`'s own limits (jobs.request.check_options), one option at a time so each is reported."""
    name = job_name(pipeline.name, step.name)
    out = []
    if not STEP_NAME.fullmatch(step.name):
        out.append(f"{_at(step)}: the name {step.name!r} is not one AWS accepts in a job name (letters, digits, - _)")
    elif len(name) > 128:
        out.append(f"{_at(step)}: the job name {name[:20]}... is {len(name)} characters, above AWS's 128 "
                   "(shorten the pipeline's or the step's name)")
    if step.job_definition is not None and not DEFINITION.fullmatch(step.job_definition):
        out.append(f"{_at(step)}: job_definition {step.job_definition!r} is not NAME, NAME:REVISION or an ARN")
    for option in ("vcpus", "memory", "gpus", "timeout", "retries"):
        value = getattr(step, option)
        if value is not None:
            try:
                check_options(RunSpec(name="x", queue="", job_definition={}, **{option: value}))
            except BatchdeployError as exc:
                out.append(f"{_at(step)}: {exc.line().replace('--', '', 1)}")
    return out


def _settings_problems(settings: dict) -> list[str]:
    """The pipeline's tags as -r checks a job's (reserved keys, lengths, how many), and its definition."""
    out = []
    if settings.get("tags"):
        try:
            check_options(RunSpec(name="x", queue="", job_definition={}, tags=dict(settings["tags"]), client_token="t"))
        except BatchdeployError as exc:
            out.append(f"settings: {exc.line()}")
    definition = settings.get("job_definition")
    if definition is not None and not DEFINITION.fullmatch(definition):
        out.append(f"settings: job_definition {definition!r} is not NAME, NAME:REVISION or an ARN")
    return out


def problems(pipeline: Pipeline, *, max_tasks: int = DEFAULT_MAX_TASKS, per_task: frozenset = frozenset(),
             reused: frozenset = frozenset()) -> list[str]:
    """Every problem of the pipeline's graph and steps; `per_task`: the map steps the executor will
    submit as one job per task (an image with no launcher), which count as that many dependencies;
    `reused`: a rerun's steps that succeeded before, no dependency of what it submits."""
    if not pipeline.steps:
        return ["the pipeline has no steps"]
    if len(pipeline.steps) > MAX_STEPS:
        return [f"the pipeline has {len(pipeline.steps):,} steps, above the {MAX_STEPS:,} one pipeline may have"]
    out = [f"step {name} is given {n} times" for name, n in Counter(s.name for s in pipeline.steps).items() if n > 1]
    lines = {s.name: s.line for s in pipeline.steps}
    out += [(f"line {lines[c[0]]}: " if lines.get(c[0]) else "") + f"a cycle: {' -> '.join(c)} (each depends on the next)"
            for c in cycles(pipeline)]
    out += _settings_problems(pipeline.settings)
    known = {s.name for s in pipeline.steps}
    limit = min(max_tasks, ARRAY_SIZE[1])
    for step in pipeline.steps:
        out += _dependency_problems(pipeline, step, frozenset(per_task), frozenset(reused))
        out += _option_problems(pipeline, step)
        if step.map is not None and not 0 < len(step.map.tasks) <= limit:
            out.append(f"{_at(step)}: a map of {len(step.map.tasks):,} tasks; a map step is one array job of 1 to {limit:,}")
        named = references(step)
        before = ancestors(pipeline, step.name) if named else set()
        for name in named:
            if name not in known:
                out.append(f"{_at(step)}: {{steps.{name}.output}} names no step")
            elif name not in before:
                out.append(f"{_at(step)}: {{steps.{name}.output}} names a step it does not depend on "
                           f"(it would not exist yet): add {name} to depends_on")
    return out


def check_pipeline(pipeline: Pipeline, *, max_tasks: int = DEFAULT_MAX_TASKS, per_task: frozenset = frozenset(),
                   reused: frozenset = frozenset()) -> None:
    """`problems`, as one UsageError (exit 2) of one line."""
    shown = pipeline.source.get("file") or f"pipeline {pipeline.name}"
    raise_problems(shown, problems(pipeline, max_tasks=max_tasks, per_task=per_task, reused=reused))


def check_parameters(pipeline: Pipeline, definitions: dict[str, dict]) -> None:
    """Each step's parameters (each task's, for a map step) against its job definition (one entry of
    DescribeJobDefinitions, by step name), as `-r` and sweeps check them; every problem at once."""
    found = []
    for step in pipeline.steps:
        if step.name not in definitions:
            found.append(f"{_at(step)}: no job definition was described for it")
            continue
        try:
            if step.map is not None:
                check_against_definition(step.map, definitions[step.name])
            else:
                check_run_parameters(step.parameters, definitions[step.name])
        except BatchdeployError as exc:
            found.append(f"{_at(step)}: {exc.line()}")
    shown = pipeline.source.get("file") or f"pipeline {pipeline.name}"
    raise_problems(shown, found)
