"""`--status RUN_ID`: a sweep's tasks as a table (or `--output json`), from S3 and one DescribeJobs per
100 tasks that have no record yet; the same on any machine with the bucket (sweeps.tree)."""

from __future__ import annotations

from batchdeploy import errors, runs
from batchdeploy.sweeps.follow import table
from batchdeploy.sweeps.tree import TaskState, read_tree, task_states


def column_value(state: TaskState, column: str) -> str | None:
    """A varying column's value: `lr`, `--param lr`, `--env SEED`, `--label name` (the tasks file's
    headers) or a bare name looked up in parameters, then environment, then labels."""
    kind, _, name = column.rpartition(" ")
    places = {"--param": [state.params], "--env": [state.env], "--label": [state.labels]}.get(
        kind, [state.params, state.env, state.labels])
    for place in places:
        if name in place:
            return place[name]
    return None


def rows(states: list[TaskState], varying: list[str]) -> list[dict]:
    out = []
    for s in states:
        row = {"task": s.id}
        row.update({c: column_value(s, c) for c in varying})
        row.update(state=s.state, exit_code=s.exit_code, duration_s=s.duration_s,
                   peak_memory_mib=round(s.peak_memory_kib / 1024, 1) if s.peak_memory_kib else None,
                   run_id=s.run_id, job_id=s.job_id, reason=s.reason)
        out.append(row)
    return out


def counts(states: list[TaskState]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in states:
        out[s.state] = out.get(s.state, 0) + 1
    return dict(sorted(out.items()))


def main(ctx, run_id: str) -> int:
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX",))
    bucket, prefix = ctx.cfg["S3_BUCKET"], ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX)
    tree = read_tree(ctx.aws.client("s3"), bucket, prefix, run_id)
    states = task_states(tree, ctx.aws.client("batch"))
    varying = list(tree.root["sweep"].get("varying") or [])
    data = rows(states, varying)
    summary = counts(states)
    if ctx.out.json:
        ctx.out.emit_json({"run_id": tree.run_id, "name": tree.root.get("name"),
                           "reruns": [r["run_id"] for r in tree.reruns], "counts": summary, "tasks": data})
        return errors.OK
    reruns = f"; reruns: {', '.join(r['run_id'] for r in tree.reruns)}" if tree.reruns else ""
    ctx.out.result(f"run {tree.run_id} ({tree.root.get('name')}): {len(states)} tasks: "
                   + ", ".join(f"{n} {s}" for s, n in summary.items()) + reruns)
    columns = [("task", "TASK"), *((c, c.upper()) for c in varying), ("state", "STATE"), ("exit_code", "EXIT"),
               ("duration_s", "SECONDS"), ("peak_memory_mib", "PEAK MiB")]
    if tree.reruns:
        columns.append(("run_id", "RUN"))
    for line in table(data, columns):
        ctx.out.result(line)
    return errors.OK
