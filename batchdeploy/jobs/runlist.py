"""`--status` as rows with typed values: one row per run (from the run records in S3, so runs another
clone or a teammate submitted appear) or per job (this project's `jobs.jsonl` when there is no bucket).

The JSON shape is a stable interface, documented in README.md ("Status as JSON") and checked by
docs/status.schema.json: times are ISO 8601 UTC with `Z`, durations whole seconds, absent values null.
Pure but for `read_rows`, which takes its S3 and Batch clients as arguments.
"""

from __future__ import annotations

import datetime as _dt
import re

from batchdeploy import runs
from batchdeploy.aws import batch as aws_batch
from batchdeploy.errors import UsageError
from batchdeploy.jobs.job import Job

FORMAT = "batchdeploy.status/1"
STATES = ("submitting", "submit-failed", "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING",
          "SUCCEEDED", "FAILED", "UNKNOWN")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# An array's state while its children are in several: the least finished one wins.
_ORDER = ("submitting", "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "UNKNOWN", "FAILED",
          "submit-failed", "SUCCEEDED")


def add_flags(add, verb: str) -> None:
    add("job", nargs="?", metavar="JOB_ID|NAME|RUN_ID",
        help="one job, or a run's tasks by RUN_ID (default: recent runs, from S3 when S3_BUCKET is set)")
    add("--run", metavar="RUN_ID", help="only this run (one row; a sweep's tasks: --status RUN_ID)")
    add("--state", type=str.upper, metavar="STATE", help="only runs in this state (SUCCEEDED, FAILED, RUNNING, ...)")
    add("--since", metavar="DURATION|DATE", help="only runs submitted since: 90m, 6h, 2d, 1w, or 2026-11-30[T12:00:00Z]")
    add("--limit", type=int, default=20, metavar="N", help="how many runs (default 20)")


def parse_state(text: str | None) -> str | None:
    if text is None:
        return None
    for s in STATES:
        if s.upper() == text.upper():
            return s
    raise UsageError(f"--state {text}: not a state", hint="one of " + ", ".join(STATES))


def parse_since(text: str | None, now: _dt.datetime) -> _dt.datetime | None:
    """The moment `--since` means: `now` minus a duration (90m, 6h, 2d, 1w, 1h30m), or a date/time
    (UTC unless it names a zone)."""
    if text is None:
        return None
    if _DURATION.fullmatch(text) or re.fullmatch(r"(\d+[smhdw])+", text):
        seconds = sum(int(n) * _UNIT_S[u] for n, u in _DURATION.findall(text))
        return now - _dt.timedelta(seconds=seconds)
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text}: not a duration or a date",
                         hint="give 90m, 6h, 2d, 1w, or a date such as 2026-11-30 or 2026-11-30T12:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def run_time(run_id: str) -> _dt.datetime:
    """When a run was made, from its id (no read needed)."""
    return _dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc)


def iso_ms(value) -> str | None:
    """Batch's epoch milliseconds as ISO 8601 UTC; 0 or absent (an array parent's startedAt on some
    back ends) is null, never 1970."""
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    return _dt.datetime.fromtimestamp(value / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(start: str | None, stop: str | None) -> int | None:
    if not start or not stop:
        return None
    a, b = (_dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, stop))
    return max(0, round((b - a).total_seconds()))


def job_times(jobs: list[dict]) -> dict:
    """started_at, stopped_at, duration_s of one job or of a run's jobs together. An array parent
    without its own start counts from its creation only when it has ended (then the span is
    creation to end, which is what a user waited); an unfinished one without a start has none."""
    starts = [iso_ms(j.get("startedAt")) for j in jobs]
    stops = [iso_ms(j.get("stoppedAt")) for j in jobs]
    started = min((s for s in starts if s), default=None)
    ended = all(status_of(j) in ("SUCCEEDED", "FAILED") for j in jobs) and jobs
    stopped = max((s for s in stops if s), default=None) if ended else None
    if started is None and stopped and any(j.get("arrayProperties") for j in jobs):
        started = min((iso_ms(j.get("createdAt")) for j in jobs if iso_ms(j.get("createdAt"))), default=None)
    return {"started_at": started, "stopped_at": stopped, "duration_s": _seconds(started, stopped)}


def status_of(job: dict) -> str:
    """The job's status; an array parent whose children have all ended is FAILED when one failed, else
    SUCCEEDED, whatever the parent says (some back ends leave the parent SUBMITTED)."""
    props = job.get("arrayProperties") or {}
    summary = Job(job).children
    size = props.get("size")
    if size and sum(summary.get(s, 0) for s in ("SUCCEEDED", "FAILED")) == size:
        return "FAILED" if summary.get("FAILED") else "SUCCEEDED"
    return job.get("status") or "UNKNOWN"


def needs_child_times(job: dict, most: int = 100) -> bool:
    """An ended array parent of at most `most` children that has no times of its own."""
    size = (job.get("arrayProperties") or {}).get("size") or 0
    ended = status_of(job) in ("SUCCEEDED", "FAILED")
    return ended and 0 < size <= most and not (iso_ms(job.get("startedAt")) and iso_ms(job.get("stoppedAt")))


def with_child_times(parent: dict, children: list[dict]) -> dict:
    """The parent with the first child's start and the last child's stop as its own."""
    starts = [c["startedAt"] for c in children if (c.get("startedAt") or 0) > 0]
    stops = [c["stoppedAt"] for c in children if (c.get("stoppedAt") or 0) > 0]
    return {**parent, "status": status_of(parent), "startedAt": min(starts, default=None),
            "stoppedAt": max(stops, default=None)}


def _children(jobs: list[dict]) -> dict | None:
    total: dict[str, int] = {}
    for j in jobs:
        for state, n in Job(j).children.items():
            total[state] = total.get(state, 0) + n
    return dict(sorted(total.items())) if total else None


def _reason(jobs: list[dict]) -> str | None:
    """Why it failed: the status reason, the container's reason, and the exit code, as Batch says."""
    for j in jobs:
        if status_of(j) != "FAILED":
            continue
        parts = [p for p in (j.get("statusReason"), Job(j).reason) if p]
        code = Job(j).exit_code
        if code is not None:
            parts.append(f"exit code {code}")
        failed = Job(j).children.get("FAILED")
        if failed:
            parts.append(f"{failed} of {j['arrayProperties'].get('size')} children failed (each one's reason: --status RUN_ID)")
        return "; ".join(dict.fromkeys(parts)) or None
    return None


def _state(jobs: list[dict]) -> str:
    states = [status_of(j) for j in jobs]
    return min(states, key=lambda s: _ORDER.index(s) if s in _ORDER else 0) if states else "UNKNOWN"


def _kind(run: dict, jobs: list[dict]) -> str:
    if run.get("kind"):
        return str(run["kind"])
    if "sweep" in run:
        return "sweep"
    return "array" if run.get("array_size") or any(j.get("arrayProperties") for j in jobs) else "job"


def _who(run: dict) -> str | None:
    who = run.get("who") or {}
    return who.get("arn") or who.get("user") or who.get("name") if isinstance(who, dict) else str(who)


def run_row(run: dict, jobs: list[dict]) -> dict:
    """One run (read_run without tasks) and its jobs' DescribeJobs records as a status row."""
    state = run.get("state") if run.get("state") in ("submitting", "submit-failed") or not jobs else _state(jobs)
    reason = _reason(jobs) or (run.get("submitted") or {}).get("error")
    codes = [Job(j).exit_code for j in jobs]
    definition = run.get("job_definition") or {}
    return {
        "run_id": run.get("run_id"),
        "job_id": jobs[0].get("jobId") if len(jobs) == 1 else (run.get("job_ids") or [None])[0],
        "job_ids": list(run.get("job_ids") or []),
        "name": run.get("name"),
        "kind": _kind(run, jobs),
        "state": state if state in STATES else "UNKNOWN",
        "created_at": run.get("created_at"),
        **job_times(jobs),
        "exit_code": codes[0] if len(codes) == 1 else None,
        "reason": reason,
        "children": _children(jobs),
        "who": _who(run),
        "git_commit": (run.get("git") or {}).get("commit"),
        "job_definition": (f"{definition.get('name')}:{definition.get('revision')}"
                           if definition.get("name") else None),
        "parameters": dict(run.get("parameters") or {}),
    }


def job_row(record: dict, job: dict) -> dict:
    """One job this project recorded in jobs.jsonl (no run record) as a status row."""
    row = run_row({"run_id": record.get("run_id"), "name": record.get("name") or job.get("jobName"),
                   "created_at": iso_ms(job.get("createdAt")) or record.get("submitted_at"),
                   "parameters": record.get("parameters", job.get("parameters", {})),
                   "job_ids": [record["job_id"]]}, [job] if job else [])
    row["job_id"] = record["job_id"]
    row["job_definition"] = record.get("job_definition") or job.get("jobDefinition")
    return row


def read_rows(s3, batch, bucket: str, prefix: str, *, run_id: str | None, state: str | None,
              since: _dt.datetime | None, limit: int) -> list[dict]:
    """Runs under s3://bucket/prefix/, newest first: at most `limit` in `state`, made since `since`."""
    ids = [i for i in reversed(runs.list_run_ids(s3, bucket, prefix))
           if (run_id is None or i == run_id) and (since is None or run_time(i) >= since)]
    rows: list[dict] = []
    step = max(limit, 20)
    for start in range(0, len(ids), step):
        chunk = [r for r in (runs.read_run(s3, bucket, prefix, i, tasks=False) for i in ids[start:start + step]) if r]
        described = aws_batch.describe_jobs(batch, [j for r in chunk for j in r.get("job_ids") or []])
        for job_id, job in list(described.items()):  # an array parent without times: its children's
            if needs_child_times(job):
                size = job["arrayProperties"]["size"]
                children = aws_batch.describe_jobs(batch, [f"{job_id}:{i}" for i in range(size)])
                described[job_id] = with_child_times(job, list(children.values()))
        for run in chunk:
            row = run_row(run, [described[j] for j in run.get("job_ids") or [] if j in described])
            if row["kind"] == "job" and row["exit_code"] is None and row["state"] in ("SUCCEEDED", "FAILED"):
                # the API gave none (the local stack never does): the launcher's record, if it ran one
                record = runs.last_task_record(s3, bucket, prefix, run["run_id"])
                row["exit_code"] = record.get("exit_code") if record else None
            if state is None or row["state"] == state:
                rows.append(row)
            if len(rows) == limit:
                return rows
    return rows


def text_rows(rows: list[dict]) -> list[dict]:
    """The same rows for a person: local times, `4m05s`, `-` for nothing."""
    def took(s):
        if s is None:
            return "-"
        m, sec = divmod(int(s), 60)
        h, m = divmod(m, 60)
        return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")

    def when(t):
        if not t:
            return "-"
        return _dt.datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")

    out = []
    for r in rows:
        state = r["state"] + (f" ({', '.join(f'{n} {s}' for s, n in r['children'].items())})" if r["children"] else "")
        out.append({"run_id": r["run_id"] or "-", "job_id": r["job_id"] or "-", "name": r["name"] or "-",
                    "status": state, "submitted": when(r["created_at"]), "took": took(r["duration_s"]),
                    "exit": "-" if r["exit_code"] is None else str(r["exit_code"]), "reason": r["reason"] or ""})
    return out
