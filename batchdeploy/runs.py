"""The run record: what one `-r` submitted, as objects in S3 that a teammate on another machine reads too.

    s3://S3_BUCKET/RUNS_PREFIX/RUN_ID/run.json             written once, before SubmitJob ("submitting")
    s3://S3_BUCKET/RUNS_PREFIX/RUN_ID/submitted.json       written once, after it: the job id, or the error
    s3://S3_BUCKET/RUNS_PREFIX/RUN_ID/tasks/T/attempt-N.json   written by the launcher, one per task attempt
    s3://S3_BUCKET/RUNS_PREFIX/RUN_ID/reruns/NEW_RUN_ID.json   written once by `--rerun-failed RUN_ID`,
                                                            before NEW_RUN_ID submits (a sweep's reruns)
    s3://S3_BUCKET/RUNS_PREFIX/code/<sha256>.tar.gz         code bundles (batchdeploy.bundle), shared by runs
    s3://S3_BUCKET/RUNS_PREFIX/manifests/<sha256>.json      manifests (batchdeploy.manifest), shared by runs

No object is written twice or by two writers, so nothing is read-modified-written: `run.json` says what
was asked before anything was submitted, `submitted.json` what AWS answered. A run whose `run.json`
has no `submitted.json` was interrupted between the two (killed, or the answer lost): its job may
exist, and carries the run's client token as the tag `batchdeploy:client-token`, which `read_run`
reports as state "submitting" for a reader to look up (jobs.submit.find_by_token).

RUN_ID is the UTC time to the second and 6 random hex digits (`20261130T161200Z-3fa9c1`): sorted by
name, runs are sorted by time; two callers in the same second still differ. Pure but for the S3 client
passed in; the writer is batchdeploy.jobs.runrecord.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import secrets as _random
import subprocess
from pathlib import Path

from batchdeploy.aws.errors import error_code, translate

FORMAT = "batchdeploy.run/1"
RUN_FILE = "run.json"
SUBMITTED_FILE = "submitted.json"
LAST_RUN = "last-run.json"  # in the state folder: the last run this machine made, for `-i`
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
DEFAULT_PREFIX = "runs"
_NOT_THERE = {"404", "NoSuchKey", "NotFound"}


def new_run_id(now: _dt.datetime, suffix: str | None = None) -> str:
    """A sortable, unique run id for a run started at `now` (aware or UTC)."""
    stamp = now.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{suffix if suffix is not None else _random.token_hex(3)}"


def iso(now: _dt.datetime) -> str:
    return now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_key(prefix: str, run_id: str, name: str = "") -> str:
    base = "/".join(p for p in (prefix.strip("/"), run_id) if p)
    return f"{base}/{name}" if name else f"{base}/"


def records_url(bucket: str, prefix: str, run_id: str) -> str:
    """Where the launcher writes the run's task records (`--records`)."""
    return f"s3://{bucket}/{run_key(prefix, run_id)}"


def definition_sha256(job_definition: dict) -> str:
    """The sha256 of what a job definition runs (everything but its name, revision, ARN and status),
    as canonical JSON: two revisions with the same content have the same hash."""
    skip = {"jobDefinitionArn", "revision", "status", "jobDefinitionName", "tags", "containerOrchestrationType"}
    content = {k: v for k, v in job_definition.items() if k not in skip}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def git_state(folder: Path) -> dict | None:
    """{"commit", "dirty"} of the git work tree holding `folder`, or None outside one."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=normal")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def build_run(*, run_id: str, created_at: str, who: dict, git: dict | None, name: str, queue: str,
              job_definition: dict, image: dict, parameters: dict, extra_args: list, array_size: int | None,
              client_token: str, records: str, manifest: dict | None = None, bundle: dict | None = None,
              project: str | None = None) -> dict:
    """run.json: the run as asked, before it is submitted. Parameters whose names look secret are masked
    by the caller's `mask`; no environment, and so no credential, is ever in it."""
    return {
        "format": FORMAT,
        "run_id": run_id,
        "state": "submitting",
        "created_at": created_at,
        "who": who,
        "git": git,
        "project": project,
        "name": name,
        "queue": queue,
        "image": image,
        "job_definition": {
            "name": job_definition.get("jobDefinitionName"),
            "revision": job_definition.get("revision"),
            "arn": job_definition.get("jobDefinitionArn"),
            "sha256": definition_sha256(job_definition),
        },
        "parameters": dict(parameters),
        "extra_args": list(extra_args),
        "array_size": array_size,
        "client_token": client_token,
        "records": records,
        "manifest": manifest,
        "bundle": bundle,
    }


def build_submitted(*, run_id: str, at: str, job_id: str | None, job_arn: str | None = None,
                    error: str | None = None, job_ids: list[str] | None = None) -> dict:
    """submitted.json. `job_ids`: a sweep's jobs, one per array (or per task), in run.json's order."""
    ids = list(job_ids) if job_ids is not None else ([job_id] if job_id else [])
    return {"format": FORMAT, "run_id": run_id, "submitted_at": at, "job_id": job_id, "job_arn": job_arn,
            "job_ids": ids, "error": error}


def encode(doc: dict) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def put(s3, bucket: str, key: str, doc: dict) -> None:
    with translate(f"write the run record s3://{bucket}/{key}"):
        s3.put_object(Bucket=bucket, Key=key, Body=encode(doc), ContentType="application/json")


def get_json(s3, bucket: str, key: str) -> dict | None:
    with translate(f"read s3://{bucket}/{key}"):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            if error_code(exc) in _NOT_THERE:
                return None
            raise
    return json.loads(body)


def task_records(s3, bucket: str, prefix: str, run_id: str, task: int | None = None) -> dict:
    """{task: [attempt records, oldest first]} the launcher wrote for the run (a task's id, or its
    index in a manifest without ids); only `task`'s when given."""
    base = run_key(prefix, run_id, "tasks/")
    found: dict = {}
    listed = base if task is None else f"{base}{task}/"
    with translate(f"list s3://{bucket}/{listed}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=listed):
            for item in page.get("Contents") or []:
                m = re.fullmatch(re.escape(base) + r"(\d+)/attempt-(\d+)\.json", item["Key"])
                if m:
                    found.setdefault(int(m[1]), []).append((int(m[2]), item["Key"]))
    return {t: [get_json(s3, bucket, k) for _, k in sorted(keys)] for t, keys in sorted(found.items())}


def last_task_record(s3, bucket: str, prefix: str, run_id: str, task: int = 0) -> dict | None:
    """One task's last attempt record: one LIST of that task's folder and one GET, whatever the
    run's size (task_records reads every task's)."""
    base = run_key(prefix, run_id, f"tasks/{task}/")
    attempts = []
    with translate(f"list s3://{bucket}/{base}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for item in page.get("Contents") or []:
                m = re.fullmatch(re.escape(base) + r"attempt-(\d+)\.json", item["Key"])
                if m:
                    attempts.append((int(m[1]), item["Key"]))
    return get_json(s3, bucket, max(attempts)[1]) if attempts else None


def read_run(s3, bucket: str, prefix: str, run_id: str, tasks: bool = True) -> dict | None:
    """One run as its objects say: run.json, with `state` "submitted" (and the job ids) when
    submitted.json exists, "submit-failed" when it holds an error, else "submitting"; its task
    records under "tasks". None when there is no such run."""
    run = get_json(s3, bucket, run_key(prefix, run_id, RUN_FILE))
    if run is None:
        return None
    submitted = get_json(s3, bucket, run_key(prefix, run_id, SUBMITTED_FILE))
    if submitted is not None:
        run["state"] = "submit-failed" if submitted.get("error") else "submitted"
        run["submitted"] = submitted
        run["job_ids"] = submitted.get("job_ids") or []
    if tasks:
        run["tasks"] = task_records(s3, bucket, prefix, run_id)
    return run


def list_run_ids(s3, bucket: str, prefix: str) -> list[str]:
    """Run ids under the prefix, oldest first (code/ and manifests/ are not runs)."""
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    ids = []
    with translate(f"list s3://{bucket}/{base}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, Delimiter="/"):
            for item in page.get("CommonPrefixes") or []:
                name = item["Prefix"][len(base):].rstrip("/")
                if RUN_ID.fullmatch(name):
                    ids.append(name)
    return sorted(ids)


def last_exit_code(records: list) -> int | None:
    """The exit code of a task's last attempt, from its records (None when it wrote none)."""
    return records[-1].get("exit_code") if records else None


def rerun_key(prefix: str, run_id: str, rerun_id: str) -> str:
    """The marker `--rerun-failed` writes once under the original run: reading the original finds its
    reruns by listing, so nothing of the original is ever rewritten."""
    return run_key(prefix, run_id, f"reruns/{rerun_id}.json")


def list_reruns(s3, bucket: str, prefix: str, run_id: str) -> list[str]:
    """Ids of the reruns of `run_id`, oldest first."""
    base = run_key(prefix, run_id, "reruns/")
    found = []
    with translate(f"list s3://{bucket}/{base}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for item in page.get("Contents") or []:
                name = item["Key"][len(base):].removesuffix(".json")
                if RUN_ID.fullmatch(name):
                    found.append(name)
    return sorted(found)
