"""A sweep checked against its job definition: every task's parameters as `-r key=val` is checked
(batchdeploy.jobs.request.check_parameters), every problem reported at once with its line or task."""

from __future__ import annotations

from dataclasses import replace

from batchdeploy.jobs.request import definition_label, placeholders
from batchdeploy.sweeps.model import Sweep
from batchdeploy.sweeps.problems import raise_problems


def shown(sweep: Sweep) -> str:
    """How messages name the sweep: its tasks file, or --grid."""
    return sweep.source.get("file") or "--grid"


def check_against_definition(sweep: Sweep, job_definition: dict) -> Sweep:
    """The sweep with each task's parameters as the job will see them (the definition's defaults
    filled in: in a manifest the launcher, not Batch, fills a command's `Ref::`); UsageError naming
    every unknown parameter (with its column in a tasks file) and every task a `Ref::` lacks a value in."""
    label = definition_label(job_definition)
    refs = placeholders(job_definition)
    defaults = dict(job_definition.get("parameters") or {})
    valid = list(dict.fromkeys([*refs, *defaults]))
    columns = sweep.source.get("param_columns") or {}
    problems = []
    for name in dict.fromkeys(k for task in sweep.tasks for k in task.params):
        if name not in valid:
            at = f"line 1 column {columns[name]}: " if name in columns else ""
            problems.append(f"{at}unknown parameter {name} for {label}")
    for task in sweep.tasks:
        missing = [k for k in refs if k not in task.params and k not in defaults]
        if missing:
            at = f"line {task.line}" if task.line is not None else f"task {task.id}"
            problems.append(f"{at}: {label} needs a value for {', '.join(missing)} (Ref:: placeholder with no default)")
    listed = ", ".join(valid) if valid else "none: it takes no parameters"
    raise_problems(shown(sweep), problems, hint=f"valid parameters of {label}: {listed}")
    # Every task passed the checks above (check_parameters's, once for the sweep): fill in the defaults.
    tasks = [replace(task, params={**defaults, **task.params}) for task in sweep.tasks]
    return replace(sweep, tasks=tasks)


def with_fixed(sweep: Sweep, fixed: dict[str, str]) -> Sweep:
    """`-r NAME key=val --tasks FILE`: the fixed parameters in every task; a parameter the file's
    columns set too is an error (as a key both fixed and in a grid is: see grid.parse_grid)."""
    if not fixed:
        return sweep
    columns = sweep.source.get("param_columns") or {}
    both = [k for k in fixed if k in columns or any(k in t.params for t in sweep.tasks)]
    raise_problems(shown(sweep), [
        f"line 1 column {columns[k]}: {k} is both a column and a fixed parameter ({k}={fixed[k]})" if k in columns
        else f"{k} is both in the sweep and a fixed parameter ({k}={fixed[k]})" for k in both
    ], hint="give each parameter either one value (key=val) or a column")
    tasks = [replace(task, params={**fixed, **task.params}) for task in sweep.tasks]
    return replace(sweep, tasks=tasks, source={**sweep.source, "fixed": dict(fixed)})
