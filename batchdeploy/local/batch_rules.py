"""AWS Batch's rules, as its user guide states them, for the local stack's job runner (batch_runner.py):
retries and evaluateOnExit, secrets' valueFrom, the AWS_BATCH_* variables, dependencies on arrays,
the vCPU limit of a compute environment, and the reason texts AWS writes. Pure functions over plain
values (and duck-typed moto jobs for dependencies), standard library only: the moto server's process
loads this file by path, and the unit tests import it as batchdeploy.local.batch_rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

ENDED = ("SUCCEEDED", "FAILED")
# statusReason / container.reason texts, as AWS Batch (and the ECS task under it) writes them
EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
DEPENDENCY_FAILED = "Dependent Job failed"
NOT_STARTED = "Task failed to start"
SECRETS_PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
MAX_ATTEMPTS = 10


def glob_matches(pattern: str | None, value) -> bool:
    """evaluateOnExit's glob: exact, or a prefix when the pattern ends with `*` (its only wildcard).
    A condition that is not given matches; a given one never matches a missing value."""
    if pattern is None:
        return True
    if value is None:
        return False
    text = str(value)
    return text.startswith(pattern[:-1]) if pattern.endswith("*") else text == pattern


def retry_action(evaluate_on_exit: list | None, status_reason: str | None, reason: str | None,
                 exit_code: int | None) -> str:
    """RETRY or EXIT: the first entry whose every given condition matches decides; when none matches
    (or there is none), the job is retried (AWS Batch API reference, EvaluateOnExit)."""
    for rule in evaluate_on_exit or []:
        if (glob_matches(rule.get("onStatusReason"), status_reason) and glob_matches(rule.get("onReason"), reason)
                and glob_matches(rule.get("onExitCode"), exit_code)):
            return str(rule.get("action", "RETRY")).upper()
    return "RETRY"


def retry_strategy(submitted: dict | None, defined: dict | None) -> dict:
    """SubmitJob's retryStrategy overrides the job definition's."""
    return dict(submitted or defined or {})


def attempts_allowed(strategy: dict) -> int:
    try:
        n = int(strategy.get("attempts") or 1)
    except (TypeError, ValueError):
        n = 1
    return max(1, min(MAX_ATTEMPTS, n))


def merged_environment(defined: list | None, overrides: list | None) -> dict:
    """The job definition's environment, each override replacing a variable of the same name."""
    env = {e["name"]: e.get("value", "") for e in defined or []}
    env.update({e["name"]: e.get("value", "") for e in overrides or []})
    return env


def batch_variables(job_id: str, attempt: int, ce_name: str, jq_name: str, index: int | None) -> dict:
    """What AWS Batch sets in every job's container (user guide, 'Environment variables')."""
    env = {"AWS_BATCH_JOB_ID": job_id, "AWS_BATCH_JOB_ATTEMPT": str(attempt),
           "AWS_BATCH_CE_NAME": ce_name, "AWS_BATCH_JQ_NAME": jq_name}
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    return env


@dataclass(frozen=True)
class SecretRef:
    """One `secrets` entry's valueFrom: an SSM parameter (name or ARN) or a Secrets Manager secret ARN,
    with the optional json-key, version-stage and version-id ECS accepts after the secret's ARN."""

    service: str  # ssm | secretsmanager
    region: str
    account: str
    ident: str  # parameter name or ARN; the secret's ARN without the suffixes
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


def parse_value_from(value_from: str, region: str, account: str) -> SecretRef:
    if not value_from.startswith("arn:"):
        return SecretRef("ssm", region, account, value_from)
    parts = value_from.split(":")
    service, arn_region, arn_account = parts[2], parts[3] or region, parts[4] or account
    if service == "secretsmanager" and len(parts) >= 7:
        extra = parts[7:10] + [""] * (3 - len(parts[7:10]))
        return SecretRef(service, arn_region, arn_account, ":".join(parts[:7]), *extra)
    return SecretRef("ssm" if service == "ssm" else service, arn_region, arn_account, value_from)


def ssm_missing(names: list[str]) -> str:
    return (SECRETS_PREFIX + "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
            f"invalid ssm parameters: {' '.join(names)}")


def asm_missing(arn: str, why: str = "ResourceNotFoundException: Secrets Manager can't find the specified secret.") -> str:
    return (SECRETS_PREFIX + "unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {arn} from secrets manager: {why}")


def json_key(secret_string: str, key: str) -> str | None:
    """The value at `key` of a secret holding a JSON object, as text; None when there is none."""
    try:
        value = json.loads(secret_string).get(key)
    except (ValueError, AttributeError):
        return None
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def vcpu_limit(ce_type: str, compute_resources: dict | None, unmanaged_vcpus=None) -> float | None:
    """How many vCPUs a compute environment runs at once: maxvCpus for a managed one; for an unmanaged
    one its unmanagedvCpus when given, else no limit (its instances are the owner's)."""
    if str(ce_type).upper() == "MANAGED":
        value = (compute_resources or {}).get("maxvCpus")
    else:
        value = unmanaged_vcpus
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_log_line(line: str, now_ms: int) -> tuple[int, str]:
    """A Docker API log line with `timestamps=True` ("2026-11-30T21:50:01.123456789Z message") as a
    CloudWatch Logs event (milliseconds, message); a line without a readable time gets `now_ms`."""
    stamp, _, message = line.partition(" ")
    head, dot, frac = stamp.rstrip("Z").partition(".")
    try:
        when = datetime.fromisoformat(head + (dot + frac[:6] if dot else "")).replace(tzinfo=timezone.utc)
    except ValueError:
        return now_ms, line.rstrip("\r")
    return int(when.timestamp() * 1000), message.rstrip("\r")


def array_dependency_state(children_states: list[str]) -> str | None:
    """An array parent as a dependency: SUCCEEDED when every child did, FAILED once all ended and one
    failed, None while any runs."""
    if children_states and all(s in ENDED for s in children_states):
        return "FAILED" if "FAILED" in children_states else "SUCCEEDED"
    return None


def dependency_state(job, dependency: dict, all_jobs) -> str | None:
    """SUCCEEDED, FAILED or None (not ended) for one entry of `job`'s dependsOn. N_TO_N pairs array
    children by index; SEQUENTIAL (no jobId) makes child i wait for child i-1 of its own array."""
    index = (getattr(job, "array_properties", None) or {}).get("index")
    kind = dependency.get("type")
    target_id = dependency.get("jobId")
    if kind == "SEQUENTIAL" and (not target_id or job.job_id.startswith(f"{target_id}:")):
        if not index:
            return "SUCCEEDED"
        target_id = f"{job.job_id.rpartition(':')[0]}:{index - 1}"
    target = all_jobs.get(target_id) if target_id else None
    if target is None:
        return None
    children = getattr(target, "_child_jobs", None)
    if children and kind == "N_TO_N" and index is not None and 0 <= index < len(children):
        status = children[index].status
        return status if status in ENDED else None
    if children:
        return array_dependency_state([c.status for c in children])
    return target.status if target.status in ENDED else None
