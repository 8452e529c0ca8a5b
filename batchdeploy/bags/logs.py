"""pegasus-aws-batch's files: each task's `.out`/`.err` split on the TASK STDERR marker, their merge
into `P.out`/`P.err` with the cluster summary, `<prefix>.jobstate.log`, the log file's rotation and the
exit code. Pure: times and states are arguments, never read from the clock or from AWS.

Read from pegasus-isi/pegasus main (2026-06-22, d3ffe6042):
- `common/CloudWatchLog.java`: events of the task's stream are printed one per line to `<jobName>.out`
  until the first one that starts with TASK_STDERR_SEPARATOR; that line is not written, the task's
  `[cluster-task ...]` record (`classes/AWSJob.getTaskSummary`) is written to `.out` in its place, and
  every later event goes to `<jobName>.err`. The stream name is `<job definition name>/default/<ECS task
  id>` of the last attempt, in `/aws/batch/job`. The stream is DELETED after it is read.
- `share/pegasus/sh/pegasus-aws-batch-launch.sh` sends the task's stderr to a file and, on exit, echoes
  the separator to stdout and then cats that file, so the stream is the task's stdout, the marker, its
  stderr (ending "PegasusAWSBatchLaunch: exitcode N").
- `impl/Synch.mergeLogs`: every task's `.out` then `.err` appended to `P.out` and `P.err` (truncated
  first) in the order of a Java HashMap keyed by jobName; a task's files are deleted once merged, a
  missing one skipped. `client/PegasusAWSBatch.getTaskSummaryRecord` then appends one line to `P.out`:
  `[cluster-summary tasks=N, succeeded=N, failed=N, duration=S, start="ISO", app="pegasus-aws-batch"]`
  (duration and start since PM-1998, Nov 2024; before that `..., app=pegasus-aws-batch]`, which
  Synch.java still writes to the log, not to a file); the counts are absent if monitoring died.
- `common/AWSJobstateWriter.java`: `<prefix>.jobstate.log`, truncated per run, lines
  `<epoch ms> <jobName> <STATE> <awsJobId>`: SUBMITTED once, then each task's state at every poll.
- exit codes (`Synch.java`): 0, TASK_FAILURE_EXITCODE=1 when a task failed, NON_TASK_FAILURE_EXITCODE=2
  for an AWS or internal error; `-l F` logs to the first of F.000 .. F.999 that does not exist.

Decisions where pegasus is silent or wrong: a stream without the marker (an image without pegasus's
launcher) still gets its `[cluster-task]` record, at the end of `.out`; a marker after output without a
newline ("text####...") still splits, the text kept in `.out`; merged files go in the order the tasks
were submitted (`java_hashmap_order` gives pegasus's, for byte-for-byte comparisons); an internal error
wins over a failed task (pegasus lets a failed task overwrite the 2 with a 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from batchdeploy.launch.spec import TASK_STDERR_MARKER

TASK_STDERR_SEPARATOR = TASK_STDERR_MARKER  # one constant: the launcher prints it, this module splits on it
LOG_GROUP = "/aws/batch/job"
JOBSTATE_SUFFIX = ".jobstate.log"
# classes/AWSJob.JOBSTATE, in its order; the log writes them upper-cased.
JOBSTATES = ("unsubmitted", "submitted", "pending", "runnable", "starting", "running", "terminated",
             "succeeded", "failed")
SUCCEEDED, TASK_FAILED, NON_TASK_FAILURE = 0, 1, 2


def out_name(job_name: str) -> str:
    return f"{job_name}.out"


def err_name(job_name: str) -> str:
    return f"{job_name}.err"


def log_stream_name(job_definition_arn: str, task_arn: str) -> str:
    """The stream pegasus reads: `<job definition name>/default/<ECS task id>` (the definition's ARN
    without its revision, the task ARN's last part). AWS also reports it as container.logStreamName."""
    marker = ":job-definition/"
    name = job_definition_arn[job_definition_arn.index(marker) + len(marker) : job_definition_arn.rindex(":")]
    return f"{name}/default/{task_arn.rsplit('/', 1)[-1]}"


def _state(state: str) -> str:
    low = state.lower()
    if low not in JOBSTATES:
        raise ValueError(f"{state!r} is not a pegasus job state ({', '.join(JOBSTATES)})")
    return low


def task_record(sequence_id: int, job_name: str, aws_job_id: str | None, state: str, executable: str) -> str:
    """AWSJob.getTaskSummary, `id` twice as pegasus writes it (strings quoted, the state not):
    `[cluster-task id=1, name="a", aws-job-id="x", state=succeeded, status=0, id=1, app="run.sh"]`."""
    state = _state(state)
    aws = f'"{aws_job_id}"' if aws_job_id is not None else "null"
    status = 0 if state == "succeeded" else 1
    return (f'[cluster-task id={sequence_id}, name="{job_name}", aws-job-id={aws}, state={state}, '
            f'status={status}, id={sequence_id}, app="{executable}"]')


def split_task_log(messages: Iterable[str], record: str) -> tuple[list[str], list[str]]:
    """A task's log events -> (lines of its .out, lines of its .err), split at the first marker."""
    out: list[str] = []
    err: list[str] = []
    switched = False
    for message in messages:
        at = -1 if switched else message.find(TASK_STDERR_SEPARATOR)
        if at < 0:
            (err if switched else out).append(message)
            continue
        if message[:at]:
            out.append(message[:at])
        out.append(record)
        switched = True
        if message[at + len(TASK_STDERR_SEPARATOR) :]:
            err.append(message[at + len(TASK_STDERR_SEPARATOR) :])
    if not switched:
        out.append(record)
    return out, err


def task_files(messages: Iterable[str], record: str) -> tuple[str, str]:
    """The contents of `<jobName>.out` and `<jobName>.err`: one line per event (Java's println)."""
    out, err = split_task_log(messages, record)
    return "".join(line + "\n" for line in out), "".join(line + "\n" for line in err)


def java_string_hash(text: str) -> int:
    """Java's String.hashCode over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def java_hashmap_order(names: list[str]) -> list[str]:
    """The order a java.util.HashMap (default capacity 16, load 0.75) iterates `names` inserted in this
    order: by bucket, then insertion. (Not kept for bins of more than 8 colliding names.)"""
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2

    def bucket(name: str) -> int:
        h = java_string_hash(name) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return [name for _, _, name in sorted((bucket(n), i, n) for i, n in enumerate(dict.fromkeys(names)))]


def merge(task_texts: Iterable[tuple[str | None, str | None]], summary: str) -> tuple[str, str]:
    """(`P.out`, `P.err`) from each task's (.out, .err) texts in order (None: that file was missing),
    the summary line last in `P.out`."""
    outs, errs = [], []
    for out, err in task_texts:
        outs.append(out or "")
        errs.append(err or "")
    return "".join(outs) + summary + "\n", "".join(errs)


def merge_files(job_names: list[str], directory: Path, prefix: str, summary: str) -> tuple[Path, Path]:
    """Merge the tasks' files in `directory` into `<prefix>.out` and `<prefix>.err` (a relative prefix
    from `directory`, as pegasus's from its working directory), then delete the tasks' files."""

    def read(path: Path) -> str | None:
        return path.read_text(encoding="utf-8", errors="surrogateescape") if path.is_file() else None

    texts = [(read(directory / out_name(n)), read(directory / err_name(n))) for n in job_names]
    out_text, err_text = merge(texts, summary)
    out_path, err_path = directory / (prefix + ".out"), directory / (prefix + ".err")
    out_path.write_text(out_text, encoding="utf-8", errors="surrogateescape")
    err_path.write_text(err_text, encoding="utf-8", errors="surrogateescape")
    for name in job_names:
        for path in (directory / out_name(name), directory / err_name(name)):
            if path.resolve() not in (out_path.resolve(), err_path.resolve()):
                path.unlink(missing_ok=True)
    return out_path, err_path


def java_double(value: float) -> str:
    """Java's Double.toString: plain from 10^-3 to 10^7, else `1.2345E7`; shortest digits (JDK 19+)."""
    value = float(value)
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value) if value else "0.0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    power = len(digits) + exponent - 1
    text = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def iso8601_local(moment: datetime) -> str:
    """Currently.iso8601(false, true, false, d): local time, extended, no millis, `+HH:MM` (an aware
    datetime in the zone pegasus would use)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("iso8601_local needs an aware datetime (its zone is part of the line)")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def cluster_summary(total: int | None, succeeded: int | None, failed: int | None, start: datetime,
                    end: datetime) -> str:
    """The line pegasus appends to `P.out` (newest source); counts None when monitoring died."""
    parts = []
    if total is not None:
        parts.append(f"tasks={total}")
    if succeeded is not None:
        parts += [f"succeeded={succeeded}", f"failed={failed}"]
    duration = (round(end.timestamp() * 1000) - round(start.timestamp() * 1000)) / 1000
    parts += [f"duration={java_double(duration)}", f'start="{iso8601_local(start)}"', 'app="pegasus-aws-batch"']
    return "[cluster-summary " + ", ".join(parts) + "]"


def cluster_summary_log_line(total: int, succeeded: int, failed: int) -> str:
    """The older record, which Synch.java still writes to the client's log."""
    return f"[cluster-summary tasks={total}, succeeded={succeeded}, failed={failed}, app=pegasus-aws-batch]"


def jobstate_path(directory: Path, prefix: str) -> Path:
    return directory / (prefix + JOBSTATE_SUFFIX)


def jobstate_line(epoch_ms: int, job_name: str, state: str, aws_job_id: str | None) -> str:
    """`<epoch ms> <jobName> <STATE> <awsJobId>`; an AWS status (RUNNABLE) or a pegasus state (runnable)."""
    return f"{int(epoch_ms)} {job_name} {_state(state).upper()} {aws_job_id if aws_job_id is not None else 'null'}"


def exit_code(total: int, succeeded: int, failed: int, internal_error: bool = False) -> int:
    """0 every task succeeded, 1 a task failed, 2 an AWS or internal error (or tasks not accounted for)."""
    if internal_error or succeeded + failed != total:
        return NON_TASK_FAILURE
    return TASK_FAILED if failed else SUCCEEDED


def rotated_log_path(path: Path, exists=Path.exists) -> Path:
    """Where `-l F` logs: the first of F.000 .. F.999 that does not exist (F.999 if all do)."""
    candidate = path
    for i in range(1000):
        candidate = path.with_name(f"{path.name}.{i:03d}")
        if not exists(candidate):
            break
    return candidate
