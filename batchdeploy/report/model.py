"""The report's data, pure: runs (as read.py reads them) into rows with the parameters that vary, the
metrics each task wrote, its times and resources; and the terminal table."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field


@dataclass
class Task:
    run_id: str
    task: int
    params: dict
    state: str
    exit_code: int | None = None
    reason: str = ""
    queued_at: str | None = None  # ISO 8601 UTC: when it was submitted
    started_at: str | None = None  # the launcher's start (or Batch's startedAt)
    ended_at: str | None = None
    peak_memory_mib: float | None = None
    cpu_s: float | None = None
    metrics: dict = field(default_factory=dict)
    series: list = field(default_factory=list)  # metrics.jsonl: one dict per line
    stderr_tail: list = field(default_factory=list)


@dataclass
class Run:
    run_id: str
    run: dict  # run.json as read (state, submitted, ...)
    tasks: list[Task]


def numeric(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def metrics_of(doc) -> dict:
    """The numbers of a metrics.json (nested objects flattened with dots; lists and text left out)."""
    out: dict = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif numeric(value) is not None and not isinstance(value, str):
            out[prefix[:-1]] = value

    if isinstance(doc, dict):
        walk("", doc)
    return out


def series_of(text: str) -> list[dict]:
    """metrics.jsonl: each line a JSON object; lines that are not are skipped."""
    import json

    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(metrics_of(row))
    return rows


def varying(tasks: list[Task]) -> list[str]:
    """Parameters whose value differs between the tasks that have them (output locations, always
    different, left out; a pipeline's steps need not share their parameters)."""
    names = list(dict.fromkeys(k for t in tasks for k in t.params))
    out = []
    for name in names:
        values = {str(t.params[name]) for t in tasks if name in t.params}
        if len(values) > 1 and not all(v.startswith("s3://") for v in values):
            out.append(name)
    return out


IDS = {"task", "index", "array_index", "task_id"}  # numbers a task writes that name it, not measure it


def constant_metrics(tasks: list[Task]) -> dict:
    """Metrics with the same value in every task that wrote them, when several did: settings a task
    echoes (n_samples: 300), shown once rather than as a column or a flat plot. A metric one task wrote
    (a pipeline step's own) stays a column."""
    values: dict = {}
    writers: dict = {}
    for t in tasks:
        for k, v in t.metrics.items():
            values.setdefault(k, set()).add(v)
            writers[k] = writers.get(k, 0) + 1
    return {k: next(iter(v)) for k, v in values.items() if len(v) == 1 and writers[k] > 1}


def metric_names(tasks: list[Task]) -> list[str]:
    """The metrics worth a column and a plot: not a varying parameter echoed back, not constant."""
    params = {p.lower() for p in varying(tasks)}
    same = constant_metrics(tasks)
    names = dict.fromkeys(k for t in tasks for k in t.metrics)
    return [k for k in names if k.lower() not in params and k not in same and k.lower() not in IDS]


def series_names(tasks: list[Task]) -> tuple[str | None, list[str]]:
    """(the x key of the curves, the y keys): x is `step`, `epoch` or `iteration` when present, else
    the line number (None)."""
    keys = list(dict.fromkeys(k for t in tasks for row in t.series for k in row))
    x = next((k for k in ("step", "epoch", "iteration") if k in keys), None)
    return x, [k for k in keys if k != x]


def parse_time(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds(a: str | None, b: str | None) -> float | None:
    ta, tb = parse_time(a), parse_time(b)
    return round((tb - ta).total_seconds(), 1) if ta and tb else None


def what_ran(run: dict) -> list[tuple[str, str]]:
    """(label, value) of run.json: image digest, job definition revision, code bundle, commit, who, when."""
    image = run.get("image") or {}
    definition = run.get("job_definition") or {}
    bundle = run.get("bundle") or {}
    git = run.get("git") or {}
    who = run.get("who") or {}
    commit = git.get("commit")
    return [
        ("run", run.get("run_id") or "-"),
        ("name", run.get("name") or "-"),
        ("submitted", run.get("created_at") or "-"),
        ("who", (who.get("arn") or who.get("user") or "-") if isinstance(who, dict) else str(who)),
        ("image", image.get("reference") or image.get("image") or "-"),
        ("image digest", image.get("digest") or "-"),
        ("job definition", f"{definition.get('name')}:{definition.get('revision')}" if definition.get("name") else "-"),
        ("code bundle", f"{bundle.get('url') or '-'} (sha256 {str(bundle.get('sha256') or '')[:12]})" if bundle else "-"),
        ("git commit", f"{commit[:12]}{' (dirty)' if git.get('dirty') else ''}" if commit else "-"),
        ("queue", run.get("queue") or "-"),
    ]


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(runs: list[Run], max_metrics: int = 6) -> list[str]:
    """The terminal table: one line per task, the varying parameters and the first metrics."""
    tasks = [t for r in runs for t in r.tasks]
    params, metrics = varying(tasks), metric_names(tasks)[:max_metrics]
    columns = (["run"] if len(runs) > 1 else []) + ["task", *params, "state", *metrics]
    rows = []
    for t in tasks:
        row = ([t.run_id] if len(runs) > 1 else []) + [str(t.task), *(fmt(t.params.get(p)) for p in params), t.state]
        rows.append(row + [fmt(t.metrics.get(m)) for m in metrics])
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return lines
