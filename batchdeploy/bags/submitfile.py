"""pegasus-aws-batch job submit files, read as pegasus reads them, checked as pegasus does not.

    {"SubmitJob": [{"jobName": "example-job-1", "jobDefinition": "X", "jobQueue": "X",
                    "executable": "myjob.sh", "arguments": "60",
                    "environment": [{"name": "K", "value": "V"}]}]}

What pegasus does, kept (`builder/Job.java`, `classes/AWSJob.java`): one or more files, their tasks in
order; keys in any case (`jobname`); scalar values as their text (`"arguments": 60` is "60"); the
command is exactly two words, `[executable, arguments]` (the whole arguments string stays one word;
without arguments the command is the executable alone); `TRANSFER_INPUT_FILES=local1,local2` in a
task's environment names local files shipped to the bucket and rewritten to their basenames.

What pegasus does that loses work, refused here before anything is uploaded or submitted, every
problem at once with its file and task: a file without a `SubmitJob` array (pegasus runs nothing and
succeeds), a task without `jobName` or `executable`, two tasks with one `jobName` (their logs and
states overwrite each other), a job name AWS refuses, an environment entry without a name or given
twice, a `TRANSFER_INPUT_FILES` path that is missing or not a file, and two different files with one
basename (pegasus uploads both to `<bucket>/<basename>`: the second silently replaces the first).
Keys pegasus ignores are ignored here too, with a warning naming them (a typo then shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.aws.batch import JOB_NAME
from batchdeploy.errors import ConfigError
from batchdeploy.userjson import load_json

TRANSFER_INPUT_FILES = "TRANSFER_INPUT_FILES"
KEYS = ("jobName", "jobDefinition", "jobQueue", "executable", "arguments", "environment")
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class BagTask:
    name: str  # jobName: the task's identity (its log files, its state line)
    command: list[str]  # [executable, arguments] as pegasus passes them
    environment: dict[str, str] = field(default_factory=dict)  # TRANSFER_INPUT_FILES rewritten to basenames
    job_definition: str | None = None  # the task's own, honoured (pegasus overrides it with -j)
    job_queue: str | None = None  # the task's own, honoured (pegasus overrides it with -q)
    inputs: tuple[Path, ...] = ()  # TRANSFER_INPUT_FILES as local paths, in order
    where: str = ""  # "file.json task 3", for messages


@dataclass(frozen=True)
class Bag:
    tasks: list[BagTask]
    warnings: list[str]

    def uploads(self) -> dict[str, Path]:
        """basename -> local file, every task's inputs once."""
        return {p.name: p for t in self.tasks for p in t.inputs}


def _text(value) -> str | None:
    """A scalar as Jackson's asText gives it; None for null, a list or an object."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _folded(obj: dict, where: str, problems: list, warnings: list) -> dict:
    """`obj`'s known keys, whatever their case; a key written twice in two cases is a problem."""
    out: dict = {}
    canon = {k.lower(): k for k in KEYS}
    for key, value in obj.items():
        name = canon.get(str(key).lower())
        if name is None:
            warnings.append(f"{where}: ignored key {key!r} (pegasus ignores it too)")
        elif name in out:
            problems.append(f"{where}: {name} given twice")
        else:
            out[name] = value
    return out


def _environment(raw, where: str, problems: list) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        problems.append(f"{where}: environment must be an array of {{name, value}}")
        return {}
    env: dict[str, str] = {}
    for n, entry in enumerate(raw, 1):
        item = {str(k).lower(): v for k, v in entry.items()} if isinstance(entry, dict) else {}
        name, value = _text(item.get("name")), _text(item.get("value"))
        if not name:
            problems.append(f"{where}: environment entry {n} has no name")
        elif name in env:
            problems.append(f"{where}: environment {name} given twice")
        else:
            env[name] = value if value is not None else ""
    return env


def _inputs(value: str, base: Path, where: str, problems: list) -> tuple[Path, ...]:
    paths = []
    for word in (w.strip() for w in value.split(",")):
        if not word:
            continue
        path = Path(word) if Path(word).is_absolute() else base / word
        if not path.is_file():
            problems.append(f"{where}: {TRANSFER_INPUT_FILES} names {word}, which is " +
                            ("not a file" if path.exists() else "missing"))
        else:
            paths.append(path)
    return tuple(paths)


def _task(raw, where: str, base: Path, problems: list, warnings: list) -> BagTask | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a task must be a JSON object")
        return None
    known = _folded(raw, where, problems, warnings)
    name, executable = _text(known.get("jobName")), _text(known.get("executable"))
    if not name:
        problems.append(f"{where}: no jobName")
    elif not JOB_NAME.fullmatch(name):
        problems.append(f"{where}: jobName {name!r} is not a job name AWS takes (1-128 of A-Z a-z 0-9 _ -)")
    if not executable:
        problems.append(f"{where}: no executable")
    arguments = _text(known.get("arguments"))
    env = _environment(known.get("environment"), where, problems)
    inputs = _inputs(env[TRANSFER_INPUT_FILES], base, where, problems) if env.get(TRANSFER_INPUT_FILES) else ()
    if inputs:
        env[TRANSFER_INPUT_FILES] = ",".join(p.name for p in inputs)
    return BagTask(
        name=name or "", command=[executable or ""] + ([arguments] if arguments is not None else []),
        environment=env, job_definition=_text(known.get("jobDefinition")) or None,
        job_queue=_text(known.get("jobQueue")) or None, inputs=inputs, where=where,
    )


def _tasks_of(path: Path, problems: list) -> list:
    doc = load_json(path, "job submit file")
    submit = None
    if isinstance(doc, dict):
        submit = next((v for k, v in doc.items() if str(k).lower() == "submitjob"), None)
    if not isinstance(submit, list):
        problems.append(f"{path.name}: SubmitJob value should be of type array")
        return []
    if not submit:
        problems.append(f"{path.name}: SubmitJob holds no tasks")
    return submit


def _collisions(tasks: list[BagTask], common: list[Path], problems: list) -> None:
    """Two different files with one basename would overwrite each other at <bucket>/<basename>."""
    seen: dict[str, tuple[Path, str]] = {}
    for path, where in [(p, "-f") for p in common] + [(p, t.where) for t in tasks for p in t.inputs]:
        first = seen.setdefault(path.name, (path.resolve(), where))
        if first[0] != path.resolve():
            problems.append(f"{where}: {path} and {first[0]} ({first[1]}) share the basename {path.name}, "
                            "and would overwrite each other in the bucket")


def load(paths: list[Path], base: Path, common: list[Path] = ()) -> Bag:
    """Every task of the submit files `paths` (relative inputs resolved from `base`), checked with the
    common files of `-f`; a ConfigError (exit 2) listing every problem when anything is wrong."""
    problems: list[str] = []
    warnings: list[str] = []
    tasks: list[BagTask] = []
    for path in paths:
        for n, raw in enumerate(_tasks_of(path, problems), 1):
            task = _task(raw, f"{path.name} task {n}", base, problems, warnings)
            if task is not None:
                tasks.append(task)
    names: dict[str, str] = {}
    for task in tasks:
        if task.name and names.setdefault(task.name, task.where) != task.where:
            problems.append(f"{task.where}: jobName {task.name} is also {names[task.name]}'s")
    for path in common:
        if not path.is_file():
            problems.append(f"-f names {path}, which is " + ("not a file" if path.exists() else "missing"))
    _collisions(tasks, [p for p in common if p.is_file()], problems)
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise ConfigError(f"{len(problems)} problem(s) in the job submit files", problems[:MAX_PROBLEMS],
                          hint=f"fix them; nothing was uploaded or submitted{more}")
    return Bag(tasks, warnings)
