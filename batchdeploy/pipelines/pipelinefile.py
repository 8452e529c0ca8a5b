"""The pipeline file (YAML) read into a `model.Pipeline`, every mistake reported at once; pure but for
reading the file (and a map step's tasks file).

    name: fit-and-summarize            # goes into every job's name: NAME-STEP (letters, digits, - _)
    settings:                          # the pipeline's defaults (all optional)
      queue: my-queue                  # or magnus's aws_batch_job_queue
      job_definition: my-def:3         # a step's definition when it names none; or aws_batch_job_definition
      region: eu-west-1
      profile: dev                     # or magnus's aws_profile
      role_arn: arn:aws:iam::123456789012:role/deployer
      tags: {team: x}                  # on every job
      code: experiment                 # as -r --code DIR (relative to this file): every step through the launcher
    steps:                             # in any order; the file's order breaks ties
      prepare:
        parameters: {experiment_file: s3://b/linear.yaml}
      fit:
        depends_on: [prepare]
        map: {grid: {seed: [1, 2], learning_rate: [0.05, 0.02]}}   # or {tasks: sweep.tsv, range: 1-3}
        parameters: {experiment_file: "{steps.prepare.output}experiment.yaml"}
      summarize:
        depends_on: [fit]
        command: [python3, summarize.py, --fits, "{steps.fit.output}"]
      evaluate:
        depends_on: [{step: fit, type: N_TO_N}]    # child i after fit's child i: both maps, one size
        map: {grid: {seed: [1, 2], learning_rate: [0.05, 0.02]}}

A step's keys: job_definition, parameters, environment, command, vcpus, memory, gpus, timeout, retries,
depends_on, map. Any other key is an error (with a "did you mean"), so a typo never goes unnoticed.
Values are taken as written (`0.050` stays `0.050`): Batch parameters are strings. A map step's
`parameters` are in every task of its sweep, as `-r NAME key=val --grid ...`; a tasks file's path is
relative to the pipeline file. `{steps.NAME.output}` is a step's output location (see `outputs`).

magnus's traverse-executor keys are accepted where they mean something here (`MAGNUS_SETTINGS`,
`MAGNUS_STEP`); those that cannot work are refused with the reason (`REFUSED`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

import yaml

from batchdeploy.aws.batch import JOB_NAME
from batchdeploy.config import KEYS
from batchdeploy.errors import UsageError
from batchdeploy.pipelines import check
from batchdeploy.pipelines.check import MAX_STEPS
from batchdeploy.pipelines.model import DEPENDENCY_TYPES, Dependency, Pipeline, Step
from batchdeploy.pipelines.steps import read_map, string_map
from batchdeploy.pipelines.yamlfile import compose, is_null, kind, line, pairs, read_text
from batchdeploy.sweeps.problems import DEFAULT_MAX_TASKS, raise_problems

TOP = ("name", "settings", "steps")
MAX_PIPELINE_TASKS = 100_000  # all of a pipeline's maps together
SETTINGS = ("queue", "job_definition", "region", "profile", "role_arn", "tags", "code")
STEP = ("job_definition", "parameters", "environment", "command", "vcpus", "memory", "gpus", "timeout",
        "retries", "depends_on", "map")
# magnus's mode config (aws-batch-traverse) -> ours; `None`: accepted, and nothing to do here.
MAGNUS_SETTINGS = {"aws_batch_job_definition": "job_definition", "aws_batch_job_queue": "queue",
                   "aws_profile": "profile", "use_credentials": None, "use_profile_in_batch_job": None}
MAGNUS_STEP = {"aws_batch_job_definition": "job_definition"}
REFUSED = {
    "aws_credentials_file": "a pipeline file names no credentials: batchdeploy finds them as the AWS CLI does "
                            "(AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, SSO); a job gets its role's",
    "mode": "write magnus's mode config keys under settings (aws_batch_job_queue, region, tags, ...)",
    "mode_config": "write its keys in the step itself (aws_batch_job_definition: NAME)",
}
PER_PIPELINE = ("queue", "aws_batch_job_queue", "region", "profile", "aws_profile", "role_arn", "tags")
SETTING_PATTERNS = {"queue": KEYS["AWS_JOB_QUEUE"].pattern, "region": KEYS["AWS_REGION"].pattern,
                    "profile": KEYS["AWS_PROFILE"].pattern, "role_arn": KEYS["ROLE_ARN"].pattern}


def read_pipeline_file(path, max_tasks: int = DEFAULT_MAX_TASKS) -> Pipeline:
    """The pipeline the file at `path` describes, checked whole (`check.problems`): UsageError (exit 2)
    of one line naming every problem with its line, before anything is called."""
    path = Path(path)
    text = read_text(path, "pipeline file")
    source = {"file": str(path), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return parse_pipeline(text, str(path), base_dir=path.parent, source=source, max_tasks=max_tasks)


def parse_pipeline(text: str, shown: str = "pipeline file", base_dir=".", source: dict | None = None,
                   max_tasks: int = DEFAULT_MAX_TASKS) -> Pipeline:
    root = compose(text, shown)
    if root is None or is_null(root):
        raise UsageError(f"{shown}: the file is empty", hint="write name:, settings: and steps:")
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{shown}: line {line(root)}: the file must be a mapping (name:, settings:, steps:), "
                         f"not {kind(root)}")
    problems: list[str] = []
    top = pairs(root, problems, "the file")
    _unknown(top, TOP, {}, problems, "the file")
    name = _name(top, problems)
    settings = _settings(top.get("settings"), problems)
    steps = _steps(top.get("steps"), Path(base_dir), max_tasks, problems)
    pipeline = Pipeline(name or "", steps, settings, dict(source or {}))
    if name and steps:
        problems += check.problems(pipeline, max_tasks=max_tasks)
    raise_problems(shown, problems)
    return pipeline


def _unknown(entries: dict, known: tuple, magnus: dict, problems: list[str], at: str) -> None:
    for key, (knode, _) in entries.items():
        if key in known or key in magnus:
            continue
        if key in REFUSED:
            problems.append(f"line {line(knode)}: {at}: {key} is not accepted: {REFUSED[key]}")
            continue
        near = difflib.get_close_matches(key, [*known, *magnus], n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else f" (known: {', '.join(known)})"
        problems.append(f"line {line(knode)}: {at}: unknown key {key}{hint}")


def scalar(node, problems: list[str], at: str) -> str | None:
    """A single value's text as written; None (and a problem) for a list, a mapping or nothing."""
    if isinstance(node, yaml.ScalarNode) and not is_null(node):
        return node.value
    problems.append(f"{at} must be a single value, not {kind(node)}")
    return None


def _name(top: dict, problems: list[str]) -> str | None:
    if "name" not in top:
        problems.append("line 1: the file has no name: (the pipeline's name, in every job's name)")
        return None
    node = top["name"][1]
    name = scalar(node, problems, f"line {line(node)}: name")
    if name is not None and not JOB_NAME.fullmatch(name):
        problems.append(f"line {line(node)}: name {name!r} is not one AWS accepts in a job name "
                        "(letters, digits, - and _, starting with a letter or digit)")
        return None
    return name


def _settings(entry, problems: list[str]) -> dict:
    if entry is None or is_null(entry[1]):
        return {}
    node = entry[1]
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {line(node)}: settings must be a mapping, not {kind(node)}")
        return {}
    out: dict = {}
    entries = pairs(node, problems, "settings")
    _unknown(entries, SETTINGS, MAGNUS_SETTINGS, problems, "settings")
    for key, (knode, value) in entries.items():
        ours = MAGNUS_SETTINGS.get(key, key)
        if key not in SETTINGS and key not in MAGNUS_SETTINGS:
            continue
        at = f"line {line(knode)}: settings: {key}"
        if ours is None:
            _magnus_flag(key, value, problems, at)
            continue
        if ours in out:
            problems.append(f"{at}: {ours} is given twice (as {ours} and as magnus's {key})")
            continue
        if ours == "tags":
            out["tags"] = string_map(value, problems, f"line {line(knode)}: settings: tags", what="tag")
            continue
        text = scalar(value, problems, at)
        pattern = SETTING_PATTERNS.get(ours)
        if text is not None and pattern and not re.fullmatch(pattern, text):
            problems.append(f"{at}: {text!r} is not a {ours.replace('_', ' ')} (e.g. {KEYS[_KEY_OF[ours]].example})")
        elif text is not None:
            out[ours] = text
    return out


_KEY_OF = {"queue": "AWS_JOB_QUEUE", "region": "AWS_REGION", "profile": "AWS_PROFILE", "role_arn": "ROLE_ARN"}


def _magnus_flag(key: str, value, problems: list[str], at: str) -> None:
    """magnus's use_credentials and use_profile_in_batch_job: true/false, and only what works here."""
    text = (value.value if isinstance(value, yaml.ScalarNode) else "").lower()
    if text not in ("true", "false"):
        problems.append(f"{at} must be true or false")
    elif key == "use_profile_in_batch_job" and text == "true":
        problems.append(f"{at}: true is not accepted: a job never gets the submitter's profile; it runs with "
                        "its job role (or -r's temporary credentials)")
    # use_credentials: batchdeploy takes credentials from the environment whenever they are there.


def _steps(entry, base_dir: Path, max_tasks: int, problems: list[str]) -> list[Step]:
    if entry is None:
        problems.append("line 1: the file has no steps: (a mapping of step names to steps)")
        return []
    node = entry[1]
    if is_null(node) or (isinstance(node, yaml.MappingNode) and not node.value):
        problems.append(f"line {line(node)}: steps: the pipeline has no steps")
        return []
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {line(node)}: steps must be a mapping of step names to steps, not {kind(node)}")
        return []
    if len(node.value) > MAX_STEPS:  # before any is built
        problems.append(f"line {line(node)}: steps: {len(node.value):,} steps, above the {MAX_STEPS:,} one pipeline may have")
        return []
    steps, tasks = [], 0
    for name, (knode, value) in pairs(node, problems, "steps").items():
        steps.append(_step(name, knode, value, base_dir, max_tasks, problems))
        tasks += len(steps[-1].map.tasks) if steps[-1].map else 0
        if tasks > MAX_PIPELINE_TASKS:  # each map is bounded; so is their sum, so a small file stays cheap
            problems.append(f"line {line(knode)}: steps: the maps up to step {name} have {tasks:,} tasks, above the "
                            f"{MAX_PIPELINE_TASKS:,} one pipeline may have")
            return []
    return steps


def _step(name: str, knode, node, base_dir: Path, max_tasks: int, problems: list[str]) -> Step:
    at = f"step {name}"
    fields: dict = {}
    if is_null(node):
        node = yaml.MappingNode("tag:yaml.org,2002:map", [], knode.start_mark, knode.end_mark)
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {line(knode)}: {at} must be a mapping of its keys, not {kind(node)}")
        return Step(name=name, line=line(knode))
    entries = pairs(node, problems, at)
    for key in PER_PIPELINE:
        if key in entries:
            problems.append(f"line {line(entries[key][0])}: {at}: {key} is one per pipeline: put it under settings")
    _unknown({k: v for k, v in entries.items() if k not in PER_PIPELINE}, STEP, MAGNUS_STEP, problems, at)
    for key, (kn, value) in entries.items():
        ours = MAGNUS_STEP.get(key, key)
        where = f"line {line(kn)}: {at}: {key}"
        if ours not in STEP:
            continue
        if ours in fields:
            problems.append(f"{where}: job_definition is given twice (as job_definition and as magnus's {key})")
        elif ours in ("parameters", "environment"):
            fields[ours] = string_map(value, problems, where, what="parameter" if ours == "parameters" else "env")
        elif ours == "command":
            fields[ours] = _words(value, problems, where)
        elif ours == "depends_on":
            fields[ours] = _depends_on(value, problems, where)
        elif ours == "map":
            fields[ours] = read_map(value, fields_fixed(entries, problems, at), base_dir, max_tasks, problems, where)
        elif ours in ("timeout", "retries"):
            fields[ours] = _integer(value, problems, where)
        else:
            fields[ours] = scalar(value, problems, where)
    fields = {k: v for k, v in fields.items() if v is not None}
    return Step(name=name, line=line(knode), **fields)


def fields_fixed(entries: dict, problems: list[str], at: str) -> dict[str, str]:
    """A map step's parameters, for every task of its sweep (read quietly: the step reports them)."""
    if "parameters" not in entries:
        return {}
    return string_map(entries["parameters"][1], [], at, what="parameter")


def _integer(node, problems: list[str], at: str) -> int | None:
    text = scalar(node, problems, at)
    if text is None:
        return None
    if not re.fullmatch(r"\d+", text):
        problems.append(f"{at} {text!r} is not a whole number")
        return None
    return int(text)


def _words(node, problems: list[str], at: str) -> list[str] | None:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        problems.append(f"{at} must be a non-empty list of words, e.g. [python3, summarize.py], not {kind(node)}")
        return None
    words = [scalar(item, problems, f"{at} word {i}") for i, item in enumerate(node.value, 1)]
    return None if None in words else words


def _depends_on(node, problems: list[str], at: str) -> list[Dependency] | None:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out = []
    for item in items:
        if isinstance(item, yaml.MappingNode):
            entries = pairs(item, problems, at)
            _unknown(entries, ("step", "type"), {}, problems, at)
            step = scalar(entries["step"][1], problems, f"{at}: step") if "step" in entries else None
            if "step" not in entries:
                problems.append(f"line {line(item)}: {at}: a dependency names its step: {{step: NAME, type: N_TO_N}}")
            kind_ = scalar(entries["type"][1], problems, f"{at}: type") if "type" in entries else "all"
            if kind_ is not None and kind_ not in DEPENDENCY_TYPES:
                problems.append(f"line {line(item)}: {at}: type {kind_} is not one of {', '.join(DEPENDENCY_TYPES)}")
                kind_ = None
            if step is not None and kind_ is not None:
                out.append(Dependency(step, kind_))
        else:
            step = scalar(item, problems, f"{at}: a dependency")
            if step is not None:
                out.append(Dependency(step))
    return out
