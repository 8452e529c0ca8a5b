"""CloudWatch Logs as AWS Batch uses it."""

from __future__ import annotations

DEFAULT_LOG_GROUP = "/aws/batch/job"  # where the awslogs driver writes unless the job says otherwise
MAX_FILTER_STREAMS = 100  # FilterLogEvents logStreamNames per call


def log_group(job: dict) -> str:
    """The group a job's lines go to: its awslogs-group option, else Batch's default."""
    config = (job.get("container") or {}).get("logConfiguration") or {}
    if config.get("logDriver", "awslogs") != "awslogs":
        return DEFAULT_LOG_GROUP
    return (config.get("options") or {}).get("awslogs-group") or DEFAULT_LOG_GROUP
