"""A dsub tasks file (TSV, one row per task) read into a `model.Sweep`; pure but for reading the file.

Headers, as dsub: `--env NAME` (a bare `NAME` too), `--label NAME`, `--input NAME`,
`--input-recursive NAME`, `--output NAME`, `--output-recursive NAME` (an input or output with no NAME
is named INPUT_0, INPUT_1, ... or OUTPUT_0, ..., as dsub names them); plus batchdeploy's `--param NAME`,
the job definition's `Ref::NAME`. Any other header starting with `-` is an error, and so are a blank
line anywhere and a selected row with another number of fields than the header. The first data row is
task 1; a RANGE of `m`, `m-` or `m-n` selects tasks, which keep their ids; as dsub, only the selected
rows are read further (a broken row outside the range does not stop the sweep).

Fields are split as dsub's `csv.reader(delimiter="\t")` splits a line: at tabs, a field that starts
with `"` quoted (so it may hold a tab; `""` is a quote); a field never spans lines.
An input or output is an `s3://` URL copied to or from a local path the task's variable names:

    --input NAME             s3://b/x/file.csv  ->  inputs/NAME/file.csv   (NAME=inputs/NAME/file.csv)
    --input-recursive NAME   s3://b/dir/        ->  inputs/NAME/
    --output NAME            outputs/NAME/m.pt  ->  s3://b/out/m.pt
    --output-recursive NAME  outputs/NAME/      ->  s3://b/out/

An empty input or output field: the task has none (its variable is empty); an empty `--param` field:
the job definition's default. Every problem is collected with its `line L column C` (C counts fields
from 1) and reported in one line.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import UsageError
from batchdeploy.launch.spec import LaunchError, parse_s3_url
from batchdeploy.secrets import is_secret
from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.problems import DEFAULT_MAX_TASKS, check_count, raise_problems, varying
from batchdeploy.userjson import read_limited

MAX_FILE_BYTES = 64 * 1024 * 1024  # far more than 10,000 rows need; a larger file is a mistake
KINDS = ("--env", "--label", "--input", "--input-recursive", "--output", "--output-recursive", "--param")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # as `-r key=val` (batchdeploy.jobs.request)
_RANGE = re.compile(r"([1-9]\d*)(-([1-9]\d*)?)?")
_WILDCARD = re.compile(r"[*?\[\]]")
_RESERVED = "BATCHDEPLOY_"  # the launcher's own variables


@dataclass(frozen=True)
class Column:
    kind: str  # one of KINDS
    name: str
    number: int  # 1-based field number

    @property
    def label(self) -> str:
        """How a table names the column: a parameter by its name, anything else by its header."""
        return self.name if self.kind == "--param" else f"{self.kind} {self.name}"

    @property
    def namespace(self) -> str:
        """Inputs and outputs set a variable of their name too, so they share the environment's names."""
        return {"--param": "param", "--label": "label"}.get(self.kind, "env")


def read_tasks_file(path, task_range: str | None = None, max_tasks: int = DEFAULT_MAX_TASKS,
                    max_bytes: int = MAX_FILE_BYTES) -> Sweep:
    """The sweep a tasks file at `path` describes (see the module docstring); UsageError otherwise."""
    path = Path(path)
    data = read_limited(path, "tasks file", max_bytes, "TSV", too_big_hint="split the sweep into several tasks files")
    return parse_tasks(data, str(path), task_range, max_tasks)


def parse_tasks(data: bytes, shown: str = "tasks file", task_range: str | None = None,
                max_tasks: int = DEFAULT_MAX_TASKS) -> Sweep:
    """The sweep the bytes of a tasks file describe; `shown` names the file in messages."""
    header, rows = _lines(data, shown)
    if not rows:
        raise UsageError(f"{shown}: no tasks, only a header", hint="add one row per task below the header")
    first, last = parse_range(task_range, len(rows), shown)
    check_count(last - first + 1, max_tasks, shown)
    problems = [f"line {line}: a blank line (a tasks file has one row per task; delete it)"
                for line, text in rows if text == ""]
    cells = _fields(header)
    columns = _header(cells, problems)
    chosen = []
    for number, (line, text) in enumerate(rows[first - 1:last], first):
        fields = _fields(text)
        if not text:
            continue
        if len(fields) != len(cells):
            problems.append(f"line {line}: {len(fields)} field{'s' if len(fields) != 1 else ''}, "
                            f"the header has {len(cells)}")
        else:
            chosen.append(_task(number, line, columns, fields, problems))
    problems += _duplicate_outputs(chosen, [c for c in columns if c is not None and c.kind.startswith("--output")])
    raise_problems(shown, problems)
    values = {c.label: [_cell(t, c) for t in chosen] for c in columns if c is not None}
    source = {
        "kind": "tasks", "file": shown, "range": task_range or None, "sha256": hashlib.sha256(data).hexdigest(),
        "param_columns": {c.name: c.number for c in columns if c is not None and c.kind == "--param"},
    }
    return Sweep(chosen, varying(values), source)


def parse_range(text: str | None, count: int, shown: str = "tasks file") -> tuple[int, int]:
    """dsub's RANGE: `m` (task m), `m-` (m to the last), `m-n` (inclusive); tasks count from 1."""
    if text is None or text == "":
        return 1, count
    match = _RANGE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"{shown}: task range {text!r} is malformed",
                         hint="write m, m- or m-n; tasks are numbered from 1, the first row below the header")
    first = int(match[1])
    last = first if not match[2] else int(match[3]) if match[3] else count
    if last < first:
        raise UsageError(f"{shown}: task range {text} ends before it starts", hint="write m-n with m <= n")
    if last > count:
        raise UsageError(f"{shown}: task range {text} is out of bounds: the file has {count} task(s), 1-{count}")
    return first, last


def _fields(line: str) -> list[str]:
    return next(csv.reader([line], delimiter="\t"), [])


def _lines(data: bytes, shown: str) -> tuple[str, list[tuple[int, str]]]:
    """(header, [(line number, row)]): UTF-8 with or without a BOM, LF or CRLF, a last newline or not."""
    if b"\x00" in data:
        raise UsageError(f"{shown} is a binary file, not a tab-separated tasks file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{shown} is not UTF-8 text (byte {exc.start + 1})", hint="save it as UTF-8") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not lines or not lines[0].strip():
        raise UsageError(f"{shown}: no header on line 1",
                         hint="the first line names the columns: --env NAME, --input NAME, --param NAME, ...")
    return lines[0], list(enumerate(lines[1:], 2))


def _header(cells: list[str], problems: list[str]) -> list[Column | None]:
    """A Column per header cell, None where the cell is wrong (its problem is added)."""
    columns: list[Column | None] = []
    seen: dict[tuple[str, str], int] = {}
    unnamed = {"INPUT_": 0, "OUTPUT_": 0}
    for number, cell in enumerate(cells, 1):
        kind = cell.strip()
        if kind in KINDS[2:6]:  # an input or output with no name: dsub's INPUT_n, OUTPUT_n
            prefix = "OUTPUT_" if kind.startswith("--output") else "INPUT_"
            cell, unnamed[prefix] = f"{kind} {prefix}{unnamed[prefix]}", unnamed[prefix] + 1
        column = _column(cell, number, problems)
        if column is not None:
            key = (column.namespace, column.name)
            if key in seen:
                problems.append(f"line 1 column {number}: {column.name} is named again (column {seen[key]} names it)")
                column = None
            else:
                seen[key] = number
        columns.append(column)
    return columns


def _column(cell: str, number: int, problems: list[str]) -> Column | None:
    at = f"line 1 column {number}"
    text = cell.strip()
    if text.startswith("-"):
        kind, _, name = text.partition(" ")
        name = name.strip()
        if kind not in KINDS:
            problems.append(f"{at}: unknown header {cell!r} (a header is NAME, or {', '.join(KINDS)} then a NAME)")
            return None
    else:
        kind, name = "--env", text
    grammar = _PARAM if kind == "--param" else _VAR
    if not grammar.fullmatch(name):
        allowed = "letters, digits, _ . -" if kind == "--param" else "letters, digits and _, not starting with a digit"
        problems.append(f"{at}: {name!r} is not a name for {kind} ({allowed})")
        return None
    column = Column(kind, name, number)
    if column.namespace == "env" and is_secret(name):
        problems.append(f"{at}: {name} looks like a secret; credentials never go into a manifest "
                        "(the job gets them from its environment or role)")
        return None
    if column.namespace == "env" and name.startswith(_RESERVED):
        problems.append(f"{at}: {name} is reserved: the launcher sets the {_RESERVED}* variables")
        return None
    return column


def _task(number: int, line: int, columns: list[Column | None], fields: list[str], problems: list[str]) -> SweepTask:
    params, env, labels, inputs, outputs = {}, {}, {}, [], []
    for column, value in zip(columns, fields):
        if column is None:
            continue
        if column.kind == "--param":
            if value:
                params[column.name] = value
        elif column.kind == "--label":
            labels[column.name] = value
        elif column.kind == "--env":
            env[column.name] = value
        else:
            env[column.name] = ""
            item = _transfer(column, value, f"line {line} column {column.number}", problems) if value else None
            if item is not None:
                (outputs if column.kind.startswith("--output") else inputs).append(item)
                env[column.name] = item["local"]
    strip = [{k: v for k, v in i.items() if k != "local"} for i in inputs + outputs]
    return SweepTask(number, params, env, labels, strip[: len(inputs)], strip[len(inputs):], line)


def _transfer(column: Column, value: str, at: str, problems: list[str]) -> dict | None:
    """The launcher's form of one input or output (with "local", the task's variable, beside it)."""
    recursive = column.kind.endswith("-recursive")
    output = column.kind.startswith("--output")
    if _WILDCARD.search(value):
        problems.append(f"{at}: {column.label} {value!r} has a wildcard (* ? [ ]), which is not supported; "
                        "name each file, or a folder with " + (column.kind if recursive else column.kind + "-recursive"))
        return None
    try:
        _, key = parse_s3_url(value, column.label)
    except LaunchError as exc:
        problems.append(f"{at}: {exc.message}")
        return None
    folder = f"{'outputs' if output else 'inputs'}/{column.name}/"
    if recursive:
        url, local = (value if value.endswith("/") else value + "/"), folder
    elif not key or key.endswith("/"):
        problems.append(f"{at}: {column.label} {value!r} names a folder; use {column.kind}-recursive for a folder")
        return None
    else:
        url, local = value, folder + key.rsplit("/", 1)[-1]
    item = {"from": local, "to": url} if output else {"from": url, "to": local}
    return {**item, "local": local}


def _cell(task: SweepTask, column: Column) -> str:
    """The task's value of a column, as the file wrote it (for `varying`)."""
    if column.kind == "--param":
        return task.params.get(column.name, "")
    if column.kind == "--label":
        return task.labels.get(column.name, "")
    if column.kind == "--env":
        return task.env.get(column.name, "")
    items = task.outputs if column.kind.startswith("--output") else task.inputs
    remote = "to" if column.kind.startswith("--output") else "from"
    local = task.env.get(column.name, "")
    return next((i[remote] for i in items if (i["from"] if remote == "to" else i["to"]) == local), "")


def _duplicate_outputs(tasks: list[SweepTask], columns: list[Column]) -> list[str]:
    """Outputs two tasks would both write: the same URL, or a URL inside another task's folder. A URL
    with `{task}` in it differs per task (see batchdeploy.sweeps.outputs), so it is not compared."""
    written = sorted(
        (url, t.line, c.number, t.id) for c in columns for t in tasks
        if (url := _cell(t, c)) and "{task}" not in url
    )
    problems = []
    for i, (url, line, column, task) in enumerate(written):
        for other, other_line, other_column, other_task in written[i + 1:]:
            if not other.startswith(url):
                break
            if other_task != task and (other == url or url.endswith("/")):
                problems.append(f"line {other_line} column {other_column}: output {other} is written by "
                                f"task {task} (line {line} column {column}) too")
    return problems
