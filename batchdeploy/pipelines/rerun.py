"""`batchdeploy pipeline rerun RUN_ID` (its door is pipelines.verb.rerun): a new submit of only the steps of RUN_ID that did not succeed
(failed, not run, never submitted) and every step after them, from today's pipeline file (the path
run.json names: what changed since is the point of a rerun). The steps that succeeded are not run
again and are no dependency: their outputs stay where the original run wrote them, and the rerun's
`{steps.NAME.output}` still name the original run's locations. Before it submits, the rerun writes
its marker ORIGINAL/reruns/NEW_RUN_ID.json once (as sweeps' rerun does), so `--status ORIGINAL`
reads the original and its reruns as one run.

A map step is rerun task by task (reusable_tasks): the tasks that succeeded, with the same entry in
today's file and nothing they depend on run again, are kept and not submitted; a submit cut part-way
never runs a task twice. A per-task step submits a job for each other task; an array step one array
of the others (ids kept, so outputs land where they did), unless an N_TO_N edge pairs it with another
step the rerun submits: then it is rerun whole (whole_arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.pipelines import graph


def to_rerun(steps: list[graph.StepState], current: dict[str, str]) -> list[str]:
    """The steps that did not succeed, and every step after one of them (steps in dependency order)."""
    out: set[str] = set()
    for s in steps:
        if current[s.name] != "SUCCEEDED" or any(d in out for d in s.depends_on):
            out.add(s.name)
    return [s.name for s in steps if s.name in out]


@dataclass(frozen=True)
class Before:
    """A map step's earlier attempts: the jobs that SUCCEEDED, {task id: job id}, and each task's
    manifest entry (what it ran)."""
    succeeded: dict
    tasks: dict


def whole_arrays(order: list, arrays: set) -> frozenset:
    """The array map steps a rerun must run whole: those with an N_TO_N edge to or from another step it
    submits (AWS pairs child i with child i, so both arrays keep every task)."""
    submitted = {s.name for s in order}
    paired = {name for s in order for d in s.depends_on if d.type == "N_TO_N" and d.step in submitted
              for name in (s.name, d.step)}
    return frozenset(paired & arrays)


def reusable_tasks(order: list, today: dict, before: dict, whole: frozenset = frozenset()) -> dict[str, dict]:
    """The tasks of the per-task map steps to rerun that need not run again: {step: {task id: job id}}.

    `order`: the steps the rerun submits, in dependency order (pipelines.model.Step); `today`: {step:
    today's manifest task entries, in map order} of its map steps; `before`: {step: Before}; `whole`:
    the steps that keep nothing (whole_arrays). A task is kept when its job SUCCEEDED, today's file gives it the same entry (parameters,
    environment, inputs, outputs), and what it depends on is not run again: each dependency is either
    a step the rerun reuses whole or, with N_TO_N, a per-task step whose task at the same position is
    kept. So a submit cut part-way, or a map where some tasks failed, runs again only what must."""
    submitted = {s.name for s in order}
    kept: dict[str, dict] = {}
    for step in order:
        entries, was = today.get(step.name), before.get(step.name)
        if entries is None or was is None or step.name in whole:
            continue
        mine = {}
        for position, task in enumerate(entries):
            tid = task.get("id")
            if tid not in was.succeeded or was.tasks.get(tid) != task:
                continue
            if all(d.step not in submitted or (d.type == "N_TO_N" and _kept_at(kept, today, d.step, position))
                   for d in step.depends_on):
                mine[tid] = was.succeeded[tid]
        if mine:
            kept[step.name] = mine
    return kept


def _kept_at(kept: dict, today: dict, step: str, position: int) -> bool:
    entries = today.get(step)
    return entries is not None and position < len(entries) and entries[position].get("id") in kept.get(step, {})
