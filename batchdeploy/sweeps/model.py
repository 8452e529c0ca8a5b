"""What a sweep is, whichever way it was written (a tasks file, a grid): plain data, no AWS.

Task ids are dsub's: the first task is 1 (a tasks file's first data row, a grid's first combination),
and they stay the task's name for good: a rerun of task 7 is task 7 again, in a new array whose index
differs. The manifest carries each task's id (`"id"`), and the launcher names its records by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SweepTask:
    id: int  # 1-based, for good (see the module docstring)
    params: dict[str, str] = field(default_factory=dict)  # the job definition's Ref::NAME values
    env: dict[str, str] = field(default_factory=dict)  # environment of the command
    labels: dict[str, str] = field(default_factory=dict)  # shown and recorded, never given to the job
    inputs: list[dict] = field(default_factory=list)  # launcher form: {"from": s3 URL, "to": local path}
    outputs: list[dict] = field(default_factory=list)  # launcher form: {"from": local path, "to": s3 URL}
    line: int | None = None  # the tasks file's line, for messages


@dataclass(frozen=True)
class Sweep:
    tasks: list[SweepTask]
    varying: list[str]  # what differs between tasks, as a table's columns name it ("lr", "--env SEED")
    source: dict  # {"kind": "tasks", "file", "range", "sha256"} or {"kind": "grid", "grid": {name: [values]}}


def to_manifest_tasks(sweep: Sweep, command: list | None = None) -> list[dict]:
    """The tasks `batchdeploy.manifest.build` takes, each with its id; `command` (words with `Ref::`)
    is each task's own, None to leave it to the manifest's. Labels stay out: they are for the run record."""
    return [
        {
            "id": task.id,
            "command": list(command) if command is not None else None,
            "parameters": dict(task.params),
            "environment": dict(task.env),
            "inputs": [dict(i) for i in task.inputs],
            "outputs": [dict(o) for o in task.outputs],
        }
        for task in sweep.tasks
    ]
