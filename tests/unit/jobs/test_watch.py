"""The watcher and the log follower with time injected and AWS answers scripted (botocore's own error
type, no batchdeploy module replaced)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from batchdeploy.aws.batch import chunks
from batchdeploy.errors import OperationError
from batchdeploy.jobs.job import log_targets, outcome
from batchdeploy.jobs.watch import JobWatcher, LogFollower, follow
from batchdeploy.polling import Backoff
from tests.run_support import FakeClock


def client_error(code, status=400, op="DescribeJobs"):
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op)


class Batch:
    """DescribeJobs over a table of job -> list of statuses (one per round); records every call."""

    def __init__(self, script: dict[str, list[str]], failures=()):
        self.script = script
        self.calls: list[list[str]] = []
        self.failures = list(failures)
        self.round: dict[str, int] = {}

    def describe_jobs(self, jobs):
        self.calls.append(list(jobs))
        if self.failures:
            raise self.failures.pop(0)
        out = []
        for j in jobs:
            if j not in self.script:
                continue
            i = self.round.get(j, 0)
            self.round[j] = i + 1
            states = self.script[j]
            out.append({"jobId": j, "status": states[min(i, len(states) - 1)]})
        return {"jobs": out}


def test_backoff_grows_to_its_cap_and_resets():
    b = Backoff(first=2, factor=1.5, cap=5)
    assert [b.next() for _ in range(5)] == [2, 3, 4.5, 5, 5]
    b.reset()
    assert b.next() == 2


def test_chunks_of_100():
    assert [len(c) for c in chunks(list(range(250)))] == [100, 100, 50]


def test_one_round_is_ceil_n_over_100_calls_and_ended_jobs_drop_out():
    ids = [f"j{i}" for i in range(250)]
    script = {j: (["SUCCEEDED"] if i < 120 else ["RUNNING", "SUCCEEDED"]) for i, j in enumerate(ids)}
    batch = Batch(script)
    t = FakeClock()
    w = JobWatcher(batch, ids, sleep=t.sleep, clock=t.clock)
    w.poll()
    assert [len(c) for c in batch.calls] == [100, 100, 50]
    w.poll()  # 130 still running: two calls, none of them for an ended job
    assert [len(c) for c in batch.calls[3:]] == [100, 30]
    assert not set(sum(batch.calls[3:], [])) & set(ids[:120])
    assert w.done() and w.describe_calls == 5


def test_changes_are_reported_once_each_in_order():
    batch = Batch({"a": ["SUBMITTED", "SUBMITTED", "RUNNABLE", "RUNNING", "RUNNING", "SUCCEEDED"]})
    t = FakeClock()
    seen = []
    final = JobWatcher(batch, ["a"], sleep=t.sleep, clock=t.clock).run(lambda c: seen.append((c.before, c.after)))
    assert seen == [(None, "SUBMITTED"), ("SUBMITTED", "RUNNABLE"), ("RUNNABLE", "RUNNING"), ("RUNNING", "SUCCEEDED")]
    assert final["a"]["status"] == "SUCCEEDED"
    # quiet rounds back off (2 -> 3), a change starts again at 2; never more than the cap
    assert t.sleeps == [2, 3, 2, 2, 3]


def test_while_nothing_changes_a_round_is_at_most_one_per_cap_seconds():
    batch = Batch({"a": ["RUNNING"] * 50 + ["SUCCEEDED"]})
    t = FakeClock()
    w = JobWatcher(batch, ["a"], sleep=t.sleep, clock=t.clock, backoff=Backoff(first=2, factor=1.5, cap=5))
    w.run()
    assert max(t.sleeps) == 5 and t.sleeps[-10:] == [5] * 10
    assert w.describe_calls == 51


class Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


class Scripted:
    """HTTP answers, in order, for a real botocore client: botocore's own retry policy sees each one."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = 0

    def __call__(self, request, **_):
        from botocore.awsrequest import AWSResponse

        self.sent += 1
        status, body = self.answers.pop(0)
        error = {"x-amzn-ErrorType": body["__type"]} if "__type" in body else {}
        return AWSResponse(request.url, status, {"Content-Type": "application/json", **error},
                           Raw(json.dumps(body).encode()))


def real_batch(monkeypatch, *answers, attempts=5):
    """A botocore Batch client (made by aws.Aws, retries as configured) whose HTTP answers are scripted;
    botocore's back-off between attempts is recorded instead of slept."""
    from batchdeploy.aws import Aws, AwsSettings

    slept = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=attempts,
                          access_key_id="AKIDEXAMPLE", secret_access_key="not-a-secret"))
    batch = aws.client("batch")
    scripted = Scripted(*answers)
    batch.meta.events.register("before-send.batch.DescribeJobs", scripted)
    return batch, scripted, slept


DONE = (200, {"jobs": [{"jobId": "a", "jobName": "a", "status": "SUCCEEDED"}]})
THROTTLED = (429, {"__type": "TooManyRequestsException", "message": "slow down"})
BROKEN = (500, {"__type": "ServerException", "message": "oops"})
DENIED = (403, {"__type": "AccessDeniedException", "message": "m"})


def test_throttling_and_5xx_are_retried_by_botocore_other_errors_are_one_line(monkeypatch):
    # One retry policy: botocore's (AWS_RETRY_MODE / AWS_MAX_ATTEMPTS). The watcher adds no loop and no sleep.
    batch, scripted, slept = real_batch(monkeypatch, THROTTLED, BROKEN, DONE)
    t = FakeClock()
    final = JobWatcher(batch, ["a"], sleep=t.sleep, clock=t.clock).run()
    assert final["a"]["status"] == "SUCCEEDED"
    assert scripted.sent == 3 and len(slept) == 2 and t.sleeps == []
    batch, scripted, slept = real_batch(monkeypatch, DENIED)
    with pytest.raises(OperationError) as e:
        JobWatcher(batch, ["a"], sleep=t.sleep, clock=t.clock).run()
    assert e.value.line().startswith("cannot describe jobs (batch:DescribeJobs): AccessDeniedException: m")
    assert scripted.sent == 1 and slept == []


def test_throttling_past_botocores_attempts_is_one_line_not_more_tries(monkeypatch):
    batch, scripted, slept = real_batch(monkeypatch, THROTTLED, THROTTLED, DONE, attempts=2)
    t = FakeClock()
    with pytest.raises(OperationError) as e:
        JobWatcher(batch, ["a"], sleep=t.sleep, clock=t.clock).run()
    assert "TooManyRequestsException" in e.value.line() and "throttling" in e.value.line()
    assert scripted.sent == 2 and t.sleeps == []


def test_a_job_not_yet_visible_is_waited_for_then_reported():
    t = FakeClock()
    batch = Batch({})
    w = JobWatcher(batch, ["ghost"], sleep=t.sleep, clock=t.clock, missing_grace_s=30)
    with pytest.raises(OperationError, match="job ghost is unknown to AWS Batch"):
        w.run()
    assert 30 < t.now < 40


def test_runnable_too_long_warns_once_per_job():
    t = FakeClock()
    batch = Batch({"a": ["RUNNABLE"] * 400 + ["RUNNING", "SUCCEEDED"], "b": ["RUNNING"] * 10 + ["SUCCEEDED"]})
    warned = []
    JobWatcher(batch, ["a", "b"], sleep=t.sleep, clock=t.clock, runnable_warn_s=600,
               warn=lambda job_id, job, waited: warned.append((job_id, waited))).run()
    assert [w[0] for w in warned] == ["a"] and 600 <= warned[0][1] < 606


def test_array_progress_counts_as_a_change():
    t = FakeClock()

    class Array:
        n = 0

        def describe_jobs(self, jobs):
            self.n += 1
            summary = {"RUNNING": max(0, 3 - self.n), "SUCCEEDED": min(3, self.n)}
            status = "SUCCEEDED" if self.n >= 3 else "PENDING"
            return {"jobs": [{"jobId": "p", "status": status, "arrayProperties": {"size": 3, "statusSummary": summary}}]}

    seen = []
    JobWatcher(Array(), ["p"], sleep=t.sleep, clock=t.clock).run(lambda c: seen.append((c.after, c.progress_only)))
    assert seen == [("PENDING", False), ("PENDING", True), ("SUCCEEDED", False)]


class Logs:
    """GetLogEvents with CloudWatch's token rules over a list that grows; errors can be scripted."""

    def __init__(self):
        self.events: list[dict] = []
        self.exists = False
        self.failures: list[Exception] = []
        self.calls = 0

    def get_log_events(self, logGroupName, logStreamName, startFromHead, nextToken=None, limit=3):
        self.calls += 1
        assert startFromHead is True
        if self.failures:
            raise self.failures.pop(0)
        if not self.exists:
            raise client_error("ResourceNotFoundException", op="GetLogEvents")
        start = int(nextToken[2:]) if nextToken else 0
        page = self.events[start : start + limit]
        return {"events": page, "nextForwardToken": f"f/{start + len(page)}"}


def test_the_follower_reads_each_line_once_across_pages_and_growth():
    logs = Logs()
    f = LogFollower(logs, "g", "s")
    assert f.poll() == [] and not f.exists  # no stream yet: not an error
    logs.exists = True
    logs.events = [{"message": str(i)} for i in range(7)]
    assert [e["message"] for e in f.poll()] == [str(i) for i in range(7)]
    assert f.poll() == []  # the token repeats: nothing new
    logs.events += [{"message": "7"}]
    logs.failures = [client_error("ThrottlingException", op="GetLogEvents")]
    assert f.poll() == []  # throttled: the token is kept ...
    assert [e["message"] for e in f.poll()] == ["7"]  # ... so nothing is lost or repeated


def test_the_follower_reports_a_permission_problem_once_and_stops():
    logs = Logs()
    logs.failures = [client_error("AccessDeniedException", op="GetLogEvents")]
    f = LogFollower(logs, "g", "s")
    assert f.poll() == []
    assert f.broken.startswith("cannot read log stream s (logs:GetLogEvents): AccessDeniedException")
    assert f.poll() == [] and logs.calls == 1


def test_log_targets_follow_attempts_and_the_awslogs_group():
    job = {
        "attempts": [{"container": {"logStreamName": "one"}}, {"container": {"logStreamName": "two"}}],
        "container": {"logStreamName": "two", "logConfiguration": {"logDriver": "awslogs",
                                                                    "options": {"awslogs-group": "/my/group"}}},
    }
    assert log_targets(job) == [("/my/group", "one"), ("/my/group", "two")]
    assert log_targets({"status": "RUNNABLE"}) == []
    assert log_targets({"container": {"logStreamName": "x"}}) == [("/aws/batch/job", "x")]


def test_follow_reads_an_earlier_attempts_stream_to_its_end_before_the_next():
    t = FakeClock()

    class Retried:
        n = 0

        def describe_jobs(self, jobs):
            self.n += 1
            attempts = [{"container": {"logStreamName": "one"}}] + ([{"container": {"logStreamName": "two"}}] if self.n > 1 else [])
            status = "SUCCEEDED" if self.n > 2 else "RUNNING"
            return {"jobs": [{"jobId": "j", "status": status, "attempts": attempts,
                              "container": {"logStreamName": attempts[-1]["container"]["logStreamName"]}}]}

    class TwoStreams:
        def __init__(self):
            self.streams = {"one": Logs(), "two": Logs()}
            for name, s in self.streams.items():
                s.exists = True
                s.events = [{"message": f"{name}-{i}"} for i in range(4)]

        def get_log_events(self, logStreamName, **kw):
            return self.streams[logStreamName].get_log_events(logStreamName=logStreamName, **kw)

    lines = []
    done = follow(Retried(), TwoStreams(), "j", sleep=t.sleep, clock=t.clock, on_change=lambda c: None,
                  on_line=lambda e: lines.append(e["message"]), warn=lambda s: None)
    assert lines == [f"one-{i}" for i in range(4)] + [f"two-{i}" for i in range(4)]
    assert done.lines == 8


class Timed:
    """DescribeJobs of one job whose status follows the injected clock: (until, status) steps, the last
    status for ever after; optional log lines appear in `logs` while it runs."""

    def __init__(self, t, steps, logs=None, line_every=None):
        self.t, self.steps, self.logs, self.line_every = t, steps, logs, line_every
        self.at: list[float] = []  # clock reading of every DescribeJobs call

    def status(self) -> str:
        return next((st for until, st in self.steps if self.t.now < until), self.steps[-1][1])

    def describe_jobs(self, jobs):
        self.at.append(self.t.now)
        job = {"jobId": "j", "status": self.status()}
        if self.logs is not None:
            job["container"] = {"logStreamName": "s"}
            while self.line_every and len(self.logs.events) * self.line_every < self.t.now:
                self.logs.events.append({"message": f"line {len(self.logs.events)}"})
        return {"jobs": [job]}


def _follow(batch, backoff=None, logs=None):
    return follow(batch, logs, "j", sleep=batch.t.sleep, clock=batch.t.clock, on_change=lambda c: None,
                  on_line=lambda e: None, warn=lambda s: None, backoff=backoff)


SHORT = [(0.3, "SUBMITTED"), (0.8, "RUNNABLE"), (1.2, "STARTING"), (4.2, "RUNNING"), (1e9, "SUCCEEDED")]


def test_a_short_jobs_end_is_seen_within_half_a_second_not_a_whole_backoff_step():
    now, before = Timed(FakeClock(), SHORT), Timed(FakeClock(), SHORT)
    _follow(now)
    _follow(before, backoff=Backoff(first=2, factor=1.5, cap=5))  # the schedule until this change
    # it ends at 4.2 s: seen at 5 s now (looks a second apart), at 7 s before (4 s just missed it, then 3 s on)
    assert now.at == [0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]
    assert before.at == [0, 2, 4, 7]


def test_a_job_ending_within_6_s_of_a_state_is_seen_about_half_a_second_after_on_average():
    def lag(end, backoff=None):
        batch = Timed(FakeClock(), [(0.05, "SUBMITTED"), (end, "RUNNING"), (1e9, "SUCCEEDED")])
        _follow(batch, backoff)
        return batch.at[-1] - end

    ends = [x / 10 for x in range(20, 61)]
    now = [lag(e) for e in ends]
    before = [lag(e, Backoff(first=2, factor=1.5, cap=5)) for e in ends]
    assert max(now) <= 1.5 and sum(now) / len(now) < 0.6
    assert max(before) > 2.5 and sum(before) / len(before) > 1.3


def test_a_long_job_costs_the_same_looks_per_minute_as_before_after_its_first_minute():
    steps = SHORT[:3] + [(600.0, "RUNNING"), (1e9, "SUCCEEDED")]
    now, before = Timed(FakeClock(), steps), Timed(FakeClock(), steps)
    _follow(now)
    _follow(before, backoff=Backoff(first=2, factor=1.5, cap=5))

    def per_minute(at):
        return [sum(1 for x in at if m * 60 <= x < (m + 1) * 60) for m in range(10)]

    # the quick steps cost a few looks after each state change, in the first minute only; then 12 a
    # minute (one per 5 s cap), exactly as before
    assert per_minute(now.at)[1:] == per_minute(before.at)[1:] == [12] * 9
    assert (per_minute(before.at)[0], per_minute(now.at)[0]) == (14, 21)
    assert max(b - a for a, b in zip(now.at, now.at[1:])) == 5


def test_log_lines_and_array_progress_restart_at_2_s_not_at_the_quick_steps():
    logs = Logs()
    logs.exists = True
    batch = Timed(FakeClock(), [(0.1, "SUBMITTED"), (120.0, "RUNNING"), (1e9, "SUCCEEDED")], logs, line_every=0.2)
    _follow(batch, logs=logs)
    running = [x for x in batch.at if 10 < x < 120]
    assert min(b - a for a, b in zip(running, running[1:])) == 2  # as fast as a chatty job was looked at before
    b = Backoff(quick=(0.5, 1.0), first=2, factor=1.5, cap=5)
    b.reset(quick=True)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 1.5, 2.25, 3.375]
    b.reset()
    assert b.next() == 2


def test_outcome_lines():
    assert outcome({"status": "SUCCEEDED", "container": {"exitCode": 0}}) == (True, "SUCCEEDED; exit code 0")
    ok, line = outcome({"status": "FAILED", "statusReason": "Essential container in task exited",
                        "container": {"exitCode": 3, "reason": "OutOfMemoryError: killed"}})
    assert not ok and line == "FAILED; Essential container in task exited; OutOfMemoryError: killed; exit code 3"
    assert outcome({"status": "FAILED"}) == (False, "FAILED; no container exit code")
    ok, line = outcome({"status": "FAILED", "arrayProperties": {"statusSummary": {"FAILED": 1, "SUCCEEDED": 2, "RUNNING": 0}}})
    assert line == "FAILED; children: 1 FAILED, 2 SUCCEEDED; no container exit code"
