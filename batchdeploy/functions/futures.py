"""Following submitted calls: a Future per call, and the results of a map, in order.

Waiting looks at the job (DescribeJobs: for a map, the array parents only, not each child) with a
backoff from 0.5 s up to `poll` seconds (covalent's poll_freq), on an injected clock and sleep. Once
a job has ended, each call's result envelope is read from S3 (one GET): its value, or its exception
re-raised with the remote traceback and output (results.py). A call whose job ended with no envelope
(the container never started, a timeout or a kill before the launcher wrote it) is a CallFailed with
AWS's reason. A map's failures never lose the others' results: `MapError` carries both, or
`return_exceptions=True` puts each exception in its place.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.batch import TERMINAL
from batchdeploy.aws.errors import error_code
from batchdeploy.errors import OperationError
from batchdeploy.functions.submit import Submitted
from batchdeploy.jobs.job import Job
from batchdeploy.jobs.watch import LogFollower
from batchdeploy.polling import Backoff

FIRST_LOOK_S = 0.5
READERS = 8  # result GETs at once (under the client's pool of 10 connections)


class CallFailed(OperationError):
    """The call's job ended and left no result: AWS's reason for it, and where its log is."""


class MapError(Exception):
    """Some calls of a map failed. `results[i]` is call i's value (None where it failed); `errors`
    maps the index of each failed call to its exception."""

    def __init__(self, results: list, errors: dict):
        self.results, self.errors = results, errors
        first = min(errors)
        super().__init__(f"{len(errors)} of {len(results)} calls failed (first: call {first}: "
                         f"{type(errors[first]).__name__}: {errors[first]})")


def job_ended(record: dict) -> bool:
    """A job has ended when its status says so; an array also when every child has (statusSummary:
    SUCCEEDED + FAILED == size), since on moto a parent with a failed child stays SUBMITTED for good
    (sweeps.watch reads arrays the same way)."""
    if record.get("status") in TERMINAL:
        return True
    array = record.get("arrayProperties") or {}
    summary = array.get("statusSummary") or {}
    return bool(array.get("size")) and summary.get("SUCCEEDED", 0) + summary.get("FAILED", 0) >= array["size"]


class Tracker:
    """One submit's jobs, looked at together (a map's futures share it)."""

    def __init__(self, ctx, submitted: Submitted, poll: float):
        self.ctx, self.submitted, self.poll = ctx, submitted, poll
        self.jobs: dict[str, dict] = {}  # the last DescribeJobs record of each unit's job

    @property
    def job_ids(self) -> list[str]:
        return [job_id for job_id, _ in self.submitted.units]

    def job_of(self, task_id: int) -> str:
        """The job (or array child PARENT:INDEX) that runs `task_id`."""
        for job_id, ids in self.submitted.units:
            if task_id in ids:
                return f"{job_id}:{ids.index(task_id)}" if len(ids) > 1 else job_id
        raise KeyError(task_id)

    def unit_of(self, task_id: int) -> str:
        return self.job_of(task_id).partition(":")[0]

    def look(self, job_ids: list[str]) -> None:
        self.jobs.update(aws_batch.describe_jobs(self.ctx.aws.client("batch"), job_ids))

    def ended(self, job_ids: list[str]) -> bool:
        return all(job_ended(self.jobs.get(j) or {}) for j in job_ids)

    def wait(self, job_ids: list[str], timeout: float | None) -> None:
        """Until every job of `job_ids` has ended; TimeoutError after `timeout` seconds."""
        pace = Backoff(first=FIRST_LOOK_S, factor=1.5, cap=self.poll)
        deadline = None if timeout is None else self.ctx.clock() + timeout
        while True:
            self.look([j for j in job_ids if not self.ended([j])])
            if self.ended(job_ids):
                return
            left = None if deadline is None else deadline - self.ctx.clock()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.submitted.run_id}: not done after {timeout:g} s")
            self.ctx.sleep(pace.next() if left is None else min(pace.next(), left))

    def outcome(self, task_id: int):
        """(True, value) or (False, exception) of an ended call, from its result envelope."""
        from batchdeploy.functions import results

        url = self.submitted.result_urls[task_id]
        bucket, _, key = url[len("s3://"):].partition("/")
        s3 = self.ctx.aws.client("s3")
        with translate(f"read the result {url}"):
            try:
                data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:
                if error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                    raise
                data = None
        if data is None:
            return False, None  # no result: the caller asks AWS why (no_results, 100 jobs a call)
        try:
            return True, results.value(data)
        except Exception as exc:  # noqa: BLE001 - the remote exception (or why the envelope cannot be read)
            return False, exc

    def no_results(self, task_ids: list[int]) -> dict[int, CallFailed]:
        """Why each call ended with no result, as AWS says (DescribeJobs of their jobs, 100 a call)."""
        unknown = [self.job_of(t) for t in task_ids if self.job_of(t) not in self.jobs or ":" in self.job_of(t)]
        if unknown:
            self.look(unknown)
        out = {}
        for task_id in task_ids:
            job_id = self.job_of(task_id)
            _, line = Job(self.jobs.get(job_id) or {}).outcome()
            out[task_id] = CallFailed(f"call {task_id - 1} (job {job_id}) ended with no result: {line}",
                                      hint=f"./deploy.sh --logs {job_id}")
        return out


class Future:
    """One call: `.result(timeout)`, `.done()`, `.cancel()`, `.logs()`, `.job_id`, `.run_id`."""

    def __init__(self, tracker: Tracker, task_id: int = 1):
        self._tracker, self._task = tracker, task_id
        self._outcome = None

    def __repr__(self):
        return f"<Future run={self.run_id} job={self.job_id}>"

    @property
    def job_id(self) -> str:
        return self._tracker.job_of(self._task)

    @property
    def run_id(self) -> str:
        return self._tracker.submitted.run_id

    def done(self) -> bool:
        """Has the call's job ended? One DescribeJobs (none once it has)."""
        if self._outcome is not None or self._tracker.ended([self.job_id]):
            return True
        self._tracker.look([self.job_id])
        return self._tracker.ended([self.job_id])

    def result(self, timeout: float | None = None):
        """The call's value, or its exception raised here; TimeoutError when not done in `timeout` s."""
        if self._outcome is None:
            self._tracker.wait([self.job_id], timeout)
            ok, value = self._tracker.outcome(self._task)
            self._outcome = (ok, value) if ok or value is not None else (False, self._tracker.no_results([self._task])[self._task])
        ok, value = self._outcome
        if ok:
            return value
        raise value

    def exception(self, timeout: float | None = None):
        try:
            self.result(timeout)
        except TimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - returned, as concurrent.futures does
            return exc
        return None

    def cancel(self) -> bool:
        """Stop the call's job (TerminateJob: queued or running); False when it had ended already."""
        if self.done():
            return False
        with translate(f"terminate job {self.job_id} (batch:TerminateJob)"):
            self._tracker.ctx.aws.client("batch").terminate_job(jobId=self.job_id, reason="cancelled from Python")
        return True

    def logs(self) -> list[str]:
        """The job's CloudWatch lines so far, every attempt's, oldest first."""
        self._tracker.look([self.job_id])
        record = self._tracker.jobs.get(self.job_id) or {}
        client = self._tracker.ctx.aws.client("logs")
        lines = []
        for group, stream in Job(record).log_targets():
            follower = LogFollower(client, group, stream)
            while True:
                events = follower.poll()
                lines += [e.get("message", "").rstrip("\n") for e in events]
                if not events:
                    break
        return lines


def gather(tracker: Tracker, count: int, timeout: float | None, return_exceptions: bool) -> list:
    """Every call's result in order, once all the jobs ended (see MapError)."""
    tracker.wait(tracker.job_ids, timeout)
    with ThreadPoolExecutor(READERS) as pool:  # botocore's clients are thread-safe; GETs overlap
        outcomes = list(pool.map(tracker.outcome, range(1, count + 1)))
    missing = tracker.no_results([n + 1 for n, (ok, value) in enumerate(outcomes) if not ok and value is None])
    results, errors = [], {}
    for n, (ok, value) in enumerate(outcomes):
        if ok:
            results.append(value)
        else:
            errors[n] = missing.get(n + 1, value)
            results.append(errors[n] if return_exceptions else None)
    if errors and not return_exceptions:
        raise MapError(results, errors)
    return results
