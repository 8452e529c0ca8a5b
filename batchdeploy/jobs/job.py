"""One job as DescribeJobs describes it: how it ended, its exit code and reason, its array children,
where its log lines are. Pure: a view over one record, no calls."""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.aws.batch import TERMINAL, array_summary
from batchdeploy.aws.logs import log_group


@dataclass(frozen=True)
class Job:
    """A view over one DescribeJobs record."""

    record: dict

    @property
    def id(self) -> str:
        return self.record.get("jobId", "")

    @property
    def status(self) -> str | None:
        return self.record.get("status")

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def _last_attempt(self) -> dict:
        attempts = self.record.get("attempts") or []
        return (attempts[-1].get("container") or {}) if attempts else {}

    @property
    def exit_code(self) -> int | None:
        """The container's exit code, else the last attempt's; None when no container exited."""
        return (self.record.get("container") or {}).get("exitCode", self._last_attempt.get("exitCode"))

    @property
    def reason(self) -> str | None:
        """The container's own reason (OutOfMemoryError: ...), else the last attempt's."""
        return (self.record.get("container") or {}).get("reason") or self._last_attempt.get("reason")

    @property
    def children(self) -> dict[str, int]:
        """An array parent's children by state (zero counts left out); {} for any other job."""
        return array_summary(self.record)

    def outcome(self) -> tuple[bool, str]:
        """(succeeded, one line about how the job ended)."""
        status_reason = self.record.get("statusReason")
        parts = [self.status or "?"]
        if status_reason:
            parts.append(status_reason)
        if self.reason and self.reason != status_reason:
            parts.append(self.reason)
        if self.children:
            parts.append("children: " + children_text(self.children))
        code = self.exit_code
        parts.append(f"exit code {code}" if code is not None else "no container exit code")
        return self.status == "SUCCEEDED", "; ".join(parts)

    def log_targets(self) -> list[tuple[str, str]]:
        """(group, stream) of each attempt's log, oldest first, the current one last."""
        container = self.record.get("container") or {}
        streams = [(a.get("container") or {}).get("logStreamName") for a in self.record.get("attempts") or []]
        streams.append(container.get("logStreamName"))
        group = log_group(self.record)
        return [(group, s) for s in dict.fromkeys(s for s in streams if s)]


def children_text(summary: dict[str, int]) -> str:
    """`1 FAILED, 2 SUCCEEDED`: an array summary as words, states in order of name."""
    return ", ".join(f"{n} {s}" for s, n in sorted(summary.items()))


def outcome(job: dict) -> tuple[bool, str]:
    """(succeeded, one line about how the job ended)."""
    return Job(job).outcome()


def log_targets(job: dict) -> list[tuple[str, str]]:
    """(group, stream) of each attempt's log, oldest first, the current one last."""
    return Job(job).log_targets()
