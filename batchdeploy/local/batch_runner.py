"""The local stack's job runner: moto's Batch Job thread body, replaced, so that a container job runs as
AWS Batch documents it. Loaded by moto_server.py inside the moto server (moto 5.2.5, pinned in
constraints.txt), never imported by batchdeploy itself; `batch_rules` is the pure half, unit-tested.

One job (or array child) is one thread, as in moto. Its life: SUBMITTED, PENDING while dependsOn waits
(a failed dependency fails it, "Dependent Job failed"), then per attempt RUNNABLE until its compute
environment has vCPUs free (maxvCpus), STARTING (secrets from moto's SSM / Secrets Manager, the image
pulled from the registry), RUNNING (the container started; its lines go to CloudWatch Logs as they are
written, its stream named in DescribeJobs from the start), and the attempt's end: exit code, reasons,
the attempt recorded in `attempts`; a failure is retried as retryStrategy and evaluateOnExit say,
a timeout or a TerminateJob never is. moto's own Job.run still runs anything else (multi-node jobs).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import batch_rules as rules  # loaded by moto_server.py under this name

logger = logging.getLogger("batchdeploy.local")
POLL = 0.5


class Capacity:
    """vCPUs in use per compute environment; a job waits (RUNNABLE) until it fits."""

    def __init__(self):
        self.cond = threading.Condition()
        self.used: dict[str, float] = {}

    def acquire(self, key: str, limit: float | None, vcpus: float, stopped) -> bool:
        with self.cond:
            while limit is not None and self.used.get(key, 0.0) + vcpus > limit:
                if stopped():
                    return False
                self.cond.wait(POLL)
            self.used[key] = self.used.get(key, 0.0) + vcpus
            return True

    def release(self, key: str, vcpus: float) -> None:
        with self.cond:
            self.used[key] = max(0.0, self.used.get(key, 0.0) - vcpus)
            self.cond.notify_all()


CAPACITY = Capacity()


class Attempt:
    """One attempt's record, in DescribeJobs' shape once it ended."""

    def __init__(self):
        self.stream: str | None = None  # the CloudWatch Logs stream, once the container started
        self.started = self.stopped = None
        self.exit_code: int | None = None
        self.reason: str | None = None  # container.reason
        self.status_reason: str | None = None
        self.final = False  # a timeout or a TerminateJob: never retried

    def describe(self) -> dict:
        container = {"networkInterfaces": []}
        if self.stream:
            container["logStreamName"] = self.stream
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason:
            container["reason"] = self.reason
        out = {"container": container, "startedAt": self.started or 0, "stoppedAt": self.stopped or 0}
        if self.status_reason:
            out["statusReason"] = self.status_reason
        return out


def now_ms() -> int:
    return int(time.time() * 1000)


def set_status(job, status: str) -> None:
    job._status = status  # moto's ManagedState: set directly, never through advance()


def run(job, original_run) -> None:
    """The thread body (see the module)."""
    if not job.job_definition.container_properties or job.job_definition.eks_properties:
        return original_run(job)
    try:
        lifecycle(job)
    except Exception as err:  # a bug here must end the job, not leave it RUNNING forever
        logger.exception("local batch runner failed for %s", job.job_id)
        finish(job, False, f"local stack error: {type(err).__name__}: {err}")
    finally:
        settle_parent(job)


def held() -> bool:
    """moto's state manager holds Batch jobs (POST /moto-api/state-manager/set-transition, batch::job
    manual with times > 1: how tests keep a job SUBMITTED); the runner honours it as moto's run does."""
    from moto.moto_api import state_manager

    config = state_manager.get_transition("batch::job")
    return config.get("progression") == "manual" and int(config.get("times", 1)) > 1


def lifecycle(job) -> None:
    while held() and not job.stop:
        time.sleep(POLL)
    if job.stop:
        return finish(job, False, job.job_stopped_reason)
    if job.depends_on:
        set_status(job, "PENDING")
        outcome = wait_for_dependencies(job)
        if outcome != "SUCCEEDED":
            return finish(job, False, job.job_stopped_reason or rules.DEPENDENCY_FAILED)
    number = 0
    while True:
        number += 1
        set_status(job, "RUNNABLE")
        attempt = run_attempt(job, number)
        if attempt is None:  # cancelled while RUNNABLE
            return finish(job, False, job.job_stopped_reason)
        if attempt.exit_code == 0 and not attempt.final and attempt.reason is None:
            return finish(job, True, rules.EXITED, attempt)
        # read after the attempt: SubmitJob's retryStrategy is attached just after the thread starts
        strategy = rules.retry_strategy(getattr(job, "_submitted_retry", None), job.job_definition.retry_strategy)
        action = rules.retry_action(strategy.get("evaluateOnExit"), attempt.status_reason, attempt.reason,
                                    attempt.exit_code)
        if attempt.final or number >= rules.attempts_allowed(strategy) or action == "EXIT":
            return finish(job, False, attempt.status_reason, attempt)


def wait_for_dependencies(job) -> str:
    while True:
        found = [rules.dependency_state(job, d, job.all_jobs) for d in job.depends_on or []]
        if "FAILED" in found:
            return "FAILED"
        if all(s == "SUCCEEDED" for s in found):
            return "SUCCEEDED"
        if job.stop:
            return "CANCELLED"
        time.sleep(POLL)


def finish(job, success: bool, status_reason: str | None, attempt: Attempt | None = None) -> None:
    if job.job_stopped:
        return
    if attempt is not None:
        job.exit_code = attempt.exit_code
    job.job_stopped_reason = status_reason
    job.job_stopped = True
    job.job_stopped_at = datetime.now()
    set_status(job, "SUCCEEDED" if success else "FAILED")


def settle_parent(job) -> None:
    """An array parent ends with its last child: FAILED when one failed, else SUCCEEDED."""
    parent_id, sep, _ = job.job_id.rpartition(":")
    parent = job.all_jobs.get(parent_id) if sep else None
    children = getattr(parent, "_child_jobs", None) if parent is not None else None
    if not children or parent.job_stopped:
        return
    state = rules.array_dependency_state([c.status for c in children])
    if state:
        parent.job_stopped = True
        parent.job_stopped_at = datetime.now()
        set_status(parent, state)


def compute_environment(job):
    envs = job.job_queue.environments
    return envs[0] if envs else None


def vcpus_of(job) -> float:
    try:
        return float(job._get_container_property("vcpus", 1))
    except (TypeError, ValueError):
        return 1.0


def run_attempt(job, number: int) -> Attempt | None:
    ce = compute_environment(job)
    key = ce.arn if ce else ""
    vcpus = vcpus_of(job)
    limit = rules.vcpu_limit(ce.env_type, ce.compute_resources, getattr(ce, "unmanaged_vcpus", None)) if ce else None
    if not CAPACITY.acquire(key, limit, vcpus, lambda: job.stop):
        return None
    if job.stop:  # cancelled while RUNNABLE
        CAPACITY.release(key, vcpus)
        return None
    attempt = Attempt()
    try:
        set_status(job, "STARTING")
        job._current_attempt = attempt
        attempt.started = now_ms()
        if job.job_started_at == datetime(1970, 1, 1):
            job.job_started_at = datetime.now()
        import batch_container  # loaded by moto_server.py

        batch_container.run(job, attempt, number, ce)
    finally:
        attempt.stopped = now_ms()
        job.attempts.append(attempt.describe())
        job._current_attempt = None
        CAPACITY.release(key, vcpus)
    return attempt
