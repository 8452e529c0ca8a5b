"""`--grid key=v1,v2 key2=a,b,c`: the cartesian product of job-definition parameter values as a `Sweep`.

Tasks come in the order the grid is written, the last key varying fastest (as nested loops, or
itertools.product), numbered from 1. Each word is `key=v1,v2,...`; several `--grid` flags give
several words. A comma inside a value is written `\\,` and a backslash before a comma `\\\\`; any
other backslash is kept as it is. Fixed parameters (`-r NAME key=val`) apply to every task; a key
both fixed and in the grid is an error, as are a key given twice, an empty value, a value given twice
for one key, and a word that is not `key=values`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.problems import DEFAULT_MAX_TASKS, check_count, raise_problems, varying

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # as `-r key=val` (batchdeploy.jobs.request)
_PIECE = re.compile(r"\\[\\,]|,|[^\\,]+|\\")
SHOWN = "--grid"


def split_values(text: str) -> list[str]:
    """`a,b\\,c,d\\\\` -> ["a", "b,c", "d\\\\"]: commas split, `\\,` is a comma, `\\\\` a backslash."""
    values, current = [], []
    for piece in _PIECE.findall(text):
        if piece == ",":
            values.append("".join(current))
            current = []
        elif piece in ("\\,", "\\\\"):
            current.append(piece[1])
        else:
            current.append(piece)
    values.append("".join(current))
    return values


def parse_grid_words(words: list[str]) -> dict[str, list[str]]:
    """The grid's keys and their values in the order written; every problem in one UsageError."""
    grid: dict[str, list[str]] = {}
    problems = []
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not _KEY.fullmatch(key):
            problems.append(f"{word!r} is not key=v1,v2,... (keys are letters, digits, _ . -)")
            continue
        if key in grid:
            problems.append(f"{key} is given twice")
            continue
        if text == "":
            problems.append(f"{key} has no values ({key}=)")
            continue
        values = split_values(text)
        if "" in values:
            problems.append(f"{key} has an empty value ({word}); a parameter's default is kept by leaving it out")
        repeated = sorted(v for v, n in Counter(values).items() if n > 1)
        if repeated:
            problems.append(f"{key} gives {', '.join(map(repr, repeated))} twice")
        grid[key] = values
    raise_problems(SHOWN, problems, hint="write --grid key=v1,v2 key2=a,b (a comma inside a value: \\,)")
    return grid


def parse_grid(words: list[str], fixed: dict[str, str] | None = None, max_tasks: int = DEFAULT_MAX_TASKS) -> Sweep:
    """The sweep of every combination of the grid's values, `fixed` parameters in every task."""
    fixed = dict(fixed or {})
    if not words:
        raise_problems(SHOWN, ["no key=values given"], hint="write --grid key=v1,v2 key2=a,b")
    grid = parse_grid_words(words)
    both = [k for k in grid if k in fixed]
    raise_problems(SHOWN, [f"{k} is both a fixed parameter ({k}={fixed[k]}) and in the grid" for k in both],
                   hint="give each parameter either one value (key=val) or several (--grid key=v1,v2)")
    count = math.prod(len(v) for v in grid.values())  # before anything is materialized
    check_count(count, max_tasks, f"{SHOWN} {' x '.join(str(len(v)) for v in grid.values())}")
    keys = list(grid)
    tasks = [
        SweepTask(number, {**fixed, **dict(zip(keys, combination))})
        for number, combination in enumerate(itertools.product(*grid.values()), 1)
    ]
    return Sweep(tasks, varying(grid), {"kind": "grid", "grid": grid, "fixed": fixed})
