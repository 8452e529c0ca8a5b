"""A step's values read from the pipeline file's nodes: mappings of strings (parameters, environment,
tags) and `map` (a grid or a tasks file, made into a `sweeps.model.Sweep` by the sweeps' own readers).
Each problem is appended with its line; nothing is raised for a user's mistake."""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from batchdeploy.aws.batch import ARRAY_SIZE
from batchdeploy.errors import BatchdeployError
from batchdeploy.jobs.request import parse_pairs
from batchdeploy.pipelines.yamlfile import is_null, kind, line, pairs
from batchdeploy.secrets import is_secret, url_passwords
from batchdeploy.sweeps.check import with_fixed
from batchdeploy.sweeps.grid import parse_grid
from batchdeploy.sweeps.model import Sweep
from batchdeploy.sweeps.tasksfile import read_tasks_file

ARRAY_MAX = ARRAY_SIZE[1]  # a map step is one array job, so one dependency for the steps after it
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_ENV = ("BATCHDEPLOY_", "AWS_BATCH_")  # the launcher's variables; AWS refuses AWS_BATCH_*


def _key_problem(key: str, what: str) -> str | None:
    if what == "env":
        if not ENV_NAME.fullmatch(key):
            return f"{key!r} is not a variable name (letters, digits and _, not starting with a digit)"
        if is_secret(key):
            return (f"{key} looks like a secret; credentials never go into a pipeline file "
                    "(the job gets them from its role)")
        reserved = next((p for p in RESERVED_ENV if key.startswith(p)), None)
        return f"{key} is reserved ({reserved}* variables are set for the job)" if reserved else None
    try:
        ok = list(parse_pairs([f"{key}=x"], what=what)) == [key]  # -r's grammar of a key, written once there
    except BatchdeployError:
        ok = False
    return None if ok else f"{key!r} is not a {what} name (letters, digits, _ . -)"


def string_map(node, problems: list[str], at: str, what: str) -> dict[str, str]:
    """{key: value} of a mapping of single values (`what`: parameter, env or tag), as written."""
    if is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{at} must be a mapping (key: value), not {kind(node)}")
        return {}
    out = {}
    for key, (knode, value) in pairs(node, problems, at).items():
        where = f"line {line(knode)}: {at.split(': ', 1)[-1]}"
        bad = _key_problem(key, what)
        if bad:
            problems.append(f"{where}: {bad}")
        elif not isinstance(value, yaml.ScalarNode) or is_null(value):
            problems.append(f"{where}: {key} must have a single value, not {kind(value)}"
                            + (" (leave a parameter out to keep its default)" if what == "parameter" else ""))
        elif value.value == "" and what == "parameter":
            problems.append(f"{where}: {key} has an empty value; leave it out to keep the job definition's default")
        elif url_passwords(value.value):
            problems.append(f"{where}: {key}'s value holds a password in a URL; it would be in the run record")
        else:
            out[key] = value.value
    return out


def read_map(node, fixed: dict[str, str], base_dir: Path, max_tasks: int, problems: list[str], at: str) -> Sweep | None:
    """A map step's sweep: `{grid: {key: [values]}}` or `{tasks: FILE, range: m-n}`; the step's
    `parameters` (`fixed`) in every task, as `-r NAME key=val` with --grid or --tasks."""
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{at} must be {{grid: {{key: [values]}}}} or {{tasks: FILE}}, not {kind(node)}")
        return None
    entries = pairs(node, problems, at)
    unknown = [k for k in entries if k not in ("grid", "tasks", "range")]
    for key in unknown:
        problems.append(f"line {line(entries[key][0])}: {at}: unknown key {key} (a map has grid, or tasks and range)")
    if ("grid" in entries) == ("tasks" in entries):
        problems.append(f"{at}: give either grid or tasks")
        return None
    if "range" in entries and "grid" in entries:
        problems.append(f"{at}: range selects rows of a tasks file; a grid has none")
        return None
    limit = min(max_tasks, ARRAY_MAX)
    try:
        if "grid" in entries:
            return _grid(entries["grid"][1], fixed, limit, max_tasks, problems, at)
        return _tasks(entries, fixed, base_dir, limit, problems, at)
    except BatchdeployError as exc:
        problems.append(f"{at}: {exc.line().removeprefix('--grid: ')}")
        return None


def _grid(node, fixed: dict[str, str], limit: int, max_tasks: int, problems: list[str], at: str) -> Sweep | None:
    if not isinstance(node, yaml.MappingNode) or not node.value:
        problems.append(f"{at}: grid must be a mapping of parameters to lists of values, not {kind(node)}")
        return None
    grid: dict[str, list[str]] = {}
    for key, (knode, value) in pairs(node, problems, f"{at}: grid").items():
        values = value.value if isinstance(value, yaml.SequenceNode) else None
        if not values or not all(isinstance(v, yaml.ScalarNode) and not is_null(v) for v in values):
            problems.append(f"line {line(knode)}: {at}: grid: {key} must be a list of values, e.g. [1, 2] "
                            "(one value: put it in parameters)")
            continue
        grid[key] = [v.value for v in values]
    count = math.prod(len(v) for v in grid.values())
    if count > limit:  # before anything is built: a grid's size is the product of its lists'
        why = f"AWS's largest array, {ARRAY_MAX:,}" if limit == ARRAY_MAX else f"MAX_SWEEP_TASKS={max_tasks}"
        problems.append(f"{at}: grid of {count:,} tasks, above {why} (a map step is one array job)")
        return None
    if len(grid) < len(node.value):
        return None
    # parse_grid reads `key=v1,v2` words: a comma or a backslash in a value is escaped, so it comes back as is
    words = [f"{k}=" + ",".join(v.replace("\\", "\\\\").replace(",", "\\,") for v in values) for k, values in grid.items()]
    return parse_grid(words, fixed, limit)


def _tasks(entries: dict, fixed: dict[str, str], base_dir: Path, limit: int, problems: list[str], at: str) -> Sweep | None:
    knode, node = entries["tasks"]
    if not isinstance(node, yaml.ScalarNode) or is_null(node):
        problems.append(f"line {line(knode)}: {at}: tasks must be a tasks file's path, not {kind(node)}")
        return None
    task_range = None
    if "range" in entries:
        rnode = entries["range"][1]
        if not isinstance(rnode, yaml.ScalarNode) or is_null(rnode):
            problems.append(f"line {line(rnode)}: {at}: range must be m, m- or m-n, not {kind(rnode)}")
            return None
        task_range = rnode.value
    path = Path(node.value)
    sweep = read_tasks_file(path if path.is_absolute() else base_dir / path, task_range, limit)
    return with_fixed(sweep, fixed)
